//! `tcpconform diff OLD.json NEW.json`: the instances whose verdict or chosen variants differ
//! between two runs, the regression gate of a stack's CI ([`super::regressed`] says what a
//! regression is).

use std::fmt::Write as _;

use serde::Serialize;

use super::matrix::detail;
use super::{regressed, SavedCase, SavedRun};
use crate::case::model::Level;
use crate::report::escape_controls;
use crate::run::event::Verdict;

/// What changed for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Worse than before: a lost pass, or a judged verdict of higher severity.
    Regressed,
    /// Better than before: a new pass, or a judged verdict of lower severity.
    Improved,
    /// Another verdict, neither better nor worse (to or from one that judges nothing).
    Changed,
    /// The same verdict through other allowed behaviours (`one_of` variants).
    Variant,
    /// Only the old run has the instance.
    OnlyOld,
    /// Only the new run has the instance.
    OnlyNew,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Regressed => "REGRESSED",
            Change::Improved => "improved",
            Change::Changed => "changed",
            Change::Variant => "variant",
            Change::OnlyOld => "only in old",
            Change::OnlyNew => "only in new",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: String,
    pub change: Change,
    pub old: Option<&'a SavedCase>,
    pub new: Option<&'a SavedCase>,
}

#[derive(Debug, Clone)]
pub struct Diff<'a> {
    pub old: &'a SavedRun,
    pub new: &'a SavedRun,
    /// Instances both runs have.
    pub compared: usize,
    /// In the order of the old run, then what only the new one has.
    pub entries: Vec<Entry<'a>>,
}

/// Compares two runs instance by instance (`id` and IP version).
pub fn diff<'a>(old: &'a SavedRun, new: &'a SavedRun) -> Diff<'a> {
    let key = |c: &SavedCase| (c.id.clone(), c.ip);
    let new_by: std::collections::HashMap<_, &SavedCase> =
        new.cases.iter().map(|c| (key(c), c)).collect();
    let old_keys: std::collections::HashSet<_> = old.cases.iter().map(key).collect();
    let mut entries = Vec::new();
    let mut compared = 0;
    for o in &old.cases {
        let Some(n) = new_by.get(&key(o)).copied() else {
            entries.push(Entry {
                name: o.name(),
                change: Change::OnlyOld,
                old: Some(o),
                new: None,
            });
            continue;
        };
        compared += 1;
        let change = if regressed(o, n) {
            Change::Regressed
        } else if regressed(n, o) {
            Change::Improved
        } else if o.verdict != n.verdict {
            Change::Changed
        } else if o.variants != n.variants {
            Change::Variant
        } else {
            continue;
        };
        entries.push(Entry {
            name: o.name(),
            change,
            old: Some(o),
            new: Some(n),
        });
    }
    for n in new.cases.iter().filter(|c| !old_keys.contains(&key(c))) {
        entries.push(Entry {
            name: n.name(),
            change: Change::OnlyNew,
            old: None,
            new: Some(n),
        });
    }
    Diff {
        old,
        new,
        compared,
        entries,
    }
}

/// `failed MUST`, `passed (rfc5961)`, `skipped`: a verdict as the table shows it.
fn shown(c: Option<&SavedCase>) -> String {
    let Some(c) = c else {
        return "-".into();
    };
    let mut s = c.verdict.name().to_string();
    if matches!(
        c.verdict,
        Verdict::Failed | Verdict::Warning | Verdict::Info | Verdict::KnownDeviation
    ) {
        if let Some(l) = c.shown_level() {
            s.push(' ');
            s.push_str(&l.name().to_uppercase());
        }
    }
    if !c.variants.is_empty() {
        let _ = write!(s, " ({})", c.variants.join(", "));
    }
    s
}

impl Diff<'_> {
    pub fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|e| e.change == change).count()
    }

    pub fn regressions(&self) -> usize {
        self.count(Change::Regressed)
    }

    /// The terminal table and its closing counts.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "old: {} ({}), new: {} ({})",
            escape_controls(&self.old.target),
            self.old.path.display(),
            escape_controls(&self.new.target),
            self.new.path.display()
        );
        let rows: Vec<[String; 4]> = self
            .entries
            .iter()
            .map(|e| {
                [
                    escape_controls(&e.name),
                    escape_controls(&shown(e.old)),
                    escape_controls(&shown(e.new)),
                    e.change.word().to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let header = [
                "instance".to_string(),
                "old".into(),
                "new".into(),
                "change".into(),
            ];
            let width = |i: usize| {
                rows.iter()
                    .chain(std::iter::once(&header))
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let (w0, w1, w2) = (width(0), width(1), width(2));
            let line = |r: &[String; 4]| {
                format!("{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3])
                    .trim_end()
                    .to_string()
            };
            let _ = writeln!(out, "{}", line(&header));
            for (r, e) in rows.iter().zip(&self.entries) {
                let _ = writeln!(out, "{}", line(r));
                if e.change == Change::Regressed {
                    if let Some(d) = e.new.and_then(detail) {
                        let _ = writeln!(out, "    now: {d}");
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "{} instance(s) compared: {} regressed, {} improved, {} changed otherwise, {} with \
             other variants; {} only in old, {} only in new",
            self.compared,
            self.regressions(),
            self.count(Change::Improved),
            self.count(Change::Changed),
            self.count(Change::Variant),
            self.count(Change::OnlyOld),
            self.count(Change::OnlyNew),
        );
        out
    }

    /// The `--json` document.
    pub fn to_json(&self) -> String {
        let side = |c: Option<&SavedCase>| {
            c.map(|c| JsonSide {
                verdict: c.verdict.name(),
                level: c.shown_level().map(Level::name),
                variants: c.variants.clone(),
                detail: detail(c),
            })
        };
        let doc = JsonDiff {
            old: JsonRun {
                file: self.old.path.display().to_string(),
                target: self.old.target.clone(),
            },
            new: JsonRun {
                file: self.new.path.display().to_string(),
                target: self.new.target.clone(),
            },
            compared: self.compared,
            regressed: self.regressions(),
            changes: self
                .entries
                .iter()
                .map(|e| JsonEntry {
                    name: e.name.clone(),
                    id: e.old.or(e.new).map(|c| c.id.clone()).unwrap_or_default(),
                    ip: e.old.or(e.new).map_or("", |c| c.ip.label()),
                    change: e.change,
                    old: side(e.old),
                    new: side(e.new),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[derive(Serialize)]
struct JsonDiff {
    old: JsonRun,
    new: JsonRun,
    compared: usize,
    regressed: usize,
    changes: Vec<JsonEntry>,
}

#[derive(Serialize)]
struct JsonRun {
    file: String,
    target: String,
}

#[derive(Serialize)]
struct JsonEntry {
    name: String,
    id: String,
    ip: &'static str,
    change: Change,
    old: Option<JsonSide>,
    new: Option<JsonSide>,
}

#[derive(Serialize)]
struct JsonSide {
    verdict: &'static str,
    level: Option<&'static str>,
    variants: Vec<String>,
    detail: Option<String>,
}
