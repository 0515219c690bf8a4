//! The TCP header (RFC 9293 3.1) and its options (3.2, RFC 7323, RFC 2018).

use super::checksum;
use super::{SeqNumber, WireError};
use core::fmt;
use std::net::IpAddr;

/// The control bits, including ECE/CWR (RFC 3168) and AE (RFC 9768, formerly NS).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x001);
    pub const SYN: TcpFlags = TcpFlags(0x002);
    pub const RST: TcpFlags = TcpFlags(0x004);
    pub const PSH: TcpFlags = TcpFlags(0x008);
    pub const ACK: TcpFlags = TcpFlags(0x010);
    pub const URG: TcpFlags = TcpFlags(0x020);
    pub const ECE: TcpFlags = TcpFlags(0x040);
    pub const CWR: TcpFlags = TcpFlags(0x080);
    pub const AE: TcpFlags = TcpFlags(0x100);
    pub const NONE: TcpFlags = TcpFlags(0);

    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
    pub fn syn(self) -> bool {
        self.contains(TcpFlags::SYN)
    }
    pub fn ack(self) -> bool {
        self.contains(TcpFlags::ACK)
    }
    pub fn rst(self) -> bool {
        self.contains(TcpFlags::RST)
    }
    pub fn fin(self) -> bool {
        self.contains(TcpFlags::FIN)
    }
    pub fn psh(self) -> bool {
        self.contains(TcpFlags::PSH)
    }
    pub fn urg(self) -> bool {
        self.contains(TcpFlags::URG)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl core::ops::BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl core::ops::Not for TcpFlags {
    type Output = TcpFlags;
    fn not(self) -> TcpFlags {
        TcpFlags(!self.0 & 0x1ff)
    }
}

/// packetdrill/tcpdump letters: `S`, `SA` (SYN+ACK), `FA`, `R`, `RA`, `PA`, `.` for none.
/// Order: S F R P A U E C N(AE).
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LETTERS: [(TcpFlags, char); 9] = [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, 'A'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'C'),
            (TcpFlags::AE, 'N'),
        ];
        let mut any = false;
        for (flag, c) in LETTERS {
            if self.contains(flag) {
                write!(f, "{c}")?;
                any = true;
            }
        }
        if !any {
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({self})")
    }
}

/// One SACK block (RFC 2018 3): the left edge and the sequence number just after the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SackBlock {
    pub left: SeqNumber,
    pub right: SeqNumber,
}

/// A TCP option as it appears on the wire. Unknown kinds are kept with their bytes (MUST-6:
/// ignored by the stack, but never lost by the parser).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TcpOption {
    /// Kind 0. Ends the list; what follows in the option area is [`TcpRepr::padding`].
    EndOfList,
    /// Kind 1.
    NoOperation,
    /// Kind 2, length 4 (RFC 9293 3.2).
    Mss(u16),
    /// Kind 3, length 3 (RFC 7323 2.2). The shift as sent, even if > 14.
    WindowScale(u8),
    /// Kind 4, length 2 (RFC 2018 2).
    SackPermitted,
    /// Kind 5, length 2 + 8n (RFC 2018 3).
    Sack(Vec<SackBlock>),
    /// Kind 8, length 10 (RFC 7323 3.2).
    Timestamps { tsval: u32, tsecr: u32 },
    /// Any other kind, with the data after the length octet.
    Unknown { kind: u8, data: Vec<u8> },
}

/// How `parse` treats the TCP checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumCheck {
    /// Reject a wrong checksum with [`WireError::BadTcpChecksum`] (MUST-3).
    Verify,
    /// Accept any checksum (for a harness that wants to see what a target sent even if wrong).
    Ignore,
}

/// A parsed TCP segment: header fields, options, payload.
///
/// `Default` is an all-zero header with no options and no payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    /// The acknowledgment field as on the wire, meaningful only when ACK is set.
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    /// The three reserved bits between the data offset and AE (must be zero on send; kept).
    pub reserved: u8,
    pub window: u16,
    pub urgent: u16,
    pub options: Vec<TcpOption>,
    /// Octets of the option area after an End-of-Option-List (zero padding per MUST-69 when we
    /// send; whatever the peer put there when we parse). Empty when there is no EOL.
    pub padding: Vec<u8>,
    pub payload: Vec<u8>,
}

/// The fixed part of the TCP header (RFC 9293 3.1).
pub const TCP_HEADER_LEN: usize = 20;
/// The most option octets a header can hold: Data Offset is 4 bits, so 60 - 20.
pub const TCP_MAX_OPTIONS_LEN: usize = 40;

