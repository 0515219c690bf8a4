//! Minimal reproductions of failures found by the fuzz targets of fuzz/ (see fuzz/README.md).
//! Each test names the target and the invariant that caught it.

use std::net::{Ipv4Addr, SocketAddr};

use reference_stack::rules::Rule;
use reference_stack::stack::{SocketHandle, Stack};
use reference_stack::time::Instant;
use reference_stack::wire::{Segment, TcpFlags, TcpRepr};
use reference_stack::{Config, State};

/// Moves every packet each stack wants to send to the other, until neither has any.
fn exchange(now: Instant, a: &mut Stack, b: &mut Stack) {
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(p) = a.poll_transmit(now) {
            b.handle_packet(now, &p).expect("A's packet parses");
            moved = true;
        }
        while let Some(p) = b.poll_transmit(now) {
            a.handle_packet(now, &p).expect("B's packet parses");
            moved = true;
        }
        if !moved {
            return;
        }
    }
    panic!("the two stacks never stop talking");
}

/// Reads everything `h` has buffered.
fn read_all(stack: &mut Stack, h: SocketHandle, into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stack.recv(h, &mut buf) {
        if n == 0 {
            return;
        }
        into.extend_from_slice(buf.get(..n).unwrap_or(&[]));
    }
}

fn config(recv_buffer: usize, seed: u8) -> Config {
    Config {
        recv_buffer,
        isn_secret: Some([seed; 16]),
        ..Config::default()
    }
}

/// state_machine_pair, "a side read N octets, the other wrote M": a CLOSE with data still
/// queued moves ESTABLISHED -> FIN-WAIT-1 (RFC 9293 3.10.4: the FIN goes after the data); the
/// peer's FIN then moves FIN-WAIT-1 -> CLOSING (3.10.7.4, eighth step). In CLOSING the queued
/// data (and so our FIN) is never sent: no segment, no timer, the connection hangs for ever.
/// RFC 9293 3.10.4 says the queued SENDs are still segmentized and sent before the FIN, in any
/// state that has not sent it yet.
#[test]
fn data_queued_before_close_is_sent_in_closing() {
    let now = Instant::from_millis(1);
    // A small receive buffer at A, so B cannot send everything at once.
    let mut a = Stack::new(config(4096, 1));
    let mut b = Stack::new(config(65_535, 2));
    let a_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 80);
    let b_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 5000);
    let listener = a.listen(a_addr).expect("listen");
    let hb = b.connect(now, b_addr, a_addr).expect("connect");
    exchange(now, &mut a, &mut b);
    let ha = a
        .accept(listener)
        .expect("listener")
        .expect("connection established");

    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    assert_eq!(b.send(now, hb, &data), Ok(data.len()));
    // B sends what A's window allows and closes with the rest still queued: FIN-WAIT-1.
    while let Some(p) = b.poll_transmit(now) {
        a.handle_packet(now, &p).expect("parses");
    }
    b.close(now, hb).expect("close");
    assert_eq!(b.state(hb), State::FinWait1);
    // A half-closes; its FIN (and the ACKs of the first window) reach B: CLOSING.
    a.shutdown_write(now, ha).expect("shutdown");
    while let Some(p) = a.poll_transmit(now) {
        b.handle_packet(now, &p).expect("parses");
    }
    assert_eq!(b.state(hb), State::Closing);

    // From here on nothing is lost: A reads everything, every packet is delivered, every
    // timer fires. All 20000 octets must arrive.
    let mut got = Vec::new();
    let mut t = now;
    for _ in 0..1000 {
        read_all(&mut a, ha, &mut got);
        exchange(t, &mut a, &mut b);
        read_all(&mut a, ha, &mut got);
        if got.len() == data.len() {
            break;
        }
        match [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        {
            Some(next) => {
                t = t.max(next);
                a.handle_timeout(t);
                b.handle_timeout(t);
            }
            None => break,
        }
    }
    assert_eq!(
        got.len(),
        data.len(),
        "A received {} of the {} octets B queued before CLOSE; B is in {} with no timer",
        got.len(),
        data.len(),
        b.state(hb)
    );
    assert_eq!(got, data);
}

