//! The whole corpus, without an agent, against stacks tcpconform was not built with — the
//! main job, "run it against my stack" — as a user runs it: `tcpconform run --target link
//! --open-port 9 --closed-port 1 --app discard` inside the namespace that
//! `harness/tests/targets/up.sh` brings the stack up in (`install.sh` there installs them).
//!
//! For each stack the run must finish with the target still usable (no exit 3), every
//! instance judged or skipped with its reason, no failure that the stack's baseline
//! (`cases/baselines/<stack>.yaml`, each entry a documented deviation) does not describe, no
//! failure caused by the harness (a target error, an agent, an MTU), a baseline that matches
//! the run exactly (`--strict-baseline`), and the stack still echoing afterwards.
//!
//! `TCPCONFORM_STACKS=libslirp,serve` chooses the stacks. The default is `serve` (the reference
//! stack over TUN, whose baseline is empty) and libslirp (BSD-derived TCP), which run the whole
//! corpus in a few minutes each. lwIPv6 and PyTCP have baselines and pages in `docs/targets/`
//! too, but PyTCP slows down with every connection and dies on one grid position, so a whole
//! run of it is a matter of hours and pieces; name them to run them here.

mod needs;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn targets_dir() -> PathBuf {
    repo().join("harness/tests/targets")
}

/// A stack brought up by `up.sh`, stopped (by its PID) when dropped.
struct Stack {
    ns: String,
    up: Child,
}

impl Stack {
    fn up(name: &str) -> Stack {
        let mut up = Command::new("bash")
            .arg(targets_dir().join("up.sh"))
            .arg(name)
            .env("TCPCONFORM", env!("CARGO_BIN_EXE_tcpconform"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn up.sh");
        let stdout = up.stdout.take().expect("up.sh stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ns) = line.strip_prefix("NS=") {
                    let _ = tx.send(ns.to_string());
                }
            }
        });
        let ns = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("up.sh {name} did not come up within 120 s"));
        Stack { ns, up }
    }

    /// `tcpconform <args>` inside the stack's namespace: exit status, stdout and stderr.
    fn tcpconform(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, env!("CARGO_BIN_EXE_tcpconform")])
            .args(args)
            .current_dir(repo())
            .output()
            .expect("run tcpconform");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A kernel client in the namespace gets its data echoed by the stack's port 7, within
    /// 30 s: a run ends with its SYN floods (run alone, last), and a small stack may take a
    /// while to time out the half-open connections they leave; a stack the run broke never
    /// echoes again.
    fn echoes(&self) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3"])
            .arg(targets_dir().join("probe.py"))
            .args(["wait-echo", "192.0.2.1", "7", "30"])
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PID of our own child, which we have not reaped yet.
        unsafe { libc::kill(self.up.id() as libc::pid_t, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.up.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.up.kill();
        let _ = self.up.wait();
    }
}

/// The stacks to run: `TCPCONFORM_STACKS`, else `serve` and libslirp.
fn stacks() -> Vec<String> {
    match std::env::var("TCPCONFORM_STACKS") {
        Ok(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        Err(_) => vec!["serve".to_string(), "libslirp".to_string()],
    }
}

fn missing_tools() -> Option<String> {
    if let Some(why) = needs::namespaces() {
        return Some(why);
    }
    let built = repo().join("target/targets/slirp-target").exists()
        && repo().join("target/targets/lwipv6-target").exists();
    if !built {
        return Some(
            "the target programs are not built: run harness/tests/targets/install.sh".into(),
        );
    }
    needs::python_module("pytcp", "harness/tests/targets/install.sh")
}

#[test]
fn the_corpus_runs_agentless_against_foreign_stacks() {
    require!(missing_tools());
    for name in stacks() {
        let stack = Stack::up(&name);
        let json =
            std::env::temp_dir().join(format!("tcpconform-{name}-{}.json", std::process::id()));
        let baseline = repo().join(format!("cases/baselines/{name}.yaml"));
        let mut args: Vec<String> = [
            "run",
            "cases/",
            "--target",
            "link",
            "--iface",
            "tcpc0",
            "--target-addr",
            "192.0.2.1",
            "--local-addr",
            "192.0.2.3",
            "--target-addr",
            "2001:db8::1",
            "--local-addr",
            "2001:db8::3",
            "--closed-port",
            "1",
            "--strict-baseline",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // serve has one application, an echo, on every port it listens on.
        let app: &[&str] = if name == "serve" {
            &["--open-port", "7", "--app", "echo"]
        } else {
            &["--open-port", "9", "--app", "discard"]
        };
        args.extend(app.iter().map(|s| s.to_string()));
        // lwIPv6's ISN clock is its uptime in ticks: the clock sample, which runs last, needs
        // the stack up for more than a minute or two, which one worker gives (about 160 s;
        // docs/targets/lwipv6.md).
        if name == "lwipv6" {
            args.extend(["-j".to_string(), "1".to_string()]);
        }
        args.push("--json".into());
        args.push(json.display().to_string());
        if baseline.is_file() {
            args.push("--baseline".into());
            args.push(baseline.display().to_string());
        } else {
            args.push("--no-baseline".into());
        }
        // The reference has no SYN cookies: a legitimate client gets past a 10,000-SYN flood
        // only once the flood's SYN-RECEIVED connections give up, about 5 minutes a run.
        if name == "serve" {
            args.push("--exclude".into());
            args.push("load/syn-flood-legit-connects".into());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let (code, stdout, stderr) = stack.tcpconform(&argv);
        let wall = started.elapsed();
        let tail: Vec<&str> = stdout.lines().rev().take(3).collect();
        println!(
            "{name}: exit {code} in {:.0} s: {}",
            wall.as_secs_f64(),
            tail.join(" | ")
        );
        assert!(
            code == 0,
            "{name}: exit {code}\n--- stderr\n{stderr}\n--- stdout (end)\n{}",
            stdout
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        let run: Value =
            serde_json::from_slice(&std::fs::read(&json).expect("JSON report")).expect("JSON");
        let _ = std::fs::remove_file(&json);
        let cases = run["cases"].as_array().expect("cases");
        let mut problems = Vec::new();
        for c in cases {
            let name = c["name"].as_str().unwrap_or_default();
            let status = c["status"].as_str().unwrap_or_default();
            let reason = c["skip_reason"].as_str().unwrap_or_default();
            let message = c["failure"]["message"].as_str().unwrap_or_default();
            match status {
                "skipped" | "not_applicable" | "inconclusive" if reason.trim().is_empty() => {
                    problems.push(format!("{name}: {status} without a reason"))
                }
                _ => {}
            }
            // Whatever the verdict, never the harness's own trouble.
            for harness in [
                "target error",
                tcpconform::run::runner::SETUP_FAILED,
                "over the MTU",
                "agent",
            ] {
                if message.contains(harness) || (status != "skipped" && reason.contains(harness)) {
                    problems.push(format!("{name}: {status}: {message}{reason}"));
                }
            }
        }
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
        assert!(
            run["target_unusable"].is_null(),
            "{name}: {}",
            run["target_unusable"]
        );
        let summary = &run["summary"];
        assert_eq!(summary["failed"], 0, "{name}: {summary}");
        assert!(
            summary["passed"].as_u64().unwrap_or(0) > 100,
            "{name}: too few instances passed to mean anything: {summary}"
        );
        assert!(stack.echoes(), "{name} no longer echoes after the run");
        println!("{name}: {summary}");
        drop(stack);
    }
}
