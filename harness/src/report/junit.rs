//! The JUnit XML reporter, for CI systems, in the dialect the strict consumers accept: the
//! Jenkins xUnit plugin's `junit-10.xsd` (which Surefire, pytest and most CI servers follow).
//!
//! One `<testsuite>` per target (its `<properties>`: the target, the run's seed, the version),
//! one `<testcase>` per case instance: name [`CaseResult::display_name`] (`rst/syn-x [ipv4]`),
//! classname the case id's folder (`rst`). By verdict:
//! - failed (a MUST not met): `<failure type="MUST" message="...">` with the message, the
//!   location and the field diff;
//! - known deviation, inconclusive, not applicable, skipped: `<skipped message="known
//!   deviation: reason (RFC ...)"/>` and the like — as pytest reports an expected failure;
//! - passed, warning (a SHOULD not met), information (a MAY not taken): a passing test case;
//!   what was not met heads its `<system-out>`.
//!
//! `<system-out>` says the verdict, the RFC references, the rules and variants, then gives the
//! packet trace. Every text is made XML-safe here ([`escape`]): control characters a target
//! provokes in a trace are shown as `\u{..}`, markup characters are entities, so any run stays
//! a valid document.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::PathBuf;

use super::{diff_text, escape_controls, failure_location, format_trace};
use crate::run::event::{CaseResult, Inconsistency, Outcome, Reporter, RunEvent, Verdict};

/// One suite being collected.
#[derive(Debug, Default)]
struct Suite {
    name: String,
    /// The `<testcase>` elements, already written.
    cases: String,
    tests: usize,
    failures: usize,
    skipped: usize,
    time_secs: f64,
}

pub struct JunitReporter {
    path: PathBuf,
    /// Suites in the order their first case arrived, one per target name.
    suites: Vec<Suite>,
    seed: Option<u64>,
    wall_secs: f64,
}

/// `text` made safe for XML text and attribute values: control characters escaped
/// ([`escape_controls`]), then `&`, `<`, `>` and both quotes as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in escape_controls(text).chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Seconds with three decimals, the only form junit-10.xsd's time type takes.
fn seconds(s: f64) -> String {
    format!("{s:.3}")
}

impl JunitReporter {
    /// A reporter that writes the XML to `path` when the run finishes (its folder must exist:
    /// see [`super::check_report_file`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JunitReporter {
            path: path.into(),
            suites: Vec::new(),
            seed: None,
            wall_secs: 0.0,
        }
    }

    /// The run's seed, recorded as a suite property (`--seed` replays the run).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The document for everything received so far.
    pub fn to_xml(&self) -> String {
        let (tests, failures) = self
            .suites
            .iter()
            .fold((0, 0), |(t, f), s| (t + s.tests, f + s.failures));
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuites name=\"tcpconform\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"0\" time=\"{}\">",
            seconds(self.wall_secs)
        );
        for s in &self.suites {
            let _ = writeln!(
                x,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" \
                 time=\"{}\">",
                escape(&s.name),
                s.tests,
                s.failures,
                s.skipped,
                seconds(s.time_secs)
            );
            x.push_str("    <properties>\n");
            let mut props = vec![
                ("target", s.name.clone()),
                ("tcpconform", env!("CARGO_PKG_VERSION").to_string()),
            ];
            if let Some(seed) = self.seed {
                props.push(("seed", format!("{seed:#018x}")));
            }
            for (name, value) in props {
                let _ = writeln!(
                    x,
                    "      <property name=\"{name}\" value=\"{}\"/>",
                    escape(&value)
                );
            }
            x.push_str("    </properties>\n");
            x.push_str(&s.cases);
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
        x
    }

    fn add(&mut self, c: &CaseResult) {
        let index = match self.suites.iter().position(|s| s.name == c.target) {
            Some(i) => i,
            None => {
                self.suites.push(Suite {
                    name: c.target.clone(),
                    ..Suite::default()
                });
                self.suites.len() - 1
            }
        };
        let Some(suite) = self.suites.get_mut(index) else {
            return;
        };
        suite.tests += 1;
        suite.time_secs += c.duration.as_secs_f64();
        match c.verdict {
            Verdict::Failed => suite.failures += 1,
            Verdict::KnownDeviation
            | Verdict::Inconclusive
            | Verdict::NotApplicable
            | Verdict::Skipped => suite.skipped += 1,
            Verdict::Passed | Verdict::Warning | Verdict::Info => {}
        }
        suite.cases.push_str(&test_case(c));
    }
}