/// state_machine_pair, "the stacks never stop answering each other" (input kept as
/// fuzz/regressions/state_machine_pair-ack-war): an endless exchange of pure ACKs at one
/// instant. A's receive window is zero (its application closed with unread data) and B has a
/// zero-window probe octet outstanding, so B's ACKs carry SEQ = SND.NXT = A's RCV.NXT + 1:
/// unacceptable to A (RFC 9293 3.10.7.4: with RCV.WND = 0 only SEG.SEQ = RCV.NXT is), which
/// answers with an ACK. A's own 1024 octets in flight were lost, so A's ACK has SEQ = A's
/// SND.NXT = B's RCV.NXT + RCV.WND: unacceptable to B, which answers with an ACK. And so on,
/// for ever, without the clock moving. Either side breaking the loop fixes it: an ACK's SEQ
/// kept within the peer's window (Linux's tcp_acceptable_seq), the "special allowance" for
/// valid ACKs when RCV.WND is zero (3.10.7.4), or a rate limit on ACKs for unacceptable
/// segments (RFC 5961 10).
#[test]
fn zero_window_probe_does_not_start_an_ack_war() {
    use reference_stack::time::Duration;
    use reference_stack::RstPolicy;
    use std::collections::VecDeque;

    // The fuzz input's knobs (see fuzz/src/state_machine.rs `config`).
    let ca = Config {
        recv_buffer: 1024,
        send_buffer: 16 * 1024,
        mtu: 9000,
        window_scale: None,
        timestamps: false,
        sack: true,
        rst_policy: RstPolicy::Rfc5961,
        delayed_ack: None,
        nagle: true,
        time_wait_reuse: false,
        keepalive: None,
        syn_backlog: 4,
        accept_backlog: 4,
        isn_secret: Some([1; 16]),
        ..Config::default()
    };
    let cb = Config {
        recv_buffer: 1024,
        send_buffer: 65_535,
        mtu: 1500,
        window_scale: Some(2),
        timestamps: false,
        sack: false,
        rst_policy: RstPolicy::Rfc5961,
        delayed_ack: Some(Duration::from_millis(100)),
        nagle: true,
        time_wait_reuse: true,
        keepalive: Some(Duration::from_secs(7200)),
        syn_backlog: 4,
        accept_backlog: 4,
        isn_secret: Some([2; 16]),
        ..Config::default()
    };
    let mut a = Stack::new(ca);
    let mut b = Stack::new(cb);
    let mut now = Instant::from_millis(1);
    let a_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 80);
    let b_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 5000);
    let listener = a.listen(a_addr).expect("listen");
    let hb = b.connect(now, b_addr, a_addr).expect("connect");
    let mut ha = None;
    let mut to_a: VecDeque<Vec<u8>> = VecDeque::new();
    let mut to_b: VecDeque<Vec<u8>> = VecDeque::new();
    let pump = |now: Instant,
                a: &mut Stack,
                b: &mut Stack,
                to_a: &mut VecDeque<Vec<u8>>,
                to_b: &mut VecDeque<Vec<u8>>,
                ha: &mut Option<SocketHandle>| {
        while let Some(p) = a.poll_transmit(now) {
            to_b.push_back(p);
        }
        while let Some(p) = b.poll_transmit(now) {
            to_a.push_back(p);
        }
        if ha.is_none() {
            *ha = a.accept(listener).expect("listener");
        }
    };
    let deliver_all = |now: Instant,
                       a: &mut Stack,
                       b: &mut Stack,
                       to_a: &mut VecDeque<Vec<u8>>,
                       to_b: &mut VecDeque<Vec<u8>>| {
        while let Some(p) = to_b.pop_front() {
            b.handle_packet(now, &p).expect("parses");
        }
        while let Some(p) = to_a.pop_front() {
            a.handle_packet(now, &p).expect("parses");
        }
    };
    let pattern = |n: usize| -> Vec<u8> { (0..n).map(|i| i as u8).collect() };
    pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut ha);

    // The fuzz input, op by op; every op is followed by a pump.
    for _ in 0..2 {
        deliver_all(now, &mut a, &mut b, &mut to_a, &mut to_b);
        pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut ha);
    }
    let _ = b.send(now, hb, &pattern(11_212));
    pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut ha);
    for _ in 0..2 {
        deliver_all(now, &mut a, &mut b, &mut to_a, &mut to_b);
        pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut ha);
    }
    let target = now + Duration::from_millis(30_069);
    while let Some(t) = [a.poll_timeout(), b.poll_timeout()]
        .into_iter()
        .flatten()
        .min()
        .filter(|t| *t <= target)
    {
        now = now.max(t);
        a.handle_timeout(now);
        b.handle_timeout(now);
        pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut ha);
    }
    now = target;
    a.handle_timeout(now);
    b.handle_timeout(now);
    pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut ha);
    let ha = ha.expect("A accepted the connection");
    let _ = a.send(now, ha, &pattern(65_295));
    pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut Some(ha));
    a.close(now, ha).expect("close");
    pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut Some(ha));
    let _ = b.send(now, hb, &pattern(13_246));
    pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut Some(ha));
    // The channel loses one of A's segments.
    if !to_b.is_empty() {
        let i = 163 % to_b.len();
        to_b.remove(i);
    }
    pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut Some(ha));

    // Deliver everything, as long as anything is sent, at this one instant.
    let mut exchanged = 0;
    while !(to_a.is_empty() && to_b.is_empty()) {
        deliver_all(now, &mut a, &mut b, &mut to_a, &mut to_b);
        pump(now, &mut a, &mut b, &mut to_a, &mut to_b, &mut Some(ha));
        exchanged += 1;
        assert!(
            exchanged < 1000,
            "A ({}) and B ({}) exchange packets for ever at {now} without the clock moving",
            a.state(ha),
            b.state(hb)
        );
    }
}

