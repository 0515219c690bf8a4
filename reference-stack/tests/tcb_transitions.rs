//! An RFC-derived test-suite for the `Tcb` state machine.
//!
//! Every expectation here comes from RFC 9293 (3.4 .. 3.10.8) and the rule table
//! `shared/rfc/segment_arrives_cells.tsv` (plus RFC 6298, 2018, 5681, 6191 where named), not from
//! what the implementation happens to do. There is one test per transition of the state diagram
//! (Figure 5 and Figures 7, 8, 11, 12, 13: `diagram_*`), one or more per SEGMENT ARRIVES rule id
//! (`ss*`, `sq*`, `rs*`, `sc*`, `sy*`, `ak*`, `ur*`, `tx*`, `fn*`, named after the rule), the
//! user calls of 3.10.2 .. 3.10.5, the timeouts of 3.10.8 (`timeout_*`), and properties over
//! arbitrary segment sequences (`arbitrary::*`). RST and SYN handling is checked under both
//! `RstPolicy::Rfc5961` and `RstPolicy::Rfc793`.
//!
//! The driver is a virtual peer: it feeds `TcpRepr`s to `Tcb::handle_segment` at a virtual
//! `Instant`, collects everything `poll_transmit` emits, and fires `handle_timeout` at
//! `poll_timeout()`. It keeps
//! its own idea of SND.NXT and RCV.NXT (from the segments exchanged), so the expected segments do
//! not come from the TCB under test.
//!
//! LISTEN and CLOSED (CL-*, LI-*) have no TCB; `Stack` handles them and is tested elsewhere.

use reference_stack::tcb::{Arrival, ConnError, ConnEvent, SegmentOutcome, Tcb};
use reference_stack::wire::{SeqNumber, TcpFlags, TcpOption, TcpRepr};
use reference_stack::{Config, Duration, FourTuple, Instant, RstPolicy, Rule, State};
use std::net::SocketAddr;

/// Our initial send sequence number and the peer's (far apart, so a mix-up shows).
const ISS: u32 = 1_000_000;
const IRS: u32 = 3_000_000_000;
const LOCAL_PORT: u16 = 80;
const REMOTE_PORT: u16 = 40_000;
/// The peer's window (no window scaling is negotiated in these tests).
const PEER_WND: u16 = 65_535;
const MSL: Duration = Duration::from_secs(120);
const T0: Instant = Instant::from_millis(1_000);

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags::FIN;
const RST: TcpFlags = TcpFlags::RST;
const URG: TcpFlags = TcpFlags::URG;

fn iss(n: u32) -> u32 {
    ISS.wrapping_add(n)
}

fn irs(n: u32) -> u32 {
    IRS.wrapping_add(n)
}

fn flags(a: TcpFlags, b: TcpFlags) -> TcpFlags {
    a | b
}

/// Plain segments, timely ACKs: no delayed ACK, no Nagle, no options beyond MSS, so that every
/// segment the RFC text describes is emitted at once and can be compared exactly.
fn config(policy: RstPolicy) -> Config {
    Config {
        rst_policy: policy,
        delayed_ack: None,
        nagle: false,
        timestamps: false,
        sack: false,
        window_scale: None,
        recv_buffer: 32 * 1024,
        send_buffer: 32 * 1024,
        msl: MSL,
        time_wait_reuse: false,
        isn_secret: Some([7; 16]),
        ..Config::default()
    }
}

fn tuple() -> FourTuple {
    FourTuple {
        local: SocketAddr::from(([192, 0, 2, 1], LOCAL_PORT)),
        remote: SocketAddr::from(([198, 51, 100, 2], REMOTE_PORT)),
    }
}

/// A segment from the peer. `ack` is only meaningful when `flags` has ACK.
fn seg(flags: TcpFlags, seq: u32, ack: u32) -> TcpRepr {
    TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: SeqNumber(seq),
        ack: SeqNumber(if flags.ack() { ack } else { 0 }),
        flags,
        reserved: 0,
        window: PEER_WND,
        urgent: 0,
        options: Vec::new(),
        padding: Vec::new(),
        payload: Vec::new(),
    }
}

trait SegExt {
    fn data(self, payload: &[u8]) -> Self;
    fn wnd(self, window: u16) -> Self;
    fn up(self, urgent: u16) -> Self;
    fn opt(self, option: TcpOption) -> Self;
}

impl SegExt for TcpRepr {
    fn data(mut self, payload: &[u8]) -> TcpRepr {
        self.payload = payload.to_vec();
        self
    }
    fn wnd(mut self, window: u16) -> TcpRepr {
        self.window = window;
        self
    }
    fn up(mut self, urgent: u16) -> TcpRepr {
        self.urgent = urgent;
        self
    }
    fn opt(mut self, option: TcpOption) -> TcpRepr {
        self.options.push(option);
        self
    }
}

fn show(s: &TcpRepr) -> String {
    format!(
        "<SEQ={}><ACK={}><CTL={}> len={} win={}",
        s.seq.0,
        s.ack.0,
        s.flags,
        s.payload.len(),
        s.window
    )
}

fn show_all(segs: &[TcpRepr]) -> String {
    let v: Vec<String> = segs.iter().map(show).collect();
    format!("[{}]", v.join(", "))
}

fn ids(o: &SegmentOutcome) -> String {
    let v: Vec<&str> = o.rules.iter().map(|r| r.id()).collect();
    v.join(",")
}

/// An expected outgoing segment: control bits (PSH is the sender's choice and is ignored), SEQ,
/// ACK when the ACK bit is expected, and the payload length.
#[derive(Debug, Clone, Copy)]
struct Want {
    flags: TcpFlags,
    seq: u32,
    ack: Option<u32>,
    len: usize,
}

fn want(flags: TcpFlags, seq: u32, ack: Option<u32>) -> Want {
    Want {
        flags,
        seq,
        ack,
        len: 0,
    }
}

fn check(got: &TcpRepr, w: Want, ctx: &str) {
    let ctl = got.flags & !TcpFlags::PSH;
    assert_eq!(ctl, w.flags, "{ctx}: control bits of {}", show(got));
    assert_eq!(got.seq.0, w.seq, "{ctx}: SEQ of {}", show(got));
    if let Some(ack) = w.ack {
        assert_eq!(got.ack.0, ack, "{ctx}: ACK of {}", show(got));
    }
    assert_eq!(
        got.payload.len(),
        w.len,
        "{ctx}: payload length of {}",
        show(got)
    );
    assert_eq!(
        (got.src_port, got.dst_port),
        (LOCAL_PORT, REMOTE_PORT),
        "{ctx}: ports"
    );
}

/// What holds for every segment the TCB sends, whatever the test.
fn well_formed(s: &TcpRepr) {
    // 3.1: the reserved bits must be zero in generated segments.
    assert_eq!(s.reserved, 0, "reserved bits set in {}", show(s));
    assert_eq!(
        (s.src_port, s.dst_port),
        (LOCAL_PORT, REMOTE_PORT),
        "ports of {}",
        show(s)
    );
    if !s.flags.syn() {
        // MUST-65: no MSS option on a non-SYN segment; RFC 7323 2.2 and RFC 2018 2: window
        // scale and SACK-permitted only on SYNs.
        for o in &s.options {
            assert!(
                !matches!(
                    o,
                    TcpOption::Mss(_) | TcpOption::WindowScale(_) | TcpOption::SackPermitted
                ),
                "SYN-only option {o:?} on {}",
                show(s)
            );
        }
    }
    if s.flags.rst() {
        assert!(
            !s.flags.syn() && !s.flags.fin(),
            "RST with SYN/FIN: {}",
            show(s)
        );
    }
}

fn assert_rule(o: &SegmentOutcome, rule: Rule, ctx: &str) {
    assert!(
        o.rules.contains(&rule),
        "{ctx}: rule {rule} not reported (got [{}])",
        ids(o)
    );
}

/// The virtual peer and the TCB under test.
struct Conn {
    tcb: Tcb,
    now: Instant,
    /// SND.NXT and RCV.NXT as the exchange so far defines them.
    snd_nxt: u32,
    rcv_nxt: u32,
    /// When timestamps are on: the next TSval the peer sends and the last TSval it saw from us.
    peer_tsval: Option<u32>,
    ts_echo: u32,
    /// For failure messages: which RST/SYN profile the TCB runs.
    policy: RstPolicy,
}

impl Conn {
    fn new(tcb: Tcb, cfg: &Config) -> Conn {
        Conn {
            tcb,
            now: T0,
            snd_nxt: iss(1),
            rcv_nxt: 0,
            peer_tsval: cfg.timestamps.then_some(100),
            ts_echo: 0,
            policy: cfg.rst_policy,
        }
    }

    /// SEGMENT ARRIVES with a matching security/compartment.
    fn feed(&mut self, seg: TcpRepr) -> SegmentOutcome {
        let seg = self.stamp(seg);
        self.tcb.handle_segment(self.now, &Arrival::new(&seg))
    }

    /// SEGMENT ARRIVES with a security/compartment mismatch (SS-5, SC-1, SC-2).
    fn feed_mismatch(&mut self, seg: TcpRepr) -> SegmentOutcome {
        let seg = self.stamp(seg);
        self.tcb.handle_segment(
            self.now,
            &Arrival {
                security_ok: false,
                ..Arrival::new(&seg)
            },
        )
    }

    /// Adds the peer's Timestamps option to every non-RST segment once timestamps are in use
    /// (RFC 7323 3.2).
    fn stamp(&mut self, mut seg: TcpRepr) -> TcpRepr {
        if let Some(tsval) = self.peer_tsval {
            if !seg.flags.rst()
                && !seg
                    .options
                    .iter()
                    .any(|o| matches!(o, TcpOption::Timestamps { .. }))
            {
                seg.options.push(TcpOption::Timestamps {
                    tsval,
                    tsecr: self.ts_echo,
                });
                self.peer_tsval = Some(tsval.wrapping_add(1));
            }
        }
        seg
    }

    /// Everything the TCB wants to send now.
    fn out(&mut self) -> Vec<TcpRepr> {
        let mut v = Vec::new();
        while let Some(s) = self.tcb.poll_transmit(self.now) {
            well_formed(&s);
            for o in &s.options {
                if let TcpOption::Timestamps { tsval, .. } = o {
                    self.ts_echo = *tsval;
                }
            }
            v.push(s);
            assert!(v.len() < 1000, "poll_transmit never returns None");
        }
        v
    }

    fn events(&mut self) -> Vec<ConnEvent> {
        let mut v = Vec::new();
        while let Some(e) = self.tcb.poll_event() {
            v.push(e);
            assert!(v.len() < 1000, "poll_event never returns None");
        }
        v
    }

    fn state(&self) -> State {
        self.tcb.state()
    }

    /// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, the reply of SQ-1, RS-1, SY-2, AK-1, AK-6, TX-1, FN-*.
    fn ack_now(&self) -> Want {
        want(ACK, self.snd_nxt, Some(self.rcv_nxt))
    }

    fn expect_one(&mut self, w: Want, ctx: &str) -> TcpRepr {
        let ctx = &format!("{ctx} [{:?}]", self.policy);
        let out = self.out();
        assert_eq!(
            out.len(),
            1,
            "{ctx}: expected exactly one segment, got {}",
            show_all(&out)
        );
        check(&out[0], w, ctx);
        out[0].clone()
    }

    fn expect_none(&mut self, ctx: &str) {
        let ctx = &format!("{ctx} [{:?}]", self.policy);
        let out = self.out();
        assert!(
            out.is_empty(),
            "{ctx}: expected no segment, got {}",
            show_all(&out)
        );
    }

    /// Zero segments, or only ACKs of the current RCV.NXT: for the places where the RFC lets an
    /// ACK be sent or not (MAY-13) or says nothing either way.
    fn expect_at_most_ack(&mut self, ctx: &str) {
        let ctx = &format!("{ctx} [{:?}]", self.policy);
        let w = self.ack_now();
        for s in self.out() {
            check(&s, w, ctx);
        }
    }

    fn assert_state(&self, st: State, ctx: &str) {
        assert_eq!(self.state(), st, "{ctx} [{:?}]: state", self.policy);
    }

    /// Sends `data` through SEND and checks the one data segment it produces.
    fn send_data(&mut self, data: &[u8]) {
        let n = self.tcb.send(self.now, data);
        assert_eq!(n, Ok(data.len()), "SEND of {} octets", data.len());
        let mut w = self.ack_now();
        w.len = data.len();
        let s = self.expect_one(
            w,
            "SEND segmentizes the buffer with a piggybacked ACK (3.10.2)",
        );
        assert_eq!(s.payload, data);
        self.snd_nxt = self.snd_nxt.wrapping_add(data.len() as u32);
    }

    fn recv_all(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.tcb.recv(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// Fires every timer due up to `now + d`, then sets the clock there.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        let mut fired = 0;
        while let Some(t) = self.tcb.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.tcb.handle_timeout(self.now);
            fired += 1;
            assert!(fired < 10_000, "timers keep firing without time passing");
        }
        self.now = end;
    }

    /// Fires the next timer and returns when it was due.
    fn fire(&mut self, ctx: &str) -> Instant {
        let t = self
            .tcb
            .poll_timeout()
            .unwrap_or_else(|| panic!("{ctx}: no timer armed"));
        self.now = self.now.max(t);
        self.tcb.handle_timeout(self.now);
        t
    }
}

// ---------------------------------------------------------------------------------------------
// Getting a TCB into each state. Each step checks the segment the RFC prescribes.

/// 3.10.1 active OPEN: <SEQ=ISS><CTL=SYN>, SYN-SENT.
fn syn_sent_with(cfg: &Config) -> Conn {
    let tcb = Tcb::connect(cfg, tuple(), SeqNumber(ISS), T0);
    let mut c = Conn::new(tcb, cfg);
    c.expect_one(
        want(SYN, ISS, None),
        "active OPEN sends <SEQ=ISS><CTL=SYN> (3.10.1)",
    );
    c.assert_state(State::SynSent, "after active OPEN");
    assert!(!c.tcb.is_passive(), "connect() is an active OPEN");
    c.events();
    c
}

fn syn_sent(p: RstPolicy) -> Conn {
    syn_sent_with(&config(p))
}

/// The peer's SYN as a listener sees it (LI-4).
fn peer_syn() -> TcpRepr {
    seg(SYN, IRS, 0).opt(TcpOption::Mss(1460))
}

/// LI-4: SYN-RECEIVED from a passive OPEN, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> sent.
fn syn_received_passive_with(cfg: &Config) -> Conn {
    let tcb = Tcb::accept_syn(cfg, tuple(), SeqNumber(ISS), &peer_syn(), T0);
    let mut c = Conn::new(tcb, cfg);
    c.rcv_nxt = irs(1);
    c.expect_one(
        want(flags(SYN, ACK), ISS, Some(irs(1))),
        "LI-4 sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>",
    );
    c.assert_state(State::SynReceived, "after LI-4");
    assert!(c.tcb.is_passive(), "accept_syn() is a passive OPEN");
    c.events();
    c
}

fn syn_received_passive(p: RstPolicy) -> Conn {
    syn_received_passive_with(&config(p))
}

/// SS-7 (simultaneous open): SYN-RECEIVED from an active OPEN.
fn syn_received_active(p: RstPolicy) -> Conn {
    let mut c = syn_sent(p);
    c.feed(seg(SYN, IRS, 0).opt(TcpOption::Mss(1460)));
    c.rcv_nxt = irs(1);
    c.expect_one(
        want(flags(SYN, ACK), ISS, Some(irs(1))),
        "SS-7 sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>",
    );
    c.assert_state(State::SynReceived, "after SS-7");
    c.events();
    c
}

/// SS-6: ESTABLISHED through an active OPEN; SND.NXT = ISS+1, RCV.NXT = IRS+1.
fn established_with(cfg: &Config) -> Conn {
    let mut c = syn_sent_with(cfg);
    c.feed(seg(flags(SYN, ACK), IRS, iss(1)).opt(TcpOption::Mss(1460)));
    c.rcv_nxt = irs(1);
    c.expect_one(
        c.ack_now(),
        "SS-6 sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
    );
    c.assert_state(State::Established, "after SS-6");
    c.events();
    c
}

