//! Unit tests that drive one `Tcb` directly: segments in, exact segments out, on a virtual clock.
//! Every rule a scenario goes through is also collected per thread, so that `every_rule_is_reached`
//! can run all scenarios and check that each SS/SQ/RS/SC/SY/AK/UR/TX/FN rule was reported.

use super::*;
use crate::config::RstPolicy;
use crate::wire::{SackBlock, TcpFlags, TcpOption};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::net::SocketAddr;

thread_local! {
    static SEEN: RefCell<BTreeSet<Rule>> = const { RefCell::new(BTreeSet::new()) };
    /// The RST policy of `plain()`, so that policy-independent scenarios can run under both.
    static POLICY: Cell<RstPolicy> = const { Cell::new(RstPolicy::Rfc5961) };
}

const ISS: u32 = 1000;
const PEER: u32 = 5000;

fn s(n: u32) -> SeqNumber {
    SeqNumber(n)
}

/// A plain configuration: no options beyond MSS, no delayed ACK, so segments are easy to state.
fn plain() -> Config {
    Config {
        window_scale: None,
        timestamps: false,
        sack: false,
        delayed_ack: None,
        recv_buffer: 20_000,
        send_buffer: 20_000,
        rst_policy: POLICY.with(Cell::get),
        ..Config::default()
    }
}

fn tuple_v4() -> FourTuple {
    FourTuple {
        local: "10.0.0.1:80".parse::<SocketAddr>().unwrap(),
        remote: "10.0.0.2:40000".parse::<SocketAddr>().unwrap(),
    }
}

fn tuple_v6() -> FourTuple {
    FourTuple {
        local: "[fd00::1]:80".parse::<SocketAddr>().unwrap(),
        remote: "[fd00::2]:40000".parse::<SocketAddr>().unwrap(),
    }
}

fn flags(spec: &str) -> TcpFlags {
    let mut f = TcpFlags::NONE;
    for c in spec.chars() {
        f |= match c {
            'S' => TcpFlags::SYN,
            'A' => TcpFlags::ACK,
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'P' => TcpFlags::PSH,
            'U' => TcpFlags::URG,
            'E' => TcpFlags::ECE,
            'C' => TcpFlags::CWR,
            _ => panic!("bad flag {c}"),
        };
    }
    f
}

/// A segment from the peer.
fn pkt(spec: &str, seq: u32, ack: u32) -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: s(seq),
        ack: s(ack),
        flags: flags(spec),
        reserved: 0,
        window: 10_000,
        urgent: 0,
        options: Vec::new(),
        padding: Vec::new(),
        payload: Vec::new(),
    }
}

fn with_data(mut seg: TcpRepr, data: &[u8]) -> TcpRepr {
    seg.payload = data.to_vec();
    seg
}

fn with_win(mut seg: TcpRepr, window: u16) -> TcpRepr {
    seg.window = window;
    seg
}

fn with_opts(mut seg: TcpRepr, options: Vec<TcpOption>) -> TcpRepr {
    seg.options = options;
    seg
}

/// A test bench: one TCB and a virtual clock.
struct Bench {
    tcb: Tcb,
    now: Instant,
}

impl Bench {
    fn input(&mut self, seg: TcpRepr) -> Vec<Rule> {
        self.input_sec(seg, true)
    }

    fn input_sec(&mut self, seg: TcpRepr, security_ok: bool) -> Vec<Rule> {
        self.input_ip(seg, security_ok, crate::wire::ecn::NOT_ECT)
    }

    /// A segment whose IP header carried this ECN codepoint (RFC 3168 5).
    fn input_ip(&mut self, seg: TcpRepr, security_ok: bool, ip_ecn: u8) -> Vec<Rule> {
        let rules = self
            .tcb
            .handle_segment(
                self.now,
                &Arrival {
                    tcp: &seg,
                    security_ok,
                    ecn: ip_ecn,
                },
            )
            .rules;
        SEEN.with(|seen| seen.borrow_mut().extend(rules.iter().copied()));
        rules
    }

    fn out(&mut self) -> Vec<TcpRepr> {
        let mut v = Vec::new();
        while let Some(seg) = self.tcb.poll_transmit(self.now) {
            v.push(seg);
            assert!(v.len() < 1000, "poll_transmit does not stop");
        }
        v
    }

    fn one(&mut self) -> TcpRepr {
        let mut v = self.out();
        assert_eq!(v.len(), 1, "expected exactly one segment, got {v:?}");
        v.remove(0)
    }

    fn none(&mut self) {
        let v = self.out();
        assert!(v.is_empty(), "expected nothing, got {v:?}");
    }

    fn events(&mut self) -> Vec<ConnEvent> {
        std::iter::from_fn(|| self.tcb.poll_event()).collect()
    }

    fn at(&mut self, millis: u64) {
        self.now = Instant::from_millis(millis);
    }

    /// Moves the clock to the next deadline (which must exist) and fires it.
    fn fire(&mut self) -> Instant {
        let t = self.tcb.poll_timeout().expect("a timer is armed");
        assert!(t >= self.now);
        self.now = t;
        self.tcb.handle_timeout(t);
        t
    }

    fn state(&self) -> State {
        self.tcb.state()
    }
}

#[track_caller]
fn check(seg: &TcpRepr, spec: &str, seq: u32, ack: Option<u32>) {
    assert_eq!(seg.flags, flags(spec), "flags of {seg:?}");
    assert_eq!(seg.seq, s(seq), "seq of {seg:?}");
    if let Some(ack) = ack {
        assert_eq!(seg.ack, s(ack), "ack of {seg:?}");
    }
    assert_eq!((seg.src_port, seg.dst_port), (80, 40000));
}

/// SYN-SENT with the SYN already sent.
fn syn_sent(config: &Config) -> Bench {
    let mut b = Bench {
        tcb: Tcb::connect(config, tuple_v4(), s(ISS), Instant::ZERO),
        now: Instant::ZERO,
    };
    let syn = b.one();
    check(&syn, "S", ISS, None);
    b
}

