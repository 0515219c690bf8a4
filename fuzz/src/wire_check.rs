//! Checks on one IP packet: our parser against itself (parse/emit round trip) and against
//! etherparse (differential). Every check panics with a message naming the field, which is how
//! libFuzzer learns about it.
//!
//! Intended differences from etherparse, where a disagreement is not a bug (see fuzz/README.md):
//!
//! - Checksums: etherparse does not verify the IPv4 header or TCP checksum; we do unless told
//!   `ChecksumCheck::Ignore`. Only packets both accept are compared.
//! - TCP options: etherparse stops at the first option it does not know (MPTCP, TFO, kind 253...)
//!   with `UnknownId`; we keep it as `TcpOption::Unknown` (MUST-6) and go on. We reject a known
//!   option with a wrong length (MUST-7: the segment is dropped); etherparse accepts the header
//!   and reports the error only when its option iterator reaches it. So options are compared
//!   up to etherparse's first error, and that error must sit on one of our `Unknown` options.
//! - EOL: etherparse's iterator ends at End of Option List; we report it as `EndOfList` and keep
//!   what follows as `padding`.
//! - IPv4: etherparse has no field for the reserved ("evil") flag bit; we keep it. We reject
//!   fragments (no reassembly); etherparse decodes the first fragment's header but gives no TCP
//!   header for it, so such packets are never compared.
//! - IPv6: we walk hop-by-hop, routing and destination options only and reject a fragment
//!   header; etherparse also knows fragment and authentication headers. Extension headers are
//!   not compared field by field (we keep them raw), only the fixed header and the TCP segment.

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};
use reference_stack::wire::{IpRepr, SackBlock, Segment, SeqNumber, TcpFlags, TcpOption};

/// What etherparse made of a packet that our parser accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Etherparse {
    /// Parsed to IP + TCP, and every field it decodes agrees with ours.
    Agrees,
    /// Rejected the packet, or found no TCP header in it.
    Rejected,
}

/// Compares `seg` (our parse of `bytes`) with etherparse's parse of the same bytes. Panics on
/// any disagreement on a field both decode.
///
/// etherparse's zero-copy `SlicedPacket` is used rather than its owned `PacketHeaders`: they
/// accept the same packets, but `PacketHeaders` copies every (fixed-size, kilobyte-sized)
/// IPv6 extension header array, which was a fifth of the state machine target's time.
pub fn differential(seg: &Segment, bytes: &[u8]) -> Etherparse {
    let Ok(p) = SlicedPacket::from_ip(bytes) else {
        return Etherparse::Rejected;
    };
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        return Etherparse::Rejected;
    };
    match (&p.net, &seg.ip) {
        (Some(NetSlice::Ipv4(e)), IpRepr::V4(o)) => {
            let e = e.header();
            assert_eq!(e.source(), o.src.octets(), "IPv4 source");
            assert_eq!(e.destination(), o.dst.octets(), "IPv4 destination");
            assert_eq!(
                e.dcp().value() << 2 | e.ecn().value(),
                o.dscp_ecn,
                "IPv4 DSCP/ECN"
            );
            assert_eq!(e.identification(), o.ident, "IPv4 identification");
            assert_eq!(e.dont_fragment(), o.dont_frag, "IPv4 DF");
            assert!(
                !e.more_fragments(),
                "etherparse: MF on a packet we accepted"
            );
            assert_eq!(e.fragments_offset().value(), 0, "IPv4 fragment offset");
            assert_eq!(e.ttl(), o.ttl, "IPv4 TTL");
            assert_eq!(e.options(), o.options.as_slice(), "IPv4 options");
        }
        (Some(NetSlice::Ipv6(e)), IpRepr::V6(o)) => {
            let e = e.header();
            assert_eq!(e.source(), o.src.octets(), "IPv6 source");
            assert_eq!(e.destination(), o.dst.octets(), "IPv6 destination");
            assert_eq!(e.traffic_class(), o.traffic_class, "IPv6 traffic class");
            assert_eq!(e.flow_label().value(), o.flow_label, "IPv6 flow label");
            assert_eq!(e.hop_limit(), o.hop_limit, "IPv6 hop limit");
        }
        (net, _) => panic!("IP version differs: etherparse {net:?}, ours {:?}", seg.ip),
    }
    let o = &seg.tcp;
    assert_eq!(t.source_port(), o.src_port, "TCP source port");
    assert_eq!(t.destination_port(), o.dst_port, "TCP destination port");
    assert_eq!(t.sequence_number(), o.seq.0, "TCP sequence number");
    assert_eq!(
        t.acknowledgment_number(),
        o.ack.0,
        "TCP acknowledgment number"
    );
    let flag = |f: TcpFlags| o.flags.contains(f);
    assert_eq!(t.ns(), flag(TcpFlags::AE), "TCP AE (NS)");
    assert_eq!(t.cwr(), flag(TcpFlags::CWR), "TCP CWR");
    assert_eq!(t.ece(), flag(TcpFlags::ECE), "TCP ECE");
    assert_eq!(t.urg(), flag(TcpFlags::URG), "TCP URG");
    assert_eq!(t.ack(), flag(TcpFlags::ACK), "TCP ACK");
    assert_eq!(t.psh(), flag(TcpFlags::PSH), "TCP PSH");
    assert_eq!(t.rst(), flag(TcpFlags::RST), "TCP RST");
    assert_eq!(t.syn(), flag(TcpFlags::SYN), "TCP SYN");
    assert_eq!(t.fin(), flag(TcpFlags::FIN), "TCP FIN");
    assert_eq!(t.window_size(), o.window, "TCP window");
    assert_eq!(t.urgent_pointer(), o.urgent, "TCP urgent pointer");
    assert_eq!(
        t.header_len(),
        20 + t.options().len(),
        "etherparse header length"
    );
    assert_eq!(t.payload(), o.payload.as_slice(), "TCP payload");
    compare_options(t.options_iterator(), &o.options);
    Etherparse::Agrees
}

