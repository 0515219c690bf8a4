//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers carrying TCP, and the whole [`Segment`].

use super::checksum;
use super::{ChecksumCheck, TcpRepr, WireError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const PROTO_TCP: u8 = 6;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// DSCP (6 bits) and ECN (2 bits): the old TOS octet.
    pub dscp_ecn: u8,
    pub ident: u16,
    /// The reserved ("evil") flag bit, kept for round-trips.
    pub reserved_flag: bool,
    pub dont_frag: bool,
    pub ttl: u8,
    /// Raw IP options (IHL > 5), kept verbatim, including padding.
    pub options: Vec<u8>,
}

/// An IPv6 extension header before TCP (hop-by-hop, routing, destination options), kept raw.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv6ExtHeader {
    /// The header type (the Next Header value that announced it): 0, 43 or 60.
    pub kind: u8,
    /// The whole extension header, including its own next-header and length octets.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub hop_limit: u8,
    pub ext_headers: Vec<Ipv6ExtHeader>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IpRepr {
    V4(Ipv4Repr),
    V6(Ipv6Repr),
}

/// One IP packet carrying one TCP segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    pub ip: IpRepr,
    pub tcp: TcpRepr,
}

impl Segment {
    /// A segment from `src` to `dst`: IPv4 ([`Ipv4Repr::new`]) or IPv6 ([`Ipv6Repr::new`]) by
    /// the addresses' family, the TCP ports taken from the socket addresses (overriding those in
    /// `tcp`). Mixed families are [`WireError::AddressFamilyMismatch`]: no mapping is guessed.
    pub fn new(src: SocketAddr, dst: SocketAddr, mut tcp: TcpRepr) -> Result<Segment, WireError> {
        let ip = IpRepr::new(src.ip(), dst.ip())?;
        tcp.src_port = src.port();
        tcp.dst_port = dst.port();
        Ok(Segment { ip, tcp })
    }

    /// Parse one IP packet (version from the first nibble) carrying TCP; checksums verified.
    pub fn parse(bytes: &[u8]) -> Result<Segment, WireError> {
        Segment::parse_with(bytes, ChecksumCheck::Verify)
    }

    /// Parse one IP packet carrying TCP. `check` applies to the IPv4 header checksum and the TCP
    /// checksum alike. Octets after the IP packet's own length (Ethernet padding) are ignored.
    pub fn parse_with(bytes: &[u8], check: ChecksumCheck) -> Result<Segment, WireError> {
        let first = *bytes.first().ok_or(WireError::Empty)?;
        let (ip, tcp_bytes) = match first >> 4 {
            4 => {
                let (ip, payload) = Ipv4Repr::parse(bytes, check)?;
                (IpRepr::V4(ip), payload)
            }
            6 => {
                let (ip, payload) = Ipv6Repr::parse(bytes)?;
                (IpRepr::V6(ip), payload)
            }
            version => return Err(WireError::BadIpVersion { version }),
        };
        let tcp = TcpRepr::parse(tcp_bytes, ip.src(), ip.dst(), check)?;
        Ok(Segment { ip, tcp })
    }

    /// The packet's length as `emit` writes it.
    pub fn total_len(&self) -> usize {
        self.ip.header_len() + self.tcp.header_len() + self.tcp.payload.len()
    }

    /// Emit the whole packet: lengths and both checksums computed.
    ///
    /// Never fails: TCP options beyond 40 octets are dropped as [`TcpRepr::emit_into`] says, IP
    /// options/extension headers are normalised as [`Ipv4Repr::emit_into`] and
    /// [`Ipv6Repr::emit_into`] say, and a packet too long for the 16-bit length field gets that
    /// length modulo 2^16 (which no parser accepts). Use [`Segment::try_emit`] to get errors.
    pub fn emit(&self) -> Vec<u8> {
        let tcp_len = self.tcp.header_len() + self.tcp.payload.len();
        let mut buf = Vec::with_capacity(self.ip.header_len() + tcp_len);
        match &self.ip {
            IpRepr::V4(ip) => ip.emit_into(tcp_len, &mut buf),
            IpRepr::V6(ip) => ip.emit_into(tcp_len, &mut buf),
        }
        self.tcp.emit_into(self.ip.src(), self.ip.dst(), &mut buf);
        buf
    }

