//! The stack's own SEGMENT ARRIVES rules (RFC 9293 3.10.7.1 CLOSED, 3.10.7.2 LISTEN), address
//! validation (MUST-57, MUST-63, MUST-46), demultiplexing and the SYN backlog, with the exact
//! packets emitted.

use reference_stack::stack::{Handled, SocketHandle, Stack, StackError};
use reference_stack::wire::{
    IpRepr, Ipv4Repr, Ipv6Repr, Segment, SeqNumber, TcpFlags, TcpOption, TcpRepr,
};
use reference_stack::{Config, FourTuple, Instant, Rule, State};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const US4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const T0: Instant = Instant::ZERO;

fn config() -> Config {
    Config {
        isn_secret: Some([0x42; 16]),
        ..Config::default()
    }
}

fn tcp(sport: u16, dport: u16, flags: TcpFlags, seq: u32, ack: u32, payload: &[u8]) -> TcpRepr {
    TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack),
        flags,
        reserved: 0,
        window: 65535,
        urgent: 0,
        options: Vec::new(),
        padding: Vec::new(),
        payload: payload.to_vec(),
    }
}

fn v4(src: Ipv4Addr, dst: Ipv4Addr, tcp: TcpRepr) -> Segment {
    Segment {
        ip: IpRepr::V4(Ipv4Repr {
            src,
            dst,
            dscp_ecn: 0,
            ident: 1,
            reserved_flag: false,
            dont_frag: true,
            ttl: 64,
            options: Vec::new(),
        }),
        tcp,
    }
}

fn v6(src: Ipv6Addr, dst: Ipv6Addr, tcp: TcpRepr) -> Segment {
    Segment {
        ip: IpRepr::V6(Ipv6Repr {
            src,
            dst,
            traffic_class: 0,
            flow_label: 0,
            hop_limit: 64,
            ext_headers: Vec::new(),
        }),
        tcp,
    }
}

/// The stack's reply: the RST it must send, framed as the stack frames it (IPv4 ident copied
/// from the packet, since it is a counter with a key-dependent start).
fn expect_rst(stack: &mut Stack, to: &Segment, seq: u32, ack: Option<u32>) {
    let bytes = stack.poll_transmit(T0).expect("an RST");
    let got = Segment::parse(&bytes).expect("the stack emits valid packets");
    let flags = if ack.is_some() {
        TcpFlags::RST | TcpFlags::ACK
    } else {
        TcpFlags::RST
    };
    let mut rst = tcp(
        to.tcp.dst_port,
        to.tcp.src_port,
        flags,
        seq,
        ack.unwrap_or(0),
        &[],
    );
    rst.window = 0;
    let want = match (&to.ip, &got.ip) {
        (IpRepr::V4(ip), IpRepr::V4(g)) => {
            let mut s = v4(ip.dst, ip.src, rst);
            if let IpRepr::V4(w) = &mut s.ip {
                w.ident = g.ident;
            }
            s
        }
        (IpRepr::V6(ip), _) => v6(ip.dst, ip.src, rst),
        _ => panic!("wrong IP version: {got:?}"),
    };
    assert_eq!(got, want);
    assert_eq!(stack.poll_transmit(T0), None, "one RST only");
}

fn assert_silent(stack: &mut Stack) {
    assert_eq!(stack.poll_transmit(T0), None);
}

fn handled(stack: &mut Stack, seg: &Segment) -> Handled {
    let h = stack.handle_segment(T0, seg);
    let t = FourTuple {
        local: seg.dst(),
        remote: seg.src(),
    };
    assert_eq!(h.tuple, Some(t));
    h
}

// ----- CLOSED (RFC 9293 3.10.7.1) -------------------------------------------------------------

#[test]
fn cl1_rst_to_closed_port_is_discarded() {
    let mut s = Stack::new(config());
    for flags in [TcpFlags::RST, TcpFlags::RST | TcpFlags::ACK] {
        let seg = v4(PEER4, US4, tcp(40000, 80, flags, 1000, 7, &[]));
        let h = handled(&mut s, &seg);
        assert_eq!(h.rules, vec![Rule::Cl1]);
        assert_eq!(
            (h.state_before, h.state_after),
            (State::Closed, State::Closed)
        );
        assert_eq!(h.handle, None);
        assert_silent(&mut s);
    }
    assert_eq!(s.stats().resets_sent, 0);
}

