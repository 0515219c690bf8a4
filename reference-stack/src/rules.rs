//! Which SEGMENT ARRIVES processing rule handled a segment.
//!
//! The ids are those of `shared/rfc/segment_arrives_cells.tsv`: the 55 processing rules of
//! RFC 9293 3.10.7, from CL-1 (CLOSED, RST) to FN-6 (TIME-WAIT, FIN). Every segment the stack
//! handles reports the rules it went through, so that coverage is measured, not claimed.
//! (Generated from the TSV; the order is the TSV's.)

use core::fmt;
use core::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// CL-1 (CLOSED): any segment with RST -> discard, no reply. RFC 9293 3.10.7.1.
    Cl1,
    /// CL-2 (CLOSED): no RST, ACK off -> send <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. RFC 9293 3.10.7.1.
    Cl2,
    /// CL-3 (CLOSED): no RST, ACK on -> send <SEQ=SEG.ACK><CTL=RST>. RFC 9293 3.10.7.1.
    Cl3,
    /// LI-1 (LISTEN): RST -> ignore. RFC 9293 3.10.7.2 step1.
    Li1,
    /// LI-2 (LISTEN): ACK (no RST) -> send <SEQ=SEG.ACK><CTL=RST>. RFC 9293 3.10.7.2 step2.
    Li2,
    /// LI-3 (LISTEN): SYN, security/compartment mismatch -> send <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. RFC 9293 3.10.7.2 step3.
    Li3,
    /// LI-4 (LISTEN): SYN (no ACK/RST), ok; data/FIN queued -> RCV.NXT=SEG.SEQ+1, IRS=SEG.SEQ, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. RFC 9293 3.10.7.2 step3.
    Li4,
    /// LI-5 (LISTEN): no SYN/ACK/RST (e.g. bare FIN, bare data) -> drop. RFC 9293 3.10.7.2 step4.
    Li5,
    /// SS-1 (SYN-SENT): ACK unacceptable (SEG.ACK=<ISS or >SND.NXT), no RST -> send <SEQ=SEG.ACK><CTL=RST>, drop. RFC 9293 3.10.7.3 step1.
    Ss1,
    /// SS-2 (SYN-SENT): ACK unacceptable, RST set -> drop. RFC 9293 3.10.7.3 step1.
    Ss2,
    /// SS-3 (SYN-SENT): RST with acceptable ACK (RFC5961 stacks: SHOULD also require SEG.SEQ==RCV.NXT) -> signal "connection reset", delete TCB. RFC 9293 3.10.7.3 step2.
    Ss3,
    /// SS-4 (SYN-SENT): RST without ACK -> drop. RFC 9293 3.10.7.3 step2.
    Ss4,
    /// SS-5 (SYN-SENT): security mismatch -> send RST (form depends on ACK bit), drop. RFC 9293 3.10.7.3 step3.
    Ss5,
    /// SS-6 (SYN-SENT): SYN + acceptable ACK (SND.UNA>ISS after update) -> send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; continue at URG step if data. RFC 9293 3.10.7.3 step4.
    Ss6,
    /// SS-7 (SYN-SENT): SYN without ACK (simultaneous open) -> send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; set SND.WND/WL1/WL2. RFC 9293 3.10.7.3 step4 (MUST-10).
    Ss7,
    /// SS-8 (SYN-SENT): neither SYN nor RST (acceptable pure ACK, FIN, data) -> drop. RFC 9293 3.10.7.3 step5.
    Ss8,
    /// SQ-1 (SYN-RCVD..TIME-WAIT (9 states)): unacceptable SEQ per 4-case table, no RST -> send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, drop. RFC 9293 3.10.7.4 step1 (Table 6).
    Sq1,
    /// SQ-2 (SYN-RCVD..TIME-WAIT): unacceptable SEQ, RST set -> drop. RFC 9293 3.10.7.4 step1.
    Sq2,
    /// SQ-3 (SYN-RCVD..TIME-WAIT): RCV.WND=0: valid ACK/URG/RST still processed -> process ACK/URG/RST fields. RFC 9293 3.10.7.4 step1 (MUST-66).
    Sq3,
    /// SQ-4 (SYN-RCVD..TIME-WAIT): in-window but SEG.SEQ>RCV.NXT (out of order) -> SHOULD queue (SHLD-31); MAY ACK (MAY-13). RFC 9293 3.10.7.4 step1/7.
    Sq4,
    /// SQ-5 (TIME-WAIT): SYN with Timestamp option (RFC 6191 variant) -> may accept new connection instead of seq check. RFC 9293 3.10.7.4 step1, MAY-2.
    Sq5,
    /// RS-1 (SYN-RCVD..TIME-WAIT): RST, RFC5961 stack, SEQ in window but != RCV.NXT -> send challenge ACK, drop. RFC 9293 3.10.7.4 step2 (3).
    Rs1,
    /// RS-2 (SYN-RCVD (from passive OPEN)): acceptable RST (==RCV.NXT for 5961) -> flush rtx queue, return to LISTEN. RFC 9293 3.10.7.4 step2.
    Rs2,
    /// RS-3 (SYN-RCVD (from active OPEN)): acceptable RST -> connection refused, delete TCB. RFC 9293 3.10.7.4 step2.
    Rs3,
    /// RS-4 (ESTABLISHED / FIN-WAIT-1 / FIN-WAIT-2 / CLOSE-WAIT): acceptable RST -> RECEIVE/SEND get "reset", flush queues, "connection reset". RFC 9293 3.10.7.4 step2.
    Rs4,
    /// RS-5 (CLOSING / LAST-ACK / TIME-WAIT): acceptable RST -> delete TCB (note RFC 1337 TIME-WAIT assassination; FreeBSD ignores). RFC 9293 3.10.7.4 step2.
    Rs5,
    /// SC-1 (SYN-RCVD): security mismatch -> send RST. RFC 9293 3.10.7.4 step3.
    Sc1,
    /// SC-2 (ESTABLISHED..TIME-WAIT): security mismatch -> send RST, "connection reset", delete TCB. RFC 9293 3.10.7.4 step3.
    Sc2,
    /// SY-1 (SYN-RCVD (from passive OPEN)): SYN -> return to LISTEN. RFC 9293 3.10.7.4 step4.
    Sy1,
    /// SY-2 (synchronized states (ESTAB..TIME-WAIT, SYN-RCVD active)): SYN, RFC5961 stack (any SEQ) -> send challenge ACK, drop. RFC 9293 3.10.7.4 step4.
    Sy2,
    /// SY-3 (synchronized states): SYN in window, RFC793 (non-5961) stack -> send RST, "connection reset", delete TCB. RFC 9293 3.10.7.4 step4.
    Sy3,
    /// AK-0 (SYN-RCVD..TIME-WAIT): ACK bit off (no SYN/RST) -> drop. RFC 9293 3.10.7.4 step5.
    Ak0,
    /// AK-1 (SYN-RCVD..TIME-WAIT): RFC5961 stack: SEG.ACK outside [SND.UNA-MAX.SND.WND, SND.NXT] -> discard, send ACK. RFC 9293 3.10.7.4 step5, MAY-12.
    Ak1,
    /// AK-2 (SYN-RCVD): SND.UNA < SEG.ACK =< SND.NXT -> SND.WND/WL1/WL2 set, continue. RFC 9293 3.10.7.4 step5.
    Ak2,
    /// AK-3 (SYN-RCVD): unacceptable ACK -> send <SEQ=SEG.ACK><CTL=RST>. RFC 9293 3.10.7.4 step5.
    Ak3,
    /// AK-4 (ESTABLISHED (also CW, FW1, FW2, CLOSING base)): SND.UNA < SEG.ACK =< SND.NXT -> SND.UNA<-SEG.ACK, drop acked rtx, SEND "ok". RFC 9293 3.10.7.4 step5.
    Ak4,
    /// AK-5 (ESTABLISHED (+same)): duplicate ACK SEG.ACK =< SND.UNA -> ignore (window may update). RFC 9293 3.10.7.4 step5.
    Ak5,
    /// AK-6 (ESTABLISHED (+same)): SEG.ACK > SND.NXT -> send ACK, drop. RFC 9293 3.10.7.4 step5.
    Ak6,
    /// AK-7 (ESTABLISHED (+same)): SND.UNA =< SEG.ACK =< SND.NXT and (WL1<SEQ or (WL1=SEQ and WL2=<ACK)) -> window update SND.WND/WL1/WL2. RFC 9293 3.10.7.4 step5.
    Ak7,
    /// AK-8 (FIN-WAIT-1): ACK acknowledges our FIN -> continue in FIN-WAIT-2. RFC 9293 3.10.7.4 step5.
    Ak8,
    /// AK-9 (FIN-WAIT-2): ACK, rtx queue empty -> user CLOSE "ok" (keep TCB). RFC 9293 3.10.7.4 step5.
    Ak9,
    /// AK-10 (CLOSING): ACK acknowledges our FIN -> enter TIME-WAIT (else ignore). RFC 9293 3.10.7.4 step5.
    Ak10,
    /// AK-11 (LAST-ACK): ACK acknowledges our FIN -> delete TCB. RFC 9293 3.10.7.4 step5.
    Ak11,
    /// AK-12 (TIME-WAIT): retransmitted remote FIN -> ACK it, restart 2MSL. RFC 9293 3.10.7.4 step5.
    Ak12,
    /// UR-1 (ESTABLISHED / FIN-WAIT-1 / FIN-WAIT-2): URG set -> RCV.UP<-max(RCV.UP,SEG.UP), signal urgent once. RFC 9293 3.10.7.4 step6 (MUST-30..33,62).
    Ur1,
    /// UR-2 (CLOSE-WAIT / CLOSING / LAST-ACK / TIME-WAIT): URG set -> ignore URG. RFC 9293 3.10.7.4 step6.
    Ur2,
    /// TX-1 (ESTABLISHED / FIN-WAIT-1 / FIN-WAIT-2): in-order data -> deliver, advance RCV.NXT, send ACK (may piggyback/delay). RFC 9293 3.10.7.4 step7 (MUST-58/59).
    Tx1,
    /// TX-2 (CLOSE-WAIT / CLOSING / LAST-ACK / TIME-WAIT): data -> ignore text. RFC 9293 3.10.7.4 step7.
    Tx2,
    /// FN-0 (CLOSED / LISTEN / SYN-SENT): FIN -> do not process, drop. RFC 9293 3.10.7.4 step8.
    Fn0,
    /// FN-1 (SYN-RECEIVED / ESTABLISHED): FIN -> signal "closing", RCV.NXT+1, ACK FIN. RFC 9293 3.10.7.4 step8.
    Fn1,
    /// FN-2 (FIN-WAIT-1): FIN, our FIN already ACKed (incl. this seg) -> ACK, start time-wait timer. RFC 9293 3.10.7.4 step8.
    Fn2,
    /// FN-3 (FIN-WAIT-1): FIN, our FIN not ACKed (simultaneous close) -> ACK. RFC 9293 3.10.7.4 step8.
    Fn3,
    /// FN-4 (FIN-WAIT-2): FIN -> ACK, start time-wait timer. RFC 9293 3.10.7.4 step8.
    Fn4,
    /// FN-5 (CLOSE-WAIT / CLOSING / LAST-ACK): FIN (retransmit) -> ACK, remain. RFC 9293 3.10.7.4 step8.
    Fn5,
    /// FN-6 (TIME-WAIT): FIN -> ACK, restart 2MSL. RFC 9293 3.10.7.4 step8.
    Fn6,
}

