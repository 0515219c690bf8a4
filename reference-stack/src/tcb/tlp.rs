//! The tail loss probe of RFC 8985 7 (RACK-TLP), behind `Config::rack_tlp` and only on
//! connections that negotiated SACK (the probe's ACK is read through SACK; Linux's
//! tcp_schedule_loss_probe checks the same). When the tail of a flight draws no ACK for about
//! two round trips, one probe goes out — new data if the peer's window allows, else the highest
//! segment sent again — so that the ACK it draws shows the loss before the RTO would.
//!
//! RACK's time-based loss marking (RFC 8985 6), which finds the loss the probe's ACK reveals,
//! is `rack.rs`.

use super::timers::Timer;
use super::Tcb;
use crate::time::{Duration, Instant};
use crate::wire::{SeqNumber, TcpFlags, TcpRepr};

/// WCDelAckT (RFC 8985 7.2): the worst-case delayed-ACK timer of the receiver, waited for
/// when only one segment is in flight (its ACK alone may be delayed).
pub(super) const WC_DEL_ACK: Duration = Duration::from_millis(200);

/// RFC 8985 7.2: PTO without an RTT sample.
pub(super) const PTO_NO_SRTT: Duration = Duration::from_secs(1);

impl Tcb {
    /// RFC 8985 7.2: PTO = 2 * SRTT, plus WCDelAckT when FlightSize is one segment; 1 s before
    /// any RTT sample. (The cap at the RTO's expiry is `arm_loss_probe`'s.)
    pub(super) fn pto(&self) -> Duration {
        let Some(srtt) = self.rtt.srtt() else {
            return PTO_NO_SRTT;
        };
        let flight = (self.snd_nxt - self.snd_una) as u64;
        let mut pto = srtt.saturating_mul(2);
        if flight <= u64::from(self.snd_mss()) {
            pto = pto.saturating_add(WC_DEL_ACK);
        }
        pto
    }

    /// RFC 8985 7.1: (re)start the PTO timer after sending new data that is not itself a probe,
    /// or on an ACK that acknowledges new data — unless in fast recovery or RTO recovery, with
    /// segments SACKed, or with this episode's probe still unacknowledged. Otherwise it stops.
    pub(super) fn arm_loss_probe(&mut self, now: Instant) {
        let may = self.rack_tlp
            && self.opts.sack
            && self.syn_acked
            && self.snd_nxt > self.snd_una
            && self.recover.is_none()
            && self.sacked.is_empty()
            && self.tlp_end.is_none()
            && self.persist_backoff == 0;
        if !may {
            self.timers.stop(Timer::LossProbe);
            return;
        }
        // RFC 8985 7.2: "If Now() + PTO > TCP_RTO_expiration(), PTO = TCP_RTO_expiration() -
        // Now()": a probe due after the RTO goes at the RTO's time, in its place.
        let mut at = now + self.pto();
        if let Some(rto_at) = self.timers.deadline(Timer::Retransmit) {
            at = at.min(rto_at);
        }
        self.timers.set(Timer::LossProbe, at);
    }

    /// The PTO timer fired: a probe is due at the next `poll_transmit`. The conditions of 7.1
    /// are for starting the timer; a SACK that arrived since does not cancel it (7.3 sends on
    /// expiry). Loss recovery stops the timer (`cancel_loss_probe`), an ACK of everything
    /// stops it (`arm_loss_probe`), and a probe's episode never arms it.
    pub(super) fn on_loss_probe_timeout(&mut self) {
        self.timers.stop(Timer::LossProbe);
        self.probe_fire = true;
    }

    /// Fast recovery or RTO recovery began, or an ACK answered the tail: no probe now (7.1).
    pub(super) fn cancel_loss_probe(&mut self) {
        self.timers.stop(Timer::LossProbe);
        self.probe_fire = false;
    }

    /// RFC 8985 7.3: the probe. New data, at most one SMSS, when some is unsent and the
    /// receive window allows (cwnd does not limit a probe); else the highest segment sent so
    /// far, again. Then TLP.end_seq = SND.NXT (one probe per episode, 7.1) and the RTO timer,
    /// not the PTO timer, is armed.
    pub(super) fn emit_loss_probe(&mut self, now: Instant) -> Option<TcpRepr> {
        self.probe_fire = false;
        let seg = match self.probe_new_data(now) {
            Some(seg) => seg,
            None => self.probe_last_segment(now)?,
        };
        self.tlp_end = Some(self.snd_nxt);
        self.timers.stop(Timer::LossProbe);
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        Some(seg)
    }

    fn probe_new_data(&mut self, now: Instant) -> Option<TcpRepr> {
        if self.fin_seq.is_some() {
            return None;
        }
        let data_off = self.snd_nxt - self.snd_una;
        let unsent = self.send_buf.len().saturating_sub(data_off);
        let in_flight = data_off as u64;
        let room = u64::from(self.snd_wnd).saturating_sub(in_flight);
        let len = (unsent as u64).min(room).min(u64::from(self.snd_mss())) as usize;
        if len == 0 {
            return None;
        }
        let fin = self.fin_queued && len == unsent;
        Some(self.send_new(now, data_off, len, fin))
    }

    /// The highest segment sent, from what is still unacknowledged of it to SND.NXT (its FIN
    /// included). Karn (MUST-18): a resent segment is not timed.
    fn probe_last_segment(&mut self, now: Instant) -> Option<TcpRepr> {
        let (seq, _) = self.last_sent?;
        let start = seq.max(self.snd_una);
        let end = self.snd_nxt;
        if start >= end {
            return None;
        }
        // A FIN sent is the last sequence number sent (SND.NXT - 1), so inside the segment.
        let fin = self.fin_seq.is_some();
        let len = (end - start) - usize::from(fin);
        let data_off = start - self.snd_una;
        let payload = self.send_buf.peek(data_off, len);
        if payload.len() != len {
            return None;
        }
        let mut flags = TcpFlags::NONE;
        if len > 0 && data_off + len == self.send_buf.len() {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        self.rtt_sample = None;
        self.rack_transmitted(start, end, now);
        Some(self.ack_segment(now, start, flags, payload))
    }

    /// RFC 8985 7.4: an ACK at or beyond TLP.end_seq ends the probe's episode.
    pub(super) fn end_probe_episode(&mut self, ack: SeqNumber) {
        if self.tlp_end.is_some_and(|end| ack >= end) {
            self.tlp_end = None;
        }
    }
}
