//! Tests that need something the machine may lack: a tool (tshark, xmllint), a Python module
//! (junitparser), or privileges (root, /dev/net/tun, iproute2's `ip`).
//!
//! Every such test starts with `require!(reason)`, where `reason` is `Some(why)` when the test
//! cannot run here. Under CI (`CI` set to anything but empty, `0` or `false`: what GitHub
//! Actions, GitLab CI and `.ci/run` set) the test then FAILS with the reason, because a CI
//! machine is meant to have everything and a test that passes without running would hide a
//! missing install step. Elsewhere the test passes without running and says so on stderr, past
//! the test harness's output capture, so the reason shows in a plain `cargo test`.

#![allow(dead_code)]

use std::io::Write;
use std::process::Command;

/// Whether this is a CI run, where a test that cannot run must fail.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"))
}

/// The calling test cannot run here, for `reason`: panics under CI, otherwise reports it on
/// stderr (the caller then returns).
pub fn cannot_run(reason: &str) {
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .map(|n| format!("test {n}"))
        .unwrap_or_else(|| "a test".to_string());
    if in_ci() {
        panic!(
            "{test} cannot run here: {reason} (CI is set, and under CI a test that cannot run \
             fails: .ci/run installs every tool and runs as root)"
        );
    }
    // Written to the process's stderr directly: `eprintln!` would be captured with the test's
    // output and shown only if the test failed.
    let _ = writeln!(
        std::io::stderr(),
        "NOT RUN: {test}: {reason} (passes outside CI; fails when CI=true)"
    );
}

/// `require!(reason)`: return from the test (outside CI) or fail it (under CI) when `reason`
/// is `Some`.
#[macro_export]
macro_rules! require {
    ($reason:expr) => {
        if let Some(reason) = $reason {
            $crate::needs::cannot_run(&reason);
            return;
        }
    };
}

/// `program` runs and exits 0 with `probe` (e.g. `--version`), else why not and how to get it.
pub fn tool(program: &str, probe: &str, install: &str) -> Option<String> {
    match Command::new(program).arg(probe).output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`{program} {probe}` failed ({}); install: {install}",
            out.status
        )),
        Err(e) => Some(format!(
            "`{program}` cannot be run ({e}); install: {install}"
        )),
    }
}

/// `python3` can import `module`, else why not and how to get it.
pub fn python_module(module: &str, install: &str) -> Option<String> {
    match Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(_) => Some(format!(
            "python3 cannot import {module}; install: {install}"
        )),
        Err(e) => Some(format!("`python3` cannot be run ({e}); install: {install}")),
    }
}

/// Root, /dev/net/tun and iproute2's `ip`: what the tests that build network namespaces,
/// veth wires and TUN devices need.
pub fn namespaces() -> Option<String> {
    if let Some(why) = tcpconform::sys::tun::unavailable() {
        return Some(format!("the test {why}"));
    }
    tool("ip", "-V", "apt-get install -y iproute2")
}
