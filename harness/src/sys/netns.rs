//! Network namespaces per thread, and sysctls inside them.
//!
//! Isolation: `unshare(CLONE_NEWNET)` moves only the calling thread into a new, empty namespace;
//! the process and every other thread stay where they were. The namespace has no name and
//! vanishes once no thread is in it and no file descriptor (socket, TUN device, ns handle) names
//! it. `/proc/sys/net/...` resolves against the opening thread's namespace, so a sysctl written
//! from the thread while it is inside lands in that namespace only.

use super::check;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// A handle on the calling thread's current network namespace.
pub fn current() -> io::Result<File> {
    File::open("/proc/thread-self/ns/net")
}

/// Move the calling thread into a new, empty network namespace.
pub fn unshare() -> io::Result<()> {
    // SAFETY: unshare only affects the calling thread's namespaces.
    check(
        unsafe { libc::unshare(libc::CLONE_NEWNET) },
        "unshare(CLONE_NEWNET)",
    )?;
    Ok(())
}

/// Move the calling thread into the namespace `ns` names.
pub fn enter(ns: &File) -> io::Result<()> {
    // SAFETY: setns only affects the calling thread; the fd is valid for the call.
    check(
        unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
        "setns(CLONE_NEWNET)",
    )?;
    Ok(())
}

/// The kernel id of the calling thread.
pub fn thread_id() -> libc::pid_t {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// `net.ipv4.tcp_rfc1337` -> `/proc/sys/net/ipv4/tcp_rfc1337`. Only `net.*` keys made of plain
/// name characters are accepted: nothing outside the namespaced `net` tree can be reached.
pub fn sysctl_path(key: &str) -> Result<PathBuf, String> {
    let plain = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let mut parts = key.split('.');
    if parts.next() != Some("net") {
        return Err(format!("sysctl {key:?}: only net.* sysctls are namespaced"));
    }
    let mut path = PathBuf::from("/proc/sys/net");
    let mut depth = 0;
    for part in parts {
        if !plain(part) {
            return Err(format!("sysctl {key:?}: not a sysctl name"));
        }
        path.push(part);
        depth += 1;
    }
    if depth == 0 {
        return Err(format!("sysctl {key:?}: not a sysctl name"));
    }
    Ok(path)
}

/// Read a sysctl as the calling thread's namespace sees it.
pub fn read_sysctl(key: &str) -> Result<String, String> {
    let path = sysctl_path(key)?;
    match std::fs::read_to_string(&path) {
        Ok(v) => Ok(v.trim().to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(format!("unknown sysctl {key}")),
        Err(e) => Err(format!("sysctl {key}: {e}")),
    }
}

/// Write a sysctl in the calling thread's namespace. The caller makes sure the thread is in a
/// namespace of its own.
pub fn write_sysctl(key: &str, value: &str) -> Result<(), String> {
    let path = sysctl_path(key)?;
    if value.contains('\n') {
        return Err(format!("sysctl {key}: value {value:?} spans lines"));
    }
    // Not `create`: a sysctl that does not exist is an error, never a new file.
    let file = std::fs::OpenOptions::new().write(true).open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!("unknown sysctl {key}"));
        }
        Err(e) => return Err(format!("sysctl {key}: {e}")),
    };
    io::Write::write_all(&mut file, value.as_bytes())
        .map_err(|e| format!("sysctl {key} = {value}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_paths() {
        assert_eq!(
            sysctl_path("net.ipv4.tcp_rfc1337"),
            Ok(PathBuf::from("/proc/sys/net/ipv4/tcp_rfc1337"))
        );
        assert_eq!(
            sysctl_path("net.ipv6.conf.tcpconform0.accept_dad"),
            Ok(PathBuf::from(
                "/proc/sys/net/ipv6/conf/tcpconform0/accept_dad"
            ))
        );
        for bad in [
            "kernel.panic",
            "net",
            "net..x",
            "net.ipv4/../../x",
            "net.ipv4.a b",
            "net.ipv4.",
        ] {
            assert!(sysctl_path(bad).is_err(), "{bad}");
        }
    }
}
