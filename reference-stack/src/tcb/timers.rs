//! Timers: retransmission (RFC 6298, R1/R2 of RFC 9293 3.8.3), persist (3.8.6.1), delayed ACK
//! (3.8.6.3), keep-alive (3.8.4) and TIME-WAIT (2 MSL, MUST-13). Deadlines are plain
//! `Option<Instant>`s; the driver asks `poll_timeout` and calls `on_timeout`.

use super::{ConnEvent, Tcb};
use crate::state::State;
use crate::time::Instant;

impl Tcb {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.gone() {
            return None;
        }
        [
            self.rtx_deadline,
            self.persist_deadline,
            self.delack_deadline,
            self.time_wait_deadline,
            self.keepalive_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Keep-alives run in ESTABLISHED and CLOSE-WAIT when nothing is in flight: first after
    /// `idle` without a segment from the peer (MUST-26), then every `interval`. Any segment
    /// from the peer restarts the idle clock and forgets the probes sent (`on_segment`).
    fn keepalive_deadline(&self) -> Option<Instant> {
        if !self.keepalive_on {
            return None;
        }
        let open = matches!(self.state, State::Established | State::CloseWait);
        if !open || self.snd_nxt != self.snd_una {
            return None;
        }
        Some(match self.keepalive_last {
            None => self.last_rx + self.keepalive.idle,
            Some(t) => t + self.keepalive.interval,
        })
    }

    pub(super) fn fire_timers(&mut self, now: Instant) {
        if self.gone() {
            return;
        }
        if self.time_wait_deadline.is_some_and(|t| t <= now) {
            // 2 MSL have passed: delete the TCB.
            self.delete_tcb(Some(ConnEvent::Closed));
            return;
        }
        if self.delack_deadline.is_some_and(|t| t <= now) {
            self.delack_deadline = None;
            self.ack_now = true;
        }
        if self.rtx_deadline.is_some_and(|t| t <= now) {
            self.on_retransmission_timeout(now);
            if self.is_closed() {
                return;
            }
        }
        if self.persist_deadline.is_some_and(|t| t <= now) {
            self.persist_fire = true;
            if self.snd_wnd == 0 {
                // MUST-37: probe for ever, backing off (SHLD-29/30).
                self.persist_backoff = self.persist_backoff.saturating_add(1);
                self.persist_deadline = Some(now + self.persist_interval());
            } else {
                // SWS override: send what fits, once.
                self.persist_deadline = None;
            }
        }
        if self.keepalive_deadline().is_some_and(|t| t <= now) {
            if self.keepalive_sent >= self.keepalive.count {
                // `count` probes went unanswered for an interval each: the peer is gone.
                // RFC 9293 3.8.4 does not say how to drop the connection; a RST tells a peer
                // that merely lost its state (as Linux does).
                self.queue_rst(self.snd_nxt, None);
                self.reset_connection(ConnEvent::TimedOut);
                return;
            }
            self.keepalive_fire = true;
            self.keepalive_sent += 1;
            self.keepalive_last = Some(now);
        }
    }

    /// RFC 6298 5.4-5.6 and RFC 9293 3.8.3: resend, back off, report R1, give up at R2.
    fn on_retransmission_timeout(&mut self, now: Instant) {
        // R2: MUST-23 (SYN: r2_syn) / SHLD-11, measured from the last forward progress.
        let r2 = if self.syn_acked { self.r2 } else { self.r2_syn };
        if self.rtx_since.is_some_and(|since| now - since >= r2) {
            if self.state.is_synchronized() {
                self.queue_rst(self.snd_nxt, None);
            }
            self.reset_connection(ConnEvent::TimedOut);
            return;
        }
        self.rtx_count += 1;
        if self.rtx_count == self.r1 {
            // R1 (MUST-20, SHLD-9): negative advice to the application.
            self.signal(ConnEvent::Trouble);
        }
        self.rtt.backoff();
        self.rtt_sample = None;
        self.rtx_deadline = Some(now + self.rtt.rto());
        if !self.syn_acked {
            self.syn_tx = true;
            return;
        }
        // RFC 5681 3.1 (4): ssthresh = max(FlightSize / 2, 2 * SMSS), cwnd = 1 SMSS; resend
        // from SND.UNA (go-back-N, paced by cwnd).
        let smss = u32::from(self.snd_mss());
        let flight = (self.snd_nxt - self.snd_una) as u32;
        self.ssthresh = (flight / 2).max(2 * smss);
        self.cwnd = smss;
        self.dup_acks = 0;
        self.fast_recovery = false;
        self.recover = Some(self.snd_nxt);
        self.rtx_nxt = Some(self.snd_una);
        self.rtx_end = self.snd_nxt;
    }
}