/// state_machine_pair, "packets still in flight after 3000 loss-free rounds" (input kept as
/// fuzz/regressions/state_machine_pair-zero-window-stall, replayed by fuzz/run-ci.sh): a
/// connection stalled for ever. A's view of B's window was zero, so A's persist timer sent a
/// one-octet probe (SND.NXT = SND.UNA + 1) which B, whose window had in fact reopened,
/// accepted: B's RCV.NXT = A's SND.NXT. A's pure ACKs then carried SEQ = SND.UNA + SND.WND
/// (the right edge, kept below SND.NXT after the ACK war above), one below B's RCV.NXT:
/// unacceptable (RFC 9293 3.10.7.4, Table 6), answered with an ACK and dropped before their
/// window update was seen. With both sides in that position neither ever learned that the
/// other's window was open. RFC 9293 3.10.7.4 says <SEQ=SND.NXT>, which B accepts.
#[test]
fn a_pure_ack_after_a_zero_window_probe_carries_snd_nxt() {
    let mut a = Stack::new(config(65_535, 1));
    let mut b = Stack::new(config(1024, 2));
    let mut now = Instant::from_millis(1);
    let a_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 5000);
    let b_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 80);
    let listener = b.listen(b_addr).expect("listen");
    let ha = a.connect(now, a_addr, b_addr).expect("connect");
    exchange(now, &mut a, &mut b);
    let hb = b.accept(listener).expect("listener").expect("accepted");

    // A fills B's 1024-octet window and has more queued.
    assert_eq!(a.send(now, ha, &[0xA5; 3000]), Ok(3000));
    exchange(now, &mut a, &mut b);
    // B's delayed ACK (window 0) goes out.
    now += reference_stack::time::Duration::from_millis(200);
    b.handle_timeout(now);
    exchange(now, &mut a, &mut b);
    let info = |s: &Stack, h| s.info(h).expect("connection");
    assert_eq!(info(&a, ha).snd_wnd, 0, "B's window is full");

    // B's application reads; the window update is lost. A's persist timer sends a probe
    // octet, which B accepts.
    let mut got = Vec::new();
    read_all(&mut b, hb, &mut got);
    while b.poll_transmit(now).is_some() {}
    now = a.poll_timeout().expect("persist timer");
    a.handle_timeout(now);
    let probe = a.poll_transmit(now).expect("zero-window probe");
    let a_snd_nxt = info(&a, ha).snd_nxt;
    assert_eq!(a_snd_nxt, info(&a, ha).snd_una + 1u32, "a one-octet probe");
    b.handle_packet(now, &probe).expect("probe parses");
    assert_eq!(info(&b, hb).rcv_nxt, a_snd_nxt, "B took the probe octet");
    while b.poll_transmit(now).is_some() {} // its ACK is lost too

    // An old duplicate from B (one below A's RCV.NXT, say a stray retransmission) draws
    // A's SQ-1 acknowledgment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, which B must accept.
    let b_view = info(&b, hb);
    let dup = Segment::new(
        b_addr,
        a_addr,
        TcpRepr {
            src_port: 80,
            dst_port: 5000,
            seq: b_view.snd_nxt - 1u32,
            ack: b_view.snd_una,
            flags: TcpFlags::ACK,
            window: 0,
            ..Default::default()
        },
    )
    .expect("same family");
    a.handle_packet(now, &dup.emit()).expect("parses");
    let ack = a.poll_transmit(now).expect("A acknowledges the duplicate");
    let seg = Segment::parse(&ack).expect("A's ACK parses");
    assert!(seg.tcp.payload.is_empty() && seg.tcp.flags.ack());
    assert_eq!(seg.tcp.seq, a_snd_nxt, "a pure ACK carries SEQ = SND.NXT");
    let handled = b.handle_packet(now, &ack).expect("ACK parses");
    assert!(
        !handled.rules.contains(&Rule::Sq1),
        "B finds A's ACK unacceptable: {:?}",
        handled.rules
    );
    assert!(info(&b, hb).snd_wnd > 0, "B learned A's window");
}

