//! RACK's time-based loss detection (RFC 8985 6), the other half of RACK-TLP, behind
//! `Config::rack_tlp` on connections that negotiated SACK (MUST-2/3: RACK reads deliveries
//! through the SACK scoreboard).
//!
//! The idea (8985 3.1): "a segment is lost if a segment sent sufficiently later has been
//! delivered". Every segment sent keeps the time of its most recent transmission; an ACK that
//! delivers segments (cumulatively or by SACK) moves RACK.xmit_ts to the latest of their
//! transmission times, and a segment sent before that by more than the reordering window is
//! lost — whether it was sent once or retransmitted, so a lost retransmission is found without
//! waiting for the RTO. A segment not yet that old arms the reordering timer (6.3) for the rest.
//!
//! What is left out, all allowed: the DSACK-driven growth of the reordering window (4:
//! "RECOMMENDED but is not required"); the TSecr test of step 2 (the min_RTT test stands in for
//! it); RACK.min_RTT is the minimum of every sample, not a windowed one (6.2 SHOULD, internal).
//! Duplicate-ACK counting still starts fast retransmit as well (RFC 5681 3.2): on a connection
//! whose ACKs carry SACK blocks RACK has already found the loss by the third one.

use super::timers::Timer;
use super::Tcb;
use crate::time::{Duration, Instant};
use crate::wire::{SackBlock, SeqNumber};
use std::collections::VecDeque;

/// DupThresh (RFC 8985 6.2 step 4, RFC 6675): with this many segments SACKed and no
/// reordering seen, the reordering window is zero.
const DUP_THRESH: usize = 3;

/// One segment in flight, as RACK remembers it (RFC 8985 5.2 "per-segment variables").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) start: SeqNumber,
    pub(super) end: SeqNumber,
    /// Segment.xmit_ts: the most recent transmission.
    pub(super) xmit: Instant,
    /// The transmission's place among all of the connection's transmissions: what orders two
    /// sent at the same instant (a resend is later than anything sent before it).
    pub(super) order: u64,
    /// Segment.retransmitted.
    pub(super) retransmitted: bool,
    /// Selectively acknowledged (covered by the scoreboard).
    pub(super) sacked: bool,
    /// Segment.lost: marked lost and not sent since.
    pub(super) lost: bool,
}

/// RACK's per-connection state (RFC 8985 5.2) and the segments in flight.
#[derive(Debug, Clone, Default)]
pub(super) struct Rack {
    /// The segments from SND.UNA to SND.NXT, in sequence order.
    pub(super) sent: VecDeque<Sent>,
    /// RACK.xmit_ts and the order of that transmission (in place of RACK.end_seq): the
    /// latest transmission among the delivered segments.
    pub(super) xmit_ts: Option<(Instant, u64)>,
    /// Transmissions so far.
    pub(super) transmissions: u64,
    /// RACK.rtt: the RTT of that segment's delivery.
    pub(super) rtt: Duration,
    /// RACK.min_RTT.
    pub(super) min_rtt: Option<Duration>,
    /// RACK.fack: the highest end_seq delivered.
    pub(super) fack: Option<SeqNumber>,
    /// RACK.reordering_seen.
    pub(super) reordering_seen: bool,
}

/// RACK_sent_after (RFC 8985 6.2 step 2): sent later. The RFC breaks a tie of timestamps by
/// sequence number ("sent at the same time ... in sequence order"), which misorders a resend
/// of a low segment made in the same clock tick as new data (on a virtual clock every segment
/// of an exchange may share one tick); the order of transmission is what the tie stands for.
fn sent_after(t1: Instant, order1: u64, t2: Instant, order2: u64) -> bool {
    t1 > t2 || (t1 == t2 && order1 > order2)
}

impl Rack {
    /// A segment [start, end) went out at `now`: new data joins the end of the list; a
    /// retransmission refreshes the transmission time of what it covers, splitting records at
    /// its edges (a resend need not match the first transmission's boundaries).
    pub(super) fn on_transmit(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        if start >= end {
            return;
        }
        self.transmissions += 1;
        let order = self.transmissions;
        if self.sent.back().is_none_or(|last| start >= last.end) {
            self.sent.push_back(Sent {
                start,
                end,
                xmit: now,
                order,
                retransmitted: false,
                sacked: false,
                lost: false,
            });
            return;
        }
        self.split_at(start);
        self.split_at(end);
        for s in self.sent.iter_mut() {
            if s.start >= start && s.end <= end {
                s.xmit = now;
                s.order = order;
                s.retransmitted = true;
                s.lost = false;
            }
        }
    }