/// ESTABLISHED through an active open.
fn active(config: &Config) -> Bench {
    let mut b = syn_sent(config);
    b.at(10);
    assert_eq!(b.input(pkt("SA", PEER, ISS + 1)), vec![Rule::Ss6]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    assert_eq!(b.events(), vec![ConnEvent::Connected]);
    b
}

/// SYN-RECEIVED through a passive open, SYN-ACK sent.
fn syn_received(config: &Config) -> Bench {
    let syn = pkt("S", PEER, 0);
    let mut b = Bench {
        tcb: Tcb::accept_syn(config, tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    check(&b.one(), "SA", ISS, Some(PEER + 1));
    b
}

/// ESTABLISHED through a passive open.
fn passive(config: &Config) -> Bench {
    let mut b = syn_received(config);
    b.at(10);
    assert_eq!(
        b.input(pkt("A", PEER + 1, ISS + 1)),
        vec![Rule::Ak2, Rule::Ak4, Rule::Ak7]
    );
    assert_eq!(b.state(), State::Established);
    b.none();
    assert_eq!(b.events(), vec![ConnEvent::Connected]);
    b
}

fn rfc793() -> Config {
    Config {
        rst_policy: RstPolicy::Rfc793,
        ..plain()
    }
}

// ---------------------------------------------------------------- handshakes

#[test]
fn active_open() {
    let mut b = Bench {
        tcb: Tcb::connect(&plain(), tuple_v4(), s(ISS), Instant::ZERO),
        now: Instant::ZERO,
    };
    assert_eq!(b.state(), State::SynSent);
    let syn = b.one();
    check(&syn, "S", ISS, Some(0));
    // MUST-65/67: MSS = 1500 - 40 on the SYN only; the window in a SYN is not scaled.
    assert_eq!(syn.options, vec![TcpOption::Mss(1460)]);
    assert_eq!(syn.window, 20_000);
    b.at(10);
    let synack = with_opts(pkt("SA", PEER, ISS + 1), vec![TcpOption::Mss(1200)]);
    assert_eq!(b.input(synack), vec![Rule::Ss6]);
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 1));
    assert!(ack.options.is_empty(), "MSS only on SYN (MUST-65)");
    let info = b.tcb.info();
    assert_eq!(info.state, State::Established);
    assert_eq!(
        (info.irs, info.rcv_nxt, info.snd_una, info.snd_nxt),
        (s(PEER), s(PEER + 1), s(ISS + 1), s(ISS + 1))
    );
    assert_eq!(info.snd_mss, 1200);
    assert_eq!(info.snd_wnd, 10_000);
    // Karn allows the SYN to be timed: it was sent once.
    assert_eq!(info.srtt, Some(Duration::from_millis(10)));
    assert_eq!(b.tcb.poll_timeout(), None);
}

#[test]
fn passive_open() {
    let config = plain();
    let syn = with_opts(pkt("S", PEER, 0), vec![TcpOption::Mss(1000)]);
    let mut b = Bench {
        tcb: Tcb::accept_syn(&config, tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    assert!(b.tcb.is_passive());
    assert_eq!(b.state(), State::SynReceived);
    let synack = b.one();
    check(&synack, "SA", ISS, Some(PEER + 1));
    assert_eq!(synack.options, vec![TcpOption::Mss(1460)]);
    b.at(5);
    assert_eq!(
        b.input(pkt("A", PEER + 1, ISS + 1)),
        vec![Rule::Ak2, Rule::Ak4, Rule::Ak7]
    );
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.tcb.info().snd_mss, 1000);
    assert_eq!(b.events(), vec![ConnEvent::Connected]);
}

#[test]
fn ipv6_defaults() {
    // MUST-15: 1220 without an MSS option over IPv6; our MSS is mtu - 60.
    let syn = pkt("S", PEER, 0);
    let mut tcb = Tcb::accept_syn(&plain(), tuple_v6(), s(ISS), &syn, Instant::ZERO);
    let synack = tcb.poll_transmit(Instant::ZERO).unwrap();
    assert_eq!(synack.options, vec![TcpOption::Mss(1440)]);
    assert_eq!(tcb.info().snd_mss, 1220);
    let mut tcb4 = Tcb::accept_syn(&plain(), tuple_v4(), s(ISS), &syn, Instant::ZERO);
    assert!(tcb4.poll_transmit(Instant::ZERO).is_some());
    assert_eq!(tcb4.info().snd_mss, 536);
}

#[test]
fn syn_text_and_fin_wait_for_established() {
    // LI-4 / 3.10.7.2: data and FIN on the SYN are processed after ESTABLISHED.
    let syn = with_data(pkt("SF", PEER, 0), b"hi");
    let mut b = Bench {
        tcb: Tcb::accept_syn(&plain(), tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    check(&b.one(), "SA", ISS, Some(PEER + 1));
    assert_eq!(b.tcb.info().recv_queue, 0);
    let rules = b.input(pkt("A", PEER + 1, ISS + 1));
    assert_eq!(rules, vec![Rule::Ak2, Rule::Ak4, Rule::Ak7, Rule::Fn1]);
    assert_eq!(b.state(), State::CloseWait);
    check(&b.one(), "A", ISS + 1, Some(PEER + 4));
    let mut buf = [0u8; 8];
    assert_eq!(b.tcb.recv(&mut buf), Ok(2));
    assert_eq!(&buf[..2], b"hi");
    assert_eq!(b.tcb.recv(&mut buf), Ok(0));
}

#[test]
fn simultaneous_open() {
    let mut b = syn_sent(&plain());
    b.at(5);
    // SS-7 (MUST-10): SYN without ACK: SYN-RECEIVED, SYN-ACK <SEQ=ISS><ACK=RCV.NXT>.
    assert_eq!(b.input(pkt("S", PEER, 0)), vec![Rule::Ss7]);
    assert_eq!(b.state(), State::SynReceived);
    check(&b.one(), "SA", ISS, Some(PEER + 1));
    // Figure 7: the peer's SYN-ACK repeats its SYN at SEG.SEQ = IRS; the SYN is trimmed and
    // the ACK completes the open. Nothing more to send.
    assert_eq!(
        b.input(pkt("SA", PEER, ISS + 1)),
        vec![Rule::Ak2, Rule::Ak4, Rule::Ak7]
    );
    b.none();
    assert_eq!(b.state(), State::Established);
    assert!(!b.tcb.is_passive());
    assert_eq!(b.events(), vec![ConnEvent::Connected]);
    // Karn: the SYN was repeated in the SYN-ACK, no sample.
    assert_eq!(b.tcb.info().srtt, None);
}

// ---------------------------------------------------------------- SYN-SENT rules

#[test]
fn syn_sent_rules() {
    let mut b = syn_sent(&plain());
    // SS-1: unacceptable ACK -> <SEQ=SEG.ACK><CTL=RST>.
    assert_eq!(b.input(pkt("A", PEER, ISS + 7)), vec![Rule::Ss1]);
    let rst = b.one();
    check(&rst, "R", ISS + 7, None);
    // SS-1 also for SEG.ACK = ISS.
    assert_eq!(b.input(pkt("SA", PEER, ISS)), vec![Rule::Ss1]);
    check(&b.one(), "R", ISS, None);
    // SS-2: unacceptable ACK with RST: drop.
    assert_eq!(b.input(pkt("RA", PEER, ISS + 7)), vec![Rule::Ss2]);
    // SS-4: RST without ACK: drop.
    assert_eq!(b.input(pkt("R", PEER, 0)), vec![Rule::Ss4]);
    // SS-5: security mismatch: reset by the ACK bit, drop.
    assert_eq!(
        b.input_sec(pkt("SA", PEER, ISS + 1), false),
        vec![Rule::Ss5]
    );
    check(&b.one(), "R", ISS + 1, None);
    assert_eq!(b.input_sec(pkt("S", PEER, 0), false), vec![Rule::Ss5]);
    check(&b.one(), "RA", 0, Some(PEER + 1));
    // SS-8: neither SYN nor RST; a FIN is not processed (FN-0).
    assert_eq!(b.input(pkt("A", PEER, ISS + 1)), vec![Rule::Ss8]);
    assert_eq!(
        b.input(pkt("FA", PEER, ISS + 1)),
        vec![Rule::Ss8, Rule::Fn0]
    );
    b.none();
    assert_eq!(b.state(), State::SynSent);
    // SS-3: RST with acceptable ACK: "connection refused".
    assert_eq!(b.input(pkt("RA", 0, ISS + 1)), vec![Rule::Ss3]);
    assert!(b.tcb.is_closed());
    assert_eq!(b.events(), vec![ConnEvent::Refused]);
    assert_eq!(b.tcb.send(b.now, b"x"), Err(ConnError::Refused));
    b.none();
}

#[test]
fn syn_ack_with_data_and_fin() {
    // SS-6 continues at the sixth step: text and FIN of the SYN-ACK are processed.
    let mut b = syn_sent(&plain());
    let rules = b.input(with_data(pkt("SAF", PEER, ISS + 1), b"abc"));
    assert_eq!(rules, vec![Rule::Ss6, Rule::Tx1, Rule::Fn1]);
    assert_eq!(b.state(), State::CloseWait);
    check(&b.one(), "A", ISS + 1, Some(PEER + 5));
}

// ---------------------------------------------------------------- closes

#[test]
fn active_close_then_time_wait_expiry() {
    let config = plain();
    let mut b = active(&config);
    b.tcb.close(b.now).unwrap();
    assert_eq!(b.state(), State::FinWait1);
    check(&b.one(), "FA", ISS + 1, Some(PEER + 1));
    assert_eq!(
        b.input(pkt("A", PEER + 1, ISS + 2)),
        vec![Rule::Ak4, Rule::Ak7, Rule::Ak8]
    );
    assert_eq!(b.state(), State::FinWait2);
    // AK-9: in FIN-WAIT-2 an ACK finds the retransmission queue empty.
    assert_eq!(
        b.input(pkt("A", PEER + 1, ISS + 2)),
        vec![Rule::Ak5, Rule::Ak7, Rule::Ak9]
    );
    b.at(1000);
    assert_eq!(
        b.input(pkt("FA", PEER + 1, ISS + 2)),
        vec![Rule::Ak5, Rule::Ak7, Rule::Ak9, Rule::Fn4]
    );
    assert_eq!(b.state(), State::TimeWait);
    check(&b.one(), "A", ISS + 2, Some(PEER + 2));
    // MUST-13: 2 MSL.
    assert_eq!(
        b.tcb.poll_timeout(),
        Some(Instant::from_millis(1000) + config.msl * 2)
    );
    b.fire();
    assert!(b.tcb.is_closed());
    assert_eq!(b.state(), State::Closed);
    assert!(b.events().contains(&ConnEvent::Closed));
}

#[test]
fn fin_ack_together_in_fin_wait_1() {
    let mut b = active(&plain());
    b.tcb.close(b.now).unwrap();
    check(&b.one(), "FA", ISS + 1, None);
    // FN-2: the FIN arrives with the ACK of ours.
    let rules = b.input(pkt("FA", PEER + 1, ISS + 2));
    assert_eq!(rules, vec![Rule::Ak4, Rule::Ak7, Rule::Ak8, Rule::Fn2]);
    assert_eq!(b.state(), State::TimeWait);
    check(&b.one(), "A", ISS + 2, Some(PEER + 2));
}

#[test]
fn time_wait_restarts_on_retransmitted_fin() {
    let config = plain();
    let mut b = active(&config);
    b.tcb.close(b.now).unwrap();
    b.one();
    b.input(pkt("FA", PEER + 1, ISS + 2));
    b.one();
    b.at(60_000);
    // AK-12 and FN-6: ACK it, restart 2 MSL.
    assert_eq!(
        b.input(pkt("FA", PEER + 1, ISS + 2)),
        vec![Rule::Ak12, Rule::Fn6]
    );
    check(&b.one(), "A", ISS + 2, Some(PEER + 2));
    assert_eq!(
        b.tcb.poll_timeout(),
        Some(Instant::from_millis(60_000) + config.msl * 2)
    );
    // A pure ACK in TIME-WAIT is dropped silently.
    assert_eq!(b.input(pkt("A", PEER + 2, ISS + 2)), vec![]);
    b.none();
    // RS-5: an exact RST deletes the TCB.
    assert_eq!(b.input(pkt("R", PEER + 2, 0)), vec![Rule::Rs5]);
    assert!(b.tcb.is_closed());
}

#[test]
fn passive_close() {
    let mut b = passive(&plain());
    // FN-1: CLOSE-WAIT, ACK the FIN, "connection closing".
    assert_eq!(
        b.input(pkt("FA", PEER + 1, ISS + 1)),
        vec![Rule::Ak5, Rule::Ak7, Rule::Fn1]
    );
    assert_eq!(b.state(), State::CloseWait);
    check(&b.one(), "A", ISS + 1, Some(PEER + 2));
    assert_eq!(b.events(), vec![ConnEvent::PeerClosed]);
    let mut buf = [0u8; 4];
    assert_eq!(b.tcb.recv(&mut buf), Ok(0));
    // FN-5: a retransmitted FIN is ACKed again; text after the FIN is ignored (TX-2), URG too.
    assert_eq!(
        b.input(pkt("FA", PEER + 1, ISS + 1)),
        vec![Rule::Ak5, Rule::Ak7, Rule::Fn5]
    );
    check(&b.one(), "A", ISS + 1, Some(PEER + 2));
    let mut urg = with_data(pkt("UA", PEER + 2, ISS + 1), b"late");
    urg.urgent = 1;
    assert_eq!(
        b.input(urg),
        vec![Rule::Ak5, Rule::Ak7, Rule::Ur2, Rule::Tx2]
    );
    // Data can still be sent in CLOSE-WAIT.
    assert_eq!(b.tcb.send(b.now, b"bye"), Ok(3));
    check(&b.one(), "PA", ISS + 1, Some(PEER + 2));
    b.tcb.close(b.now).unwrap();
    assert_eq!(b.state(), State::LastAck);
    check(&b.one(), "FA", ISS + 4, Some(PEER + 2));
    // FN-5 in LAST-ACK, then AK-11.
    assert_eq!(
        b.input(pkt("FA", PEER + 1, ISS + 4)),
        vec![Rule::Ak4, Rule::Fn5]
    );
    b.one();
    assert_eq!(
        b.input(pkt("A", PEER + 2, ISS + 5)),
        vec![Rule::Ak4, Rule::Ak7, Rule::Ak11]
    );
    assert!(b.tcb.is_closed());
    assert!(b.events().contains(&ConnEvent::Closed));
}

#[test]
fn simultaneous_close() {
    let mut b = active(&plain());
    b.tcb.close(b.now).unwrap();
    check(&b.one(), "FA", ISS + 1, None);
    // FN-3: the peer's FIN does not ACK ours: CLOSING.
    assert_eq!(
        b.input(pkt("FA", PEER + 1, ISS + 1)),
        vec![Rule::Ak5, Rule::Ak7, Rule::Fn3]
    );
    assert_eq!(b.state(), State::Closing);
    check(&b.one(), "A", ISS + 2, Some(PEER + 2));
    // FN-5 in CLOSING.
    assert_eq!(
        b.input(pkt("FA", PEER + 1, ISS + 1)),
        vec![Rule::Ak5, Rule::Ak7, Rule::Fn5]
    );
    b.one();
    // AK-10: TIME-WAIT.
    assert_eq!(
        b.input(pkt("A", PEER + 2, ISS + 2)),
        vec![Rule::Ak4, Rule::Ak7, Rule::Ak10]
    );
    assert_eq!(b.state(), State::TimeWait);
}

#[test]
fn half_close_keeps_receiving() {
    let mut b = active(&plain());
    b.tcb.shutdown_write(b.now).unwrap();
    assert_eq!(b.tcb.send(b.now, b"x"), Err(ConnError::Closing));
    check(&b.one(), "FA", ISS + 1, None);
    b.input(pkt("A", PEER + 1, ISS + 2));
    assert_eq!(b.state(), State::FinWait2);
    // TX-1 in FIN-WAIT-2.
    let rules = b.input(with_data(pkt("PA", PEER + 1, ISS + 2), b"more"));
    assert_eq!(rules, vec![Rule::Ak5, Rule::Ak7, Rule::Ak9, Rule::Tx1]);
    check(&b.one(), "A", ISS + 2, Some(PEER + 5));
    let mut buf = [0u8; 8];
    assert_eq!(b.tcb.recv(&mut buf), Ok(4));
    assert_eq!(&buf[..4], b"more");
    assert_eq!(b.tcb.recv(&mut buf), Err(ConnError::WouldBlock));
}

#[test]
fn retransmitted_syn_ack_in_established_is_acked() {
    // Our ACK of the SYN-ACK was lost: the repeat is unacceptable (SQ-1) and draws the ACK.
    let mut b = active(&plain());
    assert_eq!(b.input(pkt("SA", PEER, ISS + 1)), vec![Rule::Sq1]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    assert_eq!(b.state(), State::Established);
}

#[test]
fn close_in_syn_received_sends_fin_at_once() {
    // 3.10.4 SYN-RECEIVED, nothing queued: FIN, FIN-WAIT-1.
    let mut b = syn_received(&plain());
    b.tcb.close(b.now).unwrap();
    assert_eq!(b.state(), State::FinWait1);
    check(&b.one(), "FA", ISS + 1, Some(PEER + 1));
    // The SYN-ACK is what times out first.
    b.fire();
    check(&b.one(), "SA", ISS, Some(PEER + 1));
    // The ACK of SYN and FIN: AK-2 (the handshake completes), then AK-8.
    let rules = b.input(pkt("A", PEER + 1, ISS + 2));
    assert_eq!(rules, vec![Rule::Ak2, Rule::Ak4, Rule::Ak7, Rule::Ak8]);
    assert_eq!(b.state(), State::FinWait2);
    assert_eq!(b.events(), vec![ConnEvent::Connected]);
}

#[test]
fn close_refused_once_closing() {
    let mut b = passive(&plain());
    b.input(pkt("FA", PEER + 1, ISS + 1));
    b.tcb.close(b.now).unwrap();
    b.out();
    assert_eq!(b.state(), State::LastAck);
    assert_eq!(b.tcb.close(b.now), Err(ConnError::Closing));
    b.none();
    let mut b = active(&plain());
    b.tcb.shutdown_write(b.now).unwrap();
    b.one();
    // FIN-WAIT-1: "ok", no second FIN.
    assert_eq!(b.tcb.close(b.now), Ok(()));
    assert_eq!(b.tcb.close(b.now), Ok(()));
    b.none();
    // After a half-close the first CLOSE is "ok" even in TIME-WAIT (it only gives up RECEIVE).
    b.input(pkt("FA", PEER + 1, ISS + 2));
    let mut b2 = active(&plain());
    b2.tcb.shutdown_write(b2.now).unwrap();
    b2.one();
    b2.input(pkt("FA", PEER + 1, ISS + 2));
    assert_eq!(b2.state(), State::TimeWait);
    assert_eq!(b2.tcb.close(b2.now), Ok(()));
    assert_eq!(b2.tcb.close(b2.now), Err(ConnError::Closing));
}

#[test]
fn repeated_syn_in_syn_received() {
    // The peer's SYN again (SEG.SEQ = IRS = RCV.NXT - 1): unacceptable, SQ-1 <SEQ=SND.NXT>
    // <ACK=RCV.NXT><CTL=ACK>; the SYN-ACK itself is resent by its timer.
    let mut b = syn_received(&plain());
    assert_eq!(b.input(pkt("S", PEER, 0)), vec![Rule::Sq1]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    assert_eq!(b.state(), State::SynReceived);
    assert!(!b.tcb.returned_to_listen());
}

#[test]
fn syn_received_gives_up_at_r2_syn() {
    let config = Config {
        r2_syn: Duration::from_secs(5),
        ..plain()
    };
    let mut b = syn_received(&config);
    let mut synacks = 0;
    while !b.tcb.is_closed() {
        b.fire();
        for seg in b.out() {
            if seg.flags == flags("SA") {
                synacks += 1;
            } else {
                // SYN-RECEIVED counts as synchronized: <SEQ=SND.NXT><CTL=RST>.
                check(&seg, "R", ISS + 1, None);
            }
        }
    }
    assert_eq!(synacks, 2);
    assert_eq!(b.events(), vec![ConnEvent::TimedOut]);
}

#[test]
fn close_in_syn_sent_deletes() {
    let mut b = syn_sent(&plain());
    b.tcb.close(b.now).unwrap();
    assert!(b.tcb.is_closed());
    b.none();
}

#[test]
fn close_before_established_sends_fin_after() {
    let mut b = syn_received(&plain());
    b.tcb.send(b.now, b"data").unwrap();
    b.tcb.close(b.now).unwrap();
    b.none();
    b.input(pkt("A", PEER + 1, ISS + 1));
    assert_eq!(b.state(), State::FinWait1);
    check(&b.one(), "FPA", ISS + 1, Some(PEER + 1));
}

// ---------------------------------------------------------------- RST, SYN, security

#[test]
fn rst_rules_rfc5961() {
    let mut b = active(&plain());
    // RS-1: in window but not exact: challenge ACK.
    assert_eq!(b.input(pkt("R", PEER + 100, 0)), vec![Rule::Rs1]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    // SQ-2: out of window: drop silently.
    assert_eq!(b.input(pkt("R", PEER + 1_000_000, 0)), vec![Rule::Sq2]);
    b.none();
    assert_eq!(b.state(), State::Established);
    // RS-4: exact RST.
    assert_eq!(b.input(pkt("R", PEER + 1, 0)), vec![Rule::Rs4]);
    assert!(b.tcb.is_closed());
    assert_eq!(b.events(), vec![ConnEvent::Reset]);
    let mut buf = [0u8; 1];
    assert_eq!(b.tcb.recv(&mut buf), Err(ConnError::Reset));
}

#[test]
fn rst_rules_rfc793() {
    let mut b = active(&rfc793());
    // RS-4: any in-window RST resets.
    assert_eq!(b.input(pkt("R", PEER + 100, 0)), vec![Rule::Rs4]);
    assert!(b.tcb.is_closed());
    b.none();
}

#[test]
fn rst_in_syn_received() {
    for config in [plain(), rfc793()] {
        // RS-2: passive OPEN back to LISTEN.
        let mut b = syn_received(&config);
        assert_eq!(b.input(pkt("R", PEER + 1, 0)), vec![Rule::Rs2]);
        assert!(b.tcb.returned_to_listen());
        assert_eq!(b.state(), State::Listen);
        b.none();
        assert_eq!(b.tcb.poll_timeout(), None);
        // RS-3: active OPEN (simultaneous open): "connection refused".
        let mut b = syn_sent(&config);
        b.input(pkt("S", PEER, 0));
        b.one();
        assert_eq!(b.input(pkt("R", PEER + 1, 0)), vec![Rule::Rs3]);
        assert!(b.tcb.is_closed());
        assert_eq!(b.events(), vec![ConnEvent::Refused]);
    }
    // RS-1 in SYN-RECEIVED with RFC 5961.
    let mut b = syn_received(&plain());
    assert_eq!(b.input(pkt("R", PEER + 5, 0)), vec![Rule::Rs1]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
}

#[test]
fn rst_in_last_ack() {
    let mut b = passive(&plain());
    b.input(pkt("FA", PEER + 1, ISS + 1));
    b.tcb.close(b.now).unwrap();
    b.out();
    assert_eq!(b.state(), State::LastAck);
    assert_eq!(b.input(pkt("R", PEER + 2, 0)), vec![Rule::Rs5]);
    assert!(b.tcb.is_closed());
}

#[test]
fn syn_rules() {
    // SY-1: passive SYN-RECEIVED returns to LISTEN on an in-window SYN.
    let mut b = syn_received(&plain());
    assert_eq!(b.input(pkt("S", PEER + 1, 0)), vec![Rule::Sy1]);
    assert!(b.tcb.returned_to_listen());
    // SY-2 (RFC 5961): challenge ACK, stay.
    let mut b = active(&plain());
    assert_eq!(b.input(pkt("S", PEER + 1, 0)), vec![Rule::Sy2]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    assert_eq!(b.state(), State::Established);
    // SY-2 in TIME-WAIT when reuse is off.
    let config = Config {
        time_wait_reuse: false,
        ..plain()
    };
    let mut b = active(&config);
    b.tcb.close(b.now).unwrap();
    b.one();
    b.input(pkt("FA", PEER + 1, ISS + 2));
    b.one();
    assert_eq!(b.input(pkt("S", PEER + 2, 0)), vec![Rule::Sy2]);
    check(&b.one(), "A", ISS + 2, Some(PEER + 2));
    // SY-3 (RFC 793): an in-window SYN resets.
    let mut b = active(&rfc793());
    assert_eq!(b.input(pkt("S", PEER + 1, 0)), vec![Rule::Sy3]);
    check(&b.one(), "RA", 0, Some(PEER + 2));
    assert!(b.tcb.is_closed());
    assert_eq!(b.events(), vec![ConnEvent::Reset]);
}

#[test]
fn time_wait_syn_opens_new_incarnation() {
    let mut b = active(&plain());
    b.tcb.close(b.now).unwrap();
    b.one();
    b.input(pkt("FA", PEER + 1, ISS + 2));
    b.one();
    // SQ-5 (MAY-2, RFC 6191): higher sequence number: new incarnation.
    assert_eq!(b.input(pkt("S", PEER + 10_000, 0)), vec![Rule::Sq5]);
    assert!(b.tcb.take_time_wait_syn());
    assert!(!b.tcb.take_time_wait_syn());
    assert!(b.tcb.is_closed());
    b.none();
}

#[test]
fn security_rules() {
    // SC-1: SYN-RECEIVED: reset, stay.
    let mut b = syn_received(&plain());
    assert_eq!(
        b.input_sec(pkt("A", PEER + 1, ISS + 1), false),
        vec![Rule::Sc1]
    );
    check(&b.one(), "R", ISS + 1, None);
    assert_eq!(b.state(), State::SynReceived);
    // SC-2: ESTABLISHED: reset, "connection reset", CLOSED.
    let mut b = active(&plain());
    assert_eq!(
        b.input_sec(pkt("A", PEER + 1, ISS + 1), false),
        vec![Rule::Sc2]
    );
    check(&b.one(), "R", ISS + 1, None);
    assert!(b.tcb.is_closed());
    assert_eq!(b.events(), vec![ConnEvent::Reset]);
}

// ---------------------------------------------------------------- sequence and ACK checks

#[test]
fn sequence_rules() {
    let mut b = active(&plain());
    // SQ-1: entirely old data: ACK, drop.
    assert_eq!(
        b.input(with_data(pkt("A", PEER - 10, ISS + 1), b"old")),
        vec![Rule::Sq1]
    );
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    // Beyond the window: SQ-1 too.
    assert_eq!(
        b.input(with_data(pkt("A", PEER + 30_000, ISS + 1), b"far")),
        vec![Rule::Sq1]
    );
    b.one();
    // A segment that straddles RCV.NXT is trimmed.
    let rules = b.input(with_data(pkt("A", PEER, ISS + 1), b"xab"));
    assert_eq!(rules, vec![Rule::Ak5, Rule::Ak7, Rule::Tx1]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 3));
    let mut buf = [0u8; 8];
    assert_eq!(b.tcb.recv(&mut buf), Ok(2));
    assert_eq!(&buf[..2], b"ab");
}

#[test]
fn out_of_order_then_fill() {
    let config = Config {
        sack: true,
        ..plain()
    };
    let syn = with_opts(pkt("S", PEER, 0), vec![TcpOption::SackPermitted]);
    let mut b = Bench {
        tcb: Tcb::accept_syn(&config, tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    let synack = b.one();
    assert!(synack.options.contains(&TcpOption::SackPermitted));
    b.input(pkt("A", PEER + 1, ISS + 1));
    assert!(b.tcb.info().sack);
    // SQ-4: held out of order, ACKed at once (MAY-13) with a SACK block (RFC 2018).
    let rules = b.input(with_data(pkt("A", PEER + 11, ISS + 1), b"0123456789"));
    assert_eq!(rules, vec![Rule::Sq4, Rule::Ak5, Rule::Ak7]);
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 1));
    assert!(ack.options.contains(&TcpOption::Sack(vec![SackBlock {
        left: s(PEER + 11),
        right: s(PEER + 21)
    }])));
    assert_eq!(b.tcb.info().ooo_queue, 10);
    // The gap fills: RCV.NXT jumps over both, ACK at once.
    // SEG.SEQ is below SND.WL1 (set by the out-of-order segment): no window update (AK-7).
    let rules = b.input(with_data(pkt("A", PEER + 1, ISS + 1), b"abcdefghij"));
    assert_eq!(rules, vec![Rule::Ak5, Rule::Tx1]);
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 21));
    assert!(ack.options.is_empty());
    let mut buf = [0u8; 32];
    assert_eq!(b.tcb.recv(&mut buf), Ok(20));
    assert_eq!(&buf[..20], b"abcdefghij0123456789");
}

/// ESTABLISHED through a passive open with SACK negotiated (RFC 2018), no timestamps.
fn passive_sack() -> Bench {
    let config = Config {
        sack: true,
        ..plain()
    };
    let syn = with_opts(pkt("S", PEER, 0), vec![TcpOption::SackPermitted]);
    let mut b = Bench {
        tcb: Tcb::accept_syn(&config, tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    b.one();
    b.input(pkt("A", PEER + 1, ISS + 1));
    assert!(b.tcb.info().sack);
    b
}

fn sack_of(seg: &TcpRepr) -> Vec<(u32, u32)> {
    seg.options
        .iter()
        .find_map(|o| match o {
            TcpOption::Sack(blocks) => Some(blocks.iter().map(|b| (b.left.0, b.right.0)).collect()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn dsack_reports_a_duplicate_below_rcv_nxt() {
    // RFC 2883 4: the first SACK block of the ACK a duplicate draws names the duplicate octets
    // (4.1.1: the ACK of the original was lost and the segment is resent).
    let mut b = passive_sack();
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), &[7; 100]));
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 101));
    assert!(sack_of(&ack).is_empty());
    let rules = b.input(with_data(pkt("A", PEER + 1, ISS + 1), &[7; 100]));
    assert_eq!(rules, vec![Rule::Sq1]);
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 101));
    assert_eq!(sack_of(&ack), vec![(PEER + 1, PEER + 101)]);
    // RFC 2883 4 (2): reported once; the next ACK has no D-SACK block.
    b.input(pkt("A", PEER + 101, ISS + 1));
    b.none();
    b.input(with_data(pkt("A", PEER + 101, ISS + 1), &[7; 10]));
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 111));
    assert!(sack_of(&ack).is_empty());
    // Only the old part of a segment that straddles RCV.NXT is a duplicate; it is ACKed at
    // once (no delayed ACK in `plain()` anyway).
    b.input(with_data(pkt("A", PEER + 61, ISS + 1), &[7; 100]));
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 161));
    assert_eq!(sack_of(&ack), vec![(PEER + 61, PEER + 111)]);
}

#[test]
fn dsack_then_the_blocks_held_out_of_order() {
    // RFC 2883 4 (4): a duplicate of octets held out of order: the D-SACK block first, then the
    // block that holds them; a duplicate below RCV.NXT is followed by the RFC 2018 blocks.
    let mut b = passive_sack();
    b.input(with_data(pkt("A", PEER + 101, ISS + 1), &[7; 100]));
    assert_eq!(sack_of(&b.one()), vec![(PEER + 101, PEER + 201)]);
    b.input(with_data(pkt("A", PEER + 201, ISS + 1), &[7; 100]));
    assert_eq!(sack_of(&b.one()), vec![(PEER + 101, PEER + 301)]);
    b.input(with_data(pkt("A", PEER + 201, ISS + 1), &[7; 100]));
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 1));
    assert_eq!(
        sack_of(&ack),
        vec![(PEER + 201, PEER + 301), (PEER + 101, PEER + 301)]
    );
    // Fill 1..51 and then resend it: duplicate below RCV.NXT, the held block after it.
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), &[7; 50]));
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 51));
    assert_eq!(sack_of(&ack), vec![(PEER + 101, PEER + 301)]);
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), &[7; 50]));
    assert_eq!(
        sack_of(&b.one()),
        vec![(PEER + 1, PEER + 51), (PEER + 101, PEER + 301)]
    );
}