impl Rule {
    /// Every rule, in the order of the TSV.
    pub const ALL: [Rule; 55] = [
        Rule::Cl1,
        Rule::Cl2,
        Rule::Cl3,
        Rule::Li1,
        Rule::Li2,
        Rule::Li3,
        Rule::Li4,
        Rule::Li5,
        Rule::Ss1,
        Rule::Ss2,
        Rule::Ss3,
        Rule::Ss4,
        Rule::Ss5,
        Rule::Ss6,
        Rule::Ss7,
        Rule::Ss8,
        Rule::Sq1,
        Rule::Sq2,
        Rule::Sq3,
        Rule::Sq4,
        Rule::Sq5,
        Rule::Rs1,
        Rule::Rs2,
        Rule::Rs3,
        Rule::Rs4,
        Rule::Rs5,
        Rule::Sc1,
        Rule::Sc2,
        Rule::Sy1,
        Rule::Sy2,
        Rule::Sy3,
        Rule::Ak0,
        Rule::Ak1,
        Rule::Ak2,
        Rule::Ak3,
        Rule::Ak4,
        Rule::Ak5,
        Rule::Ak6,
        Rule::Ak7,
        Rule::Ak8,
        Rule::Ak9,
        Rule::Ak10,
        Rule::Ak11,
        Rule::Ak12,
        Rule::Ur1,
        Rule::Ur2,
        Rule::Tx1,
        Rule::Tx2,
        Rule::Fn0,
        Rule::Fn1,
        Rule::Fn2,
        Rule::Fn3,
        Rule::Fn4,
        Rule::Fn5,
        Rule::Fn6,
    ];

