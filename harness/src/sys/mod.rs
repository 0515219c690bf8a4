//! The operating-system layer: TUN devices, network namespaces, TCP sockets and sock_diag,
//! as thin typed wrappers over the syscalls. Everything that talks to the kernel goes through
//! here; nothing here knows about cases, targets or reports.

pub mod netns;
pub mod sockdiag;
pub mod sockets;
pub mod tun;
