//! The preludes ship in the binary: a case folder of its own (no `_preludes.yaml`) can start
//! from `prelude: ESTABLISHED`, and a folder's own `_preludes.yaml` adds preludes to the
//! built-in ones and overrides them by name.

use std::path::Path;

use tcpconform::case::load::{builtin_prelude_names, load_paths};
use tcpconform::case::model::{Case, Setup};
use tcpconform::run::event::{IpVersion, Outcome};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;

const HELLO: &str = r#"
id: mine/hello-is-acked
title: Data at RCV.NXT is acknowledged and handed to the application
prelude: ESTABLISHED
steps:
  - send:   { flags: PA, seq: 1, ack: 1, data: "hello" }
  - expect: { flags: A, ack: 6, within: 500ms }
  - call:   { read: 5, expect: "hello" }
"#;

fn load(dir: &Path) -> Vec<Case> {
    load_paths(&[dir.to_path_buf()]).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn passes(case: &Case) {
    for ip in [IpVersion::V4, IpVersion::V6] {
        let mut target = ReferenceTarget::new(ReferenceTarget::default_config());
        let r = run_instance(&mut target, case, ip, 1);
        assert!(
            matches!(r.outcome, Outcome::Passed { .. }),
            "{} [{ip:?}]: {:?}",
            case.id,
            r.outcome
        );
    }
}

#[test]
fn a_case_outside_the_corpus_uses_the_built_in_preludes() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("hello.yaml"), HELLO).expect("write case");
    assert!(!dir.path().join("_preludes.yaml").exists());
    let cases = load(dir.path());
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    // The prelude's steps come first: the handshake, then the case's own three steps.
    assert!(case.prelude_steps > 0);
    assert_eq!(case.steps.len(), case.prelude_steps + 3);
    assert_eq!(case.setup, Setup::Listen { port: 8080 });
    passes(case);
}

#[test]
fn a_root_library_adds_to_and_overrides_the_built_ins() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("_preludes.yaml"),
        r#"
preludes:
  # Overrides the built-in LISTEN (port 8080).
  LISTEN:
    setup: { listen: 9090 }
    steps:
      - state: LISTEN
  # Adds a prelude that starts from a built-in one.
  ESTABLISHED/greeted:
    after: ESTABLISHED
    steps:
      - call:   { write: "hi" }
      - expect: { flags: PA, data: "hi" }
      - send:   { flags: A, seq: 1, ack: 3 }
"#,
    )
    .expect("write library");
    std::fs::create_dir(dir.path().join("sub")).expect("sub folder");
    std::fs::write(
        dir.path().join("sub/listen.yaml"),
        "id: mine/listen\ntitle: listens\nprelude: LISTEN\nsteps: []\n",
    )
    .expect("write case");
    std::fs::write(
        dir.path().join("sub/greeted.yaml"),
        "id: mine/greeted\ntitle: greeted\nprelude: ESTABLISHED/greeted\nsteps:\n  - state: ESTABLISHED\n",
    )
    .expect("write case");
    let cases = load(dir.path());
    let by_id = |id: &str| cases.iter().find(|c| c.id == id).expect(id);
    assert_eq!(by_id("mine/listen").setup, Setup::Listen { port: 9090 });
    passes(by_id("mine/listen"));
    passes(by_id("mine/greeted"));
    // The built-ins are all there besides.
    for name in ["CLOSED", "SYN-SENT", "TIME-WAIT"] {
        assert!(builtin_prelude_names().iter().any(|n| n == name), "{name}");
    }
}

#[test]
fn an_unknown_prelude_lists_the_built_ins() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("x.yaml"),
        "id: x\ntitle: t\nprelude: ESTABLISHD\nsteps: []\n",
    )
    .expect("write case");
    let d = load_paths(&[dir.path().to_path_buf()]).expect_err("unknown prelude");
    let text = d
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("unknown prelude `ESTABLISHD`") && text.contains("ESTABLISHED"),
        "{text}"
    );
}
