//! The terminal reporter, on a plain writer: failure detail, known deviations, skips, the
//! exact last line, verbose mode, colour and NO_COLOR.

mod report_fixtures;

use std::ffi::OsStr;

use report_fixtures::{feed, run_events};
use tcpconform::report::terminal::{summary_line, TerminalOptions, TerminalReporter};
use tcpconform::run::event::{RunEvent, Summary};

fn output(opts: TerminalOptions) -> String {
    let mut reporter = TerminalReporter::new(Vec::new(), opts);
    feed(&mut reporter, &run_events());
    String::from_utf8(reporter.into_inner()).expect("UTF-8 output")
}

fn plain(verbose: bool) -> TerminalOptions {
    TerminalOptions {
        verbose,
        color: false,
        progress: false,
        progress_lines: None,
    }
}

#[test]
fn failure_detail_sections_and_last_line() {
    let out = output(plain(false));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"1 passed, 1 failed, 1 skipped"),
        "{out}"
    );
    assert_eq!(
        lines.get(lines.len() - 2),
        Some(&"1 known deviation"),
        "{out}"
    );
    assert_eq!(lines.first(), Some(&"running 4 cases against reference"));

    // The failure: one line, then the diff and the trace, indented.
    let fail = lines
        .iter()
        .position(|l| l.starts_with("FAIL "))
        .expect("a FAIL line");
    assert_eq!(
        lines[fail],
        "FAIL rst/syn-x [ipv6]: expected SA within 1s, got R at step 2 (line 14)"
    );
    assert_eq!(
        lines[fail + 1],
        "    case cases/rst/syn-x.yaml (MUST not met)"
    );
    assert!(
        out.contains("\n      flags   SA        R         <- differs\n"),
        "{out}"
    );
    assert!(out.contains("\n    trace:\n"), "{out}");
    assert!(
        out.contains("      0.000000s > S seq 0:0(0) win 65535 <mss 1460>\n"),
        "{out}"
    );
    assert!(
        out.contains("      0.002000s < R seq 0:0(0) win 65535\n"),
        "{out}"
    );
    assert_eq!(
        out.matches("FAIL ").count(),
        1,
        "the baseline hit is no FAIL"
    );

    // Known deviations and skips are listed, passes are not.
    let known = lines
        .iter()
        .position(|l| *l == "known deviations (1):")
        .expect("known deviations section");
    // One line per entry, its reason; the failure itself with -v and in the reports.
    assert_eq!(
        lines[known + 1],
        "  rst/in-window [ipv4]: Linux sends no challenge ACK here (RFC 5961 3.2)"
    );
    // A recap of the failures closes the output.
    let recap = lines
        .iter()
        .position(|l| *l == "failures (MUST not met) (1):")
        .expect("failure recap");
    assert_eq!(
        lines[recap + 1],
        "  rst/syn-x [ipv6]: expected SA within 1s, got R"
    );
    let skipped = lines
        .iter()
        .position(|l| *l == "skipped (1):")
        .expect("skipped section");
    assert_eq!(
        lines[skipped + 1],
        "  app/needs-agent [ipv6]: needs an agent on the target"
    );
    assert!(!out.contains("PASS"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no colour codes, escapes in the trace neutralised"
    );
    assert!(out.contains("\\u{1b}[31mred"), "{out}");
}

#[test]
fn verbose_prints_every_case() {
    let out = output(plain(true));
    assert!(
        out.contains("PASS handshake/passive-open [ipv4] (chose rfc5961)\n"),
        "{out}"
    );
    assert!(out.contains("KNOWN rst/in-window [ipv4]: "), "{out}");
    assert!(
        out.contains("SKIP app/needs-agent [ipv6]: needs an agent on the target\n"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("1 passed, 1 failed, 1 skipped"));
}

#[test]
fn colour_only_when_asked_and_never_on_the_last_line() {
    let out = output(TerminalOptions {
        color: true,
        ..plain(false)
    });
    assert!(
        out.contains("\u{1b}[31mFAIL\u{1b}[0m rst/syn-x [ipv6]"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("1 passed, 1 failed, 1 skipped"));

    let out = output(plain(false));
    assert!(!out.contains("\u{1b}[31mFAIL"), "{out}");
}

#[test]
fn no_color_and_terminal_detection() {
    let tty = TerminalOptions::resolve(false, true, None);
    assert!(tty.color && tty.progress);
    let no_color = TerminalOptions::resolve(false, true, Some(OsStr::new("1")));
    assert!(!no_color.color && no_color.progress);
    // NO_COLOR set but empty does not disable colour (no-color.org).
    assert!(TerminalOptions::resolve(false, true, Some(OsStr::new(""))).color);
    let pipe = TerminalOptions::resolve(true, false, None);
    assert!(!pipe.color && !pipe.progress && pipe.verbose);
}

#[test]
fn counts_take_the_singular_for_one() {
    // One case instance selected, and it is a known deviation.
    let c = report_fixtures::baseline();
    let events = [
        RunEvent::Started {
            total: 1,
            target: "reference".to_string(),
        },
        RunEvent::CaseStarted {
            id: c.id.clone(),
            ip: c.ip,
        },
        RunEvent::CaseFinished(Box::new(c)),
        RunEvent::Finished(Summary {
            passed: 0,
            failed: 0,
            skipped: 0,
            baseline: 1,
            not_run: 0,
            wall: Default::default(),
            ..Summary::default()
        }),
    ];
    let mut reporter = TerminalReporter::new(Vec::new(), plain(false));
    feed(&mut reporter, &events);
    let out = String::from_utf8(reporter.into_inner()).expect("UTF-8 output");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"running 1 case against reference"),
        "{out}"
    );
    assert!(lines.contains(&"1 known deviation"), "{out}");
}

#[test]
fn summary_line_omits_zero_skipped() {
    let s = Summary {
        passed: 3,
        failed: 0,
        skipped: 0,
        baseline: 2,
        not_run: 0,
        wall: Default::default(),
        ..Summary::default()
    };
    assert_eq!(summary_line(&s), "3 passed, 0 failed");
    assert_eq!(
        summary_line(&Summary { skipped: 4, ..s }),
        "3 passed, 0 failed, 4 skipped"
    );
}

#[test]
fn progress_lines_without_a_terminal() {
    let out = output(TerminalOptions {
        progress_lines: Some(std::time::Duration::ZERO),
        ..plain(false)
    });
    let progress: Vec<&str> = out.lines().filter(|l| l.starts_with("... ")).collect();
    assert_eq!(progress.len(), 4, "one per finished instance here:\n{out}");
    assert!(
        progress[3].starts_with("... 4/4 done after")
            && progress[3].ends_with("1 passed, 1 failed, 2 other"),
        "{}",
        progress[3]
    );
}
