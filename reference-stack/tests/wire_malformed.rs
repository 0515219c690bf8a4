//! Malformed packets: a table of single mutations of valid packets, each with the exact
//! [`WireError`] it must produce, and proptests that no input makes the parser panic.

mod wire_common;

use proptest::prelude::*;
use reference_stack::wire::checksum;
use reference_stack::wire::{ChecksumCheck, Segment, TcpRepr, WireError};
use wire_common::*;

/// One row: a name, the mutated packet, and the error it must produce.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expect: WireError,
}

/// Applies `f` to a copy of `base`, then repairs the checksums (so the mutation itself is what
/// the parser must catch).
fn mutate(base: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = base.to_vec();
    f(&mut b);
    fix_checksums(&mut b);
    b
}

/// Like `mutate`, without repairing checksums.
fn mutate_raw(base: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = base.to_vec();
    f(&mut b);
    b
}

fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn cases() -> Vec<Case> {
    use WireError::*;
    let v4 = sample_v4().emit();
    let v6 = sample_v6().emit();
    // v4: IP 0..20, TCP 20..60 (options 40..60), payload 60..65.
    assert_eq!(v4.len(), 65);
    // v6: IP 0..40, dest-opts 40..48, TCP 48..88, payload 88..93.
    assert_eq!(v6.len(), 93);
    let tcp_v4 = |b: &[u8]| checksum::tcp_checksum(V4_SRC.into(), V4_DST.into(), &b[20..]);
    let mut t = vec![
        // --- IP, either version ---
        Case {
            name: "empty",
            bytes: vec![],
            expect: Empty,
        },
        Case {
            name: "version 5",
            bytes: mutate(&v4, |b| b[0] = 0x55),
            expect: BadIpVersion { version: 5 },
        },
        Case {
            name: "version 0",
            bytes: mutate(&v4, |b| b[0] = 0x05),
            expect: BadIpVersion { version: 0 },
        },
        // --- IPv4 ---
        Case {
            name: "v4 one octet",
            bytes: mutate(&v4, |b| b.truncate(1)),
            expect: Ipv4Truncated { len: 1 },
        },
        Case {
            name: "v4 19 octets",
            bytes: mutate(&v4, |b| b.truncate(19)),
            expect: Ipv4Truncated { len: 19 },
        },
        Case {
            name: "v4 IHL 4",
            bytes: mutate(&v4, |b| b[0] = 0x44),
            expect: Ipv4IhlTooSmall { ihl: 4 },
        },
        Case {
            name: "v4 IHL 0",
            bytes: mutate(&v4, |b| b[0] = 0x40),
            expect: Ipv4IhlTooSmall { ihl: 0 },
        },
        Case {
            name: "v4 IHL 15 past a 40-octet buffer",
            bytes: mutate(&v4, |b| {
                b[0] = 0x4f;
                b.truncate(40);
            }),
            expect: Ipv4IhlPastEnd { ihl: 15, len: 40 },
        },
        Case {
            name: "v4 total length 19",
            bytes: mutate(&v4, |b| set_u16(b, 2, 19)),
            expect: Ipv4TotalLenBelowHeader {
                total_len: 19,
                header_len: 20,
            },
        },
        Case {
            name: "v4 total length 0",
            bytes: mutate(&v4, |b| set_u16(b, 2, 0)),
            expect: Ipv4TotalLenBelowHeader {
                total_len: 0,
                header_len: 20,
            },
        },
        Case {
            name: "v4 total length one past the buffer",
            bytes: mutate(&v4, |b| set_u16(b, 2, 66)),
            expect: Ipv4TotalLenPastEnd {
                total_len: 66,
                len: 65,
            },
        },
        Case {
            name: "v4 buffer cut one octet short",
            bytes: mutate(&v4, |b| b.truncate(64)),
            expect: Ipv4TotalLenPastEnd {
                total_len: 65,
                len: 64,
            },
        },
        Case {
            name: "v4 header checksum off by one",
            bytes: mutate_raw(&v4, |b| b[11] ^= 1),
            expect: BadIpv4Checksum {
                found: u16::from_be_bytes([v4[10], v4[11] ^ 1]),
                expected: u16::from_be_bytes([v4[10], v4[11]]),
            },
        },
        Case {
            name: "v4 TTL changed, checksum not updated",
            bytes: mutate_raw(&v4, |b| b[8] = 1),
            expect: BadIpv4Checksum {
                found: u16::from_be_bytes([v4[10], v4[11]]),
                expected: checksum::ipv4_header_checksum(&{
                    let mut h = v4[..20].to_vec();
                    h[8] = 1;
                    h
                }),
            },
        },
        Case {
            name: "v4 MF set",
            bytes: mutate(&v4, |b| b[6] |= 0x20),
            expect: Ipv4Fragment {
                more_fragments: true,
                offset: 0,
            },
        },
        Case {
            name: "v4 fragment offset 1",
            bytes: mutate(&v4, |b| b[7] = 1),
            expect: Ipv4Fragment {
                more_fragments: false,
                offset: 1,
            },
        },
        Case {
            name: "v4 MF and maximal offset",
            bytes: mutate(&v4, |b| {
                b[6] |= 0x3f;
                b[7] = 0xff;
            }),
            expect: Ipv4Fragment {
                more_fragments: true,
                offset: 0x1fff,
            },
        },
        Case {
            name: "v4 protocol UDP",
            bytes: mutate(&v4, |b| b[9] = 17),
            expect: NotTcp { protocol: 17 },
        },
        Case {
            name: "v4 protocol ICMP",
            bytes: mutate(&v4, |b| b[9] = 1),
            expect: NotTcp { protocol: 1 },
        },
        // --- IPv6 ---
        Case {
            name: "v6 39 octets",
            bytes: mutate(&v6, |b| b.truncate(39)),
            expect: Ipv6Truncated { len: 39 },
        },
        Case {
            name: "v6 payload length one past the buffer",
            bytes: mutate(&v6, |b| set_u16(b, 4, 54)),
            expect: Ipv6PayloadLenPastEnd {
                payload_len: 54,
                len: 53,
            },
        },
        Case {
            name: "v6 next header UDP",
            bytes: mutate(&v6, |b| b[6] = 17),
            expect: NotTcp { protocol: 17 },
        },
        Case {
            name: "v6 no next header",
            bytes: mutate(&v6, |b| b[6] = 59),
            expect: NotTcp { protocol: 59 },
        },
        Case {
            name: "v6 fragment header",
            bytes: mutate(&v6, |b| b[6] = 44),
            expect: Ipv6Fragment,
        },
        Case {
            name: "v6 fragment header after dest-opts",
            bytes: mutate(&v6, |b| b[40] = 44),
            expect: Ipv6Fragment,
        },
        Case {
            name: "v6 dest-opts then UDP",
            bytes: mutate(&v6, |b| b[40] = 17),
            expect: NotTcp { protocol: 17 },
        },
        Case {
            name: "v6 hop-by-hop after dest-opts",
            bytes: mutate(&v6, |b| b[40] = 0),
            expect: Ipv6HopByHopNotFirst { offset: 8 },
        },
        Case {
            name: "v6 ext header length past payload",
            bytes: mutate(&v6, |b| b[41] = 200),
            expect: Ipv6ExtHeaderTruncated {
                kind: 60,
                offset: 0,
            },
        },
        Case {
            name: "v6 payload length 4 cuts the ext header",
            bytes: mutate(&v6, |b| set_u16(b, 4, 4)),
            expect: Ipv6ExtHeaderTruncated {
                kind: 60,
                offset: 0,
            },
        },
        Case {
            name: "v6 payload length 1 cuts the ext header's length octet",
            bytes: mutate(&v6, |b| set_u16(b, 4, 1)),
            expect: Ipv6ExtHeaderTruncated {
                kind: 60,
                offset: 0,
            },
        },
        Case {
            name: "v6 payload length 8 leaves no TCP",
            bytes: mutate(&v6, |b| set_u16(b, 4, 8)),
            expect: TcpTruncated { len: 0 },
        },
        Case {
            name: "v6 data offset 3",
            bytes: mutate(&v6, |b| b[48 + 12] = 0x30),
            expect: TcpDataOffsetTooSmall { data_offset: 3 },
        },
        // --- TCP header ---
        Case {
            name: "tcp 19 octets",
            bytes: mutate(&v4, |b| {
                b.truncate(39);
                set_u16(b, 2, 39);
            }),
            expect: TcpTruncated { len: 19 },
        },
        Case {
            name: "tcp absent (total length 20)",
            bytes: mutate(&v4, |b| set_u16(b, 2, 20)),
            expect: TcpTruncated { len: 0 },
        },
        Case {
            name: "tcp data offset 4",
            bytes: mutate(&v4, |b| b[32] = 0x40),
            expect: TcpDataOffsetTooSmall { data_offset: 4 },
        },
        Case {
            name: "tcp data offset 0",
            bytes: mutate(&v4, |b| b[32] = 0x00),
            expect: TcpDataOffsetTooSmall { data_offset: 0 },
        },
        Case {
            name: "tcp data offset 15 past a 45-octet segment",
            bytes: mutate(&v4, |b| b[32] = 0xf0),
            expect: TcpDataOffsetPastEnd {
                data_offset: 15,
                len: 45,
            },
        },
        Case {
            name: "tcp payload octet flipped",
            bytes: mutate_raw(&v4, |b| b[62] ^= 0x40),
            expect: BadTcpChecksum {
                found: u16::from_be_bytes([v4[36], v4[37]]),
                expected: tcp_v4(&{
                    let mut b = v4.clone();
                    b[62] ^= 0x40;
                    b
                }),
            },
        },
        Case {
            name: "v4 source changed, only the IP checksum repaired",
            bytes: {
                let mut b = v4.clone();
                b[15] ^= 1;
                let sum = checksum::ipv4_header_checksum(&b[..20]);
                b[10..12].copy_from_slice(&sum.to_be_bytes());
                b
            },
            expect: BadTcpChecksum {
                found: u16::from_be_bytes([v4[36], v4[37]]),
                expected: checksum::tcp_checksum(
                    std::net::Ipv4Addr::new(192, 0, 2, 0).into(),
                    V4_DST.into(),
                    &v4[20..],
                ),
            },
        },
        Case {
            name: "v6 destination changed (pseudo-header)",
            bytes: mutate_raw(&v6, |b| b[39] ^= 0x80),
            expect: BadTcpChecksum {
                found: u16::from_be_bytes([v6[48 + 16], v6[48 + 17]]),
                expected: checksum::tcp_checksum(
                    V6_SRC.into(),
                    std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x82).into(),
                    &v6[48..],
                ),
            },
        },
    ];
    // --- TCP options: valid header, one bad option area ---
    let opt = |name, area: &[u8], expect| Case {
        name,
        bytes: v4_with_option_area(area),
        expect,
    };
    t.extend([
        opt(
            "kind 2 is the last octet",
            &[1, 1, 1, 2],
            TcpOptionNoLength { kind: 2 },
        ),
        opt(
            "unknown kind is the last octet",
            &[1, 1, 1, 99],
            TcpOptionNoLength { kind: 99 },
        ),
        opt(
            "MSS length 0",
            &[2, 0, 5, 180],
            TcpOptionLengthTooSmall { kind: 2, len: 0 },
        ),
        opt(
            "MSS length 1",
            &[2, 1, 5, 180],
            TcpOptionLengthTooSmall { kind: 2, len: 1 },
        ),
        opt(
            "unknown length 0",
            &[99, 0, 0, 0],
            TcpOptionLengthTooSmall { kind: 99, len: 0 },
        ),
        opt(
            "MSS length 8 in 4 octets",
            &[2, 8, 5, 180],
            TcpOptionPastEnd {
                kind: 2,
                len: 8,
                available: 4,
            },
        ),
        opt(
            "unknown length 6 in 4 octets",
            &[99, 6, 0, 0],
            TcpOptionPastEnd {
                kind: 99,
                len: 6,
                available: 4,
            },
        ),
        opt(
            "timestamps after NOPs past the end",
            &[1, 1, 8, 10],
            TcpOptionPastEnd {
                kind: 8,
                len: 10,
                available: 2,
            },
        ),
        opt(
            "MSS length 3",
            &[2, 3, 5, 1],
            TcpOptionBadLength { kind: 2, len: 3 },
        ),
        opt(
            "MSS length 5",
            &[2, 5, 5, 180, 0, 1, 1, 1],
            TcpOptionBadLength { kind: 2, len: 5 },
        ),
        opt(
            "WS length 2",
            &[3, 2, 1, 1],
            TcpOptionBadLength { kind: 3, len: 2 },
        ),
        opt(
            "WS length 4",
            &[3, 4, 7, 0],
            TcpOptionBadLength { kind: 3, len: 4 },
        ),
        opt(
            "SACK-permitted length 3",
            &[4, 3, 0, 1],
            TcpOptionBadLength { kind: 4, len: 3 },
        ),
        opt(
            "SACK-permitted length 4",
            &[4, 4, 0, 0],
            TcpOptionBadLength { kind: 4, len: 4 },
        ),
        opt(
            "timestamps length 9",
            &[8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1],
            TcpOptionBadLength { kind: 8, len: 9 },
        ),
        opt(
            "timestamps length 12",
            &[8, 12, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
            TcpOptionBadLength { kind: 8, len: 12 },
        ),
        opt(
            "SACK length 2 (no blocks)",
            &[5, 2, 1, 1],
            TcpSackBadLength { len: 2 },
        ),
        opt(
            "SACK length 9",
            &[5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1],
            TcpSackBadLength { len: 9 },
        ),
        opt(
            "SACK length 11",
            &[5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1],
            TcpSackBadLength { len: 11 },
        ),
        opt(
            "bad option after a good MSS",
            &[2, 4, 5, 180, 3, 4, 7, 0],
            TcpOptionBadLength { kind: 3, len: 4 },
        ),
    ]);
    t
}

