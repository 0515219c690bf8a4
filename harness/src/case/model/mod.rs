//! The validated case model the runner consumes.
//!
//! A [`Case`] is one behaviour, already checked by the loader: grids are expanded (one `Case`
//! per combination), the prelude's steps are inlined at the front of `steps`, every expression
//! is parsed and its variables known, every step carries its source location. Nothing here
//! needs the YAML any more. The language itself is documented in `cases/README.md`.
//!
//! Sequence numbers follow packetdrill's convention. A [`Value::Rel`] in a field is an offset
//! from the ISN of the side that owns the field's sequence space ([`Space`]):
//!
//! | field            | `send` (tester -> target) | `expect` (target -> tester) |
//! |------------------|---------------------------|-----------------------------|
//! | `seq`            | tester ISN                | target ISN                  |
//! | `ack`            | target ISN                | tester ISN                  |
//! | SACK block edges | target ISN                | tester ISN                  |
//!
//! Variables ([`Var`]) evaluate to relative values in their own space; the loader rejects a
//! variable from the other space in a sequence field (`send: { seq: snd.nxt }` is a mistake).
//! [`Value::Abs`] (`abs(12345)` or `{ abs: 12345 }`) is put on the wire as is, and variables
//! inside it evaluate to absolute wire values.

use crate::tcp::flags;
use reference_stack::Rule;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use core::fmt;
use core::str::FromStr;

pub use super::expr::{BinOp, EvalError, Expr, Space, Var};
pub use crate::ip::IpVersion;
pub use crate::packet::spec::{ChecksumSpec, IpFields};
pub use crate::tcp::TcpState;
pub use expect::*;

mod expect;

/// Where something came from in a case file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// One case instance template (one per grid combination). The runner further multiplies it by
/// the IP versions in [`Case::ip`].
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Unique across the corpus. Grid instances carry their combination:
    /// `rst/in-window[ESTABLISHED,rcv.nxt+1]`.
    pub id: String,
    pub title: String,
    /// Location of the `id:` key.
    pub loc: Loc,
    /// References as written (`RFC9293 3.10.7.4`, `MUST-11`).
    pub rfc: Vec<String>,
    /// The RFC 9293 requirement ids among `rfc` (`MUST-11`, `SHLD-31`, `MAY-2`, `REC-1`),
    /// checked against the requirements table.
    pub requirements: Vec<String>,
    /// The SEGMENT ARRIVES rules the case claims (`cells: [RS-2]`).
    pub cells: Vec<Rule>,
    /// How strongly the RFC asks for what the case checks (`level:`; by default the strongest
    /// level among its requirement ids, MUST when it cites none). A step may say otherwise.
    pub level: Level,
    /// IP versions to run on, in order, deduplicated (default both).
    pub ip: Vec<IpVersion>,
    pub tags: Vec<String>,
    /// What the case declares it needs of the target (`needs: [unread]`); the rest of what it
    /// needs is derived from its steps ([`super::needs::Needs`]).
    pub needs: Vec<super::needs::Need>,
    /// Sysctls the linux target must set in the case's namespace, name -> value as written.
    pub sysctls: BTreeMap<String, String>,
    pub setup: Setup,
    /// Name of the prelude whose steps open `steps` (`ESTABLISHED`), if any.
    pub prelude: Option<String>,
    /// Number of leading steps that come from the prelude (their `loc` is in `_preludes.yaml`).
    pub prelude_steps: usize,
    pub defaults: Defaults,
    /// For a grid instance, the chosen label per axis, in axis order: `[("state", "ESTABLISHED")]`.
    pub grid: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

/// How the target side is prepared before the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Nothing listens on `port` on the target: segments meet a CLOSED port (RFC 9293 3.10.7.1).
    Closed { port: u16 },
    /// The target does a passive OPEN on `port` (listen, no accept until a `call: accept`).
    Listen { port: u16 },
    /// The target actively opens to the tester's `port` (the runner calls connect; the target's
    /// SYN is the first thing to expect).
    /// `fastopen`: the active OPEN asks for TCP Fast Open (RFC 7413 4.2.1).
    Connect { port: u16, fastopen: bool },
}

