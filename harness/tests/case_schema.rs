//! The JSON Schema `tcpconform schema` writes accepts every file of the corpus: every case
//! under `cases/` (grids with their `${axis}` placeholders included) and `_preludes.yaml`.
//! Baselines are another format and are left out.
//!
//! The files are read by serde-saphyr into plain JSON, as an editor's YAML plugin would, and
//! checked by an independent validator (the `jsonschema` crate), not by the loader.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read cases folder")
        .map(|e| e.expect("folder entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "baselines") {
                yaml_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// Every corpus file the schema rejects, with the validator's messages.
fn rejected(schema: &Value) -> (usize, Vec<String>) {
    let validator = jsonschema::validator_for(schema).expect("the schema compiles");
    let mut files = Vec::new();
    yaml_files(&corpus(), &mut files);
    let mut out = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read case");
        let doc: Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", file.display()));
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            out.push(format!("{}: {}", file.display(), errors.join("; ")));
        }
    }
    (files.len(), out)
}

#[test]
fn every_corpus_file_validates_against_the_generated_schema() {
    let schema = tcpconform::case::schema::schema();
    let (count, bad) = rejected(&schema);
    // The corpus: 227 cases and the prelude library at the time of writing; a much smaller
    // count means the walk missed folders.
    assert!(count > 200, "only {count} files found under cases/");
    assert!(
        bad.is_empty(),
        "{} of {count} corpus files rejected by the schema:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Removes every property named `name` from the schema.
fn drop_property(v: &mut Value, name: &str) -> usize {
    match v {
        Value::Object(m) => {
            let mut n = 0;
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                n += usize::from(props.remove(name).is_some());
            }
            n + m
                .values_mut()
                .map(|x| drop_property(x, name))
                .sum::<usize>()
        }
        Value::Array(a) => a.iter_mut().map(|x| drop_property(x, name)).sum(),
        _ => 0,
    }
}

/// The check can fail: a schema that lacks one field the corpus uses rejects the files that
/// use it, and names the field.
#[test]
fn a_schema_without_a_field_rejects_the_files_that_use_it() {
    let mut schema = tcpconform::case::schema::schema();
    assert_eq!(drop_property(&mut schema, "one_of"), 1);
    let (_, bad) = rejected(&schema);
    assert!(!bad.is_empty(), "no file rejected without `one_of`");
    assert!(
        bad.iter().all(|b| b.contains("one_of")),
        "a rejection that is not about `one_of`: {bad:#?}"
    );
}

/// The schema is not so loose that it accepts anything: typical mistakes are flagged.
#[test]
fn the_schema_rejects_mistakes_the_loader_rejects() {
    let schema = tcpconform::case::schema::schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let base = "id: a/b\ntitle: t\nsetup: { listen: 80 }\nsteps:\n";
    let check = |steps: &str| {
        let doc: Value = serde_saphyr::from_str(&format!("{base}{steps}")).expect("YAML");
        validator.is_valid(&doc)
    };
    assert!(check(
        "  - send: { flags: S, seq: 0 }\n  - state: SYN-RECEIVED\n"
    ));
    assert!(check(
        "  - call: { read: 10, expect: 10 }\n  - call: close\n"
    ));
    for bad in [
        "  - send: { flags: S, sqe: 0 }\n",         // unknown field
        "  - send: { flags: SX }\n",                // bad flag letter
        "  - state: SYN-RECIEVED\n",                // unknown state
        "  - send: { flags: S }\n    wait: 1s\n",   // two kinds in one step
        "  - call: { write: 1, read: 1 }\n",        // two calls in one step
        "  - expect: { flags: A, within: soon }\n", // not a duration
    ] {
        assert!(!check(bad), "accepted: {bad}");
    }
}
