//! The loader: files -> located YAML -> grid expansion -> validated [`Case`]s with preludes
//! inlined. Every file is checked before returning, so one run reports every error.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diag::Diagnostic;
use super::model::{fill_levels, Case, Setup, Step};
use super::validate::{self, Cx};
use super::yaml::{self, Key, Kind, Node};

/// Name of the shared prelude library, looked up in the case file's folder and its parents.
pub const PRELUDES_FILE: &str = "_preludes.yaml";

/// Folders of this name hold target baselines (`cases/baselines/linux.yaml`), not cases.
pub const BASELINES_DIR: &str = "baselines";

/// Upper bound on the instances one grid may expand into (a typo in an axis should not
/// produce a million cases).
pub const MAX_GRID_INSTANCES: usize = 4096;

/// Largest case file (or prelude library) the loader reads: 1 MiB. The corpus's largest file
/// is a few KiB; anything near this is a mistake, or a link to something that never ends.
pub const MAX_CASE_FILE: usize = 1 << 20;

/// Loads every `*.yaml` / `*.yml` under `paths` (folders recursively, in name order; files and
/// folders whose name starts with `_` or `.`, and `baselines` folders, are skipped), expands
/// grids, inlines preludes and checks that ids are unique. Returns all cases, or every
/// diagnostic of every file.
///
/// Symbolic links are followed, but each folder is read once (by device and inode): a link
/// back up the tree is a diagnostic, not an endless walk. Only regular files of at most
/// [`MAX_CASE_FILE`] octets are read (see [`read_case_file`]).
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Case>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    let mut walk = Walk::default();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(meta) if meta.is_dir() => walk.folder(p, &meta, &mut files, &mut diags),
            Ok(_) => files.push(p.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                diags.push(Diagnostic::file(p.clone(), "no such file or folder"))
            }
            Err(e) => diags.push(Diagnostic::file(p.clone(), format!("cannot read: {e}"))),
        }
    }
    let mut loader = Loader::default();
    let mut cases = Vec::new();
    for file in files {
        match read_case_file(&file) {
            Ok(src) => match loader.load_file(&file, &src) {
                Ok(mut c) => cases.append(&mut c),
                Err(mut d) => diags.append(&mut d),
            },
            Err(why) => diags.push(Diagnostic::file(file.clone(), why)),
        }
    }
    diags.extend(check_unique_ids(&cases));
    if diags.is_empty() {
        Ok(cases)
    } else {
        Err(diags)
    }
}

/// The text of a case file, or why it cannot be one: only a regular file is opened (a FIFO
/// named `*.yaml` would block the read for ever, `/dev/zero` behind a link would never end),
/// and only up to [`MAX_CASE_FILE`] octets are read.
pub fn read_case_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    regular(&meta)?;
    // Should the file have become a FIFO since the check, O_NONBLOCK keeps the open from
    // waiting for a writer; the type is checked again on what was opened.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    regular(&meta)?;
    let mut data = Vec::new();
    File::take(file, MAX_CASE_FILE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read: {e}"))?;
    if data.len() > MAX_CASE_FILE {
        // Grew while being read: its size now is the best figure there is.
        let len = std::fs::metadata(path).map_or(data.len() as u64, |m| m.len());
        return Err(too_large(len));
    }
    String::from_utf8(data).map_err(|_| "cannot read: stream did not contain valid UTF-8".into())
}

fn regular(meta: &Metadata) -> Result<(), String> {
    let t = meta.file_type();
    if t.is_file() {
        if meta.len() > MAX_CASE_FILE as u64 {
            return Err(too_large(meta.len()));
        }
        return Ok(());
    }
    let what = if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a folder"
    } else {
        "of another type"
    };
    Err(format!(
        "not a regular file ({what}); case files must be regular files"
    ))
}

fn too_large(len: u64) -> String {
    format!("larger than 1 MiB ({len} octets); case files are limited to {MAX_CASE_FILE} octets")
}

