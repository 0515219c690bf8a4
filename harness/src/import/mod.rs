//! `tcpconform import-pkt`: packetdrill scripts as case files, and `.pkt` files run directly.
//!
//! [`script`] reads packetdrill's syntax, [`shell`] the commands scripts run first,
//! [`convert`] maps events onto case steps (the mapping and its limits are documented there).
//! A script imports *fully* when every line maps; *partially* when some line does not (the
//! case then lists each left-out line, and ends before the first one that would change the
//! exchange); or *not at all*. Every case step carries a `# packetdrill: line N` comment.

pub mod convert;
pub mod script;
pub mod shell;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::case::model::Loc;
use convert::{quoted, Unsupported};

/// The tag of every imported case, and the one partial imports add.
pub const TAG: &str = "packetdrill";
pub const PARTIAL_TAG: &str = "packetdrill-partial";
/// Where `import-pkt -o DIR` puts partial imports: a folder the loader skips (`_`), so that
/// `run DIR` runs the full imports only.
pub const PARTIAL_DIR: &str = "_partial";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Full,
    Partial,
    NotImported,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Full => "imported",
            Status::Partial => "partial",
            Status::NotImported => "not imported",
        }
    }
}

/// One script's import.
#[derive(Debug, Clone)]
pub struct Imported {
    pub source: PathBuf,
    pub id: String,
    pub status: Status,
    /// The case file, unless nothing could be imported.
    pub yaml: Option<String>,
    /// Steps other than waits.
    pub steps: usize,
    /// The script line of each step of the case, in order.
    pub step_lines: Vec<usize>,
    pub notes: Vec<(usize, String)>,
    /// Every line no case can say, in line order.
    pub unsupported: Vec<Unsupported>,
}

impl Imported {
    /// The import of `path` before anything of it was read: nothing imported.
    fn nothing(path: &Path, id: &str) -> Imported {
        Imported {
            source: path.to_path_buf(),
            id: id.to_string(),
            status: Status::NotImported,
            yaml: None,
            steps: 0,
            step_lines: Vec::new(),
            notes: Vec::new(),
            unsupported: Vec::new(),
        }
    }
}

/// Whether `path` names a packetdrill script.
pub fn is_pkt(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "pkt")
}

/// Case ids for scripts imported together: `packetdrill/<folder>/<path below it>`, where the
/// folder is the deepest one holding every script (`packetdrill/tcp/close/close-on-syn-sent`
/// for gtests/net/tcp/close/close-on-syn-sent.pkt among the tcp scripts).
pub fn ids(paths: &[PathBuf]) -> Vec<String> {
    let abs: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            let p = if p.is_absolute() {
                p.clone()
            } else {
                std::env::current_dir().map_or_else(|_| p.clone(), |d| d.join(p))
            };
            normalize(&p)
        })
        .collect();
    let mut common: Vec<Component> = abs
        .first()
        .and_then(|p| p.parent())
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for p in abs.iter().skip(1) {
        let parent: Vec<Component> = p
            .parent()
            .map(|d| d.components().collect())
            .unwrap_or_default();
        let n = common
            .iter()
            .zip(&parent)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    let base: PathBuf = common.iter().collect();
    let top = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    abs.iter()
        .map(|p| {
            let rel = p.strip_prefix(&base).unwrap_or(p).with_extension("");
            let mut id = format!("{TAG}/");
            if !top.is_empty() {
                id.push_str(&top);
                id.push('/');
            }
            let rel = rel.to_string_lossy().replace('\\', "/");
            id.extend(rel.chars().map(|c| {
                if c.is_ascii_alphanumeric() || "/_.-+".contains(c) {
                    c
                } else {
                    '_'
                }
            }));
            id
        })
        .collect()
}

/// `a/./b/../c` as `a/c`, without touching the file system (symlinked folders keep their
/// names).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Imports the script at `path` (its commands' files are read from disk).
pub fn import_file(path: &Path, id: &str) -> Imported {
    match std::fs::read_to_string(path) {
        Ok(text) => import_str(path, &text, id, &|p: &Path| std::fs::read_to_string(p)),
        Err(e) => Imported {
            unsupported: vec![Unsupported {
                line: 0,
                feature: "unreadable file".into(),
                detail: e.to_string(),
                stops: true,
            }],
            ..Imported::nothing(path, id)
        },
    }
}