fn established(p: RstPolicy) -> Conn {
    established_with(&config(p))
}

/// AK-2: ESTABLISHED through a passive OPEN.
fn established_passive(p: RstPolicy) -> Conn {
    let mut c = syn_received_passive(p);
    c.feed(seg(ACK, irs(1), iss(1)));
    c.expect_none("the ACK of our SYN needs no reply");
    c.assert_state(State::Established, "after AK-2");
    c.events();
    c
}

/// CLOSE in ESTABLISHED (3.10.4): FIN sent, FIN-WAIT-1; SND.NXT = ISS+2.
fn fin_wait_1_with(cfg: &Config) -> Conn {
    let mut c = established_with(cfg);
    assert_eq!(c.tcb.close(c.now), Ok(()), "CLOSE in ESTABLISHED");
    c.expect_one(
        want(flags(FIN, ACK), iss(1), Some(irs(1))),
        "CLOSE in ESTABLISHED sends FIN",
    );
    c.snd_nxt = iss(2);
    c.assert_state(State::FinWait1, "after CLOSE in ESTABLISHED");
    c.events();
    c
}

fn fin_wait_1(p: RstPolicy) -> Conn {
    fin_wait_1_with(&config(p))
}

/// AK-8: FIN-WAIT-2.
fn fin_wait_2_with(cfg: &Config) -> Conn {
    let mut c = fin_wait_1_with(cfg);
    c.feed(seg(ACK, irs(1), iss(2)));
    c.expect_none("the ACK of our FIN needs no reply");
    c.assert_state(State::FinWait2, "after AK-8");
    c.events();
    c
}

fn fin_wait_2(p: RstPolicy) -> Conn {
    fin_wait_2_with(&config(p))
}

/// FN-1: CLOSE-WAIT; RCV.NXT = IRS+2.
fn close_wait(p: RstPolicy) -> Conn {
    let mut c = established(p);
    c.feed(seg(flags(FIN, ACK), irs(1), iss(1)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-1 acknowledges the FIN");
    c.assert_state(State::CloseWait, "after FN-1");
    c.events();
    c
}

/// CLOSE in CLOSE-WAIT: FIN sent, LAST-ACK.
fn last_ack(p: RstPolicy) -> Conn {
    let mut c = close_wait(p);
    assert_eq!(c.tcb.close(c.now), Ok(()), "CLOSE in CLOSE-WAIT");
    c.expect_one(
        want(flags(FIN, ACK), iss(1), Some(irs(2))),
        "CLOSE in CLOSE-WAIT sends FIN",
    );
    c.snd_nxt = iss(2);
    c.assert_state(State::LastAck, "after CLOSE in CLOSE-WAIT");
    c.events();
    c
}

/// FN-3: CLOSING (the peer's FIN crossed ours).
fn closing(p: RstPolicy) -> Conn {
    let mut c = fin_wait_1(p);
    c.feed(seg(flags(FIN, ACK), irs(1), iss(1)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-3 acknowledges the FIN");
    c.assert_state(State::Closing, "after FN-3");
    c.events();
    c
}

/// FN-4: TIME-WAIT, entered at `T0`.
fn time_wait_with(cfg: &Config) -> Conn {
    let mut c = fin_wait_2_with(cfg);
    c.feed(seg(flags(FIN, ACK), irs(1), iss(2)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-4 acknowledges the FIN");
    c.assert_state(State::TimeWait, "after FN-4");
    c.events();
    c
}

fn time_wait(p: RstPolicy) -> Conn {
    time_wait_with(&config(p))
}

const POLICIES: [RstPolicy; 2] = [RstPolicy::Rfc5961, RstPolicy::Rfc793];

// ---------------------------------------------------------------------------------------------
// The state diagram (RFC 9293 Figure 5), one test per edge the `Tcb` API can drive.

#[test]
fn diagram_closed_to_syn_sent_on_active_open() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let info = c.tcb.info();
    // 3.10.1: SND.UNA <- ISS, SND.NXT <- ISS+1.
    assert_eq!(info.iss, SeqNumber(ISS));
    assert_eq!(info.snd_una, SeqNumber(ISS));
    assert_eq!(info.snd_nxt, SeqNumber(iss(1)));
    assert_eq!(c.tcb.tuple(), tuple());
    assert!(!c.tcb.is_closed());
    c.expect_none("the SYN is sent once");
}

#[test]
fn diagram_listen_to_syn_received_on_syn() {
    let c = syn_received_passive(RstPolicy::Rfc5961);
    let info = c.tcb.info();
    // 3.10.7.2: RCV.NXT <- SEG.SEQ+1, IRS <- SEG.SEQ, SND.NXT <- ISS+1, SND.UNA <- ISS.
    assert_eq!(info.irs, SeqNumber(IRS));
    assert_eq!(info.rcv_nxt, SeqNumber(irs(1)));
    assert_eq!(info.snd_una, SeqNumber(ISS));
    assert_eq!(info.snd_nxt, SeqNumber(iss(1)));
}

#[test]
fn diagram_syn_sent_to_closed_on_close() {
    // 3.10.4 SYN-SENT: delete the TCB. Nothing is sent.
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let _ = c.tcb.close(c.now);
    c.expect_none("CLOSE in SYN-SENT sends nothing");
    assert!(c.tcb.is_closed(), "CLOSE in SYN-SENT deletes the TCB");
    c.assert_state(State::Closed, "CLOSE in SYN-SENT");
}

#[test]
fn diagram_syn_sent_to_established_on_syn_ack() {
    for p in POLICIES {
        let mut c = syn_sent(p);
        let o = c.feed(seg(flags(SYN, ACK), IRS, iss(1)).wnd(4000));
        c.rcv_nxt = irs(1);
        c.expect_one(c.ack_now(), "SS-6: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
        c.assert_state(State::Established, "SS-6");
        assert_rule(&o, Rule::Ss6, "SS-6");
        let info = c.tcb.info();
        assert_eq!(info.irs, SeqNumber(IRS));
        assert_eq!(
            info.snd_una,
            SeqNumber(iss(1)),
            "SND.UNA advanced to SEG.ACK"
        );
        assert_eq!(info.rcv_nxt, SeqNumber(irs(1)));
        assert_eq!(info.snd_wnd, 4000, "SND.WND from the SYN,ACK");
        assert!(c.events().contains(&ConnEvent::Connected));
    }
}

#[test]
fn diagram_syn_sent_to_syn_received_on_syn() {
    for p in POLICIES {
        let mut c = syn_sent(p);
        let o = c.feed(seg(SYN, IRS, 0).wnd(3000));
        c.rcv_nxt = irs(1);
        c.expect_one(
            want(flags(SYN, ACK), ISS, Some(irs(1))),
            "SS-7: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>",
        );
        c.assert_state(State::SynReceived, "SS-7");
        assert_rule(&o, Rule::Ss7, "SS-7");
        let info = c.tcb.info();
        // SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ.
        assert_eq!(info.snd_wnd, 3000);
        assert_eq!(info.snd_wl1, SeqNumber(IRS));
        assert_eq!(info.irs, SeqNumber(IRS));
        assert!(
            !c.tcb.is_passive(),
            "MUST-11: SYN-RECEIVED remembers the active OPEN"
        );
    }
}

#[test]
fn diagram_syn_received_to_established_on_ack_of_syn() {
    for p in POLICIES {
        let mut c = syn_received_passive(p);
        let o = c.feed(seg(ACK, irs(1), iss(1)).wnd(2000));
        c.expect_none("AK-2 sends nothing");
        c.assert_state(State::Established, "AK-2");
        assert_rule(&o, Rule::Ak2, "AK-2");
        let info = c.tcb.info();
        // SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK.
        assert_eq!(info.snd_wnd, 2000);
        assert_eq!(info.snd_wl1, SeqNumber(irs(1)));
        assert_eq!(info.snd_wl2, SeqNumber(iss(1)));
        assert_eq!(info.snd_una, SeqNumber(iss(1)));
        assert!(c.events().contains(&ConnEvent::Connected));
    }
}

#[test]
fn diagram_syn_received_to_listen_on_rst() {
    for p in POLICIES {
        let mut c = syn_received_passive(p);
        let o = c.feed(seg(RST, irs(1), 0));
        c.expect_none("RS-2 sends nothing");
        assert_rule(&o, Rule::Rs2, "RS-2");
        assert!(
            c.tcb.returned_to_listen(),
            "RS-2: a passive OPEN returns to LISTEN"
        );
        c.assert_state(State::Listen, "RS-2");
    }
}

#[test]
fn diagram_syn_received_to_fin_wait_1_on_close() {
    // 3.10.4 SYN-RECEIVED: no SENDs issued and nothing pending: form a FIN, FIN-WAIT-1.
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    assert_eq!(c.tcb.close(c.now), Ok(()));
    c.expect_one(
        want(flags(FIN, ACK), iss(1), Some(irs(1))),
        "CLOSE in SYN-RECEIVED sends FIN",
    );
    c.assert_state(State::FinWait1, "CLOSE in SYN-RECEIVED");
}

#[test]
fn diagram_established_to_fin_wait_1_on_close() {
    let c = fin_wait_1(RstPolicy::Rfc5961);
    assert_eq!(
        c.tcb.info().snd_nxt,
        SeqNumber(iss(2)),
        "the FIN occupies one sequence number"
    );
}

#[test]
fn diagram_established_to_close_wait_on_fin() {
    for p in POLICIES {
        let mut c = established(p);
        let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(1)));
        c.rcv_nxt = irs(2);
        c.expect_one(c.ack_now(), "FN-1 acknowledges the FIN");
        c.assert_state(State::CloseWait, "FN-1");
        assert_rule(&o, Rule::Fn1, "FN-1");
        assert!(
            c.events().contains(&ConnEvent::PeerClosed),
            "FN-1 signals \"connection closing\""
        );
        // The API reports end of stream as Ok(0) (RECEIVE in CLOSE-WAIT with nothing on hand).
        assert_eq!(c.tcb.recv(&mut [0; 16]), Ok(0));
    }
}

#[test]
fn diagram_fin_wait_1_to_fin_wait_2_on_ack_of_fin() {
    let mut c = fin_wait_1(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, irs(1), iss(2)));
    c.expect_none("AK-8 sends nothing");
    c.assert_state(State::FinWait2, "AK-8");
    assert_rule(&o, Rule::Ak8, "AK-8");
}

#[test]
fn diagram_fin_wait_1_to_closing_on_fin() {
    let mut c = fin_wait_1(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(1)));
    c.rcv_nxt = irs(2);
    // Figure 13 line 3: <SEQ=101><ACK=301><CTL=ACK>.
    c.expect_one(c.ack_now(), "FN-3 acknowledges the FIN");
    c.assert_state(State::Closing, "FN-3");
    assert_rule(&o, Rule::Fn3, "FN-3");
}

#[test]
fn diagram_fin_wait_1_to_time_wait_on_fin_acking_our_fin() {
    // Figure 5 note 2: FIN received and our FIN acknowledged in the same segment.
    let mut c = fin_wait_1(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(2)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-2 acknowledges the FIN");
    c.assert_state(State::TimeWait, "FN-2");
    assert_rule(&o, Rule::Fn2, "FN-2");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(c.now + MSL * 2),
        "FN-2 starts the time-wait timer (2 MSL)"
    );
}

#[test]
fn diagram_fin_wait_2_to_time_wait_on_fin() {
    let mut c = fin_wait_2(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(2)));
    c.rcv_nxt = irs(2);
    // Figure 12 line 5: <SEQ=101><ACK=301><CTL=ACK>.
    c.expect_one(c.ack_now(), "FN-4 acknowledges the FIN");
    c.assert_state(State::TimeWait, "FN-4");
    assert_rule(&o, Rule::Fn4, "FN-4");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(c.now + MSL * 2),
        "FN-4 starts the time-wait timer and turns off the others"
    );
}

#[test]
fn diagram_closing_to_time_wait_on_ack_of_fin() {
    let mut c = closing(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, irs(2), iss(2)));
    c.expect_none("AK-10 sends nothing");
    c.assert_state(State::TimeWait, "AK-10");
    assert_rule(&o, Rule::Ak10, "AK-10");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(c.now + MSL * 2),
        "TIME-WAIT lasts 2 MSL (MUST-13)"
    );
}

#[test]
fn diagram_close_wait_to_last_ack_on_close() {
    let c = last_ack(RstPolicy::Rfc5961);
    assert_eq!(c.tcb.info().snd_nxt, SeqNumber(iss(2)));
}

#[test]
fn diagram_last_ack_to_closed_on_ack_of_fin() {
    let mut c = last_ack(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, irs(2), iss(2)));
    c.expect_none("AK-11 sends nothing");
    assert_rule(&o, Rule::Ak11, "AK-11");
    assert!(c.tcb.is_closed(), "AK-11 deletes the TCB");
    c.assert_state(State::Closed, "AK-11");
    assert!(c.events().contains(&ConnEvent::Closed));
}

#[test]
fn diagram_time_wait_to_closed_after_2msl() {
    let mut c = time_wait(RstPolicy::Rfc5961);
    c.advance(MSL * 2 - Duration::from_millis(1));
    c.assert_state(State::TimeWait, "MUST-13: TIME-WAIT lasts 2 MSL");
    c.expect_none("nothing is sent in TIME-WAIT");
    c.advance(Duration::from_millis(1));
    c.expect_none("the time-wait timeout sends nothing");
    assert!(
        c.tcb.is_closed(),
        "3.10.8: TIME-WAIT timeout deletes the TCB"
    );
    c.assert_state(State::Closed, "after 2 MSL");
    assert!(c.events().contains(&ConnEvent::Closed));
    assert_eq!(c.tcb.poll_timeout(), None, "no timer outlives the TCB");
}

#[test]
fn diagram_figure_7_simultaneous_open() {
    // Figure 7, seen from peer A: SYN-SENT, SYN arrives (line 3), SYN,ACK sent (line 5), the
    // peer's SYN,ACK arrives (line 6): ESTABLISHED. The peer's SYN,ACK repeats its SYN at
    // SEG.SEQ = IRS; only its ACK is new.
    let mut c = syn_received_active(RstPolicy::Rfc5961);
    c.feed(seg(flags(SYN, ACK), IRS, iss(1)));
    c.assert_state(State::Established, "Figure 7 line 6");
    assert_eq!(c.tcb.info().snd_una, SeqNumber(iss(1)));
    c.expect_at_most_ack("Figure 7 line 6: at most an ACK");
    assert!(c.events().contains(&ConnEvent::Connected));
}

#[test]
fn diagram_figure_12_normal_close_both_sides() {
    // Peer A (active close): FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED.
    let mut a = time_wait(RstPolicy::Rfc5961);
    a.advance(MSL * 2);
    assert!(a.tcb.is_closed());
    // Peer B (passive close): CLOSE-WAIT -> LAST-ACK -> CLOSED, through a passive OPEN.
    let mut b = established_passive(RstPolicy::Rfc5961);
    b.feed(seg(flags(FIN, ACK), irs(1), iss(1)));
    b.rcv_nxt = irs(2);
    b.expect_one(b.ack_now(), "Figure 12 line 3");
    b.assert_state(State::CloseWait, "Figure 12 line 3");
    assert_eq!(b.tcb.close(b.now), Ok(()));
    b.expect_one(
        want(flags(FIN, ACK), iss(1), Some(irs(2))),
        "Figure 12 line 4",
    );
    b.assert_state(State::LastAck, "Figure 12 line 4");
    b.feed(seg(ACK, irs(2), iss(2)));
    b.expect_none("Figure 12 line 5");
    assert!(b.tcb.is_closed(), "Figure 12 line 5: CLOSED");
}

#[test]
fn diagram_figure_13_simultaneous_close() {
    let mut c = closing(RstPolicy::Rfc5961);
    // Line 3: the peer's ACK of our FIN.
    c.feed(seg(ACK, irs(2), iss(2)));
    c.assert_state(State::TimeWait, "Figure 13 line 4");
    c.advance(MSL * 2);
    assert!(c.tcb.is_closed(), "Figure 13: CLOSED after 2 MSL");
}

// ---------------------------------------------------------------------------------------------
// SYN-SENT (3.10.7.3): SS-1 .. SS-8.

