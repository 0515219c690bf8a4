//! What the tester knows about the connection under test, learned only from the wire.
//!
//! Case expressions name the TARGET's TCB variables (`rcv.nxt`, `snd.una`, ...). The runner never
//! reads them from the target (a kernel would not tell): it tracks them from the segments that
//! crossed the wire, exactly as a packetdrill user reasons about them. Values are kept absolute
//! here and exposed relative to the ISN of their sequence space, so `rcv.nxt` lives in the
//! tester's space (like a `send.seq`) and `snd.nxt` in the target's (like an `expect.seq`).

use crate::case::expr::{Space, Var};
use crate::case::model::FAST_OPEN_KIND;
use crate::packet::spec::{Observed, ObservedOption, OptionSpec, PacketSpec};

use crate::run::probe::Expectation;
use crate::tcp::flags::{ACK, FIN, RST, SYN};

/// Sequence-space "a is after b" (RFC 9293 3.4, modulo 2^32).
pub(super) fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn seg_len(flags: u16, payload: usize) -> u32 {
    payload as u32 + u32::from(flags & SYN != 0) + u32::from(flags & FIN != 0)
}

#[derive(Debug, Clone)]
pub struct ConnView {
    /// The tester's ISN: random per case instance (the tester's SND.UNA space).
    pub tester_isn: u32,
    /// The target's ISN, learned from its SYN (or SYN-ACK).
    pub target_isn: Option<u32>,
    /// Next sequence number the tester will send (absolute).
    pub tester_snd_nxt: u32,
    /// Highest acknowledgment the tester sent (absolute): the target's SND.UNA as far as the
    /// target can know.
    pub tester_ack: Option<u32>,
    /// The window the tester last advertised (unscaled field value).
    pub tester_window: u16,
    /// Highest sequence number + length the target sent (absolute): its SND.NXT.
    pub target_snd_nxt: Option<u32>,
    /// The last acknowledgment the target sent (absolute): its RCV.NXT.
    pub target_ack: Option<u32>,
    /// The last window field the target sent and whether it came on a SYN (never scaled).
    pub target_window: Option<(u16, bool)>,
    /// Window-scale shifts offered on each side's SYN (RFC 7323 2.2).
    pub tester_wscale: Option<u8>,
    pub target_wscale: Option<u8>,
    /// The MSS the target announced.
    pub target_mss: Option<u16>,
    /// The target's last timestamp value and echo reply (RFC 7323 3.2).
    pub target_tsval: Option<u32>,
    pub target_tsecr: Option<u32>,
    /// Where each side's FIN sits (absolute sequence number of the FIN), once sent.
    pub tester_fin: Option<u32>,
    pub target_fin: Option<u32>,
    /// The last TSval the tester sent.
    pub tester_tsval: Option<u32>,
    /// The last Fast Open cookie the target sent (RFC 7413 4.1.1, in a SYN-ACK): kept across
    /// incarnations, since a cookie is for a later connection from the same address.
    pub target_fastopen_cookie: Option<Vec<u8>>,
    /// Either side sent an RST.
    pub tester_reset: bool,
    pub target_reset: bool,
    /// Whether the tester has sent and the target has sent a SYN (scaling applies only after).
    tester_sent_syn: bool,
    /// The tester sent a SYN after its FIN: a SYN-ACK to it opens a new incarnation.
    syn_after_fin: bool,
    ipv6: bool,
}

impl ConnView {
    pub fn new(tester_isn: u32, ipv6: bool) -> ConnView {
        ConnView {
            tester_isn,
            target_isn: None,
            tester_snd_nxt: tester_isn,
            tester_ack: None,
            tester_window: 65535,
            target_snd_nxt: None,
            target_ack: None,
            target_window: None,
            tester_wscale: None,
            target_wscale: None,
            target_mss: None,
            target_tsval: None,
            target_tsecr: None,
            tester_fin: None,
            target_fin: None,
            tester_tsval: None,
            target_fastopen_cookie: None,
            tester_reset: false,
            target_reset: false,
            tester_sent_syn: false,
            syn_after_fin: false,
            ipv6,
        }
    }

