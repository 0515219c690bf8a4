//! The `linux` target against the running kernel, driven with hand-built packets. Needs root
//! (a network namespace and a TUN device per case instance); otherwise each test says why it did
//! not run, and fails under CI (`needs`).

mod needs;

use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tcpconform::app::ErrorKind;
use tcpconform::run::event::IpVersion;
use tcpconform::sys::netns;
use tcpconform::target::linux::{self, LinuxTarget};
use tcpconform::target::{AppCall, AppResult, Endpoints, Target};
use tcpconform::tcp::TcpState;

const WITHIN: Duration = Duration::from_millis(500);
const TESTER_PORT: u16 = 50_000;
const PORT: u16 = 8080;

#[derive(Clone, Copy, Default)]
struct Flags {
    syn: bool,
    ack: Option<u32>,
    fin: bool,
    rst: bool,
}

/// One tester segment from `from_port` to the target's `to_port`.
fn segment(
    ep: Endpoints,
    from_port: u16,
    to_port: u16,
    seq: u32,
    f: Flags,
    payload: &[u8],
) -> Vec<u8> {
    let builder = match (ep.tester, ep.target) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed families"),
    };
    let mut tcp = builder.tcp(from_port, to_port, seq, 65_535);
    if f.syn {
        tcp = tcp.syn();
    }
    if let Some(ack) = f.ack {
        tcp = tcp.ack(ack);
    }
    if f.fin {
        tcp = tcp.fin();
    }
    if f.rst {
        tcp = tcp.rst();
    }
    let mut out = Vec::new();
    tcp.write(&mut out, payload).expect("segment builds");
    out
}

/// What the test needs of a received segment.
#[derive(Debug)]
struct Seg {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    seq: u32,
    ack_no: u32,
    src_port: u16,
    dst_port: u16,
    payload: Vec<u8>,
}

fn parse(packet: &[u8]) -> Seg {
    let p = SlicedPacket::from_ip(packet).expect("the target sends valid IP");
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("receive returned a non-TCP packet: {packet:02x?}");
    };
    Seg {
        syn: t.syn(),
        ack: t.ack(),
        fin: t.fin(),
        rst: t.rst(),
        seq: t.sequence_number(),
        ack_no: t.acknowledgment_number(),
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        payload: t.payload().to_vec(),
    }
}

fn expect_segment(t: &mut LinuxTarget, what: &str) -> Seg {
    let r = t
        .receive(WITHIN)
        .expect("receive")
        .unwrap_or_else(|| panic!("expected {what}, got nothing"));
    parse(&r.packet)
}