    /// Splits the record that straddles `seq` into two.
    fn split_at(&mut self, seq: SeqNumber) {
        let Some(i) = self.sent.iter().position(|s| s.start < seq && seq < s.end) else {
            return;
        };
        let mut right = self.sent[i];
        right.start = seq;
        self.sent[i].end = seq;
        self.sent.insert(i + 1, right);
    }

    /// Step 1 to 4 of RFC 8985 6.2 for one ACK: the segments it delivers — cumulatively up to
    /// `una`, or covered by the scoreboard `sacked` for the first time — update RACK.min_RTT,
    /// RACK.rtt / RACK.xmit_ts / RACK.end_seq, RACK.fack and RACK.reordering_seen. Records
    /// below `una` are forgotten.
    pub(super) fn on_ack(&mut self, now: Instant, una: SeqNumber, sacked: &[SackBlock]) {
        let mut delivered: Vec<Sent> = Vec::new();
        for s in self.sent.iter_mut() {
            let acked = s.end <= una;
            let covered = acked || sacked.iter().any(|b| b.left <= s.start && s.end <= b.right);
            if covered && !s.sacked {
                delivered.push(*s);
            }
            s.sacked = covered;
        }
        while self.sent.front().is_some_and(|s| s.end <= una) {
            self.sent.pop_front();
        }
        if let Some(first) = self.sent.front_mut() {
            first.start = first.start.max(una);
        }
        for s in delivered {
            // Step 3: delivered below what is already delivered, never resent: reordering.
            match self.fack {
                Some(fack) if s.end < fack && !s.retransmitted => self.reordering_seen = true,
                Some(fack) if s.end <= fack => {}
                _ => self.fack = Some(s.end),
            }
            let rtt = now - s.xmit;
            // Step 2: a retransmitted segment delivered sooner than any round trip was the
            // first transmission's delivery, not this one's: it says nothing.
            if s.retransmitted && self.min_rtt.is_some_and(|min| rtt < min) {
                continue;
            }
            // Step 1: RACK.min_RTT from segments never retransmitted (Karn).
            if !s.retransmitted {
                self.min_rtt = Some(self.min_rtt.map_or(rtt, |min| min.min(rtt)));
            }
            if self
                .xmit_ts
                .is_none_or(|(t, order)| sent_after(s.xmit, s.order, t, order))
            {
                self.xmit_ts = Some((s.xmit, s.order));
                self.rtt = rtt;
            }
        }
    }

    /// Step 4, RACK.reo_wnd: zero while no reordering has been seen and either DupThresh
    /// segments are SACKed or the sender is in recovery ("SHOULD be set to zero", 3.3.2);
    /// otherwise a quarter of RACK.min_RTT, never more than SRTT (MUST-1, SHLD-5).
    pub(super) fn reo_wnd(&self, in_recovery: bool, srtt: Option<Duration>) -> Duration {
        let sacked = self.sent.iter().filter(|s| s.sacked).count();
        if !self.reordering_seen && (in_recovery || sacked >= DUP_THRESH) {
            return Duration::ZERO;
        }
        let quarter = self.min_rtt.unwrap_or(Duration::ZERO) / 4;
        srtt.map_or(quarter, |srtt| quarter.min(srtt))
    }