    /// Like [`Segment::emit`], but options that do not fit and packets too long for the length
    /// field are errors instead of being normalised.
    pub fn try_emit(&self) -> Result<Vec<u8>, WireError> {
        let len = self.tcp.options_len();
        if len > super::tcp::TCP_MAX_OPTIONS_LEN {
            return Err(WireError::TcpOptionsTooLong { len });
        }
        let (limit, counted) = match &self.ip {
            IpRepr::V4(ip) => {
                let len = ip.options.len();
                if len > IPV4_MAX_OPTIONS_LEN {
                    return Err(WireError::Ipv4OptionsTooLong { len });
                }
                // Total Length counts the IPv4 header.
                (usize::from(u16::MAX), self.total_len())
            }
            // Payload Length counts everything after the fixed header.
            IpRepr::V6(_) => (usize::from(u16::MAX), self.total_len() - IPV6_HEADER_LEN),
        };
        if counted > limit {
            return Err(WireError::PacketTooLong {
                len: self.total_len(),
            });
        }
        Ok(self.emit())
    }

    pub fn src(&self) -> SocketAddr {
        SocketAddr::new(self.ip.src(), self.tcp.src_port)
    }

    pub fn dst(&self) -> SocketAddr {
        SocketAddr::new(self.ip.dst(), self.tcp.dst_port)
    }
}

/// The fixed IPv4 header (RFC 791 3.1).
pub const IPV4_HEADER_LEN: usize = 20;
/// IHL is 4 bits: at most 60 - 20 octets of options.
pub const IPV4_MAX_OPTIONS_LEN: usize = 40;
/// The fixed IPv6 header (RFC 8200 3).
pub const IPV6_HEADER_LEN: usize = 40;

/// RFC 1108 2.1: the Basic Security Option.
const IPV4_OPT_BASIC_SECURITY: u8 = 130;

