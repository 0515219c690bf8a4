//! SEGMENT ARRIVES: RFC 9293 3.10.7.3 (SYN-SENT) and 3.10.7.4 (SYN-RECEIVED and the
//! synchronized states). Each step is a method; the dispatch reads in the RFC's order and every
//! rule a segment goes through is pushed onto `rules` (ids of `segment_arrives_cells.tsv`).

use super::options::timestamps;
use super::timers::Timer;
use super::{seg_len, Arrival, ConnError, ConnEvent, Tcb};
use crate::config::RstPolicy;
use crate::rules::Rule;
use crate::state::State;
use crate::time::Instant;
use crate::wire::{SackBlock, SeqNumber, TcpFlags, TcpRepr};

/// The parts of an acceptable segment that steps six to eight work on, after trimming.
struct Text<'a> {
    /// Sequence number of the first octet of `data`.
    seq: SeqNumber,
    data: &'a [u8],
    /// Sequence number of the FIN, if the segment carries one still to be looked at.
    fin: Option<SeqNumber>,
}

/// See `Tcb::ack_unacceptable`.
const INVALID_ACKS_PER_SECOND: u32 = 64;

/// Table 6 of RFC 9293 3.10.7.4: the four cases of segment acceptability.
fn acceptable(seq: SeqNumber, len: usize, rcv_nxt: SeqNumber, rcv_wnd: u32) -> bool {
    match (len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => seq.in_window(rcv_nxt, rcv_wnd),
        (_, 0) => false,
        (_, _) => seq.in_window(rcv_nxt, rcv_wnd) || (seq + (len - 1)).in_window(rcv_nxt, rcv_wnd),
    }
}

