//! The case loader: every feature parses into the expected model; malformed cases give located
//! diagnostics and never panic.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tcpconform::tcp::flags;

use tcpconform::case::*;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
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

fn rel(n: i64) -> Value {
    Value::Rel(Expr::Num(n))
}

fn var(v: Var) -> Value {
    Value::Rel(Expr::Var(v))
}

/// Loads one in-memory case (no prelude) and returns it, panicking with the diagnostics.
fn one(src: &str) -> Case {
    match load_str(Path::new("mem.yaml"), src) {
        Ok(mut cases) if cases.len() == 1 => cases.remove(0),
        Ok(cases) => panic!("expected one case, got {}", cases.len()),
        Err(d) => panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// A case with the given steps.
fn steps(body: &str) -> Vec<Step> {
    one(&format!(
        "id: t\ntitle: t\nsetup: {{ listen: 8080 }}\nsteps:\n{body}"
    ))
    .steps
}

fn send_of(step: &Step) -> &Send {
    match &step.kind {
        StepKind::Send(s) => s,
        other => panic!("not a send: {other:?}"),
    }
}

fn expect_of(step: &Step) -> &Expect {
    match &step.kind {
        StepKind::Expect(e) => e,
        other => panic!("not an expect: {other:?}"),
    }
}

#[test]
fn full_case_parses_into_the_model() {
    let dir = good_dir();
    let cases = load_paths(&[dir.path().join("full.yaml")]).unwrap_or_else(|d| panic!("{d:?}"));
    let c = &cases[0];
    assert_eq!(c.id, "rst/syn-received-passive-returns-to-listen");
    assert_eq!(c.loc.line, 2);
    assert_eq!(c.rfc, vec!["RFC9293 3.10.7.4", "MUST-11"]);
    assert_eq!(c.requirements, vec!["MUST-11"]);
    assert_eq!(c.cells, vec![reference_stack::Rule::Rs2]);
    assert_eq!(c.ip, vec![IpVersion::V4]);
    assert_eq!(c.tags, vec!["rst"]);
    assert_eq!(
        c.sysctls.get("net.ipv4.tcp_rfc1337").map(String::as_str),
        Some("0")
    );
    assert_eq!(c.setup, Setup::Listen { port: 8080 });
    assert_eq!(
        c.defaults,
        Defaults {
            win: 29200,
            within: Duration::from_millis(500)
        }
    );
    assert_eq!(c.steps.len(), 17);
    assert!(c
        .steps
        .iter()
        .zip(12..)
        .all(|(s, line)| s.loc.line == line && s.loc.col == 5));

    let syn = send_of(&c.steps[0]);
    assert_eq!(syn.flags, Flags(flags::SYN));
    assert_eq!(syn.seq, Some(rel(0)));
    assert_eq!(syn.ack, None);
    assert_eq!(syn.win, Some(Expr::Num(65535)));
    assert_eq!(
        syn.options,
        vec![
            SendOption::Mss(1460),
            SendOption::SackPermitted,
            SendOption::Timestamps {
                val: Expr::Num(100),
                ecr: Expr::Num(0)
            },
            SendOption::Nop,
            SendOption::WindowScale(7),
        ]
    );
    let synack = expect_of(&c.steps[1]);
    assert_eq!(
        synack.flags,
        Some(FlagMatch::OneOf(vec![Flags(flags::SYN | flags::ACK)]))
    );
    assert_eq!(synack.ack, Some(NumMatch::Eq(rel(1))));
    assert_eq!(synack.options.contains, vec![OptionKind::Mss]);
    assert_eq!(synack.within, None);
    assert_eq!(c.steps[2].kind, StepKind::State(TcpState::SynReceived));
    assert_eq!(
        c.steps[4].kind,
        StepKind::ExpectNone(Duration::from_millis(200))
    );
    assert_eq!(expect_of(&c.steps[6]).within, Some(Duration::from_secs(1)));
    let call = |i: usize| match &c.steps[i].kind {
        StepKind::Call(call) => call.clone(),
        other => panic!("not a call: {other:?}"),
    };
    assert_eq!(
        call(7),
        Call {
            kind: CallKind::Accept,
            error: None
        }
    );
    assert_eq!(call(8).kind, CallKind::Write(pattern(0, 100)));
    assert_eq!(call(9).kind, CallKind::Write(b"text".to_vec()));
    assert_eq!(call(10).kind, CallKind::Write(vec![0x0a, 0x0b]));
    assert_eq!(
        call(11).kind,
        CallKind::Read {
            max: 5,
            expect: Some(ReadExpect::Data(b"hello".to_vec()))
        }
    );
    assert_eq!(
        call(12).kind,
        CallKind::Read {
            max: 1,
            expect: Some(ReadExpect::Eof)
        }
    );
    assert_eq!(
        call(13),
        Call {
            kind: CallKind::Close,
            error: Some(CallError::ConnReset)
        }
    );
    assert_eq!(call(14).kind, CallKind::Shutdown(Shutdown::Both));
    assert_eq!(c.steps[15].kind, StepKind::Wait(Duration::from_secs(2)));
    let StepKind::OneOf(branches) = &c.steps[16].kind else {
        panic!("not one_of")
    };
    assert_eq!(
        branches.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["rfc5961", "rfc793"]
    );
    let challenge = expect_of(&branches[0].steps[0]);
    assert_eq!(challenge.seq, Some(NumMatch::Eq(var(Var::SndNxt))));
    assert_eq!(challenge.ack, Some(NumMatch::Eq(var(Var::RcvNxt))));
    assert_eq!(
        branches[0].steps[1].kind,
        StepKind::State(TcpState::Established)
    );
    assert_eq!(
        expect_of(&branches[1].steps[0]).flags,
        Some(FlagMatch::OneOf(vec![
            Flags(flags::RST),
            Flags(flags::RST | flags::ACK)
        ]))
    );
    assert_eq!(branches[1].loc.line, 30);
}

#[test]
fn grid_expands_with_preludes_and_conditions() {
    let dir = good_dir();
    let cases = load_paths(&[dir.path().join("grid.yaml")]).unwrap_or_else(|d| panic!("{d:?}"));
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 9);
    assert_eq!(ids[0], "seq/probe[ESTABLISHED,rcv.nxt-1]");
    assert_eq!(ids[8], "seq/probe[CLOSE-WAIT,right edge]");
    let c = &cases[2];
    assert_eq!(c.title, "Probe at rcv.nxt + rcv.wnd in ESTABLISHED");
    assert_eq!(
        c.grid,
        vec![
            ("state".into(), "ESTABLISHED".into()),
            ("position".into(), "right edge".into())
        ]
    );
    assert_eq!(c.prelude.as_deref(), Some("ESTABLISHED"));
    assert_eq!(c.setup, Setup::Listen { port: 8080 });
    // Prelude steps come first and point into _preludes.yaml.
    assert_eq!(c.prelude_steps, 6);
    assert!(c.steps[..6]
        .iter()
        .all(|s| s.loc.file.ends_with("_preludes.yaml")));
    assert_eq!(c.steps[5].kind, StepKind::State(TcpState::Established));
    let probe = send_of(&c.steps[6]);
    assert_eq!(
        probe.seq,
        Some(Value::Rel(Expr::Bin(
            BinOp::Add,
            Box::new(Expr::Var(Var::RcvNxt)),
            Box::new(Expr::Var(Var::RcvWnd))
        )))
    );
    assert_eq!(probe.payload, b"a".to_vec());
    // `when` kept the first expect (line 11) and dropped the second; `unless` kept the state.
    assert_eq!(
        c.steps
            .iter()
            .skip(6)
            .map(|s| s.loc.line)
            .collect::<Vec<_>>(),
        [10, 11, 15]
    );
    assert_eq!(
        expect_of(&c.steps[7]).ack,
        Some(NumMatch::Eq(var(Var::RcvNxt)))
    );
    let mid = &cases[1];
    assert_eq!(
        mid.steps
            .iter()
            .skip(6)
            .map(|s| s.loc.line)
            .collect::<Vec<_>>(),
        [10, 13, 15]
    );
    assert_eq!(
        expect_of(&mid.steps[7]).ack,
        Some(NumMatch::Eq(Value::Rel(Expr::Bin(
            BinOp::Add,
            Box::new(Expr::Var(Var::RcvNxt)),
            Box::new(Expr::Num(1))
        ))))
    );
    // FIN-WAIT-1 instances: the `unless` dropped the state step; prelude is 9 steps long.
    let fw1 = &cases[3];
    assert_eq!(fw1.prelude_steps, 9);
    assert_eq!(fw1.steps.len(), 11);
    assert_eq!(fw1.steps.last().map(|s| s.loc.line), Some(11));
}

#[test]
fn every_prelude_reaches_its_state() {
    let dir = good_dir();
    let names = [
        "CLOSED",
        "LISTEN",
        "SYN-SENT",
        "SYN-RECEIVED",
        "SYN-RECEIVED/active",
        "ESTABLISHED",
        "ESTABLISHED/active",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "CLOSING",
        "TIME-WAIT",
        "CLOSE-WAIT",
        "LAST-ACK",
    ];
    let axis = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let src = format!("id: p\ntitle: t\ngrid:\n  p: [{axis}]\nprelude: ${{p}}\nsteps: []\n");
    let path = dir.path().join("preludes-all.yaml");
    std::fs::write(&path, src).expect("write");
    let cases = load_paths(&[path]).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(cases.len(), names.len());
    for (c, name) in cases.iter().zip(names) {
        let want: TcpState = name
            .split('/')
            .next()
            .unwrap_or(name)
            .parse()
            .expect("state name");
        assert_eq!(
            c.steps.last().map(|s| &s.kind),
            Some(&StepKind::State(want)),
            "{name}"
        );
        assert_eq!(c.prelude_steps, c.steps.len());
        let active = name.ends_with("/active") || name == "SYN-SENT";
        let setup_ok = match c.setup {
            Setup::Connect { .. } => active,
            Setup::Closed { .. } => name == "CLOSED",
            Setup::Listen { .. } => !active && name != "CLOSED",
        };
        assert!(setup_ok, "{name}: {:?}", c.setup);
    }
}

#[test]
fn send_fields() {
    let s = steps(
        "  - send: { flags: PA, seq: abs(12345), ack: { abs: 0x10 }, win: \"rcv.wnd * 2\", urg: 3, reserved: 5,\n           data: \"hi\", doff: 15, checksum: bad, ttl: 1, tos: 0x10, df: false, ip_id: 7, flow_label: 9,\n           ipv4_options: \"82 0b 00\", options: [{ kind: 30, data: \"0102\" }, { raw: \"0201\" }, eol, \"sack 1:10 snd.una:snd.nxt\"] }\n  - send: { flags: ., hex: \"00ff\", checksum: 0xbeef }\n  - send: { raw: \"4500\" }\n",
    );
    let a = send_of(&s[0]);
    assert_eq!(a.flags, Flags(flags::PSH | flags::ACK));
    assert_eq!(a.seq, Some(Value::Abs(Expr::Num(12345))));
    assert_eq!(a.ack, Some(Value::Abs(Expr::Num(16))));
    assert_eq!(
        a.win,
        Some(Expr::Bin(
            BinOp::Mul,
            Box::new(Expr::Var(Var::RcvWnd)),
            Box::new(Expr::Num(2))
        ))
    );
    assert_eq!(
        (a.urg.clone(), a.reserved, a.doff),
        (Some(Expr::Num(3)), 5, Some(15))
    );
    assert_eq!(a.payload, b"hi".to_vec());
    assert_eq!(a.checksum, ChecksumSpec::Bad);
    assert_eq!(
        a.ip,
        IpFields {
            ttl: Some(1),
            tos: Some(16),
            dont_frag: Some(false),
            ident: Some(7),
            flow_label: Some(9),
            ipv4_options: vec![0x82, 0x0b, 0]
        }
    );
    assert_eq!(
        a.options,
        vec![
            SendOption::Unknown {
                kind: 30,
                data: vec![1, 2]
            },
            SendOption::Raw(vec![2, 1]),
            SendOption::Eol,
            SendOption::Sack(vec![
                (rel(1), rel(10)),
                (var(Var::SndUna), var(Var::SndNxt))
            ]),
        ]
    );
    let b = send_of(&s[1]);
    assert_eq!(
        (b.flags, b.payload.clone(), b.checksum),
        (Flags(0), vec![0, 0xff], ChecksumSpec::Value(0xbeef))
    );
    assert_eq!(send_of(&s[2]).raw, Some(vec![0x45, 0]));
}

#[test]
fn expect_matchers() {
    let s = steps(
        "  - expect: { flags: { has: A, not: [S, R] }, seq: \"*\", ack: \">= 1\", win: \"1..=1460\", len: \"< 10\",\n             urg: \"0..5\", ttl: { min: 1, max: 255 }, tos: \"> 0\", reserved: 0, data: abc, after: 900ms, within: 1.5s,\n             options: { absent: [ts, 30], exact: [mss *, nop, \"wscale <=14\", sackOK, ts * 100, \"sack 1:2\", { kind: 30 }],\n                        mss: \">= 536\", wscale: \"<= 14\", ts: { val: \"*\", ecr: ts.val }, sack: \"1:rcv.nxt\" } }\n  - expect: { flags: SA, options: [mss 1460], hex: \"0a\" }\n",
    );
    let e = expect_of(&s[0]);
    assert_eq!(
        e.flags,
        Some(FlagMatch::Mask {
            has: Flags(flags::ACK),
            not: Flags(flags::SYN | flags::RST)
        })
    );
    assert_eq!(e.seq, Some(NumMatch::Any));
    assert_eq!(
        e.ack,
        Some(NumMatch::Range {
            min: Some(rel(1)),
            max: None
        })
    );
    assert_eq!(
        e.win,
        Some(NumMatch::Range {
            min: Some(rel(1)),
            max: Some(rel(1460))
        })
    );
    assert_eq!(
        e.len,
        Some(NumMatch::Range {
            min: None,
            max: Some(rel(9))
        })
    );
    assert_eq!(
        e.urg,
        Some(NumMatch::Range {
            min: Some(rel(0)),
            max: Some(rel(4))
        })
    );
    assert_eq!(
        e.ttl,
        Some(NumMatch::Range {
            min: Some(rel(1)),
            max: Some(rel(255))
        })
    );
    assert_eq!(
        e.tos,
        Some(NumMatch::Range {
            min: Some(rel(1)),
            max: None
        })
    );
    assert_eq!(e.reserved, Some(NumMatch::Eq(rel(0))));
    assert_eq!(e.data, Some(b"abc".to_vec()));
    assert_eq!(
        (e.after, e.within),
        (
            Some(Duration::from_millis(900)),
            Some(Duration::from_millis(1500))
        )
    );
    let o = &e.options;
    assert_eq!(
        o.absent,
        vec![OptionKind::Timestamps, OptionKind::Other(30)]
    );
    assert_eq!(
        o.exact,
        Some(vec![
            OptionPattern::Mss(NumMatch::Any),
            OptionPattern::Nop,
            OptionPattern::WindowScale(NumMatch::Range {
                min: None,
                max: Some(rel(14))
            }),
            OptionPattern::SackPermitted,
            OptionPattern::Timestamps {
                val: NumMatch::Any,
                ecr: NumMatch::Eq(rel(100))
            },
            OptionPattern::Sack(vec![(NumMatch::Eq(rel(1)), NumMatch::Eq(rel(2)))]),
            OptionPattern::Unknown {
                kind: 30,
                data: None
            },
        ])
    );
    assert_eq!(
        o.mss,
        Some(NumMatch::Range {
            min: Some(rel(536)),
            max: None
        })
    );
    assert_eq!(
        o.ts,
        Some(TsMatch {
            val: NumMatch::Any,
            ecr: NumMatch::Eq(var(Var::TsVal))
        })
    );
    assert_eq!(
        o.sack,
        Some(vec![(NumMatch::Eq(rel(1)), NumMatch::Eq(var(Var::RcvNxt)))])
    );
    let f = expect_of(&s[1]);
    assert_eq!(
        f.options.exact,
        Some(vec![OptionPattern::Mss(NumMatch::Eq(rel(1460)))])
    );
    assert_eq!(f.data, Some(vec![0x0a]));
}

#[test]
fn setups_ip_and_defaults() {
    let c = one("id: a/b\ntitle: t\nsetup: { connect: 80 }\nsteps:\n  - expect: { flags: S }\n");
    assert_eq!(
        c.setup,
        Setup::Connect {
            port: 80,
            fastopen: false
        }
    );
    assert_eq!(c.ip, vec![IpVersion::V4, IpVersion::V6]);
    assert_eq!(c.defaults, Defaults::default());
    let c = one("id: a/b\ntitle: t\nip: 6\nsetup: { closed: 9 }\nsteps:\n  - send: { flags: S }\n");
    assert_eq!(
        (c.setup, c.ip),
        (Setup::Closed { port: 9 }, vec![IpVersion::V6])
    );
}

#[test]
fn user_timeout_options() {
    // RFC 5482 3: G (the top bit) set for minutes, then 15 bits of value.
    let s = steps(
        "  - send: { flags: A, options: [uto 1s, uto 30min, uto 32767s] }\n  - expect: { flags: A, options: { contains: uto } }\n",
    );
    let uto = |data: [u8; 2]| SendOption::Unknown {
        kind: 28,
        data: data.to_vec(),
    };
    assert_eq!(
        send_of(&s[0]).options,
        vec![uto([0, 1]), uto([0x80, 30]), uto([0x7f, 0xff])]
    );
    assert_eq!(
        expect_of(&s[1]).options.contains,
        vec![OptionKind::Other(28)]
    );
    for (bad, says) in [
        ("uto", "uto 30s"),
        ("uto 30", "seconds"),
        ("uto 32768s", "15 bits"),
        ("uto -1min", "15 bits"),
        ("uto 1s 2s", "uto 30s"),
    ] {
        let src = format!(
            "id: t\ntitle: t\nsetup: {{ listen: 80 }}\nsteps:\n  - send: {{ flags: S, options: [\"{bad}\"] }}\n"
        );
        let err = load_str(Path::new("mem.yaml"), &src).expect_err(bad);
        assert!(
            err.iter().any(|d| d.to_string().contains(says)),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn fast_open_options() {
    let s = steps(
        "  - send: { flags: S, options: [mss 1460, tfo] }\n  - expect: { flags: SA, options: { contains: tfo, tfo_cookie: \"4..=16\" } }\n  - send: { flags: S, options: [tfo cookie], data: 10 }\n  - expect: { flags: SA, options: [mss *, tfo] }\n",
    );
    assert_eq!(
        send_of(&s[0]).options,
        vec![
            SendOption::Mss(1460),
            SendOption::FastOpen { cookie: false }
        ]
    );
    let o = expect_of(&s[1]).options.clone();
    assert_eq!(o.contains, vec![OptionKind::Other(34)]);
    assert_eq!(
        o.tfo_cookie,
        Some(NumMatch::Range {
            min: Some(rel(4)),
            max: Some(rel(16))
        })
    );
    assert_eq!(
        send_of(&s[2]).options,
        vec![SendOption::FastOpen { cookie: true }]
    );
    let exact = expect_of(&s[3]).options.exact.clone();
    assert_eq!(
        exact.expect("exact")[1],
        OptionPattern::Unknown {
            kind: 34,
            data: None
        }
    );
    for bad in ["tfo 1234", "tfo cookie cookie"] {
        let src = format!(
            "id: t\ntitle: t\nsetup: {{ listen: 80 }}\nsteps:\n  - send: {{ flags: S, options: [\"{bad}\"] }}\n"
        );
        let err = load_str(Path::new("mem.yaml"), &src).expect_err(bad);
        assert!(
            err.iter().any(|d| d.to_string().contains("tfo cookie")),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn all_errors_of_all_files_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.yaml"),
        "id: a\ntitle: t\nsetup: { listen: 1 }\nsteps:\n  - send: { flags: X }\n  - wait: 1\n",
    )
    .expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(
        dir.path().join("sub/b.yml"),
        "id: b\ntitle: t\nsetup: { listen: 1 }\nsteps:\n  - state: NOPE\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("_ignored.yaml"), "not: a case").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let diags = load_paths(&[dir.path().to_path_buf()]).expect_err("errors");
    let found: Vec<(String, usize)> = diags
        .iter()
        .map(|d| {
            (
                d.file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                d.line,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("a.yaml".to_string(), 5),
            ("a.yaml".to_string(), 6),
            ("b.yml".to_string(), 5)
        ]
    );
    let missing = load_paths(&[dir.path().join("nope")]).expect_err("missing path");
    assert!(missing[0].message.contains("no such file"));
}

/// Arbitrary text never panics the loader: every prefix of every test file, and byte flips.
#[test]
fn truncated_and_mangled_files_never_panic() {
    let mut texts = Vec::new();
    for dir in [data("good"), data("bad-cases")] {
        for e in std::fs::read_dir(dir).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_file() {
                texts.push(std::fs::read_to_string(&p).expect("read"));
            }
        }
    }
    let path = Path::new("fuzz.yaml");
    for t in &texts {
        for (i, _) in t.char_indices().step_by(3) {
            let _ = load_str(path, &t[..i]);
        }
        for i in (0..t.len()).step_by(7) {
            let mut bytes = t.clone().into_bytes();
            bytes[i] = b"{[:-\"'*&!|>%@`,#"[i % 16];
            let _ = load_str(path, &String::from_utf8_lossy(&bytes));
        }
    }
}

/// `# expect: LINE:COL phrase` on the first line of a bad case.
fn expectation(path: &Path) -> (usize, usize, String) {
    let text = std::fs::read_to_string(path).expect("read bad case");
    let first = text.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{}: no `# expect:` header", path.display()));
    let (pos, phrase) = rest.split_once(' ').expect("LINE:COL phrase");
    let (l, c) = pos.split_once(':').expect("LINE:COL");
    (
        l.parse().expect("line"),
        c.parse().expect("col"),
        phrase.to_string(),
    )
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
        Err(format!(
            "{}: expected {line}:{col} `{phrase}`, got:\n{d}",
            path.display()
        ))
    }
}

#[test]
fn every_bad_case_gives_a_located_diagnostic() {
    let dir = data("bad-cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("bad-cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} bad cases", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| check_bad(f, load_paths(std::slice::from_ref(f))).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad cases wrong:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn duplicate_ids_across_files() {
    let dir = data("bad-cases/dup-ids");
    let b = dir.join("b.yaml");
    check_bad(&b, load_paths(&[dir])).unwrap_or_else(|e| panic!("{e}"));
}

/// Every example of `cases/README.md` loads: whole cases as they are, step fragments inside a
/// minimal case.
#[test]
fn readme_examples_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        root.join("_preludes.yaml"),
        dir.path().join("_preludes.yaml"),
    )
    .expect("copy");
    let mut checked = 0;
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let body = block.split("```").next().unwrap_or_default();
        let first = body
            .lines()
            .find(|l| !l.trim_start().starts_with('#'))
            .unwrap_or_default();
        let text = if first.starts_with("id:") {
            body.to_string()
        } else if first.starts_with("- ") {
            format!("id: readme/{i}\ntitle: t\nsetup: {{ listen: 8080 }}\nsteps:\n{body}")
        } else {
            continue; // option maps, grid and library fragments
        };
        let path = dir.path().join(format!("example{i}.yaml"));
        std::fs::write(&path, &text).expect("write");
        if let Err(d) = load_paths(&[path]) {
            panic!(
                "README example {i}:\n{text}\n{}",
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} README examples checked");
}

/// Errors in `_preludes.yaml` are located in that file; a case's setup must agree with its
/// prelude's.
#[test]
fn prelude_library_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = "preludes:\n  A:\n    after: B\n    steps: []\n  B:\n    after: A\n    steps: []\n  C:\n    after: Z\n    steps: []\n";
    std::fs::write(dir.path().join("_preludes.yaml"), lib).expect("write");
    std::fs::write(
        dir.path().join("c.yaml"),
        "id: c\ntitle: t\nprelude: A\nsteps: []\n",
    )
    .expect("write");
    let diags = load_paths(&[dir.path().to_path_buf()]).expect_err("errors");
    let lib_diags: Vec<(usize, usize, &str)> = diags
        .iter()
        .filter(|d| d.file.ends_with("_preludes.yaml"))
        .map(|d| (d.line, d.col, d.message.as_str()))
        .collect();
    assert_eq!(
        lib_diags,
        [
            (2, 3, "prelude `A`: the `after` chain loops"),
            (5, 3, "prelude `B`: the `after` chain loops"),
            (9, 12, "prelude `C`: unknown `after: Z`"),
        ]
    );
    assert!(diags
        .iter()
        .any(|d| d.file.ends_with("c.yaml") && d.line == 3 && d.message.contains("has errors")));

    let lib =
        "preludes:\n  EST:\n    setup: { listen: 80 }\n    steps:\n      - send: { flags: S }\n";
    std::fs::write(dir.path().join("_preludes.yaml"), lib).expect("write");
    std::fs::write(
        dir.path().join("c.yaml"),
        "id: c\ntitle: t\nsetup: { connect: 80 }\nprelude: EST\nsteps: []\n",
    )
    .expect("write");
    let diags = load_paths(&[dir.path().to_path_buf()]).expect_err("setup mismatch");
    assert_eq!((diags[0].line, diags[0].col), (4, 10));
    assert!(
        diags[0]
            .message
            .contains("prelude `EST` needs setup Listen"),
        "{}",
        diags[0]
    );
    // Same kind, another port: the case's port wins.
    std::fs::write(
        dir.path().join("c.yaml"),
        "id: c\ntitle: t\nsetup: { listen: 81 }\nprelude: EST\nsteps: []\n",
    )
    .expect("write");
    let cases = load_paths(&[dir.path().to_path_buf()]).expect("loads");
    assert_eq!(
        (cases[0].setup, cases[0].prelude_steps, cases[0].steps.len()),
        (Setup::Listen { port: 81 }, 1, 1)
    );
}

/// The small parsers never panic on arbitrary text.
#[test]
fn parsers_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(9293);
    let alphabet: Vec<char> = "0123456789abcxsnrSFRPAUECN.+-*() :x_é\t\"'$}{[]"
        .chars()
        .collect();
    for _ in 0..20_000 {
        let len = rng.random_range(0..24);
        let s: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let _ = Expr::parse(&s);
        let _ = parse_duration(&s);
        let _ = parse_hex(&s);
        let _ = s.parse::<Flags>();
        let _ = s.parse::<TcpState>();
    }
}

#[test]
fn read_expect_takes_text_a_pattern_length_or_eof() {
    let s = steps(
        "  - call: { read: 5, expect: \"hello\" }\n  - call: { read: 30, expect: 30 }\n  - call: { read: 1, expect: eof }\n",
    );
    let read = |i: usize| match &s[i].kind {
        StepKind::Call(Call {
            kind: CallKind::Read { expect, .. },
            ..
        }) => expect.clone(),
        other => panic!("not a read: {other:?}"),
    };
    assert_eq!(read(0), Some(ReadExpect::Data(b"hello".to_vec())));
    // The same octets `data: 30` sends: the pattern wraps after 'z'.
    assert_eq!(read(1), Some(ReadExpect::Data(pattern(0, 30))));
    assert_eq!(read(2), Some(ReadExpect::Eof));
}

/// Every mistake of a file is reported, not only the first of a list or of a mapping.
#[test]
fn every_error_of_a_file_is_reported() {
    let errors = |src: &str| -> Vec<(usize, usize, String)> {
        match load_str(Path::new("three.yaml"), src) {
            Ok(_) => panic!("accepted:\n{src}"),
            Err(d) => d.into_iter().map(|d| (d.line, d.col, d.message)).collect(),
        }
    };
    // Two bad options of one list, and a bad flag letter in another step.
    let d = errors(
        "id: bad/three\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  \
         - send:   { flags: S, seq: 0, options: [mss 99999, wscale x, nop] }\n  \
         - expect: { flags: SX, ack: 1 }\n",
    );
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(
        d[0].0 == 5 && d[0].2.contains("mss must be in 0..=65535"),
        "{d:#?}"
    );
    assert!(
        d[1].0 == 5 && d[1].2.contains("wscale must be an integer"),
        "{d:#?}"
    );
    assert!(
        d[2].0 == 6 && d[2].2.contains("bad flag letter `X`"),
        "{d:#?}"
    );

    // An unknown field does not hide the other fields' mistakes.
    let d = errors(
        "id: bad/x\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  \
         - send: { flags: SX, sqe: 0, ttl: 300 }\n",
    );
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(d[0].2.contains("unknown field `sqe`"), "{d:#?}");
    assert!(d.iter().any(|e| e.2.contains("bad flag letter")), "{d:#?}");
    assert!(
        d.iter()
            .any(|e| e.2.contains("send.ttl must be in 0..=255")),
        "{d:#?}"
    );

    // A stray field beside a step's kind does not hide the kind's own mistakes.
    let d = errors(
        "id: bad/x\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  \
         - send: { flags: SX }\n    levle: may\n",
    );
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(d[0].2.contains("unknown field `levle`"), "{d:#?}");
    assert!(d[1].2.contains("bad flag letter"), "{d:#?}");

    // Expected options: every bad part and every bad option of an exact list.
    let d = errors(
        "id: bad/x\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  \
         - expect: { flags: SA, options: { contains: [mss, bogus], mss: \">= x +\", \
         exact: [mss 1 2, ts 1] } }\n",
    );
    assert_eq!(d.len(), 4, "{d:#?}");

    // Every mistake of a syn_flood.
    let d = errors(
        "id: bad/x\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n  \
         - syn_flood: { count: 0, sources: nobody, others: [rst, maybe] }\n",
    );
    assert_eq!(d.len(), 3, "{d:#?}");
}

#[test]
fn fastopen_connects_and_the_tfo_matcher_load() {
    let c = one(
        "id: a/b\ntitle: t\nsetup: { connect: 80, fastopen: true }\nsteps:\n  \
         - expect: { flags: S, options: { tfo: \"\" } }\n  \
         - call: { connect: ~, fastopen: true }\n  \
         - expect: { flags: S, options: { tfo: \"c0ffee01\" } }\n",
    );
    assert_eq!(
        c.setup,
        Setup::Connect {
            port: 80,
            fastopen: true
        }
    );
    let tfo = |i: usize| match &c.steps[i].kind {
        StepKind::Expect(e) => e.options.tfo.clone(),
        other => panic!("step {i}: {other:?}"),
    };
    assert_eq!(tfo(0), Some(Vec::new()));
    assert_eq!(tfo(2), Some(vec![0xc0, 0xff, 0xee, 0x01]));
    match &c.steps[1].kind {
        StepKind::Call(call) => assert_eq!(call.kind, CallKind::Connect { fastopen: true }),
        other => panic!("{other:?}"),
    }
}