fn no_sysctls() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn handshake_and_close(ip: IpVersion) {
    let mut t = LinuxTarget::new(Vec::new()).expect("target");
    let ep = t.open(ip, &no_sysctls()).expect("open");
    let local = SocketAddr::new(ep.target, PORT);
    let remote = SocketAddr::new(ep.tester, TESTER_PORT);
    assert_eq!(
        t.state(local, remote).expect("state"),
        Some(TcpState::Closed)
    );
    assert_eq!(
        t.app(&AppCall::Listen {
            local: SocketAddr::new(ep.target, PORT),
        })
        .expect("listen"),
        AppResult::Ok
    );
    assert_eq!(
        t.state(local, remote).expect("state"),
        Some(TcpState::Listen)
    );
    assert_eq!(
        t.app(&AppCall::Accept).expect("accept"),
        AppResult::WouldBlock
    );

    // RFC 9293 3.5, the three-way handshake.
    let syn = Flags {
        syn: true,
        ..Flags::default()
    };
    t.inject(&segment(ep, TESTER_PORT, PORT, 1000, syn, &[]))
        .expect("inject");
    let synack = expect_segment(&mut t, "SYN-ACK");
    assert!(synack.syn && synack.ack && !synack.rst, "{synack:?}");
    assert_eq!(
        (synack.src_port, synack.dst_port, synack.ack_no),
        (PORT, TESTER_PORT, 1001)
    );
    assert_eq!(
        t.state(local, remote).expect("state"),
        Some(TcpState::SynReceived)
    );
    let iss = synack.seq;
    let ack = |n: u32| Flags {
        ack: Some(iss.wrapping_add(n)),
        ..Flags::default()
    };
    t.inject(&segment(ep, TESTER_PORT, PORT, 1001, ack(1), &[]))
        .expect("inject");
    assert_eq!(
        t.state(local, remote).expect("state"),
        Some(TcpState::Established)
    );
    assert_eq!(t.app(&AppCall::Accept).expect("accept"), AppResult::Ok);

    // Data both ways.
    t.inject(&segment(ep, TESTER_PORT, PORT, 1001, ack(1), b"hello"))
        .expect("inject");
    let a = expect_segment(&mut t, "ACK of data");
    assert!(a.ack && a.ack_no == 1006 && a.payload.is_empty(), "{a:?}");
    assert_eq!(
        t.app(&AppCall::Read { max: 100 }).expect("read"),
        AppResult::Read(b"hello".to_vec())
    );
    assert_eq!(
        t.app(&AppCall::Read { max: 100 }).expect("read"),
        AppResult::WouldBlock
    );
    assert_eq!(
        t.app(&AppCall::NoDelay(true)).expect("nodelay"),
        AppResult::Ok
    );
    assert_eq!(
        t.app(&AppCall::Write(b"world".to_vec())).expect("write"),
        AppResult::Wrote(5)
    );
    let d = expect_segment(&mut t, "data");
    assert_eq!(
        (d.seq, d.payload.as_slice()),
        (iss.wrapping_add(1), &b"world"[..])
    );

    // Active CLOSE: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT (RFC 9293 3.6).
    t.inject(&segment(ep, TESTER_PORT, PORT, 1006, ack(6), &[]))
        .expect("inject");
    assert_eq!(t.app(&AppCall::Close).expect("close"), AppResult::Ok);
    let fin = expect_segment(&mut t, "FIN");
    assert!(fin.fin && fin.seq == iss.wrapping_add(6), "{fin:?}");
    assert_eq!(
        t.state(local, remote).expect("state"),
        Some(TcpState::FinWait1)
    );
    t.inject(&segment(ep, TESTER_PORT, PORT, 1006, ack(7), &[]))
        .expect("inject");
    assert_eq!(
        t.state(local, remote).expect("state"),
        Some(TcpState::FinWait2)
    );
    let fin = Flags {
        fin: true,
        ..ack(7)
    };
    t.inject(&segment(ep, TESTER_PORT, PORT, 1006, fin, &[]))
        .expect("inject");
    let last = expect_segment(&mut t, "ACK of FIN");
    assert!(last.ack && last.ack_no == 1007 && !last.fin, "{last:?}");
    assert_eq!(
        t.state(local, remote).expect("state"),
        Some(TcpState::TimeWait)
    );
    assert!(t.now() > Duration::ZERO);
    t.close();
}

#[test]
fn passive_open_data_and_close_v4() {
    require!(linux::unavailable());
    handshake_and_close(IpVersion::V4);
}

#[test]
fn passive_open_data_and_close_v6() {
    require!(linux::unavailable());
    handshake_and_close(IpVersion::V6);
}

#[test]
fn active_open_refused_then_abort() {
    require!(linux::unavailable());
    let mut t = LinuxTarget::new(Vec::new()).expect("target");
    for ip in [IpVersion::V4, IpVersion::V6] {
        let ep = t.open(ip, &no_sysctls()).expect("open");
        let remote = SocketAddr::new(ep.tester, 9000);
        let call = AppCall::Connect {
            local: SocketAddr::new(ep.target, 40_000),
            remote,
            fastopen: false,
        };
        assert_eq!(t.app(&call).expect("connect"), AppResult::Ok);
        let syn = expect_segment(&mut t, "SYN");
        assert!(
            syn.syn && !syn.ack && syn.src_port == 40_000 && syn.dst_port == 9000,
            "{syn:?}"
        );
        let local = SocketAddr::new(ep.target, 40_000);
        assert_eq!(
            t.state(local, remote).expect("state"),
            Some(TcpState::SynSent)
        );
        // RFC 9293 3.10.7.3: an acceptable RST in SYN-SENT: "connection reset", CLOSED.
        let rst = Flags {
            rst: true,
            ack: Some(syn.seq.wrapping_add(1)),
            ..Flags::default()
        };
        t.inject(&segment(ep, 9000, 40_000, 0, rst, &[]))
            .expect("inject");
        match t.app(&AppCall::Read { max: 10 }).expect("read") {
            AppResult::Failed(e) => assert_eq!(e.kind, ErrorKind::Refused, "{e}"),
            other => panic!("read after RST in SYN-SENT: {other}"),
        }
        assert_eq!(
            t.state(local, remote).expect("state"),
            Some(TcpState::Closed)
        );

        // ABORT of a synchronized connection sends RST (RFC 9293 3.10.5).
        assert_eq!(t.app(&call).expect("connect"), AppResult::Ok);
        let syn = expect_segment(&mut t, "SYN");
        let synack = Flags {
            syn: true,
            ack: Some(syn.seq.wrapping_add(1)),
            ..Flags::default()
        };
        t.inject(&segment(ep, 9000, 40_000, 7000, synack, &[]))
            .expect("inject");
        let a = expect_segment(&mut t, "ACK of SYN-ACK");
        assert!(a.ack && a.ack_no == 7001, "{a:?}");
        assert_eq!(
            t.state(local, remote).expect("state"),
            Some(TcpState::Established)
        );
        assert_eq!(t.app(&AppCall::Abort).expect("abort"), AppResult::Ok);
        let r = expect_segment(&mut t, "RST");
        assert!(r.rst && r.seq == syn.seq.wrapping_add(1), "{r:?}");
        assert_eq!(
            t.state(local, remote).expect("state"),
            Some(TcpState::Closed)
        );
        match t.app(&AppCall::Write(b"x".to_vec())).expect("write") {
            AppResult::Failed(e) => assert_eq!(e.kind, ErrorKind::NotConnected, "{e}"),
            other => panic!("write after abort: {other}"),
        }
    }
}