impl Setup {
    pub fn port(self) -> u16 {
        match self {
            Setup::Closed { port } | Setup::Listen { port } | Setup::Connect { port, .. } => port,
        }
    }
}

/// Case-level defaults (`defaults:` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// Window of `send` steps that give none (default 65535).
    pub win: u16,
    /// Deadline of `expect` steps that give none (default 1s).
    pub within: Duration,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            win: 65535,
            within: Duration::from_secs(1),
        }
    }
}

/// One step, with where it is written (for failure messages: `Failure::line = loc.line`).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    pub loc: Loc,
    /// How strongly the RFC asks for what this step checks, when it differs from the case's
    /// (`level: should` beside the step).
    pub level: Option<Level>,
}

/// Gives every step (and every step of a `one_of` branch) without a level of its own the
/// case's `level`.
pub fn fill_levels(steps: &mut [Step], level: Level) {
    for step in steps {
        if step.level.is_none() {
            step.level = Some(level);
        }
        if let StepKind::OneOf(branches) = &mut step.kind {
            for b in branches {
                fill_levels(&mut b.steps, level);
            }
        }
    }
}

/// How strongly the RFC asks for what a check checks (RFC 2119 keywords), which decides what
/// a failed check means: a MUST not met fails the case, a SHOULD not met is a warning (a
/// "non-strict" verdict), a MAY not taken is information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// MUST, SHALL, REQUIRED (and the RFC's processing rules stated as plain imperatives).
    Must,
    /// SHOULD, RECOMMENDED.
    Should,
    /// Recommended practice: a lowercase "should", a BCP's advice.
    Practice,
    /// MAY, OPTIONAL: an implementation's choice.
    May,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Must, Level::Should, Level::Practice, Level::May];

    /// The case language's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::Practice => "practice",
            Level::May => "may",
        }
    }

    /// The RFC 2119 keyword, for reports.
    pub fn keyword(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Practice => "recommended practice",
            Level::May => "MAY",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim().to_ascii_lowercase();
        Level::ALL.into_iter().find(|l| l.name() == s)
    }

    /// The level of a requirement id: RFC 9293's (`MUST-11`, `SHLD-8`, `MAY-12`, `REC-1`) or
    /// another RFC's (`RFC2018-MUST-10`, `case::requirements`).
    pub fn of_requirement(id: &str) -> Option<Level> {
        // `RFC2018-MUST-1` is graded by its group like `MUST-1`.
        let prefix = match id.split_once('-')? {
            (rfc, rest) if rfc.starts_with("RFC") => rest.split('-').next()?,
            (prefix, _) => prefix,
        };
        Some(match prefix {
            "MUST" => Level::Must,
            "SHLD" => Level::Should,
            "REC" => Level::Practice,
            "MAY" => Level::May,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Inject a segment.
    Send(Box<Send>),
    /// The next segment from the target must match.
    Expect(Box<Expect>),
    /// A second look at the segment the previous `expect` took, with this step's own level: one
    /// segment whose fields the RFC asks for at different levels (RFC 2018 4: the first SACK
    /// block MUST, the others SHOULD) is judged at each. No timing of its own.
    ExpectAlso(Box<Expect>),
    /// No segment from the target for this long.
    ExpectNone(Duration),
    /// The target's TCB for the case's 4-tuple is in this state (LISTEN: the listener exists and
    /// holds no TCB for the 4-tuple; CLOSED: no TCB at all).
    State(TcpState),
    /// An application call on the target.
    Call(Call),
    /// Let time pass (virtual on the reference target), ignoring nothing: segments the target
    /// emits meanwhile stay queued for the next `expect`.
    Wait(Duration),
    /// Allowed variants; at least two. The runner picks the branch whose first step matches
    /// what arrives and reports its name in `Outcome::Passed::variants`.
    OneOf(Vec<Branch>),
    /// Sample the target's ISNs over many fresh handshakes and judge them (RFC 9293 3.4.1).
    IsnSample(IsnSample),
    /// Inject a burst of SYNs and classify the target's answers (RFC 9293 3.10.7.2, RFC 4987).
    SynFlood(SynFlood),
    /// Send in-order data, which the application leaves unread, until the target advertises a
    /// zero window (`fill_window: {}`): closes the receive window whatever the buffer's size.
    FillWindow(FillWindow),
    /// A condition the rest of the case rests on (`assume: "rcv.wnd > 0"`): where it does not
    /// hold for this target, the instance is not applicable (a position inside a window the
    /// target keeps closed does not exist).
    Assume(Assumption),
}

/// `fill_window: { max: 16777216 }`: the tester sends data at the target's RCV.NXT, in segments
/// of at most the target's MSS and never beyond its advertised window, waiting for the ACKs of
/// each flight, until an ACK advertises a zero window. `max` bounds the octets sent: a receive
/// buffer larger than that makes the rest of the case not applicable, as does a target that
/// stops taking data while its window is open (its buffers, not its window, ran out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillWindow {
    pub max: u32,
}

impl FillWindow {
    pub const DEFAULT_MAX: u32 = 16 << 20;
}

/// `assume: "<expr> <op> <expr>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assumption {
    pub left: Expr,
    pub op: Comparison,
    pub right: Expr,
    /// As written, for reports.
    pub text: String,
}