#[test]
fn ss1_ack_at_or_below_iss_draws_rst() {
    for p in POLICIES {
        let mut c = syn_sent(p);
        let o = c.feed(seg(ACK, irs(0), ISS));
        c.expect_one(
            want(RST, ISS, None),
            "SS-1: SEG.ACK =< ISS: <SEQ=SEG.ACK><CTL=RST>",
        );
        c.assert_state(State::SynSent, "SS-1 drops the segment");
        assert_rule(&o, Rule::Ss1, "SS-1");
    }
}

#[test]
fn ss1_ack_above_snd_nxt_draws_rst() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, irs(0), iss(2)));
    c.expect_one(
        want(RST, iss(2), None),
        "SS-1: SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>",
    );
    c.assert_state(State::SynSent, "SS-1");
    assert_rule(&o, Rule::Ss1, "SS-1");
}

#[test]
fn ss1_syn_ack_for_an_old_syn_draws_rst_figure_8() {
    // Figure 8 line 4-5: a SYN,ACK acknowledging an old duplicate SYN (ACK = 91 with ISS = 100)
    // is answered with <SEQ=91><CTL=RST>; the connection stays in SYN-SENT.
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let old = ISS.wrapping_sub(9);
    let o = c.feed(seg(flags(SYN, ACK), IRS, old));
    c.expect_one(want(RST, old, None), "Figure 8 line 5");
    c.assert_state(State::SynSent, "Figure 8 line 5");
    assert_rule(&o, Rule::Ss1, "SS-1");
    // Line 7: the real SYN,ACK still completes the handshake.
    c.feed(seg(flags(SYN, ACK), irs(100), iss(1)));
    c.rcv_nxt = irs(101);
    c.expect_one(c.ack_now(), "Figure 8 line 8");
    c.assert_state(State::Established, "Figure 8 line 8");
}

#[test]
fn ss2_unacceptable_ack_with_rst_is_dropped() {
    for p in POLICIES {
        let mut c = syn_sent(p);
        let o = c.feed(seg(flags(RST, ACK), 0, iss(5)));
        c.expect_none("SS-2: no RST in reply to a RST");
        c.assert_state(State::SynSent, "SS-2");
        assert_rule(&o, Rule::Ss2, "SS-2");
    }
}

#[test]
fn ss3_rst_with_acceptable_ack_closes() {
    for p in POLICIES {
        let mut c = syn_sent(p);
        // What a CLOSED peer sends for our SYN (3.10.7.1): <SEQ=0><ACK=ISS+1><CTL=RST,ACK>.
        let o = c.feed(seg(flags(RST, ACK), 0, iss(1)));
        c.expect_none("SS-3 sends nothing");
        assert_rule(&o, Rule::Ss3, "SS-3");
        assert!(c.tcb.is_closed(), "SS-3 deletes the TCB");
        c.assert_state(State::Closed, "SS-3");
        // RFC 9293 says "connection reset"; the API documents SS-3 as `Refused`. Either is fine.
        let ev = c.events();
        assert!(
            ev.contains(&ConnEvent::Refused) || ev.contains(&ConnEvent::Reset),
            "SS-3 signals the user, got {ev:?}"
        );
    }
}

#[test]
fn ss4_rst_without_ack_is_dropped() {
    for p in POLICIES {
        let mut c = syn_sent(p);
        let o = c.feed(seg(RST, irs(0), 0));
        c.expect_none("SS-4 sends nothing");
        c.assert_state(State::SynSent, "SS-4");
        assert!(!c.tcb.is_closed());
        assert_rule(&o, Rule::Ss4, "SS-4");
    }
}

#[test]
fn ss5_security_mismatch_with_ack_draws_rst_from_ack() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let o = c.feed_mismatch(seg(flags(SYN, ACK), IRS, iss(1)));
    c.expect_one(
        want(RST, iss(1), None),
        "SS-5 with ACK: <SEQ=SEG.ACK><CTL=RST>",
    );
    c.assert_state(State::SynSent, "SS-5 drops the segment");
    assert_rule(&o, Rule::Ss5, "SS-5");
}

#[test]
fn ss5_security_mismatch_without_ack_draws_rst_ack() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let o = c.feed_mismatch(seg(SYN, IRS, 0));
    c.expect_one(
        want(flags(RST, ACK), 0, Some(irs(1))),
        "SS-5 without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>",
    );
    c.assert_state(State::SynSent, "SS-5");
    assert_rule(&o, Rule::Ss5, "SS-5");
}

#[test]
fn ss6_syn_ack_with_data_delivers_it() {
    // 3.10.7.3 fourth step: "continue processing at the sixth step" for text in the SYN,ACK.
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(SYN, ACK), IRS, iss(1)).data(b"hello"));
    c.rcv_nxt = irs(6);
    c.assert_state(State::Established, "SS-6");
    assert_rule(&o, Rule::Ss6, "SS-6");
    assert_rule(&o, Rule::Tx1, "SS-6 continues at the text step");
    // The ACK of the SYN may be suppressed in favour of the data's ACK; the last ACK covers both.
    let out = c.out();
    let last = out
        .last()
        .unwrap_or_else(|| panic!("SS-6 with data: an ACK is due"));
    check(last, c.ack_now(), "SS-6 with data: ACK covers SYN and data");
    assert_eq!(c.recv_all(), b"hello");
}

#[test]
fn ss6_syn_ack_with_fin_goes_to_close_wait() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(flags(SYN, ACK), FIN), IRS, iss(1)));
    c.rcv_nxt = irs(2);
    assert_rule(&o, Rule::Ss6, "SS-6");
    assert_rule(&o, Rule::Fn1, "FN-1 after SS-6");
    c.assert_state(State::CloseWait, "SYN,ACK,FIN");
    let out = c.out();
    let last = out
        .last()
        .unwrap_or_else(|| panic!("an ACK of the FIN is due"));
    check(last, c.ack_now(), "ACK of SYN and FIN");
}

#[test]
fn ss7_simultaneous_open_ack_completes() {
    // The pure ACK of our SYN in an active SYN-RECEIVED: AK-2, ESTABLISHED.
    let mut c = syn_received_active(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, irs(1), iss(1)));
    c.expect_none("AK-2 sends nothing");
    c.assert_state(State::Established, "simultaneous open completed");
    assert_rule(&o, Rule::Ak2, "AK-2");
}

#[test]
fn ss8_acceptable_ack_without_syn_is_dropped() {
    for p in POLICIES {
        let mut c = syn_sent(p);
        let o = c.feed(seg(ACK, irs(0), iss(1)).data(b"x"));
        c.expect_none("SS-8 drops silently");
        c.assert_state(State::SynSent, "SS-8");
        assert_rule(&o, Rule::Ss8, "SS-8");
        assert_eq!(
            c.tcb.info().snd_una,
            SeqNumber(ISS),
            "SS-8: the ACK is not processed"
        );
    }
}

#[test]
fn ss8_bare_segment_without_flags_is_dropped() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let o = c.feed(seg(TcpFlags::NONE, irs(0), 0).data(b"data"));
    c.expect_none("SS-8 drops silently");
    c.assert_state(State::SynSent, "SS-8");
    assert_rule(&o, Rule::Ss8, "SS-8");
}

#[test]
fn fn0_fin_in_syn_sent_is_not_processed() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(FIN, ACK), irs(0), iss(1)));
    c.expect_none("FN-0: SEG.SEQ cannot be validated, drop");
    c.assert_state(State::SynSent, "FN-0");
    assert_rule(&o, Rule::Fn0, "FN-0");
}

// ---------------------------------------------------------------------------------------------
// Sequence number check (3.10.7.4 first): SQ-1 .. SQ-5 and the four cases of Table 6.

/// A data segment far beyond any window the TCB can offer (no window scaling: < 64 KiB).
fn far_beyond(c: &Conn) -> TcpRepr {
    seg(ACK, c.rcv_nxt.wrapping_add(1_000_000), c.snd_nxt).data(b"0123456789")
}

fn check_sq1(mut c: Conn, st: State) {
    let o = c.feed(far_beyond(&c));
    let ctx = format!("SQ-1 in {st}");
    c.expect_one(c.ack_now(), &ctx);
    c.assert_state(st, &ctx);
    assert_rule(&o, Rule::Sq1, &ctx);
}

#[test]
fn sq1_syn_received_passive() {
    check_sq1(syn_received_passive(RstPolicy::Rfc5961), State::SynReceived);
}

#[test]
fn sq1_syn_received_active() {
    check_sq1(syn_received_active(RstPolicy::Rfc5961), State::SynReceived);
}

#[test]
fn sq1_established() {
    check_sq1(established(RstPolicy::Rfc5961), State::Established);
}

#[test]
fn sq1_established_rfc793() {
    check_sq1(established(RstPolicy::Rfc793), State::Established);
}

#[test]
fn sq1_fin_wait_1() {
    check_sq1(fin_wait_1(RstPolicy::Rfc5961), State::FinWait1);
}

#[test]
fn sq1_fin_wait_2() {
    check_sq1(fin_wait_2(RstPolicy::Rfc5961), State::FinWait2);
}

#[test]
fn sq1_close_wait() {
    check_sq1(close_wait(RstPolicy::Rfc5961), State::CloseWait);
}

#[test]
fn sq1_closing() {
    check_sq1(closing(RstPolicy::Rfc5961), State::Closing);
}

#[test]
fn sq1_last_ack() {
    check_sq1(last_ack(RstPolicy::Rfc5961), State::LastAck);
}

#[test]
fn sq1_time_wait() {
    check_sq1(time_wait(RstPolicy::Rfc5961), State::TimeWait);
}

#[test]
fn sq1_old_duplicate_data_below_the_window() {
    // Table 6, len > 0: neither the first nor the last octet is at or after RCV.NXT.
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_sub(100), c.snd_nxt).data(&[1; 10]));
    c.expect_one(c.ack_now(), "SQ-1: old duplicate");
    assert_rule(&o, Rule::Sq1, "SQ-1");
    assert_eq!(c.tcb.info().recv_queue, 0, "nothing delivered");
}

#[test]
fn sq1_duplicate_syn_in_syn_received() {
    // The peer's retransmitted SYN (SEG.SEQ = IRS < RCV.NXT) fails Table 6 (the last octet,
    // the SYN, is below RCV.NXT): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, stay in SYN-RECEIVED.
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    let o = c.feed(peer_syn());
    c.expect_one(c.ack_now(), "SQ-1 for a duplicate SYN");
    c.assert_state(State::SynReceived, "duplicate SYN");
    assert_rule(&o, Rule::Sq1, "SQ-1");
}

#[test]
fn sq_table6_zero_length_at_the_last_window_octet_is_acceptable() {
    let mut c = established(RstPolicy::Rfc5961);
    let wnd = c.tcb.info().rcv_wnd;
    assert!(wnd > 1, "an open receive window");
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_add(wnd - 1), c.snd_nxt));
    c.expect_none("Table 6: len 0, RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND is acceptable");
    assert!(!o.rules.contains(&Rule::Sq1), "not SQ-1: [{}]", ids(&o));
}

#[test]
fn sq_table6_zero_length_at_the_right_edge_is_unacceptable() {
    let mut c = established(RstPolicy::Rfc5961);
    let wnd = c.tcb.info().rcv_wnd;
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_add(wnd), c.snd_nxt));
    c.expect_one(c.ack_now(), "Table 6: SEG.SEQ = RCV.NXT+RCV.WND is outside");
    assert_rule(&o, Rule::Sq1, "SQ-1");
}

#[test]
fn sq_table6_zero_length_just_below_rcv_nxt_is_unacceptable() {
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_sub(1), c.snd_nxt));
    c.expect_one(c.ack_now(), "Table 6: SEG.SEQ < RCV.NXT");
    assert_rule(&o, Rule::Sq1, "SQ-1");
}

#[test]
fn sq_table6_data_straddling_the_left_edge_is_trimmed() {
    // The last octet is in the window: acceptable; only the new part is processed.
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_sub(5), c.snd_nxt).data(b"oldoonew!!"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(5);
    c.expect_one(c.ack_now(), "TX-1 acknowledges the new octets");
    assert_rule(&o, Rule::Tx1, "TX-1");
    assert_eq!(c.recv_all(), b"new!!");
}

#[test]
fn sq4_out_of_order_data_is_held_then_delivered() {
    for p in POLICIES {
        let mut c = established(p);
        let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_add(10), c.snd_nxt).data(b"klmnopqrst"));
        assert_rule(&o, Rule::Sq4, "SQ-4");
        // MAY-13: an ACK of RCV.NXT may be sent; RCV.NXT must not move.
        c.expect_at_most_ack("SQ-4");
        let info = c.tcb.info();
        assert_eq!(info.rcv_nxt, SeqNumber(c.rcv_nxt));
        assert_eq!(info.recv_queue, 0);
        assert_eq!(info.ooo_queue, 10, "SHLD-31: out-of-order octets are held");
        // The gap fills: both segments are delivered, one ACK covers both.
        c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(b"abcdefghij"));
        c.rcv_nxt = c.rcv_nxt.wrapping_add(20);
        c.expect_one(c.ack_now(), "the ACK jumps over the held segment");
        assert_eq!(c.recv_all(), b"abcdefghijklmnopqrst");
    }
}

#[test]
fn sq4_data_straddling_the_right_edge_is_trimmed_to_the_window() {
    let mut c = established(RstPolicy::Rfc5961);
    let wnd = c.tcb.info().rcv_wnd;
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_add(wnd - 5), c.snd_nxt).data(&[9; 10]));
    assert_rule(&o, Rule::Sq4, "SQ-4");
    c.expect_at_most_ack("SQ-4");
    assert_eq!(
        c.tcb.info().ooo_queue,
        5,
        "only the octets inside the window are kept"
    );
}

/// ESTABLISHED with a 1024-octet receive buffer that the peer has filled: RCV.WND = 0. We have
/// sent 10 octets that are not yet acknowledged.
fn zero_window(p: RstPolicy) -> Conn {
    let cfg = Config {
        recv_buffer: 1024,
        ..config(p)
    };
    let mut c = established_with(&cfg);
    c.send_data(b"0123456789");
    c.feed(seg(ACK, c.rcv_nxt, iss(1)).data(&[0x55; 1024]));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(1024);
    let ack = c.expect_one(c.ack_now(), "ACK of the data that fills the buffer");
    assert_eq!(
        ack.window, 0,
        "3.10.7.4 seventh: RCV.WND adjusted to the buffer: zero"
    );
    assert_eq!(
        c.tcb.info().rcv_wnd,
        0,
        "precondition: a zero receive window"
    );
    c
}

#[test]
fn sq3_zero_window_accepts_a_valid_ack() {
    let mut c = zero_window(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
    c.expect_none("an acceptable pure ACK needs no reply");
    assert_rule(&o, Rule::Sq3, "SQ-3");
    assert_rule(&o, Rule::Ak4, "AK-4 with a zero window");
    assert_eq!(
        c.tcb.info().snd_una,
        SeqNumber(c.snd_nxt),
        "the ACK is processed"
    );
}

#[test]
fn sq3_zero_window_data_is_refused_but_its_ack_is_taken() {
    // Table 6: len > 0 with RCV.WND = 0 is not acceptable (reply with an ACK), yet "special
    // allowance should be made to accept valid ACKs".
    let mut c = zero_window(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(b"p"));
    c.expect_one(
        c.ack_now(),
        "zero-window probe answered with <SEQ=SND.NXT><ACK=RCV.NXT>",
    );
    assert_rule(&o, Rule::Sq3, "SQ-3");
    let info = c.tcb.info();
    assert_eq!(info.recv_queue, 1024, "the probe's octet is not accepted");
    assert_eq!(
        info.snd_una,
        SeqNumber(c.snd_nxt),
        "the probe's ACK is processed"
    );
}

#[test]
fn sq3_zero_window_rst_is_processed() {
    // MUST-66: process RST even with a zero window.
    for p in POLICIES {
        let mut c = zero_window(p);
        let o = c.feed(seg(RST, c.rcv_nxt, 0));
        c.expect_none("RS-4 sends nothing");
        assert_rule(&o, Rule::Rs4, "RS-4 with a zero window");
        assert!(c.tcb.is_closed(), "the RST resets the connection");
    }
}

#[test]
fn sq3_zero_window_urgent_is_processed() {
    // MUST-66: process URG even with a zero window.
    let mut c = zero_window(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(ACK, URG), c.rcv_nxt, c.snd_nxt).up(5));
    assert_rule(&o, Rule::Ur1, "UR-1 with a zero window");
    assert!(
        c.events().contains(&ConnEvent::Urgent),
        "urgent data signalled"
    );
}