/// Loads one case file from memory (`path` names it in diagnostics and is where preludes are
/// looked up). Ids are checked for uniqueness within the file only.
pub fn load_str(path: &Path, src: &str) -> Result<Vec<Case>, Vec<Diagnostic>> {
    let cases = Loader::default().load_file(path, src)?;
    let dups = check_unique_ids(&cases);
    if dups.is_empty() {
        Ok(cases)
    } else {
        Err(dups)
    }
}

/// The folders walked so far, by device and inode, with the path each was first read as.
#[derive(Default)]
struct Walk {
    seen: HashMap<(u64, u64), PathBuf>,
}

impl Walk {
    fn folder(
        &mut self,
        dir: &Path,
        meta: &Metadata,
        files: &mut Vec<PathBuf>,
        diags: &mut Vec<Diagnostic>,
    ) {
        if let Some(first) = self.seen.get(&(meta.dev(), meta.ino())) {
            diags.push(Diagnostic::file(
                dir.to_path_buf(),
                format!(
                    "folder already visited as {} (a symlink loop, or a second link to one \
                     folder): each folder is read once",
                    first.display()
                ),
            ));
            return;
        }
        self.seen
            .insert((meta.dev(), meta.ino()), dir.to_path_buf());
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                diags.push(Diagnostic::file(
                    dir.to_path_buf(),
                    format!("cannot read folder: {e}"),
                ));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            // Through links: a link to a folder is walked (once), a link to a file is read.
            match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() && name == BASELINES_DIR => {}
                Ok(m) if m.is_dir() => self.folder(&p, &m, files, diags),
                // Anything else named like a case file is one; reading it says what is wrong
                // (a dangling link, a FIFO, a device).
                _ if p.extension().is_some_and(|e| e == "yaml" || e == "yml") => files.push(p),
                _ => {}
            }
        }
    }
}

fn check_unique_ids(cases: &[Case]) -> Vec<Diagnostic> {
    let mut seen: HashMap<&str, &Case> = HashMap::new();
    let mut diags = Vec::new();
    for c in cases {
        if let Some(first) = seen.get(c.id.as_str()) {
            let src = read_case_file(&c.loc.file).unwrap_or_default();
            diags.push(Diagnostic::at(
                (*c.loc.file).clone(),
                &src,
                c.loc.line,
                c.loc.col,
                format!(
                    "duplicate case id `{}` (first defined at {})",
                    c.id, first.loc
                ),
            ));
        } else {
            seen.insert(&c.id, c);
        }
    }
    diags
}

/// One prelude: how the target is set up and the steps that reach the state.
#[derive(Debug, Clone)]
struct Prelude {
    setup: Setup,
    steps: Vec<Step>,
}

type Library = Result<Arc<BTreeMap<String, Prelude>>, ()>;

#[derive(Default)]
struct Loader {
    /// Prelude libraries by path; `Err` once their errors have been reported.
    libraries: HashMap<PathBuf, Library>,
    /// Diagnostics of prelude libraries, reported with the first case that uses them.
    pending: Vec<Diagnostic>,
}

impl Loader {
    fn load_file(&mut self, path: &Path, src: &str) -> Result<Vec<Case>, Vec<Diagnostic>> {
        let file = Arc::new(path.to_path_buf());
        let root = match yaml::parse(src) {
            Ok(r) => r,
            Err(e) => {
                return Err(vec![Diagnostic::at(
                    path.to_path_buf(),
                    src,
                    e.line,
                    e.col,
                    e.message,
                )])
            }
        };
        let mut cx = Cx::new(file.clone(), src);
        let instances = expand_grid(&mut cx, &root);
        let mut cases = Vec::new();
        let mut seen_at: Vec<(usize, usize)> = Vec::new();
        for inst in instances {
            let mut icx = Cx::new(file.clone(), src);
            if !inst.labels.is_empty() {
                icx.context = format!(" (grid combination {})", inst.suffix);
            }
            let draft = validate::case(&mut icx, &inst.node, inst.labels, &inst.suffix);
            if let Some(d) = draft {
                if let Some(c) = self.inline_prelude(&mut icx, d, path) {
                    cases.push(c);
                }
            }
            // The same template error shows in every combination: report it once.
            for d in icx.diags {
                if !seen_at.contains(&(d.line, d.col)) {
                    seen_at.push((d.line, d.col));
                    cx.diags.push(d);
                }
            }
        }
        // Grid expansion may report a template error once per combination: keep the first.
        let mut seen: Vec<(usize, usize, String)> = Vec::new();
        cx.diags.retain(|d| {
            let key = (d.line, d.col, d.message.clone());
            let fresh = !seen.contains(&key);
            seen.push(key);
            fresh
        });
        cx.diags.append(&mut self.pending);
        if cx.diags.is_empty() {
            Ok(cases)
        } else {
            Err(cx.diags)
        }
    }

