//! What to send and when: the SYN / SYN-ACK, retransmissions, new data under the send window,
//! cwnd, Nagle (RFC 9293 3.7.4, MUST-17) and sender SWS avoidance (MUST-38), zero-window probes
//! (MUST-36), keep-alives, and ACKs with the receive window (receiver SWS avoidance, MUST-39).

use super::timers::Timer;
use super::Tcb;
use crate::state::State;
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpFlags, TcpOption, TcpRepr};

impl Tcb {
    pub(super) fn transmit(&mut self, now: Instant) -> Option<TcpRepr> {
        if let Some(seg) = self.queued.pop_front() {
            return Some(seg);
        }
        if self.gone() {
            return None;
        }
        if self.syn_tx && !self.syn_acked {
            return Some(self.emit_syn(now));
        }
        match self.state {
            State::SynSent | State::SynReceived => {
                if self.state == State::SynReceived && self.ack_now {
                    return Some(self.ack_segment(now, self.snd_nxt, TcpFlags::NONE, Vec::new()));
                }
                self.ack_now = false;
                return None;
            }
            State::Closed | State::Listen => return None,
            _ => {}
        }
        if self.probe_fire {
            if let Some(seg) = self.emit_loss_probe(now) {
                return Some(seg);
            }
        }
        if let Some(seg) = self.emit_retransmission(now) {
            return Some(seg);
        }
        if let Some(seg) = self.emit_new_data(now) {
            return Some(seg);
        }
        if self.persist_fire {
            self.persist_fire = false;
            if let Some(seg) = self.emit_probe(now) {
                return Some(seg);
            }
        }
        if self.keepalive_fire {
            // RFC 9293 3.8.4 (MUST-26..29): SEG.SEQ = SND.NXT - 1, no data.
            self.keepalive_fire = false;
            return Some(self.ack_segment(now, self.snd_nxt - 1, TcpFlags::NONE, Vec::new()));
        }
        if self.ack_now {
            return Some(self.ack_segment(now, self.ack_seq(), TcpFlags::NONE, Vec::new()));
        }
        None
    }

    /// SEG.SEQ of a segment without data: SND.NXT (RFC 9293 3.10.7.4, <SEQ=SND.NXT>), also
    /// when a zero-window probe put SND.NXT one octet past the peer's window.
    ///
    /// Not the right edge of the peer's window (Linux's tcp_acceptable_seq()): when both sides
    /// probe a window they believe closed and each *accepts* the other's probe octet, each
    /// side's RCV.NXT is the other's SND.UNA + 1, so ACKs at the edge would fall below RCV.NXT,
    /// be unacceptable, and neither side would ever process the other's window update
    /// (tests/fuzz_regressions.rs). At SND.NXT the ACK is acceptable whenever the probe octet
    /// was taken; when the peer dropped it, the peer answers with an ACK that is acceptable to
    /// us, and answers to unacceptable segments are rate-limited (`ack_unacceptable`), so no
    /// exchange runs away.
    fn ack_seq(&self) -> SeqNumber {
        self.snd_nxt
    }

    /// A RST with its own numbers (SS-1, AK-3, abort, ...), sent before anything else.
    pub(super) fn queue_rst(&mut self, seq: SeqNumber, ack: Option<SeqNumber>) {
        let flags = if ack.is_some() {
            TcpFlags::RST | TcpFlags::ACK
        } else {
            TcpFlags::RST
        };
        let seg = self.bare_segment(seq, ack.unwrap_or(SeqNumber(0)), flags, 0, Vec::new());
        self.queued.push_back(seg);
    }

    fn bare_segment(
        &self,
        seq: SeqNumber,
        ack: SeqNumber,
        flags: TcpFlags,
        window: u16,
        options: Vec<TcpOption>,
    ) -> TcpRepr {
        TcpRepr {
            src_port: self.tuple.local.port(),
            dst_port: self.tuple.remote.port(),
            seq,
            ack,
            flags,
            reserved: 0,
            window,
            urgent: 0,
            options,
            padding: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED, or FIN-WAIT-1 after a CLOSE there), <SEQ=ISS>;
    /// its window is never scaled.
    fn emit_syn(&mut self, now: Instant) -> TcpRepr {
        self.syn_tx = false;
        let syn_ack = self.state != State::SynSent;
        let options = self.syn_option_list(now);
        let mut payload = Vec::new();
        if self.snd_nxt == self.iss {
            // A first SYN of Fast Open carries data (RFC 7413 4.2.1).
            let len = if syn_ack {
                0
            } else {
                self.fastopen_syn_data(&options)
            };
            payload = self.send_buf.peek(0, len);
            self.snd_nxt = self.iss + 1u32 + len;
            self.rtt_sample = Some((self.snd_nxt, now));
        }
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
        self.rtx_since.get_or_insert(now);
        let window = self.recv_buf.free().min(usize::from(u16::MAX)) as u16;
        let (flags, ack) = if syn_ack {
            self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + u32::from(window));
            self.note_ack_sent();
            (
                TcpFlags::SYN | TcpFlags::ACK | self.ecn_syn_ack_flags(),
                self.rcv_nxt,
            )
        } else {
            (TcpFlags::SYN, SeqNumber(0))
        };
        let mut seg = self.bare_segment(self.iss, ack, flags, window, options);
        seg.payload = payload;
        seg
    }