/// state_machine_pair, "packets still in flight after 3000 loss-free rounds" (input kept as
/// fuzz/regressions/state_machine_pair-zero-window-slow-acks): A's application closed with
/// 1024 unread octets, so A's receive window stays zero for good, and B keeps a one-octet
/// zero-window probe outstanding; B's pure ACKs then carry SEQ = SND.NXT = A's RCV.NXT + 1,
/// one past A's zero window. A dropped them as unacceptable, so it only learned that its own
/// data was acknowledged from B's next probe (at RCV.NXT), every 120 s: a 35 KB transfer
/// took 4.7 hours. RFC 9293 3.10.7.4: "If the RCV.WND is zero, no segments will be
/// acceptable, but special allowance should be made to accept valid ACKs" (SQ-3, MUST-66).
#[test]
fn with_a_zero_window_the_peers_ack_one_past_rcv_nxt_is_processed() {
    let mut a = Stack::new(config(1024, 1));
    let mut b = Stack::new(config(65_535, 2));
    let now = Instant::from_millis(1);
    let a_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 80);
    let b_addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 5000);
    let listener = a.listen(a_addr).expect("listen");
    let hb = b.connect(now, b_addr, a_addr).expect("connect");
    exchange(now, &mut a, &mut b);
    let ha = a.accept(listener).expect("listener").expect("accepted");

    // B fills A's receive window; A's application reads nothing.
    assert_eq!(b.send(now, hb, &[0x5B; 2000]), Ok(2000));
    exchange(now, &mut a, &mut b);
    let info = |s: &Stack, h| s.info(h).expect("connection");
    assert_eq!(info(&a, ha).rcv_wnd, 0, "A's window is shut");

    // A sends 100 octets; B's acknowledgment of them comes from a B whose zero-window probe
    // is outstanding: SEQ = B's SND.NXT = A's RCV.NXT + 1.
    assert_eq!(a.send(now, ha, &[0xA5; 100]), Ok(100));
    let data = a.poll_transmit(now).expect("A's data");
    assert!(a.poll_transmit(now).is_none());
    let a_view = info(&a, ha);
    let ack = Segment::new(
        b_addr,
        a_addr,
        TcpRepr {
            src_port: b_addr.port(),
            dst_port: a_addr.port(),
            seq: a_view.rcv_nxt + 1u32,
            ack: a_view.snd_nxt,
            flags: TcpFlags::ACK,
            window: 8192,
            ..Default::default()
        },
    )
    .expect("same family");
    drop(data);
    let handled = a.handle_packet(now, &ack.emit()).expect("parses");
    assert!(
        handled.rules.contains(&Rule::Sq3) && !handled.rules.contains(&Rule::Sq1),
        "rules {:?}",
        handled.rules
    );
    assert_eq!(
        info(&a, ha).snd_una,
        a_view.snd_nxt,
        "A's data is acknowledged"
    );
    assert!(
        a.poll_transmit(now).is_none(),
        "an ACK accepted under the zero-window allowance is not answered"
    );
}