    /// Record a segment the tester injected.
    pub fn on_sent(&mut self, p: &PacketSpec) {
        if p.raw.is_some() {
            return;
        }
        if p.flags & SYN != 0 {
            self.tester_sent_syn = true;
            self.syn_after_fin |= self.tester_fin.is_some();
            self.tester_wscale = p.options.iter().find_map(|o| match o {
                OptionSpec::WindowScale(s) => Some(*s),
                _ => None,
            });
        }
        let end = p.seq.wrapping_add(seg_len(p.flags, p.payload.len()));
        if after(end, self.tester_snd_nxt) {
            self.tester_snd_nxt = end;
        }
        // The tester's FIN, once one goes out in order (at the target's RCV.NXT as last
        // acknowledged): FINs sent out of order, to see them dropped, are not the stream's end.
        if p.flags & FIN != 0
            && self.tester_fin.is_none()
            && self.target_ack.is_none_or(|rcv_nxt| p.seq == rcv_nxt)
        {
            self.tester_fin = Some(end.wrapping_sub(1));
        }
        self.tester_reset |= p.flags & RST != 0;
        if let Some(val) = p.options.iter().find_map(|o| match o {
            OptionSpec::Timestamps { tsval, .. } => Some(*tsval),
            _ => None,
        }) {
            self.tester_tsval = Some(val);
        }
        if p.flags & ACK != 0 {
            match self.tester_ack {
                Some(a) if !after(p.ack, a) => {}
                _ => self.tester_ack = Some(p.ack),
            }
        }
        self.tester_window = p.window;
    }

    /// The target's application opened a new connection (a `connect` call after an earlier
    /// one ended): nothing of the old one is acknowledged on it, so it is not synchronized
    /// until the target acknowledges the tester's new SYN.
    pub fn on_new_open(&mut self) {
        self.target_ack = None;
    }

    /// Record a segment the target emitted.
    pub fn on_received(&mut self, o: &Observed) {
        let syn = o.flags & SYN != 0;
        if syn && o.flags & ACK != 0 && self.syn_after_fin {
            // A new incarnation (a SYN accepted in TIME-WAIT, RFC 6191): a new stream.
            self.tester_fin = None;
            self.target_fin = None;
            self.syn_after_fin = false;
        }
        if syn {
            // A new SYN from the target (first one, or a new incarnation) defines its ISN.
            if self.target_isn != Some(o.seq) {
                self.target_isn = Some(o.seq);
                self.target_snd_nxt = None;
                self.target_fin = None;
                self.target_reset = false;
            }
            self.target_wscale = o.options.iter().find_map(|opt| match opt {
                ObservedOption::WindowScale(s) => Some(*s),
                _ => None,
            });
            self.target_mss = o.options.iter().find_map(|opt| match opt {
                ObservedOption::Mss(m) => Some(*m),
                _ => None,
            });
            if let Some(cookie) = o.options.iter().find_map(|opt| match opt {
                ObservedOption::Unknown { kind, data }
                    if *kind == FAST_OPEN_KIND && !data.is_empty() =>
                {
                    Some(data.clone())
                }
                _ => None,
            }) {
                self.target_fastopen_cookie = Some(cookie);
            }
        }
        if let Some((val, ecr)) = o.options.iter().find_map(|opt| match opt {
            ObservedOption::Timestamps { tsval, tsecr } => Some((*tsval, *tsecr)),
            _ => None,
        }) {
            self.target_tsval = Some(val);
            self.target_tsecr = Some(ecr);
        }
        let end = o.seq.wrapping_add(seg_len(o.flags, o.payload.len()));
        match self.target_snd_nxt {
            Some(n) if !after(end, n) => {}
            _ => self.target_snd_nxt = Some(end),
        }
        if o.flags & FIN != 0 && o.flags & RST == 0 {
            self.target_fin = Some(end.wrapping_sub(1));
        }
        self.target_reset |= o.flags & RST != 0;
        if o.flags & ACK != 0 && o.flags & RST == 0 {
            self.target_ack = Some(o.ack);
        }
        if o.flags & RST == 0 {
            self.target_window = Some((o.window, syn));
        }
    }

