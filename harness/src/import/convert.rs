//! A packetdrill script's events as case steps, with packetdrill's semantics where the case
//! language has them, and a named reason where it has not.
//!
//! The mapping, event by event:
//!
//! - `socket`, `bind`, `setsockopt(SO_REUSEADDR)`, `fcntl(O_NONBLOCK)`: nothing to do (the
//!   target's application is set up by the case's `setup`); `listen` is `setup: { listen:
//!   8080 }`, `connect` is `setup: { connect: 8080 }` (packetdrill's ports), a script that
//!   sends before either meets a closed port (`setup: { closed: 8080 }`).
//! - `accept`, `write`/`send` (no flags), `read`/`recv` (no flags), `shutdown`,
//!   `setsockopt(TCP_NODELAY)`, the keep-alive options, `close` (an `abort` after
//!   `SO_LINGER {onoff=1, linger=0}`): the case's calls. `close(2)` gives up receiving where
//!   the case's `close` (RFC 9293 CLOSE, `shutdown(SHUT_WR)` on sockets) does not: the two
//!   differ once data is left unread or arrives afterwards, and such a close is unsupported.
//!   (They also differ after `net.ipv4.tcp_fin_timeout` in FIN-WAIT-2, which an orphaned
//!   socket leaves and the case's does not.) `shutdown(SHUT_RD)` changes nothing on the wire
//!   but ends later reads, which the case's `shutdown: read` does not: unsupported when a read
//!   follows.
//! - `< packet`: a `send`, after a `wait` for its time. Payload octets follow the case
//!   language's pattern by stream offset, so that a `read` can check what it returns.
//! - `> packet`: an `expect` of its flags, sequence and acknowledgment numbers, length, window
//!   (when written), options (when written; a timestamp's values are not compared, as
//!   packetdrill does not by default) and IP ECN/TOS/TTL (when written), arriving within
//!   packetdrill's tolerance of its time: max(`--tolerance_usecs`, 4 ms by default, and 12.5%
//!   of the time since the previous event). A segment longer than the MSS the handshake agreed
//!   is expected as the MSS-sized segments the target sends, back to back (packetdrill
//!   reassembles them, unless `--strict_segments`).
//! - A timestamp echo (`TS ecr`) in an inbound segment that acknowledges something echoes the
//!   target's latest TSval (`ts.val`) when the script echoes the latest outbound one.
//! - The init command's sysctls become the case's `sysctls` (the linux target sets them).
//!
//! Fields packetdrill compares against zero by default (the urgent pointer, the reserved bits,
//! the acknowledgment field of a segment without ACK) and the content of outbound payloads are
//! not compared. Everything else is unsupported, by line: a check left out (`getsockopt`,
//! `ioctl`, a Python assertion) makes the case partial; anything that changes the exchange
//! (another socket option, `sendmsg`, a mid-script sysctl) ends the case before that line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use super::script::{Action, Direction, Event, IpInfo, Packet, Script, Syscall, TcpOption, Time};
use super::shell;
use crate::case::model::pattern;

/// packetdrill's ports: it listens on and connects to 8080.
pub const PORT: u16 = 8080;
/// packetdrill's default tolerance (`--tolerance_usecs`).
pub const TOLERANCE_US: i64 = 4000;
/// packetdrill's dynamic tolerance: 12.5% of the time since the previous event.
const TOLERANCE_PERCENT: f64 = 12.5;
/// How long an `expect` of an outbound packet at `*` (any time) waits.
pub const ANY_TIME_WITHIN_US: i64 = 10_000_000;
/// The largest `write` or `read` the case language takes.
const MAX_CALL_BYTES: u64 = 1 << 20;

/// Something of the script no case can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub line: usize,
    /// What it is, for counting across scripts: `getsockopt`, `setsockopt TCP_CORK`.
    pub feature: String,
    pub detail: String,
    /// The case ends before this line (the exchange would change); otherwise only a check is
    /// left out.
    pub stops: bool,
}

/// One step of the case, in YAML flow style, and the script line it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutStep {
    pub line: usize,
    pub yaml: String,
}

#[derive(Debug, Default)]
pub struct Converted {
    pub setup: Option<String>,
    pub ip: Option<u8>,
    pub sysctls: BTreeMap<String, String>,
    pub steps: Vec<OutStep>,
    /// What was taken as changing nothing, by line.
    pub notes: Vec<(usize, String)>,
    pub unsupported: Vec<Unsupported>,
    /// The line the case stops before, if it does.
    pub stopped_at: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fd {
    Fresh,
    Listener,
    Conn,
}

/// Converter state, in the order the script builds it up.
struct Conv<'a> {
    out: Converted,
    dir: &'a Path,
    read: shell::ReadFile<'a>,
    tolerance: i64,
    strict_segments: bool,
    fds: HashMap<String, Fd>,
    linger0: HashSet<String>,
    /// The script time of the previous event; `None` after an event at `*`.
    clock: Option<i64>,
    /// Time that passed at events that made no step, still to wait for.
    pending: i64,
    /// Whether a packet was exchanged yet.
    wire: bool,
    accepted: bool,
    /// The connection was closed with close(2).
    closed: bool,
    /// ... and that close(2) became the case's `release` (data arriving later is its to answer).
    released: bool,
    /// MSS the tester announced (inbound SYN), the target announced (outbound SYN).
    peer_mss: Option<u32>,
    own_mss: Option<u32>,
    ts_in: bool,
    ts_out: bool,
    /// The TS val of the latest outbound packet that had one, as scripted.
    last_out_ts_val: Option<u32>,
    /// Stream offsets: end of the inbound data sent, octets read.
    in_data_end: u64,
    read_off: u64,
    nodelay_pending: Option<usize>,
    keepalive: BTreeMap<&'static str, u64>,
    keepalive_line: usize,
}

