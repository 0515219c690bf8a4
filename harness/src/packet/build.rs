//! Build the bytes of one IP packet carrying TCP from a fully resolved [`PacketSpec`].
//!
//! The builder writes what the spec says, even when it lies: a data offset pointing past the
//! packet, a wrong checksum, reserved bits, a malformed raw option. It never panics. Limits
//! the wire cannot express saturate rather than fail:
//! - a TCP option area over 40 octets: the data offset saturates at 15 (60 octets) and every
//!   option octet is still written, so the receiver sees the excess as payload;
//! - IPv4 options over 40 octets: the IHL saturates at 15 likewise;
//! - lengths over 65535 (IPv4 total length, IPv6 payload length, an option's length octet)
//!   saturate at their field's maximum;
//! - a `data_offset` override over 15 keeps its low four bits.
//!
//! Both addresses IPv4 give an IPv4 packet; otherwise IPv6 (an IPv4 address on one side is
//! written in its IPv4-mapped form).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

use super::checksum::{self, PROTO_TCP};
use super::spec::{ChecksumSpec, IpFields, OptionSpec, PacketSpec};

/// Octets of a TCP header without options (RFC 9293 3.1).
pub const TCP_HEADER_LEN: usize = 20;
/// Largest header the 4-bit data offset / IHL can describe.
const MAX_HEADER_LEN: usize = 60;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const DEFAULT_TTL: u8 = 64;

/// Default IPv4 identification: a per-process counter, so consecutive packets differ.
static NEXT_IDENT: AtomicU16 = AtomicU16::new(1);

/// The whole IP packet for `spec`: `spec.raw` verbatim if set, else an IPv4 or IPv6 header
/// followed by the TCP segment.
pub fn build(spec: &PacketSpec) -> Vec<u8> {
    if let Some(raw) = &spec.raw {
        return raw.clone();
    }
    let tcp = tcp_segment(spec);
    match (spec.src.ip(), spec.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => ipv4(src, dst, &spec.ip, PROTO_TCP, &tcp),
        (src, dst) => ipv6(
            checksum::to_v6(src),
            checksum::to_v6(dst),
            &spec.ip,
            PROTO_TCP,
            &tcp,
        ),
    }
}

const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;

/// The TCP segment an ICMP error quotes: its addresses and ports, and its sequence number.
#[derive(Debug, Clone, Copy)]
pub struct Quoted {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
}

