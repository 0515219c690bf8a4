//! Timers: retransmission (RFC 6298, R1/R2 of RFC 9293 3.8.3), persist (3.8.6.1), delayed ACK
//! (3.8.6.3), keep-alive (3.8.4) and TIME-WAIT (2 MSL, MUST-13). The deadlines are one
//! [`TimerTable`] (as in quinn-proto), so that arming, stopping and the next deadline are each
//! one line; the keep-alive deadline is computed from the last segment received. The driver
//! asks `poll_timeout` and calls `handle_timeout`.

use super::{ConnEvent, Tcb};
use crate::state::State;
use crate::time::Instant;

/// A timer of the TCB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Retransmission (RFC 6298; R1 and R2 of RFC 9293 3.8.3).
    Retransmit,
    /// Zero-window probes and the SWS-avoidance override (RFC 9293 3.8.6.1, 3.8.6.2.1).
    Persist,
    /// The delayed ACK (RFC 9293 3.8.6.3, MUST-40).
    DelayedAck,
    /// 2 MSL in TIME-WAIT (MUST-13).
    TimeWait,
    /// The tail loss probe's PTO (RFC 8985 7.2), with `Config::rack_tlp`.
    LossProbe,
    /// RACK's reordering timer (RFC 8985 6.3), with `Config::rack_tlp`.
    Reorder,
}

impl Timer {
    const COUNT: usize = 6;
}

/// One deadline per [`Timer`], armed or not.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimerTable([Option<Instant>; Timer::COUNT]);

impl TimerTable {
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        self.0[timer as usize] = Some(at);
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    pub(super) fn stop_all(&mut self) {
        self.0 = [None; Timer::COUNT];
    }

    pub(super) fn is_armed(&self, timer: Timer) -> bool {
        self.0[timer as usize].is_some()
    }

    /// When `timer` is due, if armed.
    pub(super) fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.0[timer as usize]
    }

    /// Armed and due at `now`.
    pub(super) fn expired(&self, timer: Timer, now: Instant) -> bool {
        self.0[timer as usize].is_some_and(|at| at <= now)
    }

    /// The earliest armed deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}

impl Tcb {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.gone() {
            return None;
        }
        [self.timers.next(), self.keepalive_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Keep-alives run in ESTABLISHED and CLOSE-WAIT when nothing is in flight: first after
    /// `idle` without a segment from the peer (MUST-26), then every `interval`. Any segment
    /// from the peer restarts the idle clock and forgets the probes sent (`handle_segment`).
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
        if self.timers.expired(Timer::TimeWait, now) {
            // 2 MSL have passed: delete the TCB.
            self.delete_tcb(Some(ConnEvent::Closed));
            return;
        }
        if self.timers.expired(Timer::DelayedAck, now) {
            self.timers.stop(Timer::DelayedAck);
            self.ack_now = true;
        }
        if self.timers.expired(Timer::Reorder, now) {
            self.on_reorder_timeout(now);
        }
        if self.timers.expired(Timer::LossProbe, now) {
            self.on_loss_probe_timeout();
            if self.probe_fire {
                // RFC 8985 7.2: a probe due with the RTO goes in the RTO's place; the RTO is
                // armed again once the probe is sent (7.3).
                self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            }
        }
        if self.timers.expired(Timer::Retransmit, now) {
            self.on_retransmission_timeout(now);
            if self.is_closed() {
                return;
            }
        }
        if self.timers.expired(Timer::Persist, now) {
            self.persist_fire = true;
            if self.snd_wnd == 0 {
                // MUST-37: probe for ever, backing off (SHLD-29/30).
                self.persist_backoff = self.persist_backoff.saturating_add(1);
                self.timers
                    .set(Timer::Persist, now + self.persist_interval());
            } else {
                // SWS override: send what fits, once.
                self.timers.stop(Timer::Persist);
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
        // R1 timeouts without progress: perhaps a path MTU black hole (RFC 4821 7.7).
        self.on_full_stop_timeout();
        self.rtt.backoff();
        self.rtt_sample = None;
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        // RTO recovery (RFC 8985 7.1): no probe until it ends; a probe's episode ends here.
        self.cancel_loss_probe();
        self.tlp_end = None;
        // Everything unacknowledged is resent from SND.UNA: no segment waits for RACK.
        self.timers.stop(Timer::Reorder);
        if !self.syn_acked {
            self.syn_tx = true;
            self.fastopen_syn_timeout();
            return;
        }
        // RFC 5681 3.1 (4): ssthresh = max(FlightSize / 2, 2 * SMSS), cwnd = 1 SMSS; resend
        // from SND.UNA (go-back-N, paced by cwnd).
        let flight = (self.snd_nxt - self.snd_una) as u32;
        self.ssthresh = self.halved_ssthresh(flight);
        self.cwnd = u32::from(self.snd_mss());
        self.dup_acks = 0;
        self.fast_recovery = false;
        self.recover = Some(self.snd_nxt);
        self.rtx_nxt = Some(self.snd_una);
        self.rtx_end = self.snd_nxt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_arms_stops_and_orders_its_deadlines() {
        let at = |ms: u64| Instant::from_micros(ms * 1000);
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::TimeWait, at(60_000));
        t.set(Timer::DelayedAck, at(200));
        t.set(Timer::Retransmit, at(1_000));
        assert_eq!(t.next(), Some(at(200)));
        assert_eq!(t.deadline(Timer::Retransmit), Some(at(1_000)));
        assert_eq!(t.deadline(Timer::LossProbe), None);
        assert!(t.expired(Timer::DelayedAck, at(200)) && !t.expired(Timer::Retransmit, at(999)));
        assert!(!t.is_armed(Timer::Persist) && !t.expired(Timer::Persist, at(u64::MAX / 1000)));
        t.stop(Timer::DelayedAck);
        assert_eq!(t.next(), Some(at(1_000)));
        // Setting again moves a deadline, it does not add one.
        t.set(Timer::Retransmit, at(2_000));
        assert_eq!(t.next(), Some(at(2_000)));
        t.stop_all();
        assert_eq!(t.next(), None);
        assert!(!t.is_armed(Timer::TimeWait));
    }
}