impl Tcb {
    /// RFC 9293 3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    pub(super) fn syn_sent_arrives(
        &mut self,
        now: Instant,
        arrival: &Arrival<'_>,
        rules: &mut Vec<Rule>,
    ) {
        let seg = arrival.tcp;
        let flags = seg.flags;
        // First, check the ACK bit: acceptable iff SND.UNA < SEG.ACK =< SND.NXT (ISS < SEG.ACK).
        if flags.ack() && (seg.ack <= self.iss || seg.ack > self.snd_nxt) {
            if flags.rst() {
                // SS-2: unacceptable ACK on a RST: drop.
                rules.push(Rule::Ss2);
            } else {
                // SS-1: <SEQ=SEG.ACK><CTL=RST>, drop.
                rules.push(Rule::Ss1);
                self.queue_rst(seg.ack, None);
            }
            return;
        }
        // Second, check the RST bit. The ACK (if any) is acceptable here, which is what ties the
        // RST to our SYN; RFC 5961's SEG.SEQ == RCV.NXT test has no RCV.NXT to use before the
        // SYN arrives (RFC 9293 3.10.7.3 step 2 note), so both policies act alike.
        if flags.rst() {
            if flags.ack() {
                // SS-3: "connection reset" (refused), delete the TCB.
                rules.push(Rule::Ss3);
                self.error = Some(ConnError::Refused);
                self.delete_tcb(Some(ConnEvent::Refused));
            } else {
                // SS-4: RST without ACK: drop.
                rules.push(Rule::Ss4);
            }
            return;
        }
        // Third, security/compartment (SS-5): reset of the form the ACK bit decides, drop.
        if !arrival.security_ok {
            rules.push(Rule::Ss5);
            self.queue_reset_reply(seg);
            return;
        }
        // Fourth, the SYN bit.
        if flags.syn() {
            self.take_peer_syn(seg);
            if flags.ack() {
                self.ack_advance(now, seg.ack);
            }
            if self.syn_acked {
                self.fastopen_syn_acked(seg);
                // SS-6: ESTABLISHED, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; text and FIN go on at
                // the sixth step.
                rules.push(Rule::Ss6);
                self.establish();
                self.ack_now = true;
                let text = Text {
                    seq: seg.seq + 1u32,
                    data: &seg.payload,
                    fin: flags.fin().then(|| seg.seq + 1u32 + seg.payload.len()),
                };
                self.urg_text_fin(now, seg, text, false, rules);
            } else {
                // SS-7 (MUST-10): simultaneous open, SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT>
                // <CTL=SYN,ACK>. Text and FIN wait for ESTABLISHED.
                rules.push(Rule::Ss7);
                self.state = State::SynReceived;
                self.syn_tx = true;
                // Karn: the SYN-ACK repeats ISS, so the SYN can no longer be timed.
                self.rtt_sample = None;
                self.queue_syn_text(seg);
            }
            return;
        }
        // Fifth, neither SYN nor RST (SS-8): drop. A FIN is not processed here (FN-0).
        rules.push(Rule::Ss8);
        if flags.fin() {
            rules.push(Rule::Fn0);
        }
    }

    /// RFC 9293 3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED and the synchronized states.
    pub(super) fn synchronized_arrives(
        &mut self,
        now: Instant,
        arrival: &Arrival<'_>,
        rules: &mut Vec<Rule>,
    ) {
        let seg = arrival.tcp;
        let flags = seg.flags;
        // RFC 2883 4 (1): a D-SACK block reports only the most recent segment.
        self.dsack = None;

        // SQ-5 (MAY-2, RFC 6191): a SYN in TIME-WAIT that is clearly a new incarnation is handed
        // back to the stack, which opens a new connection, instead of failing the sequence check.
        if self.state == State::TimeWait
            && self.time_wait_reuse
            && flags.syn()
            && !flags.ack()
            && !flags.rst()
            && self.is_new_incarnation(seg)
        {
            rules.push(Rule::Sq5);
            self.time_wait_syn = true;
            self.delete_tcb(Some(ConnEvent::Closed));
            return;
        }

        // RFC 9293 Figure 7 (simultaneous open): in SYN-RECEIVED the peer's SYN-ACK repeats
        // its SYN at SEG.SEQ = IRS. The SYN is the old part of the segment and is trimmed away
        // (3.10.7.4 step 1: "only the new parts are processed"); its ACK completes the open.
        let trimmed;
        let seg = if self.state == State::SynReceived
            && !self.passive
            && flags.syn()
            && flags.ack()
            && !flags.rst()
            && seg.seq == self.irs
        {
            let mut t = seg.clone();
            t.flags = flags & !TcpFlags::SYN;
            t.seq = seg.seq + 1u32;
            trimmed = t;
            &trimmed
        } else {
            seg
        };
        let flags = seg.flags;

        // First, check the sequence number.
        let Some(text) = self.check_sequence(now, seg, rules) else {
            return;
        };
        self.update_ts_recent(seg);

        // Still the first step: "trimming off any portions that lie outside the window
        // (including SYN and FIN)". An acceptable segment whose SYN precedes RCV.NXT (a SYN-FIN
        // at RCV.NXT - 1) loses its SYN here; "if the SYN is not in the window, this step [the
        // fourth] would not be reached".
        let syn_trimmed;
        let seg = if flags.syn() && seg.seq < self.rcv_nxt {
            let mut t = seg.clone();
            t.flags = flags & !TcpFlags::SYN;
            t.seq = seg.seq + 1u32;
            syn_trimmed = t;
            &syn_trimmed
        } else {
            seg
        };
        let flags = seg.flags;

        // Second, check the RST bit.
        if flags.rst() {
            self.rst_arrives(seg, rules);
            return;
        }

        // Third, check security and precedence.
        if !arrival.security_ok {
            self.queue_reset_reply(seg);
            if self.state == State::SynReceived {
                // SC-1: send a reset and return.
                rules.push(Rule::Sc1);
            } else {
                // SC-2: reset, "connection reset", delete the TCB.
                rules.push(Rule::Sc2);
                self.reset_connection(ConnEvent::Reset);
            }
            return;
        }

        // Fourth, check the SYN bit.
        if flags.syn() {
            self.syn_arrives(seg, rules);
            return;
        }

        // Fifth, check the ACK field.
        let entered_fin_wait_1 = self.state == State::FinWait1;
        if !self.ack_arrives(now, seg, rules) {
            return;
        }
        // RFC 3168 (SHLD-8): congestion signals of a segment that passed the ACK check.
        if flags.contains(TcpFlags::ECE) {
            self.ecn_echo_arrives();
        }
        self.ecn_arrives(seg, arrival.ecn);

        self.urg_text_fin(now, seg, text, entered_fin_wait_1, rules);
    }

    /// SQ-1's "send an acknowledgment" for an unacceptable segment, at most
    /// `INVALID_ACKS_PER_SECOND` times a second. Two stacks whose windows disagree (one lost
    /// the other's data, one is out of sync with a new incarnation) would otherwise answer each
    /// other's ACKs for ever at a single instant (found by fuzzing). RFC 5961 10 asks for such
    /// a limit on challenge ACKs; Linux applies one to all of these (tcp_invalid_ratelimit).
    /// The limit is generous enough that no conformance case, which sends a handful of
    /// probes per connection, ever meets it.
    fn ack_unacceptable(&mut self, now: Instant) {
        let (start, count) = self.invalid_acks;
        if now.saturating_duration_since(start) >= crate::time::Duration::from_secs(1) {
            self.invalid_acks = (now, 1);
        } else if count < INVALID_ACKS_PER_SECOND {
            self.invalid_acks = (start, count + 1);
        } else {
            return;
        }
        self.ack_now = true;
    }

    /// First step: Table 6, PAWS, trimming. Returns the text left to process, or `None` when
    /// the segment is dropped here.
    fn check_sequence<'a>(
        &mut self,
        now: Instant,
        seg: &'a TcpRepr,
        rules: &mut Vec<Rule>,
    ) -> Option<Text<'a>> {
        let flags = seg.flags;
        // RFC 7323 5.3 R1 (PAWS): a non-RST segment whose TSval is older than TS.Recent is
        // unacceptable. Kept simple: no 24-day idle rule, TS.Recent only moves forward.
        if self.opts.timestamps && !flags.rst() {
            if let (Some((tsval, _)), Some(recent)) = (timestamps(seg), self.ts_recent) {
                if (tsval.wrapping_sub(recent) as i32) < 0 {
                    // SQ-1: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, drop.
                    rules.push(Rule::Sq1);
                    self.ack_unacceptable(now);
                    return None;
                }
            }
        }

        let len = seg_len(seg);
        let wnd = self.rcv_wnd();
        let text_seq = seg.seq + usize::from(flags.syn());
        let fin_seq = text_seq + seg.payload.len();
        // A retransmission of the FIN we already took (its octet is RCV.NXT - 1): steps five and
        // eight say what to do with it (AK-12, FN-5, FN-6), so it is let through.
        let old_fin = flags.fin() && self.peer_fin && fin_seq + 1u32 == self.rcv_nxt;
        // SQ-3 (MUST-66): "If the RCV.WND is zero, no segments will be acceptable, but special
        // allowance should be made to accept valid ACKs, URGs, and RSTs." A segment with text at
        // RCV.NXT (a zero-window probe) has its ACK, URG and RST processed and draws an ACK; its
        // text is not accepted.
        let zero_window_text = wnd == 0 && len > 0 && seg.seq == self.rcv_nxt;
        // The same allowance for a pure ACK at RCV.NXT + 1: while the peer's one-octet probe is
        // outstanding, its ACKs carry SEQ = SND.NXT = RCV.NXT + 1, outside a zero window by one.
        // Dropping them (and answering each with an ACK) means a receiver that keeps its window
        // shut never hears that its own data was acknowledged except from the next probe, two
        // minutes later (found by state_machine_pair; tests/fuzz_regressions.rs). With the
        // window shut, the peer cannot legitimately be further ahead than that one octet: the
        // right edge never moves left. Taken as acceptable: processed, no answer.
        let zero_window_ack =
            wnd == 0 && len == 0 && flags.ack() && !flags.rst() && seg.seq == self.rcv_nxt + 1u32;
        if !(old_fin
            || zero_window_text
            || zero_window_ack
            || acceptable(seg.seq, len, self.rcv_nxt, wnd))
        {
            if flags.rst() {
                // SQ-2: unacceptable RST: drop.
                rules.push(Rule::Sq2);
            } else {
                // SQ-1: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, drop. Text wholly below RCV.NXT is
                // a duplicate: that ACK reports it (RFC 2883 4).
                rules.push(Rule::Sq1);
                if text_seq < self.rcv_nxt {
                    self.note_duplicate(text_seq, fin_seq.min(self.rcv_nxt));
                }
                self.ack_unacceptable(now);
            }
            return None;
        }
        if wnd == 0 {
            rules.push(Rule::Sq3);
            if zero_window_text || zero_window_ack {
                // Only the probe is answered: an answer to the pure ACK would be a pure ACK
                // one past the peer's own zero window, and the two would trade them.
                self.ack_now |= zero_window_text;
                return Some(Text {
                    seq: self.rcv_nxt,
                    data: &[],
                    fin: None,
                });
            }
        }
        if seg.seq > self.rcv_nxt && len > 0 && !flags.rst() {
            // SQ-4: in window, after RCV.NXT: kept for the seventh step (SHLD-31).
            rules.push(Rule::Sq4);
        }
        if old_fin {
            return Some(Text {
                seq: self.rcv_nxt,
                data: &[],
                fin: Some(fin_seq),
            });
        }
        // Trim what precedes RCV.NXT; octets beyond the window are dropped by the buffer. The
        // trimmed octets arrived twice: acknowledged at once with a D-SACK block (RFC 2883 4).
        if text_seq < self.rcv_nxt
            && !seg.payload.is_empty()
            && self.note_duplicate(text_seq, fin_seq.min(self.rcv_nxt))
        {
            self.ack_now = true;
        }
        let (seq, data) = if text_seq < self.rcv_nxt {
            let skip = (self.rcv_nxt - text_seq).min(seg.payload.len());
            (self.rcv_nxt, seg.payload.get(skip..).unwrap_or(&[]))
        } else {
            (text_seq, seg.payload.as_slice())
        };
        let fin = (flags.fin() && fin_seq >= self.rcv_nxt).then_some(fin_seq);
        Some(Text { seq, data, fin })
    }

    /// RFC 7323 4.3 (2): TS.Recent <- SEG.TSval when SEG.SEQ =< Last.ACK.sent.
    fn update_ts_recent(&mut self, seg: &TcpRepr) {
        if !self.opts.timestamps {
            return;
        }
        if let Some((tsval, _)) = timestamps(seg) {
            let newer = self
                .ts_recent
                .is_none_or(|r| (tsval.wrapping_sub(r) as i32) >= 0);
            if newer && seg.seq <= self.last_ack_sent {
                self.ts_recent = Some(tsval);
            }
        }
    }

    /// RFC 6191: a SYN in TIME-WAIT is a new incarnation when its timestamp is newer than
    /// TS.Recent, or, without timestamps, when its sequence number is above RCV.NXT.
    fn is_new_incarnation(&self, seg: &TcpRepr) -> bool {
        match (self.opts.timestamps, timestamps(seg), self.ts_recent) {
            (true, Some((tsval, _)), Some(recent)) => (tsval.wrapping_sub(recent) as i32) > 0,
            _ => seg.seq > self.rcv_nxt,
        }
    }

    /// Second step: the RST bit (RFC 9293 3.10.7.4 step 2, RFC 5961 3.2).
    fn rst_arrives(&mut self, seg: &TcpRepr, rules: &mut Vec<Rule>) {
        if self.rst_policy == RstPolicy::Rfc5961 && seg.seq != self.rcv_nxt {
            // RS-1: in window but not exact: challenge ACK, drop.
            rules.push(Rule::Rs1);
            self.ack_now = true;
            return;
        }
        match self.state {
            // RS-2 (MUST-11): a passive OPEN goes back to LISTEN.
            State::SynReceived if self.passive => {
                rules.push(Rule::Rs2);
                self.return_to_listen();
            }
            // RS-3: an active OPEN: "connection refused".
            State::SynReceived => {
                rules.push(Rule::Rs3);
                self.error = Some(ConnError::Refused);
                self.flush_queues();
                self.delete_tcb(Some(ConnEvent::Refused));
            }
            // RS-4: "connection reset", queues flushed, CLOSED.
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                rules.push(Rule::Rs4);
                self.reset_connection(ConnEvent::Reset);
            }
            // RS-5: delete the TCB (RFC 1337 TIME-WAIT assassination is allowed by the RFC).
            _ => {
                rules.push(Rule::Rs5);
                self.flush_queues();
                self.delete_tcb(Some(ConnEvent::Closed));
            }
        }
    }

    /// Fourth step: a SYN in a synchronized state (RFC 9293 3.10.7.4 step 4, RFC 5961 4).
    fn syn_arrives(&mut self, seg: &TcpRepr, rules: &mut Vec<Rule>) {
        if self.state == State::SynReceived && self.passive {
            // SY-1: a passive OPEN returns to LISTEN.
            rules.push(Rule::Sy1);
            self.return_to_listen();
            return;
        }
        match self.rst_policy {
            RstPolicy::Rfc5961 => {
                // SY-2 (RFC 5961 4.2): challenge ACK, drop.
                rules.push(Rule::Sy2);
                self.ack_now = true;
            }
            RstPolicy::Rfc793 => {
                // SY-3: an in-window SYN is an error: reset, "connection reset", CLOSED.
                rules.push(Rule::Sy3);
                self.queue_reset_reply(seg);
                self.reset_connection(ConnEvent::Reset);
            }
        }
    }

    /// Fifth step: the ACK field. Returns false when the segment is dropped here.
    fn ack_arrives(&mut self, now: Instant, seg: &TcpRepr, rules: &mut Vec<Rule>) -> bool {
        if !seg.flags.ack() {
            // AK-0: drop.
            rules.push(Rule::Ak0);
            return false;
        }
        if self.rst_policy == RstPolicy::Rfc5961 {
            // AK-1 (RFC 5961 5.2, MAY-12): SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT, else
            // discard and ACK.
            let low = self.snd_una - self.max_snd_wnd;
            if !(low <= seg.ack && seg.ack <= self.snd_nxt) {
                rules.push(Rule::Ak1);
                self.ack_now = true;
                return false;
            }
        }
        if self.state == State::SynReceived || !self.syn_acked {
            if self.snd_una < seg.ack && seg.ack <= self.snd_nxt {
                // AK-2: ESTABLISHED, SND.WND/WL1/WL2 from this segment; go on as ESTABLISHED.
                rules.push(Rule::Ak2);
                self.snd_wnd = u32::from(seg.window) << self.opts.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seg.seq;
                self.snd_wl2 = seg.ack;
                self.establish();
            } else {
                // AK-3: <SEQ=SEG.ACK><CTL=RST>, drop.
                rules.push(Rule::Ak3);
                self.queue_rst(seg.ack, None);
                return false;
            }
        }
        if self.state == State::TimeWait {
            // AK-12: only a retransmitted FIN can arrive: ACK it, restart 2 MSL (FN-6 below).
            if seg.flags.fin() {
                rules.push(Rule::Ak12);
                self.ack_now = true;
                self.timers.set(Timer::TimeWait, now + self.msl * 2);
            }
            // Anything else goes on to steps six and seven, which ignore it (UR-2, TX-2).
            return true;
        }

        // ESTABLISHED processing, shared by FIN-WAIT-1/2, CLOSE-WAIT, CLOSING, LAST-ACK.
        if seg.ack > self.snd_nxt {
            // AK-6: ACK of something not yet sent: ACK, drop.
            rules.push(Rule::Ak6);
            self.ack_now = true;
            return false;
        }
        let snd_wnd = u32::from(seg.window) << self.opts.snd_wscale;
        if seg.ack > self.snd_una {
            // AK-4: SND.UNA <- SEG.ACK, acknowledged octets leave the retransmission queue.
            rules.push(Rule::Ak4);
            self.ack_advance(now, seg.ack);
        } else {
            // AK-5: duplicate ACK, ignored (the window may still update). RFC 5681 2 dup ACKs.
            rules.push(Rule::Ak5);
            let dup = seg.ack == self.snd_una
                && seg.payload.is_empty()
                && !seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN)
                && snd_wnd == self.snd_wnd
                && self.snd_nxt > self.snd_una;
            if dup {
                self.on_dup_ack();
            }
        }
        self.take_sack(seg);
        self.rack_on_ack(now);
        self.take_user_timeout(seg);
        // AK-7: SND.UNA =< SEG.ACK =< SND.NXT and (WL1 < SEQ or (WL1 = SEQ and WL2 =< ACK)).
        if self.snd_una <= seg.ack
            && (self.snd_wl1 < seg.seq || (self.snd_wl1 == seg.seq && self.snd_wl2 <= seg.ack))
        {
            rules.push(Rule::Ak7);
            self.update_window(now, seg, snd_wnd);
        }

        let fin_acked = self.fin_acked();
        match self.state {
            State::FinWait1 if fin_acked => {
                // AK-8: our FIN is acknowledged: FIN-WAIT-2.
                rules.push(Rule::Ak8);
                self.state = State::FinWait2;
            }
            // AK-9: retransmission queue empty: the user's CLOSE is "ok" (TCB kept).
            State::FinWait2 if self.snd_una == self.snd_nxt => rules.push(Rule::Ak9),
            State::Closing if fin_acked => {
                // AK-10: TIME-WAIT.
                rules.push(Rule::Ak10);
                self.enter_time_wait(now);
            }
            State::LastAck if fin_acked => {
                // AK-11: delete the TCB.
                rules.push(Rule::Ak11);
                self.delete_tcb(Some(ConnEvent::Closed));
                return false;
            }
            _ => {}
        }
        true
    }

    /// Steps six (URG), seven (text) and eight (FIN). `fin_wait_1_at_entry` lets a FIN that
    /// arrives with the ACK of our FIN report FN-2 even though AK-8 already moved on.
    fn urg_text_fin(
        &mut self,
        now: Instant,
        seg: &TcpRepr,
        text: Text<'_>,
        fin_wait_1_at_entry: bool,
        rules: &mut Vec<Rule>,
    ) {
        let receiving = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );

        // Sixth, check the URG bit.
        if seg.flags.urg() {
            if receiving {
                // UR-1 (MUST-30..33, 62): RCV.UP <- max(RCV.UP, SEG.UP); the pointer names the
                // first non-urgent octet. MUST-32: signal when the pointer advances.
                rules.push(Rule::Ur1);
                let up = seg.seq + u32::from(seg.urgent);
                if self.rcv_up.is_none_or(|cur| up > cur) {
                    self.rcv_up = Some(up);
                    self.signal(ConnEvent::Urgent);
                }
            } else {
                // UR-2: the peer's FIN was seen: ignore the URG.
                rules.push(Rule::Ur2);
            }
        }

        // Seventh, process the segment text.
        if !text.data.is_empty() {
            if receiving {
                self.receive_text(now, text.seq, text.data, rules);
            } else {
                // TX-2: after the peer's FIN, text cannot arrive: ignore it.
                rules.push(Rule::Tx2);
            }
        }

        // Eighth, check the FIN bit.
        let Some(fin_seq) = text.fin.or(self.ooo_fin) else {
            return;
        };
        if self.peer_fin {
            // A retransmitted FIN (its octet is RCV.NXT - 1), or a FIN at RCV.NXT after the one
            // we took: step eight says to acknowledge it and remain (CLOSE-WAIT, CLOSING,
            // LAST-ACK) or restart the 2 MSL timeout (TIME-WAIT). RCV.NXT does not move: the
            // peer's stream ended at its first FIN.
            if fin_seq + 1u32 == self.rcv_nxt || fin_seq == self.rcv_nxt {
                self.ack_now = true;
                if self.state == State::TimeWait {
                    // FN-6: ACK, restart 2 MSL.
                    rules.push(Rule::Fn6);
                    self.timers.set(Timer::TimeWait, now + self.msl * 2);
                } else {
                    // FN-5: ACK, stay.
                    rules.push(Rule::Fn5);
                }
            }
            return;
        }
        if fin_seq > self.rcv_nxt {
            // Not yet: the FIN waits for the octets before it (RFC 9293 3.10.7.4 step 8).
            if text.fin.is_some() && fin_seq.in_window(self.rcv_nxt, self.rcv_wnd().max(1)) {
                self.ooo_fin = Some(fin_seq);
            }
            return;
        }
        if fin_seq != self.rcv_nxt {
            return;
        }
        self.ooo_fin = None;
        self.peer_fin = true;
        self.rcv_nxt += 1u32;
        self.ack_now = true;
        self.signal(ConnEvent::PeerClosed);
        match self.state {
            State::SynReceived | State::Established => {
                // FN-1: CLOSE-WAIT.
                rules.push(Rule::Fn1);
                self.state = State::CloseWait;
            }
            State::FinWait1 if self.fin_acked() => {
                // FN-2: our FIN is acknowledged: TIME-WAIT.
                rules.push(Rule::Fn2);
                self.enter_time_wait(now);
            }
            State::FinWait1 => {
                // FN-3: simultaneous close: CLOSING.
                rules.push(Rule::Fn3);
                self.state = State::Closing;
            }
            State::FinWait2 if fin_wait_1_at_entry => {
                // FN-2: our FIN was acknowledged by this very segment (AK-8).
                rules.push(Rule::Fn2);
                self.enter_time_wait(now);
            }
            State::FinWait2 => {
                // FN-4: TIME-WAIT.
                rules.push(Rule::Fn4);
                self.enter_time_wait(now);
            }
            _ => {}
        }
    }

    /// Seventh step in ESTABLISHED / FIN-WAIT-1 / FIN-WAIT-2: TX-1 for in-order text; text after
    /// RCV.NXT (SQ-4) is held out of order and ACKed at once (MAY-13, RFC 5681 4.2).
    fn receive_text(&mut self, now: Instant, seq: SeqNumber, data: &[u8], rules: &mut Vec<Rule>) {
        // Text queued with a SYN may have moved RCV.NXT since the first step trimmed this one.
        let (seq, data) = if seq < self.rcv_nxt {
            let skip = (self.rcv_nxt - seq).min(data.len());
            (self.rcv_nxt, data.get(skip..).unwrap_or(&[]))
        } else {
            (seq, data)
        };
        if data.is_empty() {
            self.ack_now = true;
            return;
        }
        let offset = seq - self.rcv_nxt;
        let had_gap = self.recv_buf.ooo_len() > 0;
        // Octets already held out of order arrived twice (RFC 2883 4 (4)): the D-SACK block
        // goes first, the block that holds them second.
        if let Some((start, end)) = self.recv_buf.held_overlap(offset, data.len()) {
            if self.note_duplicate(self.rcv_nxt + start, self.rcv_nxt + end) {
                self.ack_now = true;
            }
        }
        let advanced = self.recv_buf.insert(offset, data);
        self.rcv_nxt += advanced;
        if offset == 0 {
            // TX-1: deliver, advance RCV.NXT, ACK (possibly delayed).
            rules.push(Rule::Tx1);
        }
        if advanced > 0 {
            self.signal(ConnEvent::Readable);
        }
        if offset > 0 || had_gap || advanced < data.len() {
            self.ack_now = true;
        } else {
            self.schedule_ack(now);
        }
    }

    /// RFC 2883 4: octets `left..right` of the latest segment are a duplicate; when SACK was
    /// negotiated, the next ACK reports them in its first SACK block. True if one will.
    fn note_duplicate(&mut self, left: SeqNumber, right: SeqNumber) -> bool {
        if !self.opts.sack || left >= right {
            return false;
        }
        self.dsack = Some(SackBlock { left, right });
        true
    }

    /// RFC 9293 3.8.6.3 (SHLD-18/19, MUST-40): delay the ACK, but ACK every second segment.
    fn schedule_ack(&mut self, now: Instant) {
        self.unacked_segs += 1;
        match self.delayed_ack {
            Some(delay) if self.unacked_segs < 2 => {
                if !self.timers.is_armed(Timer::DelayedAck) {
                    self.timers.set(Timer::DelayedAck, now + delay);
                }
            }
            _ => self.ack_now = true,
        }
    }

    /// SYN-SENT (SS-6) or SYN-RECEIVED (AK-2) reaches ESTABLISHED; a CLOSE issued earlier now
    /// moves on to FIN-WAIT-1, and text that came with the SYN is delivered.
    fn establish(&mut self) {
        self.state = State::Established;
        self.syn_tx = false;
        self.signal(ConnEvent::Connected);
        if self.fin_queued {
            self.state = State::FinWait1;
        }
        if let Some((data, fin)) = self.syn_queued.take() {
            // RFC 9293 3.10.7.2 step 3: text and FIN of the SYN, processed now.
            let advanced = self.recv_buf.insert(0, &data);
            self.rcv_nxt += advanced;
            if advanced > 0 {
                self.signal(ConnEvent::Readable);
                self.ack_now = true;
            }
            if fin && advanced == data.len() {
                self.ooo_fin = Some(self.rcv_nxt);
            }
        }
    }

    /// Our FIN is sent and acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| self.snd_una > f)
    }

    fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.timers.stop(Timer::Retransmit);
        self.rtx_since = None;
        self.rtx_nxt = None;
        self.timers.stop(Timer::Persist);
        self.persist_fire = false;
        self.keepalive_fire = false;
        self.timers.set(Timer::TimeWait, now + self.msl * 2);
    }

    /// RS-2, SY-1: the passive TCB goes back to LISTEN; the stack drops it.
    pub(super) fn return_to_listen(&mut self) {
        self.flush_queues();
        self.clear_timers();
        self.ack_now = false;
        self.syn_tx = false;
        self.state = State::Listen;
    }

    /// RS-4, SC-2, SY-3: "connection reset", queues flushed, CLOSED.
    pub(super) fn reset_connection(&mut self, event: ConnEvent) {
        self.error = Some(match event {
            ConnEvent::TimedOut => ConnError::TimedOut,
            ConnEvent::Refused => ConnError::Refused,
            _ => ConnError::Reset,
        });
        self.flush_queues();
        self.delete_tcb(Some(event));
    }

    fn flush_queues(&mut self) {
        let n = self.send_buf.len();
        self.send_buf.consume(n);
        self.syn_queued = None;
    }

    /// A reset answering `seg` (RFC 9293 3.5.2): <SEQ=SEG.ACK><CTL=RST> if it has an ACK,
    /// else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    pub(super) fn queue_reset_reply(&mut self, seg: &TcpRepr) {
        if seg.flags.ack() {
            self.queue_rst(seg.ack, None);
        } else {
            self.queue_rst(SeqNumber(0), Some(seg.seq + seg_len(seg)));
        }
    }
}

#[cfg(test)]
mod acceptability {
    use super::acceptable;
    use crate::wire::SeqNumber;

    #[test]
    fn table_6_four_cases() {
        let nxt = SeqNumber(1000);
        // SEG.LEN = 0, RCV.WND = 0: only SEG.SEQ = RCV.NXT.
        assert!(acceptable(nxt, 0, nxt, 0));
        assert!(!acceptable(nxt + 1u32, 0, nxt, 0));
        // SEG.LEN = 0, RCV.WND > 0: RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND.
        assert!(acceptable(nxt + 9u32, 0, nxt, 10));
        assert!(!acceptable(nxt + 10u32, 0, nxt, 10));
        assert!(!acceptable(nxt - 1, 0, nxt, 10));
        // SEG.LEN > 0, RCV.WND = 0: never.
        assert!(!acceptable(nxt, 1, nxt, 0));
        // SEG.LEN > 0, RCV.WND > 0: either end in the window.
        assert!(acceptable(nxt - 5, 6, nxt, 10));
        assert!(!acceptable(nxt - 5, 5, nxt, 10));
        assert!(acceptable(nxt + 9u32, 100, nxt, 10));
        assert!(!acceptable(nxt + 10u32, 100, nxt, 10));
    }
}
