//! `tcpconform matrix`: saved runs side by side, a column per run and a row per case instance,
//! written as `matrix.json`, `matrix.csv` and a static page ([`super::page`]).
//!
//! A row *differs* when its runs do not all agree on the verdict and the variants chosen (a run
//! that lacks the instance counts as a value of its own).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use reference_stack::Rule;
use serde::Serialize;

use super::{area, SavedCase, SavedRun, VERDICTS};
use crate::case::model::Level;
use crate::ip::IpVersion;
use crate::report::pcap::pcap_file_name;
use crate::run::event::Verdict;

/// One column: a run.
#[derive(Debug, Clone)]
pub struct Column {
    /// What the header says: the target's name, with the file's name when two runs have the
    /// same target (`link (slirp.json)`).
    pub label: String,
    pub target: String,
    pub file: PathBuf,
    /// Instances per verdict, in the order of [`VERDICTS`].
    pub counts: [usize; VERDICTS.len()],
    /// Instances the run never got to (the target stopped answering); they are among `skipped`.
    pub not_run: usize,
    pub wall_secs: Option<f64>,
    pub target_unusable: Option<String>,
}

/// One row: a case instance, as each run saw it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub ip: IpVersion,
    pub area: String,
    pub title: String,
    /// The case's requirement level (from the first run that records it).
    pub level: Option<Level>,
    /// SEGMENT ARRIVES rules the case claims (from the first run that has the instance).
    pub rules: Vec<String>,
    /// One per column; `None` where that run lacks the instance.
    pub cells: Vec<Option<Cell>>,
    pub differs: bool,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub case: SavedCase,
    /// The instance's capture, when the run's pcap folder was given and holds it.
    pub pcap: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Matrix {
    pub columns: Vec<Column>,
    /// By area, then id, then IP version.
    pub rows: Vec<Row>,
}

impl Row {
    /// `id [ipv4]`.
    pub fn name(&self) -> String {
        format!("{} [{}]", self.id, self.ip.label())
    }

    /// The anchor of the instance in its run's trace page: the pcap file name without
    /// `.pcap`, safe in a URL and a file name.
    pub fn anchor(&self) -> String {
        let name = pcap_file_name(&self.id, self.ip);
        name.trim_end_matches(".pcap").to_string()
    }

    /// The verdicts of the row's cells, deduplicated, best first.
    pub fn verdicts(&self) -> Vec<Verdict> {
        VERDICTS
            .into_iter()
            .filter(|v| self.cells.iter().flatten().any(|c| c.case.verdict == *v))
            .collect()
    }
}

/// Where a run's trace page for `area` lives, relative to the output folder:
/// `traces/2/rules__listen.html` (folders joined by `__`, as pcap names do).
pub fn trace_page(column: usize, area: &str) -> String {
    let stem = if area.is_empty() {
        "_top".to_string()
    } else {
        pcap_file_name(area, IpVersion::V4)
            .trim_end_matches(".ipv4.pcap")
            .to_string()
    };
    format!("traces/{}/{stem}.html", column + 1)
}

impl Matrix {
    /// The matrix of `runs`, in the order given. `pcap_dirs[i]`, when given, is where run `i`
    /// wrote its captures (`run --pcap-dir`); only files that exist are linked.
    pub fn build(runs: Vec<SavedRun>, pcap_dirs: &[Option<PathBuf>]) -> Matrix {
        let labels = labels(&runs);
        let n = runs.len();
        let mut columns = Vec::with_capacity(n);
        let mut by_name: BTreeMap<(String, String, IpVersion), Vec<Option<Cell>>> = BTreeMap::new();
        for (k, (run, label)) in runs.into_iter().zip(labels).enumerate() {
            let mut counts = [0; VERDICTS.len()];
            for c in &run.cases {
                if let Some(i) = VERDICTS.iter().position(|v| *v == c.verdict) {
                    counts[i] += 1;
                }
            }
            columns.push(Column {
                label,
                target: run.target.clone(),
                file: run.path.clone(),
                counts,
                not_run: run.summary.map_or(0, |s| s.not_run),
                wall_secs: run.summary.map(|s| s.wall_secs),
                target_unusable: run.target_unusable.clone(),
            });
            let dir = pcap_dirs.get(k).cloned().flatten();
            for case in run.cases {
                let pcap = dir
                    .as_ref()
                    .map(|d| d.join(pcap_file_name(&case.id, case.ip)))
                    .filter(|p| p.is_file());
                let key = (area(&case.id).to_string(), case.id.clone(), case.ip);
                let cells = by_name.entry(key).or_insert_with(|| vec![None; n]);
                cells[k] = Some(Cell { case, pcap });
            }
        }
        let rows = by_name
            .into_iter()
            .map(|((area, id, ip), cells)| {
                let first = cells.iter().flatten().next().map(|c| &c.case);
                let level = cells.iter().flatten().find_map(|c| c.case.level);
                let title = first.map(|c| c.title.clone()).unwrap_or_default();
                let rules = first.map(|c| c.cells.clone()).unwrap_or_default();
                let keys: BTreeSet<Option<(&str, &[String])>> = cells
                    .iter()
                    .map(|c| {
                        c.as_ref()
                            .map(|c| (c.case.verdict.name(), c.case.variants.as_slice()))
                    })
                    .collect();
                Row {
                    differs: keys.len() > 1,
                    id,
                    ip,
                    area,
                    title,
                    level,
                    rules,
                    cells,
                }
            })
            .collect();
        Matrix { columns, rows }
    }