/// An ICMP error (RFC 792; ICMPv6, RFC 4443, when `reporter` is IPv6) from `reporter` to
/// `to`, of `icmp_type`/`code`, quoting a TCP segment: its IP header (of a 20-octet,
/// option-less segment) and the first 8 octets of its TCP header, all that RFC 792 promises
/// and all a TCP needs to find the connection (RFC 9293 3.9.2.2). The 4 octets after the
/// checksum carry `mtu`, the next-hop MTU (RFC 1191 4, RFC 4443 3.2), or are zero.
pub fn icmp_error(
    reporter: IpAddr,
    to: IpAddr,
    (icmp_type, code): (u8, u8),
    quoted: Quoted,
    mtu: Option<u32>,
) -> Vec<u8> {
    let Quoted {
        src: quoted_src,
        dst: quoted_dst,
        seq,
    } = quoted;
    let mut tcp8 = Vec::with_capacity(8);
    tcp8.extend_from_slice(&quoted_src.port().to_be_bytes());
    tcp8.extend_from_slice(&quoted_dst.port().to_be_bytes());
    tcp8.extend_from_slice(&seq.to_be_bytes());
    let header_only = IpFields::default();
    // The quoted packet as it left: its IP header claims a whole 20-octet TCP header.
    let mut quoted = match (quoted_src.ip(), quoted_dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(s, d, &header_only, PROTO_TCP, &[0; TCP_HEADER_LEN]),
        (s, d) => ipv6(
            checksum::to_v6(s),
            checksum::to_v6(d),
            &header_only,
            PROTO_TCP,
            &[0; TCP_HEADER_LEN],
        ),
    };
    quoted.truncate(quoted.len() - TCP_HEADER_LEN);
    quoted.extend_from_slice(&tcp8);
    let mut icmp = vec![icmp_type, code, 0, 0, 0, 0, 0, 0];
    // The next-hop MTU: ICMP's in the low 16 bits of the word after the checksum (RFC 1191 4),
    // ICMPv6's in all of it (RFC 4443 3.2).
    match (mtu, to) {
        (Some(m), IpAddr::V4(_)) => icmp[6..8].copy_from_slice(&(m as u16).to_be_bytes()),
        (Some(m), IpAddr::V6(_)) => icmp[4..8].copy_from_slice(&m.to_be_bytes()),
        (None, _) => {}
    }
    icmp.extend_from_slice(&quoted);
    match (reporter, to) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let sum = checksum::finish(checksum::sum(0, &icmp));
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            ipv4(src, dst, &header_only, PROTO_ICMP, &icmp)
        }
        (src, dst) => {
            let (src, dst) = (checksum::to_v6(src), checksum::to_v6(dst));
            // RFC 4443 2.3: the IPv6 pseudo-header (RFC 8200 8.1) with next header 58.
            let len = icmp.len() as u32;
            let mut acc = checksum::sum(0, &src.octets());
            acc = checksum::sum(acc, &dst.octets());
            acc = checksum::sum(acc, &len.to_be_bytes());
            acc = checksum::sum(acc, &[0, 0, 0, PROTO_ICMPV6]);
            let sum = checksum::finish(checksum::sum(acc, &icmp));
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            ipv6(src, dst, &header_only, PROTO_ICMPV6, &icmp)
        }
    }
}

/// The option area: options in order, zero-padded to a multiple of 4 octets (RFC 9293 3.1,
/// "The TCP header padding is used to ensure that the TCP header ends ... on a 32-bit
/// boundary. The padding is composed of zeros").
pub fn encode_options(options: &[OptionSpec]) -> Vec<u8> {
    let mut out = Vec::new();
    for option in options {
        encode_option(option, &mut out);
    }
    pad_to_words(&mut out);
    out
}

fn encode_option(option: &OptionSpec, out: &mut Vec<u8>) {
    match option {
        OptionSpec::Eol => out.push(0),
        OptionSpec::Nop => out.push(1),
        OptionSpec::Mss(mss) => {
            out.extend_from_slice(&[2, 4]);
            out.extend_from_slice(&mss.to_be_bytes());
        }
        // RFC 7323 2.2
        OptionSpec::WindowScale(shift) => out.extend_from_slice(&[3, 3, *shift]),
        // RFC 2018 2
        OptionSpec::SackPermitted => out.extend_from_slice(&[4, 2]),
        OptionSpec::Sack(blocks) => {
            out.extend_from_slice(&[5, option_len(blocks.len().saturating_mul(8))]);
            for (left, right) in blocks {
                out.extend_from_slice(&left.to_be_bytes());
                out.extend_from_slice(&right.to_be_bytes());
            }
        }
        // RFC 7323 3.2
        OptionSpec::Timestamps { tsval, tsecr } => {
            out.extend_from_slice(&[8, 10]);
            out.extend_from_slice(&tsval.to_be_bytes());
            out.extend_from_slice(&tsecr.to_be_bytes());
        }
        OptionSpec::Unknown { kind, data } => {
            out.extend_from_slice(&[*kind, option_len(data.len())]);
            out.extend_from_slice(data);
        }
        OptionSpec::Raw(bytes) => out.extend_from_slice(bytes),
    }
}

/// The length octet for an option with `data_len` data octets: 2 + data, saturating at 255.
fn option_len(data_len: usize) -> u8 {
    u8::try_from(data_len.saturating_add(2)).unwrap_or(u8::MAX)
}

fn pad_to_words(bytes: &mut Vec<u8>) {
    let padded = bytes.len().div_ceil(4) * 4;
    bytes.resize(padded, 0);
}