impl JunitReporter {
    /// An implementation choice taken both ways, as a failed test case of its own in the
    /// first suite, so that CI shows it.
    fn inconsistent(&mut self, i: &Inconsistency) {
        let Some(suite) = self.suites.first_mut() else {
            return;
        };
        suite.tests += 1;
        suite.failures += 1;
        let mut text = String::new();
        for (variant, names) in &i.taken {
            let _ = writeln!(text, "{variant}: {}", names.join(", "));
        }
        let about = i.mitigation.map_or("", |m| m.describe());
        let message = format!(
            "{about}: the target chose {} in different instances; RFC 9293 MAY-12 is a choice \
             of the implementation, not of each segment",
            i.taken
                .iter()
                .map(|(v, _)| v.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        );
        let _ = writeln!(
            suite.cases,
            "    <testcase name=\"{}\" classname=\"consistency\" time=\"0.000\">\n      \
             <failure type=\"MUST\" message=\"{}\">{}</failure>\n    </testcase>",
            escape(&format!("consistency of {about}")),
            escape(&message),
            escape(&text)
        );
    }
}

fn test_case(c: &CaseResult) -> String {
    let classname = c.id.rsplit_once('/').map_or(c.target.as_str(), |(f, _)| f);
    let mut x = format!(
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">\n",
        escape(&c.display_name()),
        escape(classname),
        seconds(c.duration.as_secs_f64())
    );
    let reason = c.reason().unwrap_or_default();
    let skipped = |what: &str, why: &str| {
        format!(
            "      <skipped message=\"{}\"/>\n",
            escape(&format!("{what}: {why}"))
        )
    };
    match (c.verdict, &c.outcome) {
        (Verdict::Failed, Outcome::Failed(f)) => {
            let mut text = format!(
                "{}\nat {} of {}",
                f.message,
                failure_location(f),
                c.file.display()
            );
            if let Some(diff) = diff_text(&f.diff) {
                text.push_str("\n\n");
                text.push_str(&diff);
            }
            let _ = writeln!(
                x,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                f.level.keyword(),
                escape(&format!("{} not met: {}", f.level, f.message)),
                escape(&text)
            );
        }
        (Verdict::KnownDeviation, Outcome::Failed(f)) => x.push_str(&skipped(
            "known deviation",
            f.baseline.as_deref().unwrap_or_default(),
        )),
        (Verdict::Inconclusive, _) => x.push_str(&skipped("inconclusive", reason)),
        (Verdict::NotApplicable, _) => x.push_str(&skipped("not applicable", reason)),
        (Verdict::Skipped, _) => x.push_str(&skipped("skipped", reason)),
        _ => {}
    }
    let _ = writeln!(
        x,
        "      <system-out>{}</system-out>",
        escape(&system_out(c))
    );
    x.push_str("    </testcase>\n");
    x
}

/// What a test case's `<system-out>` says: the verdict (and what was not met, where a failure
/// does not fail the run), the case's references, then the trace.
fn system_out(c: &CaseResult) -> String {
    let mut out = format!("verdict: {}\n", c.verdict.name());
    if let (Some(f), false) = (c.failure(), c.verdict == Verdict::Failed) {
        let what = match c.verdict {
            Verdict::KnownDeviation => "known deviation".to_string(),
            Verdict::Warning => format!("warning ({} not met)", f.level),
            _ => format!("information ({} not taken)", f.level),
        };
        let _ = writeln!(out, "{what} at {}: {}", failure_location(f), f.message);
        if let Some(diff) = diff_text(&f.diff) {
            out.push_str(&diff);
            out.push('\n');
        }
    }
    let _ = writeln!(out, "file: {}", c.file.display());
    let ids = |rules: &[reference_stack::Rule]| rules.iter().map(|r| r.id().to_string()).collect();
    let lists: [(&str, Vec<String>); 3] = [
        ("rfc", c.rfc.clone()),
        ("cells", ids(&c.cells)),
        ("rules observed", ids(&c.rules_observed)),
    ];
    for (name, values) in lists {
        if !values.is_empty() {
            let _ = writeln!(out, "{name}: {}", values.join(", "));
        }
    }
    if let Outcome::Passed { variants } = &c.outcome {
        if !variants.is_empty() {
            let _ = writeln!(out, "variants: {}", variants.join(", "));
        }
    }
    if !c.trace.is_empty() {
        out.push_str("trace:\n");
        out.push_str(&format_trace(&c.trace, "  "));
    }
    out
}

impl Reporter for JunitReporter {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::CaseFinished(c) => self.add(c),
            RunEvent::Finished(s) => {
                self.wall_secs = s.wall.as_secs_f64();
                fs::write(&self.path, self.to_xml())?;
            }
            RunEvent::Inconsistent(list) => {
                for i in list.iter().filter(|i| i.fails) {
                    self.inconsistent(i);
                }
            }
            RunEvent::Started { .. }
            | RunEvent::CaseStarted { .. }
            | RunEvent::TargetUnusable { .. } => {}
        }
        Ok(())
    }
}