/// Converts `script` (whose file is in `dir`; `read` reads the files its commands name).
pub fn convert(script: &Script, dir: &Path, read: shell::ReadFile<'_>) -> Converted {
    let mut c = Conv {
        out: Converted::default(),
        dir,
        read,
        tolerance: TOLERANCE_US,
        strict_segments: false,
        fds: HashMap::new(),
        linger0: HashSet::new(),
        clock: Some(0),
        pending: 0,
        wire: false,
        accepted: false,
        closed: false,
        released: false,
        peer_mss: None,
        own_mss: None,
        ts_in: false,
        ts_out: false,
        last_out_ts_val: None,
        in_data_end: 0,
        read_off: 0,
        nodelay_pending: None,
        keepalive: BTreeMap::new(),
        keepalive_line: 0,
    };
    c.options(script);
    if let Some((line, cmd)) = &script.init {
        c.shell(*line, cmd);
    }
    for (i, e) in script.events.iter().enumerate() {
        if c.out.stopped_at.is_some() {
            if let Some((feature, detail)) = inherently_unsupported(e) {
                c.skip(e.line, &feature, detail);
            }
            continue;
        }
        if let Err((feature, detail)) = c.event(e, &script.events[i + 1..]) {
            c.stop(e.line, &feature, detail);
        }
    }
    if let Some((line, cmd)) = &script.cleanup {
        if cmd.trim().starts_with("/tmp/sysctl_restore_") {
            c.out.notes.push((
                *line,
                "the cleanup command restores sysctls: every case instance starts in a new \
                 namespace"
                    .into(),
            ));
        } else {
            c.skip(*line, "cleanup command", format!("`{}`", cmd.trim()));
        }
    }
    if c.out.stopped_at.is_none() {
        if let Some(line) = c.nodelay_pending {
            c.skip(
                line,
                "setsockopt TCP_NODELAY",
                "on a listener, and nothing accepted".into(),
            );
        }
        if !c.keepalive.is_empty() {
            c.skip(
                c.keepalive_line,
                "keep-alive options",
                "the case's keepalive call needs SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and \
                 TCP_KEEPCNT"
                    .into(),
            );
        }
    }
    c.out
}

type Why = (String, String);

fn why(feature: &str, detail: impl Into<String>) -> Why {
    (feature.to_string(), detail.into())
}

/// What no state of the conversion could make supported, for the lines after a stop.
fn inherently_unsupported(e: &Event) -> Option<Why> {
    match &e.action {
        Action::Code(_) => Some(why("Python assertion", "a %{ }% snippet")),
        Action::Command(cmd) => Some(why("mid-script shell command", format!("`{}`", cmd.trim()))),
        Action::Syscall(s) => match s.name.as_str() {
            "socket" | "bind" | "listen" | "accept" | "accept4" | "connect" | "write" | "read"
            | "close" | "shutdown" | "fcntl" => None,
            "send" | "recv" | "sendto" | "recvfrom" if s.args.get(3).is_some_and(|f| f != "0") => {
                Some(why(&format!("{} flags", s.name), s.args[3].clone()))
            }
            "send" | "recv" | "sendto" | "recvfrom" => None,
            "setsockopt" => {
                let name = s.args.get(2).cloned().unwrap_or_default();
                (!matches!(
                    name.as_str(),
                    "SO_REUSEADDR"
                        | "SO_REUSEPORT"
                        | "TCP_NODELAY"
                        | "SO_LINGER"
                        | "SO_KEEPALIVE"
                        | "TCP_KEEPIDLE"
                        | "TCP_KEEPINTVL"
                        | "TCP_KEEPCNT"
                ))
                .then(|| why(&format!("setsockopt {name}"), ""))
            }
            "getsockopt" => Some(why(
                "getsockopt",
                s.args.get(2).cloned().unwrap_or_default(),
            )),
            other => Some(why(other, "")),
        },
        Action::Packet(p) => packet_unsupported(p),
    }
}

fn packet_unsupported(p: &Packet) -> Option<Why> {
    if let Some(o) = &p.other {
        return Some(why("packet fields", o.clone()));
    }
    for o in p.options.iter().flatten() {
        if let TcpOption::Other(name) = o {
            let feature = match name.split_whitespace().next().unwrap_or_default() {
                "FO" | "FOEXP" => "TCP Fast Open option",
                "md5" => "TCP MD5 option",
                "ECN" => "AccECN option",
                _ => "TCP option",
            };
            return Some(why(feature, name.clone()));
        }
    }
    if p.direction == Direction::Outbound && p.ip.flow_label.is_some() {
        return Some(why("IPv6 flow label check", ""));
    }
    if p.direction == Direction::Inbound && p.ip.ect01 {
        return Some(why("packet fields", "ect01 on an inbound packet"));
    }
    None
}

