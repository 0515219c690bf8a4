//! One connection: the Transmission Control Block and the SEGMENT ARRIVES processing of
//! RFC 9293 3.10.7.3 (SYN-SENT) and 3.10.7.4 (the synchronized states).
//!
//! CLOSED (3.10.7.1) and LISTEN (3.10.7.2) have no TCB; [`crate::stack::Stack`] handles them and
//! creates a `Tcb` through [`Tcb::connect`] (active OPEN) or [`Tcb::accept_syn`] (LI-4).
//!
//! Sans-IO, in the [`Stack`](crate::stack::Stack)'s vocabulary: `handle_segment` /
//! `handle_icmp` / `handle_timeout` / the user calls change the TCB and queue what is to be said;
//! `poll_transmit` builds the segments, `poll_timeout` says when to call `handle_timeout`,
//! `poll_event` hands out the events. Layout:
//!
//! - `segment_arrives`: the 3.10.7.3 and 3.10.7.4 dispatch, step by step, reporting rule ids;
//! - `ack`: what an acceptable ACK does to the sender (SND.UNA, RTT, cwnd, SACK, SND.WND);
//! - `output`: what to send and when (SYN, retransmission, new data, probes, ACKs, the window);
//! - `options`: MSS / window scale / timestamps / SACK negotiation and the options we send;
//! - `timers`: retransmission, persist, delayed ACK, keep-alive, TIME-WAIT, R1/R2;
//! - `tlp`: the tail loss probe of RACK-TLP (RFC 8985 7), when configured;
//! - `app`: SEND, RECEIVE, CLOSE, half-close, ABORT;
//! - `tfo_client`: TCP Fast Open on an active OPEN (RFC 7413 4.2.1);
//! - `rtt`, `recv_buffer`, `send_buffer`: RFC 6298 estimator and the two buffers.
//!
//! Choices where the RFC leaves room, or where this TCB keeps things simple:
//!
//! - A retransmitted FIN of the peer (its octet is RCV.NXT - 1) passes the sequence check so
//!   that AK-12 / FN-5 / FN-6 can handle it as steps five and eight describe; any other
//!   unacceptable segment gets SQ-1 / SQ-2, including a repeated SYN in SYN-RECEIVED (an ACK,
//!   not a SYN-ACK; the SYN-ACK is resent by its own timer).
//! - Figure 7: in an active SYN-RECEIVED, the peer's SYN-ACK at SEG.SEQ = IRS has its old SYN
//!   trimmed and its ACK completes the open (AK-2).
//! - A FIN that arrives with the ACK of ours in FIN-WAIT-1 reports AK-8 then FN-2.
//! - In TIME-WAIT a segment without FIN reports nothing at step five and goes on (UR-2, TX-2).
//! - PAWS (RFC 7323 5.3) drops a non-RST segment whose TSval is below TS.Recent; there is no
//!   24-day idle rule, and segments without a timestamp are accepted even when negotiated.
//!   TS.Recent follows 4.3 (SEG.SEQ =< Last.ACK.sent). RTT samples do not use TSecr (Karn only).
//! - SACK: blocks are sent on segments without data (so a full segment never exceeds the MSS);
//!   received blocks keep retransmissions off SACKed octets. No RFC 6675 pipe accounting.
//! - D-SACK (RFC 2883): the ACK a duplicate segment draws reports the duplicate octets in its
//!   first SACK block, once; a duplicate carried on a data segment is not reported.
//! - Tail loss probe (RFC 8985 7), with `Config::rack_tlp` on a SACK connection: one probe
//!   per episode at PTO = 2 * SRTT (+ WCDelAckT for a single segment), new data if the window
//!   allows, else the highest segment sent. RACK's time-based loss marking (8985 6) with it:
//!   a segment sent more than RACK.rtt + reo_wnd before a delivered one is lost (the
//!   reordering timer waits out the rest); no DSACK-driven window growth.
//! - Congestion control: RFC 5681 slow start / congestion avoidance, fast retransmit on the
//!   third duplicate ACK and RFC 6582 partial ACKs; after an RTO, go-back-N paced by cwnd.
//!   Limited transmit (RFC 3042): the first two duplicate ACKs each let one new segment out.
//! - Zero window: the persist timer sends one new octet past the window and then repeats that
//!   octet with exponential backoff for ever (MUST-36/37). The same timer is the SWS override.
//! - Path MTU (RFC 1191, RFC 8201): a "packet too big" quoting a segment in flight lowers the
//!   send MSS and resends the flight at the new size; the estimate is never raised again.
//!   With `Config::plpmtud_black_hole`, the R1th retransmission timeout without progress lowers
//!   it too (RFC 4821 7.7: to search_low, then halved per timeout).
//! - R2 is time since the last forward progress, checked when the retransmission timer fires.
//! - Keep-alives run in ESTABLISHED and CLOSE-WAIT with nothing in flight.
//! - RECEIVE after a reset returns the error even if data was buffered (queues are flushed).