/// The comparison of an [`Assumption`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Comparison {
    /// Longest spellings first, so that `<=` is not read as `<`.
    pub const ALL: [(Comparison, &'static str); 6] = [
        (Comparison::Le, "<="),
        (Comparison::Ge, ">="),
        (Comparison::Eq, "=="),
        (Comparison::Ne, "!="),
        (Comparison::Lt, "<"),
        (Comparison::Gt, ">"),
    ];

    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Comparison::Lt => a < b,
            Comparison::Le => a <= b,
            Comparison::Gt => a > b,
            Comparison::Ge => a >= b,
            Comparison::Eq => a == b,
            Comparison::Ne => a != b,
        }
    }
}

/// `isn_sample: { count: 1000, same_tuple: false }`: `count` SYNs to the setup's listening
/// port, each answered SYN-ACK's ISN recorded and the half-open connection reset
/// (`<SEQ=ISS_tester+1><CTL=RST>`, RS-2). The runner then judges the series
/// (`crate::run::stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsnSample {
    pub count: u32,
    /// `false`: each SYN from a new tester port, the ISNs must look unpredictable (MUST-9,
    /// SHLD-1). `true`: every SYN from the same 4-tuple, `gap` apart; the ISNs must increase
    /// with time (MUST-8's clock-driven component).
    pub same_tuple: bool,
    /// Time between two attempts (default 0 for fresh tuples, 10ms for the same tuple).
    pub gap: Duration,
}

/// Where the SYNs of a `syn_flood` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodSources {
    /// Random addresses in 198.51.100.0/24 or 2001:db8:ffff::/48 (documentation ranges), random
    /// ports: nobody answers the target's SYN-ACKs.
    Spoofed,
    /// The tester's own address, one new port per SYN: the target's answers can be matched to
    /// each SYN in order.
    Tester,
}

/// What a target may answer to a SYN of a `syn_flood`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SynReply {
    /// `syn_ack`: a SYN-ACK acknowledging the SYN.
    SynAck,
    /// `rst`: a reset.
    Rst,
    /// `silence`: nothing (the SYN was dropped).
    Silence,
}

impl SynReply {
    pub const ALL: [SynReply; 3] = [SynReply::SynAck, SynReply::Rst, SynReply::Silence];

    pub fn name(self) -> &'static str {
        match self {
            SynReply::SynAck => "syn_ack",
            SynReply::Rst => "rst",
            SynReply::Silence => "silence",
        }
    }
}

/// `syn_flood: { count: 10000, sources: spoofed }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynFlood {
    pub count: u32,
    pub sources: FloodSources,
    /// How long to keep reading the target's answers after the last SYN (default 500ms).
    pub drain: Duration,
    /// The first this many SYNs must each be answered with a SYN-ACK (default 0). Only with
    /// `sources: tester`, where answers can be told apart.
    pub answered_first: u32,
    /// Allowed answers to every other SYN (default `[syn_ack, silence]`: never RST, as a SYN
    /// to a listening port is not an error, RFC 9293 3.10.7.2).
    pub others: Vec<SynReply>,
    /// After the flood, a handshake from the tester's own address and port must get its
    /// SYN-ACK within this long, the tester retransmitting its SYN with RFC 6298 backoff.
    /// The step ends once that SYN-ACK is in; the case goes on with the ACK.
    pub connect_within: Option<Duration>,
}

