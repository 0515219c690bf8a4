//! The case loader: every feature parses into the expected model; malformed cases give located
//! diagnostics and never panic.

use std::path::{Path, PathBuf};

use tcpconform::case::*;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(p)
}

/// The good cases next to the real `cases/_preludes.yaml`, in a temporary folder.
fn good_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/_preludes.yaml");
    std::fs::copy(root, dir.path().join("_preludes.yaml")).expect("copy preludes");
    for e in std::fs::read_dir(data("good")).expect("good dir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, dir.path().join(p.file_name().expect("name"))).expect("copy case");
    }
    dir
}

#[test]
fn dump_good() {
    let d = good_dir();
    match load_paths(&[d.path().to_path_buf()]) {
        Ok(cases) => for c in cases { println!("{} {:?} {} steps prelude {} {:?}", c.id, c.setup, c.steps.len(), c.prelude_steps, c.steps.iter().map(|s| s.loc.line).collect::<Vec<_>>()) },
        Err(d) => for d in d { println!("{d}") },
    }
}

/// `# expect: LINE:COL phrase` on the first line of a bad case.
fn expectation(path: &Path) -> (usize, usize, String) {
    let text = std::fs::read_to_string(path).expect("read bad case");
    let first = text.lines().next().unwrap_or_default();
    let rest = first.strip_prefix("# expect: ").unwrap_or_else(|| panic!("{}: no `# expect:` header", path.display()));
    let (pos, phrase) = rest.split_once(' ').expect("LINE:COL phrase");
    let (l, c) = pos.split_once(':').expect("LINE:COL");
    (l.parse().expect("line"), c.parse().expect("col"), phrase.to_string())
}

fn check_bad(path: &Path, loaded: Result<Vec<Case>, Vec<Diagnostic>>) -> Result<(), String> {
    let (line, col, phrase) = expectation(path);
    let diags = match loaded {
        Ok(_) => return Err(format!("{}: loaded without error", path.display())),
        Err(d) => d,
    };
    let d = diags.first().ok_or("no diagnostic")?;
    let ok = d.file == path && d.line == line && d.col == col && d.message.contains(&phrase);
    if ok {
        Ok(())
    } else {
        Err(format!("{}: expected {line}:{col} `{phrase}`, got:\n{d}", path.display()))
    }
}

#[test]
fn every_bad_case_gives_a_located_diagnostic() {
    let dir = data("bad-cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("bad-cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('_')))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} bad cases", files.len());
    let failures: Vec<String> = files.iter().filter_map(|f| check_bad(f, load_paths(&[f.clone()])).err()).collect();
    assert!(failures.is_empty(), "{} of {} bad cases wrong:\n\n{}", failures.len(), files.len(), failures.join("\n\n"));
}

#[test]
fn duplicate_ids_across_files() {
    let dir = data("bad-cases/dup-ids");
    let b = dir.join("b.yaml");
    check_bad(&b, load_paths(&[dir])).unwrap_or_else(|e| panic!("{e}"));
}