mod ack;
mod app;
mod ecn;
mod options;
mod output;
mod pmtu;
mod rack;
pub mod recv_buffer;
pub mod rtt;
mod segment_arrives;
pub mod send_buffer;
#[cfg(test)]
mod tests;
mod tfo_client;
mod timers;
mod tlp;

use std::collections::VecDeque;

use crate::config::{Config, Keepalive, RstPolicy, UtoLimits};
use crate::fastopen::{self, SynFastOpen};
use crate::rules::Rule;
use crate::state::State;
use crate::time::{Duration, Instant};
use crate::tuple::FourTuple;
use crate::wire::{IcmpClass, SackBlock, SeqNumber, TcpRepr};

use recv_buffer::RecvBuffer;
use rtt::RttEstimator;
use send_buffer::SendBuffer;
use timers::TimerTable;

/// What the application is told, through `Stack::poll_event` (RFC 9293 3.9.1.8; quinn-style
/// events instead of callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEvent {
    /// The handshake completed (ESTABLISHED).
    Connected,
    /// The peer sent FIN: no more data will arrive ("connection closing").
    PeerClosed,
    /// New in-order data is readable.
    Readable,
    /// Urgent data: the receive urgent pointer moved (MUST-32).
    Urgent,
    /// R1 retransmissions reached (MUST-20, SHLD-9).
    Trouble,
    /// "connection reset" (RS-4, SC-2, SY-3, abort).
    Reset,
    /// "connection refused" (SS-3, RS-3).
    Refused,
    /// R2 reached (MUST-20) or keep-alive gave up: the connection is closed.
    TimedOut,
    /// The connection has fully closed (TCB deleted after LAST-ACK/TIME-WAIT/abort).
    Closed,
}

/// Errors of the application calls (RFC 9293 3.9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnError {
    /// Nothing to read / no room to write right now.
    WouldBlock,
    /// "error: connection not open" / "connection closing" for SEND after CLOSE or shutdown.
    Closing,
    /// "connection reset".
    Reset,
    /// "connection refused".
    Refused,
    /// "connection aborted due to user timeout" (R2).
    TimedOut,
    /// The call is not valid in this state (e.g. RECEIVE in SYN-SENT with nothing queued).
    InvalidState,
}

impl core::fmt::Display for ConnError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConnError::WouldBlock => "operation would block",
            ConnError::Closing => "connection closing",
            ConnError::Reset => "connection reset",
            ConnError::Refused => "connection refused",
            ConnError::TimedOut => "connection timed out",
            ConnError::InvalidState => "invalid in this state",
        })
    }
}

impl std::error::Error for ConnError {}

/// A snapshot of the TCB variables (RFC 9293 3.3.1), for state queries, invariants and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbInfo {
    pub state: State,
    pub iss: SeqNumber,
    pub irs: SeqNumber,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
    /// Peer's window, scaled.
    pub snd_wnd: u32,
    pub snd_wl1: SeqNumber,
    pub snd_wl2: SeqNumber,
    pub rcv_nxt: SeqNumber,
    /// Our receive window, in octets.
    pub rcv_wnd: u32,
    /// The effective send MSS (MUST-16).
    pub snd_mss: u16,
    /// Window-scale shifts in use (0 when not negotiated).
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub timestamps: bool,
    pub sack: bool,
    pub rto: Duration,
    pub srtt: Option<Duration>,
    /// Octets queued to send (not yet acknowledged, including unsent).
    pub send_queue: usize,
    /// Octets received in order and not yet read by the application.
    pub recv_queue: usize,
    /// Octets held out of order.
    pub ooo_queue: usize,
}