#[test]
fn no_dsack_without_sack() {
    // RFC 2883 2: D-SACK is a use of the SACK option; without SACK negotiated, none is sent.
    let mut b = passive(&plain());
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), &[7; 100]));
    b.one();
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), &[7; 100]));
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 101));
    assert!(ack.options.is_empty());
}

#[test]
fn out_of_order_fin_waits_for_the_gap() {
    let mut b = active(&plain());
    let rules = b.input(with_data(pkt("FA", PEER + 4, ISS + 1), b"def"));
    assert_eq!(rules, vec![Rule::Sq4, Rule::Ak5, Rule::Ak7]);
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    assert_eq!(b.state(), State::Established);
    let rules = b.input(with_data(pkt("A", PEER + 1, ISS + 1), b"abc"));
    assert_eq!(rules, vec![Rule::Ak5, Rule::Tx1, Rule::Fn1]);
    assert_eq!(b.state(), State::CloseWait);
    check(&b.one(), "A", ISS + 1, Some(PEER + 8));
}

#[test]
fn zero_receive_window() {
    let config = Config {
        recv_buffer: 100,
        ..plain()
    };
    let mut b = active(&config);
    assert_eq!(b.tcb.info().rcv_wnd, 100);
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), &[7u8; 100]));
    let ack = b.one();
    check(&ack, "A", ISS + 1, Some(PEER + 101));
    assert_eq!(ack.window, 0);
    // SQ-3: RCV.WND = 0: the text is not accepted but the ACK is processed; ACK sent.
    b.tcb.send(b.now, b"q").unwrap();
    check(&b.one(), "PA", ISS + 1, None);
    let rules = b.input(with_data(pkt("A", PEER + 101, ISS + 2), b"z"));
    assert_eq!(rules, vec![Rule::Sq3, Rule::Ak4, Rule::Ak7]);
    let ack = b.one();
    check(&ack, "A", ISS + 2, Some(PEER + 101));
    assert_eq!(ack.window, 0);
    assert_eq!(b.tcb.info().send_queue, 0);
    // MUST-39: reading a little does not open the window; reading half the buffer does.
    let mut buf = [0u8; 10];
    assert_eq!(b.tcb.recv(&mut buf), Ok(10));
    b.none();
    let mut buf = [0u8; 50];
    assert_eq!(b.tcb.recv(&mut buf), Ok(50));
    let update = b.one();
    check(&update, "A", ISS + 2, Some(PEER + 101));
    assert_eq!(update.window, 60);
}

#[test]
fn ack_rules() {
    let mut b = active(&plain());
    // AK-0: no ACK bit: drop.
    assert_eq!(
        b.input(with_data(pkt("P", PEER + 1, 0), b"x")),
        vec![Rule::Ak0]
    );
    b.none();
    // AK-1 (RFC 5961): SEG.ACK far below SND.UNA - MAX.SND.WND, or above SND.NXT.
    assert_eq!(
        b.input(pkt("A", PEER + 1, ISS.wrapping_sub(100_000))),
        vec![Rule::Ak1]
    );
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    assert_eq!(b.input(pkt("A", PEER + 1, ISS + 50)), vec![Rule::Ak1]);
    b.one();
    // A window update needs WL1/WL2 progress (AK-7): an older SEG.SEQ does not update.
    assert_eq!(
        b.input(with_win(pkt("A", PEER + 1, ISS + 1), 500)),
        vec![Rule::Ak5, Rule::Ak7]
    );
    assert_eq!(b.tcb.info().snd_wnd, 500);

    let mut b = active(&rfc793());
    // AK-6: ACK of unsent data: ACK, drop.
    assert_eq!(
        b.input(with_data(pkt("A", PEER + 1, ISS + 50), b"x")),
        vec![Rule::Ak6]
    );
    check(&b.one(), "A", ISS + 1, Some(PEER + 1));
    assert_eq!(b.tcb.info().recv_queue, 0);
    // AK-5: an old ACK (RFC 793 accepts any ACK up to SND.NXT).
    assert_eq!(
        b.input(pkt("A", PEER + 1, ISS.wrapping_sub(100_000))),
        vec![Rule::Ak5]
    );

    // AK-3: unacceptable ACK in SYN-RECEIVED: <SEQ=SEG.ACK><CTL=RST>.
    for config in [plain(), rfc793()] {
        let mut b = syn_received(&config);
        assert_eq!(b.input(pkt("A", PEER + 1, ISS)), vec![Rule::Ak3]);
        check(&b.one(), "R", ISS, None);
        assert_eq!(b.state(), State::SynReceived);
    }
    let mut b = syn_received(&rfc793());
    assert_eq!(b.input(pkt("A", PEER + 1, ISS + 9)), vec![Rule::Ak3]);
    check(&b.one(), "R", ISS + 9, None);
    // AK-0 in SYN-RECEIVED.
    assert_eq!(b.input(pkt("", PEER + 1, 0)), vec![Rule::Ak0]);
}

#[test]
fn ack_bit_off_is_dropped() {
    // AK-0 in ESTABLISHED and SYN-RECEIVED: no ACK bit: drop, nothing sent.
    let mut b = passive(&plain());
    assert_eq!(
        b.input(with_data(pkt("P", PEER + 1, 0), b"x")),
        vec![Rule::Ak0]
    );
    b.none();
    assert_eq!(b.tcb.info().recv_queue, 0);
    let mut b = syn_received(&plain());
    assert_eq!(b.input(pkt("F", PEER + 1, 0)), vec![Rule::Ak0]);
    b.none();
    assert_eq!(b.state(), State::SynReceived);
}

#[test]
fn urgent_pointer() {
    let mut b = active(&plain());
    let mut seg = with_data(pkt("UA", PEER + 1, ISS + 1), b"abcd");
    seg.urgent = 3;
    assert_eq!(
        b.input(seg.clone()),
        vec![Rule::Ak5, Rule::Ak7, Rule::Ur1, Rule::Tx1]
    );
    assert_eq!(b.events(), vec![ConnEvent::Urgent, ConnEvent::Readable]);
    // MUST-62: RCV.UP = SEG.SEQ + SEG.UP; a repeat does not signal again.
    assert_eq!(b.tcb.rcv_up, Some(s(PEER + 4)));
    // MUST-33: three urgent octets are waiting to be read.
    assert_eq!(b.tcb.urgent_remaining(), 3);
    let mut buf = [0u8; 2];
    assert_eq!(b.tcb.recv(&mut buf), Ok(2));
    assert_eq!(b.tcb.urgent_remaining(), 1);
    seg.payload.clear();
    b.input(seg.clone());
    assert!(!b.events().contains(&ConnEvent::Urgent));
    // The pointer advances: signalled again.
    seg.seq = s(PEER + 5);
    seg.payload = b"e".to_vec();
    b.input(seg);
    assert_eq!(b.events(), vec![ConnEvent::Urgent, ConnEvent::Readable]);
    assert_eq!(b.tcb.urgent_remaining(), 5);
}

// ---------------------------------------------------------------- output

#[test]
fn segmentation_and_psh() {
    let config = Config {
        nagle: false,
        ..plain()
    };
    let mut b = active(&config);
    let data = vec![1u8; 3000];
    assert_eq!(b.tcb.send(b.now, &data), Ok(3000));
    let out = b.out();
    // MSS defaults to 536 without an option in the SYN-ACK; peer window 10000, IW 4*536.
    let lens: Vec<usize> = out.iter().map(|s| s.payload.len()).collect();
    assert_eq!(lens, vec![536, 536, 536, 536]);
    assert!(out.iter().all(|s| s.flags == flags("A")));
    assert_eq!(out[3].seq, s(ISS + 1 + 3 * 536));
    // cwnd grows in slow start as ACKs arrive.
    b.input(pkt("A", PEER + 1, ISS + 1 + 2 * 536));
    let out = b.out();
    let lens: Vec<usize> = out.iter().map(|s| s.payload.len()).collect();
    assert_eq!(lens, vec![536, 320]);
    assert_eq!(
        out[1].flags,
        flags("PA"),
        "PSH on the last segment of the write"
    );
    assert_eq!(b.tcb.cwnd(), 5 * 536);
}

#[test]
fn nagle_on_and_off() {
    let mut b = active(&plain());
    b.tcb.send(b.now, b"aaaaaaaaaa").unwrap();
    check(&b.one(), "PA", ISS + 1, None);
    b.tcb.send(b.now, b"bbbbbbbbbb").unwrap();
    // Nagle: small data waits while data is unacknowledged.
    b.none();
    b.input(pkt("A", PEER + 1, ISS + 11));
    let seg = b.one();
    check(&seg, "PA", ISS + 11, None);
    assert_eq!(seg.payload, b"bbbbbbbbbb");

    let mut b = active(&plain());
    b.tcb.set_nagle(false);
    b.tcb.send(b.now, b"aaaaaaaaaa").unwrap();
    b.one();
    b.tcb.send(b.now, b"bbbbbbbbbb").unwrap();
    check(&b.one(), "PA", ISS + 11, None);
}

