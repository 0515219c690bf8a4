//! Option negotiation on the SYN exchange and the options we put on segments: MSS (RFC 9293
//! 3.7.1, MUST-14..16, MUST-65..67), window scale and timestamps (RFC 7323), SACK (RFC 2018).

use super::{Negotiated, Tcb};
use crate::config::Config;
use crate::time::{Duration, Instant};
use crate::tuple::FourTuple;
use crate::wire::{SackBlock, TcpOption, TcpRepr};

/// RFC 7323 2.3: a shift above 14 is used as 14.
pub(super) const MAX_WSCALE: u8 = 14;

/// MUST-15: the send MSS when the peer sent no MSS option.
const DEFAULT_MSS_V4: u16 = 536;
const DEFAULT_MSS_V6: u16 = 1220;

/// The options a peer's SYN carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SynOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: Option<(u32, u32)>,
}

/// Parses the options we use; unknown ones are ignored (MUST-6).
pub(super) fn syn_options(seg: &TcpRepr) -> SynOptions {
    let mut out = SynOptions::default();
    for opt in &seg.options {
        match *opt {
            TcpOption::Mss(mss) => out.mss = Some(mss),
            TcpOption::WindowScale(shift) => out.wscale = Some(shift),
            TcpOption::SackPermitted => out.sack_permitted = true,
            TcpOption::Timestamps { tsval, tsecr } => out.timestamps = Some((tsval, tsecr)),
            _ => {}
        }
    }
    out
}

/// The timestamps option of a segment, if any.
pub(super) fn timestamps(seg: &TcpRepr) -> Option<(u32, u32)> {
    seg.options.iter().find_map(|o| match *o {
        TcpOption::Timestamps { tsval, tsecr } => Some((tsval, tsecr)),
        _ => None,
    })
}

