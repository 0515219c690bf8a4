//! SIGINT and SIGTERM: stop cleanly on the first, die on the second.
//!
//! The handler only records which signal came (an atomic store is async-signal-safe; almost
//! nothing else is). The long-running commands poll [`requested`] where they wait: the
//! executor stops starting instances, a target's wait loop returns early, `serve` and `agent`
//! leave their loops. Everything they own is then dropped on the normal path (sockets, TUN
//! devices, hence the anonymous case namespaces), the reports are written, and `main` exits
//! with the shell's convention for a death by that signal, 128 + signal number: 130 for SIGINT,
//! 143 for SIGTERM.
//!
//! A second signal while the first is being honoured means "now": the handler restores the
//! default disposition and raises the signal again, so the process dies at once. The kernel
//! still frees every anonymous namespace and non-persistent device the process held.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The first signal received, 0 if none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if RECEIVED
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // SAFETY: signal(2) and raise(3) are async-signal-safe (POSIX.1-2017 2.4.3). The raised
        // signal is blocked while this handler runs and is delivered, with the default action
        // (terminate), as soon as it returns.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// Install the handler for SIGINT and SIGTERM (process-wide; call once, before spawning
/// threads, so that none of them starts with a blocked mask by accident).
pub fn install() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain old data; all-zero is a valid value (empty mask, no flags)
        // before the fields below are set.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SA_RESTART: blocking calls elsewhere (file writes of the reports, child waits) resume
        // instead of failing with EINTR; every wait that must notice the signal polls with a
        // short timeout anyway (poll(2) itself is never restarted).
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: sa_mask is a valid sigset_t inside `action`.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: a valid action for a catchable signal; the old action is not wanted.
        let ret = unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
        if ret != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal that asked the process to stop, if one did.
pub fn signal() -> Option<libc::c_int> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// True once SIGINT or SIGTERM has come: stop starting work, end the current work early.
pub fn requested() -> bool {
    signal().is_some()
}

/// The exit status of a process that stopped because of `sig`: 128 + its number, as a shell
/// reports a death by that signal (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code(sig: libc::c_int) -> u8 {
    u8::try_from(128 + sig).unwrap_or(u8::MAX)
}

/// What an interrupted case instance is reported as (skipped, with this reason).
pub const REASON: &str = "interrupted";

/// The longest a wait loop sleeps without looking at [`requested`]: how late, at most, a
/// running instance notices the signal.
pub const CHECK_EVERY: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(libc::SIGINT), 130);
        assert_eq!(exit_code(libc::SIGTERM), 143);
    }
}
