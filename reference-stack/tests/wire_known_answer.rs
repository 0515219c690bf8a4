//! Known-answer tests: a real captured segment whose checksums tcpdump verified ("cksum 0x0180
//! (correct)"), and a Linux-style SYN over IPv4 and IPv6 whose checksums were computed by an
//! independent implementation.

use reference_stack::wire::checksum;
use reference_stack::wire::{Segment, TcpFlags, TcpOption};
use std::net::{IpAddr, Ipv6Addr};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A captured data segment with NOP NOP timestamps ("P, cksum 0x0180 (correct), 1:11(10)").
const DATA_V4: &str = "4500 003e 6b68 4000 3f06 1a28 8c71 66a5
                       c0a8 026b ad0a b71d 6183 1a2f 7d66 3155
                       8018 016d 0180 0000 0101 080a 8c57 7f5a
                       a044 62e7 6865 6c6c 6f77 6f72 6c64";

#[test]
fn captured_v4_data_with_timestamps() {
    let bytes = hex(DATA_V4);
    let seg = Segment::parse(&bytes).unwrap();
    assert_eq!(seg.tcp.flags, TcpFlags::PSH | TcpFlags::ACK);
    assert_eq!(
        seg.tcp.options,
        vec![
            TcpOption::NoOperation,
            TcpOption::NoOperation,
            TcpOption::Timestamps {
                tsval: 2354544474,
                tsecr: 2688836327
            }
        ]
    );
    assert_eq!(seg.tcp.timestamps(), Some((2354544474, 2688836327)));
    assert_eq!(seg.tcp.payload, b"helloworld");
    assert_eq!(checksum::ipv4_header_checksum(&bytes[..20]), 0x1a28);
    assert_eq!(
        checksum::tcp_checksum(seg.ip.src(), seg.ip.dst(), &bytes[20..]),
        0x0180
    );
    assert_eq!(seg.emit(), bytes);
}

/// A Linux-style SYN 2001:db8::1.54321 > 2001:db8::2.80, seq 0x9f7c1d2a, win 64240,
/// <mss 1460,sackOK,TS val 2090710133 ecr 0,nop,wscale 7>. TCP checksum 0x2f5f, computed with
/// an independent (Python) RFC 1071 implementation over the RFC 8200 8.1 pseudo-header; the
/// same segment over 10.0.0.1 > 10.0.0.2 has checksum 0x76d1.
#[test]
fn linux_style_syn_v6_and_v4() {
    let tcp = hex("d431 0050 9f7c 1d2a 0000 0000 a002 faf0 0000 0000
                   0204 05b4 0402 080a 7c9d b475 0000 0000 0103 0307");
    let s6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let d6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    assert_eq!(checksum::tcp_checksum(s6, d6, &tcp), 0x2f5f);
    let s4 = IpAddr::from([10, 0, 0, 1]);
    let d4 = IpAddr::from([10, 0, 0, 2]);
    assert_eq!(checksum::tcp_checksum(s4, d4, &tcp), 0x76d1);

    let mut with_sum = tcp.clone();
    with_sum[16..18].copy_from_slice(&[0x2f, 0x5f]);
    let repr = reference_stack::wire::TcpRepr::parse(
        &with_sum,
        s6,
        d6,
        reference_stack::wire::ChecksumCheck::Verify,
    )
    .unwrap();
    assert_eq!(repr.mss(), Some(1460));
    assert!(repr.sack_permitted());
    assert_eq!(repr.timestamps(), Some((2090710133, 0)));
    assert_eq!(repr.window_scale(), Some(7));
    assert_eq!(repr.emit(s6, d6), with_sum);
    // A full packet sums to zero with the checksum in place (RFC 1071).
    assert_eq!(
        !checksum::fold(
            checksum::pseudo_header_sum(s6, d6, with_sum.len()) + checksum::sum(&with_sum)
        ),
        0
    );
}