#[test]
fn cl2_no_ack_gets_rst_ack_with_seq_zero() {
    let mut s = Stack::new(config());
    // SEG.LEN counts the SYN, the FIN and the payload.
    let cases: [(TcpFlags, &[u8], u32); 4] = [
        (TcpFlags::SYN, b"", 1001),
        (TcpFlags::SYN | TcpFlags::FIN, b"abc", 1005),
        (TcpFlags::NONE, b"hello", 1005),
        (TcpFlags::FIN, b"", 1001),
    ];
    for (flags, payload, ack) in cases {
        let seg = v4(PEER4, US4, tcp(40000, 80, flags, 1000, 0, payload));
        assert_eq!(handled(&mut s, &seg).rules, vec![Rule::Cl2]);
        expect_rst(&mut s, &seg, 0, Some(ack));
    }
    // Sequence wrap: ACK = SEG.SEQ + SEG.LEN modulo 2^32.
    let seg = v6(PEER6, US6, tcp(40000, 80, TcpFlags::SYN, u32::MAX, 0, b""));
    assert_eq!(handled(&mut s, &seg).rules, vec![Rule::Cl2]);
    expect_rst(&mut s, &seg, 0, Some(0));
}

#[test]
fn cl3_ack_gets_rst_with_seq_seg_ack() {
    let mut s = Stack::new(config());
    for flags in [
        TcpFlags::ACK,
        TcpFlags::ACK | TcpFlags::PSH,
        TcpFlags::SYN | TcpFlags::ACK,
    ] {
        let seg = v4(PEER4, US4, tcp(40000, 80, flags, 1000, 0xdead_beef, b"x"));
        assert_eq!(handled(&mut s, &seg).rules, vec![Rule::Cl3]);
        expect_rst(&mut s, &seg, 0xdead_beef, None);
    }
    let seg = v6(
        PEER6,
        US6,
        tcp(40000, 80, TcpFlags::ACK | TcpFlags::FIN, 5, 77, b""),
    );
    assert_eq!(handled(&mut s, &seg).rules, vec![Rule::Cl3]);
    expect_rst(&mut s, &seg, 77, None);
    assert_eq!(s.stats().resets_sent, 4);
}

#[test]
fn rst_ip_framing_uses_config_ttl_df_and_counting_ident() {
    let mut s = Stack::new(Config {
        ttl: 33,
        ..config()
    });
    let seg = v4(PEER4, US4, tcp(40000, 80, TcpFlags::ACK, 1, 2, b""));
    s.handle_segment(T0, &seg);
    s.handle_segment(T0, &seg);
    let a = Segment::parse(&s.poll_transmit(T0).expect("rst")).expect("valid");
    let b = Segment::parse(&s.poll_transmit(T0).expect("rst")).expect("valid");
    match (a.ip, b.ip) {
        (IpRepr::V4(a), IpRepr::V4(b)) => {
            assert_eq!((a.ttl, a.dont_frag, a.src, a.dst), (33, true, US4, PEER4));
            assert_eq!(b.ident, a.ident.wrapping_add(1));
        }
        other => panic!("{other:?}"),
    }
    let seg = v6(PEER6, US6, tcp(40000, 80, TcpFlags::ACK, 1, 2, b""));
    s.handle_segment(T0, &seg);
    let c = Segment::parse(&s.poll_transmit(T0).expect("rst")).expect("valid");
    match c.ip {
        IpRepr::V6(c) => assert_eq!((c.hop_limit, c.src, c.dst), (33, US6, PEER6)),
        other => panic!("{other:?}"),
    }
}

// ----- LISTEN (RFC 9293 3.10.7.2) -------------------------------------------------------------

#[test]
fn li1_rst_to_listener_is_ignored() {
    let mut s = Stack::new(config());
    let l = s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
    assert_eq!(s.state(l), State::Listen);
    for flags in [
        TcpFlags::RST,
        TcpFlags::RST | TcpFlags::ACK,
        TcpFlags::RST | TcpFlags::SYN,
    ] {
        let seg = v4(PEER4, US4, tcp(40000, 80, flags, 1000, 5, &[]));
        let h = handled(&mut s, &seg);
        assert_eq!(h.rules, vec![Rule::Li1]);
        assert_eq!(
            (h.state_before, h.state_after),
            (State::Listen, State::Listen)
        );
        assert_silent(&mut s);
    }
}

#[test]
fn li2_ack_to_listener_gets_rst() {
    let mut s = Stack::new(config());
    s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
    // Any ACK, even on a SYN: the second check comes before the third.
    for flags in [
        TcpFlags::ACK,
        TcpFlags::SYN | TcpFlags::ACK,
        TcpFlags::ACK | TcpFlags::FIN,
    ] {
        let seg = v4(PEER4, US4, tcp(40000, 80, flags, 1000, 4242, b"data"));
        let h = handled(&mut s, &seg);
        assert_eq!(h.rules, vec![Rule::Li2]);
        assert_eq!(h.state_after, State::Listen);
        expect_rst(&mut s, &seg, 4242, None);
    }
}

