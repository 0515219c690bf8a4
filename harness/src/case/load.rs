//! The loader: files -> located YAML -> grid expansion -> validated [`Case`]s with preludes
//! inlined. Every file is checked before returning, so one run reports every error.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diag::Diagnostic;
use super::grid::expand_grid;
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
        // The case root's own library adds to the built-in one; without one, the built-ins.
        let lib_path = find_library(path);
        let lib = match &lib_path {
            Some(p) => self.library(p),
            None => self.library(Path::new(BUILTIN_PRELUDES_PATH)),
        };
        let Ok(lib) = lib else {
            let shown = lib_path.unwrap_or_else(|| PathBuf::from(BUILTIN_PRELUDES_PATH));
            cx.err(
                &node,
                format!("prelude `{name}`: {} has errors", shown.display()),
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

    /// The library at `path` over the built-in one ([`BUILTIN_PRELUDES_PATH`]: the built-ins
    /// alone).
    fn library(&mut self, path: &Path) -> Library {
        if let Some(lib) = self.libraries.get(path) {
            return lib.clone();
        }
        let builtin = Path::new(BUILTIN_PRELUDES_PATH);
        let (builtin_entries, diags) = parse_entries(builtin, BUILTIN_PRELUDES);
        // The shipped library is checked by the tests; should it ever be wrong, say so.
        self.pending.extend(diags);
        let lib = if path == builtin {
            resolve_library(builtin, BUILTIN_PRELUDES, builtin_entries, Vec::new())
        } else {
            match read_case_file(path) {
                Ok(src) => {
                    let (own, diags) = parse_entries(path, &src);
                    if diags.is_empty() {
                        resolve_library(path, &src, builtin_entries, own)
                    } else {
                        (Err(()), diags)
                    }
                }
                Err(why) => (Err(()), vec![Diagnostic::file(path.to_path_buf(), why)]),
            }
        };
        let (lib, diags) = lib;
        self.pending.extend(diags);
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

/// The preludes shipped in the binary: `cases/_preludes.yaml`. A case root's own
/// `_preludes.yaml` adds to them and overrides them by name.
pub const BUILTIN_PRELUDES: &str = include_str!("../../../cases/_preludes.yaml");

/// How diagnostics and failures name the built-in library.
pub const BUILTIN_PRELUDES_PATH: &str = "(built-in)/_preludes.yaml";

/// The names of the built-in preludes.
pub fn builtin_prelude_names() -> Vec<String> {
    let (entries, _) = parse_entries(Path::new(BUILTIN_PRELUDES_PATH), BUILTIN_PRELUDES);
    entries.into_iter().map(|e| e.key.name).collect()
}

/// One entry of `_preludes.yaml` before `after` chains are resolved.
#[derive(Clone)]
struct PreludeEntry {
    key: Key,
    setup: Option<Setup>,
    /// `after: NAME` and the node that says it.
    after: Option<(String, Node)>,
    steps: Vec<Step>,
}

/// Parses the entries of a prelude library:
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
fn parse_entries(path: &Path, src: &str) -> (Vec<PreludeEntry>, Vec<Diagnostic>) {
    let root = match yaml::parse(src) {
        Ok(r) => r,
        Err(e) => {
            return (
                Vec::new(),
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
    if let Some(f) = cx.map(&root, "the prelude library", validate::LIBRARY_FIELDS) {
        match f.get("preludes").map(|n| &n.kind) {
            Some(Kind::Map(entries)) => {
                for (k, v) in entries {
                    let Some(e) = cx.map(v, &format!("prelude `{}`", k.name), validate::PRELUDE_FIELDS) else {
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
    (raw, cx.diags)
}

/// Resolves `after` chains over the built-in entries and a library's `own` (which replace
/// built-ins of the same name). Errors are reported for `own` entries, in `path`.
fn resolve_library(
    path: &Path,
    src: &str,
    builtin: Vec<PreludeEntry>,
    own: Vec<PreludeEntry>,
) -> (Library, Vec<Diagnostic>) {
    let own_names: Vec<String> = own.iter().map(|e| e.key.name.clone()).collect();
    let mut raw: Vec<(PreludeEntry, bool)> = builtin
        .into_iter()
        .filter(|e| !own_names.contains(&e.key.name))
        .map(|e| (e, false))
        .collect();
    let builtin_only = own_names.is_empty();
    raw.extend(own.into_iter().map(|e| (e, true)));
    let mut cx = Cx::new(Arc::new(path.to_path_buf()), src);
    // Resolve `after` chains (bounded: a chain longer than the library is a cycle).
    let mut lib: BTreeMap<String, Prelude> = BTreeMap::new();
    for (
        PreludeEntry {
            key,
            setup,
            after,
            steps,
        },
        mine,
    ) in &raw
    {
        // Errors are located in `path`: only its own entries (all, for the built-ins alone).
        let report = *mine || builtin_only;
        let mut chain: Vec<&Vec<Step>> = vec![steps];
        let (mut cur_setup, mut cur_after) = (*setup, after.clone());
        let mut ok = true;
        let mut hops = 0;
        while let Some((next, node)) = cur_after.take() {
            hops += 1;
            if hops > raw.len() {
                if report {
                    cx.err_at(
                        key.line,
                        key.col,
                        format!("prelude `{}`: the `after` chain loops", key.name),
                    );
                }
                ok = false;
                break;
            }
            match raw.iter().find(|(r, _)| r.key.name == next) {
                Some((r, _)) => {
                    chain.push(&r.steps);
                    cur_setup = r.setup;
                    cur_after = r.after.clone();
                }
                None => {
                    // Reported once, by the prelude that names it.
                    if hops == 1 && report {
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
