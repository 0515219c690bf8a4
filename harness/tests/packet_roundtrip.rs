//! build -> observe round trips, malformed options, checksums, header lies, render and diff
//! snapshots. etherparse serves as an independent decoder for the cross-checks.

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use tcpconform::packet::diff::{field_table, field_table_marked};
use tcpconform::packet::observe::without_eol;
use tcpconform::packet::spec::{ChecksumSpec, IpFields, ObservedOption, OptionSpec, PacketSpec};
use tcpconform::packet::{build, observe, render, render_spec, ObserveError, Relative};

const SYN: u16 = 0x002;
const ACK: u16 = 0x010;
const PSH: u16 = 0x008;
const RST: u16 = 0x004;

fn spec(src: &str, dst: &str) -> PacketSpec {
    PacketSpec {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        seq: 0x0102_0304,
        ack: 0xa0b0_c0d0,
        flags: SYN | ACK,
        window: 65535,
        urgent: 0,
        reserved: 0,
        options: Vec::new(),
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    }
}

fn v4() -> PacketSpec {
    spec("192.0.2.1:40000", "192.0.2.2:80")
}

fn v6() -> PacketSpec {
    spec("[2001:db8::1]:40000", "[2001:db8::2]:80")
}

fn every_option() -> Vec<OptionSpec> {
    vec![
        OptionSpec::Mss(1460),
        OptionSpec::Nop,
        OptionSpec::WindowScale(7),
        OptionSpec::SackPermitted,
        OptionSpec::Timestamps {
            tsval: 1,
            tsecr: 0xdead_beef,
        },
        OptionSpec::Sack(vec![(0xffff_fff0, 5)]),
        OptionSpec::Unknown {
            kind: 30,
            data: vec![0xaa, 0xbb],
        },
        OptionSpec::Eol,
    ]
}

fn every_option_observed() -> Vec<ObservedOption> {
    vec![
        ObservedOption::Mss(1460),
        ObservedOption::Nop,
        ObservedOption::WindowScale(7),
        ObservedOption::SackPermitted,
        ObservedOption::Timestamps {
            tsval: 1,
            tsecr: 0xdead_beef,
        },
        ObservedOption::Sack(vec![(0xffff_fff0, 5)]),
        ObservedOption::Unknown {
            kind: 30,
            data: vec![0xaa, 0xbb],
        },
        ObservedOption::Eol,
    ]
}

/// Decode with etherparse and check it agrees with the spec and the observer.
fn cross_check(p: &PacketSpec, bytes: &[u8]) {
    let sliced = SlicedPacket::from_ip(bytes).expect("etherparse decodes the packet");
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("etherparse found no TCP");
    };
    assert_eq!(tcp.source_port(), p.src.port());
    assert_eq!(tcp.destination_port(), p.dst.port());
    assert_eq!(tcp.sequence_number(), p.seq);
    assert_eq!(tcp.acknowledgment_number(), p.ack);
    assert_eq!(tcp.window_size(), p.window);
    assert_eq!(tcp.payload(), &p.payload[..]);
    let expected_sum = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
            tcp.calc_checksum_ipv4(h.source(), h.destination()).unwrap()
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            tcp.calc_checksum_ipv6(h.source(), h.destination()).unwrap()
        }
        _ => panic!("etherparse found no IP header"),
    };
    assert_eq!(
        tcp.checksum(),
        expected_sum,
        "etherparse disagrees on the TCP checksum"
    );
}

fn roundtrip(mut p: PacketSpec) {
    p.options = every_option();
    p.payload = b"hello, tcp".to_vec();
    p.urgent = 3;
    p.ip.ttl = Some(17);
    p.ip.tos = Some(0x28);
    let bytes = build(&p);
    cross_check(&p, &bytes);
    let o = observe(&bytes).unwrap();
    assert_eq!(o.src, p.src);
    assert_eq!(o.dst, p.dst);
    assert_eq!(o.ttl, 17);
    assert_eq!(o.tos, 0x28);
    assert_eq!(
        (o.seq, o.ack, o.flags, o.window, o.urgent),
        (p.seq, p.ack, p.flags, 65535, 3)
    );
    assert_eq!(o.reserved, 0);
    // 4 + 1 + 3 + 2 + 10 + 10 + 4 + 1 = 35 option octets, padded to 36: 14 words.
    assert_eq!(o.data_offset, 14);
    assert_eq!(o.payload, p.payload);
    assert_eq!(o.options, every_option_observed());
    assert!(o.checksum_ok);
    assert_eq!(o.raw, bytes);
}

