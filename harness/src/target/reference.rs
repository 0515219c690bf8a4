//! The bundled reference stack, in process, on a virtual clock: a wait costs nothing, so a case
//! that waits out 2MSL or a retransmission backoff finishes in microseconds.

use super::{AppCall, AppResult, Endpoints, Received, Target, TargetError};
use crate::app::stack::{self, StackApp};
use crate::ip::IpVersion;
use crate::tcp::TcpState;
use reference_stack::stack::Stack;
use reference_stack::wire::{ChecksumCheck, Segment, TcpFlags};
use reference_stack::{Config, FastOpen, Instant, Rule, State, UtoLimits};
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Documentation addresses (RFC 5737, RFC 3849): the reference never touches a real network, but
/// the same addresses are used by the namespaced targets, so traces look alike.
pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const TESTER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const TESTER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// The virtual clock starts here rather than at zero so that nothing depends on `now == 0`.
const EPOCH: Instant = Instant::from_micros(1_000_000);

/// Upper bound on timer firings within one `receive`/`wait`, against a stack whose timer never
/// clears (that would be a stack bug; the bound turns it into an error instead of a hang).
const MAX_TIMER_STEPS: usize = 1_000_000;

/// RFC 1108 classification level UNCLASSIFIED: the reference target runs at this level so the
/// security/compartment rules (LI-3, SS-5, SC-1, SC-2) are observable. Segments without an IP
/// security option are taken to be at our level, so ordinary cases are unaffected.
pub const SECURITY_LEVEL: u8 = 0xab;

/// One segment as the reference handled it: its state on arrival (CLOSED when no TCB or
/// listener), its kind, and the rules it went through — the raw material of `coverage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handling {
    pub state: State,
    pub kind: SegmentKind,
    pub rules: Vec<Rule>,
}

/// The eight probe kinds of the state x segment grid, by control bits (RST first, then SYN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentKind {
    Syn,
    SynAck,
    SynFin,
    Ack,
    Fin,
    FinAck,
    Rst,
    RstAck,
    /// No SYN/FIN/RST/ACK at all (e.g. bare data or URG): outside the 88-cell grid.
    Other,
}

impl SegmentKind {
    pub const GRID: [SegmentKind; 8] = [
        SegmentKind::Syn,
        SegmentKind::SynAck,
        SegmentKind::SynFin,
        SegmentKind::Ack,
        SegmentKind::Fin,
        SegmentKind::FinAck,
        SegmentKind::Rst,
        SegmentKind::RstAck,
    ];

    pub fn of(flags: TcpFlags) -> SegmentKind {
        let (s, a, f, r) = (flags.syn(), flags.ack(), flags.fin(), flags.rst());
        match (r, s, f, a) {
            (true, _, _, false) => SegmentKind::Rst,
            (true, _, _, true) => SegmentKind::RstAck,
            (false, true, true, _) => SegmentKind::SynFin,
            (false, true, false, true) => SegmentKind::SynAck,
            (false, true, false, false) => SegmentKind::Syn,
            (false, false, true, true) => SegmentKind::FinAck,
            (false, false, true, false) => SegmentKind::Fin,
            (false, false, false, true) => SegmentKind::Ack,
            (false, false, false, false) => SegmentKind::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SegmentKind::Syn => "SYN",
            SegmentKind::SynAck => "SYN-ACK",
            SegmentKind::SynFin => "SYN-FIN",
            SegmentKind::Ack => "ACK",
            SegmentKind::Fin => "FIN",
            SegmentKind::FinAck => "FIN-ACK",
            SegmentKind::Rst => "RST",
            SegmentKind::RstAck => "RST-ACK",
            SegmentKind::Other => "other",
        }
    }
}

pub struct ReferenceTarget {
    config: Config,
    stack: Stack,
    now: Instant,
    endpoints: Option<Endpoints>,
    pending: VecDeque<Received>,
    app: StackApp,
    rules: Vec<Rule>,
    handled: Vec<Handling>,
    /// How much of `handled` the last `take_rules` had seen.
    handled_mark: usize,
}

impl ReferenceTarget {
    /// The stack's defaults plus [`SECURITY_LEVEL`], Fast Open (RFC 7413, off in the stack's
    /// defaults as an Experimental RFC) and the User Timeout Option (RFC 5482, off unless
    /// enabled), so that the optional behaviours the corpus checks (`needs: fastopen`, the UTO
    /// cases) run on the reference. UTO advice is held between R2 (100 s, RFC 5482's L_LIMIT)
    /// and an hour. PLPMTUD's black-hole response (RFC 4821 7.7) is on, as RFC 9293 3.7.2
    /// recommends.
    pub fn default_config() -> Config {
        let defaults = Config::default();
        Config {
            security_level: Some(SECURITY_LEVEL),
            fastopen: Some(FastOpen { secret: None }),
            user_timeout_option: Some(UtoLimits {
                lower: defaults.r2,
                upper: reference_stack::Duration::from_secs(3600),
            }),
            plpmtud_black_hole: true,
            ..defaults
        }
    }

