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
