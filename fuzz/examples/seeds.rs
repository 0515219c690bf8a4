//! Writes the `parse_segment` seed corpus: representative packets built with the reference
//! wire emitter (SYN with every option, data, RST, FIN, SACK, IPv4 options, IPv6 extension
//! headers, unknown options, EOL with padding), IPv4 and IPv6; and, given a second folder, the
//! `agent_protocol` seeds: control sessions in the target's event encoding
//! (`tcpconform_fuzz::agent_input`). Run by `fuzz/seeds.sh`.
//!
//! Usage: `cargo run --example seeds -- <parse_segment folder> [<agent_protocol folder>]`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use tcpconform_fuzz::agent_input::{auth_line, encode, Event, TOKEN};

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
    if let Some(agent) = std::env::args().nth(2) {
        agent_seeds(Path::new(&agent))?;
    }
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

fn data(conn: u8, text: &str) -> Event {
    Event::Data {
        conn,
        data: text.as_bytes().to_vec(),
    }
}

/// Control sessions for `agent_protocol`: every request kind, each refusal, `busy`, the
/// deadlines, an overlong line, log injection, a flood of waiting connections, split lines.
fn agent_seeds(out: &Path) -> std::io::Result<()> {
    use Event::*;
    std::fs::create_dir_all(out)?;
    let happy =
        vec![
        Accept,
        Auth { conn: 0 },
        data(0, "{\"op\":\"listen\",\"addr\":\"192.0.2.1\",\"port\":80}\n"),
        data(0, "{\"op\":\"accept\"}\n"),
        data(0, "{\"op\":\"write\",\"data\":\"68656c6c6f\"}\n"),
        data(0, "{\"op\":\"read\",\"max\":100}\n"),
        data(
            0,
            "{\"op\":\"state\",\"local\":\"192.0.2.1:80\",\"remote\":\"192.0.2.2:40000\"}\n",
        ),
        data(0, "{\"op\":\"no_delay\",\"on\":true}\n"),
        data(
            0,
            "{\"op\":\"keepalive\",\"idle_secs\":1,\"interval_secs\":1,\"count\":3}\n",
        ),
        data(0, "{\"op\":\"shutdown_write\"}\n{\"op\":\"close\"}\n{\"op\":\"abort\"}\n"),
        data(0, "{\"op\":\"reset\"}\n"),
        data(
            0,
            "{\"op\":\"connect\",\"local\":\"[2001:db8::1]:8080\",\"remote\":\"192.0.2.2:80\"}\n",
        ),
        HangUp { conn: 0 },
    ];
    let refusals = vec![
        Accept,
        data(
            0,
            "{\"op\":\"listen\",\"addr\":\"192.0.2.1\",\"port\":80}\n",
        ),
        Accept,
        data(
            1,
            "{\"op\":\"auth\",\"token\":\"fuzz-agent-token-012345678X\"}\n",
        ),
        Accept,
        data(2, "{\"op\":\"exec\",\"cmd\":\"sh\"}\n"),
        Accept,
        Auth { conn: 3 },
        data(
            3,
            "{\"op\":\"listen\",\"addr\":\"192.0.2.1\",\"port\":9999}\n",
        ),
        data(
            3,
            "{\"op\":\"listen\",\"addr\":\"::ffff:0.0.0.0\",\"port\":80}\n",
        ),
        data(3, "{\"op\":\"write\",\"data\":\"zz\"}\n"),
        data(3, "{\"op\":\"read\",\"max\":999999}\n"),
        data(3, "{\"op\":\"accept\",\"path\":\"/etc/passwd\"}\n"),
        data(3, &format!("{{\"op\":\"auth\",\"token\":\"{TOKEN}\"}}\n")),
        data(3, "not json\n\n"),
    ];
    let busy = vec![
        Accept,
        Accept,
        Auth { conn: 0 },
        Accept,
        Auth { conn: 1 },
        data(0, "{\"op\":\"reset\"}\n"),
        WriteFailed { conn: 0 },
        Accept,
        Auth { conn: 3 },
        Accept,
        HangUp { conn: 3 },
        Tick,
    ];
    let deadlines = vec![
        Accept,
        data(0, "{\"op\":\"auth\",\"tok"),
        Wait { ticks: 1250 },
        Accept,
        Auth { conn: 1 },
        data(1, "{\"op\":\"res"),
        Wait { ticks: 1249 },
        Wait { ticks: 1 },
        Accept,
        Auth { conn: 2 },
        Wait { ticks: 29_999 },
        data(2, "{\"op\":\"reset\"}\n"),
        Wait { ticks: 30_000 },
        Tick,
    ];
    let overlong = vec![
        Accept,
        Auth { conn: 0 },
        Fill {
            conn: 0,
            kib: 130,
            octet: b'x',
        },
        Accept,
        Auth { conn: 1 },
        data(1, "{\"op\":\"reset\"}\n"),
    ];
    let injection =
        vec![
        Accept,
        data(
            0,
            "{\"op\":\"x\\nagent: 127.0.0.1:4242: auth -> ok\\u001b[2J\\u001b]0;owned\\u0007\"}\n",
        ),
        Accept,
        data(
            1,
            "{\"op\":\"auth\",\"token\":\"t\",\"\\r\\nagent: auth -> ok\\u009b1m\\u202e\":1}\n",
        ),
        Accept,
        Data {
            conn: 2,
            data: b"\x1b[31m\x07\xff\xfe not json\n".to_vec(),
        },
        Accept,
        data(3, "{\"op\":\"auth\",\"token\":\"fuzz\\u002dagent-token-0123456789\"}\n"),
    ];
    let mut flood: Vec<Event> = (0..20).map(|_| Accept).collect();
    flood.push(Auth { conn: 19 });
    flood.push(Auth { conn: 0 });
    let mut split = vec![Accept];
    let mut bytes = auth_line();
    bytes.extend_from_slice(b"{\"op\":\"accept\"}\n{\"op\":\"read\",\"max\":4}\n{\"op\":\"clo");
    for chunk in bytes.chunks(3) {
        split.push(Data {
            conn: 0,
            data: chunk.to_vec(),
        });
    }
    split.push(data(0, "se\"}\n"));
    let seeds = [
        ("happy-path", happy),
        ("refusals", refusals),
        ("busy", busy),
        ("deadlines", deadlines),
        ("overlong-line", overlong),
        ("log-injection", injection),
        ("flood", flood),
        ("split-lines", split),
    ];
    for (name, events) in &seeds {
        std::fs::write(out.join(name), encode(events))?;
    }
    println!("{} seeds in {}", seeds.len(), out.display());
    Ok(())
}