    /// Step 5, RACK_detect_loss: every segment neither delivered nor already lost that was
    /// sent before RACK.xmit_ts is lost once RACK.rtt + reo_wnd has passed since it went out.
    /// Returns the segments newly marked lost (in sequence order) and, if some are not that
    /// old yet, the longest time one of them has left: the RFC's `timeout = max(remaining,
    /// timeout)`, so the reordering timer fires once, when all of them are due.
    pub(super) fn detect_loss(
        &mut self,
        now: Instant,
        reo_wnd: Duration,
    ) -> (Vec<Sent>, Option<Duration>) {
        let mut lost = Vec::new();
        let mut wait: Option<Duration> = None;
        let Some((xmit_ts, order)) = self.xmit_ts else {
            return (lost, wait);
        };
        for s in self.sent.iter_mut() {
            if s.sacked || s.lost || !sent_after(xmit_ts, order, s.xmit, s.order) {
                continue;
            }
            let due = s.xmit + self.rtt + reo_wnd;
            if due <= now {
                s.lost = true;
                lost.push(*s);
            } else {
                let left = due - now;
                wait = Some(wait.map_or(left, |w| w.max(left)));
            }
        }
        (lost, wait)
    }
}

impl Tcb {
    /// RACK runs on this connection: `Config::rack_tlp` and SACK negotiated.
    pub(super) fn rack_on(&self) -> bool {
        self.rack_tlp && self.opts.sack
    }

    /// A segment of data (or a FIN) went out, new or again.
    pub(super) fn rack_transmitted(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        if self.rack_on() {
            self.rack.on_transmit(start, end, now);
        }
    }

    /// An acceptable ACK was processed (SND.UNA and the scoreboard are up to date): RACK's
    /// update and loss detection (RFC 8985 6.2).
    pub(super) fn rack_on_ack(&mut self, now: Instant) {
        if !self.rack_on() {
            return;
        }
        self.rack.on_ack(now, self.snd_una, &self.sacked);
        self.rack_detect_loss(now);
    }

    /// The reordering timer fired (RFC 8985 6.3): the segments it waited for are due.
    pub(super) fn on_reorder_timeout(&mut self, now: Instant) {
        self.timers.stop(Timer::Reorder);
        if self.rack_on() {
            self.rack_detect_loss(now);
        }
    }