    fn inline_prelude(
        &mut self,
        cx: &mut Cx<'_>,
        draft: validate::CaseDraft,
        path: &Path,
    ) -> Option<Case> {
        let mut case = draft.case;
        let (Some(name), Some(node)) = (case.prelude.clone(), draft.prelude_node) else {
            return Some(case);
        };
        let Some(lib_path) = find_library(path) else {
            cx.err(
                &node,
                format!("prelude `{name}`: no {PRELUDES_FILE} in the case's folder or its parents"),
            );
            return None;
        };
        let lib = self.library(&lib_path);
        let Ok(lib) = lib else {
            cx.err(
                &node,
                format!("prelude `{name}`: {} has errors", lib_path.display()),
            );
            return None;
        };
        let Some(prelude) = lib.get(&name) else {
            let names: Vec<&str> = lib.keys().map(String::as_str).collect();
            cx.err(
                &node,
                format!(
                    "unknown prelude `{name}` (expected one of: {})",
                    names.join(", ")
                ),
            );
            return None;
        };
        if draft.has_setup {
            if core::mem::discriminant(&case.setup) != core::mem::discriminant(&prelude.setup) {
                cx.err(
                    &node,
                    format!(
                        "prelude `{name}` needs setup {:?}, but the case sets {:?}",
                        prelude.setup, case.setup
                    ),
                );
                return None;
            }
        } else {
            case.setup = prelude.setup;
        }
        let mut steps = prelude.steps.clone();
        // A prelude's steps weigh what the case's own do: a case that cannot reach its state
        // fails at its own level.
        fill_levels(&mut steps, case.level);
        case.prelude_steps = steps.len();
        steps.append(&mut case.steps);
        case.steps = steps;
        Some(case)
    }

    fn library(&mut self, path: &Path) -> Library {
        if let Some(lib) = self.libraries.get(path) {
            return lib.clone();
        }
        let lib = match read_case_file(path) {
            Ok(src) => {
                let (lib, diags) = parse_library(path, &src);
                self.pending.extend(diags);
                lib
            }
            Err(why) => {
                self.pending.push(Diagnostic::file(path.to_path_buf(), why));
                Err(())
            }
        };
        self.libraries.insert(path.to_path_buf(), lib.clone());
        lib
    }
}

/// The root of the case tree `path` (a case file or a folder) belongs to: the nearest folder,
/// from `path` up, that holds the preludes library. Baselines live under it.
pub fn case_root(path: &Path) -> Option<PathBuf> {
    let probe = if path.is_dir() {
        path.join(PRELUDES_FILE)
    } else {
        path.to_path_buf()
    };
    find_library(&probe).and_then(|lib| lib.parent().map(Path::to_path_buf))
}

fn find_library(case_file: &Path) -> Option<PathBuf> {
    let dir = case_file.parent()?;
    let start = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    // A relative path (`tcpconform run rst` from inside cases/) has no parents to climb:
    // search from its absolute form, but keep the path as the user wrote it when it works.
    let found = start
        .ancestors()
        .map(|d| d.join(PRELUDES_FILE))
        .find(|p| p.is_file());
    found.or_else(|| {
        let abs = start.canonicalize().ok()?;
        abs.ancestors()
            .map(|d| d.join(PRELUDES_FILE))
            .find(|p| p.is_file())
    })
}