#[test]
fn li3_security_mismatch_gets_rst_ack() {
    let mut s = Stack::new(Config {
        security_level: Some(0x5a),
        ..config()
    });
    s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
    let mut seg = v4(PEER4, US4, tcp(40000, 80, TcpFlags::SYN, 1000, 0, b""));
    if let IpRepr::V4(ip) = &mut seg.ip {
        // RFC 1108 Basic Security Option, level 0x3d ("top secret"), padded to 4 octets.
        ip.options = vec![130, 3, 0x3d, 0];
    }
    let h = handled(&mut s, &seg);
    assert_eq!(h.rules, vec![Rule::Li3]);
    assert_eq!(h.state_after, State::Listen);
    expect_rst(&mut s, &seg, 0, Some(1001));
}

#[test]
fn li5_no_syn_ack_rst_is_dropped() {
    let mut s = Stack::new(config());
    s.listen(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 80))
        .expect("listen");
    for (flags, payload) in [
        (TcpFlags::FIN, &b""[..]),
        (TcpFlags::NONE, b"data"),
        (TcpFlags::PSH, b"x"),
    ] {
        let seg = v6(PEER6, US6, tcp(40000, 80, flags, 1000, 0, payload));
        let h = handled(&mut s, &seg);
        assert_eq!(h.rules, vec![Rule::Li5]);
        assert_eq!(
            (h.state_before, h.state_after),
            (State::Listen, State::Listen)
        );
        assert_silent(&mut s);
    }
}

fn syn(src: Ipv4Addr, sport: u16, dport: u16, seq: u32) -> Segment {
    let mut t = tcp(sport, dport, TcpFlags::SYN, seq, 0, b"");
    t.options = vec![TcpOption::Mss(1460)];
    v4(src, US4, t)
}

#[test]
fn li4_syn_creates_syn_received_and_syn_ack() {
    let mut s = Stack::new(config());
    let l = s
        .listen(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 80))
        .expect("listen");
    let seg = syn(PEER4, 40000, 80, 1000);
    let h = handled(&mut s, &seg);
    assert_eq!(h.rules, vec![Rule::Li4]);
    assert_eq!(
        (h.state_before, h.state_after),
        (State::Listen, State::SynReceived)
    );
    let c = h.handle.expect("a new connection");
    assert_ne!(c, l);
    let t = FourTuple {
        local: seg.dst(),
        remote: seg.src(),
    };
    assert_eq!(s.state(c), State::SynReceived);
    assert_eq!(s.state_of(t), State::SynReceived);
    let info = s.info_of(t).expect("a TCB");
    assert_eq!(info.irs, SeqNumber(1000));
    assert_eq!(info.rcv_nxt, SeqNumber(1001));
    let sa = Segment::parse(&s.poll_transmit(T0).expect("SYN-ACK")).expect("valid");
    assert_eq!(
        sa.tcp.flags & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST),
        TcpFlags::SYN | TcpFlags::ACK
    );
    assert_eq!((sa.tcp.seq, sa.tcp.ack), (info.iss, SeqNumber(1001)));
    assert_eq!((sa.src(), sa.dst()), (seg.dst(), seg.src()));
    // Not acceptable yet: the handshake is not complete.
    assert_eq!(s.accept(l), Ok(None));
}

#[test]
fn passive_iss_is_rfc6528_per_tuple() {
    // Same key, same time: same ISS for the same tuple, different for another one (MUST-8/9).
    let iss = |port: u16| {
        let mut s = Stack::new(config());
        s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
        s.handle_segment(T0, &syn(PEER4, port, 80, 1));
        let t = FourTuple {
            local: SocketAddr::new(US4.into(), 80),
            remote: SocketAddr::new(PEER4.into(), port),
        };
        s.info_of(t).expect("tcb").iss
    };
    assert_eq!(iss(40000), iss(40000));
    assert_ne!(iss(40000), iss(40001));
}

// ----- demultiplexing ------------------------------------------------------------------------

