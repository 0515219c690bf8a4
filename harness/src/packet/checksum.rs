//! The Internet checksum (RFC 1071) and the TCP pseudo-headers (RFC 9293 3.1, RFC 8200 8.1).
//! Written here rather than shared with the reference stack, so a bug there cannot hide in both.

use std::net::IpAddr;

/// TCP's protocol number in the pseudo-header.
pub(crate) const PROTO_TCP: u8 = 6;

/// One's-complement sum of `data` as big-endian 16-bit words (an odd last octet is padded
/// with zero), added to `acc`, not yet folded.
pub(crate) fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([pair[0], pair[1]])));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
    }
    acc
}

/// Fold the carries and complement: the value to put in a checksum field.
pub(crate) fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The sum of the TCP pseudo-header for a segment of `tcp_len` octets. IPv4 (RFC 9293 3.1):
/// src, dst, zero, PTCL, TCP length. IPv6 (RFC 8200 8.1): src, dst, upper-layer length (32
/// bits), three zero octets, next header. Mixed families use the IPv4-mapped IPv6 form.
pub(crate) fn pseudo_header(src: IpAddr, dst: IpAddr, tcp_len: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = u16::try_from(tcp_len).unwrap_or(u16::MAX);
            let mut acc = sum(0, &s.octets());
            acc = sum(acc, &d.octets());
            acc = sum(acc, &[0, PROTO_TCP]);
            sum(acc, &len.to_be_bytes())
        }
        _ => {
            let len = u32::try_from(tcp_len).unwrap_or(u32::MAX);
            let mut acc = sum(0, &to_v6(src).octets());
            acc = sum(acc, &to_v6(dst).octets());
            acc = sum(acc, &len.to_be_bytes());
            sum(acc, &[0, 0, 0, PROTO_TCP])
        }
    }
}

pub(crate) fn to_v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    #[test]
    fn rfc1071_example() {
        let acc = sum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(finish(acc), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(finish(sum(0, &[0xab])), finish(sum(0, &[0xab, 0x00])));
    }
}