#[test]
fn sender_sws_avoidance() {
    // MUST-38: with a small offered window and nothing in flight, a small segment waits for the
    // override timer; a segment of half the largest window seen goes at once.
    let mut b = active(&plain());
    b.input(with_win(pkt("A", PEER + 1, ISS + 1), 100));
    b.tcb.send(b.now, &[5u8; 400]).unwrap();
    // 100 octets: not a full segment, not all the data, under half of the 10000 seen.
    b.none();
    let t = b.fire();
    assert_eq!(t, Instant::from_millis(10) + b.tcb.info().rto);
    let seg = b.one();
    assert_eq!((seg.seq, seg.payload.len()), (s(ISS + 1), 100));
    // All the rest fits and nothing is in flight: sent at once.
    b.input(with_win(pkt("A", PEER + 1, ISS + 101), 6000));
    let seg = b.one();
    check(&seg, "PA", ISS + 101, None);
    assert_eq!(seg.payload.len(), 300);
}

#[test]
fn delayed_ack() {
    let config = Config {
        delayed_ack: Some(Duration::from_millis(200)),
        ..plain()
    };
    let mut b = active(&config);
    b.at(1000);
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), b"one"));
    b.none();
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_millis(1200)));
    b.fire();
    check(&b.one(), "A", ISS + 1, Some(PEER + 4));
    assert_eq!(b.tcb.poll_timeout(), None);
    // SHLD-19: every second segment is ACKed at once.
    b.input(with_data(pkt("A", PEER + 4, ISS + 1), b"two"));
    b.none();
    b.input(with_data(pkt("A", PEER + 7, ISS + 1), b"three"));
    check(&b.one(), "A", ISS + 1, Some(PEER + 12));
    assert_eq!(b.tcb.poll_timeout(), None);
    // A FIN is ACKed at once.
    b.input(pkt("FA", PEER + 12, ISS + 1));
    check(&b.one(), "A", ISS + 1, Some(PEER + 13));

    // MUST-40: a configured delay of 0.5 s or more is cut below 0.5 s.
    let config = Config {
        delayed_ack: Some(Duration::from_secs(2)),
        ..plain()
    };
    let mut b = active(&config);
    b.at(1000);
    b.input(with_data(pkt("A", PEER + 1, ISS + 1), b"one"));
    b.none();
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_millis(1499)));
}

#[test]
fn retransmission_backoff_and_karn() {
    let mut b = active(&plain());
    let rto0 = b.tcb.info().rto;
    b.at(100);
    b.tcb.send(b.now, b"hello").unwrap();
    check(&b.one(), "PA", ISS + 1, None);
    let t1 = b.fire();
    assert_eq!(t1, Instant::from_millis(100) + rto0);
    let again = b.one();
    check(&again, "PA", ISS + 1, None);
    assert_eq!(again.payload, b"hello");
    // RFC 6298 5.5: doubled.
    assert_eq!(b.tcb.info().rto, rto0 * 2);
    let t2 = b.fire();
    assert_eq!(t2, t1 + rto0 * 2);
    check(&b.one(), "PA", ISS + 1, None);
    let srtt_before = b.tcb.info().srtt;
    b.at(t2.total_millis() + 50);
    b.input(pkt("A", PEER + 1, ISS + 6));
    // Karn (MUST-18): no sample from a retransmitted segment; backoff reset.
    assert_eq!(b.tcb.info().srtt, srtt_before);
    assert_eq!(b.tcb.poll_timeout(), None);
    // A fresh segment is timed.
    b.tcb.send(b.now, b"x").unwrap();
    b.one();
    let sent = b.now;
    b.now = sent + Duration::from_millis(30);
    b.input(pkt("A", PEER + 1, ISS + 7));
    let srtt = b.tcb.info().srtt.unwrap();
    // RFC 6298 2.3: 7/8 * 10 ms + 1/8 * 30 ms.
    assert_eq!(srtt_before, Some(Duration::from_millis(10)));
    assert_eq!(srtt, Duration::from_micros(12_500));
}

#[test]
fn syn_and_fin_retransmission() {
    let mut b = syn_sent(&plain());
    b.fire();
    let syn = b.one();
    check(&syn, "S", ISS, None);
    assert_eq!(syn.options, vec![TcpOption::Mss(1460)]);
    b.input(pkt("SA", PEER, ISS + 1));
    b.one();
    assert_eq!(b.tcb.info().srtt, None, "Karn: the SYN was retransmitted");

    let mut b = syn_received(&plain());
    b.fire();
    check(&b.one(), "SA", ISS, Some(PEER + 1));

    let mut b = active(&plain());
    b.tcb.close(b.now).unwrap();
    check(&b.one(), "FA", ISS + 1, None);
    b.fire();
    check(&b.one(), "FA", ISS + 1, Some(PEER + 1));
}

#[test]
fn user_timeout_set_per_connection() {
    // MUST-21: the application sets R2 for one connection. The default R2 (100 s, SHLD-11)
    // would keep retransmitting; 10 s gives up at the first timeout after 10 s: 15 s.
    let mut b = active(&plain());
    b.tcb.set_user_timeout(Duration::from_secs(10));
    b.tcb.send(b.now, b"x").unwrap();
    b.one();
    while !b.tcb.is_closed() {
        b.fire();
        b.out();
    }
    assert_eq!(b.now, Instant::from_millis(15_010));
    assert_eq!(b.tcb.recv(&mut [0; 4]), Err(ConnError::TimedOut));
    // A longer one: still retransmitting after 200 s, where the default would have given up.
    let mut b = active(&plain());
    b.tcb.set_user_timeout(Duration::from_secs(3600));
    b.tcb.send(b.now, b"x").unwrap();
    b.one();
    while b.now < Instant::from_millis(200_000) {
        b.fire();
        assert!(!b.out().is_empty());
    }
    assert_eq!(b.state(), State::Established);
}

/// A User Timeout Option (RFC 5482 3): G set for minutes, then the 15-bit value.
fn uto(minutes: bool, value: u16) -> TcpOption {
    let g = if minutes { 0x8000 } else { 0 };
    TcpOption::Unknown {
        kind: options::UTO_KIND,
        data: (g | value).to_be_bytes().to_vec(),
    }
}

/// The time at which a connection with one octet unacknowledged gives up, or `None` if it is
/// still retransmitting at `horizon_ms`.
fn gives_up_at(b: &mut Bench, horizon_ms: u64) -> Option<Instant> {
    b.tcb.send(b.now, b"x").unwrap();
    b.one();
    while !b.tcb.is_closed() {
        if b.fire() > Instant::from_millis(horizon_ms) {
            return None;
        }
        b.out();
    }
    Some(b.now)
}

fn uto_on() -> Config {
    Config {
        user_timeout_option: Some(UtoLimits {
            lower: Duration::from_secs(100),
            upper: Duration::from_secs(3600),
        }),
        ..plain()
    }
}

#[test]
fn uto_option_cannot_shorten_the_user_timeout() {
    // RFC 5482 3.1: USER_TIMEOUT = min(U_LIMIT, max(ADV_UTO, REMOTE_UTO, L_LIMIT)). A peer
    // advertising 1 s leaves R2 at 100 s (SHLD-11): still retransmitting at 90 s, on the SYN-ACK
    // or on a later ACK alike.
    let mut b = syn_sent(&uto_on());
    b.input(with_opts(pkt("SA", PEER, ISS + 1), vec![uto(false, 1)]));
    b.one();
    assert_eq!(gives_up_at(&mut b, 90_000), None);

    let mut b = active(&uto_on());
    b.input(with_opts(pkt("A", PEER + 1, ISS + 1), vec![uto(false, 1)]));
    assert_eq!(gives_up_at(&mut b, 90_000), None);
}

#[test]
fn uto_option_lengthens_the_user_timeout_within_the_upper_limit() {
    // 30 minutes (G = 1) asked, 60 minutes allowed: still retransmitting at 1000 s, where the
    // default 100 s would have given up. 5 hours asked: held to the hour (U_LIMIT), so it
    // gives up at the first timeout after 3600 s (RTOs of 120 s at the ceiling).
    let mut b = syn_sent(&uto_on());
    b.input(with_opts(pkt("SA", PEER, ISS + 1), vec![uto(true, 30)]));
    b.one();
    assert_eq!(gives_up_at(&mut b, 1_000_000), None);

    let mut b = syn_sent(&uto_on());
    b.input(with_opts(pkt("SA", PEER, ISS + 1), vec![uto(true, 300)]));
    b.one();
    let end = gives_up_at(&mut b, 10_000_000).expect("gives up within U_LIMIT");
    assert!(end >= Instant::from_millis(3_600_000), "{end:?}");
    assert!(end <= Instant::from_millis(3_600_000 + 120_010), "{end:?}");
}

#[test]
fn uto_option_ignored_when_off_or_set_by_the_application() {
    // Off (the default, RFC 5482 3: ENABLED false): 30 minutes advised, the 100 s R2 stands.
    let mut b = syn_sent(&plain());
    b.input(with_opts(pkt("SA", PEER, ISS + 1), vec![uto(true, 30)]));
    b.one();
    let end = gives_up_at(&mut b, 1_000_000).expect("gives up at R2");
    assert!(end < Instant::from_millis(200_000), "{end:?}");

    // The application set 10 s (MUST-21): CHANGEABLE is false, the peer's 30 minutes change
    // nothing; RTOs 1, 2, 4, 8 s end at the first timeout after 10 s.
    let mut b = active(&uto_on());
    b.tcb.set_user_timeout(Duration::from_secs(10));
    b.input(with_opts(pkt("A", PEER + 1, ISS + 1), vec![uto(true, 30)]));
    assert_eq!(
        gives_up_at(&mut b, 1_000_000),
        Some(Instant::from_millis(15_010))
    );

    // A malformed option (length 3) is not read as a user timeout.
    let mut b = active(&uto_on());
    let bad = TcpOption::Unknown {
        kind: options::UTO_KIND,
        data: vec![0x80],
    };
    b.input(with_opts(pkt("A", PEER + 1, ISS + 1), vec![bad]));
    let end = gives_up_at(&mut b, 1_000_000).expect("gives up at R2");
    assert!(end < Instant::from_millis(200_000), "{end:?}");
}

#[test]
fn r1_and_r2_give_up() {
    let config = Config {
        r2: Duration::from_secs(10),
        r1: 2,
        ..plain()
    };
    let mut b = active(&config);
    b.tcb.send(b.now, b"x").unwrap();
    b.one();
    let mut sent = Vec::new();
    while !b.tcb.is_closed() {
        let t = b.fire();
        for seg in b.out() {
            sent.push((t.total_millis() - 10, seg));
        }
    }
    let times: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
    // RTO 1 s doubling: 1, 3, 7 s; at 15 s the 10 s of R2 are up: RST <SEQ=SND.NXT>.
    assert_eq!(times, vec![1000, 3000, 7000, 15000]);
    check(&sent[3].1, "R", ISS + 2, None);
    assert_eq!(b.events(), vec![ConnEvent::Trouble, ConnEvent::TimedOut]);
    assert_eq!(b.tcb.send(b.now, b"x"), Err(ConnError::TimedOut));

    // SYN: r2_syn, no RST (not synchronized).
    let config = Config {
        r2_syn: Duration::from_secs(5),
        ..plain()
    };
    let mut b = syn_sent(&config);
    let mut n = 0;
    while !b.tcb.is_closed() {
        b.fire();
        n += b.out().iter().filter(|s| s.flags == flags("S")).count();
    }
    assert_eq!(n, 2);
    assert_eq!(b.now, Instant::from_millis(7000));
    assert_eq!(b.events(), vec![ConnEvent::TimedOut]);
}

#[test]
fn zero_window_probing() {
    let mut b = syn_sent(&plain());
    b.input(with_win(pkt("SA", PEER, ISS + 1), 0));
    b.one();
    assert_eq!(b.events(), vec![ConnEvent::Connected]);
    b.tcb.send(b.now, b"0123456789").unwrap();
    b.none();
    // MUST-36: one octet past the zero window, then backing off (SHLD-29/30).
    let t1 = b.fire();
    let probe = b.one();
    check(&probe, "A", ISS + 1, Some(PEER + 1));
    assert_eq!(probe.payload, b"0");
    b.input(with_win(pkt("A", PEER + 1, ISS + 1), 0));
    b.none();
    let t2 = b.fire();
    assert!(t2 - t1 > t1 - Instant::ZERO);
    let probe = b.one();
    check(&probe, "A", ISS + 1, None);
    assert_eq!(probe.payload, b"0");
    // MUST-37: the window may stay closed for ever; the connection stays up.
    for _ in 0..20 {
        b.fire();
        b.out();
        b.input(with_win(pkt("A", PEER + 1, ISS + 1), 0));
    }
    assert_eq!(b.state(), State::Established);
    assert!(b.events().is_empty());
    // The window opens: the probe octet, then the rest.
    b.input(with_win(pkt("A", PEER + 1, ISS + 1), 1000));
    let probe = b.one();
    check(&probe, "A", ISS + 1, None);
    assert_eq!(probe.payload, b"0");
    // Nagle holds the small rest until the octet is acknowledged.
    b.input(with_win(pkt("A", PEER + 1, ISS + 2), 1000));
    let rest = b.one();
    check(&rest, "PA", ISS + 2, None);
    assert_eq!(rest.payload, b"123456789");
}

#[test]
fn fast_retransmit_on_three_dup_acks() {
    let config = Config {
        nagle: false,
        ..plain()
    };
    let mut b = active(&config);
    b.tcb.send(b.now, &[9u8; 2000]).unwrap();
    assert_eq!(b.out().len(), 4);
    for _ in 0..2 {
        b.input(pkt("A", PEER + 1, ISS + 1));
        b.none();
    }
    b.input(pkt("A", PEER + 1, ISS + 1));
    let seg = b.one();
    check(&seg, "A", ISS + 1, None);
    assert_eq!(seg.payload.len(), 536);
}

#[test]
fn limited_transmit_one_new_segment_per_dup_ack() {
    // RFC 3042 2 (RFC 5681 3.2 step 1): the first and second duplicate ACKs each send one
    // segment of unsent data beyond cwnd; cwnd "MUST NOT be changed"; the third starts fast
    // retransmit with ssthresh from FlightSize without those segments (RFC 5681 3.2 step 2).
    let config = Config {
        nagle: false,
        ..plain()
    };
    let mut b = active(&config);
    b.tcb.send(b.now, &[9u8; 10 * 536]).unwrap();
    // Initial window: 4 * 536 (RFC 5681 3.1, SMSS =< 1095).
    assert_eq!(b.out().len(), 4);
    let cwnd = b.tcb.cwnd();
    assert_eq!(cwnd, 4 * 536);
    b.input(pkt("A", PEER + 1, ISS + 1));
    let seg = b.one();
    check(&seg, "A", ISS + 1 + 4 * 536, None);
    assert_eq!(seg.payload.len(), 536);
    assert_eq!(b.tcb.cwnd(), cwnd);
    b.input(pkt("A", PEER + 1, ISS + 1));
    let seg = b.one();
    check(&seg, "A", ISS + 1 + 5 * 536, None);
    assert_eq!(b.tcb.cwnd(), cwnd);
    // Third: the fast retransmit only (cwnd = 1072 + 3 * 536 < 6 * 536 in flight).
    b.input(pkt("A", PEER + 1, ISS + 1));
    let seg = b.one();
    check(&seg, "A", ISS + 1, None);
    assert_eq!(
        b.tcb.cwnd(),
        2 * 536 + 3 * 536,
        "ssthresh from 4 segments, not 6"
    );
    b.none();
}

