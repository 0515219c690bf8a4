//! Path MTU Discovery (RFC 1191 for IPv4, RFC 8201 for IPv6; RFC 9293 3.7.2 "strongly
//! recommended"): an ICMP "fragmentation needed" (IPv4 type 3 code 4) or ICMPv6 "packet too
//! big" names the next-hop MTU that a segment of ours did not fit. The send MSS shrinks to fit
//! it, and what is in flight is resent at once in segments of the new size.
//!
//! With `Config::plpmtud_black_hole`, also the black-hole response of Packetization Layer PMTUD
//! (RFC 4821 7.7, "Full-Stop Timeout"): where ICMP never comes back, a full-size segment the path
//! cannot carry is lost every time, and only a smaller one gets through. "Under all conditions, a
//! full-stop timeout ... SHOULD be taken as an indication of some significantly disruptive event
//! in the network", and "if eff_pmtu is larger than search_low, set eff_pmtu to search_low";
//! "upon additional successive timeouts, search_low and eff_pmtu SHOULD be halved, with a lower
//! bound of 68 bytes for IPv4 and 1280 bytes for IPv6". The full-stop timeout is the R1th
//! retransmission timeout without progress (RFC 9293 3.8.3: R1 is where TCP gives IP negative
//! advice; Linux's `tcp_mtu_probing=1` waits as many, `tcp_retries1`). The reference does not
//! probe upward again (4821 7.3-7.6): once lowered, the estimate stays, as with ICMP.

use super::Tcb;
use crate::wire::SeqNumber;

/// RFC 1191 3: "A host MUST never reduce its estimate of the Path MTU below 68 octets."
const MIN_MTU_V4: u32 = 68;
/// RFC 8201 4: "A node MUST NOT reduce its estimate of the Path MTU below the IPv6 minimum
/// link MTU" (1280, RFC 8200 5).
const MIN_MTU_V6: u32 = 1280;

/// The initial search_low of RFC 4821 (an MTU that works on nearly any IPv4 path; Linux's
/// `tcp_base_mss` of 1024 octets is a like choice), and IPv6's minimum MTU.
const SEARCH_LOW_V4: usize = 1024;
const SEARCH_LOW_V6: usize = 1280;

impl Tcb {
    /// A "fragmentation needed" / "packet too big" message reporting next-hop MTU `mtu` and
    /// quoting our segment with sequence number `seq`. True if the path MTU went down.
    ///
    /// Ignored unless SND.UNA =< seq < SND.NXT: RFC 5927 4.1 (and 7.2 for PMTUD attacks) checks
    /// that the quoted segment is in flight, since anything else cannot be a segment a router
    /// just dropped. Ignored too when it would not lower the estimate (RFC 1191 3: a host only
    /// raises it by probing) or names an MTU below the minimum of its IP version (the estimate
    /// never goes below it; a smaller value is not believed).
    ///
    /// When the send MSS went down, the quoted segment did not fit and was dropped: everything
    /// from SND.UNA is resent at once in segments of the new size (RFC 1191 6.5, RFC 8201 5.4:
    /// retransmission is the transport's part), with no congestion response, since the drop says
    /// nothing about congestion (Linux does the same, `tcp_simple_retransmit`). RTT sampling
    /// stops (Karn, MUST-18).
    pub fn handle_packet_too_big(&mut self, mtu: u32, seq: SeqNumber) -> bool {
        if self.gone() || !(self.snd_una <= seq && seq < self.snd_nxt) {
            return false;
        }
        let floor = if self.tuple.remote.is_ipv4() {
            MIN_MTU_V4
        } else {
            MIN_MTU_V6
        };
        let current = self.path_mtu();
        if mtu < floor || mtu as usize >= current {
            return false;
        }
        let mss = self.snd_mss();
        self.path_mtu = Some(mtu as usize);
        if self.snd_mss() < mss && self.syn_acked && self.snd_nxt > self.snd_una {
            self.rtx_nxt = Some(self.snd_una);
            self.rtx_end = self.snd_nxt;
            self.rtt_sample = None;
        }
        true
    }

    /// RFC 4821 7.7: the retransmission timer fired with data in flight; from the R1th such
    /// timeout without progress, the path MTU estimate goes to search_low, then halves per
    /// timeout down to the minimum of the IP version. The resend that follows (from SND.UNA,
    /// `on_retransmission_timeout`) uses the smaller segments.
    pub(super) fn on_full_stop_timeout(&mut self) {
        if !self.plpmtud_black_hole || !self.syn_acked || self.rtx_count < self.r1 {
            return;
        }
        let (floor, search_low) = if self.tuple.remote.is_ipv4() {
            (MIN_MTU_V4 as usize, SEARCH_LOW_V4)
        } else {
            (MIN_MTU_V6 as usize, SEARCH_LOW_V6)
        };
        let current = self.path_mtu();
        let lowered = if current > search_low {
            search_low
        } else {
            (current / 2).max(floor)
        };
        if lowered < current {
            self.path_mtu = Some(lowered);
        }
    }

    /// The path MTU estimate: the configured MTU until a "packet too big" lowers it.
    pub(super) fn path_mtu(&self) -> usize {
        self.path_mtu.unwrap_or(self.mtu)
    }
}
