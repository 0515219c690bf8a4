//! The TCP state of a connection, seen on the wire: where the target cannot report its state
//! (no agent; a stack with no socket API), a `state:` step sends one segment whose reply the
//! RFC fixes differently for the states it must tell apart, and reads the state off the reply.
//!
//! - A synchronized connection (SYN-RECEIVED .. TIME-WAIT) answers an unacceptable segment
//!   with `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>` (RFC 9293 3.10.7.4, first check). The probe is
//!   a pure ACK far beyond the right edge of the receive window (not below its left edge: the
//!   4.4BSD line, libslirp among it, trims a segment that starts before RCV.NXT and "keeps on
//!   processing for RST or ACK", so an ACK there would move SYN-RECEIVED to ESTABLISHED; one
//!   past the right edge it drops after acknowledging, as the RFC says); the reply proves the
//!   connection exists, and its
//!   numbers say whether the target has sent its FIN (SND.NXT past it) and taken the tester's
//!   (RCV.NXT past it): ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT, CLOSING/LAST-ACK/TIME-WAIT.
//!   Whether the tester acknowledged the target's FIN (FIN-WAIT-1 or -2) is the tester's own
//!   doing, not something the reply can show.
//! - No connection (CLOSED; LISTEN, which holds no TCB for the tuple) answers an ACK with
//!   `<SEQ=SEG.ACK><CTL=RST>` (3.10.7.1, 3.10.7.2). LISTEN is also asked whether it listens:
//!   a SYN from a fresh port must draw a SYN-ACK (then reset). A reset with another SEQ still
//!   shows that there is no connection, but breaks that rule (CL-3 / LI-2 in
//!   `segment_arrives_cells.tsv`): the state holds, and the step fails at MUST.
//! - SYN-SENT drops an ACK that acknowledges its SYN and carries neither SYN nor RST
//!   (3.10.7.3, fifth check), where a closed port would reset it: silence is consistent with
//!   SYN-SENT, but silence proves nothing, so the step stays unchecked.
//!
//! A probe carries the connection's timestamps when it has them (a segment without one may be
//! dropped, RFC 7323 3.2). It changes no state the RFC lets it change: an unacceptable segment
//! is only acknowledged. The runner does not probe when the reply could stand in for a segment
//! the case still waits for (an ACK the target owes for data or a FIN the tester sent).

use super::conn::{after, ConnView};
use crate::case::expr::Var;
use crate::packet::render::render;
use crate::packet::spec::{ChecksumSpec, IpFields, Observed, OptionSpec, PacketSpec};
use crate::tcp::flags::{ACK, FIN, RST, SYN};
use crate::tcp::TcpState;
use std::net::SocketAddr;

/// How far past RCV.NXT the probe of a synchronized connection sits: beyond the largest
/// window there is (65,535 << 14, RFC 7323 2.3), so never acceptable.
const BEYOND_WINDOW: u32 = 1 << 30;

/// What the reply to a probe must show for the state a case asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// A synchronized connection: whether the tester's FIN is in the target's RCV.NXT and the
    /// target's own FIN in its SND.NXT; `handshake`: SYN-RECEIVED, whose reply may repeat the
    /// SYN-ACK.
    Synchronized {
        fin_received: bool,
        fin_sent: bool,
        handshake: bool,
    },
    /// No TCB for the tuple (CLOSED); `listening`: and the port listens (LISTEN).
    NoConnection { listening: bool },
    /// The target's active OPEN waits for an answer.
    SynSent,
}