#[test]
fn limited_transmit_only_if_the_peer_window_allows() {
    // RFC 3042 2: "The receiver's advertised window allows the transmission of the segment."
    let config = Config {
        nagle: false,
        ..plain()
    };
    let mut b = syn_sent(&config);
    b.input(with_win(pkt("SA", PEER, ISS + 1), 4 * 536));
    b.one();
    b.tcb.send(b.now, &[9u8; 10 * 536]).unwrap();
    assert_eq!(b.out().len(), 4);
    b.input(with_win(pkt("A", PEER + 1, ISS + 1), 4 * 536));
    b.none();
    b.input(with_win(pkt("A", PEER + 1, ISS + 1), 4 * 536));
    b.none();
}

#[test]
fn limited_transmit_not_without_unsent_data() {
    // RFC 3042 2: only "previously unsent data"; nothing is resent early.
    let config = Config {
        nagle: false,
        ..plain()
    };
    let mut b = active(&config);
    b.tcb.send(b.now, &[9u8; 3 * 536]).unwrap();
    assert_eq!(b.out().len(), 3);
    b.input(pkt("A", PEER + 1, ISS + 1));
    b.none();
    b.input(pkt("A", PEER + 1, ISS + 1));
    b.none();
}

/// ESTABLISHED through an active open to a peer that announced MSS 1460, Nagle off.
fn active_mss_1460(tuple: FourTuple) -> Bench {
    active_mss_1460_with(
        Config {
            nagle: false,
            ..plain()
        },
        tuple,
    )
}

/// The same with this configuration.
fn active_mss_1460_with(config: Config, tuple: FourTuple) -> Bench {
    let mut b = Bench {
        tcb: Tcb::connect(&config, tuple, s(ISS), Instant::ZERO),
        now: Instant::ZERO,
    };
    b.one();
    b.input(with_opts(
        pkt("SA", PEER, ISS + 1),
        vec![TcpOption::Mss(1460)],
    ));
    b.one();
    b
}

#[test]
fn packet_too_big_shrinks_segments_and_resends_the_flight() {
    // RFC 1191 / RFC 9293 3.7.2: a "fragmentation needed" with next-hop MTU 1280 quoting a
    // segment in flight: MSS 1280 - 40, the flight resent at once at that size (RFC 1191 6.5),
    // cwnd untouched (no congestion).
    let mut b = active_mss_1460(tuple_v4());
    assert_eq!(b.tcb.info().snd_mss, 1460);
    b.tcb.send(b.now, &[5u8; 2 * 1460]).unwrap();
    let out = b.out();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|seg| seg.payload.len() == 1460));
    let cwnd = b.tcb.cwnd();
    assert!(b.tcb.handle_packet_too_big(1280, s(ISS + 1 + 1460)));
    assert_eq!(b.tcb.info().snd_mss, 1240);
    let out = b.out();
    let sizes: Vec<(SeqNumber, usize)> =
        out.iter().map(|seg| (seg.seq, seg.payload.len())).collect();
    assert_eq!(
        sizes,
        vec![
            (s(ISS + 1), 1240),
            (s(ISS + 1241), 1240),
            (s(ISS + 2481), 440)
        ]
    );
    assert_eq!(b.tcb.cwnd(), cwnd);
    // New data goes out at the new size too.
    b.input(pkt("A", PEER + 1, ISS + 1 + 2 * 1460));
    b.tcb.send(b.now, &[5u8; 1460]).unwrap();
    let lens: Vec<usize> = b.out().iter().map(|seg| seg.payload.len()).collect();
    assert_eq!(lens, vec![1240, 220]);
}

#[test]
fn packet_too_big_checked_against_the_flight() {
    // RFC 5927 4.1: only a quote of a segment in flight (SND.UNA =< seq < SND.NXT) is believed.
    let mut b = active_mss_1460(tuple_v4());
    b.tcb.send(b.now, &[5u8; 1460]).unwrap();
    b.one();
    for seq in [ISS, ISS + 1461, ISS + 100_000] {
        assert!(!b.tcb.handle_packet_too_big(1280, s(seq)), "seq {seq}");
        assert_eq!(b.tcb.info().snd_mss, 1460);
        b.none();
    }
    // RFC 1191 3: never below 68 octets; never raised by a message.
    assert!(!b.tcb.handle_packet_too_big(67, s(ISS + 1)));
    assert!(!b.tcb.handle_packet_too_big(1500, s(ISS + 1)));
    assert!(!b.tcb.handle_packet_too_big(9000, s(ISS + 1)));
    assert_eq!(b.tcb.info().snd_mss, 1460);
    b.none();
    assert!(b.tcb.handle_packet_too_big(576, s(ISS + 1)));
    assert_eq!(b.tcb.info().snd_mss, 536);
    assert_eq!(b.out().len(), 3);
    assert!(!b.tcb.handle_packet_too_big(1000, s(ISS + 1)));
    assert_eq!(b.tcb.info().snd_mss, 536);
}

#[test]
fn packet_too_big_ipv6_floor_is_1280() {
    // RFC 8201 4: the estimate never goes below the IPv6 minimum link MTU, 1280.
    let mut b = active_mss_1460(tuple_v6());
    assert_eq!(b.tcb.info().snd_mss, 1440);
    b.tcb.send(b.now, &[5u8; 1440]).unwrap();
    b.one();
    assert!(!b.tcb.handle_packet_too_big(1279, s(ISS + 1)));
    assert!(b.tcb.handle_packet_too_big(1280, s(ISS + 1)));
    assert_eq!(b.tcb.info().snd_mss, 1220);
    let lens: Vec<usize> = b.out().iter().map(|seg| seg.payload.len()).collect();
    assert_eq!(lens, vec![1220, 220]);
}

#[test]
fn packet_too_big_above_the_segment_size_resends_nothing() {
    // The peer's MSS (1000) already keeps segments under an MTU of 1400: nothing was dropped
    // for size, nothing is resent.
    let config = Config {
        nagle: false,
        ..plain()
    };
    let mut b = syn_sent(&config);
    b.input(with_opts(
        pkt("SA", PEER, ISS + 1),
        vec![TcpOption::Mss(1000)],
    ));
    b.one();
    b.tcb.send(b.now, &[5u8; 1000]).unwrap();
    b.one();
    assert!(b.tcb.handle_packet_too_big(1400, s(ISS + 1)));
    assert_eq!(b.tcb.info().snd_mss, 1000);
    b.none();
}

#[test]
fn sack_scoreboard_skips_sacked_data() {
    let config = Config {
        sack: true,
        nagle: false,
        ..plain()
    };
    let mut b = syn_sent(&config);
    let synack = with_opts(
        pkt("SA", PEER, ISS + 1),
        vec![TcpOption::Mss(100), TcpOption::SackPermitted],
    );
    b.input(synack);
    b.one();
    b.tcb.send(b.now, &[1u8; 300]).unwrap();
    assert_eq!(b.out().len(), 3);
    // The peer holds the second segment.
    let sack = vec![TcpOption::Sack(vec![SackBlock {
        left: s(ISS + 101),
        right: s(ISS + 201),
    }])];
    b.input(with_opts(pkt("A", PEER + 1, ISS + 1), sack));
    b.fire();
    let out = b.out();
    assert_eq!(out.len(), 1, "cwnd = 1 SMSS after the timeout: {out:?}");
    check(&out[0], "A", ISS + 1, None);
    b.input(pkt("A", PEER + 1, ISS + 101));
    let out = b.out();
    let seqs: Vec<SeqNumber> = out.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, vec![s(ISS + 201)]);
}

#[test]
fn window_scale_and_timestamps() {
    let config = Config {
        window_scale: Some(7),
        timestamps: true,
        recv_buffer: 1 << 20,
        ..plain()
    };
    let mut b = Bench {
        tcb: Tcb::connect(&config, tuple_v4(), s(ISS), Instant::from_millis(500)),
        now: Instant::from_millis(500),
    };
    let syn = b.one();
    assert_eq!(syn.window, 65535, "never scaled in a SYN");
    assert_eq!(
        syn.options,
        vec![
            TcpOption::Mss(1460),
            TcpOption::NoOperation,
            TcpOption::WindowScale(7),
            TcpOption::NoOperation,
            TcpOption::NoOperation,
            TcpOption::Timestamps {
                tsval: 500,
                tsecr: 0
            },
        ]
    );
    b.at(520);
    let synack = with_opts(
        with_win(pkt("SA", PEER, ISS + 1), 1000),
        vec![
            TcpOption::WindowScale(20),
            TcpOption::Timestamps {
                tsval: 77,
                tsecr: 500,
            },
        ],
    );
    b.input(synack);
    let ack = b.one();
    // min(1 MiB, 65535 << 7) >> 7.
    assert_eq!(ack.window, (1u32 << 20 >> 7) as u16);
    assert_eq!(
        ack.options,
        vec![
            TcpOption::NoOperation,
            TcpOption::NoOperation,
            TcpOption::Timestamps {
                tsval: 520,
                tsecr: 77
            }
        ]
    );
    let info = b.tcb.info();
    assert_eq!(
        (info.snd_wscale, info.rcv_wscale, info.timestamps),
        (14, 7, true)
    );
    assert_eq!(info.snd_wnd, 1000, "the SYN-ACK window is not scaled");
    assert_eq!(info.snd_mss, 536 - 12);
    // Later windows are scaled by the peer's shift (capped at 14).
    let ts = |v| {
        vec![TcpOption::Timestamps {
            tsval: v,
            tsecr: 520,
        }]
    };
    b.input(with_opts(with_win(pkt("A", PEER + 1, ISS + 1), 2), ts(80)));
    assert_eq!(b.tcb.info().snd_wnd, 2 << 14);
    // PAWS (RFC 7323 5): an older TSval is unacceptable: ACK, drop.
    let old = with_opts(with_data(pkt("A", PEER + 1, ISS + 1), b"x"), ts(79));
    assert_eq!(b.input(old), vec![Rule::Sq1]);
    let ack = b.one();
    assert_eq!(
        ack.options,
        vec![
            TcpOption::NoOperation,
            TcpOption::NoOperation,
            TcpOption::Timestamps {
                tsval: 520,
                tsecr: 80
            }
        ]
    );
    assert_eq!(b.tcb.info().recv_queue, 0);
}

#[test]
fn no_window_scale_unless_both_offer() {
    let config = Config {
        window_scale: Some(7),
        ..plain()
    };
    let syn = pkt("S", PEER, 0);
    let mut tcb = Tcb::accept_syn(&config, tuple_v4(), s(ISS), &syn, Instant::ZERO);
    let synack = tcb.poll_transmit(Instant::ZERO).unwrap();
    assert_eq!(synack.options, vec![TcpOption::Mss(1460)]);
    assert_eq!((tcb.info().snd_wscale, tcb.info().rcv_wscale), (0, 0));
}

#[test]
fn abort_sends_rst() {
    let mut b = active(&plain());
    b.tcb.abort(b.now);
    check(&b.one(), "R", ISS + 1, None);
    assert!(b.tcb.is_closed());
    assert_eq!(b.events(), vec![ConnEvent::Closed]);
    let mut b = syn_sent(&plain());
    b.tcb.abort(b.now);
    b.none();
}

#[test]
fn keepalive_probes_then_gives_up() {
    let config = Config {
        keepalive_probes: 2,
        ..plain()
    };
    let mut b = active(&config);
    b.tcb.set_keepalive(Some(Duration::from_secs(7200)));
    assert_eq!(
        b.fire(),
        Instant::from_millis(10) + Duration::from_secs(7200)
    );
    check(&b.one(), "A", ISS, Some(PEER + 1));
    // An answer resets the count.
    b.input(pkt("A", PEER + 1, ISS + 1));
    b.fire();
    b.one();
    b.fire();
    b.one();
    b.fire();
    check(&b.one(), "R", ISS + 1, None);
    assert_eq!(b.events(), vec![ConnEvent::TimedOut]);
}

/// Short keep-alive timing, the same the cases use: idle 5 s (distinct from the interval so the
/// tests can tell which clock ran), interval 1 s, 3 probes.
fn short_keepalive() -> Keepalive {
    Keepalive {
        idle: Duration::from_secs(5),
        interval: Duration::from_secs(1),
        count: 3,
    }
}

#[test]
fn keepalive_default_timing_is_off_and_two_hours() {
    // MUST-25: off unless requested; MUST-28: the default idle time is at least two hours.
    let mut b = passive(&plain());
    assert_eq!(b.tcb.poll_timeout(), None);
    assert!(Keepalive::default().idle >= Duration::from_secs(7200));
    assert_eq!(plain().keepalive_timing().idle, Keepalive::DEFAULT_IDLE);
    b.tcb.set_keepalive_timing(Some(Keepalive::default()));
    assert_eq!(
        b.tcb.poll_timeout(),
        Some(Instant::from_millis(10) + Keepalive::DEFAULT_IDLE)
    );
}

#[test]
fn keepalive_no_probe_before_idle() {
    // MUST-26: only after `idle` without a segment from the peer, measured from the last one.
    let mut b = passive(&plain());
    b.at(2_000);
    b.tcb.set_keepalive_timing(Some(short_keepalive()));
    let due = Instant::from_millis(10) + Duration::from_secs(5);
    assert_eq!(b.tcb.poll_timeout(), Some(due));
    b.at(5_009);
    b.tcb.handle_timeout(b.now);
    b.none();
    assert_eq!(b.fire(), due);
    b.one();
}

#[test]
fn keepalive_probe_is_snd_nxt_minus_one_without_data() {
    // MUST-26..29, SHLD-12: <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK>, no data.
    let mut b = passive(&plain());
    b.tcb.set_keepalive_timing(Some(short_keepalive()));
    b.fire();
    let probe = b.one();
    check(&probe, "A", ISS, Some(PEER + 1));
    assert!(probe.payload.is_empty(), "probe carries data: {probe:?}");
    // Also after data was sent and acknowledged.
    b.input(pkt("A", PEER + 1, ISS + 1));
    b.tcb.send(b.now, b"abc").unwrap();
    check(&b.one(), "PA", ISS + 1, Some(PEER + 1));
    b.input(pkt("A", PEER + 1, ISS + 4));
    b.fire();
    let probe = b.one();
    check(&probe, "A", ISS + 3, Some(PEER + 1));
    assert!(probe.payload.is_empty());
}

#[test]
fn keepalive_answer_restarts_idle_clock() {
    let mut b = passive(&plain());
    b.tcb.set_keepalive_timing(Some(short_keepalive()));
    let first = b.fire();
    b.one();
    // Unanswered: the next probe comes an interval later.
    assert_eq!(b.fire(), first + Duration::from_secs(1));
    b.one();
    // Any ACK from the peer restarts the idle clock and forgets the probes sent (MUST-29).
    b.at(6_500);
    b.input(pkt("A", PEER + 1, ISS + 1));
    b.none();
    assert_eq!(
        b.tcb.poll_timeout(),
        Some(Instant::from_millis(6_500) + Duration::from_secs(5))
    );
    for _ in 0..3 {
        b.fire();
        b.one();
    }
    assert_eq!(b.state(), State::Established);
}

