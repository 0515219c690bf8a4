//! Parse and emit are mirror images: `parse(emit(r)) == canonical(r)` for arbitrary valid
//! reprs, and `emit(parse(b)) == b` for any octets that parse.

mod wire_common;

use proptest::prelude::*;
use reference_stack::wire::checksum;
use reference_stack::wire::{
    ChecksumCheck, IpRepr, Ipv4Repr, Ipv6ExtHeader, Ipv6Repr, SackBlock, Segment, SeqNumber,
    TcpFlags, TcpOption, TcpRepr, WireError,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use wire_common::*;

const KNOWN_KINDS: [u8; 7] = [0, 1, 2, 3, 4, 5, 8];

fn arb_option() -> impl Strategy<Value = TcpOption> {
    prop_oneof![
        Just(TcpOption::NoOperation),
        any::<u16>().prop_map(TcpOption::Mss),
        any::<u8>().prop_map(TcpOption::WindowScale),
        Just(TcpOption::SackPermitted),
        prop::collection::vec((any::<u32>(), any::<u32>()), 1..=4).prop_map(|b| sack(&b)),
        (any::<u32>(), any::<u32>())
            .prop_map(|(tsval, tsecr)| TcpOption::Timestamps { tsval, tsecr }),
        (
            any::<u8>().prop_filter("unknown kind", |k| !KNOWN_KINDS.contains(k)),
            prop::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(kind, data)| TcpOption::Unknown { kind, data }),
    ]
}

/// A valid option list of at most 40 octets, perhaps ended by EOL plus arbitrary padding.
fn arb_options() -> impl Strategy<Value = (Vec<TcpOption>, Vec<u8>)> {
    (
        prop::collection::vec(arb_option(), 0..10),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(opts, eol, pad)| {
            let mut used = 0;
            let mut options: Vec<TcpOption> = opts
                .into_iter()
                .take_while(|o| {
                    used += o.wire_len();
                    used <= 40
                })
                .collect();
            used = options.iter().map(TcpOption::wire_len).sum();
            let mut padding = Vec::new();
            if eol && used < 40 {
                options.push(TcpOption::EndOfList);
                padding = pad[..pad.len().min(40 - used - 1)].to_vec();
            }
            (options, padding)
        })
}

fn arb_tcp() -> impl Strategy<Value = TcpRepr> {
    (
        (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>()),
        (0..0x200u16, 0..8u8, any::<u16>(), any::<u16>()),
        arb_options(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(
                (src_port, dst_port, seq, ack),
                (flags, reserved, window, urgent),
                (options, padding),
                payload,
            )| {
                TcpRepr {
                    src_port,
                    dst_port,
                    seq: SeqNumber(seq),
                    ack: SeqNumber(ack),
                    flags: TcpFlags(flags),
                    reserved,
                    window,
                    urgent,
                    options,
                    padding,
                    payload,
                }
            },
        )
}

fn arb_v4() -> impl Strategy<Value = Ipv4Repr> {
    (
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            any::<u16>(),
        ),
        (any::<bool>(), any::<bool>(), any::<u8>()),
        (0..=10usize).prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4)),
    )
        .prop_map(
            |((src, dst, dscp_ecn, ident), (reserved_flag, dont_frag, ttl), options)| Ipv4Repr {
                src: src.into(),
                dst: dst.into(),
                dscp_ecn,
                ident,
                reserved_flag,
                dont_frag,
                ttl,
                options,
            },
        )
}

/// Up to three extension headers (hop-by-hop only first), each well formed: Next Header and
/// Hdr Ext Len octets consistent with the chain.
fn arb_ext_headers() -> impl Strategy<Value = Vec<Ipv6ExtHeader>> {
    (
        any::<bool>(),
        prop::collection::vec(
            (
                prop_oneof![Just(43u8), Just(60u8)],
                (1..=3usize).prop_flat_map(|u| prop::collection::vec(any::<u8>(), u * 8)),
            ),
            0..3,
        ),
        (1..=2usize).prop_flat_map(|u| prop::collection::vec(any::<u8>(), u * 8)),
    )
        .prop_map(|(hbh, rest, hbh_bytes)| {
            let mut exts: Vec<Ipv6ExtHeader> = Vec::new();
            if hbh {
                exts.push(Ipv6ExtHeader {
                    kind: 0,
                    bytes: hbh_bytes,
                });
            }
            exts.extend(
                rest.into_iter()
                    .map(|(kind, bytes)| Ipv6ExtHeader { kind, bytes }),
            );
            let kinds: Vec<u8> = exts.iter().map(|e| e.kind).collect();
            for (i, e) in exts.iter_mut().enumerate() {
                e.bytes[0] = kinds.get(i + 1).copied().unwrap_or(6);
                e.bytes[1] = (e.bytes.len() / 8 - 1) as u8;
            }
            exts
        })
}