impl Expectation {
    pub fn of(state: TcpState) -> Expectation {
        let sync = |fin_received, fin_sent| Expectation::Synchronized {
            fin_received,
            fin_sent,
            handshake: false,
        };
        match state {
            TcpState::Closed => Expectation::NoConnection { listening: false },
            TcpState::Listen => Expectation::NoConnection { listening: true },
            TcpState::SynSent => Expectation::SynSent,
            TcpState::SynReceived => Expectation::Synchronized {
                fin_received: false,
                fin_sent: false,
                handshake: true,
            },
            TcpState::Established => sync(false, false),
            TcpState::FinWait1 | TcpState::FinWait2 => sync(false, true),
            TcpState::CloseWait => sync(true, false),
            TcpState::Closing | TcpState::LastAck | TcpState::TimeWait => sync(true, true),
        }
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The reply is the one the state requires (what it showed).
    Confirmed(String),
    /// The reply shows the state, but is not the reply the RFC requires for it: what it
    /// showed, and the rule it breaks with the packet that broke it. The state check holds;
    /// the rule is a MUST.
    Breaks { shows: String, rule: String },
    /// The reply shows another state (what it showed).
    Contradicted(String),
    /// No reply, or one that tells nothing: the state is not checked.
    Unchecked(String),
}

/// The probe segment for `exp` on the connection `tester` -> `target`.
pub fn segment(
    exp: Expectation,
    conn: &ConnView,
    tester: SocketAddr,
    target: SocketAddr,
) -> PacketSpec {
    let rcv_nxt = conn.target_ack.unwrap_or(conn.tester_snd_nxt);
    let (seq, ack) = match exp {
        Expectation::Synchronized { .. } => (
            rcv_nxt.wrapping_add(BEYOND_WINDOW),
            conn.target_snd_nxt.unwrap_or(0),
        ),
        // An ACK no connection of the target can have asked for: its reply RST carries it.
        Expectation::NoConnection { .. } => (
            rcv_nxt,
            conn.target_snd_nxt
                .unwrap_or(conn.tester_isn)
                .wrapping_add(BEYOND_WINDOW),
        ),
        // Acknowledges the target's SYN exactly: SYN-SENT drops it, a closed port resets it.
        Expectation::SynSent => (
            conn.tester_snd_nxt,
            conn.target_isn.map_or(0, |isn| isn.wrapping_add(1)),
        ),
    };
    let options = match (conn.tester_tsval, conn.target_tsval) {
        (Some(val), Some(ecr)) => vec![OptionSpec::Timestamps {
            tsval: val,
            tsecr: ecr,
        }],
        _ => Vec::new(),
    };
    PacketSpec {
        src: tester,
        dst: target,
        seq,
        ack,
        flags: ACK,
        window: conn.tester_window,
        urgent: 0,
        reserved: 0,
        options,
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    }
}

/// Whether `o` can be the target's answer to the probe `sent` for `exp` on `conn`: a segment
/// without data on the probe's tuple — an ACK or an RST; a SYN-ACK only where SYN-RECEIVED may
/// repeat it or where it answers the SYN that asks whether a port listens. Anything else (a
/// retransmission, the target's own SYN again) is left for the case's next steps.
///
/// Where no connection is expected, an RST is the answer whatever its SEQ (the RFC's is
/// SEG.ACK, but stacks reset with SEG.ACK + 1 or 0, and [`judge`] reports that) — unless it can
/// be the target's own abort of the connection the case knows, which the next steps are about
/// ([`own_abort`]), or it carries an ACK of another segment than the probe.
pub fn is_answer(exp: Expectation, conn: &ConnView, o: &Observed, sent: &PacketSpec) -> bool {
    if o.src != sent.dst || o.dst != sent.src || !o.payload.is_empty() {
        return false;
    }
    let (syn, rst) = (o.flags & SYN != 0, o.flags & RST != 0);
    match exp {
        Expectation::Synchronized { handshake, .. } => rst || !syn || handshake,
        Expectation::NoConnection { listening } if sent.flags & SYN != 0 => {
            rst || (syn && listening)
        }
        // An RST with ACK acknowledges the segment it answers (SEG.SEQ + SEG.LEN): one that
        // acknowledges another (a second reset for the case's last segment) is not this answer.
        Expectation::NoConnection { .. } if rst => {
            let acks_probe =
                o.flags & ACK == 0 || o.ack == sent.seq.wrapping_add(sent.payload.len() as u32);
            o.seq == sent.ack || (acks_probe && !own_abort(conn, o.seq))
        }
        Expectation::NoConnection { .. } => !syn,
        Expectation::SynSent => false,
    }
}

/// Whether an RST with sequence number `seq` can be the target's abort of the connection the
/// case knows (RFC 9293 3.10.7.4: `<SEQ=SND.NXT><CTL=RST>`): `seq` between the target's
/// SND.UNA (the tester's highest ACK) and its SND.NXT as last seen plus the window the tester
/// gave it, which bounds what it can have sent since. The probe's SEG.ACK lies 2^30 past that
/// SND.NXT, beyond any window (RFC 7323 2.3), so neither it nor a number near it is taken for
/// an abort. Without a known SND.NXT there is no connection to abort.
pub fn own_abort(conn: &ConnView, seq: u32) -> bool {
    let Some(nxt) = conn.target_snd_nxt else {
        return false;
    };
    let una = conn.tester_ack.unwrap_or(nxt);
    // The tester may have acknowledged past what it saw (a case can do that): start at the
    // earlier of the two.
    let low = if after(una, nxt) { nxt } else { una };
    let window = conn
        .var(Var::SndWnd)
        .map_or(0, |w| u32::try_from(w).unwrap_or(u32::MAX));
    let high = nxt.wrapping_add(window);
    seq.wrapping_sub(low) <= high.wrapping_sub(low)
}

/// Reads the reply (or its absence) to the probe `sent` for `exp`. `port_listens`: the
/// target's port of the tuple listens (a passive OPEN), so where there is no connection the
/// probe meets LISTEN's rules (3.10.7.2), else CLOSED's (3.10.7.1).
pub fn judge(
    exp: Expectation,
    conn: &ConnView,
    port_listens: bool,
    sent: &PacketSpec,
    reply: Option<&Observed>,
) -> Finding {
    let Some(r) = reply else {
        return match exp {
            Expectation::SynSent => Finding::Unchecked(
                "no answer to an ACK of its SYN: consistent with SYN-SENT (a closed port would \
                 reset it), but silence proves nothing"
                    .into(),
            ),
            _ => Finding::Unchecked("the target did not answer the probe".into()),
        };
    };
    let rst = r.flags & RST != 0;
    match exp {
        Expectation::NoConnection { .. } if rst && r.seq == sent.ack => Finding::Confirmed(
            "an ACK on the tuple drew <SEQ=SEG.ACK><CTL=RST>: no connection".into(),
        ),
        // 3.10.7.1 (CLOSED) and 3.10.7.2 second check (LISTEN): "If the ACK bit is on,
        // <SEQ=SEG.ACK><CTL=RST>". Any reset shows there is no connection; this one has the
        // wrong number. Without a connection on a listening port (one reset or closed after
        // a passive OPEN) the segment meets LISTEN.
        Expectation::NoConnection { listening } if rst => {
            let (section, cell) = match (listening, port_listens) {
                (true, _) => ("3.10.7.2", "LI-2"),
                (false, true) => ("3.10.7.2", "LI-2, the port listens"),
                (false, false) => ("3.10.7.1", "CL-3"),
            };
            Finding::Breaks {
                shows: "an ACK on the tuple drew an RST: no connection".into(),
                rule: format!(
                    "the reset breaks RFC 9293 {section} ({cell}, MUST: \"If the ACK bit is on, \
                     <SEQ=SEG.ACK><CTL=RST>\"): SEG.ACK was {}, the reset has SEQ {}: {}",
                    sent.ack,
                    r.seq,
                    render(r, None)
                ),
            }
        }
        Expectation::NoConnection { .. } => Finding::Contradicted(
            "an unacceptable ACK on the tuple drew an ACK: a synchronized connection exists".into(),
        ),
        Expectation::SynSent if rst => {
            Finding::Contradicted("an ACK of its SYN drew an RST: no connection".into())
        }
        Expectation::SynSent => Finding::Contradicted(format!(
            "an ACK of its SYN drew a segment (flags {:#05x}): not SYN-SENT",
            r.flags
        )),
        Expectation::Synchronized { .. } if rst => {
            Finding::Contradicted("an unacceptable segment drew an RST: no connection".into())
        }
        Expectation::Synchronized {
            fin_received,
            fin_sent,
            handshake,
        } => {
            if r.flags & ACK == 0 {
                return Finding::Unchecked(format!(
                    "the answer carries no ACK (flags {:#05x})",
                    r.flags
                ));
            }
            if r.flags & SYN != 0 {
                return if handshake {
                    Finding::Confirmed("the probe drew the SYN-ACK again: SYN-RECEIVED".into())
                } else {
                    Finding::Contradicted("the probe drew a SYN-ACK: still SYN-RECEIVED".into())
                };
            }
            let mut wrong = Vec::new();
            // RCV.NXT just past the tester's FIN (nothing can follow a FIN), or not.
            if let Some(fin) = conn.tester_fin {
                let took = r.ack == fin.wrapping_add(1);
                if took != fin_received {
                    wrong.push(if took {
                        "its RCV.NXT counts the tester's FIN"
                    } else {
                        "its RCV.NXT does not count the tester's FIN"
                    });
                }
            } else if fin_received {
                return Finding::Unchecked("the tester sent no FIN to count".into());
            }
            // SND.NXT just past its own FIN, or not.
            let sent_fin = r.flags & FIN != 0
                || conn
                    .target_fin
                    .is_some_and(|fin| r.seq == fin.wrapping_add(1));
            if sent_fin != fin_sent {
                wrong.push(if sent_fin {
                    "it has sent its FIN"
                } else {
                    "it has not sent a FIN"
                });
            }
            let shows = format!(
                "the probe drew <SEQ={}><ACK={}><CTL=ACK{}>",
                r.seq.wrapping_sub(conn.target_isn.unwrap_or(0)),
                r.ack.wrapping_sub(conn.tester_isn),
                if r.flags & FIN != 0 { ",FIN" } else { "" }
            );
            if wrong.is_empty() {
                Finding::Confirmed(format!("{shows}: a synchronized connection"))
            } else {
                Finding::Contradicted(format!("{shows}: {}", wrong.join(", ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::build::build;
    use crate::packet::observe::observe;

    const TESTER: &str = "192.0.2.1:40000";
    const TARGET: &str = "192.0.2.2:8080";

    /// A connection the case knows: the target's SND.NXT at 5,001, the tester's window 1,000.
    fn conn() -> ConnView {
        let mut c = ConnView::new(1_000, false);
        c.target_isn = Some(5_000);
        c.target_snd_nxt = Some(5_001);
        c.tester_ack = Some(5_001);
        c.target_ack = Some(1_001);
        c.tester_window = 1_000;
        c
    }

    fn probe_of(exp: Expectation, c: &ConnView) -> PacketSpec {
        segment(exp, c, TESTER.parse().unwrap(), TARGET.parse().unwrap())
    }

    /// The target's segment on the probe's tuple.
    fn reply(probe: &PacketSpec, seq: u32, ack: u32, flags: u16) -> Observed {
        observe(&build(&PacketSpec {
            src: probe.dst,
            dst: probe.src,
            seq,
            ack,
            flags,
            window: 0,
            options: Vec::new(),
            ..probe.clone()
        }))
        .expect("the reply decodes")
    }

    const CLOSED: Expectation = Expectation::NoConnection { listening: false };
    const LISTEN: Expectation = Expectation::NoConnection { listening: true };

    #[test]
    fn a_reset_with_seg_ack_is_the_answer_and_confirms_no_connection() {
        let c = conn();
        let p = probe_of(CLOSED, &c);
        let r = reply(&p, p.ack, 0, RST);
        assert!(is_answer(CLOSED, &c, &r, &p));
        assert!(matches!(
            judge(CLOSED, &c, false, &p, Some(&r)),
            Finding::Confirmed(_)
        ));
    }

    #[test]
    fn a_reset_with_seg_ack_plus_one_is_the_answer_and_breaks_the_reset_rule() {
        let c = conn();
        for (exp, listens, rule) in [
            (CLOSED, false, "3.10.7.1 (CL-3, MUST"),
            (CLOSED, true, "3.10.7.2 (LI-2, the port listens, MUST"),
            (LISTEN, true, "3.10.7.2 (LI-2, MUST"),
        ] {
            let p = probe_of(exp, &c);
            let r = reply(&p, p.ack.wrapping_add(1), p.seq, RST | ACK);
            assert!(is_answer(exp, &c, &r, &p));
            let Finding::Breaks {
                shows,
                rule: broken,
            } = judge(exp, &c, listens, &p, Some(&r))
            else {
                panic!("{exp:?}: not a broken rule");
            };
            assert!(shows.contains("no connection"), "{shows}");
            assert!(broken.contains(rule), "{broken}");
            assert!(
                broken.contains(&format!(
                    "SEG.ACK was {}, the reset has SEQ {}",
                    p.ack, r.seq
                )),
                "{broken}"
            );
            assert!(broken.contains("RA seq"), "the packet is shown: {broken}");
        }
    }

    #[test]
    fn a_reset_with_seq_zero_is_the_answer_and_breaks_the_reset_rule() {
        let c = conn();
        let p = probe_of(CLOSED, &c);
        let r = reply(&p, 0, p.seq, RST | ACK);
        assert!(is_answer(CLOSED, &c, &r, &p));
        let Finding::Breaks { rule, .. } = judge(CLOSED, &c, false, &p, Some(&r)) else {
            panic!("not a broken rule");
        };
        assert!(
            rule.contains("CL-3") && rule.contains("the reset has SEQ 0"),
            "{rule}"
        );
    }

    #[test]
    fn the_targets_abort_of_the_known_connection_is_not_the_answer() {
        let c = conn();
        let p = probe_of(CLOSED, &c);
        // <SEQ=SND.NXT><CTL=RST>, and one sent after more data inside the window.
        for seq in [5_001, 5_001 + 999] {
            let r = reply(&p, seq, 0, RST);
            assert!(!is_answer(CLOSED, &c, &r, &p), "SEQ {seq}");
        }
        // Past the window the tester gave it, it cannot be its abort.
        let r = reply(&p, 5_001 + 1_001, 0, RST);
        assert!(is_answer(CLOSED, &c, &r, &p));
        // No SND.NXT known: no connection to abort.
        let fresh = ConnView::new(1_000, false);
        let p = probe_of(CLOSED, &fresh);
        let r = reply(&p, 5_001, 0, RST);
        assert!(is_answer(CLOSED, &fresh, &r, &p));
    }

    #[test]
    fn a_reset_acknowledging_another_segment_is_not_the_answer() {
        let c = conn();
        let p = probe_of(CLOSED, &c);
        // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> for a SYN at the probe's SEQ, sent before.
        let r = reply(&p, 0, p.seq.wrapping_add(1), RST | ACK);
        assert!(!is_answer(CLOSED, &c, &r, &p));
        let r = reply(&p, 0, p.seq, RST | ACK);
        assert!(is_answer(CLOSED, &c, &r, &p));
    }

    #[test]
    fn an_ack_is_the_answer_and_shows_a_connection() {
        let c = conn();
        let p = probe_of(CLOSED, &c);
        let r = reply(&p, 5_001, 1_001, ACK);
        assert!(is_answer(CLOSED, &c, &r, &p));
        assert!(matches!(
            judge(CLOSED, &c, false, &p, Some(&r)),
            Finding::Contradicted(s) if s.contains("a synchronized connection exists")
        ));
        // A SYN-ACK (the target's own handshake again) is not this probe's answer.
        let r = reply(&p, 5_000, 1_001, SYN | ACK);
        assert!(!is_answer(CLOSED, &c, &r, &p));
    }
}
