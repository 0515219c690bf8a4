//! Decode what a target emitted: the IP header, the TCP header, the options (with our own
//! walker, see [`walk_options`]) and whether the TCP checksum verifies (MUST-2).
//!
//! The observer is lenient where a lying header still leaves a decodable segment: a data
//! offset below 5 is read as a bare 20-octet header, one pointing past the segment makes
//! every octet after the fixed header an option and leaves no payload, and octets beyond
//! the IP length (link padding) are ignored. It never panics.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::build::TCP_HEADER_LEN;
use super::checksum::{self, PROTO_TCP};
use super::spec::{Observed, ObservedOption};

/// Why bytes could not be observed as a TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObserveError {
    /// Fewer octets than the named header needs.
    Truncated(&'static str),
    /// The IP version nibble is neither 4 nor 6.
    UnknownVersion(u8),
    /// The IP header is inconsistent (IHL below 5, an extension header past the packet).
    BadIpHeader(&'static str),
    /// The packet carries another protocol (the IPv4 protocol / final IPv6 next header).
    NotTcp(u8),
    /// A fragment: the observer does not reassemble.
    Fragment,
}

impl fmt::Display for ObserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObserveError::Truncated(what) => write!(f, "truncated {what}"),
            ObserveError::UnknownVersion(v) => write!(f, "unknown IP version {v}"),
            ObserveError::BadIpHeader(why) => write!(f, "bad IP header: {why}"),
            ObserveError::NotTcp(proto) => write!(f, "not TCP (protocol {proto})"),
            ObserveError::Fragment => f.write_str("IP fragment"),
        }
    }
}

impl std::error::Error for ObserveError {}

/// The IP layer as far as TCP needs it.
struct IpView<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    tos: u8,
    tcp: &'a [u8],
}

/// Decode one IP packet carrying TCP.
pub fn observe(bytes: &[u8]) -> Result<Observed, ObserveError> {
    let first = *bytes.first().ok_or(ObserveError::Truncated("IP header"))?;
    let ip = match first >> 4 {
        4 => ipv4(bytes)?,
        6 => ipv6(bytes)?,
        v => return Err(ObserveError::UnknownVersion(v)),
    };
    let tcp = ip.tcp;
    let Some(fixed) = tcp.get(..TCP_HEADER_LEN) else {
        return Err(ObserveError::Truncated("TCP header"));
    };
    let data_offset = fixed[12] >> 4;
    let header_len = (usize::from(data_offset) * 4).clamp(TCP_HEADER_LEN, tcp.len());
    let options = tcp.get(TCP_HEADER_LEN..header_len).unwrap_or(&[]);
    let payload = tcp.get(header_len..).unwrap_or(&[]);

    // RFC 9293 3.1: the checksum covers the pseudo-header, the header and the data; a
    // segment verifies when the one's-complement sum over all of it is all ones.
    let acc = checksum::pseudo_header(ip.src, ip.dst, tcp.len());
    let checksum_ok = checksum::finish(checksum::sum(acc, tcp)) == 0;

    Ok(Observed {
        src: SocketAddr::new(ip.src, be16(fixed, 0)),
        dst: SocketAddr::new(ip.dst, be16(fixed, 2)),
        ttl: ip.ttl,
        tos: ip.tos,
        seq: be32(fixed, 4),
        ack: be32(fixed, 8),
        flags: u16::from(fixed[12] & 0x01) << 8 | u16::from(fixed[13]),
        window: be16(fixed, 14),
        urgent: be16(fixed, 18),
        reserved: (fixed[12] >> 1) & 0x07,
        data_offset,
        options: walk_options(options),
        padding: padding_after_eol(options).to_vec(),
        payload: payload.to_vec(),
        checksum_ok,
        raw: bytes.to_vec(),
    })
}

fn ipv4(bytes: &[u8]) -> Result<IpView<'_>, ObserveError> {
    let Some(fixed) = bytes.get(..20) else {
        return Err(ObserveError::Truncated("IPv4 header"));
    };
    let header_len = usize::from(fixed[0] & 0x0f) * 4;
    if header_len < 20 {
        return Err(ObserveError::BadIpHeader("IHL below 5"));
    }
    if header_len > bytes.len() {
        return Err(ObserveError::Truncated("IPv4 options"));
    }
    let frag = be16(fixed, 6);
    if frag & 0x2000 != 0 || frag & 0x1fff != 0 {
        return Err(ObserveError::Fragment);
    }
    if fixed[9] != PROTO_TCP {
        return Err(ObserveError::NotTcp(fixed[9]));
    }
    // Total length bounds the packet (octets past it are link padding); a total length past
    // the buffer is read as "as much as arrived".
    let end = usize::from(be16(fixed, 2)).clamp(header_len, bytes.len());
    Ok(IpView {
        src: IpAddr::V4(Ipv4Addr::new(fixed[12], fixed[13], fixed[14], fixed[15])),
        dst: IpAddr::V4(Ipv4Addr::new(fixed[16], fixed[17], fixed[18], fixed[19])),
        ttl: fixed[8],
        tos: fixed[1],
        tcp: bytes.get(header_len..end).unwrap_or(&[]),
    })
}

