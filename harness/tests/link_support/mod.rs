//! Shared by the agent, link and serve tests: named network namespaces that are deleted on
//! every path (drop, panic) and child processes killed by their own pid. Whether the tests
//! can run at all is `needs::namespaces()`.
//! Only 192.0.2.0/24 and 2001:db8::/32 are used, and only inside namespaces made here.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named namespace (`ip netns add`), deleted on drop.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new(tag: &str) -> NetNs {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("tcpc-{tag}{n}-{}", std::process::id());
        // A leftover of a killed earlier run with the same pid: remove it first.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ...`
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Run `f` on a thread inside this namespace.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        run_in(&self.name, f)
    }
}

/// Move the calling thread into the named namespace (for good: use it on threads that are
/// the namespace's own, like a run's worker).
pub fn enter(name: &str) {
    let ns = std::fs::File::open(format!("/run/netns/{name}")).expect("open namespace");
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a valid namespace fd; affects this thread only.
    let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
}

/// Run `f` on a thread inside the named namespace.
pub fn run_in<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let name = name.to_string();
    std::thread::spawn(move || {
        enter(&name);
        f()
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A child process killed (by its pid) and reaped on drop.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    /// `ip netns exec NS tcpconform ARGS...`, stderr inherited (the agent's log shows up in
    /// the test output).
    pub fn tcpconform_in(ns: &NetNs, args: &[&str]) -> Proc {
        Proc::spawn_in(ns, args, Stdio::inherit())
    }

    /// As [`Proc::tcpconform_in`], its log discarded (a corpus run's thousands of agent
    /// requests would bury the test's own output; the verdicts carry the traces).
    pub fn tcpconform_quiet_in(ns: &NetNs, args: &[&str]) -> Proc {
        Proc::spawn_in(ns, args, Stdio::null())
    }

    fn spawn_in(ns: &NetNs, args: &[&str], stderr: Stdio) -> Proc {
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_tcpconform")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn tcpconform");
        Proc { child }
    }

    /// Fails the test if the process already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("process exited early: {status}");
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // `ip netns exec` execs the program: this pid is tcpconform's own.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token file (removed with the directory on drop).
pub struct TokenFile {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub token: String,
}

impl TokenFile {
    pub fn new() -> TokenFile {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        let token = "0123456789abcdef-test-token".to_string();
        let mut f = std::fs::File::create(&path).expect("create token file");
        writeln!(f, "{token}").expect("write token");
        TokenFile { dir, path, token }
    }
}

/// Retry `f` until it returns `Some` or `within` passes.
pub fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let until = Instant::now() + within;
    loop {
        if let Some(x) = f() {
            return Some(x);
        }
        if Instant::now() > until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("workspace root")
}

/// Collects every finished case instance of a run.
#[derive(Default)]
pub struct Collect {
    pub results: Vec<tcpconform::run::event::CaseResult>,
}

impl tcpconform::run::event::Reporter for Collect {
    fn event(&mut self, event: &tcpconform::run::event::RunEvent) -> std::io::Result<()> {
        if let tcpconform::run::event::RunEvent::CaseFinished(r) = event {
            self.results.push((**r).clone());
        }
        Ok(())
    }
}

/// Skip reasons with how many instances gave each, the most frequent first. Budget skips
/// differ only in the time each case needs, so they are grouped as one reason.
pub fn skip_groups(results: &[tcpconform::run::event::CaseResult]) -> Vec<(String, usize)> {
    let mut groups: std::collections::BTreeMap<String, usize> = Default::default();
    for r in results {
        if let tcpconform::run::event::Outcome::Skipped { reason } = &r.outcome {
            let key = match reason.find("over the budget") {
                Some(i) => format!("needs more real time than the budget: {}", &reason[i..]),
                None => reason.clone(),
            };
            *groups.entry(key).or_default() += 1;
        }
    }
    let mut v: Vec<_> = groups.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}