impl Ipv4Repr {
    /// Defaults for a packet we send: TTL 64, DF set (we do no fragmentation), ident 0,
    /// DSCP/ECN 0, no options.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Ipv4Repr {
        Ipv4Repr {
            src,
            dst,
            dscp_ecn: 0,
            ident: 0,
            reserved_flag: false,
            dont_frag: true,
            ttl: 64,
            options: Vec::new(),
        }
    }

    /// The header length `emit_into` writes: 20 plus the options, zero-filled to 4 octets and
    /// cut at 40.
    pub fn header_len(&self) -> usize {
        IPV4_HEADER_LEN
            + self
                .options
                .len()
                .next_multiple_of(4)
                .min(IPV4_MAX_OPTIONS_LEN)
    }

    /// Parses an IPv4 header (RFC 791 3.1) of a packet carrying TCP and returns it with the TCP
    /// segment: the octets from IHL*4 to Total Length (anything after Total Length, such as
    /// Ethernet padding, is ignored).
    pub fn parse(bytes: &[u8], check: ChecksumCheck) -> Result<(Ipv4Repr, &[u8]), WireError> {
        let version = bytes.first().map_or(0, |b| b >> 4);
        if version != 4 {
            return Err(if bytes.is_empty() {
                WireError::Empty
            } else {
                WireError::BadIpVersion { version }
            });
        }
        let h: &[u8; IPV4_HEADER_LEN] = bytes
            .get(..IPV4_HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(WireError::Ipv4Truncated { len: bytes.len() })?;
        let ihl = h[0] & 0x0f;
        if ihl < 5 {
            return Err(WireError::Ipv4IhlTooSmall { ihl });
        }
        let header_len = usize::from(ihl) * 4;
        let header = bytes.get(..header_len).ok_or(WireError::Ipv4IhlPastEnd {
            ihl,
            len: bytes.len(),
        })?;
        let total_len = u16::from_be_bytes([h[2], h[3]]);
        if usize::from(total_len) < header_len {
            return Err(WireError::Ipv4TotalLenBelowHeader {
                total_len,
                header_len,
            });
        }
        let payload = bytes.get(header_len..usize::from(total_len)).ok_or(
            WireError::Ipv4TotalLenPastEnd {
                total_len,
                len: bytes.len(),
            },
        )?;
        if check == ChecksumCheck::Verify {
            let found = u16::from_be_bytes([h[10], h[11]]);
            let expected = checksum::ipv4_header_checksum(header);
            if found != expected {
                return Err(WireError::BadIpv4Checksum { found, expected });
            }
        }
        let flags_frag = u16::from_be_bytes([h[6], h[7]]);
        let more_fragments = flags_frag & 0x2000 != 0;
        let offset = flags_frag & 0x1fff;
        if more_fragments || offset != 0 {
            return Err(WireError::Ipv4Fragment {
                more_fragments,
                offset,
            });
        }
        if h[9] != PROTO_TCP {
            return Err(WireError::NotTcp { protocol: h[9] });
        }
        let ip = Ipv4Repr {
            src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
            dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
            dscp_ecn: h[1],
            ident: u16::from_be_bytes([h[4], h[5]]),
            reserved_flag: flags_frag & 0x8000 != 0,
            dont_frag: flags_frag & 0x4000 != 0,
            ttl: h[8],
            options: header.get(IPV4_HEADER_LEN..).unwrap_or(&[]).to_vec(),
        };
        Ok((ip, payload))
    }

    /// Appends the header for `payload_len` octets of TCP, with its checksum. Options are
    /// written raw, zero-filled to a 4-octet boundary (RFC 791 3.1) and cut at 40 octets.
    /// Fragmentation fields are always zero: we never fragment.
    pub fn emit_into(&self, payload_len: usize, buf: &mut Vec<u8>) {
        let header_len = self.header_len();
        let start = buf.len();
        let total_len = (header_len + payload_len) as u16; // mod 2^16; try_emit rejects
        let mut flags: u8 = 0;
        if self.reserved_flag {
            flags |= 0x80;
        }
        if self.dont_frag {
            flags |= 0x40;
        }
        buf.push(0x40 | (header_len / 4) as u8);
        buf.push(self.dscp_ecn);
        buf.extend_from_slice(&total_len.to_be_bytes());
        buf.extend_from_slice(&self.ident.to_be_bytes());
        buf.extend_from_slice(&[flags, 0, self.ttl, PROTO_TCP, 0, 0]);
        buf.extend_from_slice(&self.src.octets());
        buf.extend_from_slice(&self.dst.octets());
        let opts = self
            .options
            .get(..IPV4_MAX_OPTIONS_LEN)
            .unwrap_or(&self.options);
        buf.extend_from_slice(opts);
        buf.resize(start + header_len, 0);
        let sum = checksum::ipv4_header_checksum(buf.get(start..).unwrap_or(&[]));
        if let Some(field) = buf.get_mut(start + 10..start + 12) {
            field.copy_from_slice(&sum.to_be_bytes());
        }
    }

    /// The classification level octet of an RFC 1108 Basic Security Option (type 130) in the
    /// raw options, for the RFC 9293 3.10.7 security/compartment checks (SS-5, SC-1, SC-2).
    /// `None` when absent, or when the option list is malformed before it is found.
    pub fn security_level(&self) -> Option<u8> {
        // RFC 791 3.1: type 0 ends the list, type 1 is one octet, all others carry a length.
        let mut opts = self.options.as_slice();
        loop {
            match opts {
                [] | [0, ..] => return None,
                [1, rest @ ..] => opts = rest,
                [IPV4_OPT_BASIC_SECURITY, len, level, ..] if *len >= 3 => return Some(*level),
                [_, len, ..] if *len >= 2 => opts = opts.get(usize::from(*len)..)?,
                _ => return None,
            }
        }
    }
}