/// A segment as it arrives at a connection: the TCP segment and what the IP layer knew of it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub tcp: &'a TcpRepr,
    /// False when the stack found an IP security/compartment mismatch (SS-5, SC-1, SC-2).
    pub security_ok: bool,
    /// The ECN field of the IP header it came in (RFC 3168 5; [`crate::wire::ecn::CE`] marks
    /// congestion).
    pub ecn: u8,
}

impl<'a> Arrival<'a> {
    /// `tcp` with no security mismatch and Not-ECT: what most tests feed a TCB.
    pub fn new(tcp: &'a TcpRepr) -> Arrival<'a> {
        Arrival {
            tcp,
            security_ok: true,
            ecn: 0,
        }
    }
}

/// The result of one segment: which rules handled it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentOutcome {
    /// Every SEGMENT ARRIVES rule the segment went through, in order (e.g. AK-4, TX-1, FN-1).
    pub rules: Vec<Rule>,
}

/// MUST-40: an ACK is never delayed by 0.5 s or more.
const MAX_ACK_DELAY: Duration = Duration::from_millis(499);

/// What the options of the SYN exchange settled (RFC 9293 3.7.1, RFC 7323, RFC 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Negotiated {
    /// MSS we announce (MUST-67) and the peer's (MUST-15 default when absent).
    our_mss: u16,
    peer_mss: u16,
    /// Both sides offered window scaling.
    wscale: bool,
    /// Shifts in use; both zero unless both sides offered window scaling (RFC 7323 2.2).
    snd_wscale: u8,
    rcv_wscale: u8,
    timestamps: bool,
    sack: bool,
}

/// One connection. See the module docs.
pub struct Tcb {
    tuple: FourTuple,
    state: State,
    passive: bool,
    /// SQ-5: a SYN in TIME-WAIT opened a new incarnation; the stack takes it from here.
    time_wait_syn: bool,

    // What the user configured, copied at creation.
    rst_policy: RstPolicy,
    time_wait_reuse: bool,
    offer_wscale: Option<u8>,
    offer_timestamps: bool,
    offer_sack: bool,
    delayed_ack: Option<Duration>,
    msl: Duration,
    r1: u32,
    r2: Duration,
    r2_syn: Duration,
    /// RFC 5482: the limits a peer's User Timeout Option is held to (`None`: ignored), the user
    /// timeout this end stands for (ADV_UTO: its R2 before any option), and CHANGEABLE, false
    /// once the application sets R2 itself.
    uto: Option<UtoLimits>,
    adv_uto: Duration,
    r2_changeable: bool,
    nagle: bool,
    /// Keep-alives on (MUST-24, off by default: MUST-25), and their timing.
    keepalive_on: bool,
    keepalive: Keepalive,
    rto_max: Duration,
    /// RACK-TLP's tail loss probe (RFC 8985 7) on SACK connections.
    rack_tlp: bool,
    /// `Config::plpmtud_black_hole` (RFC 4821 7.7).
    plpmtud_black_hole: bool,
    /// The configured MTU (MUST-67: our MSS option is derived from it).
    mtu: usize,
    /// Path MTU learnt from "packet too big" messages (RFC 1191, RFC 8201), if lower.
    path_mtu: Option<usize>,

