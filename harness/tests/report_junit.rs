//! The JUnit reporter: structure (parsed back with quick-junit), hostile trace text, and
//! validation by xmllint against the Jenkins xUnit plugin's junit-10.xsd (which strict CI
//! consumers follow; `.ci/run` takes it from pytest's source distribution on PyPI into
//! `target/junit-10.xsd`) and against tests/data/junit.xsd, and by python's junitparser (tools
//! the machine must have under CI, see `needs`).

mod needs;
mod report_fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use report_fixtures::{feed, hostile_text, run_events};
use tcpconform::report::junit::{escape, JunitReporter};
use tcpconform::run::event::RunEvent;

fn write_report(dir: &Path, events: &[RunEvent]) -> (PathBuf, String) {
    let path = dir.join("junit.xml");
    let mut reporter = JunitReporter::new(&path).seed(0x2a);
    feed(&mut reporter, events);
    let xml = std::fs::read_to_string(&path).expect("the report was written");
    (path, xml)
}

/// The value of a `name: value` line of a test case's system-out.
fn said<'a>(case: &'a quick_junit::TestCase, name: &str) -> Option<&'a str> {
    let out = case.system_out.as_ref()?.as_str();
    out.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[test]
fn structure_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_, xml) = write_report(dir.path(), &run_events());
    let report = Report::deserialize_from_str(&xml).expect("valid JUnit XML");

    assert_eq!(report.test_suites.len(), 1);
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "reference");
    assert_eq!((suite.tests, suite.failures, suite.errors), (4, 1, 0));
    assert_eq!(suite.extra.get("skipped").map(|v| v.as_str()), Some("2"));
    let props: Vec<(&str, &str)> = suite
        .properties
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert!(props.contains(&("target", "reference")), "{props:?}");
    assert!(props.contains(&("seed", "0x000000000000002a")), "{props:?}");

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
    assert_eq!(said(passed, "verdict"), Some("passed"));
    assert_eq!(said(passed, "variants"), Some("rfc5961"));
    assert_eq!(said(passed, "rfc"), Some("RFC9293 3.10.7.4, MUST-11"));
    assert_eq!(said(passed, "cells"), Some("RS-2"));
    assert_eq!(said(passed, "rules observed"), Some("LI-1, RS-2"));
    assert_eq!(
        said(passed, "file"),
        Some("cases/handshake/passive-open.yaml")
    );
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
    assert_eq!(
        message.as_deref(),
        Some("MUST not met: expected SA within 1s, got R")
    );
    let text = description.as_deref().expect("failure text");
    assert!(
        text.contains("at step 2 (line 14) of cases/rst/syn-x.yaml"),
        "{text}"
    );
    assert!(
        text.contains("flags   SA        R         <- differs"),
        "{text}"
    );
    assert_eq!(said(failed, "verdict"), Some("failed"));

    // A known deviation is reported as skipped (pytest's xfail), with its reason.
    let TestCaseStatus::Skipped { message, .. } = &baseline.status else {
        panic!("a known deviation is skipped");
    };
    assert_eq!(
        message.as_deref(),
        Some("known deviation: Linux sends no challenge ACK here (RFC 5961 3.2)")
    );
    assert_eq!(said(baseline, "verdict"), Some("baseline"));
    let out = baseline.system_out.as_ref().expect("detail").as_str();
    assert!(
        out.contains("\nknown deviation at step 3: expected challenge ACK, got nothing\n"),
        "{out}"
    );
    assert!(out.contains("> R seq 5:5(0) win 0"), "{out}");

    let TestCaseStatus::Skipped { message, .. } = &skipped.status else {
        panic!("the skipped case is skipped");
    };
    assert_eq!(
        message.as_deref(),
        Some("skipped: needs an agent on the target")
    );
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
    assert!(
        out.contains(&tcpconform::report::escape_controls(&hostile_text())),
        "{out}"
    );
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
    require!(needs::tool(
        "xmllint",
        "--version",
        "apt-get install -y libxml2-utils"
    ));
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
    require!(needs::python_module(
        "junitparser",
        "python3 -m pip install junitparser"
    ));
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
                case rst rst/in-window [ipv4] Skipped\n\
                case app app/needs-agent [ipv6] Skipped\n";
    assert_eq!(stdout, want);
}

/// The Jenkins xUnit plugin's junit-10.xsd, as `.ci/run` puts it (from pytest's source
/// distribution on PyPI, MIT licensed): the schema strict consumers hold reports to.
fn junit_10_xsd() -> Result<PathBuf, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/junit-10.xsd");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: .ci/run fetches it (pip download --no-binary :all: --no-deps \
             pytest==8.3.4, testing/example_scripts/junit-10.xsd)",
            path.display()
        ))
    }
}

#[test]
fn validates_against_junit_10_xsd() {
    require!(needs::tool(
        "xmllint",
        "--version",
        "apt-get install -y libxml2-utils"
    ));
    let schema = match junit_10_xsd() {
        Ok(p) => p,
        Err(why) => {
            require!(Some(why));
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let mut events = run_events();
    let mut other = report_fixtures::failed();
    other.target = "linux".to_string();
    events.insert(events.len() - 1, RunEvent::CaseFinished(Box::new(other)));
    let (path, _) = write_report(dir.path(), &events);
    let lint = |file: &Path| {
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&schema)
            .arg(file)
            .output()
            .unwrap()
    };
    let out = lint(&path);
    assert!(
        out.status.success(),
        "junit-10.xsd rejects the report:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the report used to carry, and strict consumers refuse: properties in a testcase.
    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        r#"<testsuites><testsuite name="x" tests="1" failures="0" errors="0"><testcase name="c"><properties/></testcase></testsuite></testsuites>"#,
    )
    .unwrap();
    assert!(
        !lint(&broken).status.success(),
        "junit-10.xsd accepted properties in a testcase"
    );
}

#[test]
fn text_is_escaped_for_attributes_and_content() {
    assert_eq!(
        escape("a<b>&\"'\u{1b}"),
        "a&lt;b&gt;&amp;&quot;&apos;\\u{1b}"
    );
}