    /// The id as written in the TSV, e.g. `"SS-7"`.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Cl1 => "CL-1",
            Rule::Cl2 => "CL-2",
            Rule::Cl3 => "CL-3",
            Rule::Li1 => "LI-1",
            Rule::Li2 => "LI-2",
            Rule::Li3 => "LI-3",
            Rule::Li4 => "LI-4",
            Rule::Li5 => "LI-5",
            Rule::Ss1 => "SS-1",
            Rule::Ss2 => "SS-2",
            Rule::Ss3 => "SS-3",
            Rule::Ss4 => "SS-4",
            Rule::Ss5 => "SS-5",
            Rule::Ss6 => "SS-6",
            Rule::Ss7 => "SS-7",
            Rule::Ss8 => "SS-8",
            Rule::Sq1 => "SQ-1",
            Rule::Sq2 => "SQ-2",
            Rule::Sq3 => "SQ-3",
            Rule::Sq4 => "SQ-4",
            Rule::Sq5 => "SQ-5",
            Rule::Rs1 => "RS-1",
            Rule::Rs2 => "RS-2",
            Rule::Rs3 => "RS-3",
            Rule::Rs4 => "RS-4",
            Rule::Rs5 => "RS-5",
            Rule::Sc1 => "SC-1",
            Rule::Sc2 => "SC-2",
            Rule::Sy1 => "SY-1",
            Rule::Sy2 => "SY-2",
            Rule::Sy3 => "SY-3",
            Rule::Ak0 => "AK-0",
            Rule::Ak1 => "AK-1",
            Rule::Ak2 => "AK-2",
            Rule::Ak3 => "AK-3",
            Rule::Ak4 => "AK-4",
            Rule::Ak5 => "AK-5",
            Rule::Ak6 => "AK-6",
            Rule::Ak7 => "AK-7",
            Rule::Ak8 => "AK-8",
            Rule::Ak9 => "AK-9",
            Rule::Ak10 => "AK-10",
            Rule::Ak11 => "AK-11",
            Rule::Ak12 => "AK-12",
            Rule::Ur1 => "UR-1",
            Rule::Ur2 => "UR-2",
            Rule::Tx1 => "TX-1",
            Rule::Tx2 => "TX-2",
            Rule::Fn0 => "FN-0",
            Rule::Fn1 => "FN-1",
            Rule::Fn2 => "FN-2",
            Rule::Fn3 => "FN-3",
            Rule::Fn4 => "FN-4",
            Rule::Fn5 => "FN-5",
            Rule::Fn6 => "FN-6",
        }
    }

    /// The RFC 9293 section (and step) that states the rule.
    pub fn section(self) -> &'static str {
        match self {
            Rule::Cl1 => "3.10.7.1",
            Rule::Cl2 => "3.10.7.1",
            Rule::Cl3 => "3.10.7.1",
            Rule::Li1 => "3.10.7.2 step1",
            Rule::Li2 => "3.10.7.2 step2",
            Rule::Li3 => "3.10.7.2 step3",
            Rule::Li4 => "3.10.7.2 step3",
            Rule::Li5 => "3.10.7.2 step4",
            Rule::Ss1 => "3.10.7.3 step1",
            Rule::Ss2 => "3.10.7.3 step1",
            Rule::Ss3 => "3.10.7.3 step2",
            Rule::Ss4 => "3.10.7.3 step2",
            Rule::Ss5 => "3.10.7.3 step3",
            Rule::Ss6 => "3.10.7.3 step4",
            Rule::Ss7 => "3.10.7.3 step4 (MUST-10)",
            Rule::Ss8 => "3.10.7.3 step5",
            Rule::Sq1 => "3.10.7.4 step1 (Table 6)",
            Rule::Sq2 => "3.10.7.4 step1",
            Rule::Sq3 => "3.10.7.4 step1 (MUST-66)",
            Rule::Sq4 => "3.10.7.4 step1/7",
            Rule::Sq5 => "3.10.7.4 step1, MAY-2",
            Rule::Rs1 => "3.10.7.4 step2 (3)",
            Rule::Rs2 => "3.10.7.4 step2",
            Rule::Rs3 => "3.10.7.4 step2",
            Rule::Rs4 => "3.10.7.4 step2",
            Rule::Rs5 => "3.10.7.4 step2",
            Rule::Sc1 => "3.10.7.4 step3",
            Rule::Sc2 => "3.10.7.4 step3",
            Rule::Sy1 => "3.10.7.4 step4",
            Rule::Sy2 => "3.10.7.4 step4",
            Rule::Sy3 => "3.10.7.4 step4",
            Rule::Ak0 => "3.10.7.4 step5",
            Rule::Ak1 => "3.10.7.4 step5, MAY-12",
            Rule::Ak2 => "3.10.7.4 step5",
            Rule::Ak3 => "3.10.7.4 step5",
            Rule::Ak4 => "3.10.7.4 step5",
            Rule::Ak5 => "3.10.7.4 step5",
            Rule::Ak6 => "3.10.7.4 step5",
            Rule::Ak7 => "3.10.7.4 step5",
            Rule::Ak8 => "3.10.7.4 step5",
            Rule::Ak9 => "3.10.7.4 step5",
            Rule::Ak10 => "3.10.7.4 step5",
            Rule::Ak11 => "3.10.7.4 step5",
            Rule::Ak12 => "3.10.7.4 step5",
            Rule::Ur1 => "3.10.7.4 step6 (MUST-30..33,62)",
            Rule::Ur2 => "3.10.7.4 step6",
            Rule::Tx1 => "3.10.7.4 step7 (MUST-58/59)",
            Rule::Tx2 => "3.10.7.4 step7",
            Rule::Fn0 => "3.10.7.4 step8",
            Rule::Fn1 => "3.10.7.4 step8",
            Rule::Fn2 => "3.10.7.4 step8",
            Rule::Fn3 => "3.10.7.4 step8",
            Rule::Fn4 => "3.10.7.4 step8",
            Rule::Fn5 => "3.10.7.4 step8",
            Rule::Fn6 => "3.10.7.4 step8",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Error for an id that is not one of the 55.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRule(pub String);

impl fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown SEGMENT ARRIVES rule id `{}` (expected CL-1 ... FN-6)",
            self.0
        )
    }
}

impl std::error::Error for UnknownRule {}

impl FromStr for Rule {
    type Err = UnknownRule;
    fn from_str(s: &str) -> Result<Rule, UnknownRule> {
        Rule::ALL
            .iter()
            .copied()
            .find(|r| r.id().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_tsv_and_parse_back() {
        assert_eq!(Rule::ALL.len(), 55);
        assert_eq!(Rule::ALL[0].id(), "CL-1");
        assert_eq!(Rule::ALL[54].id(), "FN-6");
        for r in Rule::ALL {
            assert_eq!(r.id().parse::<Rule>(), Ok(r));
        }
        assert!("XX-1".parse::<Rule>().is_err());
    }
}