#[test]
fn connection_reset_is_reported_and_wait_buffers() {
    require!(linux::unavailable());
    let mut t = LinuxTarget::new(Vec::new()).expect("target");
    let ep = t.open(IpVersion::V4, &no_sysctls()).expect("open");
    t.app(&AppCall::Listen {
        local: SocketAddr::new(ep.target, PORT),
    })
    .expect("listen");
    let syn = Flags {
        syn: true,
        ..Flags::default()
    };
    t.inject(&segment(ep, TESTER_PORT, PORT, 1, syn, &[]))
        .expect("inject");
    // The SYN-ACK sent during the wait is kept for receive.
    t.wait(Duration::from_millis(50)).expect("wait");
    let synack = t
        .receive(Duration::ZERO)
        .expect("receive")
        .expect("SYN-ACK buffered by wait");
    let iss = parse(&synack.packet).seq;
    let ack = Flags {
        ack: Some(iss.wrapping_add(1)),
        ..Flags::default()
    };
    t.inject(&segment(ep, TESTER_PORT, PORT, 2, ack, &[]))
        .expect("inject");
    assert_eq!(t.app(&AppCall::Accept).expect("accept"), AppResult::Ok);
    let rst = Flags {
        rst: true,
        ..Flags::default()
    };
    t.inject(&segment(ep, TESTER_PORT, PORT, 2, rst, &[]))
        .expect("inject");
    match t.app(&AppCall::Read { max: 10 }).expect("read") {
        AppResult::Failed(e) => assert_eq!(e.kind, ErrorKind::Reset, "{e}"),
        other => panic!("read after RST: {other}"),
    }
    match t.app(&AppCall::Write(b"x".to_vec())).expect("write") {
        AppResult::Failed(e) => assert_eq!(e.kind, ErrorKind::Closing, "{e}"),
        other => panic!("write after RST: {other}"),
    }
    // Nothing else is pending; receive waits out its deadline (the upper bound only catches a
    // wait that never ends: timing is measured by benches/linux.rs, not asserted here).
    let started = Instant::now();
    assert!(t
        .receive(Duration::from_millis(100))
        .expect("receive")
        .is_none());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

fn host_value(key: &str) -> String {
    netns::read_sysctl(key).expect("host sysctl readable")
}

#[test]
fn sysctls_land_in_the_namespace_only() {
    require!(linux::unavailable());
    const KEY: &str = "net.ipv4.tcp_rfc1337";
    const PINNED: &str = "net.ipv4.tcp_invalid_ratelimit";
    let host_before = host_value(KEY);
    let pinned_before = host_value(PINNED);
    let flipped = if host_before == "1" { "0" } else { "1" };
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let (checked_tx, checked_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let mut t = LinuxTarget::new(Vec::new()).expect("target");
        let sysctls = BTreeMap::from([(KEY.to_string(), flipped.to_string())]);
        t.open(IpVersion::V4, &sysctls).expect("open");
        let inside = (netns::read_sysctl(KEY), netns::read_sysctl(PINNED));
        opened_tx.send(inside).expect("send");
        checked_rx.recv().expect("host checked");
        drop(t);
        // Back home: the thread sees the host's value again.
        netns::read_sysctl(KEY).expect("readable")
    });
    let (inside, pinned_inside) = opened_rx.recv().expect("worker opened the target");
    assert_eq!(inside.as_deref(), Ok(flipped));
    assert_eq!(pinned_inside.as_deref(), Ok("0"));
    // While the case namespace holds the flipped value, the host's is untouched.
    assert_eq!(host_value(KEY), host_before);
    assert_eq!(host_value(PINNED), pinned_before);
    checked_tx.send(()).expect("send");
    assert_eq!(worker.join().expect("worker"), host_before);
    assert_eq!(host_value(KEY), host_before);

    // A sysctl that does not exist fails the open, and the thread is left at home.
    let home = std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let mut t = LinuxTarget::new(Vec::new()).expect("target");
    let bad = BTreeMap::from([("net.ipv4.tcp_no_such_knob".to_string(), "1".to_string())]);
    let e = t.open(IpVersion::V4, &bad).expect_err("unknown sysctl");
    assert!(e.0.contains("unknown sysctl"), "{e}");
    let not_net = BTreeMap::from([("kernel.panic".to_string(), "1".to_string())]);
    assert!(t.open(IpVersion::V4, &not_net).is_err());
    let after = std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    assert_eq!(home.ok(), after.ok());
}