#[test]
fn keepalive_count_unanswered_probes_close() {
    let mut b = passive(&plain());
    b.tcb.set_keepalive_timing(Some(short_keepalive()));
    for _ in 0..3 {
        b.fire();
        check(&b.one(), "A", ISS, Some(PEER + 1));
        assert_eq!(b.state(), State::Established);
    }
    // One interval after the third probe: reset and report the timeout.
    let end = b.fire();
    assert_eq!(end, Instant::from_millis(10) + Duration::from_secs(5 + 3));
    check(&b.one(), "R", ISS + 1, None);
    assert!(b.tcb.is_closed());
    assert_eq!(b.events(), vec![ConnEvent::TimedOut]);
}

#[test]
fn keepalive_off_again() {
    let mut b = passive(&plain());
    b.tcb.set_keepalive_timing(Some(short_keepalive()));
    b.tcb.set_keepalive_timing(None);
    assert_eq!(b.tcb.poll_timeout(), None);
}

// ---------------------------------------------------------------- coverage

#[test]
fn every_rule_is_reached() {
    SEEN.with(|s| s.borrow_mut().clear());
    let scenarios: [fn(); 22] = [
        ack_bit_off_is_dropped,
        syn_sent_rules,
        syn_ack_with_data_and_fin,
        simultaneous_open,
        active_close_then_time_wait_expiry,
        fin_ack_together_in_fin_wait_1,
        time_wait_restarts_on_retransmitted_fin,
        passive_close,
        simultaneous_close,
        rst_rules_rfc5961,
        rst_rules_rfc793,
        rst_in_syn_received,
        rst_in_last_ack,
        syn_rules,
        time_wait_syn_opens_new_incarnation,
        security_rules,
        sequence_rules,
        out_of_order_then_fill,
        zero_receive_window,
        ack_rules,
        urgent_pointer,
        half_close_keeps_receiving,
    ];
    for scenario in scenarios {
        scenario();
    }
    let seen = SEEN.with(|s| s.borrow().clone());
    assert_rules_seen(
        &seen,
        &[
            "SS-", "SQ-", "RS-", "SC-", "SY-", "AK-", "UR-", "TX-", "FN-",
        ],
        &[],
    );
}

/// The scenarios whose segments and rules do not depend on the RST policy give the same
/// results under RFC 793 (RS-1, SY-2 and AK-1 exist only under RFC 5961; SY-3 only under 793).
#[test]
fn policy_independent_scenarios_under_rfc793() {
    SEEN.with(|s| s.borrow_mut().clear());
    POLICY.with(|p| p.set(RstPolicy::Rfc793));
    let scenarios: [fn(); 20] = [
        ack_bit_off_is_dropped,
        active_open,
        passive_open,
        syn_text_and_fin_wait_for_established,
        simultaneous_open,
        syn_sent_rules,
        syn_ack_with_data_and_fin,
        active_close_then_time_wait_expiry,
        fin_ack_together_in_fin_wait_1,
        time_wait_restarts_on_retransmitted_fin,
        passive_close,
        simultaneous_close,
        half_close_keeps_receiving,
        rst_in_last_ack,
        time_wait_syn_opens_new_incarnation,
        security_rules,
        sequence_rules,
        out_of_order_then_fill,
        zero_receive_window,
        urgent_pointer,
    ];
    for scenario in scenarios {
        scenario();
    }
    POLICY.with(|p| p.set(RstPolicy::Rfc5961));
    let seen = SEEN.with(|s| s.borrow().clone());
    assert_rules_seen(
        &seen,
        &["SS-", "SQ-", "RS-", "SC-", "AK-", "UR-", "TX-", "FN-"],
        &[
            "SQ-2", "RS-1", "RS-2", "RS-3", "RS-4", "AK-1", "AK-3", "AK-6",
        ],
    );
}

#[track_caller]
fn assert_rules_seen(seen: &BTreeSet<Rule>, families: &[&str], except: &[&str]) {
    let missing: Vec<&str> = Rule::ALL
        .iter()
        .filter(|r| families.iter().any(|f| r.id().starts_with(f)))
        .filter(|r| !except.contains(&r.id()))
        .filter(|r| !seen.contains(r))
        .map(|r| r.id())
        .collect();
    assert!(missing.is_empty(), "rules never reported: {missing:?}");
}

// ---------------------------------------------------------------- robustness

/// Random segments near the windows, in every state the scenarios reach, with random timer
/// firings and application calls: no panic (debug assertions included) and SND.UNA =< SND.NXT.
#[test]
fn random_segments_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    let specs = [
        "A", "A", "A", "PA", "PA", "PA", "FA", "UA", "A", "PA", "S", "SA", "R", "RA", "SF", "",
        "F", "SAFRPU",
    ];
    let mut handled = 0;
    for round in 0..600 {
        let config = Config {
            rst_policy: if round % 2 == 0 {
                RstPolicy::Rfc5961
            } else {
                RstPolicy::Rfc793
            },
            sack: round % 3 == 0,
            timestamps: round % 4 == 0,
            window_scale: (round % 5 == 0).then_some(3),
            delayed_ack: (round % 6 == 0).then_some(Duration::from_millis(40)),
            recv_buffer: 64 + (round as usize * 37) % 3000,
            ..plain()
        };
        let mut b = match round % 3 {
            0 => active(&config),
            1 => syn_received(&config),
            _ => syn_sent(&config),
        };
        for _ in 0..200 {
            let spec = specs[rnd(specs.len() as u64) as usize];
            let seq = (PEER as u64 + rnd(4000)).wrapping_sub(1000) as u32;
            let ack = (ISS as u64 + rnd(4000)).wrapping_sub(1000) as u32;
            let mut seg = with_win(pkt(spec, seq, ack), rnd(3) as u16 * 700);
            seg.payload = vec![0xab; rnd(3) as usize * rnd(900) as usize];
            seg.urgent = rnd(2000) as u16;
            if rnd(4) == 0 {
                seg.options = vec![
                    TcpOption::Timestamps {
                        tsval: rnd(100) as u32,
                        tsecr: rnd(100) as u32,
                    },
                    TcpOption::Sack(vec![SackBlock {
                        left: s(ack),
                        right: s(ack.wrapping_add(rnd(3000) as u32)),
                    }]),
                ];
            }
            b.input_sec(seg, rnd(50) != 0);
            handled += 1;
            match rnd(8) {
                0 => {
                    let _ = b.tcb.send(b.now, &[1u8; 700]);
                }
                1 => {
                    let mut buf = [0u8; 500];
                    let _ = b.tcb.recv(&mut buf);
                }
                2 if rnd(10) == 0 => {
                    let _ = b.tcb.close(b.now);
                }
                3 => {
                    if let Some(t) = b.tcb.poll_timeout() {
                        b.now = t;
                        b.tcb.handle_timeout(t);
                    }
                }
                _ => {}
            }
            b.out();
            b.events();
            let info = b.tcb.info();
            assert!(info.snd_una <= info.snd_nxt, "{info:?}");
            if b.tcb.is_closed() || b.tcb.returned_to_listen() {
                assert_eq!(b.tcb.poll_timeout(), None);
                break;
            }
        }
    }
    assert!(handled > 10_000, "only {handled} segments exercised");
}

// ---------------------------------------------------------------- ECN (RFC 3168)

