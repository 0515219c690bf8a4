//! The statistical and load steps (`isn_sample`, `syn_flood`) against the reference stack: the
//! corpus cases in `cases/isn` and `cases/load` pass with the figures the notes report, a broken
//! expectation fails with a message that says why, and bad values are located errors.

use std::path::{Path, PathBuf};
use tcpconform::case::load::{load_paths, load_str};
use tcpconform::case::model::{Case, FloodSources, StepKind, SynReply};
use tcpconform::run::event::{CaseResult, Direction, IpVersion, Outcome};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn case_from(text: &str) -> Case {
    let path = repo().join("cases").join("inline-test.yaml");
    let mut cases = load_str(&path, text).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(cases.len(), 1);
    cases.remove(0)
}

fn corpus_case(rel: &str) -> Case {
    let mut cases = load_paths(&[repo().join(rel)]).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(cases.len(), 1);
    cases.remove(0)
}

fn run(case: &Case, ip: IpVersion) -> CaseResult {
    let mut target = ReferenceTarget::new(reference_stack::Config::default());
    run_instance(&mut target, case, ip, 11)
}

fn notes(r: &CaseResult) -> Vec<String> {
    r.trace
        .iter()
        .filter(|e| e.direction == Direction::Note)
        .map(|e| e.text.clone())
        .collect()
}

fn failure_message(r: &CaseResult) -> String {
    match &r.outcome {
        Outcome::Failed(f) => f.message.clone(),
        other => panic!("expected a failure, got {other:?}\n{:#?}", notes(r)),
    }
}

#[test]
fn isn_cases_pass_with_their_figures() {
    for ip in [IpVersion::V4, IpVersion::V6] {
        let r = run(
            &corpus_case("cases/isn/unpredictable-across-tuples.yaml"),
            ip,
        );
        assert!(r.passed(), "{:?}", r.outcome);
        let note = notes(&r)
            .into_iter()
            .find(|n| n.starts_with("isn_sample:"))
            .expect("isn_sample note");
        assert!(
            note.contains("1000 ISNs from fresh tuples: increment GCD 1"),
            "{note}"
        );
        assert!(note.contains("SP index 2"), "{note}");
        assert!(note.contains("entropy 31."), "{note}");

        let r = run(&corpus_case("cases/isn/clock-driven-same-tuple.yaml"), ip);
        assert!(r.passed(), "{:?}", r.outcome);
        let note = notes(&r)
            .into_iter()
            .find(|n| n.starts_with("isn_sample:"))
            .expect("isn_sample note");
        // RFC 6528's 4 us timer, observed through 10 ms virtual gaps.
        assert!(note.contains("clock rate 250000/s"), "{note}");
    }
}

#[test]
fn clock_check_and_answer_check_can_fail() {
    // 1us gaps are a quarter of the reference's 4us tick: most successive ISNs on the tuple
    // are equal, which is what an ISN without a (fast enough) clock looks like.
    let case = case_from(
        "id: t/clock-too-fine\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  - isn_sample: { count: 9, same_tuple: true, gap: 1us }\n",
    );
    let msg = failure_message(&run(&case, IpVersion::V4));
    assert!(
        msg.contains("ISNs do not follow a clock (RFC 9293 3.4.1, MUST-8)"),
        "{msg}"
    );
    assert!(msg.contains("increments are not positive"), "{msg}");
    // Nobody listens: the SYNs meet RST, not SYN-ACK.
    let case = case_from(
        "id: t/closed\ntitle: t\nsetup: { closed: 8080 }\nsteps:\n  - isn_sample: { count: 32 }\n",
    );
    let msg = failure_message(&run(&case, IpVersion::V4));
    assert!(msg.contains("expected a SYN-ACK"), "{msg}");
}

#[test]
fn backlog_case_passes_and_a_stricter_expectation_fails() {
    let path = repo().join("cases/load/backlog-full-no-rst.yaml");
    let text = std::fs::read_to_string(&path).expect("case");
    let r = run(
        &corpus_case("cases/load/backlog-full-no-rst.yaml"),
        IpVersion::V4,
    );
    assert!(r.passed(), "{:?}", r.outcome);
    let summary = notes(&r)
        .into_iter()
        .find(|n| n.starts_with("syn_flood:"))
        .expect("note");
    assert!(
        summary.contains("128 SYN-ACK, 0 RST, 72 unanswered"),
        "{summary}"
    );

    // Requiring every SYN to be answered fails on the 129th: the reference drops SYNs beyond its
    // backlog of 128.
    let strict = text.replace("others: [syn_ack, silence]", "others: [syn_ack]");
    assert_ne!(strict, text);
    let msg = failure_message(&run(&case_from(&strict), IpVersion::V4));
    assert!(
        msg.contains("SYN 129 of 200") && msg.contains("expected syn_ack, got nothing"),
        "{msg}"
    );
    let first = text.replace("answered_first: 16", "answered_first: 200");
    let msg = failure_message(&run(&case_from(&first), IpVersion::V6));
    assert!(msg.contains("expected syn_ack (answered_first)"), "{msg}");
    // `others: [rst]` (a refusal required) fails on the first unanswered SYN too.
    let rst = text.replace("others: [syn_ack, silence]", "others: [rst]");
    let msg = failure_message(&run(&case_from(&rst), IpVersion::V4));
    assert!(msg.contains("SYN 17 of 200"), "{msg}");
}

