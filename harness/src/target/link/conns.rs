//! Every connection an instance made on a stack that outlives it, and how to take each one
//! down again, so that the next instance meets a clean target. Sans-IO: the link target feeds
//! it what it sends and receives and sends what it asks for.
//!
//! Teardown, per connection, in rounds: an RST at the best guess of the target's RCV.NXT, then
//! a probe — a pure ACK far below the window (RFC 9293 3.10.7.4 first check: a synchronized
//! connection answers an unacceptable segment with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; a port
//! with no connection answers it with <SEQ=SEG.ACK><CTL=RST>, 3.10.7.1/3.10.7.2). An RST in
//! answer confirms the connection is gone. An ACK gives RCV.NXT exactly, and the next round's
//! RST sits on it — acceptable to RFC 793 and RFC 5961 stacks alike (RFC 5961 3.2 takes an RST
//! at once only when SEG.SEQ = RCV.NXT, and answers others with a challenge ACK, which is
//! such an ACK too). Connections from spoofed sources never hear back; they get the RST at the
//! one sequence number they can be in (the SYN's + 1, a SYN-RECEIVED TCB's RCV.NXT).

use crate::packet::build::build;
use crate::packet::spec::{
    ChecksumSpec, IpFields, Observed, ObservedOption, OptionSpec, PacketSpec,
};
use crate::tcp::flags::{ACK, FIN, RST, SYN};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// How far below the window a teardown probe sits: unacceptable for any window under 1 GiB.
const PROBE_BELOW: u32 = 1 << 30;

/// What is known of one connection, from the tester's side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Conn {
    /// Past the last sequence number the tester sent (SYN and FIN count).
    tester_next: u32,
    /// Past the last sequence number the target sent.
    target_next: Option<u32>,
    /// The last acknowledgment number the target sent: its RCV.NXT at the time.
    target_ack: Option<u32>,
    /// The last TSval each side sent, when the connection carries timestamps: a probe without
    /// one may be dropped by PAWS (RFC 7323 5.3).
    tester_tsval: Option<u32>,
    target_tsval: Option<u32>,
    /// Teardown: the target answered the last probe with an RST (nothing left), or with an
    /// ACK (still there).
    gone: bool,
    answered: bool,
}

/// The outcome of a teardown, for the instance's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teardown {
    /// Connections whose end the target confirmed.
    pub confirmed: usize,
    /// Connections that still answered after the last round (a TIME-WAIT that ignores RSTs,
    /// RFC 1337, or a leak).
    pub still_open: Vec<(SocketAddr, SocketAddr)>,
    /// Connections that never answered a probe (spoofed sources, or a silent target).
    pub silent: usize,
}

/// The connections of one instance, keyed (tester, target).
#[derive(Debug, Default)]
pub struct Conns {
    map: BTreeMap<(SocketAddr, SocketAddr), Conn>,
    /// Set by the first teardown round: from then on an answer is an answer to a probe. An
    /// RST the target sent during the case proves nothing (SYN-SENT answers a bad ACK with one
    /// and keeps its TCB, 3.10.7.3), so the connection is probed all the same.
    tearing_down: bool,
}

fn tsval(o: &Observed) -> Option<u32> {
    o.options.iter().find_map(|opt| match opt {
        ObservedOption::Timestamps { tsval, .. } => Some(*tsval),
        _ => None,
    })
}

fn seg_len(o: &Observed) -> u32 {
    o.payload.len() as u32 + u32::from(o.flags & SYN != 0) + u32::from(o.flags & FIN != 0)
}

