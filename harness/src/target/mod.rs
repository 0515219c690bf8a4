//! Targets: the stack under test behind one trait.
//!
//! A target can inject a raw IP packet, hand back the packets the stack sends (with a deadline),
//! perform application calls on the stack's side and, where it can, report the TCP state of a
//! connection. The runner drives every target the same way; only the clock differs (virtual on
//! `reference`, real elsewhere).

pub mod link;
pub mod linux;
pub mod reference;
pub mod sweep;

pub use crate::app::{AppCall, AppResult};
use crate::ip::IpVersion;
use crate::tcp::TcpState;
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

    /// Whether the application calls are made on a sockets API (the kernel's, or the agent's
    /// sockets), so that the trace can say which socket call each one was
    /// ([`AppCall::socket_api`]).
    fn on_sockets(&self) -> bool {
        false
    }

    /// The RFC 9293 state of the connection `local` (target side) <-> `remote` (tester), if the
    /// target can observe it; `None` if it cannot.
    fn state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<TcpState>, TargetError>;

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

    /// SEGMENT ARRIVES rules the stack reported since the last call (reference only).
    fn take_rules(&mut self) -> Vec<reference_stack::Rule> {
        Vec::new()
    }

    /// Forget what the stack reported since the last [`Target::take_rules`]: the segments were
    /// the harness's own (a state probe), not the case's.
    fn discard_reports(&mut self) {}

    /// Tear the instance down (also done on drop by implementations that own resources).
    fn close(&mut self);

    /// What this target offers a case (see [`Capabilities`]).
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// A tester port never used before in this run, on targets whose stack outlives the
    /// instances (so that no connection an earlier instance left behind can meet a later one);
    /// `None` where every instance gets a fresh stack and the runner picks its own.
    fn fresh_port(&mut self) -> Option<u16> {
        None
    }

    /// Whether the stack under test still answers, asked between instances of a run on
    /// targets that outlive them. Needs no open instance.
    fn probe(&mut self, _ip: IpVersion) -> Result<Liveness, TargetError> {
        Ok(Liveness::NotChecked)
    }

    /// Notes for the trace of the instance just closed (what its teardown found).
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// What a target offers a case. A case whose needs it cannot meet is skipped with the
/// reason, never failed (the harness's limits are not the stack's deviations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Who makes the application calls on the target's side.
    pub application: Application,
    /// The target can report a connection's TCP state (sock_diag, an agent, the reference).
    pub observes_state: bool,
    /// The largest IP packet the harness may send to the target (the link MTU).
    pub mtu: usize,
    /// IP versions the target has an address for.
    pub ipv4: bool,
    pub ipv6: bool,
    /// The stack under test outlives case instances (a stack over `link`): every
    /// connection an instance made must be torn down, tester ports are never reused, and the
    /// run checks that the target is still alive.
    pub persistent: bool,
}

impl Default for Capabilities {
    fn default() -> Capabilities {
        Capabilities {
            application: Application::Driven,
            observes_state: true,
            mtu: 65_535,
            ipv4: true,
            ipv6: true,
            persistent: false,
        }
    }
}

impl Capabilities {
    pub fn has_ip(&self, ip: IpVersion) -> bool {
        match ip {
            IpVersion::V4 => self.ipv4,
            IpVersion::V6 => self.ipv6,
        }
    }
}

/// Who makes the application calls on the target's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Application {
    /// The case's calls are made as written (the reference stack, kernel sockets, an agent).
    Driven,
    /// No calls can be made: an application the harness does not control listens on a
    /// port of the target (`--open-port`), and it behaves as `behaviour` says.
    Fixed(FixedApp),
}

/// The application of an agentless target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedApp {
    /// Where it listens: a case's passive OPEN maps onto this port.
    pub open_port: Option<u16>,
    /// A port where nothing listens: a case's closed port maps onto it.
    pub closed_port: Option<u16>,
    pub behaviour: AppBehaviour,
}

/// What the application on the open port does with what it receives (`--app`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppBehaviour {
    /// Accepts every connection, sends back what it reads, closes its side after the peer's
    /// FIN (RFC 862).
    Echo,
    /// Accepts every connection, reads and drops what it receives, closes its side after the
    /// peer's FIN (RFC 863).
    Discard,
    /// Accepts connections; nothing else is assumed (it may send, read or close at any time
    /// after data or a FIN arrives).
    Unknown,
}

impl AppBehaviour {
    /// The `--app` name.
    pub fn name(self) -> &'static str {
        match self {
            AppBehaviour::Echo => "echo",
            AppBehaviour::Discard => "discard",
            AppBehaviour::Unknown => "unknown",
        }
    }
}

/// The answer of a liveness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// The target answered as a live stack must (a SYN-ACK from the open port, an RST from
    /// the closed port).
    Alive,
    /// No answer, or an answer that shows the stack cannot take connections any more
    /// (the reason says which).
    Unusable(String),
    /// This target is not probed (a fresh stack per instance).
    NotChecked,
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
    fn state(&mut self, _: SocketAddr, _: SocketAddr) -> Result<Option<TcpState>, TargetError> {
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

/// A target whose connection states are read off the wire ([`crate::run::probe`]) even where it
/// could report them (`run --wire-states`): shows on a target whose states are known that the
/// probes agentless targets depend on read them right.
pub struct WireStates(pub Box<dyn Target>);

impl Target for WireStates {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn open(
        &mut self,
        ip: IpVersion,
        sysctls: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        self.0.open(ip, sysctls)
    }
    fn inject(&mut self, packet: &[u8]) -> Result<(), TargetError> {
        self.0.inject(packet)
    }
    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
        self.0.receive(within)
    }
    fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.0.app(call)
    }
    fn cannot(&self, call: &AppCall) -> Option<String> {
        self.0.cannot(call)
    }
    fn on_sockets(&self) -> bool {
        self.0.on_sockets()
    }
    fn state(&mut self, _: SocketAddr, _: SocketAddr) -> Result<Option<TcpState>, TargetError> {
        Ok(None)
    }
    fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
        self.0.wait(d)
    }
    fn now(&self) -> Duration {
        self.0.now()
    }
    fn virtual_clock(&self) -> bool {
        self.0.virtual_clock()
    }
    fn take_rules(&mut self) -> Vec<reference_stack::Rule> {
        self.0.take_rules()
    }
    fn discard_reports(&mut self) {
        self.0.discard_reports()
    }
    fn close(&mut self) {
        self.0.close()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            observes_state: false,
            ..self.0.capabilities()
        }
    }
    fn fresh_port(&mut self) -> Option<u16> {
        self.0.fresh_port()
    }
    fn probe(&mut self, ip: IpVersion) -> Result<Liveness, TargetError> {
        self.0.probe(ip)
    }
    fn take_notes(&mut self) -> Vec<String> {
        self.0.take_notes()
    }
}
