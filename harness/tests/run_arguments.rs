//! `tcpconform run`'s arguments checked before anything runs (`-j`, report paths), a thread
//! limit met with an error instead of a panic, and the streaming `--jsonl` report that a
//! killed run leaves behind. Every run here is a child process on the reference target, in a
//! temporary working folder (so that nothing lands in the repository's `reports/`).

#[macro_use]
mod needs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("cases")
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .current_dir(dir)
        .arg("run")
        .args(args)
        .output()
        .expect("run tcpconform")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// Nothing ran: no instance was reported, no summary printed.
fn nothing_ran(out: &Output) {
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("passed"), "{stdout}");
    assert!(!stdout.contains("running"), "{stdout}");
}

#[test]
fn jobs_zero_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = cases().join("rst");
    let out = run_in(dir.path(), &["-j", "0", c.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("-j"), "{}", text(&out.stderr));
    nothing_ran(&out);
}

#[test]
fn jobs_over_the_cap_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = cases().join("rst");
    let out = run_in(dir.path(), &["-j", "100000", c.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("256"), "{}", text(&out.stderr));
    nothing_ran(&out);
    // The cap itself is fine.
    let out = run_in(dir.path(), &["-j", "256", c.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Threads (tasks) that run as `nobody` now: RLIMIT_NPROC counts every one of them.
fn nobody_tasks() -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if field("Uid:") == Some(65534) {
            n += field("Threads:").unwrap_or(1);
        }
    }
    n
}

/// `tcpconform run -j 8 cases/rst` as the unprivileged user `nobody`, allowed `nproc`
/// processes and threads beyond those nobody already has (RLIMIT_NPROC binds only without
/// root).
fn run_with_thread_limit(nproc: u64) -> Option<Output> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        needs::cannot_run("needs root to run as nobody under a process limit");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // SAFETY: chmod of a path we own; nobody works in the folder (its default reports/pcap
    // must be creatable there).
    let c = std::ffi::CString::new(dir.path().as_os_str().as_encoded_bytes()).expect("path");
    unsafe { libc::chmod(c.as_ptr(), 0o777) };
    // The binary and the corpus copied where nobody can read them: the repository may be in a
    // folder only root can enter (a clone under /root).
    let copied = Command::new("cp")
        .arg("-r")
        .arg(env!("CARGO_BIN_EXE_tcpconform"))
        .arg(cases())
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(copied.success());
    let _ = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status();
    let nproc = nproc + nobody_tasks();
    let mut cmd = Command::new(dir.path().join("tcpconform"));
    cmd.current_dir(dir.path())
        .args(["run", "-j", "8"])
        .arg(dir.path().join("cases/rst"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setrlimit, setgroups, setgid, setuid) in the child.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: nproc,
                rlim_max: nproc,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &limit) != 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run tcpconform as nobody");
    assert!(
        !text(&out.stderr).contains("Permission denied"),
        "nobody cannot read the copy: {}",
        text(&out.stderr)
    );
    Some(out)
}

#[test]
fn a_thread_limit_is_an_error_not_a_panic() {
    // No worker can start at all: an error and exit 2.
    let Some(out) = run_with_thread_limit(1) else {
        return;
    };
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("worker thread"), "{stderr}");
    // Some can: the run goes on with those, and says so.
    let Some(out) = run_with_thread_limit(4) else {
        return;
    };
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("of 8 worker threads"), "{stderr}");
    assert!(text(&out.stdout).contains(" passed, 0 failed"));
}

#[test]
fn a_bad_sysctl_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = cases().join("rst");
    let c = c.to_str().expect("utf-8");
    for (sysctl, says) in [
        ("net.ipv4.tcp_congestion_control", "KEY=VALUE"),
        ("kernel.panic=1", "only net.*"),
        ("net..tcp_sack=1", "not a sysctl name"),
        ("net=1", "not a sysctl name"),
    ] {
        let out = run_in(
            dir.path(),
            &["--target", "linux", "--sysctl", sysctl, "--no-baseline", c],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sysctl}: {stderr}");
        assert!(stderr.contains(says), "{sysctl}: {stderr}");
        nothing_ran(&out);
    }
}