/// Sequence numbers compare modulo 2^32 (RFC 9293 3.4).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Conns {
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A segment the tester sent.
    pub fn on_sent(&mut self, o: &Observed) {
        let c = self.map.entry((o.src, o.dst)).or_default();
        let end = o.seq.wrapping_add(seg_len(o));
        if c.tester_next == 0 || after(end, c.tester_next) {
            c.tester_next = end;
        }
        if let Some(ts) = tsval(o) {
            c.tester_tsval = Some(ts);
        }
    }

    /// A segment the target sent to one of the tester's ports.
    pub fn on_received(&mut self, o: &Observed) {
        let Some(c) = self.map.get_mut(&(o.dst, o.src)) else {
            return;
        };
        if o.flags & RST != 0 {
            if self.tearing_down {
                c.gone = true;
                c.answered = true;
            }
            return;
        }
        let end = o.seq.wrapping_add(seg_len(o));
        if c.target_next.is_none_or(|n| after(end, n)) {
            c.target_next = Some(end);
        }
        if o.flags & ACK != 0 {
            c.target_ack = Some(o.ack);
            if self.tearing_down {
                c.answered = true;
            }
        }
        if let Some(ts) = tsval(o) {
            c.target_tsval = Some(ts);
        }
    }

    /// The packets of one teardown round: for every connection not known to be gone, an RST
    /// at its RCV.NXT as best known and, from the tester's own addresses (`locals`), a probe
    /// that makes the target say whether the connection is still there. Clears the answers of
    /// the previous round.
    pub fn round(&mut self, locals: &[IpAddr]) -> Vec<Vec<u8>> {
        self.tearing_down = true;
        let mut out = Vec::new();
        for (&(tester, target), c) in self.map.iter_mut() {
            if c.gone {
                continue;
            }
            c.answered = false;
            let rcv_nxt = c.target_ack.unwrap_or(c.tester_next);
            out.push(segment(tester, target, rcv_nxt, 0, RST, Vec::new()));
            if locals.contains(&tester.ip()) {
                let options = match (c.tester_tsval, c.target_tsval) {
                    (Some(val), Some(ecr)) => vec![OptionSpec::Timestamps {
                        tsval: val.wrapping_add(1),
                        tsecr: ecr,
                    }],
                    _ => Vec::new(),
                };
                let ack = c.target_next.unwrap_or(0);
                out.push(segment(
                    tester,
                    target,
                    rcv_nxt.wrapping_sub(PROBE_BELOW),
                    ack,
                    ACK,
                    options,
                ));
            }
        }
        out
    }

    /// Whether every probed connection answered this round (the round can end early).
    pub fn all_answered(&self, locals: &[IpAddr]) -> bool {
        self.map
            .iter()
            .all(|(&(tester, _), c)| c.gone || c.answered || !locals.contains(&tester.ip()))
    }

    /// Whether a teardown round is still worth it: some connection answered with an ACK.
    pub fn any_open(&self) -> bool {
        self.map.values().any(|c| !c.gone && c.answered)
    }

    /// What the teardown found; forgets every connection.
    pub fn finish(&mut self) -> Teardown {
        self.tearing_down = false;
        let mut t = Teardown::default();
        for ((tester, target), c) in std::mem::take(&mut self.map) {
            if c.gone {
                t.confirmed += 1;
            } else if c.answered {
                t.still_open.push((tester, target));
            } else {
                t.silent += 1;
            }
        }
        t
    }
}

