//! Shared helpers of the wire tests: sample packets and checksum repair.
#![allow(dead_code)]

use reference_stack::wire::checksum;
use reference_stack::wire::{
    IpRepr, Ipv4Repr, Ipv6ExtHeader, Ipv6Repr, SackBlock, Segment, SeqNumber, TcpFlags, TcpOption,
    TcpRepr,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const V4_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const V4_DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
pub const V6_SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const V6_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// A SYN+ACK-ish segment with the usual options (MSS, SACK-permitted, timestamps, NOP, WS):
/// 20 option octets, so the TCP header is 40 octets.
pub fn sample_tcp() -> TcpRepr {
    TcpRepr {
        src_port: 49152,
        dst_port: 80,
        seq: SeqNumber(0x0102_0304),
        ack: SeqNumber(0x0a0b_0c0d),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65535,
        options: vec![
            TcpOption::Mss(1460),
            TcpOption::SackPermitted,
            TcpOption::Timestamps { tsval: 7, tsecr: 9 },
            TcpOption::NoOperation,
            TcpOption::WindowScale(7),
        ],
        payload: b"hello".to_vec(),
        ..TcpRepr::default()
    }
}

pub fn sample_v4() -> Segment {
    Segment {
        ip: IpRepr::V4(Ipv4Repr::new(V4_SRC, V4_DST)),
        tcp: sample_tcp(),
    }
}

/// IPv6 with one 8-octet destination options header (two PadN-ish zero octets) before TCP.
pub fn sample_v6() -> Segment {
    let mut ip = Ipv6Repr::new(V6_SRC, V6_DST);
    ip.ext_headers.push(Ipv6ExtHeader {
        kind: 60,
        bytes: vec![6, 0, 1, 4, 0, 0, 0, 0],
    });
    Segment {
        ip: IpRepr::V6(ip),
        tcp: sample_tcp(),
    }
}

/// Where the TCP segment starts and ends in `bytes`, read loosely from the IP header (no
/// validation, clamped to the buffer).
pub fn tcp_range(bytes: &[u8]) -> Option<(IpAddr, IpAddr, usize, usize)> {
    match bytes.first()? >> 4 {
        4 if bytes.len() >= 20 => {
            let hl = usize::from(bytes[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]])).min(bytes.len());
            let src = IpAddr::from(<[u8; 4]>::try_from(&bytes[12..16]).ok()?);
            let dst = IpAddr::from(<[u8; 4]>::try_from(&bytes[16..20]).ok()?);
            (hl <= total).then_some((src, dst, hl, total))
        }
        6 if bytes.len() >= 40 => {
            let (ip, _) = Ipv6Repr::parse(bytes).ok()?;
            let end = (40 + usize::from(u16::from_be_bytes([bytes[4], bytes[5]]))).min(bytes.len());
            Some((ip.src.into(), ip.dst.into(), ip.header_len(), end))
        }
        _ => None,
    }
}

/// Recomputes the IPv4 header checksum and the TCP checksum wherever the lengths allow, so a
/// mutation is judged on what it changed rather than on the checksum it broke.
pub fn fix_checksums(bytes: &mut [u8]) {
    if bytes.first().map(|b| b >> 4) == Some(4) && bytes.len() >= 20 {
        let hl = usize::from(bytes[0] & 0x0f) * 4;
        if (20..=bytes.len()).contains(&hl) {
            let sum = checksum::ipv4_header_checksum(&bytes[..hl]);
            bytes[10..12].copy_from_slice(&sum.to_be_bytes());
        }
    }
    if let Some((src, dst, start, end)) = tcp_range(bytes) {
        if end >= start + 18 {
            let sum = checksum::tcp_checksum(src, dst, &bytes[start..end]);
            bytes[start + 16..start + 18].copy_from_slice(&sum.to_be_bytes());
        }
    }
}

/// The IP packet's own length (Total Length, or 40 + Payload Length), clamped to the buffer.
pub fn ip_len(bytes: &[u8]) -> usize {
    match bytes.first().map(|b| b >> 4) {
        Some(4) if bytes.len() >= 4 => {
            usize::from(u16::from_be_bytes([bytes[2], bytes[3]])).min(bytes.len())
        }
        Some(6) if bytes.len() >= 6 => {
            (40 + usize::from(u16::from_be_bytes([bytes[4], bytes[5]]))).min(bytes.len())
        }
        _ => bytes.len(),
    }
}

/// A valid IPv4 packet (`sample_v4` addresses and fields) whose TCP option area is `area`
/// verbatim (zero-filled to 4 octets), with correct lengths and checksums.
pub fn v4_with_option_area(area: &[u8]) -> Vec<u8> {
    let mut tcp = sample_tcp();
    tcp.options.clear();
    let mut bytes = Segment {
        ip: IpRepr::V4(Ipv4Repr::new(V4_SRC, V4_DST)),
        tcp,
    }
    .emit();
    let fill = area.len().next_multiple_of(4);
    let mut opts = area.to_vec();
    opts.resize(fill, 0);
    bytes.splice(40..40, opts);
    bytes[32] = (((20 + fill) / 4) as u8) << 4 | (bytes[32] & 0x0f);
    let total = bytes.len() as u16;
    bytes[2..4].copy_from_slice(&total.to_be_bytes());
    fix_checksums(&mut bytes);
    bytes
}

pub fn sack(blocks: &[(u32, u32)]) -> TcpOption {
    TcpOption::Sack(
        blocks
            .iter()
            .map(|&(l, r)| SackBlock {
                left: SeqNumber(l),
                right: SeqNumber(r),
            })
            .collect(),
    )
}