#[test]
fn roundtrip_ipv4_every_option() {
    roundtrip(v4());
}

#[test]
fn roundtrip_ipv6_every_option() {
    roundtrip(v6());
}

#[test]
fn oversized_option_area_saturates_and_is_still_written() {
    for mut p in [v4(), v6()] {
        // 4 * 10 + 2 * 4 = 48 octets: more than the 40 a header can hold.
        p.options = vec![OptionSpec::Sack(vec![
            (1, 2),
            (3, 4),
            (5, 6),
            (7, 8),
            (9, 10),
        ])];
        let bytes = build(&p);
        let o = observe(&bytes).unwrap();
        assert_eq!(o.data_offset, 15);
        // The option claims 42 octets but only 40 fit in the header.
        assert!(
            matches!(&o.options[..], [ObservedOption::Malformed { kind: 5, bytes }] if bytes.len() == 40)
        );
        // The last 4 octets (the end of the fifth block, then padding) spill into the payload.
        assert_eq!(o.payload, [0, 10, 0, 0]);
        assert!(o.checksum_ok);
    }
}

#[test]
fn roundtrip_sack_blocks() {
    for mut p in [v4(), v6()] {
        let blocks = vec![(10, 20), (30, 40), (0xffff_fff0, 5), (u32::MAX, 0)];
        p.options = vec![
            OptionSpec::Nop,
            OptionSpec::Nop,
            OptionSpec::Sack(blocks.clone()),
        ];
        let o = observe(&build(&p)).unwrap();
        assert_eq!(o.data_offset, 14);
        assert_eq!(
            o.options,
            [
                ObservedOption::Nop,
                ObservedOption::Nop,
                ObservedOption::Sack(blocks)
            ]
        );
    }
}

#[test]
fn roundtrip_small_option_set_and_payload() {
    for mut p in [v4(), v6()] {
        p.flags = PSH | ACK;
        p.options = vec![
            OptionSpec::Nop,
            OptionSpec::Nop,
            OptionSpec::Timestamps { tsval: 5, tsecr: 6 },
        ];
        p.payload = vec![7; 100];
        let bytes = build(&p);
        cross_check(&p, &bytes);
        let o = observe(&bytes).unwrap();
        assert_eq!(o.data_offset, 8);
        assert_eq!(o.payload, p.payload);
        assert!(o.checksum_ok);
    }
}

#[test]
fn every_flag_bit_and_reserved_bits_survive() {
    for flags in [0x000, 0x001, 0x080, 0x100, 0x1ff] {
        let mut p = v4();
        p.flags = flags;
        p.reserved = 0b101;
        let o = observe(&build(&p)).unwrap();
        assert_eq!(o.flags, flags);
        assert_eq!(o.reserved, 0b101);
        assert!(o.checksum_ok);
    }
}

#[test]
fn ip_fields_are_written() {
    let mut p = v4();
    p.ip = IpFields {
        ttl: Some(1),
        tos: Some(0x10),
        dont_frag: Some(false),
        ident: Some(0x4242),
        flow_label: None,
        // RFC 1108 basic security option (kind 130, length 3 here), padded to 4.
        ipv4_options: vec![0x82, 0x03, 0x01],
    };
    let bytes = build(&p);
    assert_eq!(bytes[0], 0x46, "IHL 6 for a padded 3-octet option");
    assert_eq!(&bytes[4..8], &[0x42, 0x42, 0x00, 0x00], "ident, DF clear");
    assert_eq!(&bytes[20..24], &[0x82, 0x03, 0x01, 0x00]);
    cross_check(&p, &bytes);
    assert!(observe(&bytes).unwrap().checksum_ok);

    let mut p = v6();
    p.ip.flow_label = Some(0xabcde);
    p.ip.tos = Some(0xb8);
    let bytes = build(&p);
    assert_eq!(&bytes[0..4], &[0x6b, 0x8a, 0xbc, 0xde]);
    assert_eq!(observe(&bytes).unwrap().tos, 0xb8);
}

#[test]
fn default_ipv4_sets_df_and_ttl_64() {
    let bytes = build(&v4());
    assert_eq!(bytes[6] & 0x40, 0x40);
    assert_eq!(bytes[8], 64);
}