/// Imports a script's `text`; `path` names it and is where its commands' files are looked up
/// (through `read`).
pub fn import_str(path: &Path, text: &str, id: &str, read: shell::ReadFile<'_>) -> Imported {
    let mut imported = Imported::nothing(path, id);
    let script = match script::parse(text) {
        Ok(s) => s,
        Err(e) => {
            imported.unsupported.push(Unsupported {
                line: e.line,
                feature: e.feature.unwrap_or("syntax").into(),
                detail: e.message,
                stops: true,
            });
            return imported;
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut conv = convert::convert(&script, dir, read);
    conv.unsupported.sort_by_key(|u| u.line);
    imported.steps = conv
        .steps
        .iter()
        .filter(|s| !s.yaml.starts_with("wait:"))
        .count();
    imported.step_lines = conv.steps.iter().map(|s| s.line).collect();
    imported.notes = std::mem::take(&mut conv.notes);
    imported.unsupported = conv.unsupported.clone();
    if conv.setup.is_none() {
        if conv.stopped_at.is_some() {
            return imported;
        }
        imported.unsupported.push(Unsupported {
            line: script.events.first().map_or(1, |e| e.line),
            feature: "no setup".into(),
            detail: "no listen, connect or packet to start a case from".into(),
            stops: true,
        });
        return imported;
    }
    if imported.steps == 0 {
        return imported;
    }
    imported.status = if imported.unsupported.is_empty() {
        Status::Full
    } else {
        Status::Partial
    };
    let yaml = case_yaml(&imported, &script, &conv);
    // The converter writes what the loader reads; a case that does not load is a converter
    // bug, reported as such rather than written.
    if let Err(diags) = crate::case::load::load_str(&path.with_extension("yaml"), &yaml) {
        imported.status = Status::NotImported;
        imported.unsupported.push(Unsupported {
            line: 0,
            feature: "converter error".into(),
            detail: diags.first().map_or_else(String::new, |d| {
                d.to_string().lines().next().unwrap_or("").to_string()
            }),
            stops: true,
        });
        return imported;
    }
    imported.yaml = Some(yaml);
    imported
}

fn case_yaml(imp: &Imported, script: &script::Script, conv: &convert::Converted) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Imported by `tcpconform import-pkt` from the packetdrill script {}.",
        imp.source.display()
    );
    if imp.status == Status::Partial {
        match conv.stopped_at {
            Some(line) => {
                let _ = writeln!(
                    y,
                    "# PARTIAL: the case ends before line {line}; lines it could not say:"
                );
            }
            None => {
                let _ = writeln!(y, "# PARTIAL: these checks of the script are left out:");
            }
        }
        for u in &imp.unsupported {
            let _ = writeln!(
                y,
                "#   line {}: {}{}",
                u.line,
                u.feature,
                if u.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", one_line(&u.detail))
                }
            );
        }
    }
    if !imp.notes.is_empty() {
        let _ = writeln!(y, "# Taken as changing nothing for a case:");
        for (line, n) in &imp.notes {
            let _ = writeln!(y, "#   line {line}: {}", one_line(n));
        }
    }
    let _ = writeln!(y, "id: {}", imp.id);
    let title = script
        .first_comment
        .as_deref()
        .and_then(|c| c.lines().find(|l| !l.trim().is_empty()))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| {
            format!(
                "packetdrill script {}",
                imp.source
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into())
            )
        });
    let _ = writeln!(y, "title: {}", quoted(&title));
    if let Some(c) = &script.first_comment {
        let _ = writeln!(y, "description: {}", quoted(c));
    }
    if imp.status == Status::Partial {
        let _ = writeln!(y, "tags: [{TAG}, {PARTIAL_TAG}]");
    } else {
        let _ = writeln!(y, "tags: [{TAG}]");
    }
    // packetdrill runs on IPv4 unless told otherwise.
    let _ = writeln!(y, "ip: {}", conv.ip.unwrap_or(4));
    if !conv.sysctls.is_empty() {
        y.push_str("sysctls:\n");
        for (k, v) in &conv.sysctls {
            let _ = writeln!(y, "  {k}: {}", quoted(v));
        }
    }
    let _ = writeln!(y, "setup: {}", conv.setup.as_deref().unwrap_or_default());
    y.push_str("steps:\n");
    for s in &conv.steps {
        let _ = writeln!(y, "  - {}  # packetdrill: line {}", s.yaml, s.line);
    }
    y
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The report of one import: a line (naming the case file when it was `written`), then one
/// per unsupported line.
pub fn report(imp: &Imported, written: Option<&Path>) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}: {}", imp.source.display(), imp.status.word());
    match imp.status {
        Status::Full => {
            let _ = write!(out, " ({} steps)", imp.steps);
        }
        Status::Partial => {
            let _ = write!(
                out,
                " ({} steps; {} line(s) unsupported)",
                imp.steps,
                imp.unsupported.len()
            );
        }
        Status::NotImported => {}
    }
    match written {
        Some(p) => {
            let _ = writeln!(out, " -> {}", p.display());
        }
        None => out.push('\n'),
    }
    for u in &imp.unsupported {
        let how = if u.stops { "ends the case" } else { "left out" };
        let _ = writeln!(
            out,
            "  line {}: {} ({how}){}",
            u.line,
            u.feature,
            if u.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", one_line(&u.detail))
            }
        );
    }
    out
}

