//! The runner against the reference target: the corpus passes, a wrong expectation fails with a
//! readable diff, `one_of` reports the variant the stack chose, and the CLI's exit codes and
//! last line are as documented.

use reference_stack::Rule;
use std::path::{Path, PathBuf};
use std::process::Command;
use tcpconform::case::load::{load_paths, load_str};
use tcpconform::case::model::Case;
use tcpconform::run::event::{CaseResult, IpVersion, Outcome};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn case_from(text: &str) -> Case {
    // Loaded as if it lived in cases/, so that the shared preludes are found.
    let path = repo().join("cases").join("inline-test.yaml");
    let mut cases = load_str(&path, text).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(cases.len(), 1);
    cases.remove(0)
}

fn run(case: &Case, ip: IpVersion, policy: reference_stack::RstPolicy) -> CaseResult {
    let config = reference_stack::Config {
        rst_policy: policy,
        ..ReferenceTarget::default_config()
    };
    let mut target = ReferenceTarget::new(config);
    run_instance(&mut target, case, ip, 7)
}

fn failure(r: &CaseResult) -> &tcpconform::run::event::Failure {
    match &r.outcome {
        Outcome::Failed(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Every case passes on the reference under both RST/SYN profiles (RFC 9293 MAY-12), and
/// where a case names variants after the profiles (`rfc5961`, `rfc793...`), the reference takes
/// the one of the profile it runs: a `one_of` that allows either behaviour would otherwise let
/// an RFC 5961 check that silently stopped working pass as the RFC 793 variant.
#[test]
fn every_corpus_case_passes_on_the_reference_stack() {
    let cases = load_paths(&[repo().join("cases")]).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(!cases.is_empty());
    // Deviations the reference itself records (features it does not implement yet) are
    // reported by `run` as known deviations; every other case must pass.
    let baseline =
        tcpconform::run::baseline::Baseline::load(&repo().join("cases/baselines/reference.yaml"))
            .expect("the reference baseline loads");
    let mut failed = Vec::new();
    let mut chosen = String::new();
    for (policy, own, other) in [
        (reference_stack::RstPolicy::Rfc5961, "rfc5961", "rfc793"),
        (reference_stack::RstPolicy::Rfc793, "rfc793", "rfc5961"),
    ] {
        for case in &cases {
            for &ip in &case.ip {
                let r = run(case, ip, policy);
                match &r.outcome {
                    Outcome::Passed { variants } => {
                        if let Some(v) = variants.iter().find(|v| v.starts_with(other)) {
                            failed.push(format!(
                                "{} ({own}): took the `{v}` variant",
                                r.display_name()
                            ));
                        }
                        if !variants.is_empty() {
                            chosen.push_str(&format!(
                                "{}\t{own}\t{}\n",
                                r.display_name(),
                                variants.join(",")
                            ));
                        }
                    }
                    Outcome::Failed(f) if baseline.explain(&r.id, r.ip, f).is_some() => {}
                    outcome => failed.push(format!("{} ({own}): {outcome:?}", r.display_name())),
                }
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} failing:\n{}",
        failed.len(),
        failed.join("\n")
    );
    check_reference_variants(&chosen);
}

/// Where RFC 9293 allows several behaviours (`one_of`), the reference's choice is part of its
/// specification, recorded in `harness/tests/data/reference-variants.tsv` (instance, profile,
/// variants taken). A change of choice fails here: either a regression that still lands on an
/// allowed variant (which the corpus alone would let pass), or a deliberate change, recorded
/// with `TCPCONFORM_BLESS=1 cargo test -p tcpconform --test run_reference`.
fn check_reference_variants(chosen: &str) {
    check_recorded(
        "reference-variants.tsv",
        "# instance\tprofile\tvariants taken (TCPCONFORM_BLESS=1 rewrites this file)\n",
        chosen,
        "the reference chose other allowed variants than recorded",
    );
}

/// Compares `lines` with the file `tests/data/{name}` (after its header); with
/// `TCPCONFORM_BLESS` set, rewrites the file instead.
fn check_recorded(name: &str, header: &str, lines: &str, what: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let want = format!("{header}{lines}");
    if std::env::var_os("TCPCONFORM_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap_or_else(|e| panic!("write {name}: {e}"));
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let old: std::collections::BTreeSet<&str> = have.lines().skip(1).collect();
        let new: std::collections::BTreeSet<&str> = want.lines().skip(1).collect();
        let diff: Vec<String> = old
            .difference(&new)
            .map(|l| format!("- {l}"))
            .chain(new.difference(&old).map(|l| format!("+ {l}")))
            .collect();
        panic!(
            "{what} in {} (TCPCONFORM_BLESS=1 to record a deliberate change):\n{}",
            path.display(),
            diff.join("\n")
        );
    }
}

/// The SEGMENT ARRIVES rules the reference reports are its account of what it did, and
/// `tcpconform coverage` is built on them: every rule and grid cell stays exercised, and the
/// claims of the cases (`cells`) that the reference does not confirm are exactly the recorded,
/// explained ones (`tests/data/reference-unconfirmed-claims.tsv`). A stack change that stops
/// reporting a rule where it applies fails here; one that reports a rule where it does not
/// apply (SQ-4 for in-order text, say) changes the recorded account of every case it touches
/// (`tests/data/reference-rules.tsv`, reviewed like any diff when blessed).
#[test]
fn the_reference_confirms_the_rules_the_cases_claim() {
    let cases = load_paths(&[repo().join("cases")]).expect("the corpus loads");
    let cov = tcpconform::reference::coverage::measure(&cases);
    assert_eq!(cov.rules_covered(), 55, "SEGMENT ARRIVES rules exercised");
    assert_eq!(
        cov.cells_covered(),
        88,
        "state x segment-kind cells exercised"
    );
    let lines: String = cov
        .unmet_claims
        .iter()
        .map(|(case, rule)| format!("{case}\t{rule}\n"))
        .collect();
    check_recorded(
        "reference-unconfirmed-claims.tsv",
        "# case instance\tclaimed rule the reference never reported (docs/MEASUREMENTS.md, Coverage)\n",
        &lines,
        "the rules the reference reports for the corpus changed",
    );
    let lines: String = cov
        .reported
        .iter()
        .map(|(case, rules)| {
            let mut rules: Vec<Rule> = rules.iter().copied().collect();
            rules.sort_by_key(|r| Rule::ALL.iter().position(|a| a == r));
            let ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
            format!("{case}\t{}\n", ids.join(" "))
        })
        .collect();
    check_recorded(
        "reference-rules.tsv",
        "# case instance\tevery SEGMENT ARRIVES rule the reference reports for it (both IP versions and RST profiles)\n",
        &lines,
        "the rules the reference reports for the corpus changed",
    );
}

#[test]
fn a_wrong_expectation_fails_with_a_field_diff_and_the_trace() {
    let case = case_from(
        r#"
id: inline/wrong-flags
title: expects a bare RST where the RFC (and the stack) send RST+ACK
setup: { closed: 8080 }
steps:
  - send:   { flags: S, seq: 0 }
  - expect: { flags: R, ack: 1 }
"#,
    );
    let r = run(&case, IpVersion::V4, reference_stack::RstPolicy::Rfc5961);
    let f = failure(&r);
    assert_eq!(f.step, 1);
    assert_eq!(f.line, Some(7));
    assert!(f.message.contains("inline-test.yaml:7"), "{}", f.message);
    assert!(f.message.contains("differs in flags"), "{}", f.message);
    let diff = tcpconform::report::diff_text(&f.diff).expect("a diff");
    // The same comparison as data: one segment, its flags differ, its ack does not.
    let fields = &f.diff[0].fields;
    let row = |name: &str| fields.iter().find(|r| r.field == name).expect(name);
    assert!(row("flags").differs && row("flags").received == "RA");
    assert!(!row("ack").differs);
    let flags_row = diff
        .lines()
        .find(|l| l.trim_start().starts_with("flags"))
        .expect("flags row");
    assert!(
        flags_row.contains('R') && flags_row.contains("RA") && flags_row.contains("differs"),
        "{diff}"
    );
    let ack_row = diff
        .lines()
        .find(|l| l.trim_start().starts_with("ack"))
        .expect("ack row");
    assert!(!ack_row.contains("differs"), "{diff}");
    // The trace holds both packets, with the raw bytes for the pcap.
    assert_eq!(r.trace.iter().filter(|t| t.packet.is_some()).count(), 2);
    assert!(
        r.rules_observed.contains(&Rule::Cl2),
        "{:?}",
        r.rules_observed
    );
}

/// A payload mismatch shows what arrived (hex and text), not only its length.
#[test]
fn a_data_mismatch_shows_the_received_payload() {
    let case = case_from(
        r#"
id: inline/wrong-data
title: the target writes hello, the case expects world
setup: { listen: 8080 }
steps:
  - send:   { flags: S, seq: 0 }
  - expect: { flags: SA, ack: 1 }
  - send:   { flags: A, seq: 1, ack: 1 }
  - call:   accept
  - call:   { write: "hello" }
  - expect: { flags: PA, data: "world" }
"#,
    );
    let r = run(&case, IpVersion::V4, reference_stack::RstPolicy::Rfc5961);
    let f = failure(&r);
    assert!(f.message.contains("differs in data"), "{}", f.message);
    let data = f.diff[0]
        .fields
        .iter()
        .find(|r| r.field == "data")
        .expect("a data row");
    assert!(data.differs);
    assert_eq!(data.expected, "5 octets 77 6f 72 6c 64 |world|");
    assert_eq!(data.received, "5 octets 68 65 6c 6c 6f |hello|");
    let text = tcpconform::report::diff_text(&f.diff).expect("a diff");
    assert!(text.contains("|hello|"), "{text}");
}

/// An options mismatch names the option and its sub-field.
#[test]
fn an_options_mismatch_names_the_sub_field() {
    let case = case_from(
        r#"
id: inline/wrong-ecr
title: the SYN-ACK echoes the tester's TSval 7, the case expects 8
setup: { listen: 8080 }
steps:
  - send:   { flags: S, seq: 0, options: [mss 1000, sackOK, ts 7 0] }
  - expect: { flags: SA, options: { mss: 1460, ts: { ecr: 8 } } }
"#,
    );
    let r = run(&case, IpVersion::V4, reference_stack::RstPolicy::Rfc5961);
    let f = failure(&r);
    let fields = &f.diff[0].fields;
    let row = |name: &str| {
        fields
            .iter()
            .find(|r| r.field == name)
            .unwrap_or_else(|| panic!("no {name} row in {fields:#?}"))
    };
    assert!(row("options").differs);
    let ecr = row("options.ts.ecr");
    assert!(
        ecr.differs && ecr.expected == "8" && ecr.received == "7",
        "{ecr:?}"
    );
    // The sub-field that matched is shown, not marked.
    assert!(!row("options.ts.val").differs);
    let text = tcpconform::report::diff_text(&f.diff).expect("a diff");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("options.ts.ecr"))
        .expect("an options.ts.ecr line");
    assert!(line.ends_with("<- differs"), "{text}");
}

#[test]
fn nothing_received_is_a_failure_naming_the_deadline() {
    let case = case_from(
        r#"
id: inline/silence
title: an RST to a closed port is never answered (CL-1), so expecting a reply fails
setup: { closed: 8080 }
steps:
  - send:   { flags: R, seq: 0 }
  - expect: { flags: RA, within: 300ms }
"#,
    );
    let r = run(&case, IpVersion::V6, reference_stack::RstPolicy::Rfc5961);
    let f = failure(&r);
    assert!(
        f.message.contains("within 300ms, got nothing"),
        "{}",
        f.message
    );
}

#[test]
fn expect_none_fails_when_the_target_answers() {
    let case = case_from(
        r#"
id: inline/not-silent
title: a SYN to a closed port is answered, so expect_none fails
setup: { closed: 8080 }
steps:
  - send: { flags: S, seq: 0 }
  - expect_none: 1s
"#,
    );
    let r = run(&case, IpVersion::V4, reference_stack::RstPolicy::Rfc5961);
    assert!(
        failure(&r).message.contains("expected no segment"),
        "{:?}",
        r.outcome
    );
}

#[test]
fn state_assertions_fail_on_the_wrong_state() {
    let case = case_from(
        r#"
id: inline/wrong-state
title: after a SYN the passive side is in SYN-RECEIVED, not ESTABLISHED
setup: { listen: 8080 }
steps:
  - send:   { flags: S, seq: 0 }
  - expect: { flags: SA, ack: 1 }
  - state:  ESTABLISHED
"#,
    );
    let r = run(&case, IpVersion::V4, reference_stack::RstPolicy::Rfc5961);
    let f = failure(&r);
    assert!(
        f.message
            .contains("expected state ESTABLISHED, target is in SYN-RECEIVED"),
        "{}",
        f.message
    );
}

const IN_WINDOW_RST: &str = r#"
id: inline/in-window-rst
title: an in-window RST that is not exactly RCV.NXT
prelude: ESTABLISHED
steps:
  - send: { flags: R, seq: 100 }
  - one_of:
      rfc5961:
        - expect: { flags: A, seq: snd.nxt, ack: rcv.nxt }
        - state: ESTABLISHED
      rfc793:
        - expect_none: 300ms
        - state: CLOSED
"#;

#[test]
fn one_of_reports_the_variant_each_profile_chose() {
    let case = case_from(IN_WINDOW_RST);
    for (policy, want) in [
        (reference_stack::RstPolicy::Rfc5961, "rfc5961"),
        (reference_stack::RstPolicy::Rfc793, "rfc793"),
    ] {
        let r = run(&case, IpVersion::V4, policy);
        match &r.outcome {
            Outcome::Passed { variants } => assert_eq!(variants, &vec![want.to_string()]),
            other => panic!("{policy:?}: {other:?}\n{:#?}", r.trace),
        }
    }
}

#[test]
fn a_case_pinned_to_rfc5961_fails_on_an_rfc793_stack() {
    let case = case_from(
        r#"
id: inline/challenge-ack
title: RFC 5961 3.2 challenge ACK, no alternative allowed
prelude: ESTABLISHED
steps:
  - send:   { flags: R, seq: 100 }
  - expect: { flags: A, seq: snd.nxt, ack: rcv.nxt }
"#,
    );
    let pass = run(&case, IpVersion::V4, reference_stack::RstPolicy::Rfc5961);
    assert!(pass.passed(), "{:?}", pass.outcome);
    let r = run(&case, IpVersion::V4, reference_stack::RstPolicy::Rfc793);
    assert!(
        failure(&r).message.contains("got nothing"),
        "{:?}",
        r.outcome
    );
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("run tcpconform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_exit_codes_and_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    let broken = dir.path().join("broken");
    for d in [&good, &bad, &broken] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(
        good.join("c.yaml"),
        "id: t/good\ntitle: t\nsetup: { closed: 9 }\nsteps:\n  - send: { flags: S, seq: 0 }\n  - expect: { flags: RA, ack: 1 }\n",
    )
    .unwrap();
    std::fs::write(
        bad.join("c.yaml"),
        "id: t/bad\ntitle: t\nsetup: { closed: 9 }\nsteps:\n  - send: { flags: S, seq: 0 }\n  - expect: { flags: SA }\n",
    )
    .unwrap();
    std::fs::write(
        broken.join("c.yaml"),
        "id: t/broken\ntitle: t\nsteps:\n  - sned: {}\n",
    )
    .unwrap();
    let pcaps = dir.path().join("pcap");
    let pcaps = pcaps.to_str().unwrap();

    let (code, out, _) = cli(&["run", good.to_str().unwrap(), "--pcap-dir", pcaps]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().last(), Some("2 passed, 0 failed"));

    let (code, out, _) = cli(&[
        "run",
        bad.to_str().unwrap(),
        "--ip",
        "4",
        "--pcap-dir",
        pcaps,
    ]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.lines().last(), Some("0 passed, 1 failed"));
    assert!(Path::new(pcaps).join("t__bad.ipv4.pcap").exists());

    let (code, out, err) = cli(&["run", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("c.yaml:4:"), "{err}");
    assert!(!out.contains("passed"), "nothing may run: {out}");

    let (code, _, err) = cli(&["run", good.to_str().unwrap(), "--partition", "3/2"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn cli_partitions_split_the_corpus_without_overlap() {
    let (_, all, _) = cli(&["list"]);
    let all: Vec<&str> = all.lines().filter(|l| l.contains(" [ipv")).collect();
    let mut union = Vec::new();
    for k in 1..=3 {
        let (code, out, _) = cli(&["list", "--partition", &format!("{k}/3")]);
        assert_eq!(code, 0);
        union.extend(
            out.lines()
                .filter(|l| l.contains(" [ipv"))
                .map(str::to_string),
        );
    }
    union.sort();
    let mut all: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(union, all);
}