/// The congestion control is pinned to reno in every case namespace, whatever the host's
/// default; `LinuxTarget::new`'s sysctls (`--sysctl`) come after the pinned ones and before a
/// case's own.
#[test]
fn congestion_control_is_reno_unless_the_run_says_otherwise() {
    require!(linux::unavailable());
    const CC: &str = "net.ipv4.tcp_congestion_control";
    const KEY: &str = "net.ipv4.tcp_rfc1337";
    let host_cc = host_value(CC);
    let host_key = host_value(KEY);
    let flipped = if host_key == "1" { "0" } else { "1" };

    let mut t = LinuxTarget::new(Vec::new()).expect("target");
    t.open(IpVersion::V4, &no_sysctls()).expect("open");
    assert_eq!(netns::read_sysctl(CC).as_deref(), Ok("reno"));
    drop(t);
    assert_eq!(host_value(CC), host_cc, "the host's own is untouched");

    // Another algorithm a namespace may choose: one of the host's allowed ones that is not
    // reno (the host's default always is), or reno again on a host that allows nothing else.
    let allowed = host_value("net.ipv4.tcp_allowed_congestion_control");
    let other = allowed
        .split_whitespace()
        .find(|a| *a != "reno")
        .unwrap_or("reno")
        .to_string();
    let run = vec![
        (CC.to_string(), other.clone()),
        (KEY.to_string(), flipped.to_string()),
    ];
    let mut t = LinuxTarget::new(run).expect("target");
    t.open(IpVersion::V6, &no_sysctls()).expect("open");
    assert_eq!(netns::read_sysctl(CC), Ok(other.clone()));
    assert_eq!(netns::read_sysctl(KEY).as_deref(), Ok(flipped));
    // A case's own sysctls come last.
    let case = BTreeMap::from([
        (KEY.to_string(), host_key.clone()),
        (CC.to_string(), "reno".to_string()),
    ]);
    t.open(IpVersion::V4, &case).expect("open");
    assert_eq!(netns::read_sysctl(KEY), Ok(host_key.clone()));
    assert_eq!(netns::read_sysctl(CC).as_deref(), Ok("reno"));
    // Every instance starts from the run's again.
    t.open(IpVersion::V4, &no_sysctls()).expect("open");
    assert_eq!(netns::read_sysctl(CC), Ok(other));
    drop(t);
    assert_eq!(host_value(CC), host_cc);
    assert_eq!(host_value(KEY), host_key);

    // An algorithm the kernel does not have fails the open.
    let mut t = LinuxTarget::new(vec![(CC.to_string(), "no-such-cc".to_string())]).expect("target");
    assert!(t.open(IpVersion::V4, &no_sysctls()).is_err());
}

#[test]
fn refuses_other_threads() {
    require!(linux::unavailable());
    let t = LinuxTarget::new(Vec::new()).expect("target");
    let result = std::thread::spawn(move || {
        let mut t = t;
        t.open(IpVersion::V4, &BTreeMap::new()).map(|_| ())
    })
    .join()
    .expect("thread");
    let e = result.expect_err("a target is bound to the thread that made it");
    assert!(e.0.contains("thread"), "{e}");
}
