//! One connection: the Transmission Control Block and the SEGMENT ARRIVES processing of
//! RFC 9293 3.10.7.3 (SYN-SENT) and 3.10.7.4 (the synchronized states).
//!
//! CLOSED (3.10.7.1) and LISTEN (3.10.7.2) have no TCB; [`crate::stack::Stack`] handles them and
//! creates a `Tcb` through [`Tcb::connect`] (active OPEN) or [`Tcb::accept_syn`] (LI-4).

use crate::config::Config;
use crate::rules::Rule;
use crate::state::State;
use crate::time::{Duration, Instant};
use crate::tuple::FourTuple;
use crate::wire::{SeqNumber, TcpRepr};

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

/// The result of one segment: which rules handled it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentOutcome {
    /// Every SEGMENT ARRIVES rule the segment went through, in order (e.g. AK-4, TX-1, FN-1).
    pub rules: Vec<Rule>,
}

/// One connection. See the module docs.
pub struct Tcb {
    _private: (),
}

#[allow(unused_variables)]
impl Tcb {
    /// Active OPEN (RFC 9293 3.10.1): SYN-SENT, the SYN queued for `poll_transmit`.
    pub fn connect(config: &Config, tuple: FourTuple, iss: SeqNumber, now: Instant) -> Tcb {
        todo!()
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
        todo!()
    }

    /// SEGMENT ARRIVES in SYN-SENT or a synchronized state. `security_ok` is false when the
    /// stack found an IP security/compartment mismatch (SS-5, SC-1, SC-2).
    pub fn on_segment(&mut self, now: Instant, seg: &TcpRepr, security_ok: bool) -> SegmentOutcome {
        todo!()
    }

    /// The next segment to send, if any (ports filled in from the tuple).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<TcpRepr> {
        todo!()
    }

    /// When `on_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// Fires whatever timers expired by `now` (retransmission, delayed ACK, persist, keep-alive,
    /// TIME-WAIT, user timeout).
    pub fn on_timeout(&mut self, now: Instant) {
        todo!()
    }

    pub fn poll_event(&mut self) -> Option<ConnEvent> {
        todo!()
    }

    pub fn state(&self) -> State {
        todo!()
    }

    pub fn tuple(&self) -> FourTuple {
        todo!()
    }

    /// True once the TCB is deleted (CLOSED reached). The stack drains `poll_transmit` and then
    /// forgets the connection.
    pub fn is_closed(&self) -> bool {
        todo!()
    }

    /// True when a passive-open TCB went back to LISTEN (RS-2, SY-1): the stack removes it and
    /// the listener carries on.
    pub fn returned_to_listen(&self) -> bool {
        todo!()
    }

    /// True for a TCB created by `accept_syn` (passive OPEN).
    pub fn is_passive(&self) -> bool {
        todo!()
    }

    pub fn info(&self) -> TcbInfo {
        todo!()
    }

    /// SEND (3.10.2). Returns how many octets were queued.
    pub fn send(&mut self, now: Instant, data: &[u8]) -> Result<usize, ConnError> {
        todo!()
    }

    /// RECEIVE (3.10.3). `Ok(0)` means end of stream (peer's FIN consumed).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, ConnError> {
        todo!()
    }

    /// Half-close: queue a FIN after the pending data (CLOSE of 3.10.4 without giving up RECEIVE).
    pub fn shutdown_write(&mut self, now: Instant) -> Result<(), ConnError> {
        todo!()
    }

    /// CLOSE (3.10.4).
    pub fn close(&mut self, now: Instant) -> Result<(), ConnError> {
        todo!()
    }

    /// ABORT (3.10.5): RST in SYN-RECEIVED and the synchronized states, then CLOSED.
    pub fn abort(&mut self, now: Instant) {
        todo!()
    }

    /// MUST-17: the application can disable Nagle.
    pub fn set_nagle(&mut self, on: bool) {
        todo!()
    }

    /// MUST-24: the application can request keep-alives (`None` turns them off).
    pub fn set_keepalive(&mut self, idle: Option<Duration>) {
        todo!()
    }
}