    /// Areas in row order, each once.
    pub fn areas(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rows {
            if out.last() != Some(&r.area.as_str()) {
                out.push(&r.area);
            }
        }
        out
    }

    /// For column `k`, each SEGMENT ARRIVES rule with the verdicts (counts per [`VERDICTS`])
    /// of the instances that claim it.
    pub fn rule_counts(&self, k: usize) -> Vec<(Rule, [usize; VERDICTS.len()])> {
        let mut by_rule: HashMap<&str, [usize; VERDICTS.len()]> = HashMap::new();
        for row in &self.rows {
            let Some(Some(cell)) = row.cells.get(k) else {
                continue;
            };
            let i = VERDICTS
                .iter()
                .position(|v| *v == cell.case.verdict)
                .unwrap_or(0);
            for rule in &cell.case.cells {
                by_rule.entry(rule.as_str()).or_default()[i] += 1;
            }
        }
        Rule::ALL
            .into_iter()
            .map(|r| (r, by_rule.get(r.id()).copied().unwrap_or_default()))
            .collect()
    }

    /// `matrix.json`: the columns with their totals and every row with its cells; links are
    /// relative to the folder the page is written to (`out`).
    pub fn to_json(&self, out: &Path) -> String {
        let doc = JsonMatrix {
            runs: self
                .columns
                .iter()
                .map(|c| JsonColumn {
                    label: c.label.clone(),
                    target: c.target.clone(),
                    file: c.file.display().to_string(),
                    counts: VERDICTS
                        .iter()
                        .zip(c.counts)
                        .map(|(v, n)| (v.name(), n))
                        .collect(),
                    not_run: c.not_run,
                    wall_secs: c.wall_secs,
                    target_unusable: c.target_unusable.clone(),
                })
                .collect(),
            rows: self
                .rows
                .iter()
                .map(|r| JsonRow {
                    name: r.name(),
                    id: r.id.clone(),
                    ip: r.ip.label(),
                    area: r.area.clone(),
                    title: r.title.clone(),
                    level: r.level.map(Level::name),
                    differs: r.differs,
                    cells: r
                        .cells
                        .iter()
                        .enumerate()
                        .map(|(k, c)| {
                            c.as_ref().map(|c| JsonCell {
                                verdict: c.case.verdict.name(),
                                level: c.case.shown_level().map(Level::name),
                                variants: c.case.variants.clone(),
                                detail: detail(&c.case),
                                trace: format!("{}#{}", trace_page(k, &r.area), r.anchor()),
                                pcap: c.pcap.as_ref().map(|p| href(&relative(out, p))),
                            })
                        })
                        .collect(),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }

    /// `matrix.csv`: one line per row; per run its verdict, the level shown and the variants
    /// (`;`-separated).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let mut header = vec![
            "area".to_string(),
            "id".into(),
            "ip".into(),
            "title".into(),
            "level".into(),
            "differs".into(),
        ];
        for c in &self.columns {
            header.push(format!("{} verdict", c.label));
            header.push(format!("{} level", c.label));
            header.push(format!("{} variants", c.label));
        }
        csv_line(&mut out, &header);
        for r in &self.rows {
            let mut line = vec![
                r.area.clone(),
                r.id.clone(),
                r.ip.label().to_string(),
                r.title.clone(),
                r.level.map_or("", Level::name).to_string(),
                if r.differs { "yes" } else { "no" }.to_string(),
            ];
            for c in &r.cells {
                match c {
                    Some(c) => {
                        line.push(c.case.verdict.name().to_string());
                        line.push(c.case.shown_level().map_or("", Level::name).to_string());
                        line.push(c.case.variants.join(";"));
                    }
                    None => line.extend(["absent".to_string(), String::new(), String::new()]),
                }
            }
            csv_line(&mut out, &line);
        }
        out
    }
}

/// The failure message or the reason the instance was not judged, on one line.
pub fn detail(c: &SavedCase) -> Option<String> {
    let text = match (&c.failure, &c.skip_reason) {
        (Some(f), _) => match &f.baseline {
            Some(b) => format!("{} (known deviation: {b})", f.message),
            None => f.message.clone(),
        },
        (None, Some(r)) => r.clone(),
        (None, None) => return None,
    };
    Some(crate::report::escape_controls(
        &text.replace(['\n', '\r'], " "),
    ))
}

/// Column labels: the target's name, and where two runs share it, the file name too (the
/// path when even those agree, the position when nothing else tells them apart).
fn labels(runs: &[SavedRun]) -> Vec<String> {
    let count = |f: &dyn Fn(&SavedRun) -> String, r: &SavedRun| {
        runs.iter().filter(|o| f(o) == f(r)).count()
    };
    let target = |r: &SavedRun| r.target.clone();
    let file = |r: &SavedRun| {
        let name = r.path.file_name().map_or_else(
            || r.path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        format!("{} ({name})", r.target)
    };
    let path = |r: &SavedRun| format!("{} ({})", r.target, r.path.display());
    let mut labels: Vec<String> = runs
        .iter()
        .map(|r| {
            if count(&target, r) == 1 {
                target(r)
            } else if count(&file, r) == 1 {
                file(r)
            } else {
                path(r)
            }
        })
        .collect();
    let snapshot = labels.clone();
    for (k, l) in labels.iter_mut().enumerate() {
        if snapshot.iter().filter(|o| *o == l).count() > 1 {
            l.push_str(&format!(" #{}", k + 1));
        }
    }
    labels
}

/// `to` relative to the folder `from`, both made absolute first (`../pcap/x.pcap`).
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let abs = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        })
    };
    let (from, to) = (abs(from), abs(to));
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// A relative path as a URL path: `/`-separated, every octet but unreserved ones
/// percent-encoded (RFC 3986 2.3).
pub fn href(path: &Path) -> String {
    let mut out = String::new();
    for (i, c) in path.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in c.as_os_str().as_encoded_bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(*b));
                }
                _ => {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    out
}