#[test]
fn sq3_zero_window_empty_segment_off_rcv_nxt_is_unacceptable() {
    // Table 6, len 0, window 0: only SEG.SEQ = RCV.NXT is acceptable.
    let mut c = zero_window(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_add(2), c.snd_nxt));
    c.expect_one(c.ack_now(), "SQ-1 with a zero window");
    assert_rule(&o, Rule::Sq1, "SQ-1");
}

#[test]
fn sq3_zero_window_ack_one_past_rcv_nxt_is_processed_unanswered() {
    // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be
    // made to accept valid ACKs" (3.10.7.4): a peer whose one-octet probe is outstanding sends
    // its ACKs at SND.NXT = RCV.NXT + 1. The reference takes them (SQ-3) without answering.
    let mut c = zero_window(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt.wrapping_add(1), c.snd_nxt));
    c.expect_none("an ACK accepted under the zero-window allowance is not answered");
    assert_rule(&o, Rule::Sq3, "SQ-3");
}

#[test]
fn sq5_time_wait_syn_with_newer_timestamp_opens_a_new_incarnation() {
    // RFC 6191 / MAY-2: with timestamps in use, a SYN whose TSval is newer than the last one seen
    // in TIME-WAIT may start a new connection instead of the sequence check.
    let cfg = Config {
        timestamps: true,
        time_wait_reuse: true,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = time_wait_with(&cfg);
    assert!(
        c.tcb.info().timestamps,
        "precondition: timestamps negotiated"
    );
    let newer = seg(SYN, irs(100_000), 0).opt(TcpOption::Timestamps {
        tsval: 1_000_000,
        tsecr: 0,
    });
    let o = c.feed(newer);
    assert_rule(&o, Rule::Sq5, "SQ-5");
    let out = c.out();
    assert!(
        out.iter().all(|s| !s.flags.rst()),
        "SQ-5: the new SYN is not reset: {}",
        show_all(&out)
    );
    assert_ne!(
        c.state(),
        State::TimeWait,
        "the TIME-WAIT incarnation gives way"
    );
}

// ---------------------------------------------------------------------------------------------
// RST (3.10.7.4 second): RS-1 .. RS-5, SQ-2.

#[test]
fn rs1_rfc5961_in_window_rst_draws_challenge_ack() {
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed(seg(RST, c.rcv_nxt.wrapping_add(100), 0));
    c.expect_one(
        c.ack_now(),
        "RS-1: challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
    );
    c.assert_state(State::Established, "RS-1 drops the RST");
    assert_rule(&o, Rule::Rs1, "RS-1");
    assert!(!c.events().contains(&ConnEvent::Reset));
}

#[test]
fn rs1_rfc5961_in_window_rst_in_syn_received() {
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    let o = c.feed(seg(RST, irs(100), 0));
    c.expect_one(c.ack_now(), "RS-1 in SYN-RECEIVED");
    c.assert_state(State::SynReceived, "RS-1");
    assert!(!c.tcb.returned_to_listen());
    assert_rule(&o, Rule::Rs1, "RS-1");
}

#[test]
fn rs1_rfc5961_in_window_rst_in_time_wait() {
    let mut c = time_wait(RstPolicy::Rfc5961);
    let o = c.feed(seg(RST, c.rcv_nxt.wrapping_add(100), 0));
    c.expect_one(c.ack_now(), "RS-1 in TIME-WAIT");
    c.assert_state(State::TimeWait, "RS-1");
    assert_rule(&o, Rule::Rs1, "RS-1");
}

#[test]
fn rs2_rfc793_in_window_rst_returns_to_listen() {
    let mut c = syn_received_passive(RstPolicy::Rfc793);
    let o = c.feed(seg(RST, irs(100), 0));
    c.expect_none("RS-2 sends nothing");
    assert_rule(&o, Rule::Rs2, "RS-2 (RFC 793: any in-window RST)");
    assert!(c.tcb.returned_to_listen());
}

#[test]
fn rs2_figure_11_rst_from_the_other_passive_socket() {
    // Figure 11 line 4: <SEQ=Z+1><CTL=RST> returns B to LISTEN.
    for p in POLICIES {
        let mut c = syn_received_passive(p);
        let o = c.feed(seg(RST, irs(1), 0));
        assert_rule(&o, Rule::Rs2, "RS-2");
        assert!(
            c.tcb.returned_to_listen(),
            "Figure 11 line 4: return to LISTEN"
        );
        assert_eq!(
            c.tcb.poll_timeout(),
            None,
            "RS-2 flushes the retransmission queue"
        );
    }
}

#[test]
fn rs3_active_syn_received_rst_is_refused() {
    for p in POLICIES {
        let mut c = syn_received_active(p);
        let o = c.feed(seg(RST, irs(1), 0));
        c.expect_none("RS-3 sends nothing");
        assert_rule(&o, Rule::Rs3, "RS-3");
        assert!(c.tcb.is_closed(), "RS-3 deletes the TCB");
        assert!(
            !c.tcb.returned_to_listen(),
            "an active OPEN does not return to LISTEN"
        );
        assert!(
            c.events().contains(&ConnEvent::Refused),
            "RS-3: \"connection refused\""
        );
        assert_eq!(
            c.tcb.recv(&mut [0; 8]),
            Err(ConnError::Refused),
            "RECEIVE after RS-3"
        );
    }
}

fn check_rs4(mut c: Conn, p: RstPolicy, st: State) {
    // RFC 5961: only SEG.SEQ = RCV.NXT resets. RFC 793: any in-window RST.
    let seq = match p {
        RstPolicy::Rfc5961 => c.rcv_nxt,
        RstPolicy::Rfc793 => c.rcv_nxt.wrapping_add(100),
    };
    let o = c.feed(seg(RST, seq, 0));
    let ctx = format!("RS-4 in {st} ({p:?})");
    c.expect_none(&ctx);
    assert_rule(&o, Rule::Rs4, &ctx);
    assert!(c.tcb.is_closed(), "{ctx}: the TCB is deleted");
    c.assert_state(State::Closed, &ctx);
    assert!(
        c.events().contains(&ConnEvent::Reset),
        "{ctx}: \"connection reset\""
    );
    assert_eq!(
        c.tcb.poll_timeout(),
        None,
        "{ctx}: all queues and timers flushed"
    );
}

#[test]
fn rs4_established_rfc5961() {
    check_rs4(
        established(RstPolicy::Rfc5961),
        RstPolicy::Rfc5961,
        State::Established,
    );
}

#[test]
fn rs4_established_rfc793() {
    check_rs4(
        established(RstPolicy::Rfc793),
        RstPolicy::Rfc793,
        State::Established,
    );
}

#[test]
fn rs4_fin_wait_1_rfc5961() {
    check_rs4(
        fin_wait_1(RstPolicy::Rfc5961),
        RstPolicy::Rfc5961,
        State::FinWait1,
    );
}

#[test]
fn rs4_fin_wait_1_rfc793() {
    check_rs4(
        fin_wait_1(RstPolicy::Rfc793),
        RstPolicy::Rfc793,
        State::FinWait1,
    );
}

#[test]
fn rs4_fin_wait_2_rfc5961() {
    check_rs4(
        fin_wait_2(RstPolicy::Rfc5961),
        RstPolicy::Rfc5961,
        State::FinWait2,
    );
}

#[test]
fn rs4_fin_wait_2_rfc793() {
    check_rs4(
        fin_wait_2(RstPolicy::Rfc793),
        RstPolicy::Rfc793,
        State::FinWait2,
    );
}

#[test]
fn rs4_close_wait_rfc5961() {
    check_rs4(
        close_wait(RstPolicy::Rfc5961),
        RstPolicy::Rfc5961,
        State::CloseWait,
    );
}

#[test]
fn rs4_close_wait_rfc793() {
    check_rs4(
        close_wait(RstPolicy::Rfc793),
        RstPolicy::Rfc793,
        State::CloseWait,
    );
}

#[test]
fn rs4_rst_carrying_data_is_accepted() {
    // SHLD-2: a RST may carry (diagnostic) data.
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(RST, ACK), c.rcv_nxt, c.snd_nxt).data(b"gone"));
    assert_rule(&o, Rule::Rs4, "RS-4");
    assert!(c.tcb.is_closed());
}

#[test]
fn rs4_outstanding_calls_get_reset() {
    let mut c = established(RstPolicy::Rfc5961);
    c.send_data(b"pending");
    c.feed(seg(RST, c.rcv_nxt, 0));
    c.expect_none("no retransmission after a reset");
    assert_eq!(
        c.tcb.info().send_queue,
        0,
        "RS-4 flushes the segment queues"
    );
    // "any outstanding RECEIVEs and SEND should receive "reset" responses".
    assert_eq!(
        c.tcb.send(c.now, b"more"),
        Err(ConnError::Reset),
        "SEND after a reset"
    );
    assert_eq!(
        c.tcb.recv(&mut [0; 8]),
        Err(ConnError::Reset),
        "RECEIVE after a reset"
    );
}

fn check_rs5(mut c: Conn, p: RstPolicy, st: State) {
    let seq = match p {
        RstPolicy::Rfc5961 => c.rcv_nxt,
        RstPolicy::Rfc793 => c.rcv_nxt.wrapping_add(100),
    };
    let o = c.feed(seg(RST, seq, 0));
    let ctx = format!("RS-5 in {st} ({p:?})");
    c.expect_none(&ctx);
    assert_rule(&o, Rule::Rs5, &ctx);
    assert!(c.tcb.is_closed(), "{ctx}: the TCB is deleted");
    c.assert_state(State::Closed, &ctx);
}

#[test]
fn rs5_closing_rfc5961() {
    check_rs5(
        closing(RstPolicy::Rfc5961),
        RstPolicy::Rfc5961,
        State::Closing,
    );
}

#[test]
fn rs5_closing_rfc793() {
    check_rs5(
        closing(RstPolicy::Rfc793),
        RstPolicy::Rfc793,
        State::Closing,
    );
}

#[test]
fn rs5_last_ack_rfc5961() {
    check_rs5(
        last_ack(RstPolicy::Rfc5961),
        RstPolicy::Rfc5961,
        State::LastAck,
    );
}

#[test]
fn rs5_last_ack_rfc793() {
    check_rs5(
        last_ack(RstPolicy::Rfc793),
        RstPolicy::Rfc793,
        State::LastAck,
    );
}

#[test]
fn rs5_time_wait_rfc5961() {
    check_rs5(
        time_wait(RstPolicy::Rfc5961),
        RstPolicy::Rfc5961,
        State::TimeWait,
    );
}

#[test]
fn rs5_time_wait_rfc793() {
    check_rs5(
        time_wait(RstPolicy::Rfc793),
        RstPolicy::Rfc793,
        State::TimeWait,
    );
}

