//! Writes the `parse_segment` seed corpus: representative packets built with the reference
//! wire emitter (SYN with every option, data, RST, FIN, SACK, IPv4 options, IPv6 extension
//! headers, unknown options, EOL with padding), IPv4 and IPv6. Run by `fuzz/seeds.sh`.
//!
//! Usage: `cargo run --example seeds -- <output folder>`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use reference_stack::wire::{
    IpRepr, Ipv6ExtHeader, SackBlock, Segment, SeqNumber, TcpFlags, TcpOption, TcpRepr,
};

fn tcp(flags: TcpFlags, options: Vec<TcpOption>, payload: &[u8]) -> TcpRepr {
    TcpRepr {
        seq: SeqNumber(1_000_000),
        ack: if flags.ack() {
            SeqNumber(2_000_001)
        } else {
            SeqNumber(0)
        },
        flags,
        window: 64_240,
        options,
        payload: payload.to_vec(),
        ..TcpRepr::default()
    }
}

fn all_syn_options() -> Vec<TcpOption> {
    vec![
        TcpOption::Mss(1460),
        TcpOption::SackPermitted,
        TcpOption::Timestamps {
            tsval: 12345,
            tsecr: 0,
        },
        TcpOption::NoOperation,
        TcpOption::WindowScale(7),
    ]
}

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "corpus/parse_segment".into()),
    );
    std::fs::create_dir_all(&out)?;
    let v4 = (
        SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), 40_000),
        SocketAddr::new(Ipv4Addr::new(192, 0, 2, 2).into(), 80),
    );
    let v6 = (
        SocketAddr::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
            40_000,
        ),
        SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(), 80),
    );
    let sack = TcpOption::Sack(vec![
        SackBlock {
            left: SeqNumber(2_000_100),
            right: SeqNumber(2_000_200),
        },
        SackBlock {
            left: SeqNumber(2_000_300),
            right: SeqNumber(2_000_400),
        },
    ]);
    let ts = TcpOption::Timestamps {
        tsval: 99,
        tsecr: 12345,
    };
    let segments: Vec<(&str, TcpRepr)> = vec![
        (
            "syn-all-options",
            tcp(TcpFlags::SYN, all_syn_options(), b""),
        ),
        (
            "synack-all-options",
            tcp(TcpFlags::SYN | TcpFlags::ACK, all_syn_options(), b""),
        ),
        ("syn-bare", tcp(TcpFlags::SYN, vec![], b"")),
        (
            "syn-data-fin",
            tcp(
                TcpFlags::SYN | TcpFlags::FIN,
                vec![TcpOption::Mss(536)],
                b"hello",
            ),
        ),
        (
            "ack",
            tcp(
                TcpFlags::ACK,
                vec![TcpOption::NoOperation, TcpOption::NoOperation, ts.clone()],
                b"",
            ),
        ),
        (
            "data",
            tcp(TcpFlags::ACK | TcpFlags::PSH, vec![], &[0x5a; 100]),
        ),
        ("data-urgent", {
            let mut t = tcp(TcpFlags::ACK | TcpFlags::URG, vec![], b"urgent!");
            t.urgent = 3;
            t
        }),
        (
            "sack",
            tcp(
                TcpFlags::ACK,
                vec![TcpOption::NoOperation, TcpOption::NoOperation, sack],
                b"",
            ),
        ),
        ("fin", tcp(TcpFlags::FIN | TcpFlags::ACK, vec![], b"")),
        ("rst", tcp(TcpFlags::RST, vec![], b"")),
        ("rst-ack", tcp(TcpFlags::RST | TcpFlags::ACK, vec![], b"")),
        (
            "ecn-ae",
            tcp(
                TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR | TcpFlags::AE,
                vec![],
                b"",
            ),
        ),
        (
            "unknown-option",
            tcp(
                TcpFlags::ACK,
                vec![TcpOption::Unknown {
                    kind: 30,
                    data: vec![1, 2, 3, 4],
                }],
                b"x",
            ),
        ),
        ("eol-padding", {
            let mut t = tcp(
                TcpFlags::ACK,
                vec![TcpOption::Mss(1000), TcpOption::EndOfList],
                b"",
            );
            t.padding = vec![0, 0, 0];
            t
        }),
        ("reserved-bits", {
            let mut t = tcp(TcpFlags::ACK, vec![], b"");
            t.reserved = 5;
            t
        }),
    ];
    let mut n = 0;
    for (name, t) in &segments {
        for (family, (src, dst)) in [("v4", v4), ("v6", v6)] {
            let seg = Segment::new(src, dst, t.clone()).expect("same family");
            std::fs::write(out.join(format!("{name}-{family}")), seg.emit())?;
            n += 1;
        }
    }
    // IP-level variety: IPv4 options (NOP, NOP, RFC 1108 security), IPv6 extension headers.
    let (src, dst) = v4;
    let mut seg = Segment::new(src, dst, tcp(TcpFlags::SYN, all_syn_options(), b"")).expect("v4");
    if let IpRepr::V4(ip) = &mut seg.ip {
        ip.options = vec![1, 1, 130, 3, 0xab, 0];
        ip.ident = 0x1234;
        ip.dscp_ecn = 0xb8;
    }
    std::fs::write(out.join("ipv4-options"), seg.emit())?;
    let (src, dst) = v6;
    let mut seg = Segment::new(src, dst, tcp(TcpFlags::ACK, vec![], b"data")).expect("v6");
    if let IpRepr::V6(ip) = &mut seg.ip {
        ip.flow_label = 0xabcde;
        ip.traffic_class = 0x2e;
        ip.ext_headers = vec![
            Ipv6ExtHeader {
                kind: 0,
                bytes: vec![0, 0, 1, 4, 0, 0, 0, 0],
            },
            Ipv6ExtHeader {
                kind: 60,
                bytes: vec![0, 0, 1, 4, 0, 0, 0, 0],
            },
        ];
    }
    std::fs::write(out.join("ipv6-ext-headers"), seg.emit())?;
    println!("{} seeds in {}", n + 2, out.display());
    Ok(())
}
