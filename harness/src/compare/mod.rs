//! Saved runs compared: `tcpconform matrix` puts runs side by side ([`matrix`], [`page`]),
//! `tcpconform diff` lists what changed between two ([`diff`]).
//!
//! Both read the documents `run --json` writes ([`crate::report::json`]) back from disk. Only
//! what a comparison shows is read; unknown fields are ignored and fields an older document
//! lacks (the case's `level`) are optional, so a run saved by an earlier version still loads.

pub mod diff;
pub mod matrix;
pub mod page;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::case::model::Level;
use crate::ip::IpVersion;
use crate::run::event::Verdict;

/// A run document read back: where it came from and what it holds.
#[derive(Debug, Clone)]
pub struct SavedRun {
    pub path: PathBuf,
    pub target: String,
    pub summary: Option<SavedSummary>,
    pub target_unusable: Option<String>,
    pub cases: Vec<SavedCase>,
}

/// The document's own totals (`summary`), when it has them.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct SavedSummary {
    pub not_run: usize,
    pub wall_secs: f64,
}

/// One case instance of a saved run.
#[derive(Debug, Clone)]
pub struct SavedCase {
    pub id: String,
    pub ip: IpVersion,
    pub title: String,
    pub file: String,
    pub verdict: Verdict,
    /// The case's requirement level, when the document records it.
    pub level: Option<Level>,
    pub rfc: Vec<String>,
    pub cells: Vec<String>,
    pub variants: Vec<String>,
    pub failure: Option<SavedFailure>,
    pub skip_reason: Option<String>,
    pub duration_secs: f64,
    pub trace: Vec<SavedTrace>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedFailure {
    pub step: usize,
    pub line: Option<usize>,
    pub level: Option<String>,
    pub message: String,
    /// The comparison as a table, as every version of the report writes it.
    pub diff: Option<String>,
    /// The comparison as data; absent from reports written before it existed.
    #[serde(default)]
    pub segments: Vec<SavedSegment>,
    pub baseline: Option<String>,
}

/// One compared segment of a failure: its fields, expected vs received.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedSegment {
    pub variant: Option<String>,
    pub note: Option<String>,
    pub fields: Vec<SavedField>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedField {
    pub field: String,
    pub expected: String,
    pub received: String,
    pub differs: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedTrace {
    pub at_secs: f64,
    pub direction: String,
    pub text: String,
}

// The document as serde sees it; turned into the types above once checked.
#[derive(Deserialize)]
struct Doc {
    target: String,
    #[serde(default)]
    summary: Option<SavedSummary>,
    #[serde(default)]
    target_unusable: Option<String>,
    cases: Vec<DocCase>,
}

#[derive(Deserialize)]
struct DocCase {
    id: String,
    ip: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    file: String,
    status: String,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    rfc: Vec<String>,
    #[serde(default)]
    cells: Vec<String>,
    #[serde(default)]
    variants: Vec<String>,
    #[serde(default)]
    failure: Option<SavedFailure>,
    #[serde(default)]
    skip_reason: Option<String>,
    #[serde(default)]
    duration_secs: f64,
    #[serde(default)]
    trace: Vec<SavedTrace>,
}

/// Every verdict, best first, with the word reports use for it ([`Verdict::name`]).
pub const VERDICTS: [Verdict; 8] = [
    Verdict::Passed,
    Verdict::Info,
    Verdict::Warning,
    Verdict::Failed,
    Verdict::KnownDeviation,
    Verdict::Inconclusive,
    Verdict::NotApplicable,
    Verdict::Skipped,
];

/// The verdict a report word names (`passed`, `baseline`, ...).
pub fn verdict_named(name: &str) -> Option<Verdict> {
    VERDICTS.into_iter().find(|v| v.name() == name)
}

impl SavedCase {
    /// `id [ipv4]`, as every report names an instance.
    pub fn name(&self) -> String {
        format!("{} [{}]", self.id, self.ip.label())
    }

    /// The level a cell shows: the failed step's for a failure (its own level may differ from
    /// the case's), the case's otherwise.
    pub fn shown_level(&self) -> Option<Level> {
        self.failure
            .as_ref()
            .and_then(|f| f.level.as_deref())
            .and_then(Level::parse)
            .or(self.level)
    }
}

impl SavedRun {
    /// Reads a document `run --json` wrote. The error says which file and what is wrong.
    pub fn load(path: &Path) -> Result<SavedRun, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        SavedRun::parse(path, &text)
    }

    /// Parses a document; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<SavedRun, String> {
        let doc: Doc = serde_json::from_str(text).map_err(|e| {
            format!(
                "{}: not a run document of `tcpconform run --json`: {e}",
                path.display()
            )
        })?;
        let mut seen = HashSet::new();
        let mut cases = Vec::with_capacity(doc.cases.len());
        for c in doc.cases {
            let verdict = verdict_named(&c.status).ok_or_else(|| {
                format!(
                    "{}: case {} [{}]: unknown status `{}`",
                    path.display(),
                    c.id,
                    c.ip,
                    c.status
                )
            })?;
            let ip = match c.ip.as_str() {
                "ipv4" => IpVersion::V4,
                "ipv6" => IpVersion::V6,
                other => {
                    return Err(format!(
                        "{}: case {}: unknown ip `{other}` (ipv4 or ipv6)",
                        path.display(),
                        c.id
                    ))
                }
            };
            if !seen.insert((c.id.clone(), ip)) {
                return Err(format!(
                    "{}: case {} [{}] appears twice",
                    path.display(),
                    c.id,
                    c.ip
                ));
            }
            cases.push(SavedCase {
                level: c.level.as_deref().and_then(Level::parse),
                id: c.id,
                ip,
                title: c.title,
                file: c.file,
                verdict,
                rfc: c.rfc,
                cells: c.cells,
                variants: c.variants,
                failure: c.failure,
                skip_reason: c.skip_reason,
                duration_secs: c.duration_secs,
                trace: c.trace,
            });
        }
        Ok(SavedRun {
            path: path.to_path_buf(),
            target: doc.target,
            summary: doc.summary,
            target_unusable: doc.target_unusable,
            cases,
        })
    }
}