    // RFC 9293 3.3.1 send sequence variables.
    iss: SeqNumber,
    snd_una: SeqNumber,
    snd_nxt: SeqNumber,
    /// SND.WND in octets (already scaled).
    snd_wnd: u32,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    /// MAX.SND.WND (RFC 5961 5.2, RFC 9293 3.8.6.2.1).
    max_snd_wnd: u32,
    // Receive sequence variables.
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    /// The right edge we last advertised: RCV.WND = rcv_adv - RCV.NXT (never shrinks, MUST-39).
    rcv_adv: SeqNumber,
    /// RCV.UP (MUST-30..33).
    rcv_up: Option<SeqNumber>,

    opts: Negotiated,
    /// TS.Recent and Last.ACK.sent of RFC 7323 4.3.
    ts_recent: Option<u32>,
    last_ack_sent: SeqNumber,

    send_buf: SendBuffer,
    recv_buf: RecvBuffer,

    /// Our SYN (or SYN-ACK) must be (re)sent.
    syn_tx: bool,
    /// Our SYN is acknowledged (SND.UNA > ISS).
    syn_acked: bool,
    /// The application asked for a FIN (shutdown_write or close).
    fin_queued: bool,
    /// The sequence number of our FIN once sent.
    fin_seq: Option<SeqNumber>,
    /// The application gave up RECEIVE (close, not shutdown_write).
    app_closed: bool,
    /// The peer's FIN was received (RCV.NXT is past it).
    peer_fin: bool,
    /// A FIN received out of order: its sequence number.
    ooo_fin: Option<SeqNumber>,
    /// Text and FIN that came with a SYN, processed once ESTABLISHED (RFC 9293 3.10.7.2, 3.10.7.3).
    syn_queued: Option<(Vec<u8>, bool)>,
    /// The Fast Open cookie our SYN-ACK carries (RFC 7413 4.1.2), if the SYN asked for one or
    /// brought a bad one.
    fastopen_offer: Option<[u8; fastopen::COOKIE_LEN]>,
    /// The SYN had a valid Fast Open cookie: its data is taken and the application may use
    /// the connection in SYN-RECEIVED (RFC 7413 4.2.2).
    fastopen_accepted: bool,
    /// Fast Open as a client (RFC 7413 4.2.1): what our SYN carries.
    fastopen_client: tfo_client::ClientFastOpen,
    /// A cookie from the SYN-ACK, for the stack's cache (RFC 7413 4.1.3).
    fastopen_learned: Option<fastopen::ClientCookie>,
    /// Why the connection ended, for RECEIVE/SEND.
    error: Option<ConnError>,

    /// Congestion control (RFC 5681).
    cwnd: u32,
    ssthresh: u32,
    dup_acks: u32,
    /// Octets sent beyond cwnd by limited transmit since the last new ACK (RFC 3042 2); left
    /// out of FlightSize when ssthresh is set (RFC 5681 3.2 step 2).
    limited_sent: u32,
    /// Retransmission: the next sequence number to resend, and where resending stops.
    rtx_nxt: Option<SeqNumber>,
    rtx_end: SeqNumber,
    /// SND.NXT when loss recovery started (RFC 6582 "recover"); `None` outside recovery.
    recover: Option<SeqNumber>,
    /// In fast recovery (RFC 5681 3.2) rather than after a timeout.
    fast_recovery: bool,
    /// SACK scoreboard: blocks the peer holds above SND.UNA (RFC 2018).
    sacked: Vec<SackBlock>,
    /// TLP.end_seq (RFC 8985 7.3): SND.NXT when the probe went out; `None` when no probe's
    /// episode is open.
    tlp_end: Option<SeqNumber>,
    /// RACK (RFC 8985 6): the segments in flight with their transmission times, and the
    /// latest delivery.
    rack: rack::Rack,
    /// The PTO timer fired: send a tail loss probe.
    probe_fire: bool,
    /// The highest segment of new data sent: its sequence number and length (FIN included),
    /// what a tail loss probe resends when it has no new data.
    last_sent: Option<(SeqNumber, usize)>,
    /// D-SACK (RFC 2883 4): the duplicate octets of the latest segment, to be reported in the
    /// first SACK block of the ACK it draws.
    dsack: Option<SackBlock>,
    /// Explicit Congestion Notification (RFC 3168, SHLD-8).
    ecn: ecn::Ecn,