#[test]
fn malformed_options_are_observed_as_malformed() {
    let cases: Vec<(Vec<u8>, Vec<ObservedOption>)> = vec![
        // MSS with length 5: wrong for its kind, walk continues.
        (
            vec![2, 5, 1, 2, 3, 1],
            // The zero padding after it reads as End of Option List.
            vec![
                ObservedOption::Malformed {
                    kind: 2,
                    bytes: vec![2, 5, 1, 2, 3],
                },
                ObservedOption::Nop,
                ObservedOption::Eol,
            ],
        ),
        // Length below 2: the rest is one malformed option.
        (
            vec![30, 1, 1, 1],
            vec![ObservedOption::Malformed {
                kind: 30,
                bytes: vec![30, 1, 1, 1],
            }],
        ),
        // Length octet missing (kind is the last octet before padding is zero... use Nops).
        (
            vec![1, 1, 1, 8],
            vec![
                ObservedOption::Nop,
                ObservedOption::Nop,
                ObservedOption::Nop,
                ObservedOption::Malformed {
                    kind: 8,
                    bytes: vec![8],
                },
            ],
        ),
        // Timestamps claiming 20 octets in an 8-octet area.
        (
            vec![8, 20, 0, 0, 0, 0, 0, 0],
            vec![ObservedOption::Malformed {
                kind: 8,
                bytes: vec![8, 20, 0, 0, 0, 0, 0, 0],
            }],
        ),
        // SACK with no blocks, window scale of length 4.
        (
            vec![5, 2, 3, 4, 9, 9],
            vec![
                ObservedOption::Malformed {
                    kind: 5,
                    bytes: vec![5, 2],
                },
                ObservedOption::Malformed {
                    kind: 3,
                    bytes: vec![3, 4, 9, 9],
                },
                ObservedOption::Eol,
            ],
        ),
    ];
    for (raw, want) in cases {
        for mut p in [v4(), v6()] {
            p.options = vec![OptionSpec::Raw(raw.clone())];
            let o = observe(&build(&p)).unwrap();
            assert_eq!(o.options, want, "options {raw:?}");
            assert!(o.checksum_ok);
        }
    }
}

#[test]
fn bad_checksum_is_flagged() {
    for mut p in [v4(), v6()] {
        p.checksum = ChecksumSpec::Bad;
        assert!(!observe(&build(&p)).unwrap().checksum_ok);

        p.checksum = ChecksumSpec::Value(0x1234);
        let bytes = build(&p);
        let tcp_at = bytes.len() - 20;
        assert_eq!(&bytes[tcp_at + 16..tcp_at + 18], &[0x12, 0x34]);
        assert!(!observe(&bytes).unwrap().checksum_ok);

        // Corrupt one payload bit of a correct packet.
        p.checksum = ChecksumSpec::Correct;
        p.payload = vec![1, 2, 3];
        let mut bytes = build(&p);
        assert!(observe(&bytes).unwrap().checksum_ok);
        if let Some(last) = bytes.last_mut() {
            *last ^= 0x80;
        }
        assert!(!observe(&bytes).unwrap().checksum_ok);
    }
}

#[test]
fn data_offset_lies_are_emitted_as_asked() {
    let mut p = v4();
    p.data_offset = Some(15);
    p.payload = vec![9; 4];
    let bytes = build(&p);
    assert_eq!(bytes.len(), 20 + 20 + 4, "the lie does not add octets");
    assert_eq!(bytes[20 + 12] >> 4, 15);
    let o = observe(&bytes).unwrap();
    assert_eq!(o.data_offset, 15);
    assert!(o.payload.is_empty(), "the payload is read as options");
    assert!(o.checksum_ok);

    p.data_offset = Some(2);
    let o = observe(&build(&p)).unwrap();
    assert_eq!(o.data_offset, 2);
    assert_eq!(o.payload, vec![9; 4]);
}

#[test]
fn raw_is_sent_verbatim() {
    let mut p = v4();
    p.raw = Some(vec![0x45, 0, 0, 1]);
    assert_eq!(build(&p), vec![0x45, 0, 0, 1]);
    assert_eq!(
        observe(&build(&p)),
        Err(ObserveError::Truncated("IPv4 header"))
    );
    assert_eq!(render_spec(&p, None), "raw 4 bytes: truncated IPv4 header");
}

#[test]
fn observe_rejects_non_tcp_and_fragments() {
    let mut bytes = build(&v4());
    bytes[9] = 17;
    assert_eq!(observe(&bytes), Err(ObserveError::NotTcp(17)));
    let mut bytes = build(&v4());
    bytes[6] |= 0x20; // more fragments
    assert_eq!(observe(&bytes), Err(ObserveError::Fragment));
    assert_eq!(observe(&[0x55]), Err(ObserveError::UnknownVersion(5)));
    assert_eq!(observe(&[]), Err(ObserveError::Truncated("IP header")));
}

