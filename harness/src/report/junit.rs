//! The JUnit XML reporter (quick-junit), for CI systems.
//!
//! One `<testsuite>` per target, one `<testcase>` per case instance: name
//! [`CaseResult::display_name`] (`rst/syn-x [ipv4]`), classname the case id's folder (`rst`).
//! A failure carries the message as its `message` attribute and the message, location and
//! field diff as its text; the trace goes to `<system-out>`. Properties (comma-separated
//! when several): `target`, `file`, `ip`, `rfc`, `cells`, `rules_observed`, `variants`,
//! and `baseline` (the reason) for a known deviation, which is reported as a passed test
//! case. Skipped cases are `<skipped message="reason"/>`; each suite also carries a
//! `skipped` count attribute next to quick-junit's `disabled`.
//!
//! Text is made XML-safe first (see [`xml_text`]), so any trace a target provokes stays a
//! valid document.

use std::fs;
use std::io;
use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{escape_controls, failure_location, format_trace};
use crate::run::event::{CaseResult, Outcome, Reporter, RunEvent, Verdict};

pub struct JunitReporter {
    path: PathBuf,
    report: Report,
    /// Suites in the order their first case arrived, keyed by target name.
    suites: Vec<TestSuite>,
}

impl JunitReporter {
    /// A reporter that writes the XML to `path` when the run finishes.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JunitReporter {
            path: path.into(),
            report: Report::new("tcpconform"),
            suites: Vec::new(),
        }
    }

    /// The XML for everything received so far.
    pub fn to_xml(&self) -> io::Result<String> {
        let mut report = self.report.clone();
        report.add_test_suites(self.suites.iter().cloned());
        report.to_string().map_err(io::Error::other)
    }

    fn add(&mut self, c: &CaseResult) {
        let suite_name = xml_text(&c.target);
        let index = match self
            .suites
            .iter()
            .position(|s| s.name.as_str() == suite_name)
        {
            Some(i) => i,
            None => {
                self.suites.push(TestSuite::new(suite_name));
                self.suites.len() - 1
            }
        };
        let case = test_case(c);
        if let Some(suite) = self.suites.get_mut(index) {
            let time = suite.time.unwrap_or_default() + c.duration;
            suite.set_time(time);
            suite.add_test_case(case);
            let skipped = suite.disabled.to_string();
            suite.extra.insert("skipped".into(), skipped.into());
        }
    }
}

fn test_case(c: &CaseResult) -> TestCase {
    let skipped = |what: &str, why: &str| {
        let mut status = TestCaseStatus::skipped();
        status.set_message(xml_text(&format!("{what}: {why}")));
        status
    };
    let status = match (c.verdict, &c.outcome) {
        (Verdict::Failed, Outcome::Failed(f)) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let mut text = format!("{}\nat {}", f.message, failure_location(f));
            text.push_str(&format!(" of {}", c.file.display()));
            if let Some(diff) = &f.diff {
                text.push_str("\n\n");
                text.push_str(diff);
            }
            status
                .set_message(xml_text(&format!("{} not met: {}", f.level, f.message)))
                .set_type("mismatch")
                .set_description(xml_text(&text));
            status
        }
        (Verdict::KnownDeviation, Outcome::Failed(f)) => {
            skipped("known deviation", f.baseline.as_deref().unwrap_or_default())
        }
        (Verdict::Inconclusive, _) => skipped("inconclusive", c.reason().unwrap_or_default()),
        (Verdict::NotApplicable, _) => skipped("not applicable", c.reason().unwrap_or_default()),
        (Verdict::Skipped, _) => skipped("skipped", c.reason().unwrap_or_default()),
        // Passed, warnings and information pass; what was not met is in system-out.
        _ => TestCaseStatus::success(),
    };
    let mut case = TestCase::new(xml_text(&c.display_name()), status);
    let classname =
        c.id.rsplit_once('/')
            .map_or(c.target.as_str(), |(folder, _)| folder);
    case.set_classname(xml_text(classname));
    case.set_time(c.duration);
    let mut out = String::new();
    if let (Some(f), false) = (c.failure(), c.verdict == Verdict::Failed) {
        // What was not met stays on record: a known deviation, a SHOULD, a MAY not taken.
        let what = match c.verdict {
            Verdict::KnownDeviation => "known deviation".to_string(),
            Verdict::Warning => format!("warning ({} not met)", f.level),
            _ => format!("information ({} not taken)", f.level),
        };
        out.push_str(&format!(
            "{what} at {}: {}\n",
            failure_location(f),
            f.message
        ));
        if let Some(diff) = &f.diff {
            out.push_str(diff);
            out.push('\n');
        }
    }
    out.push_str(&format_trace(&c.trace, ""));
    if !out.is_empty() {
        case.set_system_out(xml_text(&out));
    }
    case.add_properties(properties(c));
    case
}

fn properties(c: &CaseResult) -> Vec<Property> {
    let mut props = vec![
        Property::new("target", xml_text(&c.target)),
        Property::new("file", xml_text(&c.file.display().to_string())),
        Property::new("ip", c.ip.label()),
    ];
    let lists: [(&str, &[String]); 3] = [
        ("rfc", &c.rfc),
        ("cells", &c.cells),
        ("rules_observed", &c.rules_observed),
    ];
    for (name, values) in lists {
        if !values.is_empty() {
            props.push(Property::new(name, xml_text(&values.join(", "))));
        }
    }
    match &c.outcome {
        Outcome::Passed { variants } if !variants.is_empty() => {
            props.push(Property::new("variants", xml_text(&variants.join(", "))));
        }
        Outcome::Failed(f) => {
            props.push(Property::new("level", f.level.name()));
            if let Some(reason) = &f.baseline {
                props.push(Property::new("baseline", xml_text(reason)));
            }
        }
        _ => {}
    }
    props.push(Property::new("verdict", c.verdict.name()));
    props
}

/// `text` made safe for XML: [`escape_controls`]. The writer escapes `<`, `>`, `&` and
/// quotes, so `]]>` and markup in a trace are plain text.
pub fn xml_text(text: &str) -> String {
    escape_controls(text)
}

impl Reporter for JunitReporter {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::CaseFinished(c) => self.add(c),
            RunEvent::Finished(s) => {
                self.report.set_time(s.wall);
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir)?;
                }
                fs::write(&self.path, self.to_xml()?)?;
            }
            RunEvent::Started { .. }
            | RunEvent::CaseStarted { .. }
            | RunEvent::TargetUnusable { .. } => {}
        }
        Ok(())
    }
}