/// A header length in octets as a 4-bit word count, saturating at 15.
fn words(header_len: usize) -> u8 {
    u8::try_from(header_len.min(MAX_HEADER_LEN) / 4).unwrap_or(15)
}

fn tcp_segment(spec: &PacketSpec) -> Vec<u8> {
    let options = encode_options(&spec.options);
    let data_offset = spec
        .data_offset
        .unwrap_or_else(|| words(TCP_HEADER_LEN + options.len()))
        & 0x0f;

    let mut seg = Vec::with_capacity(TCP_HEADER_LEN + options.len() + spec.payload.len());
    seg.extend_from_slice(&spec.src.port().to_be_bytes());
    seg.extend_from_slice(&spec.dst.port().to_be_bytes());
    seg.extend_from_slice(&spec.seq.to_be_bytes());
    seg.extend_from_slice(&spec.ack.to_be_bytes());
    // Octet 12: data offset (4 bits), reserved (3 bits), AE (RFC 9293 3.1 / RFC 9768).
    let ae = u8::from(spec.flags & 0x100 != 0);
    seg.push(data_offset << 4 | (spec.reserved & 0x07) << 1 | ae);
    seg.push((spec.flags & 0xff) as u8);
    seg.extend_from_slice(&spec.window.to_be_bytes());
    seg.extend_from_slice(&[0, 0]); // checksum, filled below
    seg.extend_from_slice(&spec.urgent.to_be_bytes());
    seg.extend_from_slice(&options);
    seg.extend_from_slice(&spec.payload);

    let correct = {
        let acc = checksum::pseudo_header(spec.src.ip(), spec.dst.ip(), seg.len());
        checksum::finish(checksum::sum(acc, &seg))
    };
    let value = match spec.checksum {
        ChecksumSpec::Correct => correct,
        ChecksumSpec::Bad => bad_checksum(correct),
        ChecksumSpec::Value(v) => v,
    };
    if let Some(field) = seg.get_mut(16..18) {
        field.copy_from_slice(&value.to_be_bytes());
    }
    seg
}