#[test]
fn observe_ignores_link_padding() {
    let mut bytes = build(&v4());
    bytes.extend_from_slice(&[0; 6]);
    let o = observe(&bytes).unwrap();
    assert!(o.payload.is_empty());
    assert!(o.checksum_ok);
}

#[test]
fn observe_never_panics_on_mangled_input() {
    let mut p = v6();
    p.options = every_option();
    p.payload = vec![1; 8];
    let mut v6_bytes = build(&p);
    p.src = "10.0.0.1:1".parse().unwrap();
    p.dst = "10.0.0.2:2".parse().unwrap();
    let v4_bytes = build(&p);
    for bytes in [&v4_bytes, &v6_bytes] {
        for cut in 0..=bytes.len() {
            let _ = observe(&bytes[..cut]);
        }
    }
    // Deterministic mutations (xorshift), including IPv6 next-header chains.
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let at = x as usize % v6_bytes.len();
        v6_bytes[at] = (x >> 8) as u8;
        let _ = observe(&v6_bytes);
    }
}

fn rel_for(p: &PacketSpec) -> Relative {
    Relative {
        seq_base: p.seq,
        ack_base: p.ack.wrapping_sub(1),
    }
}

#[test]
fn render_syn_ack_snapshot() {
    let mut p = v4();
    p.options = vec![
        OptionSpec::Mss(1460),
        OptionSpec::SackPermitted,
        OptionSpec::Timestamps {
            tsval: 1,
            tsecr: 100,
        },
        OptionSpec::Nop,
        OptionSpec::WindowScale(7),
    ];
    let rel = rel_for(&p);
    let o = observe(&build(&p)).unwrap();
    assert_eq!(
        render(&o, Some(rel)),
        "SA seq 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 1 ecr 100,nop,wscale 7>"
    );
    assert_eq!(render_spec(&p, Some(rel)), render(&o, Some(rel)));
    assert_eq!(
        render(&o, None),
        "SA seq 16909060:16909060(0) ack 2695938256 win 65535 \
         <mss 1460,sackOK,TS val 1 ecr 100,nop,wscale 7>"
    );
}

#[test]
fn render_payload_and_oddities_snapshot() {
    let mut p = v6();
    p.flags = PSH | ACK;
    p.seq = p.seq.wrapping_add(1);
    p.window = 502;
    p.payload = vec![0; 100];
    let rel = Relative {
        seq_base: p.seq.wrapping_sub(1),
        ack_base: p.ack.wrapping_sub(1),
    };
    assert_eq!(
        render_spec(&p, Some(rel)),
        "PA seq 1:101(100) ack 1 win 502"
    );

    p.flags = RST;
    p.ack = 0;
    p.payload.clear();
    p.reserved = 2;
    p.checksum = ChecksumSpec::Bad;
    p.options = vec![
        OptionSpec::Raw(vec![2, 3, 0]),
        OptionSpec::Unknown {
            kind: 253,
            data: vec![],
        },
    ];
    assert_eq!(
        render_spec(&p, Some(rel)),
        "R seq 1:1(0) win 502 <malformed2 020300,opt253 -,eol> res 0x2 bad cksum"
    );
    p.options = vec![
        OptionSpec::Unknown {
            kind: 253,
            data: vec![1, 2],
        },
        OptionSpec::Sack(vec![(rel.ack_base + 1, rel.ack_base + 11)]),
    ];
    p.flags = 0;
    p.checksum = ChecksumSpec::Correct;
    p.reserved = 0;
    assert_eq!(
        render_spec(&p, Some(rel)),
        ". seq 1:1(0) win 502 <opt253 0102,sack 1:11,eol>"
    );
}

#[test]
fn diff_table_snapshot() {
    let mut p = v4();
    p.flags = RST;
    p.seq = 3_105_729;
    p.ack = 12_346;
    let o = observe(&build(&p)).unwrap();
    let rel = Relative {
        seq_base: 3_105_729,
        ack_base: 12_345,
    };
    let expected = vec![
        ("flags".to_string(), "SA".to_string()),
        ("ack".to_string(), "1 (abs 12346)".to_string()),
        ("win".to_string(), "65535".to_string()),
        ("ttl".to_string(), "64".to_string()),
    ];
    let table = field_table(&expected, &o, Some(rel));
    let want = [
        "            expected       received",
        "  flags     SA             R                <- differs",
        "  seq       *              0 (abs 3105729)",
        "  ack       1 (abs 12346)  1 (abs 12346)",
        "  win       65535          65535",
        "  options   *              none",
        "  len       *              0",
        "  ttl       64             64",
        "",
    ]
    .join("\n");
    assert_eq!(table, want, "got:\n{table}");

    // The matcher's own verdict wins over the text comparison.
    let marked = field_table_marked(&expected, &o, Some(rel), &["window"]);
    let flagged: Vec<&str> = marked
        .lines()
        .filter(|l| l.ends_with("<- differs"))
        .collect();
    assert_eq!(flagged.len(), 1);
    assert!(flagged[0].trim_start().starts_with("win "), "{marked}");

    // A bare relative number matches the received text's first word.
    let short = vec![("ack".to_string(), "1".to_string())];
    assert!(!field_table(&short, &o, Some(rel)).contains("differs"));
}