/// One named variant of a `one_of` step. Its first step is an `expect` or `expect_none`.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub name: String,
    pub loc: Loc,
    pub steps: Vec<Step>,
}

/// A number that may be relative to an ISN (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Relative to the ISN of the field's space (for non-sequence fields: just the number).
    Rel(Expr),
    /// Put on the wire as is.
    Abs(Expr),
}

impl Value {
    pub fn expr(&self) -> &Expr {
        match self {
            Value::Rel(e) | Value::Abs(e) => e,
        }
    }
}

/// TCP header flag bits, as in [`crate::packet::spec::PacketSpec::flags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// Letter per bit, in the order `Display` prints them.
    pub const LETTERS: [(char, u16); 9] = [
        ('S', flags::SYN),
        ('F', flags::FIN),
        ('R', flags::RST),
        ('P', flags::PSH),
        ('A', flags::ACK),
        ('U', flags::URG),
        ('E', flags::ECE),
        ('C', flags::CWR),
        ('N', flags::AE),
    ];

    pub fn has(self, bits: u16) -> bool {
        self.0 & bits == bits
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str(".");
        }
        for (c, bit) in Flags::LETTERS {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Error of [`Flags::from_str`]: the offending character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFlags(pub String);

impl fmt::Display for BadFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadFlags {}

impl FromStr for Flags {
    type Err = BadFlags;
    /// Letters S F R P A U E C N in any order (case-sensitive), or `.` alone for no flag.
    fn from_str(s: &str) -> Result<Flags, BadFlags> {
        let s = s.trim();
        if s == "." {
            return Ok(Flags(0));
        }
        if s.is_empty() {
            return Err(BadFlags(
                "empty flags (use `.` for a segment with no flag)".into(),
            ));
        }
        let mut bits = 0u16;
        for c in s.chars() {
            let bit = Flags::LETTERS
                .iter()
                .find(|(l, _)| *l == c)
                .map(|(_, b)| *b)
                .ok_or_else(|| {
                    BadFlags(format!(
                        "bad flag letter `{c}` in `{s}` (expected letters S F R P A U E C N, or `.` for none)"
                    ))
                })?;
            if bits & bit != 0 {
                return Err(BadFlags(format!("flag `{c}` given twice in `{s}`")));
            }
            bits |= bit;
        }
        Ok(Flags(bits))
    }
}

/// A segment to inject. `None` fields take the runner's defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Send {
    /// Another source or destination address than the instance's (`dst: 224.0.0.1`: a SYN
    /// to a group, which a stack must discard, MUST-57). The segment still goes to the
    /// target, and the instance's ports stay.
    pub src: Option<std::net::IpAddr>,
    pub dst: Option<std::net::IpAddr>,
    pub flags: Flags,
    /// Default: the tester's next sequence number (`rcv.nxt` as the target last acknowledged,
    /// or the tester's own SND.NXT).
    pub seq: Option<Value>,
    /// Default: the target's `snd.nxt` when ACK is set, 0 otherwise.
    pub ack: Option<Value>,
    /// Default: `Defaults::win`. Raw 16-bit field (the runner does not scale it).
    pub win: Option<Expr>,
    /// Urgent pointer (default 0).
    pub urg: Option<Expr>,
    /// The three reserved header bits (default 0).
    pub reserved: u8,
    pub options: Vec<SendOption>,
    pub payload: Vec<u8>,
    /// Override the data offset (in 32-bit words).
    pub doff: Option<u8>,
    pub checksum: ChecksumSpec,
    pub ip: IpFields,
    /// The whole IP packet; every other field is ignored.
    pub raw: Option<Vec<u8>>,
    /// Instead of a segment: an ICMP (IPv4) or ICMPv6 error from the tester quoting the
    /// target's segment; every other field is ignored.
    pub icmp: Option<IcmpSend>,
}