    rtt: RttEstimator,
    /// The segment being timed: sequence number that acknowledges it, and when it was sent.
    /// Cleared on any retransmission (Karn, MUST-18).
    rtt_sample: Option<(SeqNumber, Instant)>,
    /// Retransmission, persist, delayed-ACK and TIME-WAIT deadlines (keep-alive's follows from
    /// `last_rx`, see `timers.rs`).
    timers: TimerTable,
    /// When the current run of unanswered transmissions started (R2).
    rtx_since: Option<Instant>,
    rtx_count: u32,
    persist_backoff: u32,
    /// The persist timer fired: send a probe / the SWS override segment.
    persist_fire: bool,
    /// Segments received since we last sent an ACK.
    unacked_segs: u32,
    /// Send an ACK at the next `poll_transmit`.
    ack_now: bool,
    /// ACKs sent in reply to unacceptable segments (SQ-1) in the current one-second window:
    /// (window start, count). See `Tcb::ack_unacceptable`.
    invalid_acks: (Instant, u32),
    last_rx: Instant,
    keepalive_sent: u32,
    keepalive_last: Option<Instant>,
    keepalive_fire: bool,

    /// Segments already built (RSTs with their own numbers), sent before anything else.
    queued: VecDeque<TcpRepr>,
    events: VecDeque<ConnEvent>,
}

impl Tcb {
    /// Active OPEN (RFC 9293 3.10.1): SYN-SENT, the SYN queued for `poll_transmit`.
    pub fn connect(config: &Config, tuple: FourTuple, iss: SeqNumber, now: Instant) -> Tcb {
        let mut tcb = Tcb::new(config, tuple, iss, now, State::SynSent);
        tcb.syn_tx = true;
        tcb
    }

    /// LISTEN step 3 (LI-4): a SYN the listener accepted. SYN-RECEIVED, SYN-ACK queued.
    /// Options of the SYN are negotiated here; data and FIN on the SYN are queued per 3.10.7.2.
    pub fn accept_syn(
        config: &Config,
        tuple: FourTuple,
        iss: SeqNumber,
        syn: &TcpRepr,
        now: Instant,
    ) -> Tcb {
        let mut tcb = Tcb::new(config, tuple, iss, now, State::SynReceived);
        tcb.take_peer_syn(syn);
        tcb.ecn_take_syn(syn, config.ecn);
        tcb.queue_syn_text(syn);
        tcb.syn_tx = true;
        tcb
    }

    /// RFC 7413 4.2.2: what the server decided about the Fast Open option of the SYN this TCB
    /// was created from (`accept_syn`). A valid cookie: the SYN's data is taken now, RCV.NXT
    /// moves past it and the SYN-ACK acknowledges it. A request or a bad cookie: any data is
    /// dropped, the SYN-ACK acknowledges only the SYN (the ordinary three-way handshake; the
    /// client sends the data again after it) and carries a valid cookie.
    pub fn take_fastopen(&mut self, decision: SynFastOpen, syn: &TcpRepr) {
        match decision {
            SynFastOpen::Plain => {}
            SynFastOpen::Offer(cookie) => {
                self.syn_queued = None;
                self.fastopen_offer = Some(cookie);
            }
            SynFastOpen::Accept => {
                self.fastopen_accepted = true;
                let advanced = self.recv_buf.insert(0, &syn.payload);
                self.rcv_nxt += advanced;
                // What did not fit waits for a retransmission; a FIN only after all the data.
                let fin = syn.flags.fin() && advanced == syn.payload.len();
                self.syn_queued = fin.then(|| (Vec::new(), true));
                if advanced > 0 {
                    self.signal(ConnEvent::Readable);
                }
            }
        }
    }

    /// The SYN this passive TCB came from had a valid Fast Open cookie (RFC 7413 4.2.2).
    pub fn fastopen_accepted(&self) -> bool {
        self.fastopen_accepted
    }