/// xorshift32: deterministic pseudo-random numbers for the randomized round trip.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

#[test]
fn randomized_roundtrip() {
    let mut rng = Rng(0x2545_f491);
    for i in 0..2_000 {
        let mut p = if i % 2 == 0 { v4() } else { v6() };
        p.seq = rng.next();
        p.ack = rng.next();
        p.flags = (rng.next() & 0x1ff) as u16;
        p.window = rng.next() as u16;
        p.urgent = rng.next() as u16;
        p.reserved = (rng.next() & 7) as u8;
        // Well-formed options that fit in 40 octets, in a random order and subset.
        let pool = [
            (4, OptionSpec::Mss(rng.next() as u16)),
            (3, OptionSpec::WindowScale(rng.next() as u8)),
            (2, OptionSpec::SackPermitted),
            (
                10,
                OptionSpec::Timestamps {
                    tsval: rng.next(),
                    tsecr: rng.next(),
                },
            ),
            (1, OptionSpec::Nop),
            (10, OptionSpec::Sack(vec![(rng.next(), rng.next())])),
        ];
        let mut len = 0;
        p.options.clear();
        for (size, option) in pool {
            if rng.next() % 2 == 0 && len + size <= 40 {
                len += size;
                p.options.push(option);
            }
        }
        p.payload = (0..rng.next() % 64).map(|_| rng.next() as u8).collect();

        let bytes = build(&p);
        let o = observe(&bytes).unwrap();
        assert_eq!(
            (o.seq, o.ack, o.flags, o.window, o.urgent, o.reserved),
            (p.seq, p.ack, p.flags, p.window, p.urgent, p.reserved)
        );
        assert_eq!(o.payload, p.payload);
        assert!(o.checksum_ok);
        let want: Vec<ObservedOption> = p
            .options
            .iter()
            .map(|opt| match opt {
                OptionSpec::Mss(m) => ObservedOption::Mss(*m),
                OptionSpec::WindowScale(s) => ObservedOption::WindowScale(*s),
                OptionSpec::SackPermitted => ObservedOption::SackPermitted,
                OptionSpec::Timestamps { tsval, tsecr } => ObservedOption::Timestamps {
                    tsval: *tsval,
                    tsecr: *tsecr,
                },
                OptionSpec::Sack(b) => ObservedOption::Sack(b.clone()),
                _ => ObservedOption::Nop,
            })
            .collect();
        assert_eq!(without_eol(&o.options), &want[..], "{p:?}");
        if i % 97 == 0 {
            cross_check(&p, &bytes);
        }
    }
}

/// MUST-69: the octets after End of Option List are kept as `padding`, and `padding: zero`
/// fails on anything but zeros.
#[test]
fn padding_after_eol_is_observed_and_matched() {
    use tcpconform::case::load::load_str;
    use tcpconform::case::model::StepKind;
    use tcpconform::run::conn::ConnView;
    use tcpconform::run::matching::check;
    let case = "id: t/p\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  \
                - expect: { options: { padding: zero } }\n";
    let cases = load_str(std::path::Path::new("t.yaml"), case).expect("loads");
    let StepKind::Expect(expect) = &cases[0].steps[0].kind else {
        panic!("not an expect")
    };
    let conn = ConnView::new(0, false);
    for (pad, ok) in [
        (vec![0, 0, 0], true),
        (vec![0, 0xff, 0], false),
        (vec![], true),
    ] {
        let mut s = v4();
        // MSS, EOL, then the padding octets as given (raw, so nothing is normalised).
        let mut area = vec![2, 4, 5, 180];
        if !pad.is_empty() {
            area.push(0);
            area.extend_from_slice(&pad);
        }
        s.options = vec![OptionSpec::Raw(area)];
        let o = observe(&build(&s)).expect("observes");
        let expected_padding: &[u8] = if pad.is_empty() { &[] } else { &pad };
        assert_eq!(o.padding, expected_padding);
        assert_eq!(check(expect, &o, &conn).matched(), ok, "padding {pad:?}");
    }
}
