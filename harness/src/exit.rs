//! The exit statuses of `tcpconform`, in one place (the CLI's `--help` lists them too).
//! 130 / 143 (stopped by SIGINT / SIGTERM) are set by `main` from [`crate::interrupt`].

/// Every selected case instance passed (or was a known deviation, skipped or not applicable).
pub const PASSED: u8 = 0;
/// Some case instance failed.
pub const FAILED: u8 = 1;
/// Usage error, invalid case files, reports that cannot be written, a target that cannot be
/// set up: nothing was judged.
pub const USAGE: u8 = 2;
/// The target stopped answering during the run (dead or wedged): the run stopped, the
/// instances not run are reported as such.
pub const TARGET_UNUSABLE: u8 = 3;
