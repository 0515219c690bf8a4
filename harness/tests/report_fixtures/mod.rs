//! Synthetic run events shared by the reporter tests: a passed case with a variant, a
//! failure whose trace holds text hostile to XML and terminals, a known deviation, a skip.

#![allow(dead_code)] // each test crate uses a different part

use std::path::PathBuf;
use std::time::Duration;

use reference_stack::Rule;
use tcpconform::packet::build;
use tcpconform::packet::spec::{ChecksumSpec, IpFields, OptionSpec, PacketSpec};
use tcpconform::run::event::{
    CaseResult, Direction, Failure, FieldDiff, IpVersion, Level, Outcome, RunEvent, SegmentDiff,
    Summary, TraceEntry, Verdict,
};

pub const SYN: u16 = 0x002;
pub const RST: u16 = 0x004;
pub const ACK: u16 = 0x010;

/// Text no XML document may carry raw: a CDATA end, markup, C0 controls, an ANSI escape,
/// the non-characters U+FFFE/U+FFFF and the replacement characters lossy UTF-8 leaves.
pub fn hostile_text() -> String {
    let lossy = String::from_utf8_lossy(&[b'x', 0xff, 0xfe, b'y']).into_owned();
    format!("]]> <b>&amp; \u{0}\u{7}\u{1b}[31mred\u{1b}[0m \u{fffe}\u{ffff} {lossy} \u{85}")
}

pub fn packet(ip: IpVersion, from_tester: bool, flags: u16, seq: u32, ack: u32) -> Vec<u8> {
    let (tester, target) = match ip {
        IpVersion::V4 => ("192.0.2.1:40000", "192.0.2.2:80"),
        IpVersion::V6 => ("[2001:db8::1]:40000", "[2001:db8::2]:80"),
    };
    let (src, dst) = if from_tester {
        (tester, target)
    } else {
        (target, tester)
    };
    build(&PacketSpec {
        src: src.parse().expect("address"),
        dst: dst.parse().expect("address"),
        seq,
        ack,
        flags,
        window: 65535,
        urgent: 0,
        reserved: 0,
        options: vec![OptionSpec::Mss(1460)],
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    })
}

fn entry(ms: u64, direction: Direction, text: &str, packet: Option<Vec<u8>>) -> TraceEntry {
    TraceEntry {
        at: Duration::from_millis(ms),
        direction,
        text: text.to_string(),
        packet,
    }
}

fn base(id: &str, ip: IpVersion, outcome: Outcome, trace: Vec<TraceEntry>) -> CaseResult {
    CaseResult {
        id: id.to_string(),
        title: format!("title of {id}"),
        ip,
        file: PathBuf::from(format!("cases/{id}.yaml")),
        target: "reference".to_string(),
        rfc: vec!["RFC9293 3.10.7.4".to_string(), "MUST-11".to_string()],
        cells: vec![Rule::Rs2],
        level: Level::Must,
        rules_observed: vec![Rule::Li1, Rule::Rs2],
        duration: Duration::from_millis(12),
        verdict: Verdict::of(&outcome, false),
        choices: Vec::new(),
        outcome,
        trace,
    }
}

pub fn passed() -> CaseResult {
    let ip = IpVersion::V4;
    base(
        "handshake/passive-open",
        ip,
        Outcome::Passed {
            variants: vec!["rfc5961".to_string()],
        },
        vec![
            entry(
                0,
                Direction::Sent,
                "S seq 0:0(0) win 65535 <mss 1460>",
                Some(packet(ip, true, SYN, 1000, 0)),
            ),
            entry(
                1,
                Direction::Received,
                "SA seq 0:0(0) ack 1 win 65535 <mss 1460>",
                Some(packet(ip, false, SYN | ACK, 5000, 1001)),
            ),
        ],
    )
}

pub fn failed() -> CaseResult {
    let ip = IpVersion::V6;
    base(
        "rst/syn-x",
        ip,
        Outcome::Failed(Failure {
            step: 1,
            line: Some(14),
            message: "expected SA within 1s, got R".to_string(),
            diff: vec![SegmentDiff {
                variant: None,
                fields: vec![FieldDiff {
                    field: "flags".into(),
                    expected: "SA".into(),
                    received: "R".into(),
                    differs: true,
                }],
                note: None,
            }],
            baseline: None,
            level: Level::Must,
        }),
        vec![
            entry(
                0,
                Direction::Sent,
                "S seq 0:0(0) win 65535 <mss 1460>",
                Some(packet(ip, true, SYN, 1000, 0)),
            ),
            entry(
                2,
                Direction::Received,
                "R seq 0:0(0) win 65535",
                Some(packet(ip, false, RST, 0, 0)),
            ),
            entry(3, Direction::Note, &hostile_text(), None),
        ],
    )
}

pub fn baseline() -> CaseResult {
    let ip = IpVersion::V4;
    base(
        "rst/in-window",
        ip,
        Outcome::Failed(Failure {
            step: 2,
            line: None,
            message: "expected challenge ACK, got nothing".to_string(),
            diff: Vec::new(),
            baseline: Some("Linux sends no challenge ACK here (RFC 5961 3.2)".to_string()),
            level: Level::Must,
        }),
        vec![entry(
            0,
            Direction::Sent,
            "R seq 5:5(0) win 0",
            Some(packet(ip, true, RST, 1005, 0)),
        )],
    )
}

pub fn skipped() -> CaseResult {
    base(
        "app/needs-agent",
        IpVersion::V6,
        Outcome::Skipped {
            reason: "needs an agent on the target".to_string(),
        },
        Vec::new(),
    )
}

pub fn summary() -> Summary {
    Summary {
        passed: 1,
        failed: 1,
        skipped: 1,
        baseline: 1,
        not_run: 0,
        wall: Duration::from_millis(250),
        ..Summary::default()
    }
}

/// A whole run: started, the four cases, finished.
pub fn run_events() -> Vec<RunEvent> {
    let cases = [passed(), failed(), baseline(), skipped()];
    let mut events = vec![RunEvent::Started {
        total: cases.len(),
        target: "reference".to_string(),
    }];
    for c in cases {
        events.push(RunEvent::CaseStarted {
            id: c.id.clone(),
            ip: c.ip,
        });
        events.push(RunEvent::CaseFinished(Box::new(c)));
    }
    events.push(RunEvent::Finished(summary()));
    events
}

/// Feed `events` to `reporter`.
pub fn feed(reporter: &mut dyn tcpconform::run::event::Reporter, events: &[RunEvent]) {
    for e in events {
        reporter.event(e).expect("reporter accepts the event");
    }
}
