//! The Internet checksum (RFC 1071) and the TCP pseudo-headers (RFC 9293 3.1, RFC 8200 8.1).
//!
//! Every function here returns the value to put in (or compare with) a checksum field: the
//! one's complement of the one's complement sum. Summing a buffer whose checksum field already
//! holds a correct value gives 0 from [`checksum`]. Parsers compare with the value computed over
//! the other octets instead, so that only one of the two encodings of zero (0x0000, 0xffff) is
//! accepted and `emit(parse(x)) == x` stays exact.

use super::ip::PROTO_TCP;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The one's complement sum of `data` as 16-bit big-endian words (an odd last octet is padded
/// with zero, RFC 1071 4.1), not yet folded. Adding partial sums is associative as long as every
/// part but the last has even length.
pub fn sum(data: &[u8]) -> u64 {
    // RFC 1071 2(B): byte-order independence lets us add wide words and fold once at the end.
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_be_bytes(w);
        acc = acc.wrapping_add(w >> 32).wrapping_add(w & 0xffff_ffff);
    }
    let mut pairs = chunks.remainder().chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a wide sum into 16 bits (end-around carry).
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum of `data` (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// The IPv4 header checksum (RFC 791 3.1) of `header`, skipping the checksum field itself
/// (octets 10..12), so the result is what the field must hold. Short headers are summed as
/// far as they go.
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let before = header.get(..10).unwrap_or(header);
    let after = header.get(12..).unwrap_or(&[]);
    !fold(sum(before) + sum(after))
}

/// The sum of the TCP pseudo-header for `tcp_len` octets of TCP: IPv4 (RFC 9293 3.1: source,
/// destination, zero, PTCL, TCP length) or IPv6 (RFC 8200 8.1: source, destination, 32-bit
/// upper-layer length, 3 zero octets, next header).
///
/// Mixed families cannot occur on the wire; if given, the IPv4 address is taken as its
/// IPv4-mapped IPv6 address and the IPv6 pseudo-header is used (no panic, documented result).
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, tcp_len: usize) -> u64 {
    let len = tcp_len as u64;
    let proto = u64::from(PROTO_TCP);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum(&s.octets()) + sum(&d.octets()) + proto + (len & 0xffff) + (len >> 16)
        }
        (s, d) => {
            let s = to_v6(s);
            let d = to_v6(d);
            sum(&s.octets()) + sum(&d.octets()) + proto + (len & 0xffff) + (len >> 16)
        }
    }
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => Ipv4Addr::to_ipv6_mapped(&v4),
        IpAddr::V6(v6) => v6,
    }
}

/// The TCP checksum (RFC 9293 3.1) of the segment `tcp_bytes` (header and payload), skipping the
/// checksum field (octets 16..18): the value the field must hold.
pub fn tcp_checksum(src: IpAddr, dst: IpAddr, tcp_bytes: &[u8]) -> u16 {
    let before = tcp_bytes.get(..16).unwrap_or(tcp_bytes);
    let after = tcp_bytes.get(18..).unwrap_or(&[]);
    !fold(pseudo_header_sum(src, dst, tcp_bytes.len()) + sum(before) + sum(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 3: 0001 f203 f4f5 f6f7 sums to ddf2 (folded), checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(checksum(&[0x12, 0x34, 0x56]), !0x6834);
    }

    #[test]
    fn wide_and_narrow_sums_agree() {
        let data: Vec<u8> = (0..=255u8).chain(0..=100).collect();
        let narrow: u64 = data
            .chunks(2)
            .map(|c| u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0)))
            .sum();
        for start in 0..8 {
            let s = &data[start * 2..];
            let n: u64 = s
                .chunks(2)
                .map(|c| u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0)))
                .sum();
            assert_eq!(fold(sum(s)), fold(n));
        }
        assert_eq!(fold(sum(&data)), fold(narrow));
    }

    #[test]
    fn ipv4_header_known_answer() {
        // The classic example header (Wikipedia "IPv4 header checksum"): checksum b861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_header_checksum(&hdr), 0xb861);
        assert_eq!(checksum(&hdr), 0);
    }
}