/// One entry of `_preludes.yaml` before `after` chains are resolved.
struct PreludeEntry {
    key: Key,
    setup: Option<Setup>,
    /// `after: NAME` and the node that says it.
    after: Option<(String, Node)>,
    steps: Vec<Step>,
}

/// Parses `_preludes.yaml`:
///
/// ```yaml
/// preludes:
///   ESTABLISHED:
///     setup: { listen: 8080 }
///     steps: [ ... ]
///   FIN-WAIT-1:
///     after: ESTABLISHED      # start from another prelude's setup and steps
///     steps: [ ... ]
/// ```
fn parse_library(path: &Path, src: &str) -> (Library, Vec<Diagnostic>) {
    let root = match yaml::parse(src) {
        Ok(r) => r,
        Err(e) => {
            return (
                Err(()),
                vec![Diagnostic::at(
                    path.to_path_buf(),
                    src,
                    e.line,
                    e.col,
                    e.message,
                )],
            )
        }
    };
    let mut cx = Cx::new(Arc::new(path.to_path_buf()), src);
    let mut raw: Vec<PreludeEntry> = Vec::new();
    if let Some(f) = cx.map(&root, "the prelude library", &["preludes"]) {
        match f.get("preludes").map(|n| &n.kind) {
            Some(Kind::Map(entries)) => {
                for (k, v) in entries {
                    let Some(e) = cx.map(v, &format!("prelude `{}`", k.name), &["setup", "after", "steps"]) else {
                        continue;
                    };
                    let setup = e.get("setup").and_then(|n| validate::setup(&mut cx, n));
                    let after = e.get("after").and_then(|n| n.scalar_text().map(|t| (t, n.clone())));
                    let steps = e.get("steps").and_then(|n| validate::steps(&mut cx, n, "steps")).unwrap_or_default();
                    if e.get("setup").is_some() == e.get("after").is_some() {
                        cx.err_at(k.line, k.col, format!("prelude `{}` needs exactly one of `setup` or `after`", k.name));
                    }
                    raw.push(PreludeEntry { key: k.clone(), setup, after, steps });
                }
            }
            _ => cx.err(&root, "the prelude library needs `preludes:`, a mapping of name -> { setup | after, steps }"),
        }
    }
    // Resolve `after` chains (bounded: a chain longer than the library is a cycle).
    let mut lib: BTreeMap<String, Prelude> = BTreeMap::new();
    for PreludeEntry {
        key,
        setup,
        after,
        steps,
    } in &raw
    {
        let mut chain: Vec<&Vec<Step>> = vec![steps];
        let (mut cur_setup, mut cur_after) = (*setup, after.clone());
        let mut ok = true;
        let mut hops = 0;
        while let Some((next, node)) = cur_after.take() {
            hops += 1;
            if hops > raw.len() {
                cx.err_at(
                    key.line,
                    key.col,
                    format!("prelude `{}`: the `after` chain loops", key.name),
                );
                ok = false;
                break;
            }
            match raw.iter().find(|r| r.key.name == next) {
                Some(r) => {
                    chain.push(&r.steps);
                    cur_setup = r.setup;
                    cur_after = r.after.clone();
                }
                None => {
                    // Reported once, by the prelude that names it.
                    if hops == 1 {
                        cx.err(
                            &node,
                            format!("prelude `{}`: unknown `after: {next}`", key.name),
                        );
                    }
                    ok = false;
                }
            }
        }
        if let (true, Some(setup)) = (ok, cur_setup) {
            let steps = chain.iter().rev().flat_map(|s| s.iter().cloned()).collect();
            lib.insert(key.name.clone(), Prelude { setup, steps });
        }
    }
    if cx.diags.is_empty() {
        (Ok(Arc::new(lib)), Vec::new())
    } else {
        (Err(()), cx.diags)
    }
}