#[test]
fn ecn_setup_ect_on_new_data_echo_until_cwr() {
    use crate::wire::ecn::{CE, ECT0};
    let syn = with_opts(pkt("SEC", PEER, 0), vec![TcpOption::Mss(1000)]);
    let mut b = Bench {
        tcb: Tcb::accept_syn(&plain(), tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    // 6.1.1: an ECN-setup SYN-ACK: ECE, not CWR; never ECN-capable itself.
    let synack = b.tcb.poll_transmit(b.now).unwrap();
    check(&synack, "SAE", ISS, Some(PEER + 1));
    assert!(!b.tcb.sent_ect());
    b.none();
    b.input(pkt("A", PEER + 1, ISS + 1));
    // 6.1.2: new data is ECT.
    assert_eq!(b.tcb.send(b.now, b"hello"), Ok(5));
    let data = b.tcb.poll_transmit(b.now).unwrap();
    check(&data, "PA", ISS + 1, Some(PEER + 1));
    assert!(b.tcb.sent_ect(), "new data is ECN-capable");
    b.none();
    // 6.1.3: CE on data: ECE on the (pure, not-ECT) ACK, and on every ACK until CWR.
    b.input_ip(with_data(pkt("A", PEER + 1, ISS + 6), b"ab"), true, CE);
    let ack = b.tcb.poll_transmit(b.now).unwrap();
    check(&ack, "AE", ISS + 6, Some(PEER + 3));
    assert!(!b.tcb.sent_ect(), "a pure ACK is not ECN-capable");
    b.none();
    b.input_ip(with_data(pkt("A", PEER + 3, ISS + 6), b"cd"), true, ECT0);
    check(&b.one(), "AE", ISS + 6, Some(PEER + 5));
    b.input_ip(with_data(pkt("AC", PEER + 5, ISS + 6), b"ef"), true, ECT0);
    check(&b.one(), "A", ISS + 6, Some(PEER + 7));
    // 6.1.2: an ECE halves cwnd once and the next new data carries CWR, once.
    let cwnd = b.tcb.cwnd();
    assert_eq!(b.tcb.send(b.now, b"more"), Ok(4));
    check(&b.one(), "PA", ISS + 6, Some(PEER + 7));
    b.input(pkt("AE", PEER + 7, ISS + 10));
    assert!(b.tcb.cwnd() < cwnd, "ECE must reduce cwnd");
    assert_eq!(b.tcb.send(b.now, b"x"), Ok(1));
    check(&b.one(), "PAC", ISS + 10, Some(PEER + 7));
    b.input(pkt("A", PEER + 7, ISS + 11));
    assert_eq!(b.tcb.send(b.now, b"y"), Ok(1));
    check(&b.one(), "PA", ISS + 11, Some(PEER + 7));
}

#[test]
fn no_ecn_without_setup_syn_or_when_off() {
    use crate::wire::ecn::CE;
    for (spec, on) in [("SE", true), ("SC", true), ("SEC", false)] {
        let config = Config { ecn: on, ..plain() };
        let mut b = Bench {
            tcb: Tcb::accept_syn(
                &config,
                tuple_v4(),
                s(ISS),
                &pkt(spec, PEER, 0),
                Instant::ZERO,
            ),
            now: Instant::ZERO,
        };
        check(&b.one(), "SA", ISS, Some(PEER + 1));
        b.input(pkt("A", PEER + 1, ISS + 1));
        assert_eq!(b.tcb.send(b.now, b"hello"), Ok(5));
        b.tcb.poll_transmit(b.now).unwrap();
        assert!(!b.tcb.sent_ect(), "{spec}: no ECT without ECN");
        b.none();
        b.input_ip(with_data(pkt("A", PEER + 1, ISS + 6), b"ab"), true, CE);
        check(&b.one(), "A", ISS + 6, Some(PEER + 3));
    }
}

// ---------------------------------------------------------------- Fast Open (RFC 7413)

/// A passive TCB made from `syn` by a server with Fast Open on, as `Stack::accept_syn` makes it.
fn fastopen_syn(jar: &fastopen::CookieJar, syn: &TcpRepr) -> Bench {
    let mut tcb = Tcb::accept_syn(&plain(), tuple_v4(), s(ISS), syn, Instant::ZERO);
    tcb.take_fastopen(jar.decide(tuple_v4().remote.ip(), syn), syn);
    Bench {
        tcb,
        now: Instant::ZERO,
    }
}

fn tfo(cookie: &[u8]) -> TcpOption {
    TcpOption::Unknown {
        kind: fastopen::KIND,
        data: cookie.to_vec(),
    }
}

#[test]
fn fastopen_cookie_request_gets_a_cookie() {
    // RFC 7413 4.1.2: an empty Fast Open option asks for a cookie; the SYN-ACK carries one,
    // 4 to 16 octets (4.1.1), computed from the client's address.
    let jar = fastopen::CookieJar::new(Some([1; 16]));
    let syn = with_opts(pkt("S", PEER, 0), vec![TcpOption::Mss(1460), tfo(&[])]);
    let mut b = fastopen_syn(&jar, &syn);
    let synack = b.one();
    check(&synack, "SA", ISS, Some(PEER + 1));
    let cookie = jar.cookie(tuple_v4().remote.ip());
    assert_eq!(synack.options, vec![TcpOption::Mss(1460), tfo(&cookie)]);
    assert!((4..=16).contains(&cookie.len()));
    // Without Fast Open, the same SYN gets no cookie: the option is ignored (MUST-6).
    let mut plain_b = Bench {
        tcb: Tcb::accept_syn(&plain(), tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    assert_eq!(plain_b.one().options, vec![TcpOption::Mss(1460)]);
}

#[test]
fn fastopen_valid_cookie_data_is_taken_with_the_syn() {
    // RFC 7413 4.2.2: a valid cookie and data: the SYN-ACK acknowledges the data and the
    // application reads it before the handshake completes.
    let jar = fastopen::CookieJar::new(Some([1; 16]));
    let cookie = jar.cookie(tuple_v4().remote.ip());
    let syn = with_data(with_opts(pkt("S", PEER, 0), vec![tfo(&cookie)]), b"hello");
    let mut b = fastopen_syn(&jar, &syn);
    assert!(b.tcb.fastopen_accepted());
    let synack = b.one();
    check(&synack, "SA", ISS, Some(PEER + 1 + 5));
    assert_eq!(
        synack.options,
        vec![TcpOption::Mss(1460)],
        "no fresh cookie"
    );
    assert_eq!(b.state(), State::SynReceived);
    assert_eq!(b.events(), vec![ConnEvent::Readable]);
    let mut buf = [0u8; 16];
    assert_eq!(b.tcb.recv(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    // Nothing more yet: the connection waits, it is not in a wrong state.
    assert_eq!(b.tcb.recv(&mut buf), Err(ConnError::WouldBlock));
    b.at(10);
    assert_eq!(
        b.input(pkt("A", PEER + 6, ISS + 1)),
        vec![Rule::Ak2, Rule::Ak4, Rule::Ak7]
    );
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.tcb.info().rcv_nxt, s(PEER + 6));
    // The data is not delivered twice at ESTABLISHED.
    assert_eq!(b.tcb.info().recv_queue, 0);
}

#[test]
fn fastopen_invalid_cookie_data_is_dropped() {
    // RFC 7413 4.2.2: a cookie that is not valid: the data is dropped, the SYN-ACK
    // acknowledges only the SYN and carries a valid cookie; the client sends the data again
    // after the three-way handshake, and it is taken once.
    let jar = fastopen::CookieJar::new(Some([1; 16]));
    let good = jar.cookie(tuple_v4().remote.ip());
    let mut bad = good;
    bad[0] ^= 0xff;
    let syn = with_data(with_opts(pkt("S", PEER, 0), vec![tfo(&bad)]), b"hello");
    let mut b = fastopen_syn(&jar, &syn);
    assert!(!b.tcb.fastopen_accepted());
    let synack = b.one();
    check(&synack, "SA", ISS, Some(PEER + 1));
    assert_eq!(synack.options, vec![TcpOption::Mss(1460), tfo(&good)]);
    assert_eq!(b.tcb.info().recv_queue, 0);
    let mut buf = [0u8; 16];
    assert_eq!(b.tcb.recv(&mut buf), Err(ConnError::InvalidState));
    b.at(10);
    b.input(pkt("A", PEER + 1, ISS + 1));
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.tcb.info().recv_queue, 0, "the SYN's data is not kept");
    b.input(with_data(pkt("PA", PEER + 1, ISS + 1), b"hello"));
    assert_eq!(b.tcb.info().rcv_nxt, s(PEER + 6));
    assert_eq!(b.tcb.recv(&mut buf), Ok(5));
    // A cookie of the wrong length is no more valid than a wrong one.
    let short = with_data(with_opts(pkt("S", PEER, 0), vec![tfo(&good[..4])]), b"hi");
    let mut b = fastopen_syn(&jar, &short);
    check(&b.one(), "SA", ISS, Some(PEER + 1));
}

#[test]
fn fastopen_option_absent_is_an_ordinary_syn() {
    // No Fast Open option: an ordinary handshake, no cookie offered unasked, and data on the
    // SYN waits for ESTABLISHED as RFC 9293 3.10.7.2 says.
    let jar = fastopen::CookieJar::new(Some([1; 16]));
    let syn = with_data(pkt("S", PEER, 0), b"hi");
    let mut b = fastopen_syn(&jar, &syn);
    let synack = b.one();
    check(&synack, "SA", ISS, Some(PEER + 1));
    assert_eq!(synack.options, vec![TcpOption::Mss(1460)]);
    b.input(pkt("A", PEER + 1, ISS + 1));
    assert_eq!(b.tcb.info().rcv_nxt, s(PEER + 3));
}

// ------------------------------------------------------- Fast Open, client side (RFC 7413)

/// An active OPEN that asked for Fast Open with `cached` as the server's cookie.
fn fastopen_client(config: &Config, cached: Option<fastopen::ClientCookie>) -> Bench {
    let mut tcb = Tcb::connect(config, tuple_v4(), s(ISS), Instant::ZERO);
    tcb.ask_fastopen(cached.as_ref());
    Bench {
        tcb,
        now: Instant::ZERO,
    }
}

fn cached(cookie: &[u8], mss: Option<u16>) -> Option<fastopen::ClientCookie> {
    Some(fastopen::ClientCookie {
        cookie: cookie.to_vec(),
        mss,
    })
}

#[test]
fn fastopen_client_asks_for_a_cookie_and_caches_the_reply() {
    // RFC 7413 4.1.1 / 4.2.1: without a cookie, the SYN carries an empty option (a request)
    // and no data; 4.2.2 step 1 / 4.1.3: the cookie and MSS of the SYN-ACK are cached; step 2:
    // the data queued meanwhile goes with the first ACK.
    let mut b = fastopen_client(&plain(), None);
    let syn = b.one();
    check(&syn, "S", ISS, None);
    assert_eq!(syn.options, vec![TcpOption::Mss(1460), tfo(&[])]);
    assert!(syn.payload.is_empty());
    assert_eq!(b.tcb.send(b.now, b"hello"), Ok(5));
    b.none();
    let cookie = [7u8; 8];
    let synack = with_opts(
        pkt("SA", PEER, ISS + 1),
        vec![TcpOption::Mss(1400), tfo(&cookie)],
    );
    assert_eq!(b.input(synack), vec![Rule::Ss6]);
    let first = b.one();
    check(&first, "PA", ISS + 1, Some(PEER + 1));
    assert_eq!(first.payload, b"hello");
    assert_eq!(b.tcb.take_fastopen_cookie(), cached(&cookie, Some(1400)));
    assert_eq!(b.tcb.take_fastopen_cookie(), None, "handed over once");
}

#[test]
fn fastopen_client_takes_only_cookies_of_a_valid_length_and_only_when_asked() {
    // RFC 7413 4.1.1: a cookie is 4 to 16 octets.
    for bad in [&[1u8, 2][..], &[1; 18][..], &[1; 5][..]] {
        let mut b = fastopen_client(&plain(), None);
        b.one();
        b.input(with_opts(pkt("SA", PEER, ISS + 1), vec![tfo(bad)]));
        assert_eq!(b.tcb.take_fastopen_cookie(), None, "{bad:?}");
    }
    // A connection that did not ask for Fast Open learns nothing.
    let mut b = syn_sent(&plain());
    b.input(with_opts(pkt("SA", PEER, ISS + 1), vec![tfo(&[9; 8])]));
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.tcb.take_fastopen_cookie(), None);
}

#[test]
fn fastopen_client_sends_data_on_the_syn_with_the_cached_cookie() {
    // RFC 7413 4.2.1: the SYN carries the cookie and "any data up to the cached server MSS";
    // the MSS counts the data after the options (RFC 9293 3.7.1): 100 - 16 = 84 octets. The
    // SYN waits for the application's first SEND (as with TCP_FASTOPEN_CONNECT).
    let cookie = [3u8; 8];
    let mut b = fastopen_client(&plain(), cached(&cookie, Some(100)));
    b.none();
    assert_eq!(b.tcb.poll_timeout(), None, "nothing sent, nothing timed");
    assert_eq!(b.state(), State::SynSent);
    let data: Vec<u8> = (0..200u8).collect();
    assert_eq!(b.tcb.send(b.now, &data), Ok(200));
    let syn = b.one();
    check(&syn, "S", ISS, None);
    assert_eq!(syn.options, vec![TcpOption::Mss(1460), tfo(&cookie)]);
    assert_eq!(syn.payload, data[..84]);
    // The server took the data: the SYN-ACK acknowledges it; the rest follows at once.
    b.at(10);
    assert_eq!(b.input(pkt("SA", PEER, ISS + 85)), vec![Rule::Ss6]);
    let rest = b.one();
    check(&rest, "PA", ISS + 85, Some(PEER + 1));
    assert_eq!(rest.payload, data[84..]);
}

#[test]
fn fastopen_client_without_a_cached_mss_uses_the_default() {
    // RFC 7413 4.2.1: "or default 536 bytes" (the IPv4 default MSS, RFC 9293 3.7.1).
    let mut b = fastopen_client(&plain(), cached(&[3; 4], None));
    b.tcb.send(b.now, &[b'x'; 1000]).unwrap();
    let syn = b.one();
    assert_eq!(
        syn.payload.len(),
        536 - 12,
        "MSS 4 + option 6, padded to 12"
    );
}

#[test]
fn fastopen_client_resends_syn_data_the_syn_ack_did_not_acknowledge() {
    // RFC 7413 4.2.2 step 2: "The client SHOULD retransmit any unacknowledged data in the first
    // ACK packet": a SYN-ACK acknowledging only the SYN (the server did not take the data)
    // draws the data at once, acknowledging the SYN-ACK, and only once.
    let cookie = [3u8; 8];
    let mut b = fastopen_client(&plain(), cached(&cookie, None));
    b.tcb.send(b.now, b"hello").unwrap();
    assert_eq!(b.one().payload, b"hello");
    b.at(10);
    let newer = [4u8; 8];
    let synack = with_opts(pkt("SA", PEER, ISS + 1), vec![tfo(&newer)]);
    assert_eq!(b.input(synack), vec![Rule::Ss6]);
    let again = b.one();
    check(&again, "PA", ISS + 1, Some(PEER + 1));
    assert_eq!(again.payload, b"hello");
    // 4.2.2 step 1: the new cookie replaces the old one.
    assert_eq!(b.tcb.take_fastopen_cookie(), cached(&newer, None));
    b.at(20);
    b.input(pkt("A", PEER + 1, ISS + 6));
    b.none();
    assert_eq!(b.tcb.poll_timeout(), None, "all acknowledged");
}

#[test]
fn fastopen_client_resends_a_partly_acknowledged_syn_payload_from_snd_una() {
    let mut b = fastopen_client(&plain(), cached(&[3; 8], None));
    b.tcb.send(b.now, b"0123456789").unwrap();
    assert_eq!(b.one().payload, b"0123456789");
    b.input(pkt("SA", PEER, ISS + 5));
    let again = b.one();
    check(&again, "PA", ISS + 5, Some(PEER + 1));
    assert_eq!(again.payload, b"456789");
}

#[test]
fn fastopen_client_retransmits_the_syn_without_data_or_option() {
    // RFC 7413 4.2.1: "when the SYN timer fires, the client SHOULD retransmit a SYN packet
    // without data and Fast Open options"; the data goes after the handshake.
    let mut b = fastopen_client(&plain(), cached(&[3; 8], None));
    b.tcb.send(b.now, b"hello").unwrap();
    assert_eq!(b.one().payload, b"hello");
    b.fire();
    let syn = b.one();
    check(&syn, "S", ISS, None);
    assert_eq!(syn.options, vec![TcpOption::Mss(1460)]);
    assert!(syn.payload.is_empty());
    b.fire();
    let syn = b.one();
    assert_eq!((syn.options.len(), syn.payload.len()), (1, 0), "{syn:?}");
    assert_eq!(b.input(pkt("SA", PEER, ISS + 1)), vec![Rule::Ss6]);
    let data = b.one();
    check(&data, "PA", ISS + 1, Some(PEER + 1));
    assert_eq!(data.payload, b"hello");
    // A cookie request's SYN is retransmitted without its option too.
    let mut b = fastopen_client(&plain(), None);
    assert_eq!(b.one().options.len(), 2);
    b.fire();
    assert_eq!(b.one().options, vec![TcpOption::Mss(1460)]);
}

#[test]
fn fastopen_client_without_option_space_falls_back_to_the_three_way_handshake() {
    // RFC 7413 4.2.1 step 1a: "If the SYN packet does not have enough option space for the
    // Fast Open option, abort TFO and fall back to the regular 3WHS": 24 octets of MSS, window
    // scale, SACK-permitted and timestamps leave no room for an 18-octet option.
    let config = Config {
        window_scale: Some(7),
        timestamps: true,
        sack: true,
        ..plain()
    };
    let mut b = fastopen_client(&config, cached(&[3; 16], None));
    b.tcb.send(b.now, b"hello").unwrap();
    let syn = b.one();
    assert!(syn.payload.is_empty());
    assert!(!syn
        .options
        .iter()
        .any(|o| matches!(o, TcpOption::Unknown { .. })));
    // An 8-octet cookie fits: 24 + 10.
    let mut b = fastopen_client(&config, cached(&[3; 8], None));
    b.tcb.send(b.now, b"hello").unwrap();
    let syn = b.one();
    assert_eq!(syn.payload, b"hello");
    assert_eq!(syn.options.last(), Some(&tfo(&[3; 8])));
}

#[test]
fn fastopen_client_shutdown_before_any_data_sends_the_waiting_syn() {
    let mut b = fastopen_client(&plain(), cached(&[3; 8], None));
    b.none();
    b.tcb.shutdown_write(b.now).unwrap();
    let syn = b.one();
    check(&syn, "S", ISS, None);
    assert!(syn.payload.is_empty());
}

// ---------------------------------------------------------------- tail loss probe (RFC 8985 7)

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// ESTABLISHED through a passive open with SACK, MSS 1000, Nagle off and `rack_tlp` as given;
/// the handshake's ACK comes 100 ms after the SYN-ACK, so SRTT = 100 ms (RFC 6298 2.2) and the
/// RTO is its 1 s floor (2.4).
fn passive_tlp(config: Config) -> Bench {
    passive_tlp_after(config, 100)
}

/// ESTABLISHED through a passive open with SACK, MSS 1000 and Nagle off, the handshake's ACK
/// coming `rtt_ms` after the SYN-ACK: SRTT is that, the RTO 1 s (its floor, or `rto_max`).
fn passive_tlp_after(config: Config, rtt_ms: u64) -> Bench {
    let config = Config {
        nagle: false,
        ..config
    };
    let syn = with_opts(
        pkt("S", PEER, 0),
        vec![TcpOption::Mss(1000), TcpOption::SackPermitted],
    );
    let mut b = Bench {
        tcb: Tcb::accept_syn(&config, tuple_v4(), s(ISS), &syn, Instant::ZERO),
        now: Instant::ZERO,
    };
    b.one();
    b.at(rtt_ms);
    b.input(pkt("A", PEER + 1, ISS + 1));
    assert_eq!(b.tcb.info().srtt, Some(ms(rtt_ms)));
    assert_eq!(b.tcb.info().rto, ms(1000));
    b
}

fn tlp_config() -> Config {
    Config {
        sack: true,
        rack_tlp: true,
        ..plain()
    }
}

/// RACK-TLP configured off, and configured on where SACK is not negotiated.
fn rack_tlp_inactive() -> [Config; 2] {
    [
        Config {
            rack_tlp: false,
            ..tlp_config()
        },
        Config {
            sack: false,
            ..tlp_config()
        },
    ]
}

/// (sequence number, length) of each segment, relative to ISS.
fn seq_lens(out: &[TcpRepr]) -> Vec<(u32, usize)> {
    out.iter()
        .map(|seg| (seg.seq.0 - ISS, seg.payload.len()))
        .collect()
}

#[test]
fn tlp_probes_the_last_segment_after_two_srtt_then_rearms_the_rto() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 2000]).unwrap();
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000), (1001, 1000)]);
    // RFC 8985 7.2: PTO = 2 * SRTT with more than one segment in flight.
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_millis(300)));
    assert_eq!(b.fire(), Instant::from_millis(300));
    // 7.3: nothing new to send, so the highest segment sent goes again (PSH as first sent).
    let probe = b.one();
    assert_eq!(seq_lens(std::slice::from_ref(&probe)), vec![(1001, 1000)]);
    assert!(probe.flags.contains(TcpFlags::PSH));
    // 7.3: the RTO timer, not the PTO, is armed: RTO = 1 s from the probe.
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_millis(1300)));
    assert_eq!(b.fire(), Instant::from_millis(1300));
    // RFC 6298 5.4: the RTO resends the first unacknowledged segment (cwnd = 1 SMSS).
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
}

#[test]
fn tlp_waits_for_a_delayed_ack_when_one_segment_is_in_flight() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 500]).unwrap();
    assert_eq!(seq_lens(&b.out()), vec![(1, 500)]);
    // RFC 8985 7.2: FlightSize is one segment, PTO = 2 * SRTT + WCDelAckT.
    assert_eq!(b.fire(), Instant::from_millis(100 + 200 + 200));
    assert_eq!(seq_lens(&b.out()), vec![(1, 500)]);
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_millis(1500)));
}

#[test]
fn tlp_due_after_the_rto_goes_in_its_place() {
    // An RTO ceiling of 1 s below PTO = 2 * 600 ms: RFC 8985 7.2 sends the probe at the RTO's
    // time instead ("PTO = TCP_RTO_expiration() - Now()"), and the RTO runs from the probe.
    let config = Config {
        rto_max: ms(1000),
        ..tlp_config()
    };
    let mut b = passive_tlp_after(config, 600);
    b.tcb.send(b.now, &[7u8; 2000]).unwrap();
    assert_eq!(b.out().len(), 2);
    assert_eq!(b.fire(), Instant::from_millis(1600));
    assert_eq!(
        seq_lens(&b.out()),
        vec![(1001, 1000)],
        "a probe, not the RTO's resend"
    );
    assert_eq!(
        b.tcb.info().rto,
        ms(1000),
        "no RTO backoff: the RTO did not fire"
    );
    assert_eq!(b.fire(), Instant::from_millis(2600));
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
}

#[test]
fn tlp_sends_new_data_when_the_peer_window_allows_beyond_cwnd() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 6000]).unwrap();
    // The initial window (RFC 5681 3.1, 4 * 1000) holds the rest back.
    assert_eq!(b.out().len(), 4);
    assert_eq!(b.fire(), Instant::from_millis(300));
    // RFC 8985 7.3: previously unsent data, one SMSS, though cwnd is full.
    assert_eq!(seq_lens(&b.out()), vec![(4001, 1000)]);
    // One probe per episode (7.1): the next timer is the RTO, which resends from SND.UNA.
    assert_eq!(b.fire(), Instant::from_millis(1300));
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
}

