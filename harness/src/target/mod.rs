//! Targets: the stack under test behind one trait.
//!
//! A target can inject a raw IP packet, hand back the packets the stack sends (with a deadline),
//! perform application calls on the stack's side and, where it can, report the TCP state of a
//! connection. The runner drives every target the same way; only the clock differs (virtual on
//! `reference`, real elsewhere).

pub mod link;
pub mod linux;
pub mod netns;
pub mod reference;
pub mod sockdiag;
pub mod sockets;
pub mod sweep;
pub mod tun;

use crate::run::event::IpVersion;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The addresses of one case instance: the stack under test and the tester's crafted side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub target: IpAddr,
    pub tester: IpAddr,
}

/// An application call performed on the target's side (RFC 9293 3.9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCall {
    /// Passive OPEN on this port.
    Listen {
        port: u16,
    },
    /// Take the next established connection from the listener (the one the case drives).
    Accept,
    /// Active OPEN from `local_port` to the tester.
    Connect {
        local_port: u16,
        remote: SocketAddr,
    },
    Write(Vec<u8>),
    /// Read up to this many octets (whatever is available within the call's deadline).
    Read {
        max: usize,
    },
    ShutdownWrite,
    Close,
    Abort,
    /// Disable (true) or enable Nagle (MUST-17).
    NoDelay(bool),
    /// Keep-alives on the connection with this timing (MUST-24, MUST-27; RFC 9293 3.8.4).
    Keepalive(Keepalive),
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

impl fmt::Display for AppCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppCall::Listen { port } => write!(f, "listen({port})"),
            AppCall::Accept => f.write_str("accept()"),
            AppCall::Connect { local_port, remote } => {
                write!(f, "connect(from port {local_port} to {remote})")
            }
            AppCall::Write(data) => write!(f, "write({} octets)", data.len()),
            AppCall::Read { max } => write!(f, "read(up to {max})"),
            AppCall::ShutdownWrite => f.write_str("shutdown(SHUT_WR)"),
            AppCall::Close => f.write_str("close()"),
            AppCall::Abort => f.write_str("abort()"),
            AppCall::NoDelay(on) => write!(f, "set TCP_NODELAY={on}"),
            AppCall::Keepalive(k) => write!(
                f,
                "keep-alive(idle {:?}, interval {:?}, count {})",
                k.idle, k.interval, k.count
            ),
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
    /// The call is pending (e.g. accept with no connection yet): not an error in itself.
    WouldBlock,
    /// The call failed with this error (connection refused, reset, ...).
    Error(String),
}

impl fmt::Display for AppResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppResult::Ok => f.write_str("ok"),
            AppResult::Wrote(n) => write!(f, "wrote {n}"),
            AppResult::Read(d) if d.is_empty() => f.write_str("end of stream"),
            AppResult::Read(d) => write!(f, "read {} octets", d.len()),
            AppResult::WouldBlock => f.write_str("would block"),
            AppResult::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// A target failure that is not a verdict on the stack (setup failed, device gone, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError(pub String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetError {}

impl TargetError {
    /// A wait cut short because the run was interrupted (SIGINT, SIGTERM).
    pub fn interrupted() -> TargetError {
        TargetError(crate::interrupt::REASON.into())
    }
}

/// One received packet and when it arrived (time since the instance was opened).
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Duration,
    pub packet: Vec<u8>,
}

/// The stack under test, for one case instance at a time.
pub trait Target {
    /// `reference`, `linux`, `link`.
    fn name(&self) -> &str;

    /// A fresh, isolated environment for one case instance. `sysctls` are the ones the case
    /// names (`net.ipv4.tcp_rfc1337: 0`); a target that has sysctls sets them inside its own
    /// isolated environment, never on the host; others ignore them.
    fn open(
        &mut self,
        ip: IpVersion,
        sysctls: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError>;

    /// Inject one IP packet into the stack under test.
    fn inject(&mut self, packet: &[u8]) -> Result<(), TargetError>;

    /// The next packet the stack sends, waiting at most `within`; `None` if none came.
    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError>;

    /// Perform an application call on the target's side.
    fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError>;

    /// Why this target cannot perform `call` at all, if it cannot (the case is then skipped
    /// with the reason, not failed): e.g. an agent that connects only to the peers it allows.
    fn cannot(&self, _call: &AppCall) -> Option<String> {
        None
    }

    /// The RFC 9293 state of the connection `local` (target side) <-> `remote` (tester), if the
    /// target can observe it. Returns the RFC name, e.g. `ESTABLISHED`; `None` if unobservable.
    fn state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<&'static str>, TargetError>;

    /// Let time pass (virtually on the reference, by sleeping elsewhere). Packets the stack sends
    /// meanwhile are kept for `receive`.
    fn wait(&mut self, d: Duration) -> Result<(), TargetError>;

    /// Time since `open`.
    fn now(&self) -> Duration;

    /// True when waits cost nothing (the reference's virtual clock); real-time targets skip
    /// cases whose waits exceed the run's time budget.
    fn virtual_clock(&self) -> bool {
        false
    }

    /// SEGMENT ARRIVES rule ids the stack reported since the last call (reference only).
    fn take_rules(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Tear the instance down (also done on drop by implementations that own resources).
    fn close(&mut self);
}

/// A target that could not be set up on this worker (e.g. the namespace could not be
/// created): every instance fails to open with the reason, so the run reports it per case
/// instead of panicking a worker.
pub struct Unavailable {
    name: &'static str,
    reason: String,
}

impl Unavailable {
    pub fn new(name: &'static str, reason: String) -> Unavailable {
        Unavailable { name, reason }
    }

    fn err(&self) -> TargetError {
        TargetError(self.reason.clone())
    }
}

impl Target for Unavailable {
    fn name(&self) -> &str {
        self.name
    }
    fn open(
        &mut self,
        _: IpVersion,
        _: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        Err(self.err())
    }
    fn inject(&mut self, _: &[u8]) -> Result<(), TargetError> {
        Err(self.err())
    }
    fn receive(&mut self, _: Duration) -> Result<Option<Received>, TargetError> {
        Err(self.err())
    }
    fn app(&mut self, _: &AppCall) -> Result<AppResult, TargetError> {
        Err(self.err())
    }
    fn state(&mut self, _: SocketAddr, _: SocketAddr) -> Result<Option<&'static str>, TargetError> {
        Err(self.err())
    }
    fn wait(&mut self, _: Duration) -> Result<(), TargetError> {
        Err(self.err())
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
    fn close(&mut self) {}
}
