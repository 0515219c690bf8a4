//! What an acceptable ACK does to the sending side: SND.UNA and the retransmission queue
//! (AK-4), the RTT sample (RFC 6298, Karn), congestion control (RFC 5681, RFC 6582 partial ACKs),
//! the SACK scoreboard (RFC 2018) and the send window (AK-7).

use super::options::sack_blocks;
use super::timers::Timer;
use super::Tcb;
use crate::time::Instant;
use crate::wire::{SackBlock, SeqNumber, TcpRepr};

/// The scoreboard never holds more blocks than this (older ones are forgotten).
const MAX_SACKED: usize = 32;

impl Tcb {
    /// SND.UNA < `ack` =< SND.NXT: advance SND.UNA and everything that hangs off it.
    pub(super) fn ack_advance(&mut self, now: Instant, ack: SeqNumber) {
        let mut acked = ack - self.snd_una;
        if !self.syn_acked && acked > 0 {
            // The SYN's sequence number is acknowledged.
            self.syn_acked = true;
            self.syn_tx = false;
            acked -= 1;
        }
        // An ACK of our FIN acknowledges all the data before it, and the FIN's own sequence
        // number is not in the buffer: the `min` leaves it out.
        let data = acked.min(self.send_buf.len());
        self.send_buf.consume(data);
        self.snd_una = ack;

        // RFC 6298 / Karn (MUST-18): only a segment never retransmitted is timed.
        if let Some((end, sent)) = self.rtt_sample {
            if ack >= end {
                self.rtt.sample(now - sent);
                self.rtt_sample = None;
            }
        }
        self.rtt.reset_backoff();
        self.rtx_count = 0;

        self.on_new_ack(data as u32);
        self.sacked.retain_mut(|b| {
            b.left = b.left.max(ack);
            b.right > ack
        });

        // RFC 6298 5.2 / 5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd_una == self.snd_nxt {
            self.timers.stop(Timer::Retransmit);
            self.rtx_since = None;
        } else if self.persist_backoff == 0 {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            self.rtx_since = Some(now);
        }
        // RFC 8985 7.1: an ACK of new data restarts the PTO, once the probe's episode is over;
        // a probe due but not yet sent is moot.
        self.probe_fire = false;
        self.end_probe_episode(ack);
        self.arm_loss_probe(now);
    }

    /// RFC 5681 3.1 growth, and leaving recovery (RFC 6582 3.2 full and partial ACKs).
    fn on_new_ack(&mut self, acked: u32) {
        let smss = u32::from(self.snd_mss());
        self.dup_acks = 0;
        self.limited_sent = 0;
        match self.recover {
            Some(recover) if self.snd_una >= recover => {
                if self.fast_recovery {
                    self.cwnd = self.ssthresh;
                }
                self.recover = None;
                self.fast_recovery = false;
                self.rtx_nxt = None;
                return;
            }
            Some(_) if self.fast_recovery => {
                // Partial ACK: resend the next hole, deflate by what was acknowledged. With
                // RACK the hole is resent when RACK finds it lost (in recovery at once, if
                // anything sent after it was delivered), and not again if it already was.
                if !self.rack_on() {
                    self.rtx_nxt = Some(self.snd_una);
                    self.rtx_end = self.snd_una + smss;
                }
                self.cwnd = self.cwnd.saturating_sub(acked).saturating_add(smss);
                return;
            }
            Some(_) => {
                // After a timeout: go on resending from SND.UNA, as far as cwnd allows.
                self.rtx_nxt = self.rtx_nxt.map(|p| p.max(self.snd_una));
            }
            None => {}
        }
        if acked == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            // Slow start: cwnd += min(N, SMSS).
            self.cwnd = self.cwnd.saturating_add(acked.min(smss));
        } else {
            // Congestion avoidance: about one SMSS per RTT.
            let inc = (u64::from(smss) * u64::from(smss) / u64::from(self.cwnd.max(1))).max(1);
            self.cwnd = self.cwnd.saturating_add(inc as u32);
        }
    }

    /// RFC 5681 3.2: the third duplicate ACK starts fast retransmit / fast recovery.
    pub(super) fn on_dup_ack(&mut self) {
        if self.snd_wnd == 0 || self.persist_backoff > 0 {
            // Answers to zero-window probes are not a sign of loss.
            return;
        }
        let smss = u32::from(self.snd_mss());
        self.dup_acks += 1;
        if self.dup_acks == 3 && self.recover.is_none() {
            self.enter_fast_recovery(self.snd_una, self.snd_una + smss);
        } else if self.dup_acks > 3 && self.fast_recovery {
            self.cwnd = self.cwnd.saturating_add(smss);
        }
    }

    /// RFC 5681 3.1 (4) and 3.2 step 2: ssthresh = max(FlightSize / 2, 2*SMSS), after a
    /// timeout, on fast retransmit, on ECN's congestion signal (RFC 3168 6.1.2) and on a lost
    /// retransmission found by RACK (RFC 8985 9.3).
    pub(super) fn halved_ssthresh(&self, flight: u32) -> u32 {
        (flight / 2).max(2 * u32::from(self.snd_mss()))
    }

    /// RFC 5681 3.2 steps 2-4: the third duplicate ACK, or RACK's first losses (RFC 8985 9.3),
    /// start fast recovery: ssthresh from FlightSize, cwnd inflated by the segments the
    /// duplicate ACKs say have left (three at most), and `lost..end` resent.
    pub(super) fn enter_fast_recovery(&mut self, lost: SeqNumber, end: SeqNumber) {
        let smss = u32::from(self.snd_mss());
        // RFC 5681 3.2 step 2: "additional data sent in limited transmit MUST NOT be
        // included in this calculation".
        let flight = ((self.snd_nxt - self.snd_una) as u32).saturating_sub(self.limited_sent);
        self.limited_sent = 0;
        self.ssthresh = self.halved_ssthresh(flight);
        self.cwnd = self.ssthresh + self.dup_acks.min(3) * smss;
        self.recover = Some(self.snd_nxt);
        self.fast_recovery = true;
        self.rtx_nxt = Some(lost);
        self.rtx_end = end;
        self.rtt_sample = None;
        self.cancel_loss_probe();
    }

    /// RFC 3042 2 (RFC 5681 3.2 step 1): on the first and second duplicate ACK, outside loss
    /// recovery, one more segment of new data may go beyond cwnd each, "provided that the
    /// receiver's advertised window allows": the octets new data may use beyond cwnd. cwnd
    /// itself "MUST NOT be changed".
    pub(super) fn limited_transmit(&self) -> u32 {
        if self.recover.is_none() && (1..=2).contains(&self.dup_acks) {
            self.dup_acks * u32::from(self.snd_mss())
        } else {
            0
        }
    }

    /// RFC 2018: remember what the peer holds above SND.UNA, so it is not retransmitted.
    pub(super) fn take_sack(&mut self, seg: &TcpRepr) {
        if !self.opts.sack {
            return;
        }
        for block in sack_blocks(seg) {
            if block.left < block.right && block.left >= self.snd_una && block.right <= self.snd_nxt
            {
                self.sacked.push(*block);
            }
        }
        // Sort by distance from SND.UNA and merge overlapping or touching blocks.
        let una = self.snd_una;
        self.sacked.sort_by_key(|b| b.left.wrapping_diff(una));
        let mut merged: Vec<SackBlock> = Vec::with_capacity(self.sacked.len());
        for b in self.sacked.drain(..) {
            match merged.last_mut() {
                Some(last) if b.left <= last.right => last.right = last.right.max(b.right),
                _ => merged.push(b),
            }
        }
        merged.truncate(MAX_SACKED);
        self.sacked = merged;
    }

    /// AK-7: SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK. A window that opens
    /// ends zero-window probing; an unacknowledged probe octet is then resent at once.
    pub(super) fn update_window(&mut self, now: Instant, seg: &TcpRepr, snd_wnd: u32) {
        self.snd_wnd = snd_wnd;
        self.max_snd_wnd = self.max_snd_wnd.max(snd_wnd);
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        if snd_wnd > 0 && (self.timers.is_armed(Timer::Persist) || self.persist_backoff > 0) {
            self.timers.stop(Timer::Persist);
            self.persist_backoff = 0;
            self.persist_fire = false;
            if self.snd_nxt > self.snd_una {
                self.rtx_nxt = Some(self.snd_una);
                self.rtx_end = self.snd_nxt;
                self.timers.set(Timer::Retransmit, now + self.rtt.rto());
                self.rtx_since = Some(now);
            }
        }
    }
}
