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

mod packets;
mod syscalls;

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
}