    /// A TCB in `state`: SYN-SENT for an active OPEN, SYN-RECEIVED for a passive one.
    fn new(config: &Config, tuple: FourTuple, iss: SeqNumber, now: Instant, state: State) -> Tcb {
        let opts = options::initial(config, &tuple);
        let recv_buf = RecvBuffer::new(config.recv_buffer);
        let mut tcb = Tcb {
            tuple,
            state,
            passive: state == State::SynReceived,
            time_wait_syn: false,
            rst_policy: config.rst_policy,
            time_wait_reuse: config.time_wait_reuse,
            offer_wscale: config.window_scale.map(|s| s.min(options::MAX_WSCALE)),
            offer_timestamps: config.timestamps,
            offer_sack: config.sack,
            // MUST-40: the delay is less than 0.5 s whatever the configuration says.
            delayed_ack: config.delayed_ack.map(|d| d.min(MAX_ACK_DELAY)),
            msl: config.msl,
            r1: config.r1,
            r2: config.r2,
            r2_syn: config.r2_syn,
            uto: config.user_timeout_option,
            adv_uto: config.r2,
            r2_changeable: true,
            nagle: config.nagle,
            keepalive_on: config.keepalive.is_some(),
            keepalive: config.keepalive_timing(),
            rto_max: config.rto_max,
            rack_tlp: config.rack_tlp,
            plpmtud_black_hole: config.plpmtud_black_hole,
            mtu: config.mtu,
            path_mtu: None,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_up: None,
            opts,
            ts_recent: None,
            last_ack_sent: SeqNumber(0),
            send_buf: SendBuffer::new(config.send_buffer),
            recv_buf,
            syn_tx: false,
            syn_acked: false,
            fin_queued: false,
            fin_seq: None,
            app_closed: false,
            peer_fin: false,
            ooo_fin: None,
            syn_queued: None,
            fastopen_offer: None,
            fastopen_accepted: false,
            fastopen_client: tfo_client::ClientFastOpen::Off,
            fastopen_learned: None,
            error: None,
            cwnd: 0,
            ssthresh: u32::MAX,
            dup_acks: 0,
            limited_sent: 0,
            rtx_nxt: None,
            rtx_end: iss,
            recover: None,
            fast_recovery: false,
            sacked: Vec::new(),
            tlp_end: None,
            rack: rack::Rack::default(),
            probe_fire: false,
            last_sent: None,
            dsack: None,
            ecn: ecn::Ecn::default(),
            rtt: RttEstimator::new(config.rto_initial, config.rto_min, config.rto_max),
            rtt_sample: None,
            timers: TimerTable::default(),
            rtx_since: None,
            rtx_count: 0,
            persist_backoff: 0,
            persist_fire: false,
            unacked_segs: 0,
            ack_now: false,
            invalid_acks: (now, 0),
            last_rx: now,
            keepalive_sent: 0,
            keepalive_last: None,
            keepalive_fire: false,
            queued: VecDeque::new(),
            events: VecDeque::new(),
        };
        tcb.cwnd = tcb.initial_cwnd();
        tcb
    }

    /// SEGMENT ARRIVES in SYN-SENT or a synchronized state.
    pub fn handle_segment(&mut self, now: Instant, arrival: &Arrival<'_>) -> SegmentOutcome {
        let mut rules = Vec::new();
        if self.gone() {
            return SegmentOutcome { rules };
        }
        self.last_rx = now;
        self.keepalive_sent = 0;
        self.keepalive_last = None;
        match self.state {
            State::SynSent => self.syn_sent_arrives(now, arrival, &mut rules),
            s if s.is_synchronized() => self.synchronized_arrives(now, arrival, &mut rules),
            // CLOSED and LISTEN have no TCB (the stack handles them).
            _ => {}
        }
        SegmentOutcome { rules }
    }