/// One CSV line (RFC 4180): fields with a comma, quote or line break are quoted. A field a
/// spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) gets a leading `'`.
fn csv_line(out: &mut String, fields: &[String]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut f = f.clone();
        if f.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            f.insert(0, '\'');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push_str("\r\n");
}

#[derive(Serialize)]
struct JsonMatrix {
    runs: Vec<JsonColumn>,
    rows: Vec<JsonRow>,
}

#[derive(Serialize)]
struct JsonColumn {
    label: String,
    target: String,
    file: String,
    counts: BTreeMap<&'static str, usize>,
    not_run: usize,
    wall_secs: Option<f64>,
    target_unusable: Option<String>,
}

#[derive(Serialize)]
struct JsonRow {
    name: String,
    id: String,
    ip: &'static str,
    area: String,
    title: String,
    level: Option<&'static str>,
    differs: bool,
    cells: Vec<Option<JsonCell>>,
}

#[derive(Serialize)]
struct JsonCell {
    verdict: &'static str,
    level: Option<&'static str>,
    variants: Vec<String>,
    detail: Option<String>,
    trace: String,
    pcap: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(
            relative(Path::new("/a/b/out"), Path::new("/a/b/pcap/x.pcap")),
            PathBuf::from("../pcap/x.pcap")
        );
        assert_eq!(
            relative(Path::new("/a/out"), Path::new("/a/out/p/x.pcap")),
            PathBuf::from("p/x.pcap")
        );
    }

    #[test]
    fn hrefs_encode_what_a_url_cannot_carry() {
        assert_eq!(
            href(Path::new("../my pcaps/a#b.pcap")),
            "../my%20pcaps/a%23b.pcap"
        );
    }

    #[test]
    fn csv_quotes_and_defuses() {
        let mut out = String::new();
        csv_line(&mut out, &["a,b".into(), "say \"x\"".into(), "=1+1".into()]);
        assert_eq!(out, "\"a,b\",\"say \"\"x\"\"\",'=1+1\r\n");
    }

    #[test]
    fn trace_pages_name_the_area() {
        assert_eq!(trace_page(0, "rules/listen"), "traces/1/rules__listen.html");
        assert_eq!(trace_page(2, ""), "traces/3/_top.html");
    }
}
