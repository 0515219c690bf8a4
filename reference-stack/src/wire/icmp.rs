//! ICMP (RFC 792) and ICMPv6 (RFC 4443) error messages that quote a TCP segment, as far as TCP
//! acts on them. RFC 9293 3.9.2.2: "TCP implementations MUST act on an ICMP error message
//! passed up from the IP layer, directing it to the connection that created the error
//! (MUST-54). The necessary demultiplexing information can be found in the IP header contained
//! within the ICMP message." This applies to ICMPv6 as well.
//!
//! Only what that needs is parsed: the outer IP header (no IPv4 fragments, no IPv6 extension
//! headers), the ICMP type, code and checksum, and the quoted IP header plus the first 8 octets
//! of its TCP header (ports and sequence number: all RFC 792 guarantees). Anything else is
//! `None`: not an error message TCP acts on.

use super::checksum::{fold, ipv4_header_checksum, sum};
use super::{SeqNumber, IPV4_HEADER_LEN, IPV6_HEADER_LEN, PROTO_TCP};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_ICMPV6: u8 = 58;
/// Type, code, checksum and the 4-octet field before the quoted packet.
const ICMP_HEADER_LEN: usize = 8;
/// Octets of the quoted TCP header every ICMP error carries (RFC 792: "the first 64 bits").
const QUOTED_TCP_LEN: usize = 8;

/// How RFC 9293 3.9.2.2 tells TCP to treat a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpClass {
    /// ICMP Source Quench: "MUST silently discard" (MUST-55).
    SourceQuench,
    /// "MUST NOT abort the connection" (MUST-56), SHOULD tell the application (SHLD-25).
    /// ICMP: Destination Unreachable 0, 1, 5; Time Exceeded 0, 1; Parameter Problem.
    /// ICMPv6: Destination Unreachable 0, 3; Time Exceeded 0, 1; Parameter Problem 0, 1, 2.
    Soft,
    /// "TCP implementations SHOULD abort the connection" (SHLD-26). ICMP Destination
    /// Unreachable 2 (protocol) and 3 (port); ICMPv6 Destination Unreachable 4 (port), the
    /// translation of ICMP's code 3 (RFC 7915 4.2, 5.2).
    Hard,
    /// Not an error TCP acts on here. Among them ICMP Destination Unreachable 4 ("fragmentation
    /// needed", which 3.9.2.2 lists as hard) and ICMPv6 Packet Too Big: Path MTU Discovery's
    /// signals (RFC 1191, RFC 8201, RFC 9293 3.7.2), which reduce the MTU rather than end a
    /// connection.
    Other,
}

/// An ICMP or ICMPv6 error quoting a TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpError {
    pub class: IcmpClass,
    pub icmp_type: u8,
    pub code: u8,
    /// Who sent the ICMP message (a router on the path, or the peer's host).
    pub reporter: IpAddr,
    /// The quoted segment's source: our end of the connection.
    pub local: SocketAddr,
    /// The quoted segment's destination: the peer.
    pub remote: SocketAddr,
    /// The quoted segment's sequence number.
    pub seq: SeqNumber,
    /// Path MTU Discovery's signal: the next-hop MTU of an ICMP "fragmentation needed" (type 3
    /// code 4, RFC 1191 4: the low 16 bits after the checksum) or an ICMPv6 "packet too big"
    /// (type 2, RFC 4443 3.2: the 32 bits after the checksum).
    pub mtu: Option<u32>,
}