fn arb_v6() -> impl Strategy<Value = Ipv6Repr> {
    (
        (any::<[u8; 16]>(), any::<[u8; 16]>()),
        (any::<u8>(), 0..(1u32 << 20), any::<u8>()),
        arb_ext_headers(),
    )
        .prop_map(
            |((src, dst), (traffic_class, flow_label, hop_limit), ext_headers)| Ipv6Repr {
                src: src.into(),
                dst: dst.into(),
                traffic_class,
                flow_label,
                hop_limit,
                ext_headers,
            },
        )
}

fn arb_segment() -> impl Strategy<Value = Segment> {
    (
        prop_oneof![arb_v4().prop_map(IpRepr::V4), arb_v6().prop_map(IpRepr::V6)],
        arb_tcp(),
    )
        .prop_map(|(ip, tcp)| Segment { ip, tcp })
}

/// What `parse(emit(r))` yields for a valid `r` (see the `wire` module docs): the zero fill to
/// a 4-octet boundary reads back as EOL (if there was none) followed by zero padding.
fn canonical(r: &TcpRepr) -> TcpRepr {
    let mut c = r.clone();
    c.flags = TcpFlags(r.flags.0 & 0x1ff);
    c.reserved &= 0x7;
    let area = c.options_len();
    let fill = area.next_multiple_of(4) - area;
    if c.options.contains(&TcpOption::EndOfList) {
        c.padding.extend(std::iter::repeat_n(0, fill));
    } else if fill > 0 {
        c.options.push(TcpOption::EndOfList);
        c.padding = vec![0; fill - 1];
    }
    c
}

fn addrs(v6: bool) -> (IpAddr, IpAddr) {
    if v6 {
        (V6_SRC.into(), V6_DST.into())
    } else {
        (V4_SRC.into(), V4_DST.into())
    }
}