#[test]
fn exact_listener_wins_over_wildcard_and_families_are_separate() {
    let mut s = Stack::new(config());
    let any4 = s
        .listen(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 80))
        .expect("any4");
    let exact = s.listen(SocketAddr::new(US4.into(), 80)).expect("exact");
    let any6 = s
        .listen(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 80))
        .expect("v6 same port");
    assert_eq!(
        s.listen(SocketAddr::new(US4.into(), 80)),
        Err(StackError::AddrInUse)
    );
    let c1 = handled(&mut s, &syn(PEER4, 1, 80, 1))
        .handle
        .expect("exact");
    let other = Ipv4Addr::new(192, 0, 2, 9);
    let mut seg = syn(PEER4, 2, 80, 1);
    if let IpRepr::V4(ip) = &mut seg.ip {
        ip.dst = other;
    }
    let c2 = handled(&mut s, &seg).handle.expect("wildcard");
    let c3 = handled(
        &mut s,
        &v6(PEER6, US6, tcp(3, 80, TcpFlags::SYN, 1, 0, b"")),
    )
    .handle
    .expect("v6");
    for _ in 0..3 {
        assert!(s.poll_transmit(T0).is_some());
    }
    // Which listener took each is visible when the handshake completes; here check the
    // tuples and the listener of each through the backlog accounting instead: closing the
    // exact listener aborts only its half-open connection.
    s.close(T0, exact).expect("close");
    assert_eq!(s.state(c1), State::Closed);
    assert_eq!(s.state(c2), State::SynReceived);
    assert_eq!(s.state(c3), State::SynReceived);
    s.close(T0, any4).expect("close");
    assert_eq!(s.state(c2), State::Closed);
    assert_eq!(s.state(c3), State::SynReceived);
    s.close(T0, any6).expect("close");
    assert_eq!(s.state(c3), State::Closed);
}

#[test]
fn segments_go_to_the_connection_of_their_tuple() {
    let mut s = Stack::new(Config {
        syn_backlog: 1000,
        ..config()
    });
    s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
    let n = 200u16;
    let mut handles = Vec::new();
    for i in 0..n {
        let h = handled(&mut s, &syn(PEER4, 10000 + i, 80, u32::from(i) * 1000));
        handles.push(h.handle.expect("new"));
    }
    let mut sent = 0;
    while s.poll_transmit(T0).is_some() {
        sent += 1;
    }
    assert_eq!(sent, n);
    for (i, h) in handles.iter().enumerate() {
        let port = 10000 + i as u16;
        let t = FourTuple {
            local: SocketAddr::new(US4.into(), 80),
            remote: SocketAddr::new(PEER4.into(), port),
        };
        let info = s.info(*h).expect("tcb");
        assert_eq!(info.irs, SeqNumber(i as u32 * 1000));
        assert_eq!(s.info_of(t), Some(info));
        // A retransmitted SYN reaches its own TCB, not the listener.
        let again = handled(&mut s, &syn(PEER4, port, 80, i as u32 * 1000));
        assert_eq!(again.handle, Some(*h));
        assert_eq!(again.state_before, State::SynReceived);
        assert!(!again.rules.contains(&Rule::Li4));
    }
}

// ----- backlog ---------------------------------------------------------------------------------

#[test]
fn full_syn_backlog_drops_syns_silently() {
    let mut s = Stack::new(Config {
        syn_backlog: 2,
        ..config()
    });
    let l = s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
    for port in [1, 2] {
        assert_eq!(
            handled(&mut s, &syn(PEER4, port, 80, 7)).rules,
            vec![Rule::Li4]
        );
    }
    while s.poll_transmit(T0).is_some() {}
    let h = handled(&mut s, &syn(PEER4, 3, 80, 7));
    assert_eq!(h.rules, Vec::<Rule>::new());
    assert_eq!(
        (h.state_before, h.state_after, h.handle),
        (State::Listen, State::Listen, None)
    );
    assert_silent(&mut s);
    assert_eq!(s.stats().syn_dropped, 1);
    assert_eq!(s.accept(l), Ok(None));
    // Another listener is unaffected.
    s.listen(SocketAddr::new(US4.into(), 81)).expect("listen");
    assert_eq!(
        handled(&mut s, &syn(PEER4, 3, 81, 7)).rules,
        vec![Rule::Li4]
    );
    // A half-open connection going back to LISTEN (RS-2) makes room again.
    let t = FourTuple {
        local: SocketAddr::new(US4.into(), 80),
        remote: SocketAddr::new(PEER4.into(), 1),
    };
    let rst = v4(PEER4, US4, tcp(1, 80, TcpFlags::RST, 8, 0, b""));
    let h = handled(&mut s, &rst);
    assert_eq!(h.rules, vec![Rule::Rs2]);
    assert_eq!(
        (h.state_before, h.state_after),
        (State::SynReceived, State::Listen)
    );
    assert_eq!(s.state_of(t), State::Listen);
    assert_eq!(
        handled(&mut s, &syn(PEER4, 3, 80, 7)).rules,
        vec![Rule::Li4]
    );
    assert_eq!(s.stats().syn_dropped, 1);
}

