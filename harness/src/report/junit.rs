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
use crate::run::event::{CaseResult, Outcome, Reporter, RunEvent};

pub struct JunitReporter {
    path: PathBuf,
    report: Report,
    /// Suites in the order their first case arrived, keyed by target name.
    suites: Vec<TestSuite>,
}

impl JunitReporter {
    /// A reporter that writes the XML to `path` when the run finishes (its folder must exist:
    /// see [`super::check_report_file`]).
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
    let status = match &c.outcome {
        Outcome::Passed { .. } => TestCaseStatus::success(),
        Outcome::Failed(f) if f.baseline.is_some() => TestCaseStatus::success(),
        Outcome::Failed(f) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let mut text = format!("{}\nat {}", f.message, failure_location(f));
            text.push_str(&format!(" of {}", c.file.display()));
            if let Some(diff) = &f.diff {
                text.push_str("\n\n");
                text.push_str(diff);
            }
            status
                .set_message(xml_text(&f.message))
                .set_type("mismatch")
                .set_description(xml_text(&text));
            status
        }
        Outcome::Skipped { reason } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(xml_text(reason));
            status
        }
    };
    let mut case = TestCase::new(xml_text(&c.display_name()), status);
    let classname =
        c.id.rsplit_once('/')
            .map_or(c.target.as_str(), |(folder, _)| folder);
    case.set_classname(xml_text(classname));
    case.set_time(c.duration);
    let mut out = String::new();
    if let Outcome::Failed(f) = &c.outcome {
        if f.baseline.is_some() {
            // A known deviation passes, but what deviated stays on record.
            out.push_str(&format!(
                "known deviation at {}: {}\n",
                failure_location(f),
                f.message
            ));
            if let Some(diff) = &f.diff {
                out.push_str(diff);
            }
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
            if let Some(reason) = &f.baseline {
                props.push(Property::new("baseline", xml_text(reason)));
            }
        }
        _ => {}
    }
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
                fs::write(&self.path, self.to_xml()?)?;
            }
            RunEvent::Started { .. } | RunEvent::CaseStarted { .. } => {}
        }
        Ok(())
    }
}