fn ipv6(bytes: &[u8]) -> Result<IpView<'_>, ObserveError> {
    let Some(fixed) = bytes.get(..40) else {
        return Err(ObserveError::Truncated("IPv6 header"));
    };
    let first = be32(fixed, 0);
    let payload_len = usize::from(be16(fixed, 4));
    // A zero payload length (jumbogram) is read as "the rest of the buffer".
    let end = if payload_len == 0 {
        bytes.len()
    } else {
        (40 + payload_len).min(bytes.len())
    };
    let mut next = fixed[6];
    let mut at = 40;
    // RFC 8200 4: skip extension headers up to the upper-layer header.
    loop {
        let ext = bytes.get(at..end).unwrap_or(&[]);
        let len = match next {
            PROTO_TCP => break,
            // Hop-by-hop, routing, destination options: (Hdr Ext Len + 1) * 8.
            0 | 43 | 60 => match ext.get(1) {
                Some(l) => (usize::from(*l) + 1) * 8,
                None => return Err(ObserveError::Truncated("IPv6 extension header")),
            },
            44 => {
                let Some(frag) = ext.get(..8) else {
                    return Err(ObserveError::Truncated("IPv6 fragment header"));
                };
                if be16(frag, 2) != 0 {
                    return Err(ObserveError::Fragment);
                }
                8
            }
            // Authentication header: (Payload Len + 2) * 4 (RFC 4302 2.2).
            51 => match ext.get(1) {
                Some(l) => (usize::from(*l) + 2) * 4,
                None => return Err(ObserveError::Truncated("IPv6 extension header")),
            },
            other => return Err(ObserveError::NotTcp(other)),
        };
        if ext.len() < len {
            return Err(ObserveError::BadIpHeader(
                "extension header past the packet",
            ));
        }
        next = ext.first().copied().unwrap_or(0);
        at += len;
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&fixed[8..24]);
    dst.copy_from_slice(&fixed[24..40]);
    Ok(IpView {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        ttl: fixed[7],
        tos: ((first >> 20) & 0xff) as u8,
        tcp: bytes.get(at..end).unwrap_or(&[]),
    })
}

/// Walk a TCP option area (RFC 9293 3.2). Kinds 0 and 1 are one octet; every other option
/// is kind, length, data. The walk stops at End of Option List (the rest is padding) and at
/// the first option whose length octet is missing, below 2 or past the area: that option
/// and everything after it is one `Malformed`. A known kind with the wrong length (MSS not
/// 4, window scale not 3, SACK-permitted not 2, timestamps not 10, SACK not 2 + 8n with
/// n >= 1) is `Malformed` too, and the walk continues after it.
pub fn walk_options(area: &[u8]) -> Vec<ObservedOption> {
    let mut out = Vec::new();
    let mut rest = area;
    while let Some((&kind, tail)) = rest.split_first() {
        match kind {
            0 => {
                out.push(ObservedOption::Eol);
                break;
            }
            1 => {
                out.push(ObservedOption::Nop);
                rest = tail;
                continue;
            }
            _ => {}
        }
        let len = tail.first().map_or(0, |l| usize::from(*l));
        let Some(whole) = rest.get(..len).filter(|_| len >= 2) else {
            out.push(ObservedOption::Malformed {
                kind,
                bytes: rest.to_vec(),
            });
            break;
        };
        let data = whole.get(2..).unwrap_or(&[]);
        out.push(
            decode_option(kind, data).unwrap_or_else(|| ObservedOption::Malformed {
                kind,
                bytes: whole.to_vec(),
            }),
        );
        rest = rest.get(len..).unwrap_or(&[]);
    }
    out
}

/// The octets after the first End of Option List of an option area (found by the same walk as
/// [`walk_options`]); empty if the walk meets no EOL.
pub fn padding_after_eol(area: &[u8]) -> &[u8] {
    let mut rest = area;
    while let Some((&kind, tail)) = rest.split_first() {
        match kind {
            0 => return tail,
            1 => rest = tail,
            _ => {
                let len = tail.first().map_or(0, |l| usize::from(*l));
                match rest.get(len..) {
                    Some(after) if len >= 2 => rest = after,
                    _ => return &[],
                }
            }
        }
    }
    &[]
}

/// The options without a trailing End of Option List: zero padding after the last option
/// reads as EOL (RFC 9293 3.2), which a matcher comparing option lists usually ignores.
pub fn without_eol(options: &[ObservedOption]) -> &[ObservedOption] {
    match options.split_last() {
        Some((ObservedOption::Eol, rest)) => rest,
        _ => options,
    }
}

/// A kind/data pair as a known option, `None` when the length is wrong for the kind.
fn decode_option(kind: u8, data: &[u8]) -> Option<ObservedOption> {
    Some(match (kind, data.len()) {
        (2, 2) => ObservedOption::Mss(be16(data, 0)),
        (3, 1) => ObservedOption::WindowScale(data[0]),
        (4, 0) => ObservedOption::SackPermitted,
        // RFC 2018 3: 8n octets of blocks, n >= 1.
        (5, n) if n >= 8 && n % 8 == 0 => ObservedOption::Sack(
            data.chunks_exact(8)
                .map(|b| (be32(b, 0), be32(b, 4)))
                .collect(),
        ),
        (8, 8) => ObservedOption::Timestamps {
            tsval: be32(data, 0),
            tsecr: be32(data, 4),
        },
        (2..=5 | 8, _) => return None,
        _ => ObservedOption::Unknown {
            kind,
            data: data.to_vec(),
        },
    })
}

/// Big-endian u16 at `at`, 0 if out of range (callers check lengths first).
fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}
