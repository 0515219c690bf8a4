//! Explicit Congestion Notification (RFC 3168), which RFC 9293 3.8.2 asks for: "A TCP
//! endpoint SHOULD implement ECN as described in RFC 3168 (SHLD-8)."
//!
//! The reference takes part when the peer asks (an ECN-setup SYN, 6.1.1) and never asks on
//! an active OPEN, as Linux does by default (`tcp_ecn = 2`). Once both ends agreed:
//!
//! - new data goes out ECN-capable (ECT(0)); pure ACKs, retransmissions and window probes never
//!   do (6.1.4, 6.1.5, 6.1.6);
//! - a data packet that arrives marked CE (congestion experienced) makes every ACK carry ECE
//!   until a packet with CWR arrives (6.1.3);
//! - an ACK with ECE halves the congestion window once per window of data, and the next new
//!   data packet carries CWR (6.1.2).

use super::Tcb;
use crate::wire::{ecn::CE, SeqNumber, TcpFlags, TcpRepr};

/// The ECN state of one connection.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ecn {
    /// Both ends agreed in the handshake.
    pub on: bool,
    /// A CE-marked data packet arrived: set ECE on every ACK until the peer's CWR.
    pub echo: bool,
    /// The congestion window was reduced for an ECE: CWR on the next new data packet.
    pub cwr_due: bool,
    /// SND.NXT at the last reduction: ECEs on ACKs up to it report the same congestion.
    pub recover: Option<SeqNumber>,
    /// The segment `poll_transmit` returned last is ECN-capable (new data).
    pub ect_last: bool,
}

impl Tcb {
    /// An ECN-setup SYN (ECE and CWR both set, 6.1.1) arrived at a listener that accepts ECN.
    pub(super) fn ecn_take_syn(&mut self, syn: &TcpRepr, accept: bool) {
        self.ecn.on = accept && syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR);
    }

    /// The flags an ECN-setup SYN-ACK adds: ECE, not CWR (6.1.1).
    pub(super) fn ecn_syn_ack_flags(&self) -> TcpFlags {
        if self.ecn.on {
            TcpFlags::ECE
        } else {
            TcpFlags::NONE
        }
    }

    /// Every segment that passed the sequence check: CWR ends the echo, then a CE mark on data
    /// (re)starts it (6.1.3: "After receiving a CWR packet, the data receiver stops setting
    /// the ECE flag (unless it receives another CE packet)").
    pub(super) fn ecn_arrives(&mut self, seg: &TcpRepr, ip_ecn: u8) {
        if !self.ecn.on {
            return;
        }
        if seg.flags.contains(TcpFlags::CWR) {
            self.ecn.echo = false;
        }
        if ip_ecn == CE && !seg.payload.is_empty() {
            self.ecn.echo = true;
        }
    }

    /// An acceptable ACK with ECE (6.1.2): "the TCP source halves the congestion window
    /// "cwnd" and reduces the slow start threshold "ssthresh"", at most once per window.
    ///
    /// "the TCP sender's congestion window should be reduced only once in response to a series
    /// of dropped and/or CE packets from a single window of data": the window is the data that
    /// was in flight at the reduction, below `recover`. An ACK that reaches `recover` and no
    /// further acknowledges none of the data sent since, so its ECE (the receiver echoes until
    /// it sees our CWR, 6.1.3) still reports that window and is ignored; only an ACK beyond
    /// `recover` can report congestion of new data.
    pub(super) fn ecn_echo_arrives(&mut self) {
        if !self.ecn.on || self.ecn.recover.is_some_and(|r| self.snd_una <= r) {
            return;
        }
        let flight = (self.snd_nxt - self.snd_una) as u32;
        self.ssthresh = self.halved_ssthresh(flight);
        self.cwnd = self.ssthresh;
        self.ecn.cwr_due = true;
        self.ecn.recover = Some(self.snd_nxt);
    }

    /// ECE on every segment after the handshake while echoing (6.1.3).
    pub(super) fn ecn_ack_flags(&self) -> TcpFlags {
        if self.ecn.on && self.ecn.echo {
            TcpFlags::ECE
        } else {
            TcpFlags::NONE
        }
    }

    /// A segment of new data is being sent: it is ECN-capable, and carries CWR if the window
    /// was reduced since the last one (6.1.2: "the first new data packet sent after the window
    /// reduction").
    pub(super) fn ecn_new_data(&mut self) -> TcpFlags {
        if !self.ecn.on {
            return TcpFlags::NONE;
        }
        self.ecn.ect_last = true;
        if std::mem::take(&mut self.ecn.cwr_due) {
            TcpFlags::CWR
        } else {
            TcpFlags::NONE
        }
    }
}