// ----- address validation ------------------------------------------------------------------------

#[test]
fn must57_broadcast_and_multicast_are_dropped_silently() {
    let mut s = Stack::new(config());
    s.listen(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 80))
        .expect("listen");
    s.listen(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 80))
        .expect("listen");
    let bcast = Ipv4Addr::BROADCAST;
    let mcast4 = Ipv4Addr::new(224, 0, 0, 1);
    let mcast6 = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let segs = [
        v4(PEER4, bcast, tcp(1, 80, TcpFlags::SYN, 1, 0, b"")),
        v4(PEER4, mcast4, tcp(1, 80, TcpFlags::SYN, 1, 0, b"")),
        v4(bcast, US4, tcp(1, 80, TcpFlags::SYN, 1, 0, b"")),
        v4(mcast4, US4, tcp(1, 80, TcpFlags::ACK, 1, 0, b"")),
        v4(PEER4, mcast4, tcp(1, 99, TcpFlags::ACK, 1, 0, b"")),
        v6(PEER6, mcast6, tcp(1, 80, TcpFlags::SYN, 1, 0, b"")),
        v6(mcast6, US6, tcp(1, 99, TcpFlags::NONE, 1, 0, b"")),
    ];
    for seg in &segs {
        let h = handled(&mut s, seg);
        assert_eq!(h.rules, Vec::<Rule>::new(), "{seg:?}");
        assert_eq!(h.handle, None);
        assert_silent(&mut s);
    }
    assert_eq!(s.stats().invalid_address_dropped, segs.len() as u64);
}

#[test]
fn must63_syn_from_unspecified_source_is_dropped() {
    let mut s = Stack::new(config());
    s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
    let h = handled(&mut s, &syn(Ipv4Addr::UNSPECIFIED, 1, 80, 1));
    assert_eq!((h.rules.len(), h.handle), (0, None));
    assert_silent(&mut s);
    // Nor is anything else from there answered (an RST could not be addressed).
    let ack = v4(
        Ipv4Addr::UNSPECIFIED,
        US4,
        tcp(1, 99, TcpFlags::ACK, 1, 2, b""),
    );
    assert_eq!(handled(&mut s, &ack).rules, Vec::<Rule>::new());
    assert_silent(&mut s);
    assert_eq!(s.stats().invalid_address_dropped, 2);
}

#[test]
fn must46_open_to_invalid_address_is_refused() {
    let mut s = Stack::new(config());
    let local = SocketAddr::new(US4.into(), 0);
    let bad: [IpAddr; 4] = [
        Ipv4Addr::BROADCAST.into(),
        Ipv4Addr::new(239, 1, 2, 3).into(),
        Ipv4Addr::UNSPECIFIED.into(),
        PEER6.into(),
    ];
    for ip in bad {
        assert_eq!(
            s.connect(T0, local, SocketAddr::new(ip, 80)),
            Err(StackError::InvalidAddress),
            "{ip}"
        );
    }
    assert_eq!(
        s.connect(T0, local, SocketAddr::new(PEER4.into(), 0)),
        Err(StackError::InvalidAddress)
    );
    assert_eq!(
        s.listen(SocketAddr::new(Ipv4Addr::new(224, 0, 0, 1).into(), 80)),
        Err(StackError::InvalidAddress)
    );
    assert_silent(&mut s);
}

#[test]
fn handle_errors() {
    let mut s = Stack::new(config());
    let l = s.listen(SocketAddr::new(US4.into(), 80)).expect("listen");
    let nobody = SocketHandle(999);
    assert_eq!(s.accept(nobody), Err(StackError::NoSuchSocket));
    assert_eq!(s.send(T0, l, b"x"), Err(StackError::IsListener));
    assert_eq!(s.recv(nobody, &mut [0; 4]), Err(StackError::NoSuchSocket));
    assert_eq!(s.state(nobody), State::Closed);
    assert_eq!(s.info(l), None);
    assert_eq!(format!("{l}"), "#0");
    s.close(T0, l).expect("close listener");
    assert_eq!(s.state(l), State::Closed);
    assert_eq!(s.close(T0, l), Err(StackError::NoSuchSocket));
    // Once the listener is gone, its port is CLOSED again.
    let seg = v4(PEER4, US4, tcp(1, 80, TcpFlags::SYN, 1, 0, b""));
    assert_eq!(handled(&mut s, &seg).rules, vec![Rule::Cl2]);
    assert!(s.poll_event().is_none());
}
