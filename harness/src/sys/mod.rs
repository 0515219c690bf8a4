//! The operating-system layer: TUN devices, network namespaces, TCP sockets and sock_diag,
//! as thin typed wrappers over the syscalls. Everything that talks to the kernel goes through
//! here; nothing here knows about cases, targets or reports.

pub mod netns;
pub mod sockdiag;
pub mod sockets;
pub mod tun;

use std::io;

/// A syscall's return value as a `Result`: negative is the thread's errno, prefixed with `what`
/// (the one errno check of the crate).
pub(crate) fn check(ret: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(ret)
    }
}