/// `1500us`, `100ms`, `2s`.
pub fn duration(us: i64) -> String {
    if us % 1_000_000 == 0 && us != 0 {
        format!("{}s", us / 1_000_000)
    } else if us % 1000 == 0 {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

/// A YAML double-quoted string.
pub fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// packetdrill flags to the case language's letters: `.` is ACK, `W` CWR, `A` AE, `-` none.
fn flags(p: &str) -> String {
    let mut out = String::new();
    for ch in ['S', 'F', 'R', 'P', '.', 'U', 'E', 'W', 'A'] {
        if p.contains(ch) {
            out.push(match ch {
                '.' => 'A',
                'W' => 'C',
                'A' => 'N',
                c => c,
            });
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

impl Conv<'_> {
    fn stop(&mut self, line: usize, feature: &str, detail: String) {
        self.out.unsupported.push(Unsupported {
            line,
            feature: feature.into(),
            detail,
            stops: true,
        });
        self.out.stopped_at = Some(line);
    }

    fn skip(&mut self, line: usize, feature: &str, detail: String) {
        self.out.unsupported.push(Unsupported {
            line,
            feature: feature.into(),
            detail,
            stops: false,
        });
    }

    fn note(&mut self, line: usize, text: impl Into<String>) {
        self.out.notes.push((line, text.into()));
    }

    fn step(&mut self, line: usize, yaml: String) {
        self.out.steps.push(OutStep { line, yaml });
    }

    fn options(&mut self, script: &Script) {
        for (line, name, value) in &script.options {
            match name.as_str() {
                "tolerance_usecs" => match value.parse::<i64>() {
                    Ok(v) if v >= 0 => self.tolerance = v,
                    _ => self.stop(*line, "option --tolerance_usecs", value.clone()),
                },
                "strict_segments" => self.strict_segments = true,
                "ip_version" => match value.as_str() {
                    "ipv4" => self.out.ip = Some(4),
                    "ipv6" => self.out.ip = Some(6),
                    other => self.stop(*line, "option --ip_version", other.into()),
                },
                // Outbound TS val checks within a tolerance: no case can relate a TSval to
                // the time it was sent.
                "tcp_ts_tick_usecs" => {
                    self.skip(*line, "option --tcp_ts_tick_usecs", "TS val checks".into())
                }
                other => self.stop(*line, &format!("option --{other}"), value.clone()),
            }
        }
    }

    fn shell(&mut self, line: usize, cmd: &str) {
        let mut effect = shell::Effect::default();
        shell::interpret(cmd, self.dir, self.read, &mut effect);
        self.out.sysctls.extend(effect.sysctls);
        for n in effect.notes {
            self.note(line, n);
        }
        if let Some((feature, detail)) = effect.unsupported.into_iter().next() {
            self.stop(line, &feature, format!("`{detail}`"));
        }
    }

    /// The time of `e` as (earliest, latest) microseconds after the previous event, `None` at
    /// `*`; moves the clock.
    fn timing(&mut self, e: &Event) -> Result<Option<(i64, i64)>, Why> {
        let since = |t: i64, clock: Option<i64>| -> Result<i64, Why> {
            let Some(c) = clock else {
                return Err(why(
                    "absolute time after `*`",
                    "the time of `*` is not known",
                ));
            };
            if t < c {
                return Err(why("time going backwards", format!("{t}us before {c}us")));
            }
            Ok(t - c)
        };
        let (lo, hi) = match e.time {
            Time::Any => {
                self.clock = None;
                return Ok(None);
            }
            Time::Relative(d) => (d, d),
            Time::RelativeRange(a, b) => (a, b),
            Time::Absolute(t) => {
                let d = since(t, self.clock)?;
                (d, d)
            }
            Time::AbsoluteRange(a, b) => (since(a, self.clock)?, since(b, self.clock)?),
        };
        if hi < lo {
            return Err(why("time range", "the range ends before it starts"));
        }
        self.clock = self.clock.map(|c| c + lo);
        Ok(Some((lo, hi)))
    }

    /// An event that makes no step: its time is waited for with the next step.
    fn idle(&mut self, e: &Event) -> Result<(), Why> {
        if let Some((lo, _)) = self.timing(e)? {
            self.pending += lo;
        }
        Ok(())
    }

    /// A `wait` for an inbound packet or a call at `e`'s time.
    fn wait_for(&mut self, e: &Event) -> Result<(), Why> {
        match self.timing(e)? {
            Some((lo, hi)) if lo == hi => {
                let total = std::mem::take(&mut self.pending) + lo;
                if total > 0 {
                    self.step(e.line, format!("wait: {}", duration(total)));
                }
                Ok(())
            }
            _ => Err(why(
                "time range on an inbound event",
                "only outbound packets may have `*` or a range",
            )),
        }
    }

    fn event(&mut self, e: &Event, rest: &[Event]) -> Result<(), Why> {
        match &e.action {
            Action::Code(_) => {
                self.idle(e)?;
                self.skip(e.line, "Python assertion", "a %{ }% snippet".into());
                Ok(())
            }
            Action::Command(cmd) => {
                self.idle(e)?;
                if !self.wire && self.out.setup.is_none() {
                    self.shell(e.line, cmd);
                    Ok(())
                } else if cmd.trim().starts_with("/tmp/sysctl_restore_") {
                    self.note(
                        e.line,
                        "restoring sysctls: every case instance starts in a new namespace",
                    );
                    Ok(())
                } else {
                    Err(why("mid-script shell command", format!("`{}`", cmd.trim())))
                }
            }
            Action::Syscall(s) => self.syscall(e, s, rest),
            Action::Packet(p) => {
                if let Some(w) = packet_unsupported(p) {
                    return Err(w);
                }
                match p.direction {
                    Direction::Inbound => self.inbound(e, p),
                    Direction::Outbound => self.outbound(e, p),
                }
            }
        }
    }

    fn fd(&self, s: &Syscall) -> Option<(String, Fd)> {
        let fd = s.args.first()?.clone();
        let kind = *self.fds.get(&fd)?;
        Some((fd, kind))
    }

    fn ok_result(s: &Syscall) -> Result<(), Why> {
        if s.result == "0" && s.errno.is_none() {
            Ok(())
        } else {
            Err(why(
                &format!("{} result", s.name),
                format!("{}() = {}", s.name, s.result),
            ))
        }
    }

    fn anchor_setup(&mut self, setup: String) -> Result<(), Why> {
        if self.wire || self.out.setup.is_some() {
            return Err(why(
                "setup after the exchange began",
                format!("{setup} after a packet or another setup"),
            ));
        }
        self.out.setup = Some(setup);
        // The case starts with its setup: time before it does not count.
        self.pending = 0;
        Ok(())
    }

    fn syscall(&mut self, e: &Event, s: &Syscall, rest: &[Event]) -> Result<(), Why> {
        if s.blocks_until.is_some() && s.name != "connect" {
            return Err(why(
                "blocking call",
                format!("{}() until a later time", s.name),
            ));
        }
        let arg = |i: usize| s.args.get(i).map(String::as_str).unwrap_or_default();
        match s.name.as_str() {
            "socket" => {
                self.idle(e)?;
                if arg(1) != "SOCK_STREAM" {
                    return Err(why("socket type", arg(1).to_string()));
                }
                if self.fds.values().any(|f| *f != Fd::Fresh) && self.accepted {
                    return Err(why("second connection", "another socket".to_string()));
                }
                self.fds.insert(s.result.clone(), Fd::Fresh);
                Ok(())
            }
            "bind" => {
                self.idle(e)?;
                Self::ok_result(s)?;
                self.note(
                    e.line,
                    "bind: the target's port is the case's setup port (8080)",
                );
                Ok(())
            }
            "fcntl" => {
                self.idle(e)?;
                if arg(1) == "F_SETFL" {
                    // packetdrill's calls return at their time unless written as blocking
                    // (`...`), which is unsupported: blocking or not, no call here waits.
                    Self::ok_result(s)?;
                    self.note(e.line, format!("{}: the case's calls do not block", arg(2)));
                    Ok(())
                } else if arg(1) == "F_GETFL" {
                    self.skip(e.line, "fcntl F_GETFL", String::new());
                    Ok(())
                } else {
                    Err(why("fcntl", format!("{} {}", arg(1), arg(2))))
                }
            }
            "listen" => {
                self.idle(e)?;
                Self::ok_result(s)?;
                let Some((fd, Fd::Fresh)) = self.fd(s) else {
                    return Err(why(
                        "listen",
                        "on a socket the script did not create".to_string(),
                    ));
                };
                self.anchor_setup(format!("{{ listen: {PORT} }}"))?;
                self.fds.insert(fd, Fd::Listener);
                Ok(())
            }
            "connect" => {
                self.idle(e)?;
                let Some((fd, Fd::Fresh)) = self.fd(s) else {
                    return Err(why(
                        "connect",
                        "on a socket the script did not create".to_string(),
                    ));
                };
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("-1", Some("EINPROGRESS")) => {}
                    ("0", None) => self.note(
                        e.line,
                        "connect() returns once the handshake completes: the target's ACK of \
                         the SYN-ACK shows it",
                    ),
                    _ => return Err(why("connect result", format!("= {}", s.result))),
                }
                self.anchor_setup(format!("{{ connect: {PORT} }}"))?;
                self.fds.insert(fd, Fd::Conn);
                if let Some(line) = self.nodelay_pending.take() {
                    self.step(line, "call: nodelay".into());
                }
                Ok(())
            }
            "accept" | "accept4" => {
                self.wait_for(e)?;
                if !matches!(self.fd(s), Some((_, Fd::Listener))) {
                    return Err(why("accept", "not on the listener".to_string()));
                }
                if self.accepted {
                    return Err(why("second connection", "a second accept".to_string()));
                }
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("-1", Some("EAGAIN" | "EWOULDBLOCK")) => {
                        self.step(e.line, "call: { accept: ~, error: EAGAIN }".into());
                    }
                    (r, None) if r.parse::<u32>().is_ok() => {
                        self.step(e.line, "call: accept".into());
                        self.fds.insert(r.to_string(), Fd::Conn);
                        self.accepted = true;
                        if let Some(line) = self.nodelay_pending.take() {
                            self.note(
                                line,
                                "TCP_NODELAY on the listener: set on the accepted connection",
                            );
                            self.step(line, "call: nodelay".into());
                        }
                    }
                    _ => return Err(why("accept result", format!("= {}", s.result))),
                }
                Ok(())
            }
            "setsockopt" => self.setsockopt(e, s),
            "getsockopt" => {
                self.idle(e)?;
                self.skip(e.line, "getsockopt", arg(2).to_string());
                Ok(())
            }
            "write" | "send" | "sendto" => {
                if s.name != "write" && arg(3) != "0" {
                    return Err(why(&format!("{} flags", s.name), arg(3).to_string()));
                }
                if s.name == "sendto" && !matches!(arg(4), "..." | "NULL") {
                    return Err(why("sendto address", arg(4).to_string()));
                }
                self.conn_call(s)?;
                let n: u64 = arg(2)
                    .parse()
                    .map_err(|_| why("write length", arg(2).to_string()))?;
                if n == 0 || n > MAX_CALL_BYTES {
                    return Err(why("write length", format!("{n} octets")));
                }
                self.wait_for(e)?;
                match (s.result.as_str(), s.errno.as_deref()) {
                    (r, None) if r == n.to_string() => {
                        self.step(e.line, format!("call: {{ write: {n} }}"));
                    }
                    ("-1", Some(err)) => {
                        let err = errno(err).ok_or_else(|| why("write error", err.to_string()))?;
                        self.step(e.line, format!("call: {{ write: {n}, error: {err} }}"));
                    }
                    (r, _) => return Err(why("partial write", format!("{n} octets, {r} written"))),
                }
                Ok(())
            }
            "read" | "recv" | "recvfrom" => {
                if s.name != "read" && arg(3) != "0" {
                    return Err(why(&format!("{} flags", s.name), arg(3).to_string()));
                }
                self.conn_call(s)?;
                if self.closed {
                    return Err(why("read after close", String::new()));
                }
                let n: u64 = arg(2)
                    .parse()
                    .map_err(|_| why("read length", arg(2).to_string()))?;
                if n == 0 || n > MAX_CALL_BYTES {
                    return Err(why("read length", format!("{n} octets")));
                }
                self.wait_for(e)?;
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("0", None) => self.step(e.line, format!("call: {{ read: {n}, expect: eof }}")),
                    (r, None) => {
                        let m: u64 = r.parse().map_err(|_| why("read result", r.to_string()))?;
                        if m > n {
                            return Err(why("read result", format!("{m} of {n}")));
                        }
                        let expect = if self.read_off % 26 == 0 {
                            m.to_string()
                        } else {
                            quoted(&String::from_utf8_lossy(&pattern(
                                self.read_off as usize,
                                m as usize,
                            )))
                        };
                        self.read_off += m;
                        self.step(e.line, format!("call: {{ read: {n}, expect: {expect} }}"));
                    }
                    ("-1", Some(err)) => {
                        let err = errno(err).ok_or_else(|| why("read error", err.to_string()))?;
                        self.step(e.line, format!("call: {{ read: {n}, error: {err} }}"));
                    }
                    (r, _) => return Err(why("read result", r.to_string())),
                }
                Ok(())
            }
            "shutdown" => {
                self.conn_call(s)?;
                let how = match arg(1) {
                    "SHUT_WR" => "write",
                    "SHUT_RD" => "read",
                    "SHUT_RDWR" => "both",
                    other => return Err(why("shutdown", other.to_string())),
                };
                // SHUT_RD changes nothing on the wire, but makes later reads return end of
                // stream; the case's `shutdown: read` (and `both`) leave reads as they were.
                let read_later = rest.iter().any(|r| {
                    matches!(&r.action, Action::Syscall(c) if matches!(c.name.as_str(), "read" | "recv" | "recvfrom" | "recvmsg"))
                });
                if how != "write" && read_later {
                    return Err(why(
                        "read after shutdown(SHUT_RD)",
                        format!("{}: the case's shutdown does not end later reads", arg(1)),
                    ));
                }
                self.wait_for(e)?;
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("0", None) => self.step(e.line, format!("call: {{ shutdown: {how} }}")),
                    ("-1", Some(err)) => {
                        let err =
                            errno(err).ok_or_else(|| why("shutdown error", err.to_string()))?;
                        self.step(e.line, format!("call: {{ shutdown: {how}, error: {err} }}"));
                    }
                    (r, _) => return Err(why("shutdown result", r.to_string())),
                }
                Ok(())
            }
            "close" => self.close(e, s, rest),
            "ioctl" | "poll" | "epoll_create" | "epoll_create1" | "epoll_ctl" | "epoll_wait" => {
                // Queries: what they report is not checked, the exchange goes on.
                self.idle(e)?;
                let feature = if s.name == "ioctl" {
                    format!("ioctl {}", arg(1))
                } else {
                    s.name.clone()
                };
                self.skip(e.line, &feature, String::new());
                Ok(())
            }
            other => Err(why(other, String::new())),
        }
    }

    /// The call is on the connection.
    fn conn_call(&self, s: &Syscall) -> Result<(), Why> {
        match self.fd(s) {
            Some((_, Fd::Conn)) => Ok(()),
            _ => Err(why(
                &format!("{} on another socket", s.name),
                "not on the connection".to_string(),
            )),
        }
    }

    fn setsockopt(&mut self, e: &Event, s: &Syscall) -> Result<(), Why> {
        let arg = |i: usize| s.args.get(i).map(String::as_str).unwrap_or_default();
        let name = arg(2);
        let int = || {
            arg(3)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<u64>()
                .ok()
        };
        let Some((fd, kind)) = self.fd(s) else {
            return Err(why(
                "setsockopt",
                "on a socket the script did not create".to_string(),
            ));
        };
        match name {
            "SO_REUSEADDR" | "SO_REUSEPORT" if int() == Some(1) => {
                self.idle(e)?;
                Self::ok_result(s)?;
                self.note(
                    e.line,
                    format!("{name}: every case instance has a fresh target"),
                );
                Ok(())
            }
            "TCP_NODELAY" if int() == Some(1) => {
                Self::ok_result(s)?;
                match kind {
                    Fd::Conn => {
                        self.wait_for(e)?;
                        self.step(e.line, "call: nodelay".into());
                    }
                    Fd::Listener | Fd::Fresh => {
                        self.idle(e)?;
                        self.nodelay_pending = Some(e.line);
                    }
                }
                Ok(())
            }
            "SO_LINGER" if arg(3) == "{onoff=1,linger=0}" => {
                self.idle(e)?;
                Self::ok_result(s)?;
                self.linger0.insert(fd);
                self.note(e.line, "SO_LINGER 0: close() becomes the case's abort");
                Ok(())
            }
            "SO_KEEPALIVE" | "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT" => {
                Self::ok_result(s)?;
                let key = match name {
                    "SO_KEEPALIVE" => "on",
                    "TCP_KEEPIDLE" => "idle",
                    "TCP_KEEPINTVL" => "interval",
                    _ => "count",
                };
                let v =
                    int().ok_or_else(|| why(&format!("setsockopt {name}"), arg(3).to_string()))?;
                if key == "on" && v != 1 {
                    return Err(why("setsockopt SO_KEEPALIVE", "off".to_string()));
                }
                if kind != Fd::Conn {
                    return Err(why(
                        &format!("setsockopt {name}"),
                        "not on the connection".to_string(),
                    ));
                }
                self.wait_for(e)?;
                self.keepalive.insert(key, v);
                self.keepalive_line = e.line;
                if self.keepalive.len() == 4 {
                    let k = std::mem::take(&mut self.keepalive);
                    self.step(
                        e.line,
                        format!(
                            "call: {{ keepalive: {{ idle: {}s, interval: {}s, count: {} }} }}",
                            k["idle"], k["interval"], k["count"]
                        ),
                    );
                }
                Ok(())
            }
            other => Err(why(&format!("setsockopt {other}"), arg(3).to_string())),
        }
    }

    fn close(&mut self, e: &Event, s: &Syscall, rest: &[Event]) -> Result<(), Why> {
        Self::ok_result(s)?;
        let Some((fd, kind)) = self.fd(s) else {
            return Err(why(
                "close",
                "a socket the script did not create".to_string(),
            ));
        };
        match kind {
            Fd::Fresh => {
                self.idle(e)?;
                self.fds.remove(&fd);
                self.note(e.line, "closing a socket that never connected");
                Ok(())
            }
            Fd::Listener => {
                // Closing the listener only matters to connections not accepted yet and to
                // SYNs still to come.
                let syn_later = rest.iter().any(|r| {
                    matches!(&r.action, Action::Packet(p)
                        if p.direction == Direction::Inbound && p.flags.contains('S') && !p.flags.contains('.'))
                });
                if self.accepted && !syn_later {
                    self.idle(e)?;
                    self.note(
                        e.line,
                        "closing the listener after its connection was accepted: no SYN follows",
                    );
                    Ok(())
                } else {
                    Err(why(
                        "close of the listener",
                        "with connections or SYNs to come".to_string(),
                    ))
                }
            }
            Fd::Conn => {
                if self.linger0.contains(&fd) {
                    self.wait_for(e)?;
                    self.step(e.line, "call: abort".into());
                    self.closed = true;
                    return Ok(());
                }
                // close(2) also gives up receiving: unread data makes it send a RST, and data
                // arriving later draws one (RFC 1122 4.2.2.13); the case's close keeps
                // receiving, its release does not. They agree when neither happens.
                let data_later = rest.iter().any(|r| {
                    matches!(&r.action, Action::Packet(p)
                        if p.direction == Direction::Inbound && p.len > 0)
                });
                let release = self.in_data_end > self.read_off || data_later;
                self.wait_for(e)?;
                let call = if release { "release" } else { "close" };
                self.step(e.line, format!("call: {call}"));
                self.closed = true;
                self.released = release;
                Ok(())
            }
        }
    }

    fn inbound(&mut self, e: &Event, p: &Packet) -> Result<(), Why> {
        if self.out.setup.is_none() {
            if self.fds.values().any(|f| *f != Fd::Fresh) {
                return Err(why("inbound packet", "before any setup".to_string()));
            }
            self.out.setup = Some(format!("{{ closed: {PORT} }}"));
        }
        self.wire = true;
        let syn = p.flags.contains('S');
        let ack = p.flags.contains('.');
        let mut fields = vec![
            format!("flags: {}", flags(&p.flags)),
            format!("seq: {}", p.start),
        ];
        if ack {
            fields.push(format!("ack: {}", p.ack.unwrap_or(0)));
        } else if p.ack.is_some_and(|a| a != 0) {
            return Err(why(
                "packet fields",
                "an acknowledgment number without ACK".to_string(),
            ));
        }
        if let Some(w) = p.win {
            fields.push(format!("win: {w}"));
        }
        if let Some(u) = p.urg.filter(|u| *u != 0) {
            fields.push(format!("urg: {u}"));
        }
        ip_send(&p.ip, &mut fields);
        if let Some(opts) = &p.options {
            let mut list = Vec::new();
            for o in opts {
                list.push(match o {
                    TcpOption::Nop => "nop".to_string(),
                    TcpOption::Eol => "eol".to_string(),
                    TcpOption::Mss(m) => {
                        if syn {
                            self.peer_mss = Some(*m);
                        }
                        format!("mss {m}")
                    }
                    TcpOption::WindowScale(w) => format!("wscale {w}"),
                    TcpOption::SackPermitted => "sackOK".to_string(),
                    TcpOption::Sack(blocks) => format!(
                        "sack {}",
                        blocks
                            .iter()
                            .map(|(l, r)| format!("{l}:{r}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    TcpOption::Timestamp { val, ecr } => {
                        if syn {
                            self.ts_in = true;
                        }
                        // packetdrill maps an echo to the live TSval of the outbound packet
                        // the script gave that value; only the latest one is known here.
                        let ecr = if !ack || *ecr == 0 && self.last_out_ts_val != Some(0) {
                            ecr.to_string()
                        } else if self.last_out_ts_val == Some(*ecr) {
                            "ts.val".to_string()
                        } else {
                            return Err(why(
                                "TS echo of an earlier segment",
                                format!("ecr {ecr} is not the latest outbound TS val"),
                            ));
                        };
                        format!("ts {val} {ecr}")
                    }
                    TcpOption::Other(o) => return Err(why("TCP option", o.clone())),
                });
            }
            if !list.is_empty() {
                fields.push(format!("options: [{}]", list.join(", ")));
            }
        } else {
            return Err(why(
                "packet fields",
                "`<...>` on an inbound packet".to_string(),
            ));
        }
        if p.len > 0 {
            // The stream offset of the first octet: the SYN takes sequence number 0.
            let first = u64::from(p.start) + u64::from(syn);
            let offset = first.saturating_sub(1);
            if u64::from(p.len) > MAX_CALL_BYTES {
                return Err(why("payload", format!("{} octets", p.len)));
            }
            if offset % 26 == 0 {
                fields.push(format!("data: {}", p.len));
            } else {
                fields.push(format!(
                    "data: {}",
                    quoted(&String::from_utf8_lossy(&pattern(
                        offset as usize,
                        p.len as usize
                    )))
                ));
            }
            if self.closed && !self.released {
                return Err(why("close(2) before data arrives", String::new()));
            }
            self.in_data_end = self.in_data_end.max(offset + u64::from(p.len));
        }
        self.wait_for(e)?;
        self.step(e.line, format!("send: {{ {} }}", fields.join(", ")));
        Ok(())
    }

    /// The segment size the target sends with: the MSS the handshake agreed, less the
    /// timestamp option when both sides use it (RFC 7323 3.2 puts it in every segment).
    fn segment_size(&self) -> u32 {
        let cap = self
            .own_mss
            .unwrap_or(if self.out.ip == Some(6) { 1440 } else { 1460 });
        let mss = self.peer_mss.unwrap_or(536).min(cap);
        mss.saturating_sub(if self.ts_in && self.ts_out { 12 } else { 0 })
    }

    fn outbound(&mut self, e: &Event, p: &Packet) -> Result<(), Why> {
        if self.out.setup.is_none() {
            return Err(why("outbound packet", "before any setup".to_string()));
        }
        if u64::from(p.len) > MAX_CALL_BYTES {
            return Err(why("payload", format!("{} octets", p.len)));
        }
        self.wire = true;
        let syn = p.flags.contains('S');
        let mut opts_yaml = None;
        if let Some(opts) = &p.options {
            let mut list = Vec::new();
            for o in opts {
                list.push(match o {
                    TcpOption::Nop => "nop".to_string(),
                    TcpOption::Eol => "eol".to_string(),
                    TcpOption::Mss(m) => {
                        if syn {
                            self.own_mss = Some(*m);
                        }
                        format!("mss {m}")
                    }
                    TcpOption::WindowScale(w) => format!("wscale {w}"),
                    TcpOption::SackPermitted => "sackOK".to_string(),
                    TcpOption::Sack(blocks) => format!(
                        "sack {}",
                        blocks
                            .iter()
                            .map(|(l, r)| format!("{l}:{r}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    TcpOption::Timestamp { val, .. } => {
                        if syn {
                            self.ts_out = true;
                        }
                        self.last_out_ts_val = Some(*val);
                        // Neither value is compared by default (`--tcp_ts_tick_usecs=0`).
                        "\"ts * *\"".to_string()
                    }
                    TcpOption::Other(o) => return Err(why("TCP option", o.clone())),
                });
            }
            opts_yaml = Some(format!("options: [{}]", list.join(", ")));
        } else if syn {
            // `<...>` on the target's SYN: its options are unknown, as are timestamps.
            self.ts_out = false;
        }
        let timing = self.timing(e)?;
        let tolerance = |gap: i64| {
            let dynamic = (TOLERANCE_PERCENT / 100.0 * gap as f64) as i64;
            self.tolerance.max(dynamic)
        };
        let waited = std::mem::take(&mut self.pending);
        let (after, within) = match timing {
            None => (0, waited + ANY_TIME_WITHIN_US),
            Some((lo, hi)) => {
                let tol = tolerance(lo);
                ((waited + lo - tol).max(0), waited + hi + tol)
            }
        };
        let size = self.segment_size();
        let pieces: Vec<(u32, u32)> = if p.len > size && size > 0 && !self.strict_segments {
            let mut v = Vec::new();
            let mut off = 0;
            while off < p.len {
                let n = size.min(p.len - off);
                v.push((p.start.wrapping_add(off), n));
                off += n;
            }
            v
        } else {
            vec![(p.start, p.len)]
        };
        let letters = flags(&p.flags);
        let n = pieces.len();
        for (i, (seq, len)) in pieces.into_iter().enumerate() {
            let last = i + 1 == n;
            let mut fields = Vec::new();
            // The reassembled segment has the last piece's flags and the first one's CWR;
            // pieces before the last may carry PSH and FIN or not (packetdrill's
            // verify_packet_fragments).
            let flags_yaml = if n == 1 {
                letters.clone()
            } else {
                let free: &[char] = match (i == 0, last) {
                    (true, _) => &['P', 'F'],
                    (false, true) => &['C'],
                    (false, false) => &['P', 'F', 'C'],
                };
                let has: String = letters.chars().filter(|c| !free.contains(c)).collect();
                let not: Vec<String> = ['S', 'F', 'R', 'P', 'A', 'U', 'E', 'C', 'N']
                    .iter()
                    .filter(|c| !letters.contains(**c) && !free.contains(c))
                    .map(|c| c.to_string())
                    .collect();
                let has = if has.is_empty() { ".".to_string() } else { has };
                format!("{{ has: {has}, not: [{}] }}", not.join(", "))
            };
            fields.push(format!("flags: {flags_yaml}"));
            fields.push(format!("seq: {seq}"));
            if p.flags.contains('.') {
                fields.push(format!("ack: {}", p.ack.unwrap_or(0)));
            }
            fields.push(format!("len: {len}"));
            if let Some(w) = p.win {
                fields.push(format!("win: {w}"));
            }
            if let Some(u) = p.urg.filter(|u| *u != 0) {
                fields.push(format!("urg: {u}"));
            }
            ip_expect(&p.ip, &mut fields);
            if last {
                if let Some(o) = &opts_yaml {
                    fields.push(o.clone());
                }
            }
            if i == 0 {
                if after > 0 {
                    fields.push(format!("after: {}", duration(after)));
                }
                fields.push(format!("within: {}", duration(within.max(1))));
            } else {
                // Back to back after the first piece.
                fields.push(format!("within: {}", duration(self.tolerance.max(1))));
            }
            self.step(e.line, format!("expect: {{ {} }}", fields.join(", ")));
        }
        if n > 1 {
            self.note(
                e.line,
                format!(
                    "{} octets expected as {n} segments of at most {size}",
                    p.len
                ),
            );
        }
        Ok(())
    }
}

fn ip_send(ip: &IpInfo, fields: &mut Vec<String>) {
    if let Some(tos) = ip.tos {
        fields.push(format!("tos: {tos}"));
    } else if let Some(ecn) = ip.ecn {
        fields.push(format!("tos: {ecn}"));
    }
    if let Some(ttl) = ip.ttl {
        fields.push(format!("ttl: {ttl}"));
    }
    if let Some(fl) = ip.flow_label {
        fields.push(format!("flow_label: {fl}"));
    }
}

fn ip_expect(ip: &IpInfo, fields: &mut Vec<String>) {
    if let Some(tos) = ip.tos {
        fields.push(format!("tos: {tos}"));
    }
    if let Some(ecn) = ip.ecn {
        fields.push(format!("ecn: {ecn}"));
    } else if ip.ect01 {
        fields.push("ecn: \"1..=2\"".into());
    }
    if let Some(ttl) = ip.ttl {
        fields.push(format!("ttl: {ttl}"));
    }
}

/// The case language's name for an errno packetdrill expects.
fn errno(name: &str) -> Option<&'static str> {
    Some(match name {
        "ECONNRESET" => "ECONNRESET",
        "ECONNREFUSED" => "ECONNREFUSED",
        "ETIMEDOUT" => "ETIMEDOUT",
        "ENOTCONN" => "ENOTCONN",
        "EPIPE" => "EPIPE",
        "EAGAIN" | "EWOULDBLOCK" => "EAGAIN",
        _ => return None,
    })
}