impl Ipv6Repr {
    /// Defaults for a packet we send: hop limit 64, traffic class and flow label 0, no
    /// extension headers.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr) -> Ipv6Repr {
        Ipv6Repr {
            src,
            dst,
            traffic_class: 0,
            flow_label: 0,
            hop_limit: 64,
            ext_headers: Vec::new(),
        }
    }

    /// The header length `emit_into` writes: 40 plus every extension header as normalised.
    pub fn header_len(&self) -> usize {
        IPV6_HEADER_LEN
            + self
                .ext_headers
                .iter()
                .map(|e| ext_header_len(e.bytes.len()))
                .sum::<usize>()
    }

    /// Parses the IPv6 header (RFC 8200 3) and walks the extension headers (RFC 8200 4):
    /// hop-by-hop (0, first only), routing (43) and destination options (60) are kept raw; a
    /// fragment header (44) is an error (no reassembly); any other Next Header but TCP is
    /// [`WireError::NotTcp`]. Returns the TCP segment; octets after Payload Length are ignored.
    ///
    /// The TCP pseudo-header then uses the Destination Address field; a routing header with
    /// segments left would call for the final destination (RFC 8200 8.1), which we do not
    /// compute.
    pub fn parse(bytes: &[u8]) -> Result<(Ipv6Repr, &[u8]), WireError> {
        let version = bytes.first().map_or(0, |b| b >> 4);
        if version != 6 {
            return Err(if bytes.is_empty() {
                WireError::Empty
            } else {
                WireError::BadIpVersion { version }
            });
        }
        let h: &[u8; IPV6_HEADER_LEN] = bytes
            .get(..IPV6_HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(WireError::Ipv6Truncated { len: bytes.len() })?;
        let payload_len = u16::from_be_bytes([h[4], h[5]]);
        let mut payload = bytes
            .get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + usize::from(payload_len))
            .ok_or(WireError::Ipv6PayloadLenPastEnd {
                payload_len,
                len: bytes.len() - IPV6_HEADER_LEN,
            })?;
        let mut ext_headers = Vec::new();
        let mut next = h[6];
        let mut offset = 0;
        loop {
            match next {
                PROTO_TCP => break,
                IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS => {
                    if next == IPV6_HOP_BY_HOP && offset != 0 {
                        return Err(WireError::Ipv6HopByHopNotFirst { offset });
                    }
                    let truncated = WireError::Ipv6ExtHeaderTruncated { kind: next, offset };
                    // RFC 8200 4.3-4.6: Hdr Ext Len is in 8-octet units, not counting the first 8.
                    let len = match payload {
                        [_, units, ..] => (usize::from(*units) + 1) * 8,
                        _ => return Err(truncated),
                    };
                    let (ext, rest) = payload.split_at_checked(len).ok_or(truncated)?;
                    let kind = next;
                    next = ext.first().copied().unwrap_or(PROTO_TCP);
                    ext_headers.push(Ipv6ExtHeader {
                        kind,
                        bytes: ext.to_vec(),
                    });
                    payload = rest;
                    offset += len;
                }
                IPV6_FRAGMENT => return Err(WireError::Ipv6Fragment),
                protocol => return Err(WireError::NotTcp { protocol }),
            }
        }
        let ip = Ipv6Repr {
            src: Ipv6Addr::from(octets16(&h[8..24])),
            dst: Ipv6Addr::from(octets16(&h[24..40])),
            traffic_class: h[0] << 4 | h[1] >> 4,
            flow_label: u32::from_be_bytes([0, h[1] & 0x0f, h[2], h[3]]),
            hop_limit: h[7],
            ext_headers,
        };
        Ok((ip, payload))
    }

    /// Appends the fixed header and the extension headers for `payload_len` octets of TCP.
    ///
    /// Extension headers are normalised so the chain is always well formed: each is zero-filled
    /// to a multiple of 8 octets (at least 8, at most 2048), its Next Header octet is set to the
    /// following header's kind (6 after the last) and its Hdr Ext Len octet to its length. The
    /// kinds are written as given, so a harness can chain a fragment header on purpose.
    pub fn emit_into(&self, payload_len: usize, buf: &mut Vec<u8>) {
        let ext_len = self.header_len() - IPV6_HEADER_LEN;
        let payload_len = (ext_len + payload_len) as u16; // mod 2^16; try_emit rejects
        let first = self.ext_headers.first().map_or(PROTO_TCP, |e| e.kind);
        buf.push(0x60 | self.traffic_class >> 4);
        buf.push(self.traffic_class << 4 | ((self.flow_label >> 16) & 0x0f) as u8);
        buf.extend_from_slice(&(self.flow_label as u16).to_be_bytes());
        buf.extend_from_slice(&payload_len.to_be_bytes());
        buf.push(first);
        buf.push(self.hop_limit);
        buf.extend_from_slice(&self.src.octets());
        buf.extend_from_slice(&self.dst.octets());
        for (i, ext) in self.ext_headers.iter().enumerate() {
            let next = self.ext_headers.get(i + 1).map_or(PROTO_TCP, |e| e.kind);
            let len = ext_header_len(ext.bytes.len());
            let start = buf.len();
            buf.push(next);
            buf.push((len / 8 - 1) as u8);
            let body = ext.bytes.get(2..).unwrap_or(&[]);
            buf.extend_from_slice(body.get(..len - 2).unwrap_or(body));
            buf.resize(start + len, 0);
        }
    }
}

