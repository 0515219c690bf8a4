//! The stale-resource sweep: named network namespaces left behind by a tcpconform process (or
//! one of its tests) that died without cleaning up, e.g. killed with SIGKILL.
//!
//! tcpconform's own case namespaces are anonymous and die with their process, so only named
//! ones can outlive it: those the `link` tests and the `serve` set-ups create with
//! `ip netns add`. They are named `tcpc-<anything>-<pid>`, `pid` being the creating process.
//! A namespace is stale when that process no longer exists; removing it (what `ip netns
//! delete` does: detach the bind mount, unlink the name) frees it and, with it, every device
//! inside, once nothing else holds it.
//!
//! The sweep touches nothing else: not a namespace without the prefix, not one without a
//! trailing pid, not one whose process is alive (a run in progress), and never a link of the
//! host namespace.

use std::ffi::CString;
use std::io;
use std::path::Path;

/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";
/// The prefix of every name tcpconform and its tests give a namespace.
pub const PREFIX: &str = "tcpc-";

/// The pid a tcpconform namespace name ends with: `tcpc-<tag>-<pid>`, `tag` not empty. `None`
/// for any other name, which the sweep then never touches.
pub fn owner_pid(name: &str) -> Option<libc::pid_t> {
    let rest = name.strip_prefix(PREFIX)?;
    let (tag, pid) = rest.rsplit_once('-')?;
    if tag.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // "0" or a leading zero is not how a pid is written: not ours.
    if pid.starts_with('0') {
        return None;
    }
    pid.parse::<libc::pid_t>().ok().filter(|&p| p > 0)
}

/// True if a process (or thread) `pid` exists. A process we may not signal exists too; so does
/// a zombie, whose parent has not reaped it yet.
pub fn pid_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 performs only the existence and permission checks.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Of `names`, the stale ones: tcpconform's naming, and their process is gone per `alive`.
pub fn select_stale<'n>(
    names: impl IntoIterator<Item = &'n str>,
    alive: impl Fn(libc::pid_t) -> bool,
) -> Vec<&'n str> {
    let mut stale: Vec<&str> = names
        .into_iter()
        .filter(|name| owner_pid(name).is_some_and(|pid| !alive(pid)))
        .collect();
    stale.sort_unstable();
    stale
}

/// What one sweep did.
#[derive(Debug, Default)]
pub struct Swept {
    /// Namespaces removed.
    pub removed: Vec<String>,
    /// Stale namespaces that could not be removed, with why.
    pub failed: Vec<(String, String)>,
}

/// Remove the stale tcpconform namespaces under [`NETNS_DIR`]. Needs root; a host without the
/// directory has nothing to sweep.
pub fn sweep() -> Swept {
    sweep_in(Path::new(NETNS_DIR))
}

fn sweep_in(dir: &Path) -> Swept {
    let mut out = Swept::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    for name in select_stale(names.iter().map(String::as_str), pid_alive) {
        match remove(&dir.join(name)) {
            Ok(()) => out.removed.push(name.to_string()),
            Err(e) => out.failed.push((name.to_string(), e.to_string())),
        }
    }
    out
}

/// `ip netns delete`: detach the bind mount that keeps the namespace alive, then remove the
/// name. A namespace some process still uses lives on, nameless, until that process ends.
fn remove(path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: a NUL-terminated path; MNT_DETACH only affects that mount point.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        let e = io::Error::last_os_error();
        // EINVAL: not a mount point (a half-made or already detached name): just unlink it.
        // ENOENT: another sweep got there first.
        match e.raw_os_error() {
            Some(libc::EINVAL) => {}
            Some(libc::ENOENT) => return Ok(()),
            _ => return Err(e),
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Sweep, telling stderr what was removed; for the start of a command that creates named
/// namespaces or devices. Problems are warnings: a stale namespace never stops a run.
pub fn sweep_and_report() -> Swept {
    let swept = sweep();
    for name in &swept.removed {
        eprintln!("sweep: removed stale namespace {name}");
    }
    for (name, why) in &swept.failed {
        eprintln!("warning: sweep: cannot remove stale namespace {name}: {why}");
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pids() {
        assert_eq!(owner_pid("tcpc-int0-4242"), Some(4242));
        assert_eq!(owner_pid("tcpc-a-b-17"), Some(17));
        assert_eq!(owner_pid("tcpc-sweeptest-1"), Some(1));
        for other in [
            "tcpc-4242",     // no tag
            "tcpc--4242",    // empty tag
            "tcpc-int0-",    // no pid
            "tcpc-int0-42x", // not a number
            "tcpc-int0-0",   // not a pid
            "tcpc-int0-042", // not how a pid is written
            "tcpc-int0-99999999999",
            "tcpc-int0-+42",
            "tcpcx-int0-42", // not the prefix
            "TCPC-int0-42",
            "blue-42",
            "tcpc0",
            "",
        ] {
            assert_eq!(owner_pid(other), None, "{other}");
        }
    }

    #[test]
    fn only_dead_owners_are_stale() {
        let names = [
            "tcpc-b-20", // dead
            "tcpc-a-10", // dead
            "tcpc-c-30", // alive
            "other-10",  // dead pid, foreign name
            "tcpc-10",   // dead pid, no tag
            "blue",
        ];
        let alive = |pid| pid == 30;
        assert_eq!(select_stale(names, alive), ["tcpc-a-10", "tcpc-b-20"]);
        assert!(select_stale(names, |_| true).is_empty());
    }

    #[test]
    fn this_process_is_alive() {
        assert!(pid_alive(std::process::id() as libc::pid_t));
    }

    #[test]
    fn a_missing_directory_has_nothing_to_sweep() {
        let swept = sweep_in(Path::new("/nonexistent/tcpc-sweep"));
        assert!(swept.removed.is_empty() && swept.failed.is_empty());
    }
}
