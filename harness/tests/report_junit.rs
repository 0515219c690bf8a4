//! The JUnit reporter: structure (parsed back with quick-junit), hostile trace text, and
//! validation by xmllint against tests/data/junit.xsd and by python's junitparser when those
//! tools are installed.

mod report_fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use report_fixtures::{feed, have, hostile_text, run_events};
use tcpconform::report::junit::{xml_text, JunitReporter};
use tcpconform::run::event::RunEvent;

fn write_report(dir: &Path, events: &[RunEvent]) -> (PathBuf, String) {
    let path = dir.join("junit.xml");
    let mut reporter = JunitReporter::new(&path);
    feed(&mut reporter, events);
    let xml = std::fs::read_to_string(&path).expect("the report was written");
    (path, xml)
}

fn property<'a>(case: &'a quick_junit::TestCase, name: &str) -> Option<&'a str> {
    case.properties
        .iter()
        .find(|p| p.name.as_str() == name)
        .map(|p| p.value.as_str())
}

#[test]
fn structure_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_, xml) = write_report(dir.path(), &run_events());
    let report = Report::deserialize_from_str(&xml).expect("valid JUnit XML");

    assert_eq!(report.test_suites.len(), 1);
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "reference");
    assert_eq!(
        (suite.tests, suite.failures, suite.errors, suite.disabled),
        (4, 1, 0, 1)
    );
    assert_eq!(suite.extra.get("skipped").map(|v| v.as_str()), Some("1"));

    let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "handshake/passive-open [ipv4]",
            "rst/syn-x [ipv6]",
            "rst/in-window [ipv4]",
            "app/needs-agent [ipv6]"
        ]
    );
    let classes: Vec<&str> = suite
        .test_cases
        .iter()
        .map(|c| c.classname.as_ref().map_or("", |s| s.as_str()))
        .collect();
    assert_eq!(classes, ["handshake", "rst", "rst", "app"]);

    let [passed, failed, baseline, skipped] = &suite.test_cases[..] else {
        panic!("four test cases");
    };

    assert!(matches!(passed.status, TestCaseStatus::Success { .. }));
    assert_eq!(property(passed, "variants"), Some("rfc5961"));
    assert_eq!(property(passed, "rfc"), Some("RFC9293 3.10.7.4, MUST-11"));
    assert_eq!(property(passed, "cells"), Some("RS-2"));
    assert_eq!(property(passed, "rules_observed"), Some("LI-1, RS-2"));
    assert_eq!(property(passed, "ip"), Some("ipv4"));
    assert_eq!(property(passed, "baseline"), None);
    let out = passed
        .system_out
        .as_ref()
        .expect("trace in system-out")
        .as_str();
    assert!(out.contains("> S seq 0:0(0) win 65535 <mss 1460>"), "{out}");
    assert!(out.contains("< SA seq 0:0(0) ack 1"), "{out}");

    let TestCaseStatus::NonSuccess {
        kind: NonSuccessKind::Failure,
        message,
        description,
        ..
    } = &failed.status
    else {
        panic!("the failed case is a failure: {:?}", failed.status);
    };
    assert_eq!(message.as_deref(), Some("expected SA within 1s, got R"));
    let text = description.as_deref().expect("failure text");
    assert!(
        text.contains("at step 2 (line 14) of cases/rst/syn-x.yaml"),
        "{text}"
    );
    assert!(
        text.contains("flags   SA        R         <- differs"),
        "{text}"
    );
    assert_eq!(property(failed, "ip"), Some("ipv6"));

    assert!(matches!(baseline.status, TestCaseStatus::Success { .. }));
    assert_eq!(
        property(baseline, "baseline"),
        Some("Linux sends no challenge ACK here (RFC 5961 3.2)")
    );
    let out = baseline.system_out.as_ref().expect("detail").as_str();
    assert!(
        out.starts_with("known deviation at step 3: expected challenge ACK, got nothing\n"),
        "{out}"
    );
    assert!(out.contains("> R seq 5:5(0) win 0"), "{out}");

    let TestCaseStatus::Skipped { message, .. } = &skipped.status else {
        panic!("the skipped case is skipped");
    };
    assert_eq!(message.as_deref(), Some("needs an agent on the target"));
}

#[test]
fn hostile_trace_text_stays_valid_xml() {
    let dir = tempfile::tempdir().unwrap();
    let (_, xml) = write_report(dir.path(), &run_events());
    assert!(!xml.contains("]]>"), "a raw CDATA end in the document");
    for bad in ['\u{0}', '\u{7}', '\u{1b}', '\u{fffe}', '\u{ffff}', '\u{85}'] {
        assert!(!xml.contains(bad), "raw {bad:?} in the document");
    }
    // The text survives, escaped, and reads back as written.
    let report = Report::deserialize_from_str(&xml).expect("valid XML");
    let out = report.test_suites[0].test_cases[1]
        .system_out
        .as_ref()
        .expect("trace")
        .as_str();
    assert!(out.contains(&xml_text(&hostile_text())), "{out}");
    assert!(
        out.contains("]]> <b>&amp; \\u{0}\\u{7}\\u{1b}[31mred"),
        "{out}"
    );
    assert!(
        out.contains("\\u{fffe}\\u{ffff} x\u{fffd}\u{fffd}y \\u{85}"),
        "{out}"
    );
}

#[test]
fn one_suite_per_target() {
    let mut events = run_events();
    let mut other = report_fixtures::failed();
    other.target = "linux".to_string();
    events.insert(events.len() - 1, RunEvent::CaseFinished(Box::new(other)));
    let dir = tempfile::tempdir().unwrap();
    let (_, xml) = write_report(dir.path(), &events);
    let report = Report::deserialize_from_str(&xml).unwrap();
    let suites: Vec<(&str, usize, usize)> = report
        .test_suites
        .iter()
        .map(|s| (s.name.as_str(), s.tests, s.failures))
        .collect();
    assert_eq!(suites, [("reference", 4, 1), ("linux", 1, 1)]);
}

#[test]
fn validates_against_the_junit_schema() {
    if !have("xmllint", "--version") {
        println!("skipped: xmllint not installed (apt-get install -y libxml2-utils)");
        return;
    }
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_report(dir.path(), &run_events());
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmllint rejects the report:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The schema is not vacuous: a testcase without a name is rejected.
    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        r#"<testsuites><testsuite name="x" tests="1" failures="0" errors="0"><testcase classname="c"/></testsuite></testsuites>"#,
    )
    .unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the schema accepted a nameless testcase"
    );
}

#[test]
fn junitparser_reads_it() {
    let probe = Command::new("python3")
        .args(["-c", "import junitparser"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("skipped: python3 with junitparser not installed (pip install junitparser)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_report(dir.path(), &run_events());
    let script = r#"
import sys
from junitparser import JUnitXml, Failure, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print("suite", suite.name, suite.tests, suite.failures, suite.errors)
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        print("case", case.classname, case.name, ",".join(kinds) or "passed")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "junitparser failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = "suite reference 4 1 0\n\
                case handshake handshake/passive-open [ipv4] passed\n\
                case rst rst/syn-x [ipv6] Failure\n\
                case rst rst/in-window [ipv4] passed\n\
                case app app/needs-agent [ipv6] Skipped\n";
    assert_eq!(stdout, want);
}
