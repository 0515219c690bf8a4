//! The TCP header (RFC 9293 3.1) and its options (3.2, RFC 7323, RFC 2018).

use super::{SeqNumber, WireError};
use core::fmt;
#[allow(unused_imports)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