const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DEST_OPTS: u8 = 60;

/// The length an extension header of `raw` octets is emitted with.
fn ext_header_len(raw: usize) -> usize {
    raw.next_multiple_of(8).clamp(8, 2048)
}

fn octets16(b: &[u8]) -> [u8; 16] {
    let mut o = [0u8; 16];
    if let Some(b) = b.get(..16) {
        o.copy_from_slice(b);
    }
    o
}

impl IpRepr {
    /// [`Ipv4Repr::new`] or [`Ipv6Repr::new`] by the addresses' family; mixed families are
    /// [`WireError::AddressFamilyMismatch`].
    pub fn new(src: IpAddr, dst: IpAddr) -> Result<IpRepr, WireError> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Ok(IpRepr::V4(Ipv4Repr::new(s, d))),
            (IpAddr::V6(s), IpAddr::V6(d)) => Ok(IpRepr::V6(Ipv6Repr::new(s, d))),
            _ => Err(WireError::AddressFamilyMismatch),
        }
    }

    /// The header length (including IPv4 options or IPv6 extension headers) emit writes.
    pub fn header_len(&self) -> usize {
        match self {
            IpRepr::V4(r) => r.header_len(),
            IpRepr::V6(r) => r.header_len(),
        }
    }

    pub fn src(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.src),
            IpRepr::V6(r) => IpAddr::V6(r.src),
        }
    }

    pub fn dst(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.dst),
            IpRepr::V6(r) => IpAddr::V6(r.dst),
        }
    }

    /// The ECN field: the two low bits of the IPv4 TOS octet or the IPv6 traffic class
    /// (RFC 3168 5), one of the [`ecn`] codepoints.
    pub fn ecn(&self) -> u8 {
        match self {
            IpRepr::V4(r) => r.dscp_ecn & 0b11,
            IpRepr::V6(r) => r.traffic_class & 0b11,
        }
    }
}

/// The codepoints of the IP header's ECN field (RFC 3168 5).
pub mod ecn {
    /// Not ECN-capable transport.
    pub const NOT_ECT: u8 = 0b00;
    /// ECN-capable transport, ECT(1).
    pub const ECT1: u8 = 0b01;
    /// ECN-capable transport, ECT(0): what an RFC 3168 sender sets.
    pub const ECT0: u8 = 0b10;
    /// Congestion experienced, set by a router instead of dropping.
    pub const CE: u8 = 0b11;
}