#[test]
fn sq2_rst_outside_the_window_is_dropped() {
    for p in POLICIES {
        for mut c in [
            established(p),
            fin_wait_2(p),
            time_wait(p),
            syn_received_passive(p),
        ] {
            let st = c.state();
            let ctx = format!("SQ-2 in {st} ({p:?})");
            let o = c.feed(seg(RST, c.rcv_nxt.wrapping_add(1_000_000), 0));
            c.expect_none(&ctx);
            c.assert_state(st, &ctx);
            assert_rule(&o, Rule::Sq2, &ctx);
            // A RST just below RCV.NXT is outside too.
            let o = c.feed(seg(RST, c.rcv_nxt.wrapping_sub(1), 0));
            c.expect_none(&ctx);
            c.assert_state(st, &ctx);
            assert_rule(&o, Rule::Sq2, &ctx);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Security (3.10.7.4 third): SC-1, SC-2.

#[test]
fn sc1_syn_received_security_mismatch_draws_rst() {
    // 3.5.2 group 2: the reset takes its SEQ from the ACK field; the state is unchanged.
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    let o = c.feed_mismatch(seg(ACK, irs(1), iss(1)));
    c.expect_one(want(RST, iss(1), None), "SC-1: <SEQ=SEG.ACK><CTL=RST>");
    assert_rule(&o, Rule::Sc1, "SC-1");
}

#[test]
fn sc2_established_security_mismatch_resets() {
    // 3.5.2 group 3: a reset with SEQ from the ACK field, then CLOSED.
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed_mismatch(seg(ACK, c.rcv_nxt, c.snd_nxt));
    c.expect_one(want(RST, c.snd_nxt, None), "SC-2: <SEQ=SEG.ACK><CTL=RST>");
    assert_rule(&o, Rule::Sc2, "SC-2");
    assert!(c.tcb.is_closed(), "SC-2 deletes the TCB");
    assert!(
        c.events().contains(&ConnEvent::Reset),
        "SC-2: \"connection reset\""
    );
}

#[test]
fn sc2_check_follows_the_sequence_check() {
    // "this check is placed following the sequence check": an old segment with another
    // security level draws the SQ-1 ACK, not a reset.
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed_mismatch(far_beyond(&c));
    c.expect_one(c.ack_now(), "SQ-1 before SC-2");
    c.assert_state(State::Established, "no abort");
    assert_rule(&o, Rule::Sq1, "SQ-1");
}

// ---------------------------------------------------------------------------------------------
// SYN (3.10.7.4 fourth): SY-1 .. SY-3.

#[test]
fn sy1_syn_in_passive_syn_received_returns_to_listen() {
    for p in POLICIES {
        let mut c = syn_received_passive(p);
        let o = c.feed(seg(SYN, irs(1), 0));
        c.expect_none("SY-1: return to LISTEN without a reply");
        assert_rule(&o, Rule::Sy1, "SY-1");
        assert!(c.tcb.returned_to_listen(), "SY-1");
    }
}

fn check_sy2(mut c: Conn, st: State, offset: u32) {
    let o = c.feed(seg(SYN, c.rcv_nxt.wrapping_add(offset), 0));
    let ctx = format!("SY-2 in {st}, SEG.SEQ = RCV.NXT+{offset}");
    c.expect_one(c.ack_now(), &ctx);
    c.assert_state(st, &ctx);
    assert_rule(&o, Rule::Sy2, &ctx);
    assert!(!c.events().contains(&ConnEvent::Reset), "{ctx}: no reset");
}

#[test]
fn sy2_rfc5961_syn_at_rcv_nxt_in_established() {
    check_sy2(established(RstPolicy::Rfc5961), State::Established, 0);
}

#[test]
fn sy2_rfc5961_syn_in_window_in_established() {
    check_sy2(established(RstPolicy::Rfc5961), State::Established, 100);
}

#[test]
fn sy2_rfc5961_syn_in_fin_wait_2() {
    check_sy2(fin_wait_2(RstPolicy::Rfc5961), State::FinWait2, 0);
}

#[test]
fn sy2_rfc5961_syn_in_close_wait() {
    check_sy2(close_wait(RstPolicy::Rfc5961), State::CloseWait, 0);
}

#[test]
fn sy2_rfc5961_syn_in_last_ack() {
    check_sy2(last_ack(RstPolicy::Rfc5961), State::LastAck, 0);
}

#[test]
fn sy2_rfc5961_syn_in_time_wait() {
    check_sy2(time_wait(RstPolicy::Rfc5961), State::TimeWait, 0);
}

#[test]
fn sy2_rfc5961_syn_in_active_syn_received() {
    // "Otherwise, handle per the directions for synchronized states below."
    check_sy2(
        syn_received_active(RstPolicy::Rfc5961),
        State::SynReceived,
        0,
    );
}

fn check_sy3(mut c: Conn, st: State) {
    let ctx = format!("SY-3 in {st}");
    let syn_seq = c.rcv_nxt.wrapping_add(10);
    let o = c.feed(seg(SYN, syn_seq, 0));
    // "send a reset": the sender of a SYN accepts a RST only if it acknowledges the SYN
    // (3.10.7.3 second step), so the reset takes the form of 3.5.2 for a segment without ACK:
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    c.expect_one(
        want(flags(RST, ACK), 0, Some(syn_seq.wrapping_add(1))),
        &ctx,
    );
    assert_rule(&o, Rule::Sy3, &ctx);
    assert!(c.tcb.is_closed(), "{ctx}: TCB deleted");
    c.assert_state(State::Closed, &ctx);
    assert!(
        c.events().contains(&ConnEvent::Reset),
        "{ctx}: \"connection reset\""
    );
}

#[test]
fn sy3_rfc793_syn_in_window_resets_established() {
    check_sy3(established(RstPolicy::Rfc793), State::Established);
}

#[test]
fn sy3_rfc793_syn_in_window_resets_close_wait() {
    check_sy3(close_wait(RstPolicy::Rfc793), State::CloseWait);
}

#[test]
fn sy3_rfc793_syn_in_window_resets_fin_wait_2() {
    check_sy3(fin_wait_2(RstPolicy::Rfc793), State::FinWait2);
}

#[test]
fn sy3_rfc793_syn_outside_window_gets_sq1_ack() {
    // "If the SYN is not in the window, this step would not be reached and an ACK would have
    // been sent in the first step."
    let mut c = established(RstPolicy::Rfc793);
    let o = c.feed(seg(SYN, c.rcv_nxt.wrapping_add(1_000_000), 0));
    c.expect_one(c.ack_now(), "SQ-1 for an out-of-window SYN");
    c.assert_state(State::Established, "no reset");
    assert_rule(&o, Rule::Sq1, "SQ-1");
}

// ---------------------------------------------------------------------------------------------
// ACK (3.10.7.4 fifth): AK-0 .. AK-12.

#[test]
fn ak0_segment_without_ack_is_dropped() {
    for p in POLICIES {
        let mut c = established(p);
        let o = c.feed(seg(TcpFlags::NONE, c.rcv_nxt, 0).data(b"noack"));
        c.expect_none("AK-0: drop without a reply");
        assert_rule(&o, Rule::Ak0, "AK-0");
        assert_eq!(
            c.tcb.info().recv_queue,
            0,
            "AK-0: the text is not processed"
        );
        assert_eq!(c.tcb.info().rcv_nxt, SeqNumber(c.rcv_nxt));
    }
}

#[test]
fn ak0_fin_without_ack_in_syn_received_is_dropped() {
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    let o = c.feed(seg(FIN, irs(1), 0));
    c.expect_none("AK-0");
    c.assert_state(State::SynReceived, "AK-0: the FIN is not processed");
    assert_rule(&o, Rule::Ak0, "AK-0");
}

#[test]
fn ak1_rfc5961_ack_too_old_is_discarded_with_ack() {
    // MAX.SND.WND is 65535 (the only window the peer offered, no scaling): SEG.ACK =
    // SND.UNA - MAX.SND.WND - 1 is outside the acceptable range. The segment, data included,
    // is discarded.
    let mut c = established(RstPolicy::Rfc5961);
    let too_old = iss(1).wrapping_sub(u32::from(PEER_WND) + 1);
    let o = c.feed(seg(ACK, c.rcv_nxt, too_old).data(b"inject"));
    c.expect_one(c.ack_now(), "AK-1: discard and send an ACK");
    assert_rule(&o, Rule::Ak1, "AK-1");
    assert_eq!(c.tcb.info().recv_queue, 0, "AK-1: the data is not accepted");
}

#[test]
fn ak1_rfc5961_ack_at_the_lower_bound_is_acceptable() {
    let mut c = established(RstPolicy::Rfc5961);
    let oldest = iss(1).wrapping_sub(u32::from(PEER_WND));
    let o = c.feed(seg(ACK, c.rcv_nxt, oldest).data(b"fine"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(4);
    c.expect_one(c.ack_now(), "acceptable: TX-1 acknowledges the data");
    assert!(!o.rules.contains(&Rule::Ak1), "not AK-1: [{}]", ids(&o));
    assert_eq!(c.recv_all(), b"fine");
}

#[test]
fn ak1_rfc5961_ack_above_snd_nxt() {
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt.wrapping_add(1000)).data(b"x"));
    c.expect_one(c.ack_now(), "AK-1: discard and send an ACK");
    assert_rule(&o, Rule::Ak1, "AK-1");
    assert_eq!(c.tcb.info().recv_queue, 0);
}

#[test]
fn ak1_rfc5961_in_syn_received_precedes_ak3() {
    // The RFC 5961 range check comes before the per-state processing: in SYN-RECEIVED an ACK
    // above SND.NXT is discarded with an ACK, not answered with a RST.
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, irs(1), iss(2)));
    c.expect_one(c.ack_now(), "AK-1 in SYN-RECEIVED");
    c.assert_state(State::SynReceived, "AK-1");
    assert_rule(&o, Rule::Ak1, "AK-1");
}

#[test]
fn ak1_rfc793_old_ack_is_a_duplicate_and_the_data_is_taken() {
    let mut c = established(RstPolicy::Rfc793);
    let too_old = iss(1).wrapping_sub(u32::from(PEER_WND) + 1);
    let o = c.feed(seg(ACK, c.rcv_nxt, too_old).data(b"taken"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(5);
    c.expect_one(
        c.ack_now(),
        "RFC 793: duplicate ACK ignored, data acknowledged",
    );
    assert_rule(&o, Rule::Ak5, "AK-5");
    assert!(
        !o.rules.contains(&Rule::Ak1),
        "AK-1 is RFC 5961 only: [{}]",
        ids(&o)
    );
    assert_eq!(c.recv_all(), b"taken");
}

#[test]
fn ak3_syn_received_ack_of_iss_draws_rst() {
    // SND.UNA = ISS: SEG.ACK = ISS is not > SND.UNA, so not acceptable (and inside the RFC 5961
    // range, so AK-1 does not apply): <SEQ=SEG.ACK><CTL=RST>.
    for p in POLICIES {
        let mut c = syn_received_passive(p);
        let o = c.feed(seg(ACK, irs(1), ISS));
        c.expect_one(want(RST, ISS, None), "AK-3: <SEQ=SEG.ACK><CTL=RST>");
        c.assert_state(State::SynReceived, "AK-3 keeps SYN-RECEIVED");
        assert_rule(&o, Rule::Ak3, "AK-3");
    }
}

#[test]
fn ak3_rfc793_syn_received_ack_above_snd_nxt_draws_rst() {
    let mut c = syn_received_passive(RstPolicy::Rfc793);
    let o = c.feed(seg(ACK, irs(1), iss(2)));
    c.expect_one(want(RST, iss(2), None), "AK-3: <SEQ=SEG.ACK><CTL=RST>");
    c.assert_state(State::SynReceived, "AK-3");
    assert_rule(&o, Rule::Ak3, "AK-3");
}

#[test]
fn ak4_new_ack_advances_snd_una() {
    for p in POLICIES {
        let mut c = established(p);
        c.send_data(&[b'a'; 100]);
        let o = c.feed(seg(ACK, c.rcv_nxt, iss(51)));
        c.expect_none("AK-4 needs no reply");
        assert_rule(&o, Rule::Ak4, "AK-4");
        let info = c.tcb.info();
        assert_eq!(info.snd_una, SeqNumber(iss(51)), "SND.UNA <- SEG.ACK");
        assert_eq!(
            info.send_queue, 50,
            "acknowledged octets leave the retransmission queue"
        );
        assert!(
            c.tcb.poll_timeout().is_some(),
            "data outstanding: the retransmission timer runs"
        );
        let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
        assert_rule(&o, Rule::Ak4, "AK-4");
        assert_eq!(c.tcb.info().send_queue, 0);
        // RFC 6298 5.2: all data acknowledged: the retransmission timer is turned off.
        assert_eq!(
            c.tcb.poll_timeout(),
            None,
            "no timer once everything is acknowledged"
        );
    }
}

#[test]
fn ak5_duplicate_ack_is_ignored() {
    let mut c = established(RstPolicy::Rfc5961);
    c.send_data(&[b'a'; 100]);
    c.feed(seg(ACK, c.rcv_nxt, iss(61)));
    let o = c.feed(seg(ACK, c.rcv_nxt, iss(31)));
    c.expect_none("AK-5: a duplicate ACK is ignored");
    assert_rule(&o, Rule::Ak5, "AK-5");
    assert_eq!(
        c.tcb.info().snd_una,
        SeqNumber(iss(61)),
        "SND.UNA never moves back"
    );
    c.assert_state(State::Established, "AK-5");
}

#[test]
fn ak6_rfc793_ack_of_unsent_data_draws_ack() {
    let mut c = established(RstPolicy::Rfc793);
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt.wrapping_add(10)).data(b"dropme"));
    c.expect_one(c.ack_now(), "AK-6: send an ACK, drop the segment");
    assert_rule(&o, Rule::Ak6, "AK-6");
    let info = c.tcb.info();
    assert_eq!(
        info.recv_queue, 0,
        "AK-6: the segment is dropped, data included"
    );
    assert_eq!(info.snd_una, SeqNumber(iss(1)));
}

#[test]
fn ak6_rfc793_in_fin_wait_1() {
    let mut c = fin_wait_1(RstPolicy::Rfc793);
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt.wrapping_add(1)));
    c.expect_one(c.ack_now(), "AK-6 in FIN-WAIT-1");
    c.assert_state(State::FinWait1, "AK-6 does not ack the FIN");
    assert_rule(&o, Rule::Ak6, "AK-6");
}

#[test]
fn ak7_window_update() {
    let mut c = established(RstPolicy::Rfc5961);
    // SND.WL1 = IRS (the SYN,ACK) < SEG.SEQ: update.
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).wnd(1234));
    c.expect_none("a window update needs no reply");
    assert_rule(&o, Rule::Ak7, "AK-7");
    let info = c.tcb.info();
    assert_eq!(info.snd_wnd, 1234, "SND.WND <- SEG.WND");
    assert_eq!(info.snd_wl1, SeqNumber(c.rcv_nxt), "SND.WL1 <- SEG.SEQ");
    assert_eq!(info.snd_wl2, SeqNumber(c.snd_nxt), "SND.WL2 <- SEG.ACK");
}

#[test]
fn ak7_old_segment_does_not_update_the_window() {
    let mut c = established(RstPolicy::Rfc5961);
    c.send_data(&[b'w'; 100]);
    c.feed(seg(ACK, c.rcv_nxt, iss(101)).wnd(2000));
    assert_eq!(c.tcb.info().snd_wnd, 2000);
    // Reordered older ACK: SND.WL1 = SEG.SEQ but SND.WL2 > SEG.ACK: no update.
    let o = c.feed(seg(ACK, c.rcv_nxt, iss(51)).wnd(9000));
    assert!(!o.rules.contains(&Rule::Ak7), "not AK-7: [{}]", ids(&o));
    let info = c.tcb.info();
    assert_eq!(
        info.snd_wnd, 2000,
        "an old segment must not update the window"
    );
    assert_eq!(info.snd_wl2, SeqNumber(iss(101)));
}

#[test]
fn ak7_duplicate_ack_with_new_window_updates() {
    // SND.UNA =< SEG.ACK: an ACK equal to SND.UNA still updates the window.
    let mut c = established(RstPolicy::Rfc5961);
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).wnd(0));
    assert_eq!(c.tcb.info().snd_wnd, 0);
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).wnd(5000));
    assert_rule(&o, Rule::Ak7, "AK-7");
    assert_eq!(c.tcb.info().snd_wnd, 5000, "the window reopens");
}

#[test]
fn ak8_partial_ack_in_fin_wait_1_stays() {
    // Data then FIN: an ACK of the data alone does not acknowledge the FIN.
    let mut c = established(RstPolicy::Rfc5961);
    c.send_data(b"abcd");
    assert_eq!(c.tcb.close(c.now), Ok(()));
    c.expect_one(
        want(flags(FIN, ACK), iss(5), Some(irs(1))),
        "FIN after the data",
    );
    c.snd_nxt = iss(6);
    let o = c.feed(seg(ACK, c.rcv_nxt, iss(5)));
    assert_rule(&o, Rule::Ak4, "AK-4 in FIN-WAIT-1");
    c.assert_state(State::FinWait1, "our FIN is not yet acknowledged");
    let o = c.feed(seg(ACK, c.rcv_nxt, iss(6)));
    assert_rule(&o, Rule::Ak8, "AK-8");
    c.assert_state(State::FinWait2, "AK-8");
}

#[test]
fn ak9_ack_in_fin_wait_2_keeps_the_tcb() {
    let mut c = fin_wait_2(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
    c.expect_none("AK-9 needs no reply");
    assert_rule(&o, Rule::Ak9, "AK-9");
    c.assert_state(State::FinWait2, "AK-9: do not delete the TCB");
    assert!(!c.tcb.is_closed());
}

#[test]
fn ak10_ack_not_covering_our_fin_in_closing_is_ignored() {
    let mut c = closing(RstPolicy::Rfc5961);
    c.feed(seg(ACK, c.rcv_nxt, iss(1)));
    c.assert_state(State::Closing, "AK-10: otherwise ignore the segment");
}

#[test]
fn ak11_ack_not_covering_our_fin_in_last_ack_stays() {
    let mut c = last_ack(RstPolicy::Rfc5961);
    c.feed(seg(ACK, c.rcv_nxt, iss(1)));
    c.assert_state(State::LastAck, "our FIN is not acknowledged");
    assert!(!c.tcb.is_closed());
}

/// The peer's FIN again (it did not get our ACK of it): SEG.SEQ = RCV.NXT-1, acknowledging
/// `ack` (ISS+1 when the peer has not seen our FIN, ISS+2 when it has).
fn retransmitted_fin(c: &Conn, ack: u32) -> TcpRepr {
    seg(flags(FIN, ACK), c.rcv_nxt.wrapping_sub(1), ack)
}

#[test]
fn ak12_time_wait_retransmitted_fin_is_acked_and_restarts_2msl() {
    let mut c = time_wait(RstPolicy::Rfc5961);
    c.advance(Duration::from_secs(60));
    let o = c.feed(retransmitted_fin(&c, iss(2)));
    c.expect_one(c.ack_now(), "AK-12: acknowledge it");
    c.assert_state(State::TimeWait, "AK-12");
    assert_rule(&o, Rule::Ak12, "AK-12");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(c.now + MSL * 2),
        "AK-12: restart the 2 MSL timeout"
    );
}

// ---------------------------------------------------------------------------------------------
// URG (3.10.7.4 sixth): UR-1, UR-2.

#[test]
fn ur1_urgent_is_signalled_once_per_urgent_sequence() {
    let mut c = established(RstPolicy::Rfc5961);
    // RCV.UP = SEG.SEQ + SEG.UP = RCV.NXT+10 (MUST-62: first non-urgent octet), past this segment.
    let o = c.feed(
        seg(flags(ACK, URG), c.rcv_nxt, c.snd_nxt)
            .up(10)
            .data(b"URGEN"),
    );
    assert_rule(&o, Rule::Ur1, "UR-1");
    assert_rule(&o, Rule::Tx1, "TX-1");
    c.rcv_nxt = c.rcv_nxt.wrapping_add(5);
    c.expect_one(c.ack_now(), "TX-1 acknowledges the urgent text");
    let urgent = c
        .events()
        .iter()
        .filter(|e| **e == ConnEvent::Urgent)
        .count();
    assert_eq!(urgent, 1, "UR-1: the user is signalled");
    // The same urgent sequence continues: RCV.UP does not move, no second signal.
    let o = c.feed(
        seg(flags(ACK, URG), c.rcv_nxt, c.snd_nxt)
            .up(5)
            .data(b"TDATA"),
    );
    assert_rule(&o, Rule::Ur1, "UR-1");
    c.rcv_nxt = c.rcv_nxt.wrapping_add(5);
    c.expect_one(c.ack_now(), "TX-1");
    assert!(
        !c.events().contains(&ConnEvent::Urgent),
        "UR-1: do not signal again for the same urgent data"
    );
    assert_eq!(
        c.recv_all(),
        b"URGENTDATA",
        "urgent data stays in the stream"
    );
}

