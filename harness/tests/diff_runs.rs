//! `tcpconform diff OLD NEW`: what changed between two saved runs, and the exit status a CI
//! job gates on (0 nothing regressed, 1 a verdict regressed, 2 usage errors).

mod compare_fixtures;

use compare_fixtures::{failed, passed, result, skipped, tcpconform, three_runs, write_run};
use serde_json::Value;
use tcpconform::run::event::{IpVersion, Level};

fn diff(old: &std::path::Path, new: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let (old, new) = (old.display().to_string(), new.display().to_string());
    let mut args = vec!["diff", old.as_str(), new.as_str()];
    args.extend(extra);
    tcpconform(&args)
}

#[test]
fn lost_passes_are_regressions_and_fail_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let [reference, linux, _] = three_runs(dir.path());
    let (code, out, err) = diff(&reference, &linux, &[]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["instance", "old", "new", "change"]
    );
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no line for {name}:\n{out}"))
    };
    assert_eq!(
        row("rst/b [ipv4]"),
        "passed (rfc5961) passed (rfc793) variant"
    );
    assert_eq!(
        row("rules/listen/c [ipv4]"),
        "passed baseline MUST REGRESSED"
    );
    assert_eq!(
        row("rules/syn-sent/d [ipv4]"),
        "passed warning SHOULD REGRESSED"
    );
    assert_eq!(row("close/e [ipv4]"), "passed info MAY REGRESSED");
    assert!(
        !out.contains("rst/a"),
        "unchanged instances are not listed:\n{out}"
    );
    assert!(
        out.contains("    now: expected A within 1s, got R (should)"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "7 instance(s) compared: 3 regressed, 0 improved, 0 changed otherwise, 1 with other \
             variants; 0 only in old, 0 only in new\n"
        ),
        "{out}"
    );
    // The other way round nothing regressed: exit 0.
    let (code, out, _) = diff(&linux, &reference, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 regressed, 3 improved"), "{out}");
}

#[test]
fn unjudged_verdicts_change_without_regressing() {
    let dir = tempfile::tempdir().unwrap();
    let [_, linux, link] = three_runs(dir.path());
    let (code, out, _) = diff(&linux, &link, &[]);
    assert_eq!(code, 1, "rst/a [ipv4] lost its pass:\n{out}");
    let line = |name: &str| {
        let l = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default();
        l.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(
        line("rst/a [ipv4]"),
        "rst/a [ipv4] passed failed MUST REGRESSED"
    );
    assert_eq!(
        line("rules/listen/c [ipv4]"),
        "rules/listen/c [ipv4] baseline MUST skipped changed"
    );
    assert_eq!(
        line("close/e [ipv4]"),
        "close/e [ipv4] info MAY passed improved"
    );
    assert_eq!(
        line("rst/b [ipv4]"),
        "rst/b [ipv4] passed (rfc793) - only in old"
    );
    assert!(
        out.contains(
            "1 regressed, 1 improved, 1 changed otherwise, 0 with other variants; 1 only in old"
        ),
        "{out}"
    );
}

#[test]
fn a_rising_severity_regresses_and_a_falling_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let one = |file: &str, outcome| {
        write_run(
            dir.path(),
            file,
            "linux",
            vec![result("window/x", IpVersion::V4, Level::Must, &[], outcome)],
        )
    };
    let warn = one("warn.json", failed(Level::Should, None));
    let fail = one("fail.json", failed(Level::Must, None));
    let known = one("known.json", failed(Level::Must, Some("recorded")));
    let skip = one("skip.json", skipped("over the time budget"));
    assert_eq!(diff(&warn, &fail, &[]).0, 1, "SHOULD -> MUST");
    assert_eq!(diff(&fail, &warn, &[]).0, 0, "MUST -> SHOULD");
    assert_eq!(
        diff(&known, &fail, &[]).0,
        0,
        "a recorded MUST failure weighs a MUST failure"
    );
    assert_eq!(
        diff(&skip, &fail, &[]).0,
        0,
        "a case that now runs and fails is news"
    );
    let (code, out, _) = diff(&fail, &fail, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().last().unwrap(),
        "1 instance(s) compared: 0 regressed, 0 improved, 0 changed otherwise, 0 with other \
         variants; 0 only in old, 0 only in new"
    );
    let pass = one("pass.json", passed(&[]));
    assert_eq!(diff(&pass, &skip, &[]).0, 1, "a pass lost to a skip");
}

#[test]
fn json_lists_the_same_changes() {
    let dir = tempfile::tempdir().unwrap();
    let [reference, linux, _] = three_runs(dir.path());
    let path = dir.path().join("out/diff.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (code, _, _) = diff(&reference, &linux, &["--json", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["old"]["target"], "reference");
    assert_eq!(doc["compared"], 7);
    assert_eq!(doc["regressed"], 3);
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 4);
    let c = changes
        .iter()
        .find(|c| c["id"] == "rules/listen/c")
        .unwrap();
    assert_eq!(c["change"], "regressed");
    assert_eq!(c["ip"], "ipv4");
    assert_eq!(c["old"]["verdict"], "passed");
    assert_eq!(c["new"]["verdict"], "baseline");
    assert_eq!(c["new"]["level"], "must");
    assert_eq!(
        c["new"]["detail"],
        "expected A within 1s, got R (must) (known deviation: known: no challenge ACK (RFC 5961 3.2))"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let [reference, ..] = three_runs(dir.path());
    let missing = dir.path().join("missing.json");
    let (code, _, err) = diff(&reference, &missing, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.json: cannot read"), "{err}");
    let (code, _, _) = tcpconform(&["diff", reference.to_str().unwrap()]);
    assert_eq!(code, 2, "one run only");
}