/// How bad a judged verdict is: 0 passed, 1 a MAY not taken, 2 a SHOULD (or recommended
/// practice) not met, 3 a MUST not met. A known deviation weighs what the failure it records
/// weighs (its step's level). `None` for verdicts that judge nothing: inconclusive, not
/// applicable, skipped.
pub fn severity(case: &SavedCase) -> Option<u8> {
    match case.verdict {
        Verdict::Passed => Some(0),
        Verdict::Info => Some(1),
        Verdict::Warning => Some(2),
        Verdict::Failed => Some(3),
        Verdict::KnownDeviation => Some(match case.shown_level() {
            Some(Level::May) => 1,
            Some(Level::Should | Level::Practice) => 2,
            Some(Level::Must) | None => 3,
        }),
        Verdict::Inconclusive | Verdict::NotApplicable | Verdict::Skipped => None,
    }
}

/// Whether `new` is worse than `old`: a pass that is lost (to any other verdict, a skip
/// included), or a judged verdict whose [`severity`] rose (a SHOULD warning that became a
/// MUST failure). Verdicts that judge nothing are not ordered against failures: a case that
/// could not run before and fails now is news, not a regression.
pub fn regressed(old: &SavedCase, new: &SavedCase) -> bool {
    if old.verdict == Verdict::Passed {
        return new.verdict != Verdict::Passed;
    }
    matches!((severity(old), severity(new)), (Some(a), Some(b)) if b > a)
}