#[test]
fn malformed_table() {
    let cases = cases();
    assert!(cases.len() >= 35, "only {} cases", cases.len());
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name), "duplicate case name {}", c.name);
        assert_eq!(
            Segment::parse(&c.bytes),
            Err(c.expect.clone()),
            "case {:?}: {:02x?}",
            c.name,
            c.bytes
        );
        // Display says what was wrong in words, not the Debug form.
        let msg = c.expect.to_string();
        assert!(!msg.contains('{'), "case {:?}: {msg}", c.name);
    }
}

#[test]
fn distinct_packets_in_table() {
    let cases = cases();
    let mut seen = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            seen.insert(c.bytes.clone()),
            "case {:?} repeats a packet",
            c.name
        );
    }
}

#[test]
fn bases_are_valid() {
    for s in [sample_v4(), sample_v6()] {
        assert_eq!(Segment::parse(&s.emit()), Ok(s));
    }
}

#[test]
fn checksum_errors_vanish_when_ignored() {
    let v4 = sample_v4().emit();
    let mut b = v4.clone();
    b[11] ^= 1; // IPv4 header checksum
    b[36] ^= 1; // TCP checksum
    assert!(Segment::parse(&b).is_err());
    let seg = Segment::parse_with(&b, ChecksumCheck::Ignore).unwrap();
    assert_eq!(seg, sample_v4());
}