/// A checksum that never verifies. Flipping every bit is enough except for 0x0000 and 0xffff,
/// which are both one's-complement zero: flipping one into the other would still verify.
fn bad_checksum(correct: u16) -> u16 {
    match correct {
        0x0000 | 0xffff => correct ^ 0x0001,
        c => !c,
    }
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, ip: &IpFields, protocol: u8, tcp: &[u8]) -> Vec<u8> {
    let mut options = ip.ipv4_options.clone();
    pad_to_words(&mut options);
    let header_len = IPV4_HEADER_LEN + options.len();
    let total = u16::try_from(header_len + tcp.len()).unwrap_or(u16::MAX);
    let ident = ip
        .ident
        .unwrap_or_else(|| NEXT_IDENT.fetch_add(1, Ordering::Relaxed));
    let flags_frag: u16 = if ip.dont_frag.unwrap_or(true) {
        0x4000
    } else {
        0
    };

    let mut pkt = Vec::with_capacity(header_len + tcp.len());
    pkt.push(0x40 | words(header_len));
    pkt.push(ip.tos.unwrap_or(0));
    pkt.extend_from_slice(&total.to_be_bytes());
    pkt.extend_from_slice(&ident.to_be_bytes());
    pkt.extend_from_slice(&flags_frag.to_be_bytes());
    pkt.push(ip.ttl.unwrap_or(DEFAULT_TTL));
    pkt.push(protocol);
    pkt.extend_from_slice(&[0, 0]); // header checksum, filled below
    pkt.extend_from_slice(&src.octets());
    pkt.extend_from_slice(&dst.octets());
    pkt.extend_from_slice(&options);
    // RFC 791: the checksum covers the header only, as far as the IHL says.
    let covered = pkt.len().min(MAX_HEADER_LEN);
    let sum = checksum::finish(checksum::sum(0, pkt.get(..covered).unwrap_or(&[])));
    if let Some(field) = pkt.get_mut(10..12) {
        field.copy_from_slice(&sum.to_be_bytes());
    }
    pkt.extend_from_slice(tcp);
    pkt
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, ip: &IpFields, next_header: u8, tcp: &[u8]) -> Vec<u8> {
    let class = u32::from(ip.tos.unwrap_or(0));
    let flow = ip.flow_label.unwrap_or(0) & 0x000f_ffff;
    let first = 6u32 << 28 | class << 20 | flow;
    let payload_len = u16::try_from(tcp.len()).unwrap_or(u16::MAX);

    let mut pkt = Vec::with_capacity(IPV6_HEADER_LEN + tcp.len());
    pkt.extend_from_slice(&first.to_be_bytes());
    pkt.extend_from_slice(&payload_len.to_be_bytes());
    pkt.push(next_header);
    pkt.push(ip.ttl.unwrap_or(DEFAULT_TTL));
    pkt.extend_from_slice(&src.octets());
    pkt.extend_from_slice(&dst.octets());
    pkt.extend_from_slice(tcp);
    pkt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_checksum_never_equivalent() {
        for c in [0x0000, 0xffff, 0x1234] {
            let b = bad_checksum(c);
            assert_ne!(b, c);
            assert!(!(matches!(c, 0 | 0xffff) && matches!(b, 0 | 0xffff)));
        }
    }

    #[test]
    fn options_pad_to_words() {
        assert_eq!(encode_options(&[OptionSpec::WindowScale(7)]), [3, 3, 7, 0]);
        assert_eq!(encode_options(&[]), Vec::<u8>::new());
    }

    #[test]
    fn icmp_errors_are_understood_by_the_reference_stack() {
        use reference_stack::wire::{IcmpClass, IcmpError, SeqNumber};
        let target: SocketAddr = "192.0.2.2:8080".parse().unwrap();
        let tester: SocketAddr = "192.0.2.1:49152".parse().unwrap();
        let quoted = Quoted {
            src: target,
            dst: tester,
            seq: 0xdead_beef,
        };
        let v4 = icmp_error(tester.ip(), target.ip(), (3, 3), quoted, None);
        let e = IcmpError::parse(&v4).expect("ICMP parses");
        assert_eq!(
            (e.class, e.local, e.remote),
            (IcmpClass::Hard, target, tester)
        );
        assert_eq!((e.seq, e.mtu), (SeqNumber(0xdead_beef), None));
        // "Fragmentation needed" carries the next-hop MTU in its low 16 bits (RFC 1191 4).
        let v4 = icmp_error(tester.ip(), target.ip(), (3, 4), quoted, Some(1280));
        let e = IcmpError::parse(&v4).expect("ICMP parses");
        assert_eq!((e.class, e.mtu), (IcmpClass::Other, Some(1280)));
        let target: SocketAddr = "[2001:db8::2]:8080".parse().unwrap();
        let tester: SocketAddr = "[2001:db8::1]:49152".parse().unwrap();
        let v6 = icmp_error(
            tester.ip(),
            target.ip(),
            (1, 4),
            Quoted {
                src: target,
                dst: tester,
                seq: 7,
            },
            None,
        );
        let e = IcmpError::parse(&v6).expect("ICMPv6 parses");
        assert_eq!(
            (e.class, e.local, e.remote),
            (IcmpClass::Hard, target, tester)
        );
        assert_eq!(e.seq, SeqNumber(7));
        // "Packet too big" carries all 32 bits (RFC 4443 3.2).
        let quoted = Quoted {
            src: target,
            dst: tester,
            seq: 7,
        };
        let v6 = icmp_error(tester.ip(), target.ip(), (2, 0), quoted, Some(1280));
        let e = IcmpError::parse(&v6).expect("ICMPv6 parses");
        assert_eq!((e.class, e.mtu), (IcmpClass::Other, Some(1280)));
    }

    #[test]
    fn oversized_option_area_saturates_data_offset() {
        assert_eq!(words(TCP_HEADER_LEN + 44), 15);
    }
}
