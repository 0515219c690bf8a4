//! `tcpconform import-pkt` and `.pkt` files given to `run`: packetdrill scripts written for
//! these tests (none of packetdrill's own), converted, loaded and run on the reference stack.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tcpconform::import::{self, Status};

/// A passive open, data both ways and a close from each side, timed as the reference stack
/// answers (it acknowledges at once).
const EXCHANGE: &str = "\
// A passive open, data both ways, and a close from each side.
// Written for tcpconform's own tests.

`sysctl -q net.ipv4.tcp_timestamps=0`

    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0

  +.1 < S 0:0(0) win 65535 <mss 1000>
   +0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
  +.1 < . 1:1(0) ack 1 win 65535
   +0 accept(3, ..., ...) = 4

   +0 < P. 1:1001(1000) ack 1 win 65535
   +0 < P. 1001:2001(1000) ack 1 win 65535
   +0 > . 1:1(0) ack 2001
   +0 read(4, ..., 3000) = 2000

   +0 write(4, ..., 3000) = 3000
   +0 > P. 1:3001(3000) ack 2001
 +.01 < . 2001:2001(0) ack 3001 win 65535

   +0 close(4) = 0
   +0 > F. 3001:3001(0) ack 2001
   +0 < F. 2001:2001(0) ack 3002 win 65535
   +0 > . 3002:3002(0) ack 2002
";