#[test]
fn flood_case_recovers_and_a_tighter_bound_fails() {
    let path = repo().join("cases/load/syn-flood-legit-connects.yaml");
    let text = std::fs::read_to_string(&path).expect("case");
    // Fewer SYNs keep the test quick: 128 already fill the reference's backlog.
    let smaller = text.replace("count: 10000", "count: 1000");
    assert_ne!(smaller, text);
    let r = run(&case_from(&smaller), IpVersion::V4);
    assert!(r.passed(), "{:?}", r.outcome);
    let all = notes(&r).join("\n");
    assert!(all.contains("no SYN cookies"), "{all}");
    assert!(all.contains("the tester's SYN was answered after"), "{all}");

    // The reference's half-open connections hold the backlog for R2 (3 minutes) plus one
    // backed-off RTO: a 2-minute bound is too tight for it.
    let tight = smaller.replace("connect_within: 6min", "connect_within: 2min");
    assert_ne!(tight, smaller);
    let msg = failure_message(&run(&case_from(&tight), IpVersion::V6));
    assert!(msg.contains("got no SYN-ACK within 120s"), "{msg}");
}

#[test]
fn steps_parse_into_the_model() {
    let case = case_from(
        "id: t/p\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  - isn_sample: { count: 40 }\n  - isn_sample: { count: 5, same_tuple: true }\n  - syn_flood: { count: 9, sources: tester, answered_first: 2, others: rst, drain: 1s }\n",
    );
    let StepKind::IsnSample(a) = &case.steps[0].kind else {
        panic!("{:?}", case.steps[0]);
    };
    assert_eq!((a.count, a.same_tuple, a.gap.as_millis()), (40, false, 0));
    let StepKind::IsnSample(b) = &case.steps[1].kind else {
        panic!("{:?}", case.steps[1]);
    };
    assert_eq!((b.count, b.same_tuple, b.gap.as_millis()), (5, true, 10));
    let StepKind::SynFlood(f) = &case.steps[2].kind else {
        panic!("{:?}", case.steps[2]);
    };
    assert_eq!(f.sources, FloodSources::Tester);
    assert_eq!((f.count, f.answered_first), (9, 2));
    assert_eq!(f.others, vec![SynReply::Rst]);
    assert_eq!(f.drain.as_secs(), 1);
    assert_eq!(f.connect_within, None);
}

/// Each bad value gives one diagnostic at the offending node.
#[test]
fn bad_values_are_located() {
    let head = "id: t/bad\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n";
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "  - isn_sample: { count: 5 }\n",
            5,
            26,
            "isn_sample count must be in 32..=16000",
        ),
        (
            "  - isn_sample: { count: 5, same_tuple: true, gap: 0ms }\n",
            5,
            52,
            "gap must be more than 0",
        ),
        (
            "  - isn_sample: { count: 50, same_tuple: yes }\n",
            5,
            42,
            "must be true or false",
        ),
        (
            "  - isn_sample: { count: 50, gaps: 1s }\n",
            5,
            30,
            "unknown field `gaps`",
        ),
        (
            "  - isn_sample: { same_tuple: true }\n",
            5,
            17,
            "missing field `count`",
        ),
        (
            "  - syn_flood: { count: 10, sources: moon }\n",
            5,
            38,
            "unknown syn_flood sources `moon`",
        ),
        (
            "  - syn_flood: { count: 0, sources: tester }\n",
            5,
            25,
            "syn_flood count must be in 1..=16000",
        ),
        (
            "  - syn_flood: { count: 10, sources: spoofed, answered_first: 3 }\n",
            5,
            63,
            "needs `sources: tester`",
        ),
        (
            "  - syn_flood: { count: 10, sources: tester, answered_first: 11 }\n",
            5,
            62,
            "in 0..=10",
        ),
        (
            "  - syn_flood: { count: 10, sources: tester, others: [syn_ack, maybe] }\n",
            5,
            64,
            "unknown syn_flood answer `maybe`",
        ),
        (
            "  - syn_flood: { count: 10, sources: tester, others: [] }\n",
            5,
            54,
            "at least one answer",
        ),
        (
            "  - syn_flood: { count: 10, sources: spoofed, connect_within: 500ms }\n",
            5,
            63,
            "at least 1s",
        ),
    ];
    let path = repo().join("cases").join("inline-bad.yaml");
    let mut wrong = Vec::new();
    for (step, line, col, phrase) in cases {
        let text = format!("{head}{step}");
        match load_str(&path, &text) {
            Ok(_) => wrong.push(format!("{step}: loaded")),
            Err(d) => {
                let first = &d[0];
                if first.line != *line || first.col != *col || !first.message.contains(phrase) {
                    wrong.push(format!(
                        "{step}: expected {line}:{col} `{phrase}`, got {}:{} {}",
                        first.line, first.col, first.message
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
