//! `tcpconform serve` in a namespace of its own, driven over `--target link` (TUN, L3, both IP
//! versions) with its built-in agent: the same cases give the same verdicts as the in-process
//! `--target reference`. And the built-in echo application answers a kernel client.

mod link_support;

use link_support::{NetNs, Proc, TokenFile};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;
use tcpconform::case::load::load_paths;
use tcpconform::case::model::Case;
use tcpconform::cli::RstProfile;
use tcpconform::run::event::{IpVersion, Outcome};
use tcpconform::run::runner::run_instance;
use tcpconform::target::link::{LinkConfig, LinkTarget};
use tcpconform::target::reference::ReferenceTarget;

const CASES: &[&str] = &[
    "closed/syn-to-closed-port",
    "handshake/passive-open",
    "rst/syn-received-passive-returns-to-listen",
    "data/in-order-delivered",
    "handshake/active-open",
    // These leave connections in LAST-ACK/FIN-WAIT on the real stack: the link target's
    // teardown must keep them from leaking into the next instance.
    "close/last-ack-fin-retransmit",
    "close/passive-close",
    "close/active-close",
    "close/simultaneous-close",
];

const AGENT: &str = "127.0.0.1:7101";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// `tcpconform serve --netns NS ...` (it enters the namespace itself).
fn serve(ns: &NetNs, token: &TokenFile) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .args([
            "serve", "--netns", &ns.name, "--iface", "tcpc0", "--listen", "7", "--app", "echo",
        ])
        .args(["--agent-listen", AGENT, "--agent-token-file"])
        .arg(&token.path)
        .args([
            "--allow-port",
            "8080",
            "--allow-port",
            "49152",
            "--allow-port",
            "80",
        ])
        .args(["--allow-peer", "192.0.2.3", "--allow-peer", "2001:db8::3"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn tcpconform serve");
    Proc { child }
}

fn verdict(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed { .. } => "passed",
        Outcome::Failed(_) => "failed",
        Outcome::Skipped { .. } => "skipped",
    }
}

#[test]
fn serve_matches_reference_over_link() {
    skip_unless_root!();
    let ns = NetNs::new("serve");
    let token = TokenFile::new();
    let mut server = serve(&ns, &token);
    let agent: SocketAddr = AGENT.parse().expect("addr");
    let secret = token.token.clone();
    let up = ns.run(move || {
        link_support::eventually(Duration::from_secs(10), || {
            tcpconform::agent::client::AgentClient::connect(agent, &secret).ok()
        })
        .is_some()
    });
    server.assert_running();
    assert!(up, "serve's agent came up");

    // The built-in echo application, to a kernel client.
    let echoed = ns.run(|| {
        let mut s = TcpStream::connect_timeout(
            &"192.0.2.2:7".parse().expect("addr"),
            Duration::from_secs(5),
        )
        .expect("connect to the echo port");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s.write_all(b"ping over tun").expect("write");
        let mut buf = [0u8; 13];
        s.read_exact(&mut buf).expect("echo");
        buf
    });
    assert_eq!(&echoed, b"ping over tun");

    let mut cases: Vec<Case> =
        load_paths(&[link_support::repo().join("cases")]).expect("cases load");
    cases.retain(|c| CASES.contains(&c.id.as_str()));
    assert_eq!(cases.len(), CASES.len(), "all chosen cases exist");
    let secret = token.token.clone();
    let over_link = {
        let cases = cases.clone();
        ns.run(move || {
            let mut target = LinkTarget::new(LinkConfig {
                iface: "tcpc0".into(),
                targets: vec![ip("192.0.2.2"), ip("2001:db8::2")],
                locals: vec![ip("192.0.2.3"), ip("2001:db8::3")],
                agent: Some((agent, secret)),
            });
            let mut out = Vec::new();
            for case in &cases {
                for &v in &case.ip {
                    let r = run_instance(&mut target, case, v, 3);
                    out.push((case.id.clone(), v, r.outcome));
                }
            }
            out
        })
    };
    let mut reference =
        ReferenceTarget::new(tcpconform::app::reference_config(RstProfile::Rfc5961));
    let mut compared = 0;
    for (id, v, outcome) in &over_link {
        let case = cases.iter().find(|c| &c.id == id).expect("case");
        let expected = run_instance(&mut reference, case, *v, 3).outcome;
        assert_eq!(
            verdict(outcome),
            verdict(&expected),
            "{id} [{v:?}]: serve over link {outcome:?}, reference {expected:?}"
        );
        assert_eq!(verdict(outcome), "passed", "{id} [{v:?}]: {outcome:?}");
        compared += 1;
    }
    assert!(
        compared >= CASES.len(),
        "every case ran on at least one IP version"
    );
    assert!(
        over_link.iter().any(|(_, v, _)| *v == IpVersion::V6),
        "IPv6 ran too"
    );
    server.assert_running();
}