    /// The shift the target applies to its window field (RFC 7323 2.3: only if both offered,
    /// never on a SYN).
    fn target_shift(&self) -> u32 {
        match (self.tester_wscale, self.target_wscale, self.tester_sent_syn) {
            (Some(_), Some(s), true) => u32::from(s.min(14)),
            _ => 0,
        }
    }

    /// The shift the target applies to the tester's window field.
    fn tester_shift(&self) -> u32 {
        match (self.tester_wscale, self.target_wscale) {
            (Some(s), Some(_)) => u32::from(s.min(14)),
            _ => 0,
        }
    }

    /// Learn the target's ISN from a SYN before matching it, so that `seq: 0` in the expect of
    /// the SYN (or SYN-ACK) itself means "its ISN".
    pub fn learn_isn(&mut self, o: &Observed) {
        if o.flags & SYN != 0 && self.target_isn != Some(o.seq) {
            self.target_isn = Some(o.seq);
            self.target_snd_nxt = None;
        }
    }

    /// A connection variable, relative to the ISN of its sequence space (see the module docs);
    /// `None` when it is not known yet (e.g. `snd.nxt` before the target sent anything).
    pub fn var(&self, v: Var) -> Option<i64> {
        let rel_tester = |abs: u32| i64::from(abs.wrapping_sub(self.tester_isn));
        let rel_target = |abs: u32| self.target_isn.map(|isn| i64::from(abs.wrapping_sub(isn)));
        match v {
            // The target's RCV.NXT: its last ACK, else what the tester has sent so far.
            Var::RcvNxt => Some(rel_tester(self.target_ack.unwrap_or(self.tester_snd_nxt))),
            Var::RcvWnd => self.target_window.map(|(w, syn)| {
                if syn {
                    i64::from(w)
                } else {
                    i64::from(w) << self.target_shift()
                }
            }),
            Var::SndNxt => self.target_snd_nxt.and_then(rel_target),
            Var::SndUna => match self.tester_ack {
                Some(a) => rel_target(a),
                None => self.target_isn.map(|_| 0),
            },
            Var::SndWnd => Some(i64::from(self.tester_window) << self.tester_shift()),
            Var::Iss => self.target_isn.map(|_| 0),
            Var::Irs => Some(0),
            Var::TesterNxt => Some(rel_tester(self.tester_snd_nxt)),
            // RFC 9293 3.7.1 (MUST-15): no MSS option means 536 on IPv4, 1220 on IPv6.
            Var::Mss => {
                let default = if self.ipv6 { 1220 } else { 536 };
                Some(i64::from(self.target_mss.unwrap_or(default)))
            }
            Var::TsVal => self.target_tsval.map(i64::from),
            Var::TsEcr => self.target_tsecr.map(i64::from),
        }
    }

    /// Whether the handshake is complete as the tester saw it: the target's SYN acknowledged by
    /// the tester, and the tester's by the target.
    pub fn synchronized(&self) -> bool {
        let acked_target = match (self.target_isn, self.tester_ack) {
            (Some(isn), Some(ack)) => ack == isn.wrapping_add(1) || after(ack, isn.wrapping_add(1)),
            _ => false,
        };
        acked_target && self.target_ack.is_some()
    }

    /// The state the tester's side of the exchange implies, for a probe after the case's last
    /// silence: a synchronized connection whose FINs are where the tester saw them go.
    /// `None` when the exchange leaves it open: an RST went either way (acceptable or not is
    /// the target's call), the target's SYN was not acknowledged yet, or both FINs are
    /// acknowledged (TIME-WAIT, or CLOSED after LAST-ACK).
    pub fn presumed(&self) -> Option<Expectation> {
        if self.tester_reset || self.target_reset {
            return None;
        }
        let isn = self.target_isn?;
        let acked_syn = self.tester_ack.is_some_and(|a| after(a, isn));
        if !acked_syn {
            return None;
        }
        let fin_received = match self.tester_fin {
            Some(fin) => self.target_ack.is_some_and(|a| after(a, fin)),
            None => false,
        };
        let fin_sent = self.target_fin.is_some();
        let fin_acked = self
            .target_fin
            .is_some_and(|fin| self.tester_ack.is_some_and(|a| after(a, fin)));
        if fin_received && fin_acked {
            return None;
        }
        Some(Expectation::Synchronized {
            fin_received,
            fin_sent,
            handshake: false,
        })
    }