/// `send: { icmp: { type: 3, code: 3, seq: snd.una } }`: an ICMP error message (RFC 792; on an
/// IPv6 instance ICMPv6, RFC 4443, with these numbers taken as ICMPv6's) from the tester's
/// address, quoting the IP header and first 8 octets of a segment the target sent on this
/// connection (target -> tester, its ports) with sequence number `seq` (target space).
#[derive(Debug, Clone, PartialEq)]
pub struct IcmpSend {
    pub icmp_type: u8,
    pub code: u8,
    pub seq: Value,
    /// The next-hop MTU a "fragmentation needed" (ICMP 3/4: the low 16 bits after the checksum,
    /// RFC 1191 4) or "packet too big" (ICMPv6 2: the 32 bits after it, RFC 4443 3.2) reports;
    /// written into that field whatever the type (0 when not given).
    pub mtu: Option<u32>,
}

/// A TCP option to send. Mirrors [`crate::packet::spec::OptionSpec`] with expressions where a
/// value depends on the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOption {
    Eol,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// (left, right) edges, in the target's sequence space.
    Sack(Vec<(Value, Value)>),
    Timestamps {
        val: Expr,
        ecr: Expr,
    },
    /// `{ kind: K, data: "hex" }`: kind, length = 2 + data.len(), data.
    Unknown {
        kind: u8,
        data: Vec<u8>,
    },
    /// `{ raw: "hex" }`: bytes copied verbatim into the option area.
    Raw(Vec<u8>),
    /// `tfo`: a Fast Open option (kind 34, RFC 7413 4.1.1) with no cookie, a cookie request;
    /// `tfo cookie`: one carrying the cookie the target last sent (an error if none yet).
    FastOpen {
        cookie: bool,
    },
}

/// An application call performed on the target, with what it must return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub kind: CallKind,
    /// The call must fail with this error (`error: ECONNRESET`); `None`: it must succeed.
    pub error: Option<CallError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallKind {
    /// Passive OPEN on the setup port (again).
    Listen,
    /// Take the connection from the listener's queue.
    Accept,
    /// Active OPEN to the setup port; `fastopen`: with TCP Fast Open (RFC 7413 4.2.1, Linux's
    /// TCP_FASTOPEN_CONNECT): the SYN asks for a cookie, or waits for the first write to carry
    /// it with the cached cookie.
    Connect { fastopen: bool },
    /// Active OPEN to this address on the setup port (`connect: "224.0.0.1"`): for OPENs the
    /// stack must refuse (MUST-46).
    ConnectTo(std::net::IpAddr),
    /// SEND these bytes (`write: 100` = 100 octets of [`pattern`]).
    Write(Vec<u8>),
    /// RECEIVE up to `max` octets.
    Read {
        max: usize,
        expect: Option<ReadExpect>,
    },
    /// shutdown(2); `Write` is the RFC's CLOSE (send FIN, keep receiving).
    Shutdown(Shutdown),
    /// CLOSE (RFC 9293 3.10.4): shutdown(SHUT_WR) on sockets, receiving goes on.
    Close,
    /// ABORT (RFC 9293 3.10.5): close with SO_LINGER 0 on sockets, i.e. send RST.
    Abort,
    /// The application gives the connection up, reading too (RFC 9293 3.6.1, MAY-1): close(2)
    /// on sockets. RST if data is left unread or arrives later (SHLD-3), else as CLOSE.
    Release,
    /// TCP_NODELAY on (disable Nagle, RFC 9293 3.7.4).
    NoDelay,
    /// Keep-alives on (RFC 9293 3.8.4, MUST-24): the first probe after `idle` without a segment
    /// from the peer, then one per `interval` while unanswered, and the connection dropped after
    /// `count` unanswered probes. Whole seconds (socket options count seconds).
    Keepalive {
        idle: Duration,
        interval: Duration,
        count: u32,
    },
    /// The connection's user timeout, R2 for its data (MUST-21, RFC 9293 3.8.3): whole
    /// milliseconds (TCP_USER_TIMEOUT counts them).
    UserTimeout(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Read,
    Write,
    Both,
}

/// What a `read` call must return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadExpect {
    /// Exactly these bytes.
    Data(Vec<u8>),
    /// End of stream (0 bytes: the peer's FIN was received).
    Eof,
}

