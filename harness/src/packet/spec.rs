//! The concrete packet the tester sends (every value resolved, nothing symbolic) and the packet
//! it observed from the target. The case model resolves its expressions into a [`PacketSpec`];
//! the builder turns that into bytes; the observer turns the target's bytes into [`Observed`].

use std::net::SocketAddr;

/// A TCP option to put on the wire. `Raw` carries arbitrary bytes (malformed lengths, options
/// cut short, ...) copied verbatim into the option area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionSpec {
    Eol,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// Absolute (left, right) edges.
    Sack(Vec<(u32, u32)>),
    Timestamps {
        tsval: u32,
        tsecr: u32,
    },
    /// kind, then a length octet = 2 + data.len(), then data.
    Unknown {
        kind: u8,
        data: Vec<u8>,
    },
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumSpec {
    /// Compute the right checksum.
    #[default]
    Correct,
    /// The right checksum with its bits flipped (always wrong).
    Bad,
    /// Exactly this value.
    Value(u16),
}

/// IP header fields a case may set. `None` means the builder's default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpFields {
    /// IPv4 TTL / IPv6 hop limit (default 64).
    pub ttl: Option<u8>,
    /// IPv4 TOS / IPv6 traffic class (default 0).
    pub tos: Option<u8>,
    /// IPv4 DF bit (default set).
    pub dont_frag: Option<bool>,
    /// IPv4 identification (default: a per-run counter).
    pub ident: Option<u16>,
    /// IPv6 flow label (default 0).
    pub flow_label: Option<u32>,
    /// Raw IPv4 options (e.g. the RFC 1108 security option), padded by the builder.
    pub ipv4_options: Vec<u8>,
}

/// One segment to inject, fully resolved. Addresses decide the IP version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketSpec {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Absolute sequence and acknowledgment numbers.
    pub seq: u32,
    pub ack: u32,
    /// Flag bits as in the header (FIN=0x01 ... CWR=0x80, AE=0x100).
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
    /// The three reserved header bits.
    pub reserved: u8,
    pub options: Vec<OptionSpec>,
    pub payload: Vec<u8>,
    /// Override the data offset field (in 32-bit words), to lie about the header length.
    pub data_offset: Option<u8>,
    pub checksum: ChecksumSpec,
    pub ip: IpFields,
    /// If set, these bytes are sent as the whole IP packet and every other field is ignored.
    pub raw: Option<Vec<u8>>,
}

/// A TCP option as the observer found it. The observer walks options itself (not with the
/// reference stack's parser) so that a bug there cannot hide a bug in a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedOption {
    Eol,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(Vec<(u32, u32)>),
    Timestamps {
        tsval: u32,
        tsecr: u32,
    },
    Unknown {
        kind: u8,
        data: Vec<u8>,
    },
    /// An option whose length octet is missing, < 2, wrong for its kind, or past the header.
    Malformed {
        kind: u8,
        bytes: Vec<u8>,
    },
}

/// A packet the target emitted, decoded. Only IP packets carrying TCP are observed; anything
/// else the target emits (ICMP, ...) is reported as `Observed` with `tcp_ok = false` only if a
/// case asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ttl: u8,
    pub tos: u8,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
    pub reserved: u8,
    pub data_offset: u8,
    pub options: Vec<ObservedOption>,
    /// The option area's octets after End of Option List (RFC 9293 3.1: "The padding is
    /// composed of zeros", MUST-69); empty when the list has no EOL.
    pub padding: Vec<u8>,
    pub payload: Vec<u8>,
    /// The TCP checksum verified against the pseudo-header (MUST-2).
    pub checksum_ok: bool,
    /// The whole IP packet as received.
    pub raw: Vec<u8>,
}