impl IcmpError {
    /// Parses one IP packet; `None` unless it is a well-formed ICMP/ICMPv6 error (checksums
    /// verified) quoting an IP packet that carries TCP.
    pub fn parse(bytes: &[u8]) -> Option<IcmpError> {
        match bytes.first()? >> 4 {
            4 => parse_v4(bytes),
            6 => parse_v6(bytes),
            _ => None,
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

fn v4_addr(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

fn v6_addr(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// The quoted segment's ports and sequence number.
fn quoted_tcp(tcp: &[u8], src: IpAddr, dst: IpAddr) -> Option<(SocketAddr, SocketAddr, SeqNumber)> {
    if tcp.len() < QUOTED_TCP_LEN {
        return None;
    }
    Some((
        SocketAddr::new(src, be16(tcp, 0)?),
        SocketAddr::new(dst, be16(tcp, 2)?),
        SeqNumber(be32(tcp, 4)?),
    ))
}

fn parse_v4(bytes: &[u8]) -> Option<IcmpError> {
    let ihl = usize::from(bytes.first()? & 0x0f) * 4;
    let total = usize::from(be16(bytes, 2)?);
    if ihl < IPV4_HEADER_LEN || total < ihl || total > bytes.len() {
        return None;
    }
    let header = bytes.get(..ihl)?;
    if *header.get(9)? != PROTO_ICMP
        || be16(header, 10)? != ipv4_header_checksum(header)
        || be16(header, 6)? & 0x3fff != 0
    {
        return None;
    }
    let icmp = bytes.get(ihl..total)?;
    if icmp.len() < ICMP_HEADER_LEN || fold(sum(icmp)) != 0xffff {
        return None;
    }
    let (icmp_type, code) = (icmp[0], icmp[1]);
    let class = match (icmp_type, code) {
        (4, _) => IcmpClass::SourceQuench,
        (3, 0 | 1 | 5) | (11, 0 | 1) | (12, _) => IcmpClass::Soft,
        (3, 2 | 3) => IcmpClass::Hard,
        (3 | 11, _) => IcmpClass::Other,
        _ => return None,
    };
    // The quoted packet: an IPv4 header of its own length, protocol TCP.
    let quoted = icmp.get(ICMP_HEADER_LEN..)?;
    let q_ihl = usize::from(quoted.first()? & 0x0f) * 4;
    if quoted[0] >> 4 != 4 || q_ihl < IPV4_HEADER_LEN || *quoted.get(9)? != PROTO_TCP {
        return None;
    }
    let src = IpAddr::V4(v4_addr(quoted, 12)?);
    let dst = IpAddr::V4(v4_addr(quoted, 16)?);
    let (local, remote, seq) = quoted_tcp(quoted.get(q_ihl..)?, src, dst)?;
    let mtu = (icmp_type == 3 && code == 4).then(|| be16(icmp, 6).map(u32::from));
    Some(IcmpError {
        class,
        icmp_type,
        code,
        reporter: IpAddr::V4(v4_addr(bytes, 12)?),
        local,
        remote,
        seq,
        mtu: mtu.flatten(),
    })
}

fn parse_v6(bytes: &[u8]) -> Option<IcmpError> {
    let payload_len = usize::from(be16(bytes, 4)?);
    if *bytes.get(6)? != PROTO_ICMPV6 {
        return None;
    }
    let icmp = bytes.get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + payload_len)?;
    let src = v6_addr(bytes, 8)?;
    let dst = v6_addr(bytes, 24)?;
    // RFC 4443 2.3: the checksum covers the IPv6 pseudo-header (RFC 8200 8.1), next header 58.
    let len = icmp.len() as u64;
    let pseudo = sum(&src.octets())
        + sum(&dst.octets())
        + (len >> 16)
        + (len & 0xffff)
        + u64::from(PROTO_ICMPV6);
    if icmp.len() < ICMP_HEADER_LEN || fold(pseudo + sum(icmp)) != 0xffff {
        return None;
    }
    let (icmp_type, code) = (icmp[0], icmp[1]);
    let class = match (icmp_type, code) {
        (1, 0 | 3) | (3, 0 | 1) | (4, 0..=2) => IcmpClass::Soft,
        (1, 4) => IcmpClass::Hard,
        (1..=4, _) => IcmpClass::Other,
        _ => return None,
    };
    let quoted = icmp.get(ICMP_HEADER_LEN..)?;
    if quoted.first()? >> 4 != 6 || *quoted.get(6)? != PROTO_TCP {
        return None;
    }
    let q_src = IpAddr::V6(v6_addr(quoted, 8)?);
    let q_dst = IpAddr::V6(v6_addr(quoted, 24)?);
    let (local, remote, seq) = quoted_tcp(quoted.get(IPV6_HEADER_LEN..)?, q_src, q_dst)?;
    let mtu = (icmp_type == 2).then(|| be32(icmp, 4));
    Some(IcmpError {
        class,
        icmp_type,
        code,
        reporter: IpAddr::V6(src),
        local,
        remote,
        seq,
        mtu: mtu.flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

    /// An ICMP error from 192.0.2.1 about our segment 192.0.2.2:8080 -> 192.0.2.1:49152.
    fn v4(icmp_type: u8, code: u8, seq: u32) -> Vec<u8> {
        let mut quoted = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, PROTO_TCP, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1,
        ];
        let c = ipv4_header_checksum(&quoted);
        quoted[10..12].copy_from_slice(&c.to_be_bytes());
        quoted.extend_from_slice(&8080u16.to_be_bytes());
        quoted.extend_from_slice(&49152u16.to_be_bytes());
        quoted.extend_from_slice(&seq.to_be_bytes());
        let mut icmp = vec![icmp_type, code, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&quoted);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let total = (20 + icmp.len()) as u16;
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, PROTO_ICMP, 0, 0];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
        let c = ipv4_header_checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&icmp);
        ip
    }

    #[test]
    fn classifies_and_demultiplexes() {
        let e = IcmpError::parse(&v4(3, 3, 1234)).expect("port unreachable parses");
        assert_eq!(e.class, IcmpClass::Hard);
        assert_eq!(e.local, "192.0.2.2:8080".parse().unwrap());
        assert_eq!(e.remote, "192.0.2.1:49152".parse().unwrap());
        assert_eq!(e.seq, SeqNumber(1234));
        assert_eq!(e.reporter, "192.0.2.1".parse::<IpAddr>().unwrap());
        let class = |t, c| IcmpError::parse(&v4(t, c, 0)).map(|e| e.class);
        assert_eq!(class(3, 2), Some(IcmpClass::Hard));
        assert_eq!(class(3, 4), Some(IcmpClass::Other));
        assert_eq!(class(3, 1), Some(IcmpClass::Soft));
        assert_eq!(class(11, 0), Some(IcmpClass::Soft));
        assert_eq!(class(4, 0), Some(IcmpClass::SourceQuench));
        // Echo request: not an error.
        assert_eq!(class(8, 0), None);
    }

    #[test]
    fn damaged_messages_are_ignored() {
        let good = v4(3, 3, 1);
        for cut in 0..good.len() {
            assert_eq!(IcmpError::parse(&good[..cut]), None, "cut at {cut}");
        }
        let mut bad = good.clone();
        // Flip an octet of the quoted sequence number: the ICMP checksum no longer matches.
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(IcmpError::parse(&bad), None);
    }
}