/// The folder of a case id, its area: `rules/listen` for `rules/listen/syn-x`, `rst` for
/// `rst/in-window[ESTABLISHED,rcv.nxt+1]` (a grid's labels may hold a `/`), empty for an id
/// without one.
pub fn area(id: &str) -> &str {
    let base = id.split('[').next().unwrap_or(id);
    base.rfind('/').map_or("", |i| &id[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(verdict: Verdict, failure_level: Option<&str>) -> SavedCase {
        SavedCase {
            id: "rst/x".into(),
            ip: IpVersion::V4,
            title: String::new(),
            file: String::new(),
            verdict,
            level: Some(Level::Must),
            rfc: Vec::new(),
            cells: Vec::new(),
            variants: Vec::new(),
            failure: failure_level.map(|l| SavedFailure {
                step: 0,
                line: None,
                level: Some(l.into()),
                message: String::new(),
                diff: None,
                segments: Vec::new(),
                baseline: None,
            }),
            skip_reason: None,
            duration_secs: 0.0,
            trace: Vec::new(),
        }
    }

    #[test]
    fn area_is_the_folder_of_the_id() {
        assert_eq!(area("rst/syn-x"), "rst");
        assert_eq!(area("rules/listen/syn-x"), "rules/listen");
        assert_eq!(area("grid/ack[a/b,c]"), "grid");
        assert_eq!(area("top"), "");
    }

    #[test]
    fn a_lost_pass_is_a_regression_whatever_replaces_it() {
        let passed = case(Verdict::Passed, None);
        for v in VERDICTS.into_iter().filter(|v| *v != Verdict::Passed) {
            assert!(regressed(&passed, &case(v, Some("may"))), "{v:?}");
        }
        assert!(!regressed(&passed, &passed));
    }

    #[test]
    fn severity_orders_judged_verdicts_only() {
        let warn = case(Verdict::Warning, Some("should"));
        let fail = case(Verdict::Failed, Some("must"));
        let info = case(Verdict::Info, Some("may"));
        let skipped = case(Verdict::Skipped, None);
        assert!(regressed(&warn, &fail));
        assert!(regressed(&info, &warn));
        assert!(!regressed(&fail, &warn));
        assert!(!regressed(&skipped, &fail));
        assert!(!regressed(&fail, &skipped));
        // A known deviation weighs its failure's level: recording a MUST failure in the
        // baseline is no improvement, and losing the record no regression.
        let known_must = case(Verdict::KnownDeviation, Some("must"));
        let known_may = case(Verdict::KnownDeviation, Some("may"));
        assert!(!regressed(&known_must, &fail));
        assert!(!regressed(&fail, &known_must));
        assert!(regressed(&known_may, &fail));
        assert!(regressed(&known_may, &warn));
    }

    #[test]
    fn documents_without_level_load_and_bad_ones_are_named() {
        let p = Path::new("x.json");
        let ok = r#"{"target":"t","cases":[{"id":"a/b","ip":"ipv4","status":"warning",
            "failure":{"step":1,"line":3,"level":"should","message":"m","diff":null,"baseline":null}}]}"#;
        let run = SavedRun::parse(p, ok).unwrap();
        assert_eq!(run.cases[0].level, None);
        // Written before failures carried their comparison as data: no segments.
        assert!(run.cases[0].failure.as_ref().unwrap().segments.is_empty());
        let with_fields = r#"{"target":"t","cases":[{"id":"a/b","ip":"ipv4","status":"failed",
            "failure":{"step":1,"line":3,"level":"must","message":"m","diff":"  flags ...",
            "segments":[{"variant":null,"note":null,"fields":[{"field":"options.ts.ecr",
            "expected":"8","received":"7","differs":true}]}],"baseline":null}}]}"#;
        let new = SavedRun::parse(p, with_fields).unwrap();
        let f = new.cases[0].failure.as_ref().unwrap();
        assert_eq!(f.diff.as_deref(), Some("  flags ..."));
        assert_eq!(f.segments[0].fields[0].field, "options.ts.ecr");
        assert!(f.segments[0].fields[0].differs);
        assert_eq!(run.cases[0].shown_level(), Some(Level::Should));
        let bad = r#"{"target":"t","cases":[{"id":"a/b","ip":"ipv4","status":"great"}]}"#;
        assert!(SavedRun::parse(p, bad)
            .unwrap_err()
            .contains("unknown status `great`"));
        let twice = r#"{"target":"t","cases":[{"id":"a","ip":"ipv4","status":"passed"},
            {"id":"a","ip":"ipv4","status":"passed"}]}"#;
        assert!(SavedRun::parse(p, twice).unwrap_err().contains("twice"));
        assert!(SavedRun::parse(p, "[]")
            .unwrap_err()
            .starts_with("x.json: not a run"));
    }
}
