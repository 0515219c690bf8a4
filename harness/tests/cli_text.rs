//! What the CLI prints for people: `--help` text without rustdoc markup, and `list` lines that
//! a hostile case title cannot break or use to drive the terminal.

use std::process::Command;

/// Runs in a folder of its own: a run's default `reports/pcap` lands there, not in the
/// repository.
fn tcpconform(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .args(args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run tcpconform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn help_text_has_no_rustdoc_links() {
    // clap takes `--help` text from doc comments; intra-doc links (`[`Type`]`) belong to
    // rustdoc and read as noise in a terminal.
    for sub in [
        None,
        Some("run"),
        Some("list"),
        Some("check"),
        Some("schema"),
        Some("coverage"),
        Some("serve"),
        Some("agent"),
        Some("sweep"),
        Some("matrix"),
        Some("diff"),
        Some("import-pkt"),
    ] {
        let mut args: Vec<&str> = sub.into_iter().collect();
        args.push("--help");
        let (code, out) = tcpconform(&args);
        assert_eq!(code, 0, "{args:?}: {out}");
        assert!(!out.is_empty(), "{args:?} printed nothing");
        assert!(!out.contains("[`"), "{args:?} shows a rustdoc link:\n{out}");
    }
}

#[test]
fn list_escapes_control_characters_of_titles() {
    let dir = tempfile::tempdir().unwrap();
    // YAML double quotes turn `\e`, `\n` and `\r` into ESC, a line feed and a carriage return.
    std::fs::write(
        dir.path().join("c.yaml"),
        "id: t/title\ntitle: \"red \\e[31mtext\\nsecond line\\rover\"\nip: 4\n\
         setup: { closed: 9 }\nsteps:\n  - send: { flags: S, seq: 0 }\n  - expect: { flags: RA, ack: 1 }\n",
    )
    .unwrap();
    let (code, out) = tcpconform(&["list", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the terminal: {out:?}"
    );
    assert_eq!(
        out,
        "t/title [ipv4]  red \\u{1b}[31mtext\\u{a}second line\\u{d}over\n1 case instance(s)\n"
    );
}

fn cases_dir() -> String {
    format!("{}/../cases", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_selection_of_nothing_is_an_error() {
    let (code, _) = tcpconform(&["run", &cases_dir(), "--filter", "no/such/case"]);
    assert_eq!(code, 2, "a typo in --filter must not pass as a clean run");
    let (code, _) = tcpconform(&[
        "run",
        &cases_dir(),
        "--filter",
        "handshake/",
        "--exclude",
        "handshake/",
    ]);
    assert_eq!(code, 2);
}

#[test]
fn a_seed_replays_a_run_on_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traces = |name: &str, seed: &str| {
        let path = dir.path().join(name);
        let path_text = path.display().to_string();
        let (code, _) = tcpconform(&[
            "run",
            &cases_dir(),
            "--filter",
            "rst/",
            "--seed",
            seed,
            "--json",
            &path_text,
        ]);
        assert_eq!(code, 0);
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("report")).expect("JSON");
        assert_eq!(
            doc["seed"],
            format!("{:#018x}", u64::from_str_radix(&seed[2..], 16).unwrap_or(0))
        );
        let mut cases: Vec<(String, serde_json::Value)> = doc["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    c["trace"].clone(),
                )
            })
            .collect();
        cases.sort_by(|a, b| a.0.cmp(&b.0));
        cases
    };
    let a = traces("a.json", "0x5eed");
    let b = traces("b.json", "0x5eed");
    let c = traces("c.json", "0x5eee");
    assert!(a.len() > 20);
    assert_eq!(a, b, "the same seed, the same packets");
    assert_ne!(a, c, "another seed, other ISNs and ports");
}

#[test]
fn fail_fast_starts_nothing_after_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One case that fails on the reference (its SYN-ACK acknowledges the SYN, not 2 octets
    // more), then cases that pass; one worker takes them in id order.
    let case = |id: &str, ack: u32| {
        format!(
            "id: {id}\ntitle: t\nsetup: {{ listen: 8080 }}\nsteps:\n\
             \x20 - send:   {{ flags: S, seq: 0 }}\n\
             \x20 - expect: {{ flags: SA, ack: {ack} }}\n"
        )
    };
    std::fs::write(dir.path().join("a.yaml"), case("a/fails", 3)).expect("write");
    for n in 0..4 {
        let id = format!("b/passes-{n}");
        std::fs::write(dir.path().join(format!("b{n}.yaml")), case(&id, 1)).expect("write");
    }
    let path = dir.path().join("run.json");
    let (path_text, cases) = (path.display().to_string(), dir.path().display().to_string());
    let run = |extra: &[&str]| {
        let mut args = vec!["run", &cases, "-j", "1", "--ip", "4", "--json", &path_text];
        args.extend_from_slice(extra);
        let (code, _) = tcpconform(&args);
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("report")).expect("JSON");
        (code, doc["summary"].clone())
    };
    let (code, summary) = run(&[]);
    assert_eq!(
        (code, &summary["failed"], &summary["passed"]),
        (1, &1.into(), &4.into())
    );
    let (code, summary) = run(&["--fail-fast"]);
    assert_eq!(code, 1);
    assert_eq!(
        (&summary["failed"], &summary["passed"], &summary["skipped"]),
        (&1.into(), &0.into(), &4.into()),
        "{summary}"
    );
}
