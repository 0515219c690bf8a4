//! What a case needs of its target, so that a target that cannot give it skips the case with
//! the reason instead of failing it: most of it derived from the steps (which application
//! calls, a closed port, data or a FIN sent to the application, the largest packet), the rest
//! declared in the case file (`needs: [unread]`).

use super::model::{CallKind, Case, Send, SendOption, Setup, Step, StepKind};
use crate::ip::IpVersion;
use crate::tcp::flags;
use core::fmt;

/// A need a case declares (`needs:`), for what its steps cannot show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Need {
    /// `unread`: the application reads nothing the case does not read itself, so the target's
    /// receive buffer fills and its window shrinks.
    Unread,
    /// The target offers this option in its SYN or SYN-ACK (RFC 7323, RFC 2018, RFC 3168):
    /// the case checks behaviour that exists only once it is negotiated.
    Offers(Feature),
}

/// Optional TCP features a target may or may not offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// RFC 7323 timestamps.
    Timestamps,
    /// RFC 7323 window scaling.
    WindowScale,
    /// RFC 2018 SACK-permitted.
    Sack,
    /// RFC 3168 ECN (an ECN-setup SYN-ACK).
    Ecn,
    /// RFC 7413 Fast Open, server side: the SYN-ACK to a cookie request carries a cookie.
    FastOpen,
    /// RFC 7413 Fast Open, client side: the SYN of an active OPEN that asked for Fast Open
    /// carries the option (a cookie request, or a cookie).
    FastOpenClient,
}

impl Feature {
    pub const ALL: [Feature; 6] = [
        Feature::Timestamps,
        Feature::WindowScale,
        Feature::Sack,
        Feature::Ecn,
        Feature::FastOpen,
        Feature::FastOpenClient,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Timestamps => "timestamps",
            Feature::WindowScale => "window-scale",
            Feature::Sack => "sack",
            Feature::Ecn => "ecn",
            Feature::FastOpen => "fastopen",
            Feature::FastOpenClient => "fastopen-client",
        }
    }
}

impl Need {
    /// Every word `needs:` accepts.
    pub fn all() -> Vec<Need> {
        let mut v = vec![Need::Unread];
        v.extend(Feature::ALL.iter().map(|f| Need::Offers(*f)));
        v
    }

    pub fn name(self) -> &'static str {
        match self {
            Need::Unread => "unread",
            Need::Offers(f) => f.name(),
        }
    }

    pub fn parse(s: &str) -> Option<Need> {
        Need::all().into_iter().find(|n| n.name() == s.trim())
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a case instance needs of its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// Application calls beyond the passive OPEN of the setup and a plain `accept` (which an
    /// application the harness does not control makes by itself), by name, first use first.
    pub calls: Vec<&'static str>,
    /// The target opens the connection (`setup: connect`).
    pub active_open: bool,
    /// The case starts on a port where nothing listens (`setup: closed`).
    pub closed_port: bool,
    /// The case starts on a listening port (`setup: listen`).
    pub listening_port: bool,
    /// The tester sends data, which an application may read and answer.
    pub sends_data: bool,
    /// The tester sends a FIN, after which an application may close its side.
    pub sends_fin: bool,
    /// Declared in the case file.
    pub declared: Vec<Need>,
    /// The largest IP packet the case sends on this IP version, in octets.
    pub largest_packet: usize,
    /// A `syn_flood`: thousands of SYNs; on a stack that outlives instances, run it alone.
    pub flood: bool,
}

impl Needs {
    /// What `case` needs on `ip`.
    pub fn of(case: &Case, ip: IpVersion) -> Needs {
        let mut n = Needs {
            calls: Vec::new(),
            active_open: matches!(case.setup, Setup::Connect { .. }),
            closed_port: matches!(case.setup, Setup::Closed { .. }),
            listening_port: matches!(case.setup, Setup::Listen { .. }),
            sends_data: false,
            sends_fin: false,
            declared: case.needs.clone(),
            largest_packet: 0,
            flood: false,
        };
        n.walk(&case.steps, ip);
        n
    }

    fn call(&mut self, name: &'static str) {
        if !self.calls.contains(&name) {
            self.calls.push(name);
        }
    }

    fn walk(&mut self, steps: &[Step], ip: IpVersion) {
        for step in steps {
            match &step.kind {
                StepKind::Send(s) => {
                    if s.icmp.is_none() && s.raw.is_none() {
                        self.sends_data |= !s.payload.is_empty();
                        self.sends_fin |= s.flags.has(flags::FIN);
                    }
                    self.largest_packet = self.largest_packet.max(packet_size(s, ip));
                }
                StepKind::Call(c) => match &c.kind {
                    // Made by any application by itself; expecting it to fail or block is not.
                    CallKind::Accept if c.error.is_none() => {}
                    kind => self.call(call_name(kind)),
                },
                StepKind::OneOf(branches) => {
                    for b in branches {
                        self.walk(&b.steps, ip);
                    }
                }
                StepKind::SynFlood(_) => self.flood = true,
                // Data the application must leave unread, or the window never closes.
                StepKind::FillWindow(_) => {
                    self.sends_data = true;
                    if !self.declared.contains(&Need::Unread) {
                        self.declared.push(Need::Unread);
                    }
                }
                StepKind::IsnSample(_)
                | StepKind::Expect(_)
                | StepKind::ExpectAlso(_)
                | StepKind::ExpectNone(_)
                | StepKind::State(_)
                | StepKind::Wait(_)
                | StepKind::Assume(_) => {}
            }
        }
        let floor = ip_header_len(ip) + 20;
        self.largest_packet = self.largest_packet.max(floor);
    }
}