const KIND_EOL: u8 = 0;
const KIND_NOP: u8 = 1;
const KIND_MSS: u8 = 2;
const KIND_WS: u8 = 3;
const KIND_SACK_PERMITTED: u8 = 4;
const KIND_SACK: u8 = 5;
const KIND_TIMESTAMPS: u8 = 8;

impl TcpOption {
    /// The kind octet.
    pub fn kind(&self) -> u8 {
        match self {
            TcpOption::EndOfList => KIND_EOL,
            TcpOption::NoOperation => KIND_NOP,
            TcpOption::Mss(_) => KIND_MSS,
            TcpOption::WindowScale(_) => KIND_WS,
            TcpOption::SackPermitted => KIND_SACK_PERMITTED,
            TcpOption::Sack(_) => KIND_SACK,
            TcpOption::Timestamps { .. } => KIND_TIMESTAMPS,
            TcpOption::Unknown { kind, .. } => *kind,
        }
    }

    /// Octets this option takes on the wire (kind, length and data).
    pub fn wire_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(blocks) => 2 + 8 * blocks.len(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Appends the option. The length octet is `wire_len()` modulo 256; callers keep options
    /// within 40 octets, so it never wraps in practice. An `Unknown` with a known kind is written
    /// as given, which is how a harness sends a deliberately malformed MSS or SACK.
    fn emit_into(&self, buf: &mut Vec<u8>) {
        buf.push(self.kind());
        if let TcpOption::EndOfList | TcpOption::NoOperation = self {
            return;
        }
        buf.push(self.wire_len() as u8);
        match self {
            TcpOption::Mss(mss) => buf.extend_from_slice(&mss.to_be_bytes()),
            TcpOption::WindowScale(shift) => buf.push(*shift),
            TcpOption::Sack(blocks) => {
                for b in blocks {
                    buf.extend_from_slice(&b.left.0.to_be_bytes());
                    buf.extend_from_slice(&b.right.0.to_be_bytes());
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                buf.extend_from_slice(&tsval.to_be_bytes());
                buf.extend_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { data, .. } => buf.extend_from_slice(data),
            TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::SackPermitted => {}
        }
    }
}

fn be16(hi: u8, lo: u8) -> u16 {
    u16::from_be_bytes([hi, lo])
}

fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Parses the option area (RFC 9293 3.2). Options may start at any octet (MUST-64: no alignment
/// is assumed) and may appear in any segment (MUST-5). A multi-octet option's length counts its
/// kind and length octets; a length that is too small or runs past the header is an error, never
/// a guess (MUST-7: the receiver must be prepared for an illegal option length; here it is
/// reported so the stack can drop the segment). Every kind but EOL and NOP must have a length
/// octet (MUST-68). Everything after EOL goes to `padding` verbatim: EOL ends the list (RFC 9293
/// 3.2) and the rest of the area is padding, zeros from a conforming sender (MUST-69).
fn parse_options(
    mut area: &[u8],
    options: &mut Vec<TcpOption>,
    padding: &mut Vec<u8>,
) -> Result<(), WireError> {
    while let Some((&kind, rest)) = area.split_first() {
        match kind {
            KIND_EOL => {
                options.push(TcpOption::EndOfList);
                padding.extend_from_slice(rest);
                return Ok(());
            }
            KIND_NOP => {
                options.push(TcpOption::NoOperation);
                area = rest;
                continue;
            }
            _ => {}
        }
        let len = *rest.first().ok_or(WireError::TcpOptionNoLength { kind })?;
        if len < 2 {
            return Err(WireError::TcpOptionLengthTooSmall { kind, len });
        }
        let Some(opt) = area.get(..usize::from(len)) else {
            return Err(WireError::TcpOptionPastEnd {
                kind,
                len,
                available: area.len(),
            });
        };
        let data = opt.get(2..).unwrap_or(&[]);
        let bad_len = WireError::TcpOptionBadLength { kind, len };
        let option = match kind {
            KIND_MSS => match data {
                [a, b] => TcpOption::Mss(be16(*a, *b)),
                _ => return Err(bad_len),
            },
            KIND_WS => match data {
                [shift] => TcpOption::WindowScale(*shift),
                _ => return Err(bad_len),
            },
            KIND_SACK_PERMITTED => match data {
                [] => TcpOption::SackPermitted,
                _ => return Err(bad_len),
            },
            // RFC 2018 3: length 2 + 8n; n >= 1 (a block-less SACK says nothing).
            KIND_SACK => {
                if data.is_empty() || data.len() % 8 != 0 {
                    return Err(WireError::TcpSackBadLength { len });
                }
                let blocks = data
                    .chunks_exact(8)
                    .map(|c| SackBlock {
                        left: SeqNumber(be32(c)),
                        right: SeqNumber(be32(c.get(4..).unwrap_or(&[]))),
                    })
                    .collect();
                TcpOption::Sack(blocks)
            }
            // RFC 7323 3.2.
            KIND_TIMESTAMPS => match data {
                [_, _, _, _, _, _, _, _] => TcpOption::Timestamps {
                    tsval: be32(data),
                    tsecr: be32(data.get(4..).unwrap_or(&[])),
                },
                _ => return Err(bad_len),
            },
            // MUST-6: unknown kinds are skipped by the stack; the parser keeps them.
            _ => TcpOption::Unknown {
                kind,
                data: data.to_vec(),
            },
        };
        options.push(option);
        area = area.get(usize::from(len)..).unwrap_or(&[]);
    }
    Ok(())
}

impl TcpRepr {
    /// Parses one TCP segment (header, options, payload) that arrived from `src` to `dst`.
    ///
    /// Checks in order: 20-octet header, Data Offset, checksum (when `check` is
    /// [`ChecksumCheck::Verify`]), options. A corrupted segment therefore reports
    /// [`WireError::BadTcpChecksum`] rather than whatever its options happen to look like.
    pub fn parse(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
        check: ChecksumCheck,
    ) -> Result<TcpRepr, WireError> {
        let h: &[u8; TCP_HEADER_LEN] = bytes
            .get(..TCP_HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(WireError::TcpTruncated { len: bytes.len() })?;
        let data_offset = h[12] >> 4;
        if data_offset < 5 {
            return Err(WireError::TcpDataOffsetTooSmall { data_offset });
        }
        let header_len = usize::from(data_offset) * 4;
        let (Some(option_area), Some(payload)) = (
            bytes.get(TCP_HEADER_LEN..header_len),
            bytes.get(header_len..),
        ) else {
            return Err(WireError::TcpDataOffsetPastEnd {
                data_offset,
                len: bytes.len(),
            });
        };
        if check == ChecksumCheck::Verify {
            // RFC 9293 3.1, MUST-2/MUST-3: the checksum covers pseudo-header, header and data.
            let found = be16(h[16], h[17]);
            let expected = checksum::tcp_checksum(src, dst, bytes);
            if found != expected {
                return Err(WireError::BadTcpChecksum { found, expected });
            }
        }
        let mut options = Vec::new();
        let mut padding = Vec::new();
        parse_options(option_area, &mut options, &mut padding)?;
        Ok(TcpRepr {
            src_port: be16(h[0], h[1]),
            dst_port: be16(h[2], h[3]),
            seq: SeqNumber(be32(&h[4..8])),
            ack: SeqNumber(be32(&h[8..12])),
            // RFC 9293 3.1: Rsrvd is 4 bits; its low bit is AE (RFC 9768), kept in `flags`.
            reserved: (h[12] >> 1) & 0x7,
            flags: TcpFlags(u16::from(h[12] & 1) << 8 | u16::from(h[13])),
            window: be16(h[14], h[15]),
            urgent: be16(h[18], h[19]),
            options,
            padding,
            payload: payload.to_vec(),
        })
    }

    /// How many leading `options` and `padding` octets `emit` writes: all of them when they fit
    /// in 40 octets, otherwise the longest prefix of whole options that fits, then as much
    /// padding as still fits. Returns (options, padding octets, option-area octets unpadded).
    fn fitted_options(&self) -> (usize, usize, usize) {
        let mut used = 0;
        let mut count = 0;
        for opt in &self.options {
            let len = opt.wire_len();
            if used + len > TCP_MAX_OPTIONS_LEN {
                break;
            }
            used += len;
            count += 1;
        }
        let pad = self.padding.len().min(TCP_MAX_OPTIONS_LEN - used);
        (count, pad, used + pad)
    }

    /// Option-area octets as given (options plus padding), before the zero fill. More than 40
    /// cannot be sent; see [`TcpRepr::try_emit`].
    pub fn options_len(&self) -> usize {
        self.options.iter().map(TcpOption::wire_len).sum::<usize>() + self.padding.len()
    }

    /// The header length `emit` writes: 20 plus the option area rounded up to 4 octets.
    pub fn header_len(&self) -> usize {
        let (_, _, area) = self.fitted_options();
        TCP_HEADER_LEN + area.next_multiple_of(4)
    }

    /// SEG.LEN (RFC 9293 3.4): payload octets, plus one for SYN and one for FIN.
    pub fn seg_len(&self) -> u32 {
        let len =
            self.payload.len() + usize::from(self.flags.syn()) + usize::from(self.flags.fin());
        u32::try_from(len).unwrap_or(u32::MAX)
    }

    /// Appends the segment to `buf` with its checksum for `src` -> `dst`, or fails without
    /// touching `buf` if the options do not fit in 40 octets.
    pub fn try_emit_into(
        &self,
        src: IpAddr,
        dst: IpAddr,
        buf: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let len = self.options_len();
        if len > TCP_MAX_OPTIONS_LEN {
            return Err(WireError::TcpOptionsTooLong { len });
        }
        self.emit_into(src, dst, buf);
        Ok(())
    }

    /// Appends the segment to `buf` with its checksum for `src` -> `dst`.
    ///
    /// Options are written in order, then `padding`, then zeros up to a 4-octet boundary
    /// (RFC 9293 3.1: the header is padded with zeros; MUST-69). A zero fill after an option list
    /// without EOL reads back as EOL plus zero padding. Options beyond 40 octets are the caller's
    /// bug: they are dropped, see [`TcpRepr::fitted_options`] (use `try_emit*` to get an error).
    /// Reserved bits and flags above AE are masked to their 3 and 9 bits.
    pub fn emit_into(&self, src: IpAddr, dst: IpAddr, buf: &mut Vec<u8>) {
        let (count, pad, area) = self.fitted_options();
        let header_len = TCP_HEADER_LEN + area.next_multiple_of(4);
        let start = buf.len();
        buf.reserve(header_len + self.payload.len());
        buf.extend_from_slice(&self.src_port.to_be_bytes());
        buf.extend_from_slice(&self.dst_port.to_be_bytes());
        buf.extend_from_slice(&self.seq.0.to_be_bytes());
        buf.extend_from_slice(&self.ack.0.to_be_bytes());
        let data_offset = (header_len / 4) as u8;
        buf.push(data_offset << 4 | (self.reserved & 0x7) << 1 | ((self.flags.0 >> 8) & 1) as u8);
        buf.push(self.flags.0 as u8);
        buf.extend_from_slice(&self.window.to_be_bytes());
        buf.extend_from_slice(&[0, 0]); // checksum, filled below
        buf.extend_from_slice(&self.urgent.to_be_bytes());
        for opt in self.options.iter().take(count) {
            opt.emit_into(buf);
        }
        buf.extend_from_slice(self.padding.get(..pad).unwrap_or(&[]));
        buf.resize(start + header_len, 0);
        buf.extend_from_slice(&self.payload);
        let segment = buf.get(start..).unwrap_or(&[]);
        let sum = checksum::tcp_checksum(src, dst, segment);
        if let Some(field) = buf.get_mut(start + 16..start + 18) {
            field.copy_from_slice(&sum.to_be_bytes());
        }
    }

    /// The segment on its own, checksummed for `src` -> `dst`; see [`TcpRepr::emit_into`].
    pub fn emit(&self, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut buf = Vec::new();
        self.emit_into(src, dst, &mut buf);
        buf
    }

    /// Like [`TcpRepr::emit`], but options longer than 40 octets are an error.
    pub fn try_emit(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::new();
        self.try_emit_into(src, dst, &mut buf)?;
        Ok(buf)
    }

    /// The options that count: those before the first EOL (RFC 9293 3.2, End of Option List).
    fn live_options(&self) -> impl Iterator<Item = &TcpOption> {
        self.options
            .iter()
            .take_while(|o| !matches!(o, TcpOption::EndOfList))
    }

    /// The first MSS option's value (RFC 9293 3.7.1).
    pub fn mss(&self) -> Option<u16> {
        self.live_options().find_map(|o| match o {
            TcpOption::Mss(m) => Some(*m),
            _ => None,
        })
    }

    /// The first window scale option's shift, as sent (RFC 7323 2.2; clamping to 14 is the
    /// stack's job, 2.3).
    pub fn window_scale(&self) -> Option<u8> {
        self.live_options().find_map(|o| match o {
            TcpOption::WindowScale(s) => Some(*s),
            _ => None,
        })
    }

    /// Whether a SACK-permitted option is present (RFC 2018 2).
    pub fn sack_permitted(&self) -> bool {
        self.live_options()
            .any(|o| matches!(o, TcpOption::SackPermitted))
    }

    /// The blocks of the first SACK option, or none (RFC 2018 3).
    pub fn sack_blocks(&self) -> &[SackBlock] {
        self.live_options()
            .find_map(|o| match o {
                TcpOption::Sack(blocks) => Some(blocks.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    /// The first timestamps option as (TSval, TSecr) (RFC 7323 3.2).
    pub fn timestamps(&self) -> Option<(u32, u32)> {
        self.live_options().find_map(|o| match o {
            TcpOption::Timestamps { tsval, tsecr } => Some((*tsval, *tsecr)),
            _ => None,
        })
    }
}