fn tcpconform(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .args(args)
        .output()
        .expect("run tcpconform");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Imports `text` as `dir/t.pkt` (files beside it readable), returns the import.
fn import(text: &str) -> import::Imported {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.pkt", text);
    import::import_file(&path, "packetdrill/t")
}

/// The steps of a case file, without their `# packetdrill` comments, each with its line.
fn steps(yaml: &str) -> Vec<(String, usize)> {
    yaml.lines()
        .skip_while(|l| *l != "steps:")
        .skip(1)
        .map(|l| {
            let (step, line) = l
                .rsplit_once("  # packetdrill: line ")
                .expect("a line comment");
            (
                step.trim().trim_start_matches("- ").to_string(),
                line.parse().unwrap(),
            )
        })
        .collect()
}

const LISTEN: &str = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n\
                      +0 listen(3, 1) = 0\n";

#[test]
fn a_script_imports_with_its_lines_and_passes_on_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let pkt = write(dir.path(), "exchange.pkt", EXCHANGE);
    let (code, yaml, err) = tcpconform(&["import-pkt", pkt.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exchange.pkt: imported (17 steps)"), "{err}");
    assert!(yaml.contains("sysctls:\n  net.ipv4.tcp_timestamps: \"0\"\nsetup: { listen: 8080 }\n"));
    let s = steps(&yaml);
    assert_eq!(s.len(), 20, "17 steps and 3 waits");
    assert_eq!(s[0], ("wait: 100ms".into(), 11));
    assert_eq!(
        s[1],
        (
            "send: { flags: S, seq: 0, win: 65535, options: [mss 1000] }".into(),
            11
        )
    );
    assert_eq!(
        s[2],
        (
            "expect: { flags: SA, seq: 0, ack: 1, len: 0, win: 65535, options: [mss 1460], within: 4ms }"
                .into(),
            12
        )
    );
    assert_eq!(
        s[6],
        (
            "send: { flags: PA, seq: 1, ack: 1, win: 65535, data: 1000 }".into(),
            16
        )
    );
    // The second segment continues the pattern at stream offset 1000, so that the read of
    // both returns the 2000 pattern octets.
    assert!(s[7].0.contains("data: \"mnop"), "{}", s[7].0);
    assert_eq!(s[9], ("call: { read: 3000, expect: 2000 }".into(), 19));
    // 3000 octets with an MSS of 1000: three segments, PSH free but on the last.
    assert!(s[11]
        .0
        .starts_with("expect: { flags: { has: A, not: [S, R, U, E, C, N] }, seq: 1,"));
    assert!(s[13]
        .0
        .starts_with("expect: { flags: { has: PA, not: [S, F, R, U, E, N] }, seq: 2001,"));
    assert_eq!(s[16], ("call: close".into(), 25));

    let json = dir.path().join("run.json");
    let pcaps = dir.path().join("pcap");
    let (code, out, err) = tcpconform(&[
        "run",
        pkt.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--pcap-dir",
        pcaps.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
}

#[test]
fn a_failure_names_the_script_line() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = EXCHANGE.replace("   +0 > . 1:1(0) ack 2001\n", "   +0 > . 1:1(0) ack 2002\n");
    let pkt = write(dir.path(), "wrong.pkt", &wrong);
    let json = dir.path().join("run.json");
    let pcaps = dir.path().join("pcap");
    let (code, out, _) = tcpconform(&[
        "run",
        pkt.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--pcap-dir",
        pcaps.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let failure = &doc["cases"][0]["failure"];
    assert_eq!(failure["line"], 18);
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{}:18:1: expected A seq 1", pkt.display())),
        "{message}"
    );
    assert_eq!(doc["cases"][0]["file"], pkt.display().to_string().as_str());
    assert!(
        pcaps.read_dir().unwrap().count() == 1,
        "the failure's capture"
    );
}

#[test]
fn partial_imports_list_every_line_and_end_before_the_exchange_changes() {
    let script = format!(
        "{LISTEN}+0 < S 0:0(0) win 65535 <mss 1000>\n\
         +0 > S. 0:0(0) ack 1 <mss 1460>\n\
         +0 < . 1:1(0) ack 1 win 65535\n\
         +0 accept(3, ..., ...) = 4\n\
         +0 getsockopt(4, SOL_TCP, TCP_INFO, {{tcpi_state=1}}, [1]) = 0\n\
         +0 %{{ assert tcpi_snd_cwnd == 10 }}%\n\
         +0 setsockopt(4, SOL_TCP, TCP_CORK, [1], 4) = 0\n\
         +0 write(4, ..., 100) = 100\n\
         +0 sendmsg(4, {{msg_name(...)=...}}, 0) = 10\n"
    );
    let imp = import(&script);
    assert_eq!(imp.status, Status::Partial);
    let lines: Vec<(usize, &str, bool)> = imp
        .unsupported
        .iter()
        .map(|u| (u.line, u.feature.as_str(), u.stops))
        .collect();
    assert_eq!(
        lines,
        [
            (8, "getsockopt", false),
            (9, "Python assertion", false),
            (10, "setsockopt TCP_CORK", true),
            (12, "sendmsg", false),
        ]
    );
    let yaml = imp.yaml.unwrap();
    assert!(yaml.contains("# PARTIAL: the case ends before line 10; lines it could not say:\n"));
    assert!(
        yaml.contains("#   line 8: getsockopt: TCP_INFO\n"),
        "{yaml}"
    );
    assert!(yaml.contains("tags: [packetdrill, packetdrill-partial]"));
    let s = steps(&yaml);
    assert_eq!(s.last().unwrap(), &("call: accept".to_string(), 7));

    // `-o`: under `_partial/`, exit 1; `run` refuses the script and names its lines.
    let dir = tempfile::tempdir().unwrap();
    let pkt = write(dir.path(), "src/cork.pkt", &script);
    let out = dir.path().join("cases");
    let (code, stdout, _) = tcpconform(&[
        "import-pkt",
        pkt.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    let written = out.join("_partial/src/cork.yaml");
    assert!(
        stdout.contains(&format!(
            "cork.pkt: partial (4 steps; 4 line(s) unsupported) -> {}",
            written.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("  line 10: setsockopt TCP_CORK (ends the case): [1]\n"),
        "{stdout}"
    );
    assert!(stdout.contains("1 script(s): 0 imported fully, 1 partially, 0 not imported\n"));
    let (code, ok, err) = tcpconform(&["check", written.to_str().unwrap()]);
    assert_eq!(code, 0, "the partial case loads: {ok}{err}");
    let pcaps = dir.path().join("pcap");
    let (code, _, err) = tcpconform(&[
        "run",
        pkt.to_str().unwrap(),
        "--pcap-dir",
        pcaps.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 10: setsockopt TCP_CORK (ends the case)"),
        "{err}"
    );
    assert!(
        err.contains("do not import fully; nothing was run"),
        "{err}"
    );
}

#[test]
fn a_script_with_nothing_a_case_can_say_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let pkt = write(
        dir.path(),
        "env.pkt",
        &format!("`ethtool -K tun0 tso off`\n{LISTEN}+0 < S 0:0(0) win 1000\n"),
    );
    let out = dir.path().join("cases");
    let (code, stdout, stderr) = tcpconform(&[
        "import-pkt",
        pkt.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("env.pkt: not imported\n  line 1: shell command (ends the case): `ethtool -K tun0 tso off`"), "{stderr}");
    assert!(
        stdout.contains("0 imported fully, 0 partially, 1 not imported"),
        "{stdout}"
    );
    assert!(!out.exists(), "nothing written");
    let (code, _, _) = tcpconform(&[
        "import-pkt",
        dir.path().join("missing.pkt").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
}

#[test]
fn timing_follows_packetdrill_tolerances() {
    let imp = import(&format!(
        "--tolerance_usecs=10000\n{LISTEN}\
         +0 < S 0:0(0) win 65535\n\
         +.2 > S. 0:0(0) ack 1 <...>\n\
         +.05 < . 1:1(0) ack 1 win 65535\n\
         +0 accept(3, ..., ...) = 4\n\
         +0 write(4, ..., 10) = 10\n\
         +.1~+.3 > P. 1:11(10) ack 1\n\
         * > P. 1:11(10) ack 1\n"
    ));
    assert_eq!(imp.status, Status::Full, "{:?}", imp.unsupported);
    let s = steps(imp.yaml.as_deref().unwrap());
    // 12.5% of 200ms (25ms) is more than the 10ms tolerance.
    assert_eq!(
        s[1].0,
        "expect: { flags: SA, seq: 0, ack: 1, len: 0, after: 175ms, within: 225ms }"
    );
    assert_eq!(s[2].0, "wait: 50ms");
    // A range: the tolerance of its start (12.5% of 100ms) at both ends.
    assert!(
        s[6].0.ends_with("after: 87500us, within: 312500us }"),
        "{}",
        s[6].0
    );
    assert!(s[7].0.ends_with("options: [], within: 10s }"), "{}", s[7].0);
}

#[test]
fn close_with_data_left_unread_or_to_come_is_the_cases_release() {
    let head = format!(
        "{LISTEN}+0 < S 0:0(0) win 65535\n+0 > S. 0:0(0) ack 1 <...>\n\
         +0 < . 1:1(0) ack 1 win 65535\n+0 accept(3, ..., ...) = 4\n\
         +0 < P. 1:11(10) ack 1 win 65535\n"
    );
    // close(2) with data unread is the case's release (RST), not its close (FIN).
    let imp = import(&format!("{head}+0 close(4) = 0\n+0 > R. 1:1(0) ack 11\n"));
    assert_eq!(imp.status, Status::Full, "{:?}", imp.unsupported);
    let s = steps(imp.yaml.as_deref().unwrap());
    assert!(s.contains(&("call: release".into(), 9)), "{s:?}");
    let imp = import(&format!(
        "{head}+0 read(4, ..., 10) = 10\n+0 close(4) = 0\n+0 > F. 1:1(0) ack 11\n"
    ));
    assert_eq!(imp.status, Status::Full, "{:?}", imp.unsupported);
    assert!(imp
        .yaml
        .unwrap()
        .contains("- call: close  # packetdrill: line 10"));
    // Data after close(2) draws an RST: release too.
    let imp = import(&format!(
        "{head}+0 read(4, ..., 10) = 10\n+0 close(4) = 0\n+0 > F. 1:1(0) ack 11\n\
         +0 < . 11:11(0) ack 2 win 65535\n+0 < P. 11:16(5) ack 2 win 65535\n\
         +0 > R 2:2(0)\n"
    ));
    assert_eq!(imp.status, Status::Full, "{:?}", imp.unsupported);
    assert!(imp
        .yaml
        .unwrap()
        .contains("- call: release  # packetdrill: line 10"));
    // SO_LINGER 0 makes it an abort.
    let imp = import(&format!(
        "{head}+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {{onoff=1, linger=0}}, 8) = 0\n\
         +0 close(4) = 0\n+0 > R. 1:1(0) ack 11\n"
    ));
    assert_eq!(imp.status, Status::Full, "{:?}", imp.unsupported);
    assert!(imp
        .yaml
        .unwrap()
        .contains("- call: abort  # packetdrill: line 10"));
}

#[test]
fn timestamp_echoes_map_to_the_latest_tsval_only() {
    let head = format!(
        "{LISTEN}+0 < S 0:0(0) win 65535 <mss 1000,TS val 10 ecr 0>\n\
         +0 > S. 0:0(0) ack 1 <mss 1460,TS val 700 ecr 10>\n\
         +0 < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 20 ecr 700>\n"
    );
    let imp = import(&head);
    let yaml = imp.yaml.unwrap();
    assert!(yaml.contains("options: [mss 1000, ts 10 0] }"), "{yaml}");
    assert!(yaml.contains("options: [mss 1460, \"ts * *\"]"), "{yaml}");
    assert!(
        yaml.contains("options: [nop, nop, ts 20 ts.val] }"),
        "{yaml}"
    );
    let imp = import(&format!(
        "{head}+0 < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 30 ecr 699>\n"
    ));
    assert_eq!(imp.unsupported[0].feature, "TS echo of an earlier segment");
}

#[test]
fn defaults_files_are_read_beside_the_script_and_ids_follow_folders() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "suite/common/defaults.sh",
        "#!/bin/bash\nsysctl -q net.ipv4.tcp_rmem=\"4096 $((64*1024)) 1048576\"\n\
         ip tcp_metrics flush all > /dev/null 2>&1\n",
    );
    let body = format!("`../common/defaults.sh\nsysctl -q net.ipv4.tcp_sack=0`\n{LISTEN}+0 < S 0:0(0) win 1000\n+0 > S. 0:0(0) ack 1 <...>\n");
    let a = write(dir.path(), "suite/a/x.pkt", &body);
    let b = write(dir.path(), "suite/b/x.pkt", &body);
    let ids = import::ids(&[a.clone(), b.clone()]);
    assert_eq!(ids, ["packetdrill/suite/a/x", "packetdrill/suite/b/x"]);
    let imp = import::import_file(&a, &ids[0]);
    assert_eq!(imp.status, Status::Full, "{:?}", imp.unsupported);
    let yaml = imp.yaml.unwrap();
    assert!(
        yaml.contains("  net.ipv4.tcp_rmem: \"4096 65536 1048576\"\n  net.ipv4.tcp_sack: \"0\"\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("#   line 1: `ip tcp_metrics flush all`: nothing to flush"),
        "{yaml}"
    );
    // Both import together without clashing ids.
    let out = dir.path().join("cases");
    let (code, stdout, stderr) = tcpconform(&[
        "import-pkt",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(out.join("suite/a/x.yaml").is_file() && out.join("suite/b/x.yaml").is_file());
    let (code, list, _) = tcpconform(&["list", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        list,
        "packetdrill/suite/a/x [ipv4]  Case title\n"
            .replace("Case title", "packetdrill script x.pkt")
            + "packetdrill/suite/b/x [ipv4]  packetdrill script x.pkt\n2 case instance(s)\n"
    );
}

#[test]
fn syntax_errors_name_their_line() {
    let imp = import(&format!("{LISTEN}+0 < S 0:0(0)\n"));
    assert_eq!(imp.status, Status::NotImported);
    assert_eq!(imp.unsupported[0].line, 4);
    assert_eq!(imp.unsupported[0].feature, "syntax");
    assert!(imp.unsupported[0].detail.contains("needs `win`"));
    let imp = import(&format!("{LISTEN}+0 < icmp unreachable port_unreachable\n"));
    assert_eq!(imp.unsupported[0].feature, "ICMP packets");
}

#[test]
fn damaged_scripts_are_reported_never_a_panic() {
    // Every prefix of a script, and the script without each of its characters: the importer
    // reports what it makes of them and whatever it writes loads.
    let read = |_: &Path| -> std::io::Result<String> { Err(std::io::ErrorKind::NotFound.into()) };
    let chars: Vec<char> = EXCHANGE.chars().collect();
    let mut imported = 0;
    for i in 0..chars.len() {
        let prefix: String = chars[..i].iter().collect();
        let without: String = chars[..i].iter().chain(&chars[i + 1..]).collect();
        for text in [prefix, without] {
            let imp = import::import_str(Path::new("/x/t.pkt"), &text, "packetdrill/t", &read);
            if let Some(yaml) = &imp.yaml {
                imported += 1;
                assert!(tcpconform::case::load::load_str(Path::new("t.yaml"), yaml).is_ok());
            } else {
                assert_ne!(imp.status, Status::Full);
            }
        }
    }
    assert!(imported > chars.len() / 2, "only {imported} imports");
}
