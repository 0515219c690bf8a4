//! The agent refuses what it must (bad token, no authentication, malformed requests, ports and
//! addresses it was not given, oversized requests, a second harness) without changing anything,
//! and performs listen/accept/write/read/state on loopback when asked properly. Everything runs
//! inside a namespace this test creates.

mod link_support;
mod needs;

use link_support::NetNs;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;
use tcpconform::agent::client::{connect_unauthenticated, AgentClient};
use tcpconform::agent::protocol::{hex, Request, Response, MAX_IO, MAX_LINE};
use tcpconform::agent::server::{OsBackend, Policy, Server, ServerConfig, ServerHandle};

const TOKEN: &str = "s3cret-token-for-the-agent-test";
const PORT: u16 = 8080;
const OTHER_PORT: u16 = 8081;

fn lo() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

fn start() -> ServerHandle {
    let config = ServerConfig {
        token: TOKEN.into(),
        policy: Policy {
            bind_addrs: vec![lo()],
            ports: vec![PORT],
            peers: vec![],
        },
        timeouts: Default::default(),
    };
    Server::bind(SocketAddr::new(lo(), 0), config)
        .expect("bind agent")
        .spawn(Box::new(OsBackend::default()))
        .expect("spawn agent")
}

fn refused(r: std::io::Result<Response>) -> String {
    match r.expect("an answer") {
        Response::Refused { message } => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Nothing listens on `port` (a refusal changed nothing).
fn nothing_listens(port: u16) {
    let r = TcpStream::connect_timeout(&SocketAddr::new(lo(), port), Duration::from_secs(2));
    assert!(r.is_err(), "something listens on {port}");
}

/// The session is over: the agent closed the connection.
fn closed(mut c: AgentClient) {
    assert!(
        c.call(&Request::Reset).is_err(),
        "the agent kept the session open"
    );
}

#[test]
fn agent_refusals_and_happy_path() {
    require!(needs::namespaces());
    let ns = NetNs::new("agent");
    ns.run(|| {
        let mut server = start();
        let addr = server.local_addr();

        // Wrong token: refused, session closed; a token of another length too.
        let Err(e) = AgentClient::connect(addr, "s3cret-token-for-the-agent-tesX") else {
            panic!("a wrong token was accepted");
        };
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
        assert!(AgentClient::connect(addr, "short").is_err());

        // A request before authentication: refused, not performed, session closed.
        let mut c = connect_unauthenticated(addr).expect("connect");
        let m = refused(c.call(&Request::Listen {
            addr: lo(),
            port: PORT,
        }));
        assert!(m.contains("authenticate first"), "{m}");
        nothing_listens(PORT);
        closed(c);

        let mut c = AgentClient::connect(addr, TOKEN).expect("authenticated");

        // A second harness while one is connected: refused.
        let mut second = connect_unauthenticated(addr).expect("connect");
        let m = refused(second.call(&Request::Auth {
            token: TOKEN.into(),
        }));
        assert!(m.contains("busy"), "{m}");

        // Malformed and unknown requests: refused, the session goes on.
        assert!(refused(c.call_raw(b"not json\n")).contains("bad request"));
        assert!(refused(c.call_raw(b"{\"op\":\"exec\",\"cmd\":\"sh\"}\n")).contains("bad request"));
        assert!(
            refused(c.call_raw(b"{\"op\":\"accept\",\"path\":\"/etc/passwd\"}\n"))
                .contains("bad request")
        );

        // Ports and addresses it was not given.
        assert!(refused(c.call(&Request::Listen {
            addr: lo(),
            port: OTHER_PORT
        }))
        .contains("--allow-port"));
        nothing_listens(OTHER_PORT);
        let other = IpAddr::from([127, 0, 0, 2]);
        assert!(refused(c.call(&Request::Listen {
            addr: other,
            port: PORT
        }))
        .contains("--bind-addr"));
        let m = refused(c.call(&Request::Connect {
            local: SocketAddr::new(lo(), PORT),
            remote: SocketAddr::new(lo(), PORT),
            fastopen: false,
        }));
        assert!(m.contains("--allow-peer"), "{m}");
        let m = refused(c.call(&Request::State {
            local: SocketAddr::new(other, PORT),
            remote: SocketAddr::new(lo(), 1),
        }));
        assert!(m.contains("--bind-addr"), "{m}");
        nothing_listens(PORT);

        // Size bounds.
        let big = hex(&vec![0u8; MAX_IO + 1]);
        assert!(refused(c.call(&Request::Write { data: big })).contains("more than"));
        assert!(refused(c.call(&Request::Read { max: MAX_IO + 1 })).contains("more than"));
        assert!(refused(c.call(&Request::Write { data: "zz".into() })).contains("not hex"));

        // The happy path: listen, a client connects, accept, write, read, state, close.
        assert_eq!(
            c.call(&Request::Listen {
                addr: lo(),
                port: PORT
            })
            .expect("listen"),
            Response::Ok
        );
        assert_eq!(
            c.call(&Request::Accept).expect("accept"),
            Response::WouldBlock
        );
        let mut peer = TcpStream::connect(SocketAddr::new(lo(), PORT))
            .expect("connect to the agent's listener");
        peer.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut accepted = Response::WouldBlock;
        for _ in 0..100 {
            accepted = c.call(&Request::Accept).expect("accept");
            if accepted != Response::WouldBlock {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(accepted, Response::Ok);
        let local = SocketAddr::new(lo(), PORT);
        let remote = peer.local_addr().expect("peer address");
        assert_eq!(
            c.call(&Request::State { local, remote }).expect("state"),
            Response::State {
                state: Some(tcpconform::tcp::TcpState::Established)
            }
        );
        assert_eq!(
            c.call(&Request::Write {
                data: hex(b"hello")
            })
            .expect("write"),
            Response::Wrote { n: 5 }
        );
        let mut got = [0u8; 5];
        peer.read_exact(&mut got).expect("read from the agent");
        assert_eq!(&got, b"hello");
        peer.write_all(b"world").expect("write to the agent");
        let mut read = Response::WouldBlock;
        for _ in 0..100 {
            read = c.call(&Request::Read { max: 100 }).expect("read");
            if read != Response::WouldBlock {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            read,
            Response::Data {
                data: hex(b"world")
            }
        );
        assert_eq!(c.call(&Request::Close).expect("close"), Response::Ok);
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest)
            .expect("end of stream after close");
        assert!(rest.is_empty());

        // A line longer than the bound: refused and the session closed.
        let mut long = vec![b'x'; MAX_LINE + 10];
        long.push(b'\n');
        assert!(refused(c.call_raw(&long)).contains("longer than"));
        closed(c);

        // Session over: its sockets are gone, and a new harness may connect.
        nothing_listens(PORT);
        drop(second);
        let ok = link_support::eventually(Duration::from_secs(3), || {
            AgentClient::connect(addr, TOKEN).ok()
        });
        assert!(ok.is_some(), "a new session after the first ended");
        drop(ok);
        server.stop();
    });
}

#[test]
fn agent_cli_refuses_wildcard_and_weak_tokens() {
    let bin = env!("CARGO_BIN_EXE_tcpconform");
    let tokens = link_support::TokenFile::new();
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .arg("agent")
            .args(args)
            .output()
            .expect("run tcpconform agent")
    };
    let token = tokens.path.to_str().expect("utf-8 path");
    let out = run(&[
        "--listen",
        "0.0.0.0:7100",
        "--token-file",
        token,
        "--bind-addr",
        "192.0.2.1",
        "--allow-port",
        "80",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-wildcard"));
    let out = run(&[
        "--listen",
        "[::]:7100",
        "--token-file",
        token,
        "--bind-addr",
        "192.0.2.1",
        "--allow-port",
        "80",
    ]);
    assert_eq!(out.status.code(), Some(2));
    // No --listen at all: a usage error, never a default address.
    let out = run(&[
        "--token-file",
        token,
        "--bind-addr",
        "192.0.2.1",
        "--allow-port",
        "80",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let weak = tokens.dir.path().join("weak");
    std::fs::write(&weak, "short\n").expect("write");
    let out = run(&[
        "--listen",
        "127.0.0.1:7100",
        "--token-file",
        weak.to_str().expect("utf-8"),
        "--bind-addr",
        "192.0.2.1",
        "--allow-port",
        "80",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than"));
}

/// A `tcpconform agent` process in `ns` on 127.0.0.1:7100, its log (stderr) kept for the test.
struct AgentProc {
    proc: link_support::Proc,
    addr: SocketAddr,
    _token: link_support::TokenFile,
}

impl AgentProc {
    fn start(ns: &NetNs, extra: &[&str]) -> AgentProc {
        let token = link_support::TokenFile::new();
        let addr = SocketAddr::new(lo(), 7100);
        let child = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                env!("CARGO_BIN_EXE_tcpconform"),
                "agent",
            ])
            .args(["--listen", "127.0.0.1:7100", "--bind-addr", "127.0.0.1"])
            .args(["--allow-port", "8080", "--token-file"])
            .arg(&token.path)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tcpconform agent");
        let mut proc = link_support::Proc { child };
        let ns_name = ns.name.clone();
        let up = link_support::run_in(&ns_name, move || {
            link_support::eventually(Duration::from_secs(10), || {
                TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()
            })
            .is_some()
        });
        proc.assert_running();
        assert!(up, "the agent never listened on {addr}");
        AgentProc {
            proc,
            addr,
            _token: token,
        }
    }

    fn token(&self) -> String {
        self._token.token.clone()
    }

    /// Stops the agent and returns everything it logged.
    fn log(mut self) -> Vec<u8> {
        let _ = self.proc.child.kill();
        let mut log = Vec::new();
        if let Some(mut err) = self.proc.child.stderr.take() {
            err.read_to_end(&mut log).expect("read the agent's log");
        }
        let _ = self.proc.child.wait();
        log
    }
}

/// Reads until the agent closes `s` or `within` passes; `Some(what it sent)` if it closed it.
fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let until = std::time::Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = until.checked_duration_since(std::time::Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(_) => return None,
        }
    }
}

#[test]
fn an_unauthenticated_connection_never_holds_the_session() {
    require!(needs::namespaces());
    let ns = NetNs::new("agent-auth");
    let agent = AgentProc::start(&ns, &[]);
    let (addr, token) = (agent.addr, agent.token());
    ns.run(move || {
        // Two connections that never authenticate: one silent, one stuck inside its first line.
        let mut silent = TcpStream::connect(addr).expect("connect");
        let mut partial = TcpStream::connect(addr).expect("connect");
        partial
            .write_all(br#"{"op":"auth","tok"#)
            .expect("write a partial line");
        std::thread::sleep(Duration::from_millis(200));

        // The harness that has the token gets the session at once.
        let mut c = AgentClient::connect(addr, &token).expect("the harness authenticates");
        assert_eq!(c.call(&Request::Reset).expect("reset"), Response::Ok);

        // And the others are cut off after the authentication deadline (a few seconds).
        let started = std::time::Instant::now();
        for s in [&mut silent, &mut partial] {
            let said = closed_within(s, Duration::from_secs(10))
                .expect("the agent closed an unauthenticated connection");
            let said = String::from_utf8_lossy(&said).to_string();
            // Told why, or just closed; never "busy": they were not turned away for the
            // harness's sake, only for their own silence.
            assert!(said.is_empty() || said.contains("authenticat"), "{said}");
        }
        assert!(started.elapsed() < Duration::from_secs(9));
        assert_eq!(c.call(&Request::Reset).expect("reset"), Response::Ok);
    });
    drop(agent.log());
}

#[test]
fn a_partial_line_does_not_hold_the_session() {
    require!(needs::namespaces());
    let ns = NetNs::new("agent-line");
    let agent = AgentProc::start(&ns, &[]);
    let (addr, token) = (agent.addr, agent.token());
    ns.run(move || {
        let c = AgentClient::connect(addr, &token).expect("authenticated");
        drop(c);
        // A harness that authenticated, then sent half a request and stopped.
        let mut stuck = TcpStream::connect(addr).expect("connect");
        stuck
            .write_all(format!("{{\"op\":\"auth\",\"token\":\"{token}\"}}\n").as_bytes())
            .expect("auth");
        stuck.write_all(br#"{"op":"res"#).expect("half a request");
        let said = closed_within(&mut stuck, Duration::from_secs(12))
            .expect("the agent ended a session stuck inside a line");
        assert!(String::from_utf8_lossy(&said).contains("\"ok\""));
        let next = link_support::eventually(Duration::from_secs(3), || {
            AgentClient::connect(addr, &token).ok()
        });
        assert!(next.is_some(), "the session was free again");
    });
    drop(agent.log());
}

#[test]
fn an_idle_session_ends_after_the_idle_timeout() {
    require!(needs::namespaces());
    let ns = NetNs::new("agent-idle");
    let agent = AgentProc::start(&ns, &["--idle-timeout", "2s"]);
    let (addr, token) = (agent.addr, agent.token());
    ns.run(move || {
        let mut raw = TcpStream::connect(addr).expect("connect");
        raw.write_all(format!("{{\"op\":\"auth\",\"token\":\"{token}\"}}\n").as_bytes())
            .expect("auth");
        let started = std::time::Instant::now();
        let said = closed_within(&mut raw, Duration::from_secs(6)).expect("closed when idle");
        assert!(started.elapsed() >= Duration::from_millis(1900));
        assert!(String::from_utf8_lossy(&said).contains("idle"), "{said:?}");
    });
    drop(agent.log());
}

#[test]
fn a_second_harness_is_told_busy_at_once() {
    require!(needs::namespaces());
    let ns = NetNs::new("agent-busy");
    let agent = AgentProc::start(&ns, &[]);
    let (addr, token) = (agent.addr, agent.token());
    ns.run(move || {
        let mut first = AgentClient::connect(addr, &token).expect("authenticated");
        let mut second = TcpStream::connect(addr).expect("connect");
        let said = closed_within(&mut second, Duration::from_secs(1))
            .expect("the second harness was answered and disconnected at once");
        let said = String::from_utf8_lossy(&said).to_string();
        assert!(said.contains("refused") && said.contains("busy"), "{said}");
        assert_eq!(first.call(&Request::Reset).expect("reset"), Response::Ok);
    });
    drop(agent.log());
}

/// Runs `tcpconform agent ARGS` in `ns`; its exit status and log, or `None` if it was still
/// running after a few seconds (it accepted the arguments and served).
fn agent_exit(ns: &NetNs, args: &[&str]) -> Option<(Option<i32>, String)> {
    let child = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            env!("CARGO_BIN_EXE_tcpconform"),
            "agent",
        ])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tcpconform agent");
    let mut proc = link_support::Proc { child };
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until {
        if let Ok(Some(status)) = proc.child.try_wait() {
            let mut log = String::new();
            if let Some(mut err) = proc.child.stderr.take() {
                let _ = err.read_to_string(&mut log);
            }
            return Some((status.code(), log));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn wildcard_addresses_are_refused_in_every_spelling() {
    require!(needs::namespaces());
    let ns = NetNs::new("agent-wild");
    let tokens = link_support::TokenFile::new();
    let token = tokens.path.to_str().expect("utf-8 path");
    let listen = [
        "0.0.0.0:7100",
        "[::]:7100",
        "[::ffff:0.0.0.0]:7100",
        "[::ffff:0:0]:7100",
        "[0:0:0:0:0:0:0:0]:7100",
        "[::0.0.0.0]:7100",
        "0:7100",
        "0.0:7100",
        "00.0.0.0:7100",
        "000.000.000.000:7100",
        "0x0:7100",
        "0x0.0.0.0:7100",
    ];
    for l in listen {
        let args = [
            "--listen",
            l,
            "--token-file",
            token,
            "--bind-addr",
            "127.0.0.1",
            "--allow-port",
            "80",
        ];
        let Some((code, log)) = agent_exit(&ns, &args) else {
            panic!("--listen {l}: the agent started");
        };
        assert_eq!(code, Some(2), "--listen {l}: {log}");
        assert!(log.contains("wildcard"), "--listen {l}: {log}");
    }
    let bind = [
        "0.0.0.0",
        "::",
        "::ffff:0.0.0.0",
        "::ffff:0:0",
        "0",
        "00.0.0.0",
        "0x0",
    ];
    for b in bind {
        let args = [
            "--listen",
            "127.0.0.1:7100",
            "--token-file",
            token,
            "--bind-addr",
            b,
            "--allow-port",
            "80",
        ];
        let Some((code, log)) = agent_exit(&ns, &args) else {
            panic!("--bind-addr {b}: the agent started");
        };
        assert_eq!(code, Some(2), "--bind-addr {b}: {log}");
        assert!(log.contains("wildcard"), "--bind-addr {b}: {log}");
    }
}

#[test]
fn untrusted_request_text_is_escaped_in_the_log() {
    require!(needs::namespaces());
    let ns = NetNs::new("agent-log");
    let agent = AgentProc::start(&ns, &[]);
    let addr = agent.addr;
    let long_op = "A".repeat(60_000);
    let lines: Vec<Vec<u8>> = vec![
        // An unknown op whose name forges a log line and drives the terminal.
        br#"{"op":"x\nagent: 127.0.0.1:4242: auth -> ok\u001b[2J\u001b]0;owned\u0007"}"#.to_vec(),
        // An unknown field name, the same way.
        br#"{"op":"auth","token":"t","\r\nagent: 127.0.0.1:1: auth -> ok\u009b1m":1}"#.to_vec(),
        // Raw control octets outside any string, and invalid UTF-8.
        b"\x1b[31m\x07\xff\xfe not json".to_vec(),
        // A huge op name.
        format!("{{\"op\":\"{long_op}\"}}").into_bytes(),
    ];
    ns.run(move || {
        for mut line in lines {
            line.push(b'\n');
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(&line).expect("send");
            let said = closed_within(&mut s, Duration::from_secs(5)).expect("refused and closed");
            let said = String::from_utf8_lossy(&said).to_string();
            assert!(said.contains("refused"), "{said}");
        }
    });
    let log = agent.log();
    let text = String::from_utf8_lossy(&log);
    for line in text.lines() {
        // The forged text may show, escaped, inside the line that quotes it; never as a
        // line of its own.
        assert!(
            !line.starts_with("agent: 127.0.0.1:4242") && !line.starts_with("agent: 127.0.0.1:1:"),
            "a forged line: {line:?}"
        );
        assert!(line.len() <= 1024, "a log line of {} octets", line.len());
        assert!(
            !line.chars().any(|c| c.is_control()),
            "control characters in {line:?}"
        );
    }
    assert!(text.contains("bad request"), "{text}");
}