    /// Any segment after the handshake: ACK set, RCV.NXT, the window, timestamps, SACK.
    pub(super) fn ack_segment(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        flags: TcpFlags,
        payload: Vec<u8>,
    ) -> TcpRepr {
        let window = self.window_to_advertise();
        // RFC 2883 4 (2): each duplicate is reported in at most one D-SACK block.
        let dsack = self.dsack.take();
        let options = self.data_option_list(now, !payload.is_empty(), dsack);
        self.note_ack_sent();
        let flags = flags | TcpFlags::ACK | self.ecn_ack_flags();
        let mut seg = self.bare_segment(seq, self.rcv_nxt, flags, window, options);
        seg.payload = payload;
        seg
    }

    /// Every segment we send carries an ACK: nothing is left to acknowledge.
    fn note_ack_sent(&mut self) {
        self.ack_now = false;
        self.timers.stop(Timer::DelayedAck);
        self.unacked_segs = 0;
        self.last_ack_sent = self.rcv_nxt;
    }

    /// The window field: min(free, 65535 << Rcv.Wind.Shift) >> Rcv.Wind.Shift. The right edge
    /// never moves left, and only moves right in steps of min(MSS, buffer / 2) (MUST-39).
    pub(super) fn window_to_advertise(&mut self) -> u16 {
        let shift = self.opts.rcv_wscale;
        let avail = (self.recv_buf.free() as u64).min(u64::from(u16::MAX) << shift);
        let current = u64::from(self.rcv_wnd());
        let wnd = if avail > current && avail - current >= self.sws_threshold() {
            avail
        } else {
            current
        };
        let field = (wnd >> shift).min(u64::from(u16::MAX));
        let edge = self.rcv_nxt + ((field << shift) as u32);
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        field as u16
    }

    /// MUST-39 step: min(Fr * RCV.BUFF, Eff.snd.MSS) with Fr = 1/2.
    pub(super) fn sws_threshold(&self) -> u64 {
        let half = self.recv_buf.capacity() as u64 / 2;
        u64::from(self.opts.our_mss).min(half).max(1)
    }

    /// Octets of data from SND.UNA to SND.NXT before our FIN is sent (new data ends at the FIN):
    /// only the SYN's sequence number, until it is acknowledged, is not data.
    fn data_in_flight(&self) -> usize {
        debug_assert!(self.fin_seq.is_none());
        let mut n = self.snd_nxt - self.snd_una;
        if !self.syn_acked && n > 0 {
            n -= 1;
        }
        n
    }