    /// Every segment handled since the last call (for `coverage`).
    pub fn take_handled(&mut self) -> Vec<Handling> {
        self.handled_mark = 0;
        std::mem::take(&mut self.handled)
    }

    pub fn new(config: Config) -> ReferenceTarget {
        ReferenceTarget {
            stack: Stack::new(config.clone()),
            config,
            now: EPOCH,
            endpoints: None,
            pending: VecDeque::new(),
            app: StackApp::default(),
            rules: Vec::new(),
            handled: Vec::new(),
            handled_mark: 0,
        }
    }

    /// Move everything the stack wants to send into the pending queue.
    fn drain(&mut self) {
        while let Some(packet) = self.stack.poll_transmit(self.now) {
            self.pending.push_back(Received {
                at: self.now - EPOCH,
                packet,
            });
        }
    }

    /// Advance the clock to `deadline`, firing timers on the way; stop early when a packet is
    /// pending and `stop_on_packet` is set.
    fn advance_to(&mut self, deadline: Instant, stop_on_packet: bool) -> Result<(), TargetError> {
        for _ in 0..MAX_TIMER_STEPS {
            self.drain();
            if stop_on_packet && !self.pending.is_empty() {
                return Ok(());
            }
            match self.stack.poll_timeout() {
                Some(t) if t <= deadline => {
                    self.now = self.now.max(t);
                    self.stack.handle_timeout(self.now);
                }
                _ => {
                    self.now = deadline;
                    self.drain();
                    return Ok(());
                }
            }
        }
        Err(TargetError(format!(
            "reference stack timers fired {MAX_TIMER_STEPS} times without time passing"
        )))
    }

    fn endpoints(&self) -> Result<Endpoints, TargetError> {
        self.endpoints
            .ok_or_else(|| TargetError("target not opened".into()))
    }

    fn call(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.endpoints()?;
        let result = self.app.call(&mut self.stack, self.now, call);
        self.drain();
        Ok(result)
    }
}

impl Target for ReferenceTarget {
    fn name(&self) -> &str {
        "reference"
    }

    /// Sysctls are Linux knobs; the reference stack's behaviour is set by its `Config`.
    fn open(
        &mut self,
        ip: IpVersion,
        _sysctls: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        let handled = std::mem::take(&mut self.handled);
        *self = ReferenceTarget::new(self.config.clone());
        self.handled_mark = handled.len();
        self.handled = handled;
        let ep = match ip {
            IpVersion::V4 => Endpoints {
                target: IpAddr::V4(TARGET_V4),
                tester: IpAddr::V4(TESTER_V4),
            },
            IpVersion::V6 => Endpoints {
                target: IpAddr::V6(TARGET_V6),
                tester: IpAddr::V6(TESTER_V6),
            },
        };
        self.endpoints = Some(ep);
        Ok(ep)
    }

    fn inject(&mut self, packet: &[u8]) -> Result<(), TargetError> {
        // A malformed packet is dropped by the stack (Err): that is a behaviour, not a failure.
        if let Ok(handled) = self.stack.handle_packet(self.now, packet) {
            self.rules.extend(handled.rules.iter().copied());
            if let Ok(seg) = Segment::parse_with(packet, ChecksumCheck::Ignore) {
                self.handled.push(Handling {
                    state: handled.state_before,
                    kind: SegmentKind::of(seg.tcp.flags),
                    rules: handled.rules.to_vec(),
                });
            }
        }
        self.drain();
        Ok(())
    }

    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
        if self.pending.is_empty() {
            self.advance_to(self.now + within, true)?;
        }
        Ok(self.pending.pop_front())
    }

    fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.call(call)
    }

    fn state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<TcpState>, TargetError> {
        Ok(Some(stack::state_of(&self.stack, local, remote)))
    }

    fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
        self.advance_to(self.now + d, false)
    }

    fn now(&self) -> Duration {
        self.now - EPOCH
    }

    fn virtual_clock(&self) -> bool {
        true
    }

    fn take_rules(&mut self) -> Vec<Rule> {
        self.handled_mark = self.handled.len();
        std::mem::take(&mut self.rules)
    }

    fn discard_reports(&mut self) {
        self.rules.clear();
        self.handled.truncate(self.handled_mark);
    }

    fn close(&mut self) {
        self.endpoints = None;
    }
}