#[test]
fn ur1_urgent_in_fin_wait_2() {
    let mut c = fin_wait_2(RstPolicy::Rfc5961);
    let o = c.feed(
        seg(flags(ACK, URG), c.rcv_nxt, c.snd_nxt)
            .up(3)
            .data(b"abc"),
    );
    assert_rule(&o, Rule::Ur1, "UR-1 in FIN-WAIT-2");
    assert!(c.events().contains(&ConnEvent::Urgent));
}

#[test]
fn ur2_urgent_after_fin_is_ignored() {
    // In LAST-ACK the segment acknowledges ISS+1 only, so that AK-11 does not close first.
    for mut c in [close_wait(RstPolicy::Rfc5961), last_ack(RstPolicy::Rfc5961)] {
        let st = c.state();
        let ctx = format!("UR-2 in {st}");
        let o = c.feed(seg(flags(ACK, URG), c.rcv_nxt, iss(1)).up(5));
        assert_rule(&o, Rule::Ur2, &ctx);
        assert!(
            !c.events().contains(&ConnEvent::Urgent),
            "{ctx}: URG ignored"
        );
        c.assert_state(st, &ctx);
    }
}

// ---------------------------------------------------------------------------------------------
// Segment text (3.10.7.4 seventh): TX-1, TX-2.

#[test]
fn tx1_in_order_data_is_delivered_and_acked() {
    for p in POLICIES {
        let mut c = established(p);
        let o = c.feed(seg(flags(ACK, TcpFlags::PSH), c.rcv_nxt, c.snd_nxt).data(b"hello world"));
        c.rcv_nxt = c.rcv_nxt.wrapping_add(11);
        c.expect_one(c.ack_now(), "TX-1: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
        assert_rule(&o, Rule::Tx1, "TX-1");
        assert!(c.events().contains(&ConnEvent::Readable));
        assert_eq!(
            c.tcb.info().rcv_nxt,
            SeqNumber(c.rcv_nxt),
            "RCV.NXT advanced over the data"
        );
        assert_eq!(c.recv_all(), b"hello world");
    }
}

#[test]
fn tx1_the_ack_is_piggybacked_on_data() {
    // "This acknowledgment should be piggybacked on a segment being transmitted if possible."
    let mut c = established(RstPolicy::Rfc5961);
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(b"ping"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(4);
    assert_eq!(c.tcb.send(c.now, b"pong"), Ok(4));
    let out = c.out();
    let last = out.last().unwrap_or_else(|| panic!("the data must go out"));
    let mut w = c.ack_now();
    w.len = 4;
    check(last, w, "the data segment carries ACK = RCV.NXT");
}

/// FIN-WAIT-1 through a half-close (`shutdown_write`), which keeps RECEIVE open (`close` may
/// give it up, MAY-1).
fn half_closed(p: RstPolicy) -> Conn {
    let mut c = established(p);
    assert_eq!(c.tcb.shutdown_write(c.now), Ok(()));
    c.expect_one(
        want(flags(FIN, ACK), iss(1), Some(irs(1))),
        "half-close sends FIN",
    );
    c.snd_nxt = iss(2);
    c.assert_state(State::FinWait1, "half-close");
    c
}

#[test]
fn tx1_data_in_fin_wait_1_is_delivered() {
    // The peer may keep sending after our FIN (3.6.1 half-closed connections).
    let mut c = half_closed(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, c.rcv_nxt, iss(1)).data(b"late"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(4);
    c.expect_one(c.ack_now(), "TX-1 in FIN-WAIT-1");
    assert_rule(&o, Rule::Tx1, "TX-1 in FIN-WAIT-1");
    c.assert_state(State::FinWait1, "TX-1 in FIN-WAIT-1");
    assert_eq!(c.recv_all(), b"late");
}

#[test]
fn tx1_data_in_fin_wait_2_is_delivered() {
    let mut c = half_closed(RstPolicy::Rfc5961);
    c.feed(seg(ACK, c.rcv_nxt, iss(2)));
    c.assert_state(State::FinWait2, "AK-8");
    let o = c.feed(seg(ACK, c.rcv_nxt, iss(2)).data(b"later"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(5);
    c.expect_one(c.ack_now(), "TX-1 in FIN-WAIT-2");
    assert_rule(&o, Rule::Tx1, "TX-1 in FIN-WAIT-2");
    c.assert_state(State::FinWait2, "TX-1 in FIN-WAIT-2");
    assert_eq!(c.recv_all(), b"later");
}

#[test]
fn tx1_data_in_syn_received_with_ack_is_delivered() {
    // 3.10.7.4 fifth step moves SYN-RECEIVED to ESTABLISHED and "continue processing".
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    let o = c.feed(seg(ACK, irs(1), iss(1)).data(b"first"));
    c.rcv_nxt = irs(6);
    c.expect_one(c.ack_now(), "TX-1 after AK-2");
    assert_rule(&o, Rule::Ak2, "AK-2");
    assert_rule(&o, Rule::Tx1, "TX-1");
    c.assert_state(State::Established, "AK-2");
    assert_eq!(c.recv_all(), b"first");
}

/// TX-2: data after the peer's FIN is ignored. `ack` acknowledges only what the peer has seen,
/// so that AK-11 does not close LAST-ACK first.
fn check_tx2(mut c: Conn, st: State, ack: u32) {
    let ctx = format!("TX-2 in {st}");
    let o = c.feed(seg(ACK, c.rcv_nxt, ack).data(b"ignored"));
    assert_rule(&o, Rule::Tx2, &ctx);
    c.expect_at_most_ack(&ctx);
    let info = c.tcb.info();
    assert_eq!(
        info.rcv_nxt,
        SeqNumber(c.rcv_nxt),
        "{ctx}: RCV.NXT does not move"
    );
    assert_eq!(info.recv_queue, 0, "{ctx}: the text is ignored");
    c.assert_state(st, &ctx);
}

#[test]
fn tx2_data_in_close_wait_is_ignored() {
    check_tx2(close_wait(RstPolicy::Rfc5961), State::CloseWait, iss(1));
}

#[test]
fn tx2_data_in_closing_is_ignored() {
    check_tx2(closing(RstPolicy::Rfc5961), State::Closing, iss(1));
}

#[test]
fn tx2_data_in_last_ack_is_ignored() {
    check_tx2(last_ack(RstPolicy::Rfc5961), State::LastAck, iss(1));
}

#[test]
fn tx2_data_in_time_wait_is_ignored() {
    check_tx2(time_wait(RstPolicy::Rfc5961), State::TimeWait, iss(2));
}

// ---------------------------------------------------------------------------------------------
// FIN (3.10.7.4 eighth): FN-1 .. FN-6 (FN-0 is with SYN-SENT above).

#[test]
fn fn1_fin_with_data_delivers_then_end_of_stream() {
    let mut c = established(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(FIN, ACK), c.rcv_nxt, c.snd_nxt).data(b"bye"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(4);
    c.expect_one(c.ack_now(), "FN-1: ACK covers the data and the FIN");
    assert_rule(&o, Rule::Tx1, "TX-1");
    assert_rule(&o, Rule::Fn1, "FN-1");
    c.assert_state(State::CloseWait, "FN-1");
    let mut buf = [0u8; 16];
    assert_eq!(c.tcb.recv(&mut buf), Ok(3));
    assert_eq!(&buf[..3], b"bye");
    assert_eq!(c.tcb.recv(&mut buf), Ok(0), "then end of stream");
}

#[test]
fn fn1_fin_in_syn_received() {
    // The ACK completes the handshake (AK-2), then the FIN: CLOSE-WAIT.
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(1)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-1 in SYN-RECEIVED");
    assert_rule(&o, Rule::Fn1, "FN-1");
    c.assert_state(State::CloseWait, "FN-1");
}

#[test]
fn fn1_out_of_order_fin_waits_for_the_gap() {
    // A FIN beyond RCV.NXT is held with its segment (SHLD-31) and processed in sequence.
    let mut c = established(RstPolicy::Rfc5961);
    c.feed(seg(flags(FIN, ACK), c.rcv_nxt.wrapping_add(3), c.snd_nxt).data(b"def"));
    c.expect_at_most_ack("SQ-4");
    c.assert_state(State::Established, "the FIN is not yet in sequence");
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(b"abc"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(7);
    let out = c.out();
    let last = out.last().unwrap_or_else(|| panic!("an ACK is due"));
    check(
        last,
        c.ack_now(),
        "the ACK covers the data and the held FIN",
    );
    c.assert_state(State::CloseWait, "the held FIN is processed");
    assert_rule(&o, Rule::Tx1, "TX-1");
    assert_eq!(c.recv_all(), b"abcdef");
}

#[test]
fn fn2_fin_acking_our_fin_in_fin_wait_1() {
    let mut c = fin_wait_1(RstPolicy::Rfc793);
    let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(2)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-2");
    assert_rule(&o, Rule::Ak8, "AK-8 first");
    assert_rule(&o, Rule::Fn2, "FN-2");
    c.assert_state(State::TimeWait, "FN-2");
}

#[test]
fn fn3_simultaneous_close_rfc793() {
    let mut c = fin_wait_1(RstPolicy::Rfc793);
    let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(1)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-3");
    assert_rule(&o, Rule::Fn3, "FN-3");
    c.assert_state(State::Closing, "FN-3");
    assert!(
        c.tcb.poll_timeout().is_some(),
        "our FIN is still unacknowledged: retransmission timer"
    );
}

#[test]
fn fn4_fin_in_fin_wait_2_rfc793() {
    let mut c = fin_wait_2(RstPolicy::Rfc793);
    let o = c.feed(seg(flags(FIN, ACK), irs(1), iss(2)));
    c.rcv_nxt = irs(2);
    c.expect_one(c.ack_now(), "FN-4");
    assert_rule(&o, Rule::Fn4, "FN-4");
    c.assert_state(State::TimeWait, "FN-4");
    assert!(
        c.events().contains(&ConnEvent::PeerClosed),
        "FN-4 signals \"connection closing\""
    );
}

fn check_fn5(mut c: Conn, st: State) {
    // The peer has not seen our FIN (if we sent one): its FIN acknowledges ISS+1.
    let o = c.feed(retransmitted_fin(&c, iss(1)));
    let ctx = format!("FN-5 in {st}");
    c.expect_one(c.ack_now(), &ctx);
    c.assert_state(st, &ctx);
    assert_rule(&o, Rule::Fn5, &ctx);
}

#[test]
fn fn5_retransmitted_fin_in_close_wait() {
    check_fn5(close_wait(RstPolicy::Rfc5961), State::CloseWait);
}

#[test]
fn fn5_retransmitted_fin_in_closing() {
    check_fn5(closing(RstPolicy::Rfc5961), State::Closing);
}

#[test]
fn fn5_retransmitted_fin_in_last_ack() {
    check_fn5(last_ack(RstPolicy::Rfc5961), State::LastAck);
}

#[test]
fn fn6_fin_in_time_wait_restarts_2msl() {
    let mut c = time_wait(RstPolicy::Rfc793);
    c.advance(Duration::from_secs(100));
    let o = c.feed(retransmitted_fin(&c, iss(2)));
    c.expect_one(c.ack_now(), "FN-6: ACK");
    c.assert_state(State::TimeWait, "FN-6");
    assert_rule(&o, Rule::Fn6, "FN-6");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(c.now + MSL * 2),
        "FN-6: restart the 2 MSL timeout"
    );
    // The restarted timer, not the first one, ends TIME-WAIT.
    c.advance(Duration::from_secs(200));
    c.assert_state(
        State::TimeWait,
        "still in TIME-WAIT 300 s after entering it",
    );
    c.advance(Duration::from_secs(40));
    assert!(c.tcb.is_closed(), "2 MSL after the retransmitted FIN");
}

// ---------------------------------------------------------------------------------------------
// User calls (3.10.2 .. 3.10.5) that change state or must not.

/// 3.10.4 CLOSING, LAST-ACK, TIME-WAIT: "Respond with error: connection closing".
fn check_close_refused(mut c: Conn, st: State) {
    assert_eq!(
        c.tcb.close(c.now),
        Err(ConnError::Closing),
        "CLOSE in {st}: \"connection closing\""
    );
    c.expect_none("no second FIN");
    c.assert_state(st, "CLOSE is refused");
}

#[test]
fn close_in_closing_is_an_error() {
    check_close_refused(closing(RstPolicy::Rfc5961), State::Closing);
}

#[test]
fn close_in_last_ack_is_an_error() {
    check_close_refused(last_ack(RstPolicy::Rfc5961), State::LastAck);
}

#[test]
fn close_in_time_wait_is_an_error() {
    check_close_refused(time_wait(RstPolicy::Rfc5961), State::TimeWait);
}

#[test]
fn close_in_fin_wait_sends_no_second_fin() {
    // 3.10.4 FIN-WAIT-1/2: an error, or "ok" as long as a second FIN is not emitted.
    for mut c in [
        fin_wait_1(RstPolicy::Rfc5961),
        fin_wait_2(RstPolicy::Rfc5961),
    ] {
        let st = c.state();
        let r = c.tcb.close(c.now);
        assert!(
            r == Ok(()) || r == Err(ConnError::Closing),
            "CLOSE in {st}: {r:?}"
        );
        c.expect_none("no second FIN");
        c.assert_state(st, "CLOSE again");
    }
}

#[test]
fn send_after_close_is_refused() {
    // 3.10.2 FIN-WAIT-1 .. TIME-WAIT: "connection closing".
    for mut c in [
        fin_wait_1(RstPolicy::Rfc5961),
        fin_wait_2(RstPolicy::Rfc5961),
        last_ack(RstPolicy::Rfc5961),
        time_wait(RstPolicy::Rfc5961),
    ] {
        let st = c.state();
        assert_eq!(
            c.tcb.send(c.now, b"x"),
            Err(ConnError::Closing),
            "SEND in {st}"
        );
        c.expect_none("nothing sent");
    }
}

#[test]
fn send_in_close_wait_is_allowed() {
    let mut c = close_wait(RstPolicy::Rfc5961);
    c.send_data(b"still talking");
    c.assert_state(State::CloseWait, "SEND in CLOSE-WAIT");
}

#[test]
fn send_in_syn_sent_is_queued_until_established() {
    // 3.10.2 SYN-SENT: queue the data for transmission after entering ESTABLISHED.
    let mut c = syn_sent(RstPolicy::Rfc5961);
    assert_eq!(c.tcb.send(c.now, b"early"), Ok(5));
    c.expect_none("no data before the handshake");
    c.feed(seg(flags(SYN, ACK), IRS, iss(1)));
    c.rcv_nxt = irs(1);
    let out = c.out();
    let data = out
        .iter()
        .find(|s| !s.payload.is_empty())
        .unwrap_or_else(|| panic!("queued data goes out: {}", show_all(&out)));
    let mut w = c.ack_now();
    w.len = 5;
    check(data, w, "queued data after SS-6");
}

#[test]
fn close_in_syn_received_with_pending_data_waits_for_established() {
    // 3.10.4 SYN-RECEIVED with data queued: queue the CLOSE until ESTABLISHED.
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    assert_eq!(c.tcb.send(c.now, b"data"), Ok(4));
    let _ = c.tcb.close(c.now);
    let out = c.out();
    assert!(
        out.iter().all(|s| !s.flags.fin() && s.payload.is_empty()),
        "nothing before ESTABLISHED: {}",
        show_all(&out)
    );
    c.feed(seg(ACK, irs(1), iss(1)));
    let out = c.out();
    let fin = out
        .iter()
        .find(|s| s.flags.fin())
        .unwrap_or_else(|| panic!("the FIN follows the data: {}", show_all(&out)));
    assert_eq!(
        fin.seq.0.wrapping_add(fin.payload.len() as u32),
        iss(5),
        "FIN after the 4 data octets"
    );
    c.assert_state(State::FinWait1, "queued CLOSE done");
}

#[test]
fn shutdown_write_half_closes_and_keeps_receiving() {
    let mut c = half_closed(RstPolicy::Rfc5961);
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(b"more"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(4);
    c.expect_one(c.ack_now(), "data still acknowledged");
    c.assert_state(State::FinWait2, "our FIN acknowledged with the data");
    assert_eq!(c.recv_all(), b"more");
}

#[test]
fn abort_in_synchronized_states_sends_rst() {
    // 3.10.5: <SEQ=SND.NXT><CTL=RST>, then CLOSED.
    for mut c in [
        syn_received_passive(RstPolicy::Rfc5961),
        established(RstPolicy::Rfc5961),
        fin_wait_1(RstPolicy::Rfc5961),
        fin_wait_2(RstPolicy::Rfc5961),
        close_wait(RstPolicy::Rfc5961),
    ] {
        let st = c.state();
        c.tcb.abort(c.now);
        c.expect_one(want(RST, c.snd_nxt, None), &format!("ABORT in {st}"));
        assert!(c.tcb.is_closed(), "ABORT in {st} deletes the TCB");
        c.assert_state(State::Closed, "ABORT");
    }
}

#[test]
fn abort_in_syn_sent_closing_last_ack_time_wait_sends_nothing() {
    for mut c in [
        syn_sent(RstPolicy::Rfc5961),
        closing(RstPolicy::Rfc5961),
        last_ack(RstPolicy::Rfc5961),
        time_wait(RstPolicy::Rfc5961),
    ] {
        let st = c.state();
        c.tcb.abort(c.now);
        c.expect_none(&format!("ABORT in {st}"));
        assert!(c.tcb.is_closed(), "ABORT in {st} deletes the TCB");
    }
}

// ---------------------------------------------------------------------------------------------
// Timeouts (3.10.8).

#[test]
fn timeout_syn_is_retransmitted_with_backoff() {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    // RFC 6298 2.1: initial RTO 1 s; 5.5: doubled on each expiry.
    assert_eq!(c.tcb.poll_timeout(), Some(T0 + Duration::from_secs(1)));
    c.fire("first RTO");
    c.expect_one(want(SYN, ISS, None), "3.10.8: the SYN is sent again");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(T0 + Duration::from_secs(3)),
        "backed off to 2 s"
    );
    c.fire("second RTO");
    c.expect_one(want(SYN, ISS, None), "second retransmission");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(T0 + Duration::from_secs(7)),
        "backed off to 4 s"
    );
}

#[test]
fn timeout_syn_ack_is_retransmitted() {
    let mut c = syn_received_passive(RstPolicy::Rfc5961);
    c.fire("RTO in SYN-RECEIVED");
    c.expect_one(
        want(flags(SYN, ACK), ISS, Some(irs(1))),
        "the SYN,ACK is sent again",
    );
    c.assert_state(State::SynReceived, "still SYN-RECEIVED");
}

#[test]
fn timeout_data_is_retransmitted_from_snd_una() {
    let mut c = established(RstPolicy::Rfc5961);
    let sent_at = c.now;
    c.send_data(b"lost segment");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(sent_at + Duration::from_secs(1)),
        "RTO floor 1 s (RFC 6298 2.4)"
    );
    c.fire("RTO");
    let mut w = want(ACK, iss(1), Some(c.rcv_nxt));
    w.len = 12;
    let s = c.expect_one(w, "the front of the retransmission queue is sent again");
    assert_eq!(s.payload, b"lost segment");
    // RFC 6298 5.5/5.6: RTO doubled, timer restarted from the retransmission.
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(c.now + Duration::from_secs(2)),
        "backed-off RTO"
    );
}

#[test]
fn timeout_timer_restarts_on_a_partial_ack() {
    // RFC 6298 5.3: an ACK of new data restarts the timer to expire RTO after it.
    let mut c = established(RstPolicy::Rfc5961);
    c.send_data(&[3; 100]);
    c.advance(Duration::from_millis(500));
    c.feed(seg(ACK, c.rcv_nxt, iss(51)));
    let rto = c.tcb.info().rto;
    assert!(rto >= Duration::from_secs(1), "RFC 6298 2.4: RTO >= 1 s");
    assert_eq!(
        c.tcb.poll_timeout(),
        Some(c.now + rto),
        "timer restarted at the ACK"
    );
    c.fire("RTO after the partial ACK");
    let mut w = want(ACK, iss(51), Some(c.rcv_nxt));
    w.len = 50;
    c.expect_one(w, "only the unacknowledged octets are retransmitted");
}

#[test]
fn timeout_fin_is_retransmitted_in_fin_wait_1() {
    let mut c = fin_wait_1(RstPolicy::Rfc5961);
    c.fire("RTO in FIN-WAIT-1");
    c.expect_one(
        want(flags(FIN, ACK), iss(1), Some(irs(1))),
        "the FIN is sent again",
    );
    c.assert_state(State::FinWait1, "still FIN-WAIT-1");
}

#[test]
fn timeout_fin_is_retransmitted_in_last_ack() {
    let mut c = last_ack(RstPolicy::Rfc5961);
    c.fire("RTO in LAST-ACK");
    c.expect_one(
        want(flags(FIN, ACK), iss(1), Some(irs(2))),
        "the FIN is sent again",
    );
    c.assert_state(State::LastAck, "still LAST-ACK");
}

#[test]
fn timeout_r2_for_syn_gives_up_after_at_least_3_minutes() {
    // MUST-20/23: close after R2 (>= 3 min for a SYN), telling the user.
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let end = T0 + Duration::from_secs(3600);
    while !c.tcb.is_closed() && c.now < end {
        c.fire("SYN retransmissions");
        c.out();
    }
    assert!(c.tcb.is_closed(), "the connection attempt ends");
    assert!(
        c.now >= T0 + Duration::from_secs(180),
        "MUST-23: R2 for a SYN is at least 3 minutes (gave up at {})",
        c.now
    );
    assert!(c.events().contains(&ConnEvent::TimedOut));
}

#[test]
fn timeout_r2_for_data_closes_the_connection() {
    // SHLD-11: R2 at least 100 s; then "connection aborted due to user timeout".
    let mut c = established(RstPolicy::Rfc5961);
    let start = c.now;
    c.send_data(b"into the void");
    let end = start + Duration::from_secs(3600);
    while !c.tcb.is_closed() && c.now < end {
        c.fire("data retransmissions");
        c.out();
    }
    assert!(c.tcb.is_closed(), "R2 closes the connection");
    assert!(
        c.now >= start + Duration::from_secs(100),
        "R2 >= 100 s (gave up at {})",
        c.now
    );
    assert!(c.events().contains(&ConnEvent::TimedOut));
}

// ---------------------------------------------------------------------------------------------
// Text and controls that arrive with the SYN are queued until ESTABLISHED (3.10.7.2 third,
// 3.10.7.3 fourth).

#[test]
fn li4_data_on_the_syn_is_delivered_after_the_handshake() {
    let cfg = config(RstPolicy::Rfc5961);
    let syn = peer_syn().data(b"hello");
    let tcb = Tcb::accept_syn(&cfg, tuple(), SeqNumber(ISS), &syn, T0);
    let mut c = Conn::new(tcb, &cfg);
    // RCV.NXT <- SEG.SEQ+1: the SYN,ACK acknowledges the SYN only; the text waits.
    c.expect_one(
        want(flags(SYN, ACK), ISS, Some(irs(1))),
        "LI-4: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>",
    );
    assert_eq!(c.tcb.info().recv_queue, 0, "no text before ESTABLISHED");
    // The peer's ACK follows its 5 octets of text.
    c.feed(seg(ACK, irs(6), iss(1)));
    c.assert_state(State::Established, "AK-2");
    c.rcv_nxt = irs(6);
    let out = c.out();
    let last = out
        .last()
        .unwrap_or_else(|| panic!("the queued text must be acknowledged"));
    check(last, c.ack_now(), "ACK of the text queued with the SYN");
    assert_eq!(c.recv_all(), b"hello");
}

#[test]
fn li4_fin_on_the_syn_closes_after_the_handshake() {
    let cfg = config(RstPolicy::Rfc5961);
    let syn = peer_syn();
    let syn = TcpRepr {
        flags: flags(SYN, FIN),
        ..syn
    };
    let tcb = Tcb::accept_syn(&cfg, tuple(), SeqNumber(ISS), &syn, T0);
    let mut c = Conn::new(tcb, &cfg);
    c.expect_one(
        want(flags(SYN, ACK), ISS, Some(irs(1))),
        "LI-4: the FIN is queued, not acknowledged",
    );
    c.assert_state(State::SynReceived, "LI-4");
    c.feed(seg(ACK, irs(2), iss(1)));
    c.rcv_nxt = irs(2);
    c.assert_state(
        State::CloseWait,
        "the queued FIN is processed after AK-2 (FN-1)",
    );
    let out = c.out();
    let last = out
        .last()
        .unwrap_or_else(|| panic!("the queued FIN must be acknowledged"));
    check(last, c.ack_now(), "ACK of the FIN queued with the SYN");
}

#[test]
fn ss7_data_on_the_simultaneous_syn_is_queued() {
    // 3.10.7.3 fourth step, SYN-RECEIVED branch: "queue them for processing after the
    // ESTABLISHED state has been reached".
    let mut c = syn_sent(RstPolicy::Rfc5961);
    c.feed(seg(SYN, IRS, 0).data(b"early"));
    c.expect_one(
        want(flags(SYN, ACK), ISS, Some(irs(1))),
        "SS-7: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>",
    );
    c.assert_state(State::SynReceived, "SS-7");
    c.feed(seg(ACK, irs(6), iss(1)));
    c.assert_state(State::Established, "AK-2");
    c.rcv_nxt = irs(6);
    let out = c.out();
    let last = out
        .last()
        .unwrap_or_else(|| panic!("the queued text must be acknowledged"));
    check(last, c.ack_now(), "ACK of the text queued with the SYN");
    assert_eq!(c.recv_all(), b"early");
}

// ---------------------------------------------------------------------------------------------
// Sending within the peer's window and MSS (3.7.1, 3.8.6), probing a zero window (MUST-36).

fn sent_payload(out: &[TcpRepr]) -> (usize, usize) {
    let total = out.iter().map(|s| s.payload.len()).sum();
    let largest = out.iter().map(|s| s.payload.len()).max().unwrap_or(0);
    (total, largest)
}

/// ESTABLISHED where the SYN,ACK carried `mss` (or none) and offered `wnd`.
fn established_mss(mss: Option<u16>, wnd: u16) -> Conn {
    let mut c = syn_sent(RstPolicy::Rfc5961);
    let mut syn_ack = seg(flags(SYN, ACK), IRS, iss(1)).wnd(wnd);
    if let Some(m) = mss {
        syn_ack = syn_ack.opt(TcpOption::Mss(m));
    }
    c.feed(syn_ack);
    c.rcv_nxt = irs(1);
    c.expect_one(c.ack_now(), "SS-6");
    c
}

#[test]
fn mss_default_is_536_without_the_option() {
    // MUST-15: no MSS option received: send MSS 536 (IPv4).
    let mut c = established_mss(None, PEER_WND);
    assert_eq!(c.tcb.info().snd_mss, 536);
    assert_eq!(c.tcb.send(c.now, &[1; 1200]), Ok(1200));
    let out = c.out();
    let (total, largest) = sent_payload(&out);
    assert!(
        largest <= 536,
        "MUST-15: segments of at most 536 octets, got {}",
        show_all(&out)
    );
    assert!(total > 0, "data is sent");
}

#[test]
fn mss_effective_is_the_smaller_of_peer_mss_and_mtu() {
    // MUST-16: Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize.
    let c = established_mss(Some(1000), PEER_WND);
    assert_eq!(c.tcb.info().snd_mss, 1000, "peer MSS below the MTU");
    let c = established_mss(Some(9000), PEER_WND);
    assert_eq!(c.tcb.info().snd_mss, 1460, "MTU 1500 bounds the MSS");
}

#[test]
fn send_never_exceeds_the_offered_window() {
    // 3.8.6: the sender keeps SND.NXT within SND.UNA + SND.WND.
    let mut c = established_mss(Some(1460), 100);
    assert_eq!(c.tcb.send(c.now, &[2; 1000]), Ok(1000));
    let out = c.out();
    let (total, _) = sent_payload(&out);
    assert!(
        total <= 100,
        "at most SND.WND = 100 octets in flight, got {}",
        show_all(&out)
    );
    // The window opens: the rest follows.
    c.feed(seg(ACK, c.rcv_nxt, iss(1 + total as u32)).wnd(5000));
    let (more, _) = sent_payload(&c.out());
    assert_eq!(total + more, 1000, "all data sent once the window allows");
}

#[test]
fn zero_window_is_probed() {
    // MUST-36: a zero offered window is probed with at least one octet.
    let mut c = established(RstPolicy::Rfc5961);
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).wnd(0));
    assert_eq!(c.tcb.info().snd_wnd, 0);
    assert_eq!(c.tcb.send(c.now, b"blocked"), Ok(7));
    let out = c.out();
    assert!(
        out.iter().all(|s| s.payload.is_empty()),
        "no data into a zero window before the probe: {}",
        show_all(&out)
    );
    c.fire("persist timer");
    let out = c.out();
    let probe = out
        .iter()
        .find(|s| !s.payload.is_empty())
        .unwrap_or_else(|| panic!("a window probe is sent: {}", show_all(&out)));
    assert_eq!(probe.seq.0, iss(1), "the probe carries the next new octet");
    // The window reopens: everything is sent.
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).wnd(1000));
    let rest = c.out();
    let sent: usize = probe.payload.len() + sent_payload(&rest).0;
    assert!(
        sent >= 7,
        "all 7 octets sent: probe {}, then {}",
        show(probe),
        show_all(&rest)
    );
}