    /// An ICMP/ICMPv6 error quoting one of this connection's segments, sequence number `seq`
    /// (RFC 9293 3.9.2.2, MUST-54). True if it ended the connection.
    ///
    /// Only a quoted sequence number in SND.UNA =< seq < SND.NXT (a segment sent and not yet
    /// acknowledged) is believed, as RFC 5927 4.1 advises against blind ICMP attacks: anything
    /// else cannot be about a segment in flight. Then a hard error aborts the connection
    /// (SHLD-26) and the application hears "connection refused", the meaning of ICMP's port
    /// unreachable; a passive OPEN in SYN-RECEIVED goes back to LISTEN instead, as for a reset
    /// there (RS-2). Soft errors never abort (MUST-56) and Source Quench is discarded (MUST-55).
    pub fn handle_icmp(&mut self, class: IcmpClass, seq: SeqNumber) -> bool {
        if self.gone() || !(self.snd_una <= seq && seq < self.snd_nxt) {
            return false;
        }
        match (class, self.state) {
            (IcmpClass::Hard, State::SynReceived) if self.passive => {
                self.return_to_listen();
                true
            }
            (IcmpClass::Hard, s) if s != State::Listen && s != State::Closed => {
                self.reset_connection(ConnEvent::Refused);
                true
            }
            _ => false,
        }
    }