    /// Resend from `rtx_nxt` (after a timeout, up to cwnd; after three duplicate ACKs, one
    /// segment), skipping what the peer SACKed. Karn: no RTT sample while resending.
    fn emit_retransmission(&mut self, now: Instant) -> Option<TcpRepr> {
        let mut p = self.rtx_nxt?.max(self.snd_una);
        // RFC 2018 5: "The data sender MUST retransmit the segment at the left edge of the
        // window after a retransmit timeout, whether or not the SACKed bit is on for that
        // segment." A block that covers SND.UNA is one the receiver no longer holds (else it
        // would have acknowledged it): skipping it would resend nothing, timeout after timeout.
        if p != self.snd_una {
            for b in &self.sacked {
                if b.left <= p && p < b.right {
                    p = b.right;
                }
            }
        }
        let end = self.rtx_end.min(self.snd_nxt);
        if p >= end {
            self.rtx_nxt = None;
            return None;
        }
        if p != self.snd_una && (p - self.snd_una) as u64 >= u64::from(self.cwnd) {
            self.rtx_nxt = Some(p);
            return None;
        }
        // Stop before the next SACKed block.
        let limit = self
            .sacked
            .iter()
            .map(|b| b.left)
            .filter(|&l| l > p)
            .fold(end, |a, l| a.min(l));
        let data_off = p - self.snd_una;
        let avail = self.send_buf.len().saturating_sub(data_off);
        let len = avail.min(usize::from(self.snd_mss())).min(limit - p);
        let fin = self.fin_seq == Some(p + len) && p + len < limit;
        if len == 0 && !fin {
            self.rtx_nxt = None;
            return None;
        }
        let payload = self.send_buf.peek(data_off, len);
        let mut flags = TcpFlags::NONE;
        if len > 0 && data_off + len == self.send_buf.len() {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        self.rtx_nxt = Some(p + len + usize::from(fin));
        self.rack_transmitted(p, p + len + usize::from(fin), now);
        self.rtt_sample = None;
        if !self.timers.is_armed(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
        Some(self.ack_segment(now, p, flags, payload))
    }

    /// New data and our FIN, under min(SND.WND, cwnd), Nagle and sender SWS avoidance.
    fn emit_new_data(&mut self, now: Instant) -> Option<TcpRepr> {
        // CLOSING too: a CLOSE with data still queued enters FIN-WAIT-1 before the FIN is
        // sent (RFC 9293 3.10.4: "queue this until all preceding SENDs have been segmentized");
        // the peer's FIN can then move us to CLOSING with that data still to go.
        let sending = matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        );
        if !sending || self.fin_seq.is_some() {
            return None;
        }
        let data_off = self.data_in_flight();
        let unsent = self.send_buf.len().saturating_sub(data_off);
        let in_flight = (self.snd_nxt - self.snd_una) as u64;
        let cwnd = self.cwnd.saturating_add(self.limited_transmit());
        let wnd = u64::from(self.snd_wnd.min(cwnd));
        let usable = wnd.saturating_sub(in_flight).min(usize::MAX as u64) as usize;
        let mss = usize::from(self.snd_mss());
        let len = unsent.min(usable).min(mss);
        let fin = self.fin_queued && len == unsent;
        if len == 0 && !fin {
            self.arm_persist(now, unsent);
            return None;
        }
        if len > 0 {
            // MUST-38 (RFC 9293 3.8.6.2.1) with Nagle (3.7.4): a full segment; or everything
            // queued when nothing is unacknowledged (or Nagle is off); or half the largest
            // window the peer offered. A FIN is never held back.
            let nagle_ok = !self.nagle || in_flight == 0;
            let half_window = self.max_snd_wnd > 0 && len as u64 >= u64::from(self.max_snd_wnd) / 2;
            let ok = len == mss || fin || (nagle_ok && (len == unsent || half_window));
            if !ok {
                self.arm_persist(now, unsent);
                return None;
            }
        }
        let beyond_cwnd = (in_flight + len as u64).saturating_sub(u64::from(self.cwnd));
        if self.limited_transmit() > 0 {
            self.limited_sent = self.limited_sent.max(beyond_cwnd as u32);
        }
        Some(self.send_new(now, data_off, len, fin))
    }

    /// Sends `len` new octets (and the FIN) at SND.NXT.
    pub(super) fn send_new(
        &mut self,
        now: Instant,
        data_off: usize,
        len: usize,
        fin: bool,
    ) -> TcpRepr {
        let seq = self.snd_nxt;
        let payload = self.send_buf.peek(data_off, len);
        let mut flags = TcpFlags::NONE;
        // PSH on the segment that empties what the application wrote (RFC 9293 3.9.1.2).
        if len > 0 && data_off + len == self.send_buf.len() {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
            self.fin_seq = Some(seq + len);
        }
        self.snd_nxt = seq + len + usize::from(fin);
        if self.rtt_sample.is_none() && self.recover.is_none() {
            self.rtt_sample = Some((self.snd_nxt, now));
        }
        if !self.timers.is_armed(Timer::Retransmit) && self.persist_backoff == 0 {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            self.rtx_since = Some(now);
        }
        if self.snd_wnd > 0 {
            self.timers.stop(Timer::Persist);
        }
        // Octets sent into a zero window can only be a window probe, which RFC 3168 6.1.6 keeps
        // out of ECN: "the TCP data sender MUST NOT set either an ECT codepoint or the CWR bit
        // on window probe packets".
        if len > 0 && self.snd_wnd > 0 {
            flags |= self.ecn_new_data();
        }
        if len > 0 || fin {
            self.last_sent = Some((seq, len + usize::from(fin)));
            self.rack_transmitted(seq, self.snd_nxt, now);
            self.arm_loss_probe(now);
        }
        self.ack_segment(now, seq, flags, payload)
    }

    /// Nothing in flight and data we may not send: the persist timer (zero window, MUST-36)
    /// doubles as the SWS override timer (RFC 9293 3.8.6.2.1).
    fn arm_persist(&mut self, now: Instant, unsent: usize) {
        if unsent > 0 && self.snd_nxt == self.snd_una && !self.timers.is_armed(Timer::Persist) {
            self.timers
                .set(Timer::Persist, now + self.persist_interval());
        }
    }

    /// RTO doubled per unanswered probe, capped at the RTO ceiling (SHLD-29/30).
    pub(super) fn persist_interval(&self) -> crate::time::Duration {
        let base = self.rtt.rto();
        let factor = 1u32 << self.persist_backoff.min(16);
        base.checked_mul(factor)
            .unwrap_or(self.rto_max)
            .min(self.rto_max.max(base))
    }

    /// The persist timer fired: a zero-window probe of one octet (the same octet again if the
    /// last probe is unacknowledged), or what fits in a small window (SWS override).
    fn emit_probe(&mut self, now: Instant) -> Option<TcpRepr> {
        if self.snd_nxt > self.snd_una {
            let payload = self.send_buf.peek(0, 1);
            if payload.is_empty() {
                return None;
            }
            return Some(self.ack_segment(now, self.snd_una, TcpFlags::NONE, payload));
        }
        // Nothing is in flight: the unsent data starts at the front of the buffer.
        let unsent = self.send_buf.len();
        if unsent == 0 {
            return None;
        }
        let len = if self.snd_wnd == 0 {
            1
        } else {
            unsent
                .min(self.snd_wnd as usize)
                .min(usize::from(self.snd_mss()))
        };
        Some(self.send_new(now, 0, len, false))
    }
}
