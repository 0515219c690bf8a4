//! The JSON reporter: one document per run with the same content as the JUnit report.
//!
//! ```json
//! { "target": "reference",
//!   "summary": { "passed": 1, "failed": 1, "skipped": 0, "baseline": 0, "wall_secs": 0.5 },
//!   "cases": [ { "id": "rst/syn-x", "name": "rst/syn-x [ipv4]", "ip": "ipv4",
//!                "status": "failed", "failure": { "step": 2, "line": 14, "message": "...",
//!                "diff": "...", "segments": [ { "variant": null, "note": null, "fields": [
//!                  { "field": "flags", "expected": "SA", "received": "R", "differs": true },
//!                  { "field": "options.ts.ecr", "expected": "0", "received": "7", "differs": true }
//!                ] } ], "baseline": null }, "trace": [ { "at_secs": 0.0,
//!                "direction": "sent", "text": "S seq 0:0(0) win 65535", "packet": "4500..." } ],
//!                ... } ] }
//! ```
//!
//! `status` is the instance's verdict: `passed`, `failed` (a MUST not met), `warning` (a SHOULD
//! not met), `info` (a MAY not taken), `baseline` (a failure the target's baseline records),
//! `inconclusive`, `not_applicable` or `skipped` (the last three with `skip_reason`); `level`
//! is the case's requirement level and a `failure` carries the `level` of the failed step;
//! `step` counts from 0 as in [`crate::run::event::Failure`]; `diff` is the comparison as the
//! terminal shows it, `segments` the same as data (one entry per compared segment: a `one_of`
//! has one per variant, named by `variant`); `packet` is the raw IP packet in lowercase hex.

use std::fs;
use std::io;
use std::path::PathBuf;

use serde::Serialize;