#[test]
fn sysctl_is_for_the_linux_target_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = cases().join("rst");
    let c = c.to_str().expect("utf-8");
    let cc = "net.ipv4.tcp_congestion_control=reno";
    for args in [
        vec!["--sysctl", cc, c],
        vec!["--target", "reference", "--sysctl", cc, c],
    ] {
        let out = run_in(dir.path(), &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--sysctl"), "{args:?}: {stderr}");
        nothing_ran(&out);
    }
    // The same run without it is fine: the refusal is the flag's.
    let out = run_in(dir.path(), &["--target", "reference", c]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_report_in_a_missing_folder_fails_before_the_run_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = cases().join("rst");
    let c = c.to_str().expect("utf-8");
    let missing = dir.path().join("nonexistent/dir");
    for flag in ["--junit", "--json", "--jsonl"] {
        let file = missing.join("x.xml");
        let started = Instant::now();
        let out = run_in(dir.path(), &[flag, file.to_str().expect("utf-8"), c]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!("{flag} {}", file.display())),
            "{flag}: {stderr}"
        );
        assert!(stderr.contains("no such folder"), "{flag}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(10));
        nothing_ran(&out);
        assert!(
            !dir.path().join("nonexistent").exists(),
            "{flag} created a folder"
        );
    }
    // A pcap folder whose parent is missing: the same.
    let pcap = missing.join("pcap");
    let out = run_in(
        dir.path(),
        &["--pcap-dir", pcap.to_str().expect("utf-8"), c],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    nothing_ran(&out);
    assert!(!dir.path().join("nonexistent").exists());
}

#[test]
fn a_report_path_under_a_file_fails_before_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = cases().join("rst");
    let c = c.to_str().expect("utf-8");
    let file = dir.path().join("plain");
    std::fs::write(&file, "").expect("write");
    for flag in ["--junit", "--json", "--jsonl", "--pcap-dir"] {
        let under = file.join("x");
        let out = run_in(dir.path(), &[flag, under.to_str().expect("utf-8"), c]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains("not a folder"), "{flag}: {stderr}");
        nothing_ran(&out);
    }
    // A report path that is a folder.
    for flag in ["--junit", "--json", "--jsonl"] {
        let out = run_in(dir.path(), &[flag, dir.path().to_str().expect("utf-8"), c]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains("is a folder"), "{flag}: {stderr}");
        nothing_ran(&out);
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    let data = std::fs::read(path).expect("read the jsonl report");
    // Only whole lines count: a kill may cut the last one short.
    data.split_inclusive(|b| *b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .map(|l| serde_json::from_slice(l).expect("each line one JSON object"))
        .collect()
}

#[test]
fn the_jsonl_report_has_every_instance_and_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("run.jsonl");
    let c = cases().join("rst");
    let out = run_in(
        dir.path(),
        &[
            "--jsonl",
            report.to_str().expect("utf-8"),
            c.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let all = lines(&report);
    let first = all.first().expect("a first line");
    assert_eq!(first["type"], "started");
    assert_eq!(first["target"], "reference");
    let total = first["total"].as_u64().expect("total");
    let cases: Vec<_> = all.iter().filter(|l| l["type"] == "case").collect();
    assert_eq!(cases.len() as u64, total);
    assert!(cases
        .iter()
        .all(|c| c["status"] == "passed" && c["id"].is_string()));
    let last = all.last().expect("a last line");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["passed"].as_u64(), Some(total));
    assert_eq!(last["failed"].as_u64(), Some(0));
    assert_eq!(all.len() as u64, total + 2);
}

#[test]
fn a_killed_run_leaves_the_results_so_far_in_the_jsonl_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("run.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpconform"))
        .current_dir(dir.path())
        .args(["run", "-j", "1", "--jsonl"])
        .arg(&report)
        .arg(cases())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tcpconform run");
    // Kill it (SIGKILL: no handler, no clean-up) once a few instances have finished.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let finished = std::fs::read(&report)
            .map(|d| d.iter().filter(|b| **b == b'\n').count())
            .unwrap_or(0);
        if finished >= 4 || Instant::now() > until {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the run ended before it was killed: {status}"
    );
    let all = lines(&report);
    assert_eq!(all.first().map(|l| &l["type"]), Some(&"started".into()));
    let cases = all.iter().filter(|l| l["type"] == "case").count();
    assert!(cases >= 3, "{cases} instance(s) in the report");
    assert!(
        all.iter().all(|l| l["type"] != "summary"),
        "no summary after a kill"
    );
}