fn segment(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u16,
    options: Vec<OptionSpec>,
) -> Vec<u8> {
    build(&PacketSpec {
        src,
        dst,
        seq,
        ack,
        flags,
        window: 0,
        urgent: 0,
        reserved: 0,
        options,
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::observe::observe;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    fn seg(src: &str, dst: &str, seq: u32, ack: u32, flags: u16, data: usize) -> Observed {
        let bytes = build(&PacketSpec {
            src: addr(src),
            dst: addr(dst),
            seq,
            ack,
            flags,
            window: 1000,
            urgent: 0,
            reserved: 0,
            options: Vec::new(),
            payload: vec![b'x'; data],
            data_offset: None,
            checksum: ChecksumSpec::Correct,
            ip: IpFields::default(),
            raw: None,
        });
        observe(&bytes).expect("decodes")
    }

    const T: &str = "192.0.2.3:40000";
    const S: &str = "192.0.2.1:7";

    fn locals() -> Vec<IpAddr> {
        vec!["192.0.2.3".parse().expect("ip")]
    }

    #[test]
    fn resets_at_the_acknowledged_sequence_number_then_confirms() {
        let mut c = Conns::default();
        c.on_sent(&seg(T, S, 100, 0, SYN, 0));
        c.on_received(&seg(S, T, 5000, 101, SYN | ACK, 0));
        c.on_sent(&seg(T, S, 101, 5001, ACK, 0));
        c.on_sent(&seg(T, S, 101, 5001, ACK, 10));
        // Out of window: not acknowledged, so the target's RCV.NXT is still 111 once it ACKs.
        c.on_sent(&seg(T, S, 90_000, 5001, ACK, 10));
        c.on_received(&seg(S, T, 5001, 111, ACK, 0));
        let round = c.round(&locals());
        assert_eq!(round.len(), 2);
        let rst = observe(&round[0]).expect("rst");
        assert_eq!((rst.flags, rst.seq), (RST, 111));
        let probe = observe(&round[1]).expect("probe");
        assert_eq!(probe.flags, ACK);
        assert_eq!(probe.seq, 111u32.wrapping_sub(PROBE_BELOW));
        assert_eq!(probe.ack, 5001);
        assert!(!c.all_answered(&locals()));
        // The probe meets no connection: RST (3.10.7.1).
        c.on_received(&seg(S, T, 5001, 0, RST, 0));
        assert!(c.all_answered(&locals()));
        assert!(!c.any_open());
        let t = c.finish();
        assert_eq!(t.confirmed, 1);
        assert!(t.still_open.is_empty());
        assert!(c.is_empty());
    }

    #[test]
    fn a_challenge_ack_moves_the_next_reset_onto_rcv_nxt() {
        let mut c = Conns::default();
        c.on_sent(&seg(T, S, 100, 0, SYN, 0));
        c.on_received(&seg(S, T, 5000, 101, SYN | ACK, 0));
        c.on_sent(&seg(T, S, 101, 5001, ACK, 20));
        let first = observe(&c.round(&locals())[0]).expect("rst");
        assert_eq!(first.seq, 101);
        // The data was taken without an ACK yet; the RST was in the window but not on RCV.NXT:
        // an RFC 5961 stack answers with a challenge ACK.
        c.on_received(&seg(S, T, 5001, 121, ACK, 0));
        assert!(c.any_open());
        let second = observe(&c.round(&locals())[0]).expect("rst");
        assert_eq!((second.flags, second.seq), (RST, 121));
        c.on_received(&seg(S, T, 5001, 0, RST, 0));
        assert_eq!(c.finish().confirmed, 1);
    }

    #[test]
    fn spoofed_sources_get_one_reset_and_no_probe() {
        let mut c = Conns::default();
        c.on_sent(&seg("198.51.100.7:1234", S, 77, 0, SYN, 0));
        let round = c.round(&locals());
        assert_eq!(round.len(), 1);
        let rst = observe(&round[0]).expect("rst");
        assert_eq!((rst.flags, rst.seq), (RST, 78));
        assert!(c.all_answered(&locals()));
        let t = c.finish();
        assert_eq!((t.confirmed, t.silent), (0, 1));
    }

    #[test]
    fn a_connection_that_keeps_answering_is_reported() {
        let mut c = Conns::default();
        c.on_sent(&seg(T, S, 100, 0, SYN, 0));
        c.on_received(&seg(S, T, 5000, 101, SYN | ACK, 0));
        for _ in 0..3 {
            c.round(&locals());
            c.on_received(&seg(S, T, 5001, 101, ACK, 0));
        }
        let t = c.finish();
        assert_eq!(t.still_open, vec![(addr(T), addr(S))]);
    }

    #[test]
    fn an_rst_during_the_case_does_not_spare_the_teardown() {
        let mut c = Conns::default();
        c.on_sent(&seg(T, S, 100, 0, SYN, 0));
        c.on_received(&seg(S, T, 0, 101, RST | ACK, 0));
        assert_eq!(c.round(&locals()).len(), 2);
    }

    #[test]
    fn segments_of_unknown_connections_are_ignored() {
        let mut c = Conns::default();
        c.on_received(&seg(S, T, 5000, 101, SYN | ACK, 0));
        assert!(c.is_empty());
    }
}