/// One combination of a grid (or the single instance of a plain case).
struct Instance {
    node: Node,
    labels: Vec<(String, String)>,
    /// `[ESTABLISHED,rcv.nxt-1]`, empty without a grid.
    suffix: String,
}

/// An axis: name and (label, value) pairs.
struct Axis {
    name: String,
    values: Vec<(String, Node)>,
}

fn expand_grid(cx: &mut Cx<'_>, root: &Node) -> Vec<Instance> {
    let Kind::Map(entries) = &root.kind else {
        return vec![Instance {
            node: root.clone(),
            labels: Vec::new(),
            suffix: String::new(),
        }];
    };
    let Some((grid_key, grid)) = entries.iter().find(|(k, _)| k.name == "grid") else {
        let mut node = root.clone();
        substitute_all(cx, &mut node, &[], &[]);
        return vec![Instance {
            node,
            labels: Vec::new(),
            suffix: String::new(),
        }];
    };
    let Some(axes) = parse_axes(cx, grid_key, grid) else {
        return Vec::new();
    };
    let total = axes
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
    match total {
        Some(n) if n <= MAX_GRID_INSTANCES => {}
        _ => {
            cx.err(
                grid,
                format!("grid expands into more than {MAX_GRID_INSTANCES} cases"),
            );
            return Vec::new();
        }
    }
    let template = Node {
        kind: Kind::Map(
            entries
                .iter()
                .filter(|(k, _)| k.name != "grid")
                .cloned()
                .collect(),
        ),
        line: root.line,
        col: root.col,
    };
    // Check conditions once against the axes, so their errors are reported once.
    check_conditions(cx, &template, &axes);
    if !cx.diags.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut idx = vec![0usize; axes.len()];
    loop {
        let chosen: Vec<(String, String)> = axes
            .iter()
            .zip(&idx)
            .filter_map(|(a, &i)| a.values.get(i).map(|(l, _)| (a.name.clone(), l.clone())))
            .collect();
        let values: Vec<(&str, &str, &Node)> = axes
            .iter()
            .zip(&idx)
            .filter_map(|(a, &i)| {
                a.values
                    .get(i)
                    .map(|(l, v)| (a.name.as_str(), l.as_str(), v))
            })
            .collect();
        let mut node = template.clone();
        substitute_all(cx, &mut node, &values, &axes);
        filter_steps(&mut node, &chosen);
        let suffix = format!(
            "[{}]",
            chosen
                .iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        out.push(Instance {
            node,
            labels: chosen,
            suffix,
        });
        // Odometer over the axes, last axis fastest.
        let mut pos = axes.len();
        loop {
            if pos == 0 {
                return if cx.diags.is_empty() { out } else { Vec::new() };
            }
            pos -= 1;
            if let Some(slot) = idx.get_mut(pos) {
                *slot += 1;
                if *slot < axes.get(pos).map_or(0, |a| a.values.len()) {
                    break;
                }
                *slot = 0;
            }
        }
    }
}

fn parse_axes(cx: &mut Cx<'_>, key: &Key, grid: &Node) -> Option<Vec<Axis>> {
    let Kind::Map(entries) = &grid.kind else {
        cx.err(
            grid,
            format!(
                "grid must map axis names to lists of values, found {}",
                grid.describe()
            ),
        );
        return None;
    };
    if entries.is_empty() {
        cx.err_at(key.line, key.col, "grid needs at least one axis");
        return None;
    }
    let mut axes = Vec::new();
    for (k, v) in entries {
        if k.name.is_empty()
            || !k
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            cx.err_at(
                k.line,
                k.col,
                format!("bad axis name `{}` (letters, digits and _ only)", k.name),
            );
            return None;
        }
        let values: Vec<(String, Node)> = match &v.kind {
            Kind::Seq(items) => {
                let mut vals = Vec::new();
                for i in items {
                    let Some(t) = i.scalar_text() else {
                        cx.err(i, format!("grid axis `{}`: a list value must be a scalar (use a mapping `label: value` for structured values)", k.name));
                        return None;
                    };
                    vals.push((t, i.clone()));
                }
                vals
            }
            Kind::Map(pairs) => pairs
                .iter()
                .map(|(l, n)| (l.name.clone(), n.clone()))
                .collect(),
            _ => {
                cx.err(
                    v,
                    format!(
                        "grid axis `{}` must be a list or a mapping of label: value, found {}",
                        k.name,
                        v.describe()
                    ),
                );
                return None;
            }
        };
        if values.is_empty() {
            cx.err(v, format!("grid axis `{}` has no values", k.name));
            return None;
        }
        for (i, (l, _)) in values.iter().enumerate() {
            if values.iter().take(i).any(|(m, _)| m == l) {
                cx.err(
                    v,
                    format!("grid axis `{}`: label `{l}` appears twice", k.name),
                );
                return None;
            }
        }
        axes.push(Axis {
            name: k.name.clone(),
            values,
        });
    }
    Some(axes)
}

