//! `fill_window`: closes the target's receive window with data its application leaves unread,
//! whatever the size of its buffer — the only portable way to reach RCV.WND = 0 (RFC 9293
//! 3.8.6: the window shrinks as data arrives that the user has not taken).

use super::*;
use crate::case::model::{FillWindow, Flags};

/// How long the ACKs of one flight may take: an ACK is delayed at most 0.5 s (MUST-40).
const FLIGHT_ACK_WAIT: Duration = Duration::from_millis(600);
/// Segments in one flight at most, so that a stack is not flooded beyond its window's use.
const FLIGHT_SEGMENTS: u32 = 64;
/// Flights in a row the target takes nothing of, its window open, before the step gives up.
const STALLED_FLIGHTS: u32 = 3;

impl Run<'_> {
    /// Sends flights of data at the target's RCV.NXT, each within the window it last advertised
    /// and in segments of at most its MSS, until an ACK advertises a zero window. What the target
    /// did not take (its ACK stops short) is sent again in the next flight.
    pub(super) fn fill_window(
        &mut self,
        step: &Step,
        index: usize,
        f: &FillWindow,
        win_default: u16,
    ) -> StepResult {
        let mss = self.conn.var(Var::Mss).unwrap_or(536).clamp(1, 65_495) as u32;
        let mut sent: u64 = 0;
        let mut stalled = 0;
        loop {
            let Some(wnd) = self.conn.var(Var::RcvWnd) else {
                return Err(fail(
                    step,
                    index,
                    "fill_window needs the target's window, and it has advertised none yet",
                ));
            };
            if wnd <= 0 {
                self.note(
                    Direction::Note,
                    format!("fill_window: the window is closed after {sent} octets"),
                    None,
                );
                return Ok(());
            }
            if sent >= u64::from(f.max) {
                return Err(self.fill_not_applicable(
                    step,
                    index,
                    format!(
                        "the target's window is still {wnd} octets after {sent} octets sent and \
                         left unread (fill_window max {}): its receive buffer is larger than the \
                         case fills",
                        f.max
                    ),
                ));
            }
            let start = self.conn.target_ack.unwrap_or(self.conn.tester_snd_nxt);
            let flight = (wnd as u64).min(u64::from(mss * FLIGHT_SEGMENTS)) as u32;
            let mut off = 0;
            while off < flight {
                let len = (flight - off).min(mss);
                let push = if off + len == flight { flags::PSH } else { 0 };
                let segment = Send {
                    flags: Flags(flags::ACK | push),
                    seq: Some(Value::Abs(Expr::Num(i64::from(start.wrapping_add(off))))),
                    // Acknowledges nothing new: the step changes the target's receive side only.
                    ack: Some(Value::Rel(Expr::Var(Var::SndUna))),
                    payload: vec![0; len as usize],
                    ..Send::default()
                };
                self.send(step, index, &segment, win_default)?;
                off += len;
            }
            sent += u64::from(flight);
            let end = start.wrapping_add(flight);
            let deadline = self.target.now() + FLIGHT_ACK_WAIT;
            while self.conn.target_ack != Some(end) {
                let left = deadline.saturating_sub(self.target.now());
                if left.is_zero() {
                    break;
                }
                let Some((_, o)) = self
                    .receive_observed(left)
                    .map_err(|m| fail(step, index, m))?
                else {
                    break;
                };
                let control = o.flags & (flags::SYN | flags::FIN | flags::RST) != 0;
                // Data the target sent before and the tester has not acknowledged may come
                // again (its retransmission timer runs on): that is no answer to the flight.
                let resent = !o.payload.is_empty()
                    && self.conn.target_snd_nxt.is_some_and(|nxt| {
                        let end = o.seq.wrapping_add(o.payload.len() as u32);
                        nxt.wrapping_sub(end) as i32 >= 0
                    });
                let text = render(&o, self.rel_received());
                self.accept_received(&o);
                if control || (!o.payload.is_empty() && !resent) {
                    return Err(fail(
                        step,
                        index,
                        format!("while its window was being filled the target sent {text}"),
                    ));
                }
            }
            let acked = self
                .conn
                .target_ack
                .map_or(0, |a| a.wrapping_sub(start) as i32);
            if acked > 0 {
                stalled = 0;
                continue;
            }
            stalled += 1;
            if stalled == STALLED_FLIGHTS {
                return Err(self.fill_not_applicable(
                    step,
                    index,
                    format!(
                        "the target took none of {STALLED_FLIGHTS} flights of {flight} octets \
                         sent into its open window of {wnd} octets: its buffers, not its window, \
                         ran out (after {sent} octets)"
                    ),
                ));
            }
        }
    }

    /// The window cannot be closed on this target: the rest of the case does not apply.
    fn fill_not_applicable(&mut self, step: &Step, index: usize, reason: String) -> Failure {
        self.note(Direction::Note, format!("fill_window: {reason}"), None);
        self.no_verdict = Some(Outcome::NotApplicable {
            reason: reason.clone(),
        });
        fail(step, index, reason)
    }
}