#[test]
fn eol_then_garbage_is_padding_not_an_error() {
    // RFC 9293 3.2: EOL ends the list; the parser keeps whatever follows as padding (MUST-69
    // asks senders for zeros, but a receiver must not choke on anything else).
    let b = v4_with_option_area(&[2, 4, 5, 180, 0, 0xde, 0xad, 0xbe]);
    let seg = Segment::parse(&b).unwrap();
    assert_eq!(seg.tcp.mss(), Some(1460));
    assert_eq!(seg.tcp.padding, vec![0xde, 0xad, 0xbe]);
    assert_eq!(seg.emit(), b);
}

#[test]
fn ethernet_padding_is_ignored() {
    let mut b = sample_v4().emit();
    b.extend_from_slice(&[0; 9]);
    assert_eq!(Segment::parse(&b), Ok(sample_v4()));
    let mut b = sample_v6().emit();
    b.extend_from_slice(&[0xff; 3]);
    assert_eq!(Segment::parse(&b), Ok(sample_v6()));
}

#[test]
fn tcp_parse_alone_reports_truncation() {
    let src = V4_SRC.into();
    let dst = V4_DST.into();
    assert_eq!(
        TcpRepr::parse(&[0; 7], src, dst, ChecksumCheck::Ignore),
        Err(WireError::TcpTruncated { len: 7 })
    );
}