    /// Step 5 and 6: mark losses, hand them to loss recovery, and arm the reordering timer
    /// for the segments not yet old enough (RFC 8985 6.2 step 6, 6.3).
    fn rack_detect_loss(&mut self, now: Instant) {
        let in_recovery = self.recover.is_some();
        let reo_wnd = self.rack.reo_wnd(in_recovery, self.rtt.srtt());
        let (lost, wait) = self.rack.detect_loss(now, reo_wnd);
        match wait {
            Some(wait) => self.timers.set(Timer::Reorder, now + wait),
            None => self.timers.stop(Timer::Reorder),
        }
        let (Some(first), Some(last)) = (lost.first(), lost.last()) else {
            return;
        };
        let lost_retransmission = lost.iter().any(|s| s.retransmitted);
        if self.recover.is_none() {
            // RFC 8985 9.3: the congestion response is RFC 5681's, as for the third duplicate
            // ACK (without the three segments' inflation unless that many did leave).
            self.enter_fast_recovery(first.start, last.end);
        } else {
            // In recovery: resend these too. A retransmission lost again (MUST-13, without
            // PRR): "an additional congestion response", the window halved once more.
            if lost_retransmission {
                let flight = (self.snd_nxt - self.snd_una) as u32;
                self.ssthresh = self.halved_ssthresh(flight);
                self.cwnd = self.ssthresh;
            }
            // A range being resent grows to take these in; else they are the range.
            match self.rtx_nxt {
                Some(p) => {
                    self.rtx_nxt = Some(p.min(first.start));
                    self.rtx_end = self.rtx_end.max(last.end);
                }
                None => {
                    self.rtx_nxt = Some(first.start);
                    self.rtx_end = last.end;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// SACK blocks from (left, right) pairs.
    fn blocks(pairs: &[(u32, u32)]) -> Vec<SackBlock> {
        pairs
            .iter()
            .map(|&(l, r)| SackBlock {
                left: SeqNumber(l),
                right: SeqNumber(r),
            })
            .collect()
    }

    /// Four segments of 1000 octets from 1, each sent at `times[i]` ms.
    fn flight(times: [u64; 4]) -> Rack {
        let mut r = Rack::default();
        for (i, t) in times.into_iter().enumerate() {
            let start = SeqNumber(1 + 1000 * i as u32);
            r.on_transmit(start, start + 1000u32, at(t));
        }
        r
    }

    #[test]
    fn a_segment_sent_before_a_delivered_one_is_lost_after_rtt_and_the_window() {
        let mut r = flight([0, 0, 10, 10]);
        r.min_rtt = Some(ms(40));
        // 3001..4001 (sent at 10 ms) is SACKed at 60 ms: RACK.rtt 50 ms.
        r.on_ack(at(60), SeqNumber(1), &blocks(&[(3001, 4001)]));
        assert_eq!(r.xmit_ts, Some((at(10), 4)));
        assert_eq!(r.rtt, ms(50));
        // Window 10 ms (40 / 4): the segments sent at 0 ms are due at 60 ms, the one at 10 ms
        // (2001..3001, sent with the delivered one but below it) at 70 ms.
        let (lost, wait) = r.detect_loss(at(60), ms(10));
        let starts: Vec<u32> = lost.iter().map(|s| s.start.0).collect();
        assert_eq!(starts, [1, 1001]);
        assert_eq!(wait, Some(ms(10)));
        // Found once only.
        let (lost, _) = r.detect_loss(at(70), ms(10));
        let starts: Vec<u32> = lost.iter().map(|s| s.start.0).collect();
        assert_eq!(starts, [2001]);
    }

    #[test]
    fn nothing_is_lost_before_anything_is_delivered_or_when_sent_after_it() {
        let mut r = flight([0, 10, 20, 30]);
        assert_eq!(
            r.detect_loss(at(10_000), Duration::ZERO),
            (Vec::new(), None)
        );
        // The first segment is delivered: everything sent after it stands.
        r.on_ack(at(50), SeqNumber(1001), &[]);
        assert_eq!(r.detect_loss(at(10_000), Duration::ZERO).0, Vec::new());
        assert_eq!(r.sent.len(), 3, "the acknowledged record is gone");
    }

    #[test]
    fn a_lost_retransmission_is_found_by_a_later_delivery() {
        // 1..1001 is lost and resent at 100 ms; the resend is lost too. New data sent at 120 ms
        // is SACKed at 170 ms: the resend, sent before it, is lost after RACK.rtt (50 ms).
        let mut r = flight([0, 0, 0, 0]);
        r.min_rtt = Some(ms(50));
        r.on_ack(at(50), SeqNumber(1), &blocks(&[(1001, 4001)]));
        let (lost, _) = r.detect_loss(at(50), Duration::ZERO);
        assert_eq!(lost.len(), 1);
        r.on_transmit(SeqNumber(1), SeqNumber(1001), at(100));
        assert!(r.sent[0].retransmitted && !r.sent[0].lost);
        r.on_transmit(SeqNumber(4001), SeqNumber(5001), at(120));
        let sack = blocks(&[(1001, 5001)]);
        r.on_ack(at(170), SeqNumber(1), &sack);
        assert_eq!(r.xmit_ts, Some((at(120), 6)));
        let (lost, wait) = r.detect_loss(at(170), Duration::ZERO);
        assert_eq!(wait, None);
        assert_eq!(lost.len(), 1);
        assert!(lost[0].retransmitted && lost[0].start == SeqNumber(1));
    }

    /// (start, end, retransmitted) of each record.
    fn spans(r: &Rack) -> Vec<(u32, u32, bool)> {
        r.sent
            .iter()
            .map(|s| (s.start.0, s.end.0, s.retransmitted))
            .collect()
    }

    #[test]
    fn a_resend_splits_the_records_it_covers_in_part() {
        let mut r = flight([0, 0, 0, 0]);
        r.on_transmit(SeqNumber(501), SeqNumber(1501), at(5));
        let spans = spans(&r);
        assert_eq!(
            spans,
            [
                (1, 501, false),
                (501, 1001, true),
                (1001, 1501, true),
                (1501, 2001, false),
                (2001, 3001, false),
                (3001, 4001, false),
            ]
        );
    }

    #[test]
    fn a_retransmission_delivered_sooner_than_a_round_trip_is_not_a_sample() {
        let mut r = flight([0, 0, 0, 0]);
        r.min_rtt = Some(ms(50));
        r.on_transmit(SeqNumber(1), SeqNumber(1001), at(200));
        // The original's ACK arrives 10 ms after the resend: ambiguous, skipped.
        r.on_ack(at(210), SeqNumber(1001), &[]);
        assert_eq!(r.xmit_ts, None);
        assert_eq!(r.min_rtt, Some(ms(50)));
    }

    #[test]
    fn a_delivery_below_the_highest_delivered_is_reordering() {
        let mut r = flight([0, 0, 0, 0]);
        r.on_ack(at(50), SeqNumber(1), &blocks(&[(3001, 4001)]));
        assert!(!r.reordering_seen);
        assert_eq!(r.fack, Some(SeqNumber(4001)));
        r.on_ack(at(52), SeqNumber(1), &blocks(&[(1001, 2001), (3001, 4001)]));
        assert!(r.reordering_seen);
    }

    #[test]
    fn fack_only_moves_up() {
        let mut r = flight([0, 0, 0, 0]);
        r.on_ack(at(50), SeqNumber(1), &blocks(&[(1001, 2001)]));
        assert_eq!(r.fack, Some(SeqNumber(2001)));
        r.on_ack(at(51), SeqNumber(1), &blocks(&[(1001, 2001), (3001, 4001)]));
        assert_eq!(r.fack, Some(SeqNumber(4001)), "a higher delivery moves it");
        assert!(!r.reordering_seen);
        // 1..1001, resent, is acknowledged: below RACK.fack, but a resend is no reordering,
        // and RACK.fack stays.
        r.on_transmit(SeqNumber(1), SeqNumber(1001), at(60));
        r.on_ack(at(120), SeqNumber(2001), &blocks(&[(3001, 4001)]));
        assert_eq!(r.fack, Some(SeqNumber(4001)));
        assert!(!r.reordering_seen);
        // 2001..3001, sent once and below RACK.fack: reordering.
        r.on_ack(at(121), SeqNumber(4001), &[]);
        assert!(r.reordering_seen);
    }

    #[test]
    fn a_faster_delivery_lowers_min_rtt_and_an_exact_one_round_trip_resend_counts() {
        let mut r = flight([0, 0, 10, 10]);
        r.min_rtt = Some(ms(50));
        // Never resent, 20 ms: a new minimum, and the latest delivery.
        r.on_ack(at(20), SeqNumber(1001), &[]);
        assert_eq!(r.min_rtt, Some(ms(20)));
        assert_eq!((r.xmit_ts, r.rtt), (Some((at(0), 1)), ms(20)));
        // A resend delivered exactly min_RTT after it went out is a sample of it (step 2 skips
        // only what is faster).
        r.on_transmit(SeqNumber(1001), SeqNumber(2001), at(30));
        r.on_ack(at(50), SeqNumber(2001), &[]);
        assert_eq!((r.xmit_ts, r.rtt), (Some((at(30), 5)), ms(20)));
        assert_eq!(r.min_rtt, Some(ms(20)), "a resend does not set min_RTT");
    }

    #[test]
    fn a_resend_on_record_edges_splits_nothing() {
        let mut r = flight([0, 0, 0, 0]);
        r.on_transmit(SeqNumber(1001), SeqNumber(3001), at(5));
        let spans = spans(&r);
        assert_eq!(
            spans,
            [
                (1, 1001, false),
                (1001, 2001, true),
                (2001, 3001, true),
                (3001, 4001, false),
            ]
        );
    }

    #[test]
    fn the_reordering_window() {
        let mut r = flight([0, 0, 0, 0]);
        r.min_rtt = Some(ms(40));
        // No reordering, fewer than DupThresh SACKed, not in recovery: min_RTT / 4.
        assert_eq!(r.reo_wnd(false, Some(ms(100))), ms(10));
        // Bounded by SRTT (MUST-1).
        assert_eq!(r.reo_wnd(false, Some(ms(5))), ms(5));
        // In recovery: zero.
        assert_eq!(r.reo_wnd(true, Some(ms(100))), Duration::ZERO);
        // Three SACKed: zero.
        let sack = blocks(&[(1001, 4001)]);
        r.on_ack(at(50), SeqNumber(1), &sack);
        assert_eq!(r.reo_wnd(false, Some(ms(100))), Duration::ZERO);
        // Once reordering was seen, the window stays.
        r.reordering_seen = true;
        assert_eq!(r.reo_wnd(true, Some(ms(100))), ms(10));
    }
}