/// The case language's name of a call.
pub fn call_name(kind: &CallKind) -> &'static str {
    match kind {
        CallKind::Listen => "listen",
        CallKind::Accept => "accept",
        CallKind::Connect { .. } | CallKind::ConnectTo(_) => "connect",
        CallKind::Write(_) => "write",
        CallKind::Read { .. } => "read",
        CallKind::Shutdown(_) => "shutdown",
        CallKind::Close => "close",
        CallKind::Abort => "abort",
        CallKind::Release => "release",
        CallKind::NoDelay => "nodelay",
        CallKind::Keepalive { .. } => "keepalive",
        CallKind::UserTimeout(_) => "user_timeout",
    }
}

fn ip_header_len(ip: IpVersion) -> usize {
    match ip {
        IpVersion::V4 => 20,
        IpVersion::V6 => 40,
    }
}

/// The size of the IP packet a `send` step puts on the wire (as `packet::build` lays it out).
pub fn packet_size(s: &Send, ip: IpVersion) -> usize {
    if let Some(raw) = &s.raw {
        return raw.len();
    }
    if s.icmp.is_some() {
        // IP + ICMP header + the quoted IP header and 8 octets of TCP.
        return 2 * ip_header_len(ip) + 8 + 8;
    }
    let ip_len = match ip {
        IpVersion::V4 => 20 + s.ip.ipv4_options.len().div_ceil(4) * 4,
        IpVersion::V6 => 40,
    };
    let options: usize = s
        .options
        .iter()
        .map(|o| match o {
            SendOption::Eol | SendOption::Nop => 1,
            SendOption::Mss(_) => 4,
            SendOption::WindowScale(_) => 3,
            SendOption::SackPermitted => 2,
            SendOption::Sack(blocks) => 2 + 8 * blocks.len(),
            SendOption::Timestamps { .. } => 10,
            SendOption::Unknown { data, .. } => 2 + data.len(),
            SendOption::Raw(bytes) => bytes.len(),
            // The largest cookie is 16 octets (RFC 7413 4.1.1).
            SendOption::FastOpen { cookie } => 2 + if *cookie { 16 } else { 0 },
        })
        .sum();
    ip_len + 20 + options.div_ceil(4) * 4 + s.payload.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::load::load_str;
    use crate::packet::build::build;
    use crate::packet::spec::{ChecksumSpec, IpFields, OptionSpec, PacketSpec};

    /// The packet `packet::build` makes of `s` (values zero: sizes do not depend on them).
    fn built(s: &Send, ip: IpVersion) -> usize {
        let (src, dst) = match ip {
            IpVersion::V4 => ("192.0.2.3:1", "192.0.2.1:2"),
            IpVersion::V6 => ("[2001:db8::3]:1", "[2001:db8::1]:2"),
        };
        let options = s
            .options
            .iter()
            .map(|o| match o {
                SendOption::Eol => OptionSpec::Eol,
                SendOption::Nop => OptionSpec::Nop,
                SendOption::Mss(m) => OptionSpec::Mss(*m),
                SendOption::WindowScale(w) => OptionSpec::WindowScale(*w),
                SendOption::SackPermitted => OptionSpec::SackPermitted,
                SendOption::Sack(b) => OptionSpec::Sack(vec![(0, 0); b.len()]),
                SendOption::Timestamps { .. } => OptionSpec::Timestamps { tsval: 0, tsecr: 0 },
                SendOption::Unknown { kind, data } => OptionSpec::Unknown {
                    kind: *kind,
                    data: data.clone(),
                },
                SendOption::Raw(b) => OptionSpec::Raw(b.clone()),
                SendOption::FastOpen { cookie } => OptionSpec::Unknown {
                    kind: 34,
                    data: vec![0; if *cookie { 16 } else { 0 }],
                },
            })
            .collect();
        build(&PacketSpec {
            src: src.parse().expect("addr"),
            dst: dst.parse().expect("addr"),
            seq: 0,
            ack: 0,
            flags: s.flags.0,
            window: 0,
            urgent: 0,
            reserved: 0,
            options,
            payload: s.payload.clone(),
            data_offset: None,
            checksum: ChecksumSpec::Correct,
            ip: IpFields {
                ipv4_options: s.ip.ipv4_options.clone(),
                ..IpFields::default()
            },
            raw: s.raw.clone(),
        })
        .len()
    }

    #[test]
    fn packet_sizes_are_those_the_builder_makes() {
        let text = "id: t\ntitle: t\nsetup: { listen: 8080 }\nsteps:\n\
            \x20 - send: { flags: S, seq: 0, options: [mss 1460, sackOK, nop, wscale 7] }\n\
            \x20 - send: { flags: PA, seq: 1, data: 1000, options: [ts 1 2] }\n\
            \x20 - send: { flags: A, seq: 1, options: [nop, nop, eol] }\n\
            \x20 - send: { flags: A, seq: 1, data: 3 }\n";
        let case = load_str(std::path::Path::new("t.yaml"), text)
            .expect("loads")
            .remove(0);
        for ip in [IpVersion::V4, IpVersion::V6] {
            for step in &case.steps {
                if let StepKind::Send(s) = &step.kind {
                    assert_eq!(packet_size(s, ip), built(s, ip), "{s:?}");
                }
            }
            assert_eq!(
                Needs::of(&case, ip).largest_packet,
                built(
                    match &case.steps[1].kind {
                        StepKind::Send(s) => s,
                        _ => unreachable!(),
                    },
                    ip
                )
            );
        }
    }
}