/// Walks etherparse's options next to ours, up to its first error or its end (EOL).
fn compare_options(
    theirs: impl Iterator<Item = Result<TcpOptionElement, etherparse::TcpOptionReadError>>,
    ours: &[TcpOption],
) {
    let mut ours = ours.iter();
    for (i, elem) in theirs.enumerate() {
        let mine = ours.next();
        let elem = match elem {
            Ok(e) => e,
            Err(e) => {
                // Only an option kind etherparse does not know may stop it on a header we
                // accepted: we reject every known option with a bad length.
                assert!(
                    matches!(mine, Some(TcpOption::Unknown { .. })),
                    "option {i}: etherparse error {e:?} where we parsed {mine:?}"
                );
                return;
            }
        };
        let same = match (&elem, mine) {
            (TcpOptionElement::Noop, Some(TcpOption::NoOperation)) => true,
            (TcpOptionElement::MaximumSegmentSize(a), Some(TcpOption::Mss(b))) => a == b,
            (TcpOptionElement::WindowScale(a), Some(TcpOption::WindowScale(b))) => a == b,
            (
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                Some(TcpOption::SackPermitted),
            ) => true,
            (TcpOptionElement::SelectiveAcknowledgement(first, rest), Some(TcpOption::Sack(b))) => {
                let blocks: Vec<SackBlock> = core::iter::once(Some(*first))
                    .chain(rest.iter().copied())
                    .flatten()
                    .map(|(l, r)| SackBlock {
                        left: SeqNumber(l),
                        right: SeqNumber(r),
                    })
                    .collect();
                &blocks == b
            }
            (TcpOptionElement::Timestamp(v, e), Some(TcpOption::Timestamps { tsval, tsecr })) => {
                v == tsval && e == tsecr
            }
            _ => false,
        };
        assert!(same, "option {i}: etherparse {elem:?}, ours {mine:?}");
    }
    // etherparse ended cleanly: at EOL or at the end of the option area.
    let rest = ours.next();
    assert!(
        matches!(rest, None | Some(TcpOption::EndOfList)),
        "etherparse saw no more options, we have {rest:?}"
    );
}

/// `parse(emit(seg)) == seg`, and `emit(seg)` is the input itself (up to the IP length) when
/// the input's checksums were right: our parser keeps every field, so a valid packet is its
/// own canonical form.
pub fn round_trip(seg: &Segment, bytes: &[u8], checksums_ok: bool) {
    let emitted = seg.emit();
    let again = Segment::parse(&emitted)
        .unwrap_or_else(|e| panic!("emit of a parsed segment does not parse: {e}"));
    assert_eq!(&again, seg, "parse(emit(parse(x))) != parse(x)");
    if checksums_ok {
        assert_eq!(
            bytes.get(..emitted.len()),
            Some(emitted.as_slice()),
            "emit(parse(x)) != x for a packet with valid checksums"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reference_stack::wire::TcpRepr;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    fn syn(src: SocketAddr, dst: SocketAddr) -> Segment {
        let tcp = TcpRepr {
            seq: SeqNumber(1000),
            flags: TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR,
            window: 65_535,
            options: vec![
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamps { tsval: 1, tsecr: 0 },
                TcpOption::NoOperation,
                TcpOption::WindowScale(7),
            ],
            payload: b"hi".to_vec(),
            ..TcpRepr::default()
        };
        Segment::new(src, dst, tcp).expect("same family")
    }

    #[test]
    fn etherparse_agrees_on_our_syn_over_both_families() {
        let v4 = syn(
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 1),
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 2),
        );
        let v6 = syn(
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 1),
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 2),
        );
        for seg in [v4, v6] {
            let bytes = seg.emit();
            assert_eq!(differential(&seg, &bytes), Etherparse::Agrees);
            round_trip(&seg, &bytes, true);
        }
    }

    #[test]
    #[should_panic(expected = "TCP window")]
    fn differential_reports_a_field_that_differs() {
        let seg = syn(
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 1),
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 2),
        );
        let bytes = seg.emit();
        let mut wrong = seg.clone();
        wrong.tcp.window = 1;
        differential(&wrong, &bytes);
    }

    #[test]
    fn an_unknown_option_stops_the_comparison_only_there() {
        let mut seg = syn(
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 1),
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 2),
        );
        seg.tcp.options.insert(
            1,
            TcpOption::Unknown {
                kind: 30,
                data: vec![0; 2],
            },
        );
        let bytes = seg.emit();
        let parsed = Segment::parse(&bytes).expect("parses");
        assert_eq!(differential(&parsed, &bytes), Etherparse::Agrees);
    }
}
