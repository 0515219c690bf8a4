//! Typed parse errors: every way a packet can be malformed has its own variant, carrying the
//! offending values so a report can say exactly what was wrong.

use core::fmt;

/// What was wrong with a packet (parse) or with a repr that cannot be put on the wire (emit).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    // --- IP, either version ---
    /// Zero octets: no version nibble to look at.
    Empty,
    /// The first nibble is neither 4 nor 6 (or not the version the caller asked for).
    BadIpVersion { version: u8 },
    /// The transport protocol (IPv4 Protocol, or the last IPv6 Next Header) is not TCP (6).
    NotTcp { protocol: u8 },

    // --- IPv4 (RFC 791 3.1) ---
    /// Fewer than the 20 octets of a minimal IPv4 header.
    Ipv4Truncated { len: usize },
    /// IHL below 5 words.
    Ipv4IhlTooSmall { ihl: u8 },
    /// IHL * 4 octets do not fit in the buffer.
    Ipv4IhlPastEnd { ihl: u8, len: usize },
    /// Total Length is shorter than the header that IHL announces.
    Ipv4TotalLenBelowHeader { total_len: u16, header_len: usize },
    /// Total Length is longer than the buffer.
    Ipv4TotalLenPastEnd { total_len: u16, len: usize },
    /// The header checksum does not match (`expected` is what it should have been).
    BadIpv4Checksum { found: u16, expected: u16 },
    /// MF set or a non-zero fragment offset: we do no reassembly.
    Ipv4Fragment { more_fragments: bool, offset: u16 },

    // --- IPv6 (RFC 8200) ---
    /// Fewer than the 40 octets of the fixed IPv6 header.
    Ipv6Truncated { len: usize },
    /// Payload Length runs past the buffer.
    Ipv6PayloadLenPastEnd { payload_len: u16, len: usize },
    /// An extension header (hop-by-hop, routing, destination options) is cut off by the end
    /// of the payload. `offset` is where it starts, counted from the start of the payload.
    Ipv6ExtHeaderTruncated { kind: u8, offset: usize },
    /// A hop-by-hop options header that does not immediately follow the IPv6 header
    /// (RFC 8200 4.1).
    Ipv6HopByHopNotFirst { offset: usize },
    /// A fragment header (44): we do no reassembly.
    Ipv6Fragment,

    // --- TCP header (RFC 9293 3.1) ---
    /// Fewer than the 20 octets of a minimal TCP header.
    TcpTruncated { len: usize },
    /// Data Offset below 5 words.
    TcpDataOffsetTooSmall { data_offset: u8 },
    /// Data Offset * 4 octets do not fit in the segment.
    TcpDataOffsetPastEnd { data_offset: u8, len: usize },
    /// The checksum over pseudo-header and segment does not match (MUST-2, MUST-3).
    BadTcpChecksum { found: u16, expected: u16 },

    // --- TCP options (RFC 9293 3.2, RFC 7323, RFC 2018) ---
    /// A multi-octet option kind is the last octet of the option area: no length octet.
    TcpOptionNoLength { kind: u8 },
    /// A length octet of 0 or 1 (it counts kind and length, so 2 is the minimum).
    TcpOptionLengthTooSmall { kind: u8, len: u8 },
    /// The option's length runs past the end of the header (Data Offset).
    TcpOptionPastEnd { kind: u8, len: u8, available: usize },
    /// A known option with the wrong length: MSS (4), window scale (3), SACK-permitted (2),
    /// timestamps (10).
    TcpOptionBadLength { kind: u8, len: u8 },
    /// A SACK option whose length is not 2 + 8n with n >= 1 (RFC 2018 3).
    TcpSackBadLength { len: u8 },

    // --- emit ---
    /// The TCP options take more than the 40 octets a header can hold.
    TcpOptionsTooLong { len: usize },
    /// The raw IPv4 options take more than 40 octets.
    Ipv4OptionsTooLong { len: usize },
    /// The IP packet would exceed what its length field can express.
    PacketTooLong { len: usize },
    /// Source and destination are not of the same address family.
    AddressFamilyMismatch,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WireError::*;
        match *self {
            Empty => write!(f, "empty packet"),
            BadIpVersion { version } => write!(f, "IP version {version}, expected 4 or 6"),
            NotTcp { protocol } => write!(f, "transport protocol {protocol} is not TCP (6)"),
            Ipv4Truncated { len } => {
                write!(f, "IPv4 header truncated: {len} octets, need at least 20")
            }
            Ipv4IhlTooSmall { ihl } => write!(f, "IPv4 IHL {ihl} is below the minimum of 5"),
            Ipv4IhlPastEnd { ihl, len } => write!(
                f,
                "IPv4 IHL {ihl} announces {} header octets but the packet has {len}",
                usize::from(ihl) * 4
            ),
            Ipv4TotalLenBelowHeader {
                total_len,
                header_len,
            } => write!(
                f,
                "IPv4 total length {total_len} is shorter than the {header_len}-octet header"
            ),
            Ipv4TotalLenPastEnd { total_len, len } => write!(
                f,
                "IPv4 total length {total_len} exceeds the {len} octets received"
            ),
            BadIpv4Checksum { found, expected } => write!(
                f,
                "bad IPv4 header checksum {found:#06x}, expected {expected:#06x}"
            ),
            Ipv4Fragment {
                more_fragments,
                offset,
            } => write!(
                f,
                "IPv4 fragment (MF={}, offset={offset}): reassembly not supported",
                u8::from(more_fragments)
            ),
            Ipv6Truncated { len } => {
                write!(f, "IPv6 header truncated: {len} octets, need at least 40")
            }
            Ipv6PayloadLenPastEnd { payload_len, len } => write!(
                f,
                "IPv6 payload length {payload_len} exceeds the {len} octets after the header"
            ),
            Ipv6ExtHeaderTruncated { kind, offset } => write!(
                f,
                "IPv6 extension header {kind} at payload offset {offset} is truncated"
            ),
            Ipv6HopByHopNotFirst { offset } => write!(
                f,
                "IPv6 hop-by-hop header at payload offset {offset}, allowed only first"
            ),
            Ipv6Fragment => write!(f, "IPv6 fragment header: reassembly not supported"),
            TcpTruncated { len } => {
                write!(f, "TCP header truncated: {len} octets, need at least 20")
            }
            TcpDataOffsetTooSmall { data_offset } => {
                write!(f, "TCP data offset {data_offset} is below the minimum of 5")
            }
            TcpDataOffsetPastEnd { data_offset, len } => write!(
                f,
                "TCP data offset {data_offset} announces {} header octets but the segment has {len}",
                usize::from(data_offset) * 4
            ),
            BadTcpChecksum { found, expected } => write!(
                f,
                "bad TCP checksum {found:#06x}, expected {expected:#06x}"
            ),
            TcpOptionNoLength { kind } => write!(
                f,
                "TCP option kind {kind} is the last octet of the header: no length octet"
            ),
            TcpOptionLengthTooSmall { kind, len } => {
                write!(f, "TCP option kind {kind} has length {len}, minimum is 2")
            }
            TcpOptionPastEnd {
                kind,
                len,
                available,
            } => write!(
                f,
                "TCP option kind {kind} length {len} runs past the header end ({available} octets left)"
            ),
            TcpOptionBadLength { kind, len } => {
                let want = match kind {
                    2 => 4,
                    3 => 3,
                    4 => 2,
                    _ => 10,
                };
                write!(
                    f,
                    "TCP option kind {kind} has length {len}, must be {want}"
                )
            }
            TcpSackBadLength { len } => {
                write!(f, "TCP SACK option length {len} is not 2 + 8n with n >= 1")
            }
            TcpOptionsTooLong { len } => {
                write!(f, "TCP options need {len} octets, at most 40 fit")
            }
            Ipv4OptionsTooLong { len } => {
                write!(f, "IPv4 options need {len} octets, at most 40 fit")
            }
            PacketTooLong { len } => {
                write!(f, "packet of {len} octets does not fit the IP length field")
            }
            AddressFamilyMismatch => {
                write!(f, "source and destination are of different address families")
            }
        }
    }
}

impl std::error::Error for WireError {}
