//! `--target link` across a wire: two namespaces joined by a veth pair (192.0.2.0/24), the
//! Linux kernel and `tcpconform agent` in one, the harness in the other with its crafted
//! address 192.0.2.3 (no interface has it), cases from `cases/` run over Ethernet with the
//! harness's own ARP. Also: packets to an address nobody named are refused, and a crafted
//! address that is local is refused.

mod link_support;

use link_support::{NetNs, Proc, TokenFile};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tcpconform::case::load::load_paths;
use tcpconform::run::event::{IpVersion, Outcome};
use tcpconform::run::runner::run_instance;
use tcpconform::target::link::{LinkConfig, LinkTarget};
use tcpconform::target::Target;

const CASES: &[&str] = &[
    "closed/syn-to-closed-port",
    "handshake/passive-open",
    "rst/syn-received-passive-returns-to-listen",
];

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// Namespaces `tgt` (192.0.2.1, veth `tcpc-t`) and `hst` (192.0.2.2, veth `tcpc-h`), joined.
fn wire() -> (NetNs, NetNs) {
    let tgt = NetNs::new("lt");
    let hst = NetNs::new("lh");
    // Created inside `tgt` with its peer moved to `hst`: the host namespace is never touched.
    tgt.ip(&[
        "link", "add", "tcpc-t", "type", "veth", "peer", "name", "tcpc-h", "netns", &hst.name,
    ]);
    tgt.ip(&["addr", "add", "192.0.2.1/24", "dev", "tcpc-t"]);
    tgt.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::1/64",
        "dev",
        "tcpc-t",
        "nodad",
    ]);
    tgt.ip(&["link", "set", "tcpc-t", "up"]);
    hst.ip(&["addr", "add", "192.0.2.2/24", "dev", "tcpc-h"]);
    hst.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::2/64",
        "dev",
        "tcpc-h",
        "nodad",
    ]);
    hst.ip(&["link", "set", "tcpc-h", "up"]);
    (tgt, hst)
}

fn config(agent: Option<(SocketAddr, String)>, local: &str) -> LinkConfig {
    LinkConfig {
        iface: "tcpc-h".into(),
        targets: vec![ip("192.0.2.1"), ip("2001:db8::1")],
        locals: vec![ip(local), ip("2001:db8::3")],
        agent,
    }
}

#[test]
fn link_runs_cases_against_linux_over_veth() {
    skip_unless_root!();
    let (tgt, hst) = wire();
    let token = TokenFile::new();
    let mut agent = Proc::tcpconform_in(
        &tgt,
        &[
            "agent",
            "--listen",
            "192.0.2.1:7100",
            "--token-file",
            token.path.to_str().expect("utf-8 path"),
            "--bind-addr",
            "192.0.2.1",
            "--bind-addr",
            "2001:db8::1",
            "--allow-port",
            "8080",
            "--allow-port",
            "49152",
            "--allow-peer",
            "192.0.2.3",
            "--allow-peer",
            "2001:db8::3",
        ],
    );
    let agent_addr: SocketAddr = "192.0.2.1:7100".parse().expect("addr");
    let secret = token.token.clone();
    let up = hst.run(move || {
        link_support::eventually(Duration::from_secs(10), || {
            tcpconform::agent::client::AgentClient::connect(agent_addr, &secret).ok()
        })
        .is_some()
    });
    agent.assert_running();
    assert!(up, "the agent came up");

    let mut cases = load_paths(&[link_support::repo().join("cases")]).expect("cases load");
    cases.retain(|c| CASES.contains(&c.id.as_str()));
    assert_eq!(cases.len(), CASES.len(), "all chosen cases exist");
    let secret = token.token.clone();
    let results = hst.run(move || {
        let mut target = LinkTarget::new(config(Some((agent_addr, secret)), "192.0.2.3"));
        let mut out = Vec::new();
        for case in &cases {
            for &v in &case.ip {
                let r = run_instance(&mut target, case, v, 1);
                out.push((format!("{} [{v:?}]", case.id), r.outcome));
            }
        }
        out
    });
    // The same through the command line: `run --target link`, exit code 0.
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &hst.name,
            env!("CARGO_BIN_EXE_tcpconform"),
            "run",
        ])
        .args([
            "--target",
            "link",
            "--iface",
            "tcpc-h",
            "--target-addr",
            "192.0.2.1",
        ])
        .args([
            "--local-addr",
            "192.0.2.3",
            "--agent",
            "192.0.2.1:7100",
            "--agent-token-file",
        ])
        .arg(&token.path)
        .args(["--ip", "4", "--pcap-dir"])
        .arg(token.dir.path().join("pcap"))
        .arg(link_support::repo().join("cases/handshake/passive-open.yaml"))
        .arg(link_support::repo().join("cases/closed/syn-to-closed-port.yaml"))
        .output()
        .expect("run tcpconform run --target link");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 passed"), "{stdout}");
    assert!(
        results.iter().any(|(id, _)| id.contains("V6")),
        "IPv6 (NDP) ran too"
    );
    for (id, outcome) in &results {
        match outcome {
            Outcome::Passed { .. } => {}
            other => panic!("{id} over the link: {other:?}"),
        }
    }
    agent.assert_running();
}

#[test]
fn link_refuses_unnamed_destinations_and_local_sources() {
    skip_unless_root!();
    let (_tgt, hst) = wire();
    hst.run(|| {
        // The crafted source is the harness's own address: its kernel would answer; refused.
        let mut t = LinkTarget::new(config(None, "192.0.2.2"));
        let e = t
            .open(IpVersion::V4, &BTreeMap::new())
            .expect_err("refused");
        assert!(e.0.contains("is an address of this namespace"), "{e}");

        // A packet to an address the user did not name is never sent.
        let mut t = LinkTarget::new(config(None, "192.0.2.3"));
        t.open(IpVersion::V4, &BTreeMap::new())
            .expect("open: ARP for 192.0.2.1 answered");
        let mut packet = vec![0u8; 40];
        packet[0] = 0x45;
        packet[9] = 6;
        packet[12..16].copy_from_slice(&[192, 0, 2, 3]);
        packet[16..20].copy_from_slice(&[192, 0, 2, 2]);
        let e = t.inject(&packet).expect_err("refused");
        assert!(e.0.contains("not a --target-addr"), "{e}");
        packet[16..20].copy_from_slice(&[198, 51, 100, 1]);
        assert!(t.inject(&packet).is_err());
        // Without an agent, application calls are refused and state is unobservable.
        assert!(t
            .app(&tcpconform::target::AppCall::Listen { port: 8080 })
            .is_err());
        let a: SocketAddr = "192.0.2.1:8080".parse().expect("addr");
        let b: SocketAddr = "192.0.2.3:4000".parse().expect("addr");
        assert_eq!(t.state(a, b).expect("state"), None);
    });
}