    /// The next segment to send, if any (ports filled in from the tuple).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<TcpRepr> {
        self.ecn.ect_last = false;
        self.transmit(now)
    }

    /// The segment `poll_transmit` returned last goes out ECN-capable, ECT(0) in its IP header
    /// (RFC 3168 6.1.2: new data of a connection that negotiated ECN).
    pub fn sent_ect(&self) -> bool {
        self.ecn.ect_last
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }

    /// Fires whatever timers expired by `now` (retransmission, delayed ACK, persist, keep-alive,
    /// TIME-WAIT, user timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fire_timers(now)
    }

    pub fn poll_event(&mut self) -> Option<ConnEvent> {
        self.events.pop_front()
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }

    /// True once the TCB is deleted (CLOSED reached). The stack drains `poll_transmit` and then
    /// forgets the connection.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True when a passive-open TCB went back to LISTEN (RS-2, SY-1): the stack removes it and
    /// the listener carries on.
    pub fn returned_to_listen(&self) -> bool {
        self.state == State::Listen
    }

    /// Deleted or back in LISTEN: the stack forgets this TCB, and nothing arrives at it or
    /// fires in it any more.
    fn gone(&self) -> bool {
        matches!(self.state, State::Closed | State::Listen)
    }

    /// True for a TCB created by `accept_syn` (passive OPEN).
    pub fn is_passive(&self) -> bool {
        self.passive
    }

    /// SQ-5 (MAY-2, RFC 6191): true once, after a SYN in TIME-WAIT was taken as a new incarnation.
    /// The TCB is then closed; the stack handles that SYN as if it had arrived in LISTEN.
    pub fn take_time_wait_syn(&mut self) -> bool {
        core::mem::take(&mut self.time_wait_syn)
    }

    pub fn info(&self) -> TcbInfo {
        TcbInfo {
            state: self.state,
            iss: self.iss,
            irs: self.irs,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            snd_wnd: self.snd_wnd,
            snd_wl1: self.snd_wl1,
            snd_wl2: self.snd_wl2,
            rcv_nxt: self.rcv_nxt,
            rcv_wnd: self.rcv_wnd(),
            snd_mss: self.snd_mss(),
            snd_wscale: self.opts.snd_wscale,
            rcv_wscale: self.opts.rcv_wscale,
            timestamps: self.opts.timestamps,
            sack: self.opts.sack,
            rto: self.rtt.rto(),
            srtt: self.rtt.srtt(),
            send_queue: self.send_buf.len(),
            recv_queue: self.recv_buf.readable(),
            ooo_queue: self.recv_buf.ooo_len(),
        }
    }

    /// The congestion window, in octets (RFC 5681).
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }

    /// MUST-33: how many octets of urgent data are still to be read (from the next octet
    /// RECEIVE returns up to RCV.UP, the first non-urgent octet, MUST-62).
    pub fn urgent_remaining(&self) -> usize {
        let read_point = self.rcv_nxt - self.recv_buf.readable() as u32;
        match self.rcv_up {
            Some(up) if up > read_point => up - read_point,
            _ => 0,
        }
    }

    /// SEND (3.10.2). Returns how many octets were queued.
    pub fn send(&mut self, now: Instant, data: &[u8]) -> Result<usize, ConnError> {
        self.app_send(now, data)
    }

    /// RECEIVE (3.10.3). `Ok(0)` means end of stream (peer's FIN consumed).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, ConnError> {
        self.app_recv(buf)
    }

    /// Half-close: queue a FIN after the pending data (CLOSE of 3.10.4 without giving up RECEIVE).
    pub fn shutdown_write(&mut self, now: Instant) -> Result<(), ConnError> {
        self.app_shutdown(now)
    }

    /// CLOSE (3.10.4).
    pub fn close(&mut self, now: Instant) -> Result<(), ConnError> {
        self.app_close(now)
    }

    /// ABORT (3.10.5): RST in SYN-RECEIVED and the synchronized states, then CLOSED.
    pub fn abort(&mut self, now: Instant) {
        self.app_abort(now)
    }

    /// MUST-17: the application can disable Nagle.
    pub fn set_nagle(&mut self, on: bool) {
        self.nagle = on;
    }

    /// MUST-21 (RFC 9293 3.8.3): "An application MUST be able to set the value for R2 for a
    /// particular connection", the user timeout of 3.9.1 (OPEN and SEND take one). Data
    /// unacknowledged this long (since the last forward progress) closes the connection with
    /// `TimedOut`, checked when the retransmission timer fires. The SYN's R2 (MUST-23) stays.
    /// A User Timeout Option from the peer no longer changes it (RFC 5482 3: CHANGEABLE
    /// becomes false when the application sets the user timeout).
    pub fn set_user_timeout(&mut self, r2: Duration) {
        self.r2 = r2;
        self.r2_changeable = false;
    }

    /// MUST-24: the application can request keep-alives after `idle` (`None` turns them off);
    /// the interval and probe count stay as they are.
    pub fn set_keepalive(&mut self, idle: Option<Duration>) {
        let timing = idle.map(|idle| Keepalive {
            idle,
            ..self.keepalive
        });
        self.set_keepalive_timing(timing);
    }

    /// MUST-24, MUST-27: keep-alives with this timing (`None` turns them off). The idle clock
    /// still runs from the last segment received, and no probe is outstanding afterwards.
    pub fn set_keepalive_timing(&mut self, keepalive: Option<Keepalive>) {
        self.keepalive_on = keepalive.is_some();
        if let Some(k) = keepalive {
            self.keepalive = k;
        }
        self.keepalive_sent = 0;
        self.keepalive_last = None;
    }

    // ---- small shared helpers ----

    /// RCV.WND: what we last advertised, measured from RCV.NXT.
    fn rcv_wnd(&self) -> u32 {
        if self.rcv_adv > self.rcv_nxt {
            (self.rcv_adv - self.rcv_nxt) as u32
        } else {
            0
        }
    }

    /// Enter CLOSED and delete the TCB (the stack drains what is queued to send).
    fn delete_tcb(&mut self, event: Option<ConnEvent>) {
        self.state = State::Closed;
        self.clear_timers();
        self.ack_now = false;
        self.syn_tx = false;
        if let Some(ev) = event {
            self.signal(ev);
        }
    }

    /// Queue an event for the application; a repeat of the last queued one is not queued
    /// twice (a slow reader sees one `Readable`, not one per segment).
    fn signal(&mut self, event: ConnEvent) {
        if self.events.back() != Some(&event) {
            self.events.push_back(event);
        }
    }

    /// Stop every timer (TCB deleted, returned to LISTEN).
    fn clear_timers(&mut self) {
        self.timers.stop_all();
        self.rtx_since = None;
        self.persist_fire = false;
        self.probe_fire = false;
        self.keepalive_fire = false;
        self.rtx_nxt = None;
    }
}

/// SEG.LEN: octets of data plus one for SYN and one for FIN (RFC 9293 3.3.1).
fn seg_len(seg: &TcpRepr) -> usize {
    seg.payload.len() + usize::from(seg.flags.syn()) + usize::from(seg.flags.fin())
}
