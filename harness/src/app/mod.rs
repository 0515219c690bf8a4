//! Application calls: what a case asks of the application on the target's side (the user/TCP
//! interface of RFC 9293 3.9.1), what such a call returns, and the two executors that perform
//! them — [`sockets::SocketApp`] on the kernel's sockets (the `linux` target, the agent) and
//! [`stack::StackApp`] on the reference stack (the `reference` target, `serve`).
//!
//! Results are typed: a failed call carries an [`ErrorKind`] named after the RFC's error
//! responses ("connection reset", "connection does not exist", ...), so that the runner matches
//! kinds, never message text.

pub mod sockets;
pub mod stack;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// An application call performed on the target's side (RFC 9293 3.9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCall {
    /// Passive OPEN on this local address and port.
    Listen {
        local: SocketAddr,
    },
    /// Take the next established connection from the listener (the one the case drives).
    Accept,
    /// Active OPEN from `local` to `remote`; `fastopen`: with TCP Fast Open (RFC 7413 4.2.1),
    /// as Linux's TCP_FASTOPEN_CONNECT.
    Connect {
        local: SocketAddr,
        remote: SocketAddr,
        fastopen: bool,
    },
    Write(Vec<u8>),
    /// Read up to this many octets (whatever is available within the call's deadline).
    Read {
        max: usize,
    },
    /// CLOSE (RFC 9293 3.10.4): no more to send; receiving goes on (shutdown(SHUT_WR)).
    ShutdownWrite,
    Close,
    Abort,
    /// The application gives the connection up entirely, reading too (RFC 9293 3.6.1, MAY-1):
    /// close(2) on sockets. Data left unread, or arriving later, should draw an RST (SHLD-3).
    Release,
    /// Disable (true) or enable Nagle (MUST-17).
    NoDelay(bool),
    /// Keep-alives on the connection with this timing (MUST-24, MUST-27; RFC 9293 3.8.4).
    Keepalive(Keepalive),
    /// The connection's user timeout, R2 for its data (MUST-21, RFC 9293 3.8.3):
    /// TCP_USER_TIMEOUT on sockets, in whole milliseconds.
    UserTimeout(Duration),
}

/// Keep-alive timing: SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT on sockets.
/// Whole seconds, as socket options count them (the case language refuses anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Time without a segment from the peer before the first probe.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped.
    pub count: u32,
}

impl Keepalive {
    /// The idle time in seconds, as TCP_KEEPIDLE takes it (saturating: the kernel refuses it).
    pub fn idle_secs(&self) -> u32 {
        u32::try_from(self.idle.as_secs()).unwrap_or(u32::MAX)
    }

    /// The interval in seconds, as TCP_KEEPINTVL takes it.
    pub fn interval_secs(&self) -> u32 {
        u32::try_from(self.interval.as_secs()).unwrap_or(u32::MAX)
    }
}

impl AppCall {
    /// What the call is on the sockets API (the `linux` target, `tcpconform agent`), where the
    /// case language's name alone would mislead: `close` is shutdown(2), not close(2).
    pub fn socket_api(&self) -> Option<&'static str> {
        match self {
            AppCall::Close => Some("shutdown(SHUT_WR)"),
            AppCall::Release => Some("close(2)"),
            AppCall::Abort => Some("SO_LINGER 0, close(2)"),
            AppCall::UserTimeout(_) => Some("TCP_USER_TIMEOUT"),
            _ => None,
        }
    }
}

impl fmt::Display for AppCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppCall::Listen { local } => write!(f, "listen({local})"),
            AppCall::Accept => f.write_str("accept()"),
            AppCall::Connect {
                local,
                remote,
                fastopen,
            } => {
                let tfo = if *fastopen { ", fastopen" } else { "" };
                write!(f, "connect({local} -> {remote}{tfo})")
            }
            AppCall::Write(data) => write!(f, "write({} octets)", data.len()),
            AppCall::Read { max } => write!(f, "read(up to {max})"),
            AppCall::ShutdownWrite => f.write_str("shutdown(SHUT_WR)"),
            AppCall::Close => f.write_str("close()"),
            AppCall::Abort => f.write_str("abort()"),
            AppCall::Release => f.write_str("release()"),
            AppCall::NoDelay(on) => write!(f, "set TCP_NODELAY={on}"),
            AppCall::Keepalive(k) => write!(
                f,
                "keep-alive(idle {:?}, interval {:?}, count {})",
                k.idle, k.interval, k.count
            ),
            AppCall::UserTimeout(d) => write!(f, "user timeout({d:?})"),
        }
    }
}

/// What an application call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppResult {
    Ok,
    /// Octets written.
    Wrote(usize),
    /// Octets read (empty = end of stream).
    Read(Vec<u8>),
    /// The call is pending (accept with no connection yet, read with nothing queued, write with
    /// no room): not an error in itself.
    WouldBlock,
    /// The call failed.
    Failed(AppError),
}

impl fmt::Display for AppResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppResult::Ok => f.write_str("ok"),
            AppResult::Wrote(n) => write!(f, "wrote {n}"),
            AppResult::Read(d) if d.is_empty() => f.write_str("end of stream"),
            AppResult::Read(d) => write!(f, "read {} octets", d.len()),
            AppResult::WouldBlock => f.write_str("would block"),
            AppResult::Failed(e) => write!(f, "error: {e}"),
        }
    }
}

/// A failed application call: its kind, and what the stack said (`ECONNRESET (Connection
/// reset by peer)`, `connection reset`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub kind: ErrorKind,
    pub detail: String,
}

impl AppError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> AppError {
        AppError {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Why a call failed, in the RFC's terms (RFC 9293 3.10, "error: ..." responses); the socket
/// errno each one corresponds to is in brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// "connection refused" (ECONNREFUSED): the active OPEN met an RST (RFC 9293 3.10.7.3).
    Refused,
    /// "connection reset" (ECONNRESET, ECONNABORTED): an RST deleted the connection.
    Reset,
    /// "connection aborted due to user timeout" (ETIMEDOUT): R2 or keep-alives gave up.
    TimedOut,
    /// "connection does not exist" (ENOTCONN): no connection for the call to act on.
    NotConnected,
    /// "connection closing" (EPIPE): SEND after this side's CLOSE.
    Closing,
    /// "connection already exists" (EADDRINUSE).
    AddrInUse,
    /// "destination unreachable" (EHOSTUNREACH, ENETUNREACH): an ICMP error reached the call.
    Unreachable,
    /// The call's arguments are invalid (EINVAL, EADDRNOTAVAIL; an OPEN to a group address,
    /// MUST-46; accept without listen).
    Invalid,
    /// Anything else; the detail says what.
    Other,
}

impl ErrorKind {
    /// The RFC's wording, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::Refused => "connection refused",
            ErrorKind::Reset => "connection reset",
            ErrorKind::TimedOut => "connection timed out",
            ErrorKind::NotConnected => "connection does not exist",
            ErrorKind::Closing => "connection closing",
            ErrorKind::AddrInUse => "connection already exists",
            ErrorKind::Unreachable => "destination unreachable",
            ErrorKind::Invalid => "invalid call",
            ErrorKind::Other => "other error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}
