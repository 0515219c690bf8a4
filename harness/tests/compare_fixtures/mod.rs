//! Saved runs for the `matrix` and `diff` tests, written by the JSON reporter itself so that
//! what the comparisons read is what `run --json` writes.
//!
//! Three runs of seven instances, each instance chosen for a filter:
//!
//! | instance | level | rules | reference | linux | link |
//! | --- | --- | --- | --- | --- | --- |
//! | `rst/a [ipv4]` | must | RS-4 | passed | passed | failed MUST |
//! | `rst/a [ipv6]` | must | RS-4 | passed | passed | passed |
//! | `rst/b [ipv4]` | must | RS-1 | passed (rfc5961) | passed (rfc793) | absent |
//! | `rules/listen/c [ipv4]` | must | LI-2 | passed | baseline MUST | skipped |
//! | `rules/syn-sent/d [ipv4]` | should | SS-1 | passed | warning SHOULD | warning SHOULD |
//! | `close/e [ipv4]` | may | FN-4 | passed | info MAY | passed |
//! | `close/f [ipv6]` | must | | passed | passed | passed |

#![allow(dead_code)] // each test crate uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tcpconform::report::json::JsonReporter;
use tcpconform::run::event::{
    CaseResult, Direction, Failure, FieldDiff, IpVersion, Level, Outcome, Reporter, RunEvent,
    SegmentDiff, Summary, TraceEntry, Verdict,
};

/// A title no page may render as markup.
pub const HOSTILE_TITLE: &str = "<img src=x onerror=alert(1)> & \"quoted\" \u{1b}[31m";

pub fn passed(variants: &[&str]) -> Outcome {
    Outcome::Passed {
        variants: variants.iter().map(|v| v.to_string()).collect(),
    }
}

pub fn failed(level: Level, baseline: Option<&str>) -> Outcome {
    Outcome::Failed(Failure {
        step: 2,
        line: Some(9),
        message: format!("expected A within 1s, got R ({})", level.name()),
        diff: vec![SegmentDiff {
            variant: None,
            fields: vec![FieldDiff {
                field: "flags".into(),
                expected: "A".into(),
                received: "R".into(),
                differs: true,
            }],
            note: None,
        }],
        baseline: baseline.map(str::to_string),
        level,
    })
}

pub fn skipped(reason: &str) -> Outcome {
    Outcome::Skipped {
        reason: reason.into(),
    }
}

pub fn result(
    id: &str,
    ip: IpVersion,
    level: Level,
    rules: &[&str],
    outcome: Outcome,
) -> CaseResult {
    CaseResult {
        id: id.into(),
        title: if id == "rst/a" {
            HOSTILE_TITLE.into()
        } else {
            format!("title of {id}")
        },
        ip,
        file: PathBuf::from(format!("cases/{id}.yaml")),
        target: String::new(),
        rfc: vec!["RFC9293 3.10.7.4".into()],
        cells: rules
            .iter()
            .map(|r| r.parse().expect("a rule id"))
            .collect(),
        level,
        rules_observed: Vec::new(),
        duration: Duration::from_millis(3),
        verdict: Verdict::of(&outcome, false),
        choices: Vec::new(),
        outcome,
        trace: vec![
            TraceEntry {
                at: Duration::ZERO,
                direction: Direction::Sent,
                text: "S seq 0:0(0) win 65535 <mss 1460>".into(),
                packet: None,
            },
            TraceEntry {
                at: Duration::from_millis(1),
                direction: Direction::Received,
                text: "SA seq 0:0(0) ack 1 win 65535 </pre><b>".into(),
                packet: None,
            },
        ],
    }
}

/// Writes `results` as the JSON reporter does for a run on `target`, to `dir/file`.
pub fn write_run(dir: &Path, file: &str, target: &str, results: Vec<CaseResult>) -> PathBuf {
    let path = dir.join(file);
    let mut reporter = JsonReporter::new(&path);
    let mut summary = Summary {
        wall: Duration::from_millis(500),
        ..Summary::default()
    };
    reporter
        .event(&RunEvent::Started {
            total: results.len(),
            target: target.into(),
        })
        .unwrap();
    for mut r in results {
        r.target = target.into();
        summary.count(&r);
        reporter
            .event(&RunEvent::CaseFinished(Box::new(r)))
            .unwrap();
    }
    reporter.event(&RunEvent::Finished(summary)).unwrap();
    path
}

/// The three runs of the table above: `reference.json`, `linux.json`, `link.json` in `dir`.
pub fn three_runs(dir: &Path) -> [PathBuf; 3] {
    use IpVersion::{V4, V6};
    use Level::{May, Must, Should};
    let known = Some("known: no challenge ACK (RFC 5961 3.2)");
    let reference = vec![
        result("rst/a", V4, Must, &["RS-4"], passed(&[])),
        result("rst/a", V6, Must, &["RS-4"], passed(&[])),
        result("rst/b", V4, Must, &["RS-1"], passed(&["rfc5961"])),
        result("rules/listen/c", V4, Must, &["LI-2"], passed(&[])),
        result("rules/syn-sent/d", V4, Should, &["SS-1"], passed(&[])),
        result("close/e", V4, May, &["FN-4"], passed(&[])),
        result("close/f", V6, Must, &[], passed(&[])),
    ];
    let linux = vec![
        result("rst/a", V4, Must, &["RS-4"], passed(&[])),
        result("rst/a", V6, Must, &["RS-4"], passed(&[])),
        result("rst/b", V4, Must, &["RS-1"], passed(&["rfc793"])),
        result("rules/listen/c", V4, Must, &["LI-2"], failed(Must, known)),
        result(
            "rules/syn-sent/d",
            V4,
            Should,
            &["SS-1"],
            failed(Should, None),
        ),
        result("close/e", V4, May, &["FN-4"], failed(May, None)),
        result("close/f", V6, Must, &[], passed(&[])),
    ];
    let link = vec![
        result("rst/a", V4, Must, &["RS-4"], failed(Must, None)),
        result("rst/a", V6, Must, &["RS-4"], passed(&[])),
        result(
            "rules/listen/c",
            V4,
            Must,
            &["LI-2"],
            skipped("needs an agent"),
        ),
        result(
            "rules/syn-sent/d",
            V4,
            Should,
            &["SS-1"],
            failed(Should, None),
        ),
        result("close/e", V4, May, &["FN-4"], passed(&[])),
        result("close/f", V6, Must, &[], passed(&[])),
    ];
    [
        write_run(dir, "reference.json", "reference", reference),
        write_run(dir, "linux.json", "linux", linux),
        write_run(dir, "link.json", "link", link),
    ]
}

/// Every instance of the three runs, in the matrix's row order (area, id, IP version).
pub const ALL_ROWS: [&str; 7] = [
    "close/e [ipv4]",
    "close/f [ipv6]",
    "rst/a [ipv4]",
    "rst/a [ipv6]",
    "rst/b [ipv4]",
    "rules/listen/c [ipv4]",
    "rules/syn-sent/d [ipv4]",
];

/// Runs the binary; returns the exit status, stdout and stderr.
pub fn tcpconform(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .args(args)
        .output()
        .expect("run tcpconform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