/// Valid packets of both families with a few octets XORed, perhaps cut or extended.
fn mutated_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(sample_v4().emit()), Just(sample_v6().emit())],
        prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..6),
        prop::option::of(any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(|(mut b, flips, cut, fix)| {
            for (i, x) in flips {
                let at = i.index(b.len());
                b[at] ^= x;
            }
            if let Some(c) = cut {
                b.truncate(c.index(b.len() + 1));
            }
            if fix {
                fix_checksums(&mut b);
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = Segment::parse(&bytes);
        let _ = Segment::parse_with(&bytes, ChecksumCheck::Ignore);
        let _ = TcpRepr::parse(&bytes, V4_SRC.into(), V4_DST.into(), ChecksumCheck::Ignore);
    }

    #[test]
    fn arbitrary_v4_v6_starts_never_panic(
        v6 in any::<bool>(),
        rest in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut bytes = vec![if v6 { 0x60 } else { 0x45 }];
        bytes.extend(rest);
        let _ = Segment::parse_with(&bytes, ChecksumCheck::Ignore);
    }

    #[test]
    fn mutations_never_panic_and_any_accepted_packet_round_trips(bytes in mutated_packet()) {
        if let Ok(seg) = Segment::parse(&bytes) {
            prop_assert_eq!(seg.emit(), bytes[..ip_len(&bytes)].to_vec());
        }
        let _ = Segment::parse_with(&bytes, ChecksumCheck::Ignore);
    }
}