/// The SACK blocks of a segment (empty if none).
pub(super) fn sack_blocks(seg: &TcpRepr) -> &[SackBlock] {
    seg.options
        .iter()
        .find_map(|o| match o {
            TcpOption::Sack(blocks) => Some(blocks.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

/// The User Timeout Option's kind (RFC 5482 3).
pub const UTO_KIND: u8 = 28;

/// The user timeout a segment's User Timeout Option advertises (RFC 5482 3): kind 28, length 4,
/// then the granularity bit G (1: minutes, 0: seconds) and a 15-bit value. An option of another
/// length is not one we can read, and is ignored like an unknown option (MUST-6).
pub(super) fn user_timeout(seg: &TcpRepr) -> Option<Duration> {
    seg.options.iter().find_map(|o| match o {
        TcpOption::Unknown { kind, data } if *kind == UTO_KIND => match data[..] {
            [hi, lo] => {
                let value = u64::from(u16::from_be_bytes([hi & 0x7f, lo]));
                let unit = if hi & 0x80 != 0 { 60 } else { 1 };
                Some(Duration::from_secs(value * unit))
            }
            _ => None,
        },
        _ => None,
    })
}

fn ip_header_len(tuple: &FourTuple) -> usize {
    if tuple.remote.is_ipv4() {
        20
    } else {
        40
    }
}

/// What we would use before the peer's SYN is seen.
pub(super) fn initial(config: &Config, tuple: &FourTuple) -> Negotiated {
    // MUST-67: our MSS is the largest IP datagram minus the fixed IP and TCP headers.
    let our_mss = config
        .mtu
        .saturating_sub(ip_header_len(tuple) + 20)
        .min(usize::from(u16::MAX));
    let peer_mss = if tuple.remote.is_ipv4() {
        DEFAULT_MSS_V4
    } else {
        DEFAULT_MSS_V6
    };
    Negotiated {
        our_mss: our_mss as u16,
        peer_mss,
        wscale: false,
        snd_wscale: 0,
        rcv_wscale: 0,
        timestamps: false,
        sack: false,
    }
}

/// TSval: a millisecond clock (RFC 7323 5.4: between 1 ms and 1 s per tick).
pub(super) fn ts_clock(now: Instant) -> u32 {
    now.total_millis() as u32
}

impl Tcb {
    /// Negotiates from the peer's SYN (LI-4, SS-6, SS-7): IRS, RCV.NXT, SND.WND, options.
    /// Text and FIN on the SYN are kept for after ESTABLISHED (RFC 9293 3.10.7.2 step 3).
    pub(super) fn take_peer_syn(&mut self, syn: &TcpRepr) {
        let opts = syn_options(syn);
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1u32;
        // RCV.WND: what our SYN (or the SYN-ACK about to go) offers, unscaled.
        let syn_window = self.recv_buf.free().min(usize::from(u16::MAX));
        self.rcv_adv = self.rcv_nxt + syn_window;
        self.last_ack_sent = self.rcv_nxt;
        if let Some(mss) = opts.mss {
            self.opts.peer_mss = mss;
        }
        // RFC 7323 2.2: scaling only when both sides sent the option.
        match (self.offer_wscale, opts.wscale) {
            (Some(ours), Some(theirs)) => {
                self.opts.wscale = true;
                self.opts.rcv_wscale = ours;
                self.opts.snd_wscale = theirs.min(MAX_WSCALE);
            }
            _ => {
                self.opts.wscale = false;
                self.opts.rcv_wscale = 0;
                self.opts.snd_wscale = 0;
            }
        }
        self.opts.timestamps = self.offer_timestamps && opts.timestamps.is_some();
        if self.opts.timestamps {
            self.ts_recent = opts.timestamps.map(|(tsval, _)| tsval);
        }
        self.opts.sack = self.offer_sack && opts.sack_permitted;
        // The window in a SYN is never scaled (RFC 7323 2.2).
        self.snd_wnd = u32::from(syn.window);
        self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        self.snd_wl1 = syn.seq;
        self.snd_wl2 = syn.ack;
        self.cwnd = self.initial_cwnd();
        self.take_user_timeout(syn);
    }

    /// RFC 5482 3.1: a User Timeout Option from the peer, on any segment the connection
    /// accepts, sets the user timeout (R2 for data) to
    /// `USER_TIMEOUT = min(U_LIMIT, max(ADV_UTO, REMOTE_UTO, L_LIMIT))`, unless the application
    /// set it (CHANGEABLE false) or the option is off. The advice can lengthen the timeout but,
    /// through ADV_UTO and L_LIMIT, never shorten it below what this end stands for.
    pub(super) fn take_user_timeout(&mut self, seg: &TcpRepr) {
        let (Some(limits), true) = (self.uto, self.r2_changeable) else {
            return;
        };
        if let Some(remote) = user_timeout(seg) {
            self.r2 = limits.upper.min(self.adv_uto.max(remote).max(limits.lower));
        }
    }

    /// Queue the text and FIN of a SYN for after ESTABLISHED (LI-4, SS-7).
    pub(super) fn queue_syn_text(&mut self, syn: &TcpRepr) {
        if !syn.payload.is_empty() || syn.flags.fin() {
            self.syn_queued = Some((syn.payload.clone(), syn.flags.fin()));
        }
    }

    /// Options of our SYN or SYN-ACK. MSS only here (MUST-65). On a SYN-ACK only what the peer
    /// offered is echoed. Each option is NOP-padded to a 4-octet boundary.
    pub(super) fn syn_option_list(&self, now: Instant) -> Vec<TcpOption> {
        let syn_ack = self.state != crate::state::State::SynSent;
        let mut out = vec![TcpOption::Mss(self.opts.our_mss)];
        let wscale = if syn_ack {
            self.opts.wscale.then_some(self.opts.rcv_wscale)
        } else {
            self.offer_wscale
        };
        if let Some(shift) = wscale {
            out.push(TcpOption::NoOperation);
            out.push(TcpOption::WindowScale(shift));
        }
        if (syn_ack && self.opts.sack) || (!syn_ack && self.offer_sack) {
            out.push(TcpOption::NoOperation);
            out.push(TcpOption::NoOperation);
            out.push(TcpOption::SackPermitted);
        }
        if (syn_ack && self.opts.timestamps) || (!syn_ack && self.offer_timestamps) {
            out.push(TcpOption::NoOperation);
            out.push(TcpOption::NoOperation);
            out.push(TcpOption::Timestamps {
                tsval: ts_clock(now),
                tsecr: if syn_ack {
                    self.ts_recent.unwrap_or(0)
                } else {
                    0
                },
            });
        }
        if let (true, Some(cookie)) = (syn_ack, self.fastopen_offer) {
            // RFC 7413 4.1.2: the cookie for the client's address; 10 octets, which fit
            // after the 24 above within the 40 of an option area.
            out.push(TcpOption::Unknown {
                kind: crate::fastopen::KIND,
                data: cookie.to_vec(),
            });
        } else if !syn_ack {
            let used = out.iter().map(TcpOption::wire_len).sum();
            out.extend(self.fastopen_syn_option(used));
        }
        out
    }

    /// Options of a segment after the handshake: timestamps, and SACK blocks on segments
    /// without data (so that they never push a full segment over the MSS). A pending D-SACK
    /// block goes first (RFC 2883 4), then the RFC 2018 blocks, most recent first.
    pub(super) fn data_option_list(
        &self,
        now: Instant,
        has_data: bool,
        dsack: Option<SackBlock>,
    ) -> Vec<TcpOption> {
        let mut out = Vec::new();
        if self.opts.timestamps {
            out.push(TcpOption::NoOperation);
            out.push(TcpOption::NoOperation);
            out.push(TcpOption::Timestamps {
                tsval: ts_clock(now),
                tsecr: self.ts_recent.unwrap_or(0),
            });
        }
        if self.opts.sack && !has_data && (self.recv_buf.ooo_len() > 0 || dsack.is_some()) {
            // 40 octets of option space: 4 blocks, 3 with timestamps (RFC 2018 3).
            let max = if self.opts.timestamps { 3 } else { 4 };
            let mut blocks: Vec<SackBlock> = dsack.into_iter().collect();
            let room = max - blocks.len();
            blocks.extend(self.recv_buf.sack_blocks(self.rcv_nxt, room));
            if !blocks.is_empty() {
                out.push(TcpOption::NoOperation);
                out.push(TcpOption::NoOperation);
                out.push(TcpOption::Sack(blocks));
            }
        }
        out
    }

    /// Eff.snd.MSS (MUST-16, RFC 9293 3.7.1): min(SendMSS + 20, MMS_S) - TCP header - options.
    /// MMS_S is the path MTU less the IP header (RFC 1191, RFC 8201; RFC 9293 3.7.2).
    pub(super) fn snd_mss(&self) -> u16 {
        let mms_s = (usize::from(self.opts.our_mss) + 20)
            .min(self.path_mtu().saturating_sub(ip_header_len(&self.tuple)));
        let ts = if self.opts.timestamps { 12 } else { 0 };
        let mss = (usize::from(self.opts.peer_mss) + 20)
            .min(mms_s)
            .saturating_sub(20 + ts);
        mss.clamp(1, usize::from(u16::MAX)) as u16
    }

    /// RFC 5681 3.1 initial window.
    pub(super) fn initial_cwnd(&self) -> u32 {
        let smss = u32::from(self.snd_mss());
        if smss > 2190 {
            2 * smss
        } else if smss > 1095 {
            3 * smss
        } else {
            4 * smss
        }
    }
}