    /// The variable as an absolute wire value (inside `abs(...)`).
    pub fn var_abs(&self, v: Var) -> Option<i64> {
        let rel = self.var(v)?;
        Some(match v.space() {
            Space::Tester => i64::from(self.tester_isn.wrapping_add(rel as u32)),
            Space::Target => i64::from(self.target_isn?.wrapping_add(rel as u32)),
            Space::None => rel,
        })
    }

    /// The absolute base of a sequence space (0 for non-sequence fields, and for the target's
    /// space until its SYN is seen).
    pub fn base(&self, space: Space) -> u32 {
        match space {
            Space::Tester => self.tester_isn,
            Space::Target => self.target_isn.unwrap_or(0),
            Space::None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::spec::{ChecksumSpec, IpFields};

    fn sent(seq: u32, flags: u16, len: usize) -> PacketSpec {
        PacketSpec {
            src: "192.0.2.3:5000".parse().expect("addr"),
            dst: "192.0.2.1:80".parse().expect("addr"),
            seq,
            ack: 0,
            flags,
            window: 65535,
            urgent: 0,
            reserved: 0,
            options: Vec::new(),
            payload: vec![0; len],
            data_offset: None,
            checksum: ChecksumSpec::Correct,
            ip: IpFields::default(),
            raw: None,
        }
    }

    #[test]
    fn tester_nxt_follows_what_the_tester_sent_not_what_the_target_acknowledged() {
        let isn = 1000;
        let mut c = ConnView::new(isn, false);
        c.on_sent(&sent(isn, SYN, 0));
        assert_eq!(c.var(Var::TesterNxt), Some(1));
        c.on_sent(&sent(isn + 1, ACK, 10));
        c.on_sent(&sent(isn + 11, FIN | ACK, 0));
        // Nothing acknowledged yet: rcv.nxt falls back to what was sent, as tester.nxt does.
        assert_eq!(c.var(Var::TesterNxt), Some(12));
        // The target acknowledges the data but not the FIN: rcv.nxt stops at the FIN.
        c.target_ack = Some(isn + 11);
        assert_eq!(c.var(Var::RcvNxt), Some(11));
        assert_eq!(c.var(Var::TesterNxt), Some(12));
    }

    #[test]
    fn the_fast_open_cookie_is_learned_from_a_syn_ack_and_outlives_the_incarnation() {
        let syn_ack = |seq: u32, options: Vec<ObservedOption>| Observed {
            src: "192.0.2.1:80".parse().expect("addr"),
            dst: "192.0.2.3:5000".parse().expect("addr"),
            ttl: 64,
            tos: 0,
            seq,
            ack: 1001,
            flags: SYN | ACK,
            window: 65535,
            urgent: 0,
            reserved: 0,
            data_offset: 5,
            options,
            padding: Vec::new(),
            payload: Vec::new(),
            checksum_ok: true,
            raw: Vec::new(),
        };
        let mut c = ConnView::new(1000, false);
        c.on_sent(&sent(1000, SYN, 0));
        // An empty option (a request echoed) is no cookie.
        let empty = ObservedOption::Unknown {
            kind: FAST_OPEN_KIND,
            data: Vec::new(),
        };
        c.on_received(&syn_ack(7, vec![empty]));
        assert_eq!(c.target_fastopen_cookie, None);
        let cookie = ObservedOption::Unknown {
            kind: FAST_OPEN_KIND,
            data: vec![1, 2, 3, 4, 5, 6, 7, 8],
        };
        c.on_received(&syn_ack(7, vec![ObservedOption::Mss(1460), cookie]));
        assert_eq!(c.target_fastopen_cookie, Some(vec![1, 2, 3, 4, 5, 6, 7, 8]));
        // A later SYN-ACK (a new ISN) without a cookie keeps the one learned.
        c.on_received(&syn_ack(9000, Vec::new()));
        assert_eq!(
            c.target_fastopen_cookie.as_deref().map(<[u8]>::len),
            Some(8)
        );
    }
}