/// Totals over many imports: per status, and how many scripts each unsupported feature kept
/// from a full import.
pub fn summary(all: &[Imported]) -> String {
    let count = |s: Status| all.iter().filter(|i| i.status == s).count();
    let mut out = format!(
        "{} script(s): {} imported fully, {} partially, {} not imported\n",
        all.len(),
        count(Status::Full),
        count(Status::Partial),
        count(Status::NotImported)
    );
    let mut features: BTreeMap<&str, usize> = BTreeMap::new();
    for i in all {
        let mut seen: Vec<&str> = i.unsupported.iter().map(|u| u.feature.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        for f in seen {
            *features.entry(f).or_default() += 1;
        }
    }
    if !features.is_empty() {
        let mut by_count: Vec<(&str, usize)> = features.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        out.push_str("unsupported, by the number of scripts using it:\n");
        for (f, n) in by_count {
            let _ = writeln!(out, "  {n:>4}  {f}");
        }
    }
    out
}

/// Where `import-pkt -o DIR` writes an import: `DIR/<id below packetdrill/>.yaml`, partial
/// ones under `DIR/_partial/`.
pub fn output_path(dir: &Path, imp: &Imported) -> PathBuf {
    let rel = imp
        .id
        .strip_prefix(&format!("{TAG}/"))
        .unwrap_or(&imp.id)
        .to_string();
    let base = if imp.status == Status::Partial {
        dir.join(PARTIAL_DIR)
    } else {
        dir.to_path_buf()
    };
    base.join(format!("{rel}.yaml"))
}

/// The cases of `.pkt` files for `run`, `list` and `check`: every script must import fully
/// (a partial one would run something else than the script says); otherwise the reports of
/// those that do not.
pub fn load_pkts(paths: &[PathBuf]) -> Result<Vec<crate::case::model::Case>, Vec<String>> {
    let ids = ids(paths);
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for (path, id) in paths.iter().zip(ids) {
        let imp = import_file(path, &id);
        match (&imp.status, &imp.yaml) {
            (Status::Full, Some(yaml)) => match crate::case::load::load_str(path, yaml) {
                Ok(mut c) => {
                    // Failures name the script's lines, not the converted case's.
                    let file = std::sync::Arc::new(path.clone());
                    for case in &mut c {
                        case.loc = Loc {
                            file: file.clone(),
                            line: 1,
                            col: 1,
                        };
                        if case.steps.len() == imp.step_lines.len() {
                            for (step, line) in case.steps.iter_mut().zip(&imp.step_lines) {
                                step.loc = Loc {
                                    file: file.clone(),
                                    line: *line,
                                    col: 1,
                                };
                            }
                        }
                    }
                    cases.append(&mut c);
                }
                Err(d) => errors.extend(d.iter().map(|d| d.to_string())),
            },
            _ => errors.push(format!(
                "{}`import-pkt -o DIR` writes what does import, to run as a case file",
                report(&imp, None)
            )),
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}