/// Errors a call may be expected to fail with (errno names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    ConnReset,
    ConnRefused,
    TimedOut,
    NotConn,
    Pipe,
    WouldBlock,
    /// The call fails; which error is the stack's choice (e.g. an OPEN to a multicast
    /// address: EINVAL, ENETUNREACH, ...).
    Any,
}

impl CallError {
    pub const ALL: [CallError; 7] = [
        CallError::ConnReset,
        CallError::ConnRefused,
        CallError::TimedOut,
        CallError::NotConn,
        CallError::Pipe,
        CallError::WouldBlock,
        CallError::Any,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CallError::ConnReset => "ECONNRESET",
            CallError::ConnRefused => "ECONNREFUSED",
            CallError::TimedOut => "ETIMEDOUT",
            CallError::NotConn => "ENOTCONN",
            CallError::Pipe => "EPIPE",
            CallError::WouldBlock => "EAGAIN",
            CallError::Any => "any",
        }
    }

    pub fn from_name(s: &str) -> Option<CallError> {
        CallError::ALL
            .iter()
            .copied()
            .find(|e| e.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// The known-pattern payload used by `data: N` and `write: N`: octet i is
/// `b'a' + (offset + i) % 26`, so that any slice of it is recognisable in a trace.
pub fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + ((offset + i) % 26) as u8).collect()
}

/// Parses a duration: a decimal number and a unit among `us`, `ms`, `s`, `min`
/// (`200ms`, `1.5s`, `2min`, `500us`). Never panics.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let nanos_per_unit: f64 = match unit {
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "min" => 60e9,
        _ => {
            return Err(format!(
                "bad duration `{s}` (expected a number and a unit: us, ms, s or min, e.g. `200ms`, `1.5s`)"
            ))
        }
    };
    let value: f64 = num.parse().map_err(|_| {
        format!("bad duration `{s}` (expected a number before `{unit}`, e.g. `200ms`)")
    })?;
    let nanos = value * nanos_per_unit;
    // One day is far beyond any TCP timer a case waits for (2MSL is minutes).
    if !nanos.is_finite() || nanos > 86_400e9 {
        return Err(format!("duration `{s}` is out of range (at most one day)"));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// Parses hex bytes, ignoring spaces, `:` and a leading `0x` (`"0a0b"`, `"0a 0b"`, `"0a:0b"`).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let t = s.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    let digits: Vec<u8> = t
        .bytes()
        .filter(|b| !matches!(b, b' ' | b':' | b'\n' | b'\t'))
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!("bad hex `{s}`: odd number of hex digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!("bad hex `{s}`: expected digits 0-9 a-f")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_print() {
        assert_eq!("SA".parse::<Flags>(), Ok(Flags(flags::SYN | flags::ACK)));
        assert_eq!("AS".parse::<Flags>(), Ok(Flags(flags::SYN | flags::ACK)));
        assert_eq!(".".parse::<Flags>(), Ok(Flags(0)));
        assert_eq!(Flags(flags::FIN | flags::ACK).to_string(), "FA");
        assert!("SX"
            .parse::<Flags>()
            .unwrap_err()
            .0
            .contains("bad flag letter `X`"));
        assert!("SS".parse::<Flags>().is_err());
        assert!("".parse::<Flags>().is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("1e400s").is_err());
        assert!(parse_duration("99999999999min").is_err());
        assert!(parse_duration("1.2.3s").is_err());
    }

    #[test]
    fn hex_and_states() {
        assert_eq!(parse_hex("0a 0B:ff"), Ok(vec![0x0a, 0x0b, 0xff]));
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é1").is_err());
        assert_eq!("syn_rcvd".parse::<TcpState>(), Ok(TcpState::SynReceived));
        assert!("OPEN".parse::<TcpState>().is_err());
        assert_eq!(pattern(25, 2), b"za".to_vec());
    }
}