// ---------------------------------------------------------------------------------------------
// Acknowledgment timing, keep-alives, Karn.

#[test]
fn delayed_ack_is_sent_within_half_a_second() {
    // SHLD-18 lets the ACK be delayed; MUST-40: by less than 0.5 s.
    let cfg = Config {
        delayed_ack: Some(Duration::from_millis(200)),
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = established_with(&cfg);
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(b"one"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(3);
    let mut out = c.out();
    if out.is_empty() {
        c.advance(Duration::from_millis(499));
        out = c.out();
    }
    assert_eq!(out.len(), 1, "one ACK within 0.5 s, got {}", show_all(&out));
    check(&out[0], c.ack_now(), "the delayed ACK");
}

#[test]
fn keepalive_probes_after_idle_and_gives_up_without_answers() {
    // MUST-24 (on request), MUST-26 (only when idle), 3.8.4: SEG.SEQ = SND.NXT-1, no data or one
    // garbage octet; MUST-29: one lost ACK does not kill the connection.
    let mut c = established(RstPolicy::Rfc5961);
    let idle = Duration::from_secs(7200);
    c.tcb.set_keepalive(Some(idle));
    c.advance(idle - Duration::from_millis(1));
    c.expect_none("no keep-alive before the idle time");
    c.advance(Duration::from_secs(1));
    let out = c.out();
    assert_eq!(out.len(), 1, "one keep-alive, got {}", show_all(&out));
    let ka = &out[0];
    assert_eq!(
        ka.flags & !TcpFlags::PSH,
        ACK,
        "keep-alive is an ACK: {}",
        show(ka)
    );
    assert_eq!(ka.seq.0, c.snd_nxt.wrapping_sub(1), "SEG.SEQ = SND.NXT-1");
    assert_eq!(ka.ack.0, c.rcv_nxt);
    assert!(ka.payload.len() <= 1, "no data or one garbage octet");
    // The peer answers: the connection lives on and the idle clock restarts.
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
    c.advance(idle - Duration::from_secs(2));
    c.expect_none("idle again, not yet");
    c.assert_state(State::Established, "answered keep-alive");
    // Now nobody answers.
    let mut probes = 0;
    let end = c.now + Duration::from_secs(4 * 3600);
    while !c.tcb.is_closed() && c.now < end {
        c.fire("keep-alive timer");
        probes += c.out().len();
    }
    assert!(
        c.tcb.is_closed(),
        "unanswered keep-alives end the connection"
    );
    assert!(
        probes >= 2,
        "MUST-29: more than one unanswered probe ({probes})"
    );
    assert!(c.events().contains(&ConnEvent::TimedOut));
}

#[test]
fn keepalive_is_off_by_default() {
    // MUST-25.
    let mut c = established(RstPolicy::Rfc5961);
    assert_eq!(c.tcb.poll_timeout(), None, "no timer on an idle connection");
    c.advance(Duration::from_secs(3 * 3600));
    c.expect_none("no keep-alive unless requested");
}

#[test]
fn karn_no_rtt_sample_from_a_retransmitted_segment() {
    // MUST-18 (RFC 6298 3): the ACK of a retransmitted segment gives no RTT sample.
    let mut c = established(RstPolicy::Rfc5961);
    let before = c.tcb.info().srtt;
    c.send_data(b"karn");
    c.fire("RTO");
    c.out();
    c.advance(Duration::from_millis(300));
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
    assert_eq!(c.tcb.info().send_queue, 0);
    assert_eq!(
        c.tcb.info().srtt,
        before,
        "SRTT unchanged by an ambiguous sample"
    );
}

#[test]
fn rtt_sample_from_a_fresh_segment_updates_srtt() {
    let mut c = established(RstPolicy::Rfc5961);
    c.send_data(b"timed");
    c.advance(Duration::from_millis(300));
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
    let srtt = c.tcb.info().srtt;
    assert!(srtt.is_some(), "RFC 6298 2.2/2.3: a sample was taken");
    assert!(
        srtt > Some(Duration::ZERO),
        "the 300 ms sample moved SRTT: {srtt:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers wrap modulo 2^32 (3.4).

#[test]
fn a_whole_connection_across_the_sequence_wrap() {
    let cfg = config(RstPolicy::Rfc5961);
    let iss = u32::MAX - 2;
    let irs = u32::MAX - 5;
    let tcb = Tcb::connect(&cfg, tuple(), SeqNumber(iss), T0);
    let mut c = Conn::new(tcb, &cfg);
    c.snd_nxt = iss.wrapping_add(1);
    c.expect_one(want(SYN, iss, None), "SYN");
    c.feed(seg(flags(SYN, ACK), irs, iss.wrapping_add(1)));
    c.rcv_nxt = irs.wrapping_add(1);
    c.expect_one(c.ack_now(), "SS-6");
    c.assert_state(State::Established, "SS-6");
    // Our 10 octets straddle 2^32.
    c.send_data(b"0123456789");
    let o = c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
    assert_rule(&o, Rule::Ak4, "AK-4 across the wrap");
    assert_eq!(c.tcb.info().send_queue, 0);
    // The peer's 10 octets straddle 2^32 too.
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(b"abcdefghij"));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(10);
    c.expect_one(c.ack_now(), "TX-1 across the wrap");
    assert_eq!(c.recv_all(), b"abcdefghij");
    // An old segment from before the wrap is still recognised as old.
    c.feed(seg(ACK, irs, c.snd_nxt).data(b"x"));
    c.expect_one(c.ack_now(), "SQ-1 for a pre-wrap duplicate");
    // Close.
    assert_eq!(c.tcb.close(c.now), Ok(()));
    c.expect_one(
        want(flags(FIN, ACK), c.snd_nxt, Some(c.rcv_nxt)),
        "FIN after the wrap",
    );
    c.snd_nxt = c.snd_nxt.wrapping_add(1);
    c.feed(seg(flags(FIN, ACK), c.rcv_nxt, c.snd_nxt));
    c.rcv_nxt = c.rcv_nxt.wrapping_add(1);
    c.expect_one(c.ack_now(), "FN-2");
    c.assert_state(State::TimeWait, "FN-2 across the wrap");
}

// ---------------------------------------------------------------------------------------------
// A SYN in TIME-WAIT (MAY-2, RFC 6191): a new incarnation or an old duplicate.

#[test]
fn sq5_time_wait_syn_with_older_timestamp_is_an_old_duplicate() {
    // RFC 6191 / 3.6.1 (2): an old duplicate SYN leaves TIME-WAIT in place.
    let cfg = Config {
        timestamps: true,
        time_wait_reuse: true,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = time_wait_with(&cfg);
    let old = seg(SYN, irs(100_000), 0).opt(TcpOption::Timestamps { tsval: 1, tsecr: 0 });
    let o = c.feed(old);
    assert!(!o.rules.contains(&Rule::Sq5), "not SQ-5: [{}]", ids(&o));
    c.assert_state(State::TimeWait, "an old duplicate SYN");
    let out = c.out();
    assert!(
        out.iter().all(|s| !s.flags.rst()),
        "no reset of the TIME-WAIT connection: {}",
        show_all(&out)
    );
}

#[test]
fn sq5_time_wait_syn_with_higher_sequence_without_timestamps() {
    // MAY-2 (3.6.1): without timestamps, a SYN above the old sequence space may reopen.
    let cfg = Config {
        time_wait_reuse: true,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = time_wait_with(&cfg);
    let o = c.feed(seg(SYN, c.rcv_nxt.wrapping_add(100_000), 0));
    assert_rule(&o, Rule::Sq5, "SQ-5");
    assert_ne!(
        c.state(),
        State::TimeWait,
        "the TIME-WAIT incarnation gives way"
    );
}

#[test]
fn sq5_time_wait_syn_below_rcv_nxt_without_timestamps_is_not_reused() {
    let cfg = Config {
        time_wait_reuse: true,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = time_wait_with(&cfg);
    let o = c.feed(seg(SYN, c.rcv_nxt.wrapping_sub(10), 0));
    assert!(!o.rules.contains(&Rule::Sq5), "not SQ-5: [{}]", ids(&o));
    c.assert_state(State::TimeWait, "an old SYN");
    c.expect_one(c.ack_now(), "SQ-1: the old SYN is outside the window");
}

// ---------------------------------------------------------------------------------------------
// SACK blocks for held out-of-order data (RFC 2018 4; RFC 5681 4.2 immediate duplicate ACK).

fn sack_blocks_of(s: &TcpRepr) -> Vec<(u32, u32)> {
    s.options
        .iter()
        .find_map(|o| match o {
            TcpOption::Sack(blocks) => Some(blocks.iter().map(|b| (b.left.0, b.right.0)).collect()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn sack_blocks_report_out_of_order_data_most_recent_first() {
    let cfg = Config {
        sack: true,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = syn_sent_with(&cfg);
    c.feed(seg(flags(SYN, ACK), IRS, iss(1)).opt(TcpOption::SackPermitted));
    c.rcv_nxt = irs(1);
    c.expect_one(c.ack_now(), "SS-6");
    assert!(c.tcb.info().sack, "precondition: SACK negotiated");
    let base = c.rcv_nxt;
    // Two holes: octets 100..200 arrive, then 300..400.
    c.feed(seg(ACK, base.wrapping_add(100), c.snd_nxt).data(&[1; 100]));
    let dup = c.expect_one(c.ack_now(), "RFC 5681 4.2: immediate duplicate ACK");
    assert_eq!(
        sack_blocks_of(&dup),
        vec![(base.wrapping_add(100), base.wrapping_add(200))],
        "RFC 2018 4: the block of the segment that triggered the ACK"
    );
    c.feed(seg(ACK, base.wrapping_add(300), c.snd_nxt).data(&[2; 100]));
    let dup = c.expect_one(c.ack_now(), "second duplicate ACK");
    assert_eq!(
        sack_blocks_of(&dup),
        vec![
            (base.wrapping_add(300), base.wrapping_add(400)),
            (base.wrapping_add(100), base.wrapping_add(200)),
        ],
        "RFC 2018 4: most recent block first, then the previously reported ones"
    );
    // The first hole fills: RCV.NXT jumps to 200; only 300..400 is still reported.
    c.feed(seg(ACK, base, c.snd_nxt).data(&[0; 100]));
    c.rcv_nxt = base.wrapping_add(200);
    let ack = c.expect_one(c.ack_now(), "ACK after the first hole fills");
    assert_eq!(
        sack_blocks_of(&ack),
        vec![(base.wrapping_add(300), base.wrapping_add(400))],
        "data at or below the ACK is not SACKed"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties over arbitrary segment sequences: no panic, well-formed output, and rules that hold
// for every segment (3.10.7: a RST is never answered with a RST; SND.UNA =< SND.NXT).

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Arrival {
        flags: u16,
        seq_off: i64,
        ack_off: i64,
        window: u16,
        urgent: u16,
        len: usize,
        wait_ms: u64,
    }

    fn arrival() -> impl Strategy<Value = Arrival> {
        (
            0u16..0x40,
            prop_oneof![-3i64..70_000, Just(-70_000i64), Just(i64::from(i32::MAX))],
            prop_oneof![-3i64..50, Just(-70_000i64), Just(i64::from(i32::MIN))],
            any::<u16>(),
            0u16..20,
            0usize..40,
            0u64..1_500,
        )
            .prop_map(
                |(flags, seq_off, ack_off, window, urgent, len, wait_ms)| Arrival {
                    flags,
                    seq_off,
                    ack_off,
                    window,
                    urgent,
                    len,
                    wait_ms,
                },
            )
    }

    fn run(p: RstPolicy, start: u8, arrivals: &[Arrival]) {
        let mut c = match start % 6 {
            0 => established(p),
            1 => syn_received_passive(p),
            2 => fin_wait_1(p),
            3 => close_wait(p),
            4 => time_wait(p),
            _ => syn_sent(p),
        };
        if c.state() == State::Established {
            c.send_data(b"outstanding");
        }
        for a in arrivals {
            if c.tcb.is_closed() {
                break;
            }
            let info = c.tcb.info();
            let seq = (i64::from(info.rcv_nxt.0) + a.seq_off) as u32;
            let ack = (i64::from(info.snd_nxt.0) + a.ack_off) as u32;
            let s = seg(TcpFlags(a.flags), seq, ack)
                .wnd(a.window)
                .up(a.urgent)
                .data(&vec![0x5a; a.len]);
            let is_rst = s.flags.rst();
            c.feed(s);
            let out = c.out();
            if is_rst {
                assert!(
                    out.iter().all(|o| !o.flags.rst()),
                    "a RST was answered with a RST: {}",
                    show_all(&out)
                );
            }
            let info = c.tcb.info();
            if !c.tcb.is_closed() && info.state != State::SynSent {
                assert!(
                    info.snd_una <= info.snd_nxt,
                    "SND.UNA {} > SND.NXT {}",
                    info.snd_una,
                    info.snd_nxt
                );
            }
            c.advance(Duration::from_millis(a.wait_ms));
            c.out();
            c.events();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn arbitrary_segments_rfc5961(start in any::<u8>(), arrivals in prop::collection::vec(arrival(), 1..24)) {
            run(RstPolicy::Rfc5961, start, &arrivals);
        }

        #[test]
        fn arbitrary_segments_rfc793(start in any::<u8>(), arrivals in prop::collection::vec(arrival(), 1..24)) {
            run(RstPolicy::Rfc793, start, &arrivals);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Options that change what the transitions carry: window scale and timestamps (RFC 7323), Nagle
// (3.7.4).

#[test]
fn window_scale_applies_only_after_both_sides_offered_it() {
    let cfg = Config {
        window_scale: Some(7),
        ..config(RstPolicy::Rfc5961)
    };
    // The peer offers a shift of 2.
    let mut c = syn_sent_with(&cfg);
    c.feed(
        seg(flags(SYN, ACK), IRS, iss(1))
            .wnd(1000)
            .opt(TcpOption::WindowScale(2)),
    );
    c.rcv_nxt = irs(1);
    c.expect_one(c.ack_now(), "SS-6");
    let info = c.tcb.info();
    assert_eq!((info.snd_wscale, info.rcv_wscale), (2, 7));
    // RFC 7323 2.2: the window of a SYN is never scaled.
    assert_eq!(info.snd_wnd, 1000, "SYN,ACK window unscaled");
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).wnd(1000));
    assert_eq!(c.tcb.info().snd_wnd, 4000, "later windows are shifted by 2");
    // The peer does not offer it: neither side scales.
    let mut c = syn_sent_with(&cfg);
    c.feed(seg(flags(SYN, ACK), IRS, iss(1)).wnd(1000));
    c.rcv_nxt = irs(1);
    c.expect_one(c.ack_now(), "SS-6");
    let info = c.tcb.info();
    assert_eq!((info.snd_wscale, info.rcv_wscale), (0, 0), "RFC 7323 2.2");
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).wnd(1000));
    assert_eq!(c.tcb.info().snd_wnd, 1000);
}

#[test]
fn timestamps_are_echoed_and_old_ones_rejected() {
    let cfg = Config {
        timestamps: true,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = established_with(&cfg);
    assert!(
        c.tcb.info().timestamps,
        "precondition: timestamps negotiated"
    );
    // RFC 7323 4.3: TSecr echoes the TSval of the segment that advanced RCV.NXT.
    let tsval = 5_000;
    c.feed(
        seg(ACK, c.rcv_nxt, c.snd_nxt)
            .data(b"ts")
            .opt(TcpOption::Timestamps { tsval, tsecr: 0 }),
    );
    c.rcv_nxt = c.rcv_nxt.wrapping_add(2);
    let ack = c.expect_one(c.ack_now(), "TX-1");
    let echoed = ack.options.iter().find_map(|o| match o {
        TcpOption::Timestamps { tsecr, .. } => Some(*tsecr),
        _ => None,
    });
    assert_eq!(echoed, Some(tsval), "TSecr = TS.Recent");
    // RFC 7323 5.3 (PAWS): a TSval older than TS.Recent makes the segment unacceptable.
    let o = c.feed(
        seg(ACK, c.rcv_nxt, c.snd_nxt)
            .data(b"old")
            .opt(TcpOption::Timestamps {
                tsval: tsval - 1000,
                tsecr: 0,
            }),
    );
    c.expect_one(c.ack_now(), "PAWS: an ACK, the segment dropped");
    assert_rule(&o, Rule::Sq1, "SQ-1 by PAWS");
    assert_eq!(
        c.tcb.info().recv_queue,
        2,
        "the old segment's text is not taken"
    );
}

#[test]
fn nagle_holds_small_segments_while_data_is_unacknowledged() {
    // 3.7.4 (SHLD-7) and MUST-17 (the application can turn it off).
    let cfg = Config {
        nagle: true,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = established_with(&cfg);
    c.send_data(b"a");
    assert_eq!(c.tcb.send(c.now, b"b"), Ok(1));
    c.expect_none("Nagle: a small segment waits while data is in flight");
    c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt));
    let mut w = c.ack_now();
    w.len = 1;
    c.expect_one(w, "sent once the outstanding data is acknowledged");
    c.snd_nxt = c.snd_nxt.wrapping_add(1);
    c.tcb.set_nagle(false);
    assert_eq!(c.tcb.send(c.now, b"c"), Ok(1));
    let mut w = c.ack_now();
    w.len = 1;
    c.expect_one(w, "MUST-17: without Nagle it goes at once");
}

#[test]
fn the_right_edge_of_the_receive_window_never_moves_left() {
    // 3.10.7.4 seventh: "The total of RCV.NXT and RCV.WND should not be reduced" (3.8.6 SHLD-14).
    let cfg = Config {
        recv_buffer: 4096,
        ..config(RstPolicy::Rfc5961)
    };
    let mut c = established_with(&cfg);
    let mut right = 0u32;
    let mut first = true;
    for i in 0..12u32 {
        // 500 octets a time, the application reads only every third round.
        c.feed(seg(ACK, c.rcv_nxt, c.snd_nxt).data(&[i as u8; 500]));
        let taken = c.tcb.info().rcv_nxt.0.wrapping_sub(c.rcv_nxt);
        c.rcv_nxt = c.rcv_nxt.wrapping_add(taken);
        for s in c.out() {
            let edge = s.ack.0.wrapping_add(u32::from(s.window));
            if !first {
                assert!(
                    SeqNumber(edge) >= SeqNumber(right),
                    "round {i}: right edge moved left from {right} to {edge} ({})",
                    show(&s)
                );
            }
            first = false;
            right = edge;
        }
        if i % 3 == 2 {
            c.recv_all();
        }
    }
}

#[test]
fn timeout_r1_retransmissions_report_trouble_but_keep_the_connection() {
    // MUST-20 / SHLD-9: after R1 retransmissions (3 here) advise the layers above; R2 not yet.
    let mut c = established(RstPolicy::Rfc5961);
    c.send_data(b"slow path");
    for i in 0..3 {
        c.fire("RTO");
        let out = c.out();
        assert_eq!(out.len(), 1, "retransmission {i}: {}", show_all(&out));
    }
    assert!(
        c.events().contains(&ConnEvent::Trouble),
        "R1 reached: negative advice"
    );
    c.assert_state(State::Established, "R1 does not close the connection");
    assert!(!c.tcb.is_closed());
}