/// Replaces `${axis}` / `${axis.field}` in every string of `node`. A string that is exactly one
/// placeholder takes the axis value's whole node (a list, a mapping, a number).
fn substitute_all(cx: &mut Cx<'_>, node: &mut Node, values: &[(&str, &str, &Node)], axes: &[Axis]) {
    match &mut node.kind {
        Kind::Seq(items) => items
            .iter_mut()
            .for_each(|i| substitute_all(cx, i, values, axes)),
        Kind::Map(entries) => entries
            .iter_mut()
            .for_each(|(_, v)| substitute_all(cx, v, values, axes)),
        Kind::Str(s) if s.contains("${") => {
            let text = s.clone();
            if let Some(new) = substitute(cx, node, &text, values, axes) {
                *node = new;
            }
        }
        _ => {}
    }
}

fn substitute(
    cx: &mut Cx<'_>,
    at: &Node,
    text: &str,
    values: &[(&str, &str, &Node)],
    axes: &[Axis],
) -> Option<Node> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            cx.err(at, format!("unclosed `${{` in `{text}`"));
            return None;
        };
        let name = after[..end].trim();
        let (axis, field) = match name.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (name, None),
        };
        let Some((_, label, value)) = values.iter().find(|(a, _, _)| *a == axis) else {
            let known: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
            let msg = if known.is_empty() {
                format!("`${{{name}}}` refers to a grid axis, but the case has no `grid`")
            } else {
                format!(
                    "`${{{name}}}`: unknown grid axis `{axis}` (axes: {})",
                    known.join(", ")
                )
            };
            cx.err(at, msg);
            return None;
        };
        let value: &Node = match field {
            None => value,
            Some(f) => match value.get(f) {
                Some(v) => v,
                None => {
                    cx.err(
                        at,
                        format!("`${{{name}}}`: the value of axis `{axis}` has no field `{f}`"),
                    );
                    return None;
                }
            },
        };
        let whole = start == 0 && end + 3 == rest.len() && out.is_empty();
        if whole {
            let mut n = value.clone();
            relocate(&mut n, at.line, at.col);
            return Some(n);
        }
        // Spliced into text, a structured value stands for its label.
        let t = match (field, value.scalar_text()) {
            (_, Some(t)) => t,
            (None, None) => label.to_string(),
            (Some(_), None) => {
                cx.err(
                    at,
                    format!(
                        "`${{{name}}}` is {} and cannot be spliced into text",
                        value.describe()
                    ),
                );
                return None;
            }
        };
        out.push_str(&t);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(Node {
        kind: Kind::Str(out),
        line: at.line,
        col: at.col,
    })
}

/// Errors inside a substituted value point at the placeholder that brought it in.
fn relocate(n: &mut Node, line: usize, col: usize) {
    n.line = line;
    n.col = col;
    match &mut n.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|i| relocate(i, line, col)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            k.line = line;
            k.col = col;
            relocate(v, line, col)
        }),
        _ => {}
    }
}

