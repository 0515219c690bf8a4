//! `isn_sample`: handshakes from fresh tuples (or one tuple again), their ISNs judged by
//! [`super::isn`].

use super::*;
use crate::case::model::IsnSample;
use crate::tcp::flags::{ACK, RST};

/// Runs an `isn_sample` step.
pub fn isn_sample(io: &mut Io<'_>, s: &IsnSample) -> Result<(), String> {
    let tester_isn = io.conn.tester_isn;
    let mut samples: Vec<(Duration, u32)> = Vec::with_capacity(s.count as usize);
    for i in 0..s.count {
        if i > 0 && !s.gap.is_zero() {
            io.target
                .wait(s.gap)
                .map_err(|e| format!("target error: {e}"))?;
        }
        let port = if s.same_tuple {
            io.tester.port()
        } else {
            io.target
                .fresh_port()
                .unwrap_or_else(|| nth_port(io.tester.port(), i))
        };
        let src = SocketAddr::new(io.tester.ip(), port);
        // A distinct sequence number per sample tells this sample's SYN-ACK from a late
        // retransmission for an earlier one on the same tuple.
        let seq = tester_isn.wrapping_add(i.wrapping_mul(0x0101_0101));
        let record = i < 2;
        // A SYN lost on the way (a busy link, a full device queue) is resent, as TCP resends
        // an unanswered SYN (RFC 6298 5): up to SYN_TRIES, each wait twice the last.
        let mut answer = None;
        // Segments on this sample's tuple that did not answer its SYN (an ACK from a
        // connection the target still holds there, say): the failure shows the last one.
        let mut unanswering = (0usize, None);
        let mut sent_at = io.target.now();
        let mut wait = ANSWER_WITHIN;
        for attempt in 0..SYN_TRIES {
            if attempt > 0 {
                io.note(
                    Direction::Note,
                    format!(
                        "isn_sample {}: no answer within {:?}, SYN sent again",
                        i + 1,
                        wait / 2
                    ),
                    None,
                );
            }
            sent_at = io.target.now();
            io.inject(&segment(src, io.target_addr, seq, 0, SYN), record)?;
            answer = loop {
                match io.receive(wait)? {
                    None => break None,
                    Some((_, o))
                        if o.dst == src
                            && o.src == io.target_addr
                            && (o.flags & RST != 0
                                || (o.flags & SYN != 0 && o.ack == seq.wrapping_add(1))) =>
                    {
                        break Some(o)
                    }
                    // Answers to earlier samples (SYN-ACK retransmissions) are skipped, and so
                    // is an ACK of this sample's SYN sent again (RFC 5961 4.2's challenge ACK
                    // from SYN-RECEIVED: the SYN-ACK was lost; its retransmission follows).
                    Some((_, o)) => {
                        if o.dst == src && o.src == io.target_addr {
                            unanswering = (unanswering.0 + 1, Some(render(&o, None)));
                        }
                        continue;
                    }
                }
            };
            if answer.is_some() {
                break;
            }
            wait *= 2;
        }
        let Some(o) = answer else {
            let seen = match unanswering {
                (0, _) => "nothing came back on its 4-tuple".to_string(),
                (n, Some(last)) => {
                    format!(
                        "on its 4-tuple came {n} segment(s) that do not answer it, the last {last}"
                    )
                }
                (n, None) => format!("on its 4-tuple came {n} segment(s) that do not answer it"),
            };
            return Err(format!(
                "isn_sample {}: no SYN-ACK acknowledging the SYN from port {port} and no reset, \
                 SYN sent {SYN_TRIES} times; {seen}",
                i + 1
            ));
        };
        if record {
            io.record_received(&o);
        }
        if o.flags & (SYN | ACK | RST) != SYN | ACK {
            io.record_received(&o);
            return Err(format!(
                "isn_sample {}: expected a SYN-ACK with ack {} (RFC 9293 3.10.7.2, LI-4), got {}",
                i + 1,
                seq.wrapping_add(1),
                render(&o, None)
            ));
        }
        samples.push((sent_at, o.seq));
        // RS-2: in SYN-RECEIVED an RST is acceptable if its sequence number is in the window,
        // i.e. RCV.NXT = ISS_tester + 1; a passively opened connection returns to LISTEN.
        io.inject(
            &segment(src, io.target_addr, seq.wrapping_add(1), 0, RST),
            record,
        )?;
    }
    if s.same_tuple {
        let report = judge_clock(&samples);
        io.note(Direction::Note, format!("isn_sample: {report}"), None);
        if report.passed() {
            Ok(())
        } else {
            Err(format!(
                "ISNs do not follow a clock (RFC 9293 3.4.1, MUST-8): {}; {report}",
                report.problems.join("; ")
            ))
        }
    } else {
        let isns: Vec<u32> = samples.iter().map(|(_, isn)| *isn).collect();
        let report = judge_fresh(&isns);
        io.note(Direction::Note, format!("isn_sample: {report}"), None);
        if report.passed() {
            Ok(())
        } else {
            Err(format!(
                "ISNs are predictable (RFC 9293 3.4.1, MUST-9, SHLD-1): {}; {report}",
                report.problems.join("; ")
            ))
        }
    }
}
