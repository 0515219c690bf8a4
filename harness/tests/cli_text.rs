//! What the CLI prints for people: `--help` text without rustdoc markup, and `list` lines that
//! a hostile case title cannot break or use to drive the terminal.

use std::process::Command;

fn tcpconform(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .args(args)
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