/// The step lists of a case node: `steps` and every `one_of` variant inside, recursively.
fn step_lists_mut(node: &mut Node, f: &mut dyn FnMut(&mut Vec<Node>)) {
    let Some(steps) = map_get_mut(node, "steps") else {
        return;
    };
    walk_steps(steps, f);
}

fn walk_steps(list: &mut Node, f: &mut dyn FnMut(&mut Vec<Node>)) {
    let Kind::Seq(items) = &mut list.kind else {
        return;
    };
    f(items);
    for item in items.iter_mut() {
        if let Some(one_of) = map_get_mut(item, "one_of") {
            if let Kind::Map(branches) = &mut one_of.kind {
                for (_, b) in branches.iter_mut() {
                    walk_steps(b, f);
                }
            }
        }
    }
}

fn map_get_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.kind {
        Kind::Map(entries) => entries
            .iter_mut()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v),
        _ => None,
    }
}

/// `when: { axis: label | [labels] }` keeps a step if every listed axis has one of the labels;
/// `unless:` drops it in that case. Both keys are removed afterwards.
fn filter_steps(node: &mut Node, chosen: &[(String, String)]) {
    step_lists_mut(node, &mut |items| {
        items.retain(|step| {
            let when = step.get("when").is_none_or(|c| condition_holds(c, chosen));
            let unless = step
                .get("unless")
                .is_some_and(|c| condition_holds(c, chosen));
            when && !unless
        });
        for step in items.iter_mut() {
            if let Kind::Map(entries) = &mut step.kind {
                entries.retain(|(k, _)| k.name != "when" && k.name != "unless");
            }
        }
    });
}

fn condition_holds(cond: &Node, chosen: &[(String, String)]) -> bool {
    let Kind::Map(entries) = &cond.kind else {
        return false;
    };
    entries.iter().all(|(axis, want)| {
        let Some((_, label)) = chosen.iter().find(|(a, _)| *a == axis.name) else {
            return false;
        };
        match &want.kind {
            Kind::Seq(items) => items
                .iter()
                .any(|i| i.scalar_text().as_deref() == Some(label)),
            _ => want.scalar_text().as_deref() == Some(label),
        }
    })
}

/// Checks every `when`/`unless` against the axes (names and labels exist).
fn check_conditions(cx: &mut Cx<'_>, template: &Node, axes: &[Axis]) {
    let mut node = template.clone();
    let mut bad: Vec<(Node, String)> = Vec::new();
    step_lists_mut(&mut node, &mut |items| {
        for step in items.iter() {
            for key in ["when", "unless"] {
                let Some(cond) = step.get(key) else { continue };
                let Kind::Map(entries) = &cond.kind else {
                    bad.push((cond.clone(), format!("`{key}` must map grid axes to labels, e.g. `{key}: {{ state: [ESTABLISHED] }}`")));
                    continue;
                };
                for (axis, want) in entries {
                    let Some(a) = axes.iter().find(|a| a.name == axis.name) else {
                        let names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
                        let at = Node {
                            kind: Kind::Null,
                            line: axis.line,
                            col: axis.col,
                        };
                        bad.push((
                            at,
                            format!(
                                "`{key}` names unknown grid axis `{}` (axes: {})",
                                axis.name,
                                names.join(", ")
                            ),
                        ));
                        continue;
                    };
                    let wants: Vec<&Node> = match &want.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => vec![want],
                    };
                    for w in wants {
                        let label = w.scalar_text().unwrap_or_default();
                        if !a.values.iter().any(|(l, _)| *l == label) {
                            let labels: Vec<&str> =
                                a.values.iter().map(|(l, _)| l.as_str()).collect();
                            bad.push((
                                w.clone(),
                                format!(
                                    "`{key}`: axis `{}` has no value `{label}` (values: {})",
                                    a.name,
                                    labels.join(", ")
                                ),
                            ));
                        }
                    }
                }
            }
        }
    });
    for (n, msg) in bad {
        cx.err(&n, msg);
    }
}