#[test]
fn tlp_one_probe_per_episode_until_its_ack() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 3000]).unwrap();
    assert_eq!(b.out().len(), 3);
    assert_eq!(b.fire(), Instant::from_millis(300));
    assert_eq!(seq_lens(&b.out()), vec![(2001, 1000)]);
    // An ACK below TLP.end_seq does not open a new episode: no PTO, only the RTO.
    b.at(350);
    b.input(pkt("A", PEER + 1, ISS + 1001));
    b.none();
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_millis(1350)));
    // The ACK of the probe ends the episode (7.4); new data starts another, with its PTO.
    b.at(400);
    b.input(pkt("A", PEER + 1, ISS + 3001));
    assert_eq!(
        b.tcb.poll_timeout(),
        None,
        "nothing in flight, nothing armed"
    );
    b.tcb.send(b.now, &[7u8; 2000]).unwrap();
    assert_eq!(b.out().len(), 2);
    let pto = b.tcb.poll_timeout().unwrap();
    assert!(
        pto < Instant::from_millis(1400),
        "a PTO before the RTO: {pto:?}"
    );
    b.fire();
    assert_eq!(seq_lens(&b.out()), vec![(4001, 1000)]);
}

#[test]
fn tlp_only_when_configured_and_sack_negotiated() {
    for config in rack_tlp_inactive() {
        let mut b = passive_tlp(config);
        b.tcb.send(b.now, &[7u8; 2000]).unwrap();
        assert_eq!(b.out().len(), 2);
        // Only the RTO: at 1 s, from SND.UNA.
        assert_eq!(b.fire(), Instant::from_millis(1100));
        assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
    }
}

#[test]
fn tlp_not_in_fast_recovery() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 4000]).unwrap();
    assert_eq!(b.out().len(), 4);
    // Three duplicate ACKs SACKing the last three segments: fast retransmit (RFC 5681 3.2).
    b.at(150);
    for right in [2001, 3001, 4001] {
        let sack = vec![TcpOption::Sack(vec![SackBlock {
            left: s(ISS + 1001),
            right: s(ISS + right),
        }])];
        b.input(with_opts(pkt("A", PEER + 1, ISS + 1), sack));
    }
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
    // The PTO armed when the data went out (300 ms) is stopped in fast recovery (7.1): the
    // next timer is the RTO armed with the data, and it is not moved.
    assert_eq!(b.fire(), Instant::from_millis(1100));
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
}

#[test]
fn tlp_due_but_answered_by_an_ack_is_not_sent() {
    // The PTO fired, and an ACK of new data arrived before the stack was polled: the tail is
    // answered, the probe is not sent (7.1 restarts the PTO on such an ACK).
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 2000]).unwrap();
    assert_eq!(b.out().len(), 2);
    b.at(300);
    b.tcb.handle_timeout(b.now);
    b.input(pkt("A", PEER + 1, ISS + 1001));
    b.none();
    let pto = b.tcb.poll_timeout().unwrap();
    assert!(
        pto < Instant::from_millis(1300),
        "a new PTO, not the RTO: {pto:?}"
    );
    assert_eq!(b.fire(), pto);
    assert_eq!(seq_lens(&b.out()), vec![(1001, 1000)]);
}

#[test]
fn tlp_a_sack_after_arming_does_not_cancel_the_probe() {
    // RFC 8985 7.1's "segments have been SACKed" is a condition for starting the timer; an
    // armed PTO still fires (7.3), as Linux's does: the peer SACKed the first segment only.
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 2000]).unwrap();
    assert_eq!(b.out().len(), 2);
    b.at(101);
    let sack = vec![TcpOption::Sack(vec![SackBlock {
        left: s(ISS + 1),
        right: s(ISS + 1001),
    }])];
    b.input(with_opts(pkt("A", PEER + 1, ISS + 1), sack));
    b.none();
    assert_eq!(b.fire(), Instant::from_millis(300));
    assert_eq!(seq_lens(&b.out()), vec![(1001, 1000)]);
}

#[test]
fn tlp_new_data_probe_carries_the_fin_only_with_the_last_octets() {
    // RFC 8985 7.3's new data is what the sender would send next: with the rest of the data
    // and a FIN queued (CLOSE, RFC 9293 3.10.4), the FIN rides on the segment that ends it.
    for (written, probe_fin) in [(5000usize, true), (6000, false)] {
        let mut b = passive_tlp(tlp_config());
        b.tcb.send(b.now, &vec![7u8; written]).unwrap();
        b.tcb.shutdown_write(b.now).unwrap();
        assert_eq!(b.out().len(), 4, "the initial window");
        assert_eq!(b.fire(), Instant::from_millis(300));
        let probe = b.one();
        assert_eq!(seq_lens(std::slice::from_ref(&probe)), vec![(4001, 1000)]);
        assert_eq!(probe.flags.fin(), probe_fin, "{written} octets: {probe:?}");
    }
}

#[test]
fn tlp_last_segment_probe_repeats_its_fin_and_psh_as_sent() {
    // RFC 8985 7.3 "retransmit the highest-sequence segment sent so far": the same octets and
    // control bits as first sent. Data and FIN in one segment:
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 2000]).unwrap();
    b.tcb.shutdown_write(b.now).unwrap();
    let out = b.out();
    assert_eq!(seq_lens(&out), vec![(1, 1000), (1001, 1000)]);
    assert!(out[1].flags.fin());
    b.fire();
    let probe = b.one();
    assert_eq!(seq_lens(std::slice::from_ref(&probe)), vec![(1001, 1000)]);
    assert!(
        probe.flags.fin() && probe.flags.contains(TcpFlags::PSH),
        "{probe:?}"
    );

    // A FIN alone, after the data was acknowledged:
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 1000]).unwrap();
    assert_eq!(b.out().len(), 1);
    b.at(200);
    b.input(pkt("A", PEER + 1, ISS + 1001));
    b.tcb.shutdown_write(b.now).unwrap();
    let fin = b.one();
    assert!(fin.flags.fin() && fin.payload.is_empty());
    b.fire();
    let probe = b.one();
    assert_eq!((probe.seq, probe.payload.len()), (s(ISS + 1001), 0));
    assert!(
        probe.flags.fin() && !probe.flags.contains(TcpFlags::PSH),
        "{probe:?}"
    );

    // Data the peer's window holds back: the last segment sent does not end what was written,
    // so it has no PSH, and no new data can be the probe.
    let mut b = passive_tlp(tlp_config());
    b.input(with_win(pkt("A", PEER + 1, ISS + 1), 2000));
    b.tcb.send(b.now, &[7u8; 3000]).unwrap();
    assert_eq!(b.out().len(), 2);
    b.fire();
    let probe = b.one();
    assert_eq!(seq_lens(std::slice::from_ref(&probe)), vec![(1001, 1000)]);
    assert!(
        !probe.flags.fin() && !probe.flags.contains(TcpFlags::PSH),
        "{probe:?}"
    );
}

// ------------------------------------------------------ RACK loss detection (RFC 8985 6)

/// An ACK of ISS + `ack` with these SACK blocks (relative to ISS), the first written first.
fn ack_sacking(ack: u32, blocks: &[(u32, u32)]) -> TcpRepr {
    let blocks = blocks
        .iter()
        .map(|&(left, right)| SackBlock {
            left: s(ISS + left),
            right: s(ISS + right),
        })
        .collect();
    with_opts(pkt("A", PEER + 1, ISS + ack), vec![TcpOption::Sack(blocks)])
}

/// A duplicate ACK of SND.UNA (ISS + 1) whose SACK block is ISS + `left` .. ISS + `right`.
fn dup_sack(left: u32, right: u32) -> TcpRepr {
    ack_sacking(1, &[(left, right)])
}

#[test]
fn rack_marks_a_segment_lost_once_the_reordering_window_has_passed() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 4000]).unwrap();
    assert_eq!(b.out().len(), 4);
    // 1001..2001, sent at 100 ms with 1..1001, is SACKed at 150 ms: RACK.rtt = RACK.min_RTT =
    // 50 ms, reo_wnd = min_RTT / 4 (8985 6.2 step 4: one SACKed segment, no recovery). 1..1001
    // is lost at 100 + 50 + 12.5 ms: the reordering timer (6.3) waits for it.
    b.at(150);
    b.input(dup_sack(1001, 2001));
    b.none();
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_micros(162_500)));
    assert_eq!(b.fire(), Instant::from_micros(162_500));
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
    // Fast recovery began (RFC 8985 9.3 with RFC 5681 3.2): ssthresh is half the flight.
    assert_eq!(b.tcb.ssthresh, 2000);
    assert!(b.tcb.recover.is_some());
    // Nothing else is lost: 2001..4001 went out after the delivered segment (same instant,
    // later), and a duplicate ACK with the same blocks finds nothing new.
    b.at(170);
    b.input(dup_sack(1001, 2001));
    b.none();
}

#[test]
fn rack_with_three_segments_sacked_needs_no_reordering_window() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 4000]).unwrap();
    assert_eq!(b.out().len(), 4);
    // 8985 6.2 step 4: DupThresh segments SACKed and no reordering seen: reo_wnd = 0, so the
    // ACK that SACKs the third finds 1..1001 lost (sent before them) at once.
    b.at(150);
    b.input(dup_sack(3001, 4001));
    b.none();
    b.input(ack_sacking(1, &[(1001, 2001), (3001, 4001)]));
    b.none();
    b.input(dup_sack(1001, 4001));
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
}

#[test]
fn rack_reordering_seen_keeps_the_window_in_recovery() {
    // 3001..4001 SACKed, then 1001..2001 (sent before it, never resent): reordering (8985 6.2
    // step 3). From then on reo_wnd stays min_RTT / 4 even with three SACKed (step 4).
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 4000]).unwrap();
    assert_eq!(b.out().len(), 4);
    b.at(150);
    b.input(dup_sack(3001, 4001));
    b.input(dup_sack(1001, 4001));
    assert!(b.tcb.rack.reordering_seen);
    // Not the third duplicate ACK yet; 1..1001 is due at 100 + 50 + 12.5 ms.
    b.none();
    assert_eq!(b.tcb.poll_timeout(), Some(Instant::from_micros(162_500)));
}

#[test]
fn rack_finds_a_lost_retransmission_before_the_rto() {
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 4000]).unwrap();
    assert_eq!(b.out().len(), 4);
    b.at(150);
    b.input(dup_sack(1001, 2001));
    b.fire();
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
    // The resend (162.5 ms) is lost too. The peer SACKs the rest, and more data goes out as
    // duplicate ACKs inflate cwnd (RFC 5681 3.2 step 4).
    b.at(170);
    b.tcb.send(b.now, &[7u8; 1000]).unwrap();
    b.input(dup_sack(1001, 3001));
    b.input(dup_sack(1001, 4001));
    b.input(dup_sack(1001, 4001));
    b.none();
    b.input(dup_sack(1001, 4001));
    assert_eq!(seq_lens(&b.out()), vec![(4001, 1000)]);
    // 4001..5001, sent at 170 ms after the resend, is SACKed at 220 ms: the resend is lost
    // (in recovery reo_wnd is 0: 162.5 + 50 =< 220), found by RACK and not by the RTO (1.1 s).
    b.at(220);
    b.input(dup_sack(1001, 5001));
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
    // MUST-13 (8985 9.3, without PRR): a lost retransmission is another congestion response.
    assert_eq!((b.tcb.ssthresh, b.tcb.cwnd), (2500, 2500));
    // The ACK of everything ends recovery; no third resend.
    b.at(270);
    b.input(pkt("A", PEER + 1, ISS + 5001));
    b.none();
    assert!(b.tcb.recover.is_none());
}

#[test]
fn rack_a_partial_ack_does_not_resend_what_rack_resent() {
    // Two holes, both found lost by RACK and resent at once; the partial ACK of the first
    // (RFC 6582) must not send the second again (8985 6.2 finds the holes, not the ACK).
    let mut b = passive_tlp(tlp_config());
    b.tcb.send(b.now, &[7u8; 4000]).unwrap();
    assert_eq!(b.out().len(), 4);
    b.at(150);
    b.input(ack_sacking(1, &[(3001, 4001), (1001, 2001)]));
    b.fire();
    assert_eq!(seq_lens(&b.out()), vec![(1, 1000), (2001, 1000)]);
    b.at(200);
    b.input(ack_sacking(2001, &[(3001, 4001)]));
    b.none();
}

#[test]
fn rack_only_when_configured_and_sack_negotiated() {
    for config in rack_tlp_inactive() {
        let mut b = passive_tlp(config);
        b.tcb.send(b.now, &[7u8; 4000]).unwrap();
        assert_eq!(b.out().len(), 4);
        b.at(150);
        b.input(dup_sack(1001, 2001));
        b.none();
        assert!(b.tcb.rack.sent.is_empty());
        // Only the RTO (1 s after the data).
        assert_eq!(b.fire(), Instant::from_millis(1100));
        assert_eq!(seq_lens(&b.out()), vec![(1, 1000)]);
    }
}

// ------------------------------------------------ PLPMTUD black-hole detection (RFC 4821 7.7)

/// ESTABLISHED through an active open with the peer's MSS 1460, Nagle off, and
/// `plpmtud_black_hole` as given; 1460 octets in flight. Returns the lengths of the original
/// and of each resend after `timeouts` retransmission timeouts without an ACK.
fn resend_lengths(tuple: FourTuple, black_hole: bool, timeouts: usize) -> Vec<usize> {
    let config = Config {
        nagle: false,
        plpmtud_black_hole: black_hole,
        r2: Duration::from_secs(3600),
        ..plain()
    };
    let mut b = active_mss_1460_with(config, tuple);
    let mss = usize::from(b.tcb.info().snd_mss);
    b.tcb.send(b.now, &vec![7u8; mss]).unwrap();
    let mut lengths = vec![b.one().payload.len()];
    for _ in 0..timeouts {
        b.fire();
        let seg = b.one();
        assert_eq!(seg.seq, s(ISS + 1), "every resend starts at SND.UNA");
        lengths.push(seg.payload.len());
    }
    lengths
}

#[test]
fn plpmtud_the_r1th_timeout_lowers_the_path_mtu_to_search_low_then_halves_it() {
    // IPv4, MTU 1500: 1460 octets; R1 = 3, so the third resend is 1024 - 40 = 984 octets,
    // then the MTU halves per timeout (512, 256, 128, 68: 472, 216, 88, 28 octets) and stays
    // at RFC 4821 7.7's 68-octet floor.
    assert_eq!(
        resend_lengths(tuple_v4(), true, 8),
        [1460, 1460, 1460, 984, 472, 216, 88, 28, 28]
    );
    // IPv6: search_low is the minimum MTU 1280 (1220 octets), which is also the floor.
    assert_eq!(
        resend_lengths(tuple_v6(), true, 5),
        [1440, 1440, 1440, 1220, 1220, 1220]
    );
    // Off: full size for ever.
    assert_eq!(resend_lengths(tuple_v4(), false, 5), [1460; 6]);
}

#[test]
fn plpmtud_syn_timeouts_are_no_black_hole() {
    // A SYN is small: its timeouts say nothing about the path MTU, and the data that follows
    // the handshake goes at full size.
    let config = Config {
        nagle: false,
        plpmtud_black_hole: true,
        ..plain()
    };
    let mut b = Bench {
        tcb: Tcb::connect(&config, tuple_v4(), s(ISS), Instant::ZERO),
        now: Instant::ZERO,
    };
    b.one();
    for _ in 0..4 {
        b.fire();
        check(&b.one(), "S", ISS, None);
    }
    b.input(with_opts(
        pkt("SA", PEER, ISS + 1),
        vec![TcpOption::Mss(1460)],
    ));
    b.one();
    b.tcb.send(b.now, &[7u8; 1460]).unwrap();
    assert_eq!(b.one().payload.len(), 1460);
}
