//! No module cycles in `harness/src`, kept so: every `crate::<module>` path (and `super::<module>`
//! in a file at the crate's top) is a dependency of the file's top module on that one; the
//! graph of those dependencies must have no cycle. A failure names each cycle and, for every
//! edge in it, the first place that makes it, so the fix starts from a line.
//!
//! Data flows one way (docs/ARCHITECTURE.md): a cycle means two modules can only be understood,
//! changed and tested together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top module -> top modules it uses -> the first place (file:line) that uses it.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The code of one line, without its `//` comment (doc comments name modules in links, which
/// are no dependency).
fn code(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The module names a line's paths start with after `prefix` (`crate::`, or `super::` in a
/// top-level file): `crate::run::x` gives `run`; `crate::{case::model, ip}` gives `case`, `ip`.
fn uses_after(line: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + prefix.len()..];
        rest = after;
        // `foo_crate::`, `a::crate::` or `super::super::` are other paths.
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        found.push(ident_at(&group[i..]).to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident_at(after).to_string());
        }
    }
    found
}

/// The dependency graph of the top modules under `root` (a crate's `src`).
fn graph(root: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let module_of = |path: &Path| -> Vec<String> {
        let rel = path.strip_prefix(root).expect("under the root");
        let mut parts: Vec<String> = rel
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        parts
    };
    let tops: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f))
        .filter(|m| !matches!(m.as_slice(), [one] if one == "lib" || one == "main"))
        .filter_map(|m| m.first().cloned())
        .collect();
    let mut g = Graph::new();
    for file in &files {
        let module = module_of(file);
        let Some(top) = module.first() else { continue };
        if !tops.contains(top) {
            continue; // lib.rs and main.rs are the root, not a module
        }
        let text = std::fs::read_to_string(file).expect("readable source");
        let edges = g.entry(top.clone()).or_default();
        for (n, line) in text.lines().enumerate() {
            let line = code(line);
            let mut used = uses_after(line, "crate::");
            if module.len() == 1 {
                used.extend(uses_after(line, "super::"));
            }
            for m in used {
                if m != *top && tops.contains(&m) {
                    let rel = file.strip_prefix(root).unwrap_or(file);
                    edges
                        .entry(m)
                        .or_insert_with(|| format!("{}:{}", rel.display(), n + 1));
                }
            }
        }
    }
    g
}

/// Every strongly connected component of more than one module (Tarjan), each as one cycle
/// through all of its modules' first members: `a -> b -> a`.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        sccs: Vec<Vec<&'g str>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.g.get(v).into_iter().flat_map(|e| e.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut scc = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    self.sccs.push(scc);
                }
            }
        }
    }
    let mut t = Tarjan {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        sccs: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    // One concrete cycle per component: the shortest way from its first module back to itself
    // (breadth first, inside the component).
    t.sccs
        .iter()
        .map(|scc| {
            let members: BTreeSet<&str> = scc.iter().copied().collect();
            let start = *members.iter().next().expect("non-empty");
            let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut end = None;
            'search: while let Some(v) = queue.pop_front() {
                for w in g.get(v).into_iter().flat_map(|e| e.keys()) {
                    let w = w.as_str();
                    if w == start {
                        end = Some(v);
                        break 'search;
                    }
                    if members.contains(w) && !prev.contains_key(w) {
                        prev.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let mut path = vec![start.to_string()];
            let mut v = end.expect("a component of more than one module has a cycle");
            while v != start {
                path.push(v.to_string());
                v = prev[v];
            }
            path.push(start.to_string());
            let last = path.len() - 1;
            path[1..last].reverse();
            path
        })
        .collect()
}

fn explain(g: &Graph, cycle: &[String]) -> String {
    let mut out = cycle.join(" -> ");
    for pair in cycle.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let at = g.get(a).and_then(|e| e.get(b)).map_or("?", String::as_str);
        out.push_str(&format!("\n    {a} -> {b}: {at}"));
    }
    out
}

#[test]
fn harness_modules_have_no_cycle() {
    let g = graph(&src());
    // The graph was read: the runner depends on the case model, a reporter on the events.
    assert!(
        g.get("run").is_some_and(|e| e.contains_key("case")),
        "{g:?}"
    );
    assert!(
        g.get("report").is_some_and(|e| e.contains_key("run")),
        "{g:?}"
    );
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "module cycles in harness/src (each edge with the first line that makes it):\n  {}",
        found
            .iter()
            .map(|c| explain(&g, c))
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// The checker itself: a tree with a cycle is caught, and the cycle named with its lines.
#[test]
fn a_cycle_is_found_and_named() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    std::fs::create_dir_all(root.join("run")).expect("mkdir");
    let write = |p: &str, text: &str| std::fs::write(root.join(p), text).expect("write");
    write("lib.rs", "pub mod run;\npub mod target;\npub mod ip;\n");
    write("run/mod.rs", "mod step;\n");
    write(
        "run/step.rs",
        "use crate::{ip::IpVersion, target::Target};\n",
    );
    write(
        "target.rs",
        "// crate::ip in a comment is no dependency\nuse super::run::Event;\n",
    );
    write("ip.rs", "pub enum IpVersion { V4 }\n");
    let g = graph(root);
    assert_eq!(
        g.get("run").map(|e| e.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["ip".to_string(), "target".to_string()])
    );
    assert_eq!(g.get("target").map(|e| e.len()), Some(1), "{g:?}");
    let found = cycles(&g);
    assert_eq!(found, vec![vec!["run", "target", "run"]]);
    let text = explain(&g, &found[0]);
    assert!(text.contains("run -> target: run/step.rs:1"), "{text}");
    assert!(text.contains("target -> run: target.rs:2"), "{text}");
}