use super::direction_name;
use crate::run::event::{
    CaseResult, Inconsistency, Outcome, Reporter, RunEvent, SegmentDiff, Summary, TraceEntry,
};

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub struct JsonRun {
    pub target: String,
    /// The run's seed (`run --seed` replays it), as `0x...`.
    pub seed: Option<String>,
    pub summary: JsonSummary,
    /// Why the run stopped early, when the target stopped answering.
    pub target_unusable: Option<String>,
    /// Choices the target made more than one way in this run.
    pub inconsistent_choices: Vec<JsonInconsistency>,
    pub cases: Vec<JsonCase>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct JsonSummary {
    pub passed: usize,
    pub failed: usize,
    pub warnings: usize,
    pub info: usize,
    pub inconclusive: usize,
    pub not_applicable: usize,
    pub skipped: usize,
    pub baseline: usize,
    pub not_run: usize,
    pub inconsistent: usize,
    pub wall_secs: f64,
}

impl From<&Inconsistency> for JsonInconsistency {
    fn from(i: &Inconsistency) -> JsonInconsistency {
        JsonInconsistency {
            mitigation: i.mitigation.map(|m| m.describe()),
            known: i.known.clone(),
            among: i.among.clone(),
            taken: i.taken.iter().cloned().collect(),
            fails: i.fails,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonInconsistency {
    /// The RFC 5961 mitigation (RFC 9293 MAY-12) the choice is about, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<&'static str>,
    /// The target's baseline knows it: the explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    /// The alternatives the cases allowed.
    pub among: Vec<String>,
    /// Each variant taken, with the instances that took it.
    pub taken: std::collections::BTreeMap<String, Vec<String>>,
    /// An implementation's choice (RFC 9293 MAY-12): made both ways, it fails the run.
    pub fails: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonCase {
    pub id: String,
    pub name: String,
    pub title: String,
    pub ip: &'static str,
    pub file: String,
    pub target: String,
    pub status: &'static str,
    pub rfc: Vec<String>,
    pub cells: Vec<String>,
    /// `must`, `should`, `practice` or `may`: the case's requirement level (a failed step may
    /// have its own, in `failure.level`).
    pub level: &'static str,
    pub rules_observed: Vec<String>,
    pub duration_secs: f64,
    /// The variants chosen at `one_of` steps (passed cases).
    pub variants: Vec<String>,
    pub failure: Option<JsonFailure>,
    pub skip_reason: Option<String>,
    pub trace: Vec<JsonTraceEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonFailure {
    pub step: usize,
    pub line: Option<usize>,
    /// `must`, `should`, `practice` or `may`: how strongly the RFC asks for what failed.
    pub level: &'static str,
    pub message: String,
    /// The comparison as a table ([`super::diff_text`]).
    pub diff: Option<String>,
    /// The comparison as data.
    pub segments: Vec<JsonSegmentDiff>,
    pub baseline: Option<String>,
}

/// One compared segment ([`SegmentDiff`]).
#[derive(Debug, Clone, Serialize)]
pub struct JsonSegmentDiff {
    pub variant: Option<String>,
    pub note: Option<String>,
    pub fields: Vec<JsonFieldDiff>,
}

/// One field of a compared segment ([`crate::run::event::FieldDiff`]).
#[derive(Debug, Clone, Serialize)]
pub struct JsonFieldDiff {
    pub field: String,
    pub expected: String,
    pub received: String,
    pub differs: bool,
}

impl JsonSegmentDiff {
    fn from_diff(d: &SegmentDiff) -> Self {
        JsonSegmentDiff {
            variant: d.variant.clone(),
            note: d.note.clone(),
            fields: d
                .fields
                .iter()
                .map(|f| JsonFieldDiff {
                    field: f.field.clone(),
                    expected: f.expected.clone(),
                    received: f.received.clone(),
                    differs: f.differs,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonTraceEntry {
    pub at_secs: f64,
    pub direction: &'static str,
    pub text: String,
    pub packet: Option<String>,
}

impl JsonCase {
    pub fn from_result(c: &CaseResult) -> Self {
        let variants = match &c.outcome {
            Outcome::Passed { variants } => variants.clone(),
            _ => Vec::new(),
        };
        let failure = c.failure().map(|f| JsonFailure {
            step: f.step,
            line: f.line,
            level: f.level.name(),
            message: f.message.clone(),
            diff: super::diff_text(&f.diff),
            segments: f.diff.iter().map(JsonSegmentDiff::from_diff).collect(),
            baseline: f.baseline.clone(),
        });
        let (status, skip_reason) = (c.verdict.name(), c.reason().map(str::to_string));
        JsonCase {
            id: c.id.clone(),
            name: c.display_name(),
            title: c.title.clone(),
            ip: c.ip.label(),
            file: c.file.display().to_string(),
            target: c.target.clone(),
            status,
            rfc: c.rfc.clone(),
            cells: c.cells.iter().map(|r| r.id().to_string()).collect(),
            level: c.level.name(),
            rules_observed: c
                .rules_observed
                .iter()
                .map(|r| r.id().to_string())
                .collect(),
            duration_secs: c.duration.as_secs_f64(),
            variants,
            failure,
            skip_reason,
            trace: c.trace.iter().map(JsonTraceEntry::from_entry).collect(),
        }
    }
}

impl JsonTraceEntry {
    pub fn from_entry(e: &TraceEntry) -> Self {
        JsonTraceEntry {
            at_secs: e.at.as_secs_f64(),
            direction: direction_name(e.direction),
            text: e.text.clone(),
            packet: e
                .packet
                .as_ref()
                .map(|p| p.iter().map(|b| format!("{b:02x}")).collect()),
        }
    }
}

impl From<&Summary> for JsonSummary {
    fn from(s: &Summary) -> Self {
        JsonSummary {
            passed: s.passed,
            failed: s.failed,
            warnings: s.warnings,
            info: s.info,
            inconclusive: s.inconclusive,
            not_applicable: s.not_applicable,
            skipped: s.skipped,
            baseline: s.baseline,
            not_run: s.not_run,
            inconsistent: s.inconsistent,
            wall_secs: s.wall.as_secs_f64(),
        }
    }
}

/// Collects the run and writes the document to `path` when it finishes (its folder must
/// exist: see [`super::check_report_file`]). For results that survive a killed run, see
/// [`super::jsonl`].
pub struct JsonReporter {
    path: PathBuf,
    run: JsonRun,
}

impl JsonReporter {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonReporter {
            path: path.into(),
            run: JsonRun {
                target: String::new(),
                seed: None,
                summary: JsonSummary::from(&Summary::default()),
                target_unusable: None,
                inconsistent_choices: Vec::new(),
                cases: Vec::new(),
            },
        }
    }

    /// The run's seed, recorded in the document.
    pub fn seed(mut self, seed: u64) -> Self {
        self.run.seed = Some(format!("{seed:#018x}"));
        self
    }

    /// The document so far.
    pub fn run(&self) -> &JsonRun {
        &self.run
    }

    /// The document so far, pretty-printed.
    pub fn to_json(&self) -> io::Result<String> {
        serde_json::to_string_pretty(&self.run).map_err(io::Error::other)
    }
}

impl Reporter for JsonReporter {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::Started { target, .. } => self.run.target = target.clone(),
            RunEvent::CaseStarted { .. } => {}
            RunEvent::CaseFinished(c) => self.run.cases.push(JsonCase::from_result(c)),
            RunEvent::Inconsistent(list) => {
                self.run.inconsistent_choices = list.iter().map(JsonInconsistency::from).collect();
            }
            RunEvent::TargetUnusable { reason, after } => {
                self.run.target_unusable = Some(match after {
                    Some(a) => format!("{reason} (after {a})"),
                    None => reason.clone(),
                });
            }
            RunEvent::Finished(s) => {
                self.run.summary = JsonSummary::from(s);
                let mut text = self.to_json()?;
                text.push('\n');
                fs::write(&self.path, text)?;
            }
        }
        Ok(())
    }
}