/// TCP octets with a data offset that fits, option octets biased towards NOP/EOL/small kinds,
/// and a correct checksum.
fn arb_tcp_bytes() -> impl Strategy<Value = (bool, Vec<u8>)> {
    let opt_octet = prop_oneof![Just(0u8), Just(1u8), 0..12u8, any::<u8>()];
    (
        any::<bool>(),
        any::<[u8; 20]>(),
        (0..=10usize).prop_flat_map(move |w| prop::collection::vec(opt_octet.clone(), w * 4)),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(v6, mut hdr, opts, payload)| {
            hdr[12] = (((20 + opts.len()) / 4) as u8) << 4 | (hdr[12] & 0x0f);
            let mut b = hdr.to_vec();
            b.extend(opts);
            b.extend(payload);
            let (s, d) = addrs(v6);
            let sum = checksum::tcp_checksum(s, d, &b);
            b[16..18].copy_from_slice(&sum.to_be_bytes());
            (v6, b)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn tcp_parse_of_emit_is_canonical(r in arb_tcp(), v6 in any::<bool>()) {
        let (s, d) = addrs(v6);
        let bytes = r.emit(s, d);
        prop_assert_eq!(bytes.len(), r.header_len() + r.payload.len());
        prop_assert_eq!(r.try_emit(s, d), Ok(bytes.clone()));
        let parsed = TcpRepr::parse(&bytes, s, d, ChecksumCheck::Verify);
        prop_assert_eq!(parsed.as_ref(), Ok(&canonical(&r)));
        // Canonical reprs are fixed points, and emit(parse(b)) == b.
        prop_assert_eq!(parsed.unwrap().emit(s, d), bytes);
    }

    #[test]
    fn segment_parse_of_emit_is_canonical(seg in arb_segment()) {
        let bytes = seg.emit();
        prop_assert_eq!(bytes.len(), seg.total_len());
        prop_assert_eq!(seg.try_emit(), Ok(bytes.clone()));
        let expect = Segment { ip: seg.ip.clone(), tcp: canonical(&seg.tcp) };
        let parsed = Segment::parse(&bytes);
        prop_assert_eq!(parsed.as_ref(), Ok(&expect));
        prop_assert_eq!(parsed.unwrap().emit(), bytes);
    }

    #[test]
    fn any_tcp_octets_that_parse_emit_back(input in arb_tcp_bytes()) {
        let (v6, bytes) = input;
        let (s, d) = addrs(v6);
        if let Ok(r) = TcpRepr::parse(&bytes, s, d, ChecksumCheck::Verify) {
            prop_assert_eq!(r.emit(s, d), bytes);
        }
    }

    /// Over-long option lists are the caller's bug: `try_emit` says so, `emit` keeps the longest
    /// prefix of whole options that fits and still produces a segment that parses.
    #[test]
    fn overlong_options_are_cut_at_whole_options(
        opts in prop::collection::vec(arb_option(), 0..30),
        v6 in any::<bool>(),
    ) {
        let (s, d) = addrs(v6);
        let r = TcpRepr { options: opts, ..TcpRepr::default() };
        let len = r.options_len();
        if len > 40 {
            prop_assert_eq!(r.try_emit(s, d), Err(WireError::TcpOptionsTooLong { len }));
        }
        let mut used = 0;
        let fitted: Vec<TcpOption> = r
            .options
            .iter()
            .take_while(|o| {
                used += o.wire_len();
                used <= 40
            })
            .cloned()
            .collect();
        let expect = canonical(&TcpRepr { options: fitted, ..TcpRepr::default() });
        let bytes = r.emit(s, d);
        prop_assert!(bytes.len() <= 60);
        prop_assert_eq!(TcpRepr::parse(&bytes, s, d, ChecksumCheck::Verify), Ok(expect));
    }
}

#[test]
fn default_is_empty_and_twenty_octets() {
    let r = TcpRepr::default();
    assert_eq!(r.header_len(), 20);
    assert_eq!(r.seg_len(), 0);
    assert!(r.options.is_empty() && r.padding.is_empty() && r.payload.is_empty());
    let (s, d) = addrs(false);
    assert_eq!(r.emit(s, d).len(), 20);
}

#[test]
fn seg_len_counts_syn_and_fin() {
    let mut r = TcpRepr {
        payload: vec![0; 5],
        ..TcpRepr::default()
    };
    assert_eq!(r.seg_len(), 5);
    r.flags = TcpFlags::SYN | TcpFlags::FIN;
    assert_eq!(r.seg_len(), 7);
}

#[test]
fn accessors_read_the_first_live_option() {
    let r = TcpRepr {
        options: vec![
            TcpOption::NoOperation,
            TcpOption::Mss(1460),
            TcpOption::WindowScale(14),
            TcpOption::SackPermitted,
            sack(&[(1, 2), (3, 4)]),
            TcpOption::Timestamps { tsval: 5, tsecr: 6 },
            TcpOption::Mss(536),
        ],
        ..TcpRepr::default()
    };
    assert_eq!(r.mss(), Some(1460));
    assert_eq!(r.window_scale(), Some(14));
    assert!(r.sack_permitted());
    assert_eq!(
        r.sack_blocks(),
        &[
            SackBlock {
                left: SeqNumber(1),
                right: SeqNumber(2)
            },
            SackBlock {
                left: SeqNumber(3),
                right: SeqNumber(4)
            }
        ]
    );
    assert_eq!(r.timestamps(), Some((5, 6)));

    // RFC 9293 3.2: nothing after EOL counts.
    let r = TcpRepr {
        options: vec![
            TcpOption::EndOfList,
            TcpOption::Mss(1460),
            TcpOption::SackPermitted,
        ],
        ..TcpRepr::default()
    };
    assert_eq!(r.mss(), None);
    assert!(!r.sack_permitted());
    assert!(r.sack_blocks().is_empty());
    assert_eq!(r.timestamps(), None);
    assert_eq!(r.window_scale(), None);
}

#[test]
fn options_at_any_alignment() {
    // MUST-64: a timestamps option at an odd offset, after one NOP and a window scale.
    let area = [1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 9, 0, 0];
    let seg = Segment::parse(&v4_with_option_area(&area)).unwrap();
    assert_eq!(seg.tcp.timestamps(), Some((1, 2)));
    assert_eq!(seg.tcp.window_scale(), Some(9));
    assert_eq!(seg.tcp.padding, vec![0]);
}

#[test]
fn unknown_option_with_known_kind_sends_a_malformed_option() {
    // The harness's way to put an MSS of length 3 on the wire; our own parser rejects it.
    let r = TcpRepr {
        options: vec![TcpOption::Unknown {
            kind: 2,
            data: vec![5],
        }],
        ..TcpRepr::default()
    };
    let (s, d) = addrs(false);
    let b = r.emit(s, d);
    assert_eq!(b[20..24], [2, 3, 5, 0]);
    assert_eq!(
        TcpRepr::parse(&b, s, d, ChecksumCheck::Verify),
        Err(WireError::TcpOptionBadLength { kind: 2, len: 3 })
    );
}

#[test]
fn constructors_have_sensible_defaults() {
    let v4 = Ipv4Repr::new(V4_SRC, V4_DST);
    assert_eq!((v4.ttl, v4.dont_frag, v4.reserved_flag), (64, true, false));
    assert!(v4.options.is_empty());
    let v6 = Ipv6Repr::new(V6_SRC, V6_DST);
    assert_eq!((v6.hop_limit, v6.flow_label, v6.traffic_class), (64, 0, 0));

    let src = SocketAddr::new(V4_SRC.into(), 1234);
    let dst = SocketAddr::new(V4_DST.into(), 80);
    let seg = Segment::new(src, dst, TcpRepr::default()).unwrap();
    assert_eq!((seg.src(), seg.dst()), (src, dst));
    assert!(matches!(seg.ip, IpRepr::V4(_)));
    let src6 = SocketAddr::new(V6_SRC.into(), 1234);
    let dst6 = SocketAddr::new(V6_DST.into(), 80);
    let seg6 = Segment::new(src6, dst6, TcpRepr::default()).unwrap();
    assert!(matches!(seg6.ip, IpRepr::V6(_)));
    assert_eq!(Segment::parse(&seg6.emit()), Ok(seg6));
    assert_eq!(
        Segment::new(src, dst6, TcpRepr::default()),
        Err(WireError::AddressFamilyMismatch)
    );
}

#[test]
fn security_level_finds_the_basic_security_option() {
    let mut ip = Ipv4Repr::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
    assert_eq!(ip.security_level(), None);
    // RFC 1108: type 130, length 3, classification level (0x5a = SECRET), then EOL.
    ip.options = vec![130, 3, 0x5a, 0];
    assert_eq!(ip.security_level(), Some(0x5a));
    // After a NOP and a record-route option (type 7, length 7).
    ip.options = vec![1, 7, 7, 4, 0, 0, 0, 0, 130, 4, 0x3d, 0x80];
    assert_eq!(ip.security_level(), Some(0x3d));
    // Behind EOL, or with a bad length before it: not found.
    ip.options = vec![0, 130, 3, 0x5a];
    assert_eq!(ip.security_level(), None);
    ip.options = vec![7, 1, 130, 3, 0x5a, 0, 0, 0];
    assert_eq!(ip.security_level(), None);
    ip.options = vec![130, 2, 0, 0];
    assert_eq!(ip.security_level(), None);
    // Kept through a round trip.
    ip.options = vec![130, 3, 0xab, 0];
    let seg = Segment {
        ip: IpRepr::V4(ip),
        tcp: TcpRepr::default(),
    };
    let IpRepr::V4(parsed) = Segment::parse(&seg.emit()).unwrap().ip else {
        panic!()
    };
    assert_eq!(parsed.security_level(), Some(0xab));
}

#[test]
fn ip_emit_normalises_what_cannot_be_sent() {
    // IPv4 options zero-filled to 4 octets; IPv6 extension headers chained and padded to 8.
    let mut v4 = Ipv4Repr::new(V4_SRC, V4_DST);
    v4.options = vec![1, 1, 1, 1, 130];
    let seg = Segment {
        ip: IpRepr::V4(v4.clone()),
        tcp: TcpRepr::default(),
    };
    let IpRepr::V4(back) = Segment::parse(&seg.emit()).unwrap().ip else {
        panic!()
    };
    assert_eq!(back.options, vec![1, 1, 1, 1, 130, 0, 0, 0]);
    v4.options = vec![1; 44];
    let seg = Segment {
        ip: IpRepr::V4(v4),
        tcp: TcpRepr::default(),
    };
    assert_eq!(
        seg.try_emit(),
        Err(WireError::Ipv4OptionsTooLong { len: 44 })
    );
    assert_eq!(seg.emit().len(), 80);

    let mut v6 = Ipv6Repr::new(V6_SRC, V6_DST);
    v6.ext_headers = vec![
        Ipv6ExtHeader {
            kind: 60,
            bytes: vec![],
        },
        Ipv6ExtHeader {
            kind: 43,
            bytes: vec![99, 99, 0, 0, 0, 0, 0, 0, 7],
        },
    ];
    let seg = Segment {
        ip: IpRepr::V6(v6),
        tcp: TcpRepr::default(),
    };
    let IpRepr::V6(back) = Segment::parse(&seg.emit()).unwrap().ip else {
        panic!()
    };
    assert_eq!(back.ext_headers[0].bytes, vec![43, 0, 0, 0, 0, 0, 0, 0]);
    let mut second = vec![6, 1, 0, 0, 0, 0, 0, 0, 7];
    second.resize(16, 0);
    assert_eq!(back.ext_headers[1].bytes, second);
}

#[test]
fn too_long_packets_are_rejected_by_try_emit() {
    let seg = Segment {
        ip: IpRepr::V4(Ipv4Repr::new(V4_SRC, V4_DST)),
        tcp: TcpRepr {
            payload: vec![0; 65_535 - 40 + 1],
            ..TcpRepr::default()
        },
    };
    assert_eq!(
        seg.try_emit(),
        Err(WireError::PacketTooLong { len: 65_536 })
    );
    let seg = Segment {
        ip: IpRepr::V6(Ipv6Repr::new(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST)),
        tcp: TcpRepr {
            payload: vec![0; 65_535 - 20],
            ..TcpRepr::default()
        },
    };
    assert!(seg.try_emit().is_ok());
}
