//! `--target link`: a stack on the other end of an existing interface — a user-space stack on
//! a TUN or TAP device, an embedded board, another host — reached through an AF_PACKET socket
//! ([`wire`]): SOCK_DGRAM on a TUN (L3) device, SOCK_RAW with Ethernet framing on an Ethernet
//! link, where the harness itself resolves the target's MAC and answers the target's queries
//! for the crafted tester address ([`neighbor`]).
//!
//! Application calls go to an agent beside the stack (`--agent`), or, without one, the cases
//! run against whatever listens there: `--open-port` (an application the harness does not
//! control, behaving as `--app` says), `--closed-port` (nothing listens). The runner skips,
//! with the reason, the cases that need more ([`Capabilities`]).
//!
//! The stack outlives every instance, so the link target keeps it clean and the run honest:
//! tester ports come from a run-wide allocator and are never reused; only segments from the
//! instance's target address to its own tester ports are passed on; every connection an
//! instance made is reset and probed at teardown ([`conns`]); the interface's MTU bounds what
//! is sent; and [`Target::probe`] tells the run whether the stack still answers.
//!
//! Safety of the wire: every IP packet sent must be addressed to a `--target-addr`, or to a
//! multicast or broadcast group (a case checking that such segments are discarded, MUST-57),
//! and every Ethernet frame goes to a target's own MAC, never to a group MAC
//! ([`destination_allowed`]); ARP and NDP are only ever about, or addressed to, those addresses.
//! The crafted source (`--local-addr`) must not be an address of the harness's own namespace,
//! so the harness's kernel never answers the target's segments (it drops them as not its own).
//!
//! ```text
//! # a stack at 192.0.2.1 behind eth1, an echo server on its port 7, nothing on port 1;
//! # 192.0.2.3 is an address no interface of the harness's host has:
//! tcpconform run --target link --iface eth1 --target-addr 192.0.2.1 --local-addr 192.0.2.3 \
//!     --open-port 7 --closed-port 1 --app echo cases/
//! # with the agent beside the stack, every case's application calls are made:
//! tcpconform agent --listen 192.0.2.1:7100 --token-file tok --bind-addr 192.0.2.1 \
//!     --allow-port 8080 --allow-port 49152 --allow-peer 192.0.2.3
//! tcpconform run --target link --iface eth1 --target-addr 192.0.2.1 --local-addr 192.0.2.3 \
//!     --agent 192.0.2.1:7100 --agent-token-file tok cases/
//! ```

mod config;
mod conns;
mod neighbor;
mod wire;

pub use config::{LinkConfig, PortAllocator};
pub use wire::destination_allowed;

use super::{
    AppCall, AppResult, Application, Capabilities, Endpoints, FixedApp, Liveness, Received, Target,
    TargetError,
};
use crate::agent::client::AgentClient;
use crate::agent::protocol::{Request, Response, MAX_IO};
use crate::ip::IpVersion;
use crate::packet::build::build;
use crate::packet::observe::observe;
use crate::packet::spec::{ChecksumSpec, IpFields, Observed, OptionSpec, PacketSpec};
use crate::tcp::flags::{ACK, RST, SYN};
use crate::tcp::TcpState;
use conns::Conns;
use neighbor::{arp, arp_input, ndp, ndp_input, solicited_node, BROADCAST};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use wire::{
    complete_tcp_checksum, ethernet, is_group, local_address_among, Framing, PacketSocket,
    ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, PACKET_OUTGOING,
};

/// How long `accept` waits for a connection to come up before answering would-block.
const ACCEPT_WAIT: Duration = Duration::from_millis(200);
/// How long `read` waits for data before answering would-block.
const READ_WAIT: Duration = Duration::from_millis(50);
/// Between two polls of the agent for accept/read.
const AGENT_POLL: Duration = Duration::from_millis(5);
/// ARP/NDP resolution: tries and the wait for each.
const RESOLVE_TRIES: usize = 3;
const RESOLVE_WAIT: Duration = Duration::from_millis(500);
/// Teardown: rounds of RST + probe, and how long one round waits for the answers.
const TEARDOWN_ROUNDS: usize = 3;
const TEARDOWN_WAIT: Duration = Duration::from_millis(300);
/// Liveness: attempts, and how long each waits for the answer.
const PROBE_TRIES: u32 = 3;
const PROBE_WAIT: Duration = Duration::from_secs(1);
/// Segments kept for the runner at most; a flood beyond it is dropped and counted, so that
/// memory stays bounded whatever the target sends (about 100 MB of full-size frames).
const PENDING_LIMIT: usize = 16_384;

/// Frames read from the socket in one go before the deadline and the interrupt flag are looked
/// at again.
const DRAIN_BATCH: usize = 4_096;

/// The link to the target, once opened.
struct Wire {
    sock: PacketSocket,
    /// MACs of target addresses, learned by ARP/NDP.
    neighbors: HashMap<IpAddr, [u8; 6]>,
    buf: Vec<u8>,
}

pub struct LinkTarget {
    config: LinkConfig,
    wire: Option<Wire>,
    agent: Option<AgentClient>,
    endpoints: Option<Endpoints>,
    opened: Instant,
    pending: VecDeque<Received>,
    /// Segments dropped because `pending` was full, in this instance.
    dropped: usize,
    /// The tester's ports in this instance: the target's segments to any other port are not
    /// this instance's (an earlier instance's connection, another worker's) and are dropped.
    tester_ports: BTreeSet<u16>,
    /// Other addresses this instance's segments carried (`send: { src: ... }` or `dst:`, a
    /// group or broadcast address): a stack that answers to or from one must be seen
    /// answering.
    other_sources: BTreeSet<IpAddr>,
    other_destinations: BTreeSet<IpAddr>,
    /// This instance's connections, to tear down.
    conns: Conns,
    /// What the last teardown found, for the instance's trace.
    notes: Vec<String>,
}

fn target_error(what: &str, e: impl std::fmt::Display) -> TargetError {
    TargetError(format!("{what}: {e}"))
}

/// A bare segment from `src` to `dst`.
fn segment(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: u16) -> Vec<u8> {
    build(&PacketSpec {
        src,
        dst,
        seq,
        ack,
        flags,
        window: 65_535,
        urgent: 0,
        reserved: 0,
        options: if flags & SYN != 0 {
            vec![OptionSpec::Mss(536)]
        } else {
            Vec::new()
        },
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    })
}

impl LinkTarget {
    /// Nothing is opened until the first case instance (`open`), where failures are reported.
    pub fn new(config: LinkConfig) -> LinkTarget {
        LinkTarget {
            config,
            wire: None,
            agent: None,
            endpoints: None,
            opened: Instant::now(),
            pending: VecDeque::new(),
            dropped: 0,
            tester_ports: BTreeSet::new(),
            other_sources: BTreeSet::new(),
            other_destinations: BTreeSet::new(),
            conns: Conns::default(),
            notes: Vec::new(),
        }
    }

    fn wire(&mut self) -> Result<&mut Wire, TargetError> {
        if self.wire.is_none() {
            if let Some(a) = local_address_among(&self.config.locals)
                .map_err(|e| target_error("getifaddrs", e))?
            {
                return Err(TargetError(format!(
                    "--local-addr {a} is an address of this namespace: its kernel would answer \
                     the target's segments; use an address no interface here has"
                )));
            }
            let sock = PacketSocket::open(&self.config.iface)
                .map_err(|e| target_error(&format!("AF_PACKET on {}", self.config.iface), e))?;
            self.wire = Some(Wire {
                sock,
                neighbors: HashMap::new(),
                buf: vec![0; 65_536 + 64],
            });
        }
        self.wire
            .as_mut()
            .ok_or_else(|| TargetError("link not open".into()))
    }

    /// The largest IP packet that may be sent: the interface's MTU, or `--mtu` if smaller.
    fn mtu(&mut self) -> Result<usize, TargetError> {
        let iface = self.wire()?.sock.mtu;
        Ok(self.config.mtu.map_or(iface, |m| m.min(iface)))
    }

    fn addresses(&self, ip: IpVersion) -> Result<Endpoints, TargetError> {
        let v6 = ip == IpVersion::V6;
        let pick = |list: &[IpAddr], what: &str| {
            list.iter()
                .copied()
                .find(|a| a.is_ipv6() == v6)
                .ok_or_else(|| {
                    TargetError(format!("no IPv{} {what} given", if v6 { 6 } else { 4 }))
                })
        };
        Ok(Endpoints {
            target: pick(&self.config.targets, "--target-addr")?,
            tester: pick(&self.config.locals, "--local-addr")?,
        })
    }

    /// Handle every frame waiting, waiting up to `until` for the first; returns early once a
    /// segment is pending if `stop_on_packet`. An interrupted run ends the wait early with an
    /// error: a wait cut short must not pass for the silence an `expect_none` asks for.
    fn pump(&mut self, until: Instant, stop_on_packet: bool) -> Result<(), TargetError> {
        loop {
            let segments = self.drain()?;
            self.take(segments);
            if stop_on_packet && !self.pending.is_empty() {
                return Ok(());
            }
            if crate::interrupt::requested() {
                return Err(TargetError::interrupted());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            self.wait_readable(left.min(crate::interrupt::CHECK_EVERY))?;
        }
    }

    fn wait_readable(&mut self, at_most: Duration) -> Result<(), TargetError> {
        let fd = self.wire()?.sock.fd.as_raw_fd();
        crate::sys::tun::poll_fd(fd, libc::POLLIN, at_most)
            .map(|_| ())
            .map_err(|e| target_error("poll", e))
    }

    /// The instance's own segments among `segments` go to the runner (and the connection
    /// registry); every other one is dropped.
    fn take(&mut self, segments: Vec<(Duration, Observed)>) {
        let Some(ep) = self.endpoints else {
            return;
        };
        for (at, o) in segments {
            let ours = (o.src.ip() == ep.target || self.other_destinations.contains(&o.src.ip()))
                && (o.dst.ip() == ep.tester || self.other_sources.contains(&o.dst.ip()))
                && self.tester_ports.contains(&o.dst.port());
            if !ours {
                continue;
            }
            self.conns.on_received(&o);
            if self.pending.len() >= PENDING_LIMIT {
                self.dropped += 1;
                continue;
            }
            self.pending.push_back(Received { at, packet: o.raw });
        }
    }

    /// The frames waiting on the socket, at most [`DRAIN_BATCH`] (so that a flood faster than
    /// the harness reads cannot keep it here past a deadline or an interrupt): ARP and NDP
    /// answered, the TCP segments from a target address to a tester address decoded and
    /// returned, everything else dropped.
    fn drain(&mut self) -> Result<Vec<(Duration, Observed)>, TargetError> {
        let at = self.opened.elapsed();
        let mut targets = self.config.targets.clone();
        targets.extend(self.other_destinations.iter().copied());
        let mut locals = self.config.locals.clone();
        locals.extend(self.other_sources.iter().copied());
        let wire = self.wire()?;
        let mut replies: Vec<(Vec<u8>, u16)> = Vec::new();
        let mut segments = Vec::new();
        for _ in 0..DRAIN_BATCH {
            let Some((n, protocol, pkttype, csum_not_ready)) = wire
                .sock
                .recv(&mut wire.buf)
                .map_err(|e| target_error("recv", e))?
            else {
                break;
            };
            if pkttype == PACKET_OUTGOING {
                continue;
            }
            let frame = wire.buf.get(..n).unwrap_or(&[]);
            let (src_mac, ethertype, payload) = match wire.sock.framing {
                Framing::L3 => ([0; 6], protocol, frame),
                Framing::Ethernet(_) => {
                    let Some(hdr) = frame.get(..14) else { continue };
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(hdr.get(6..12).unwrap_or(&[0; 6]));
                    let et = u16::from_be_bytes([
                        hdr.get(12).copied().unwrap_or(0),
                        hdr.get(13).copied().unwrap_or(0),
                    ]);
                    (mac, et, frame.get(14..).unwrap_or(&[]))
                }
            };
            let own_mac = match wire.sock.framing {
                Framing::Ethernet(m) => m,
                Framing::L3 => [0; 6],
            };
            match ethertype {
                ETH_P_ARP => {
                    if let Some(r) = arp_input(
                        payload,
                        src_mac,
                        own_mac,
                        &targets,
                        &locals,
                        &mut wire.neighbors,
                    ) {
                        replies.push((r, ETH_P_ARP));
                    }
                }
                ETH_P_IP | ETH_P_IPV6 => {
                    let Some((src, dst, proto)) = wire::ip_src_dst(payload) else {
                        continue;
                    };
                    // Neighbour discovery may come from the target's link-local address (RFC
                    // 4861 7.2.4 lets a node answer from any of its addresses): `ndp_input`
                    // goes by the target address inside the message.
                    let link_local =
                        matches!(src, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
                    let wanted = targets.contains(&src) || (proto == 58 && link_local);
                    if !wanted {
                        continue;
                    }
                    if proto == 6 && targets.contains(&src) && locals.contains(&dst) {
                        let mut packet = payload.to_vec();
                        if csum_not_ready {
                            complete_tcp_checksum(&mut packet);
                        }
                        if let Ok(o) = observe(&packet) {
                            segments.push((at, o));
                        }
                    } else if proto == 58 && wire.sock.framing != Framing::L3 {
                        if let Some(r) = ndp_input(
                            payload,
                            src_mac,
                            own_mac,
                            &targets,
                            &locals,
                            &mut wire.neighbors,
                        ) {
                            replies.push((r, ETH_P_IPV6));
                        }
                    }
                }
                _ => {}
            }
        }
        for (frame, protocol) in replies {
            wire.sock
                .send(&frame, protocol)
                .map_err(|e| target_error("send", e))?;
        }
        Ok(segments)
    }

    /// Puts one IP packet on the wire, to a target address only.
    fn send_packet(&mut self, packet: &[u8], tester: IpAddr) -> Result<(), TargetError> {
        let dst = destination_allowed(packet, &self.config.targets).map_err(TargetError)?;
        let mtu = self.mtu()?;
        if packet.len() > mtu {
            return Err(TargetError(format!(
                "a {}-octet packet is over the MTU of {} ({mtu}): not sent",
                packet.len(),
                self.config.iface
            )));
        }
        // `dst` is a target address; the packet's own destination may be a group address
        // (then only that target's MAC receives it).
        let protocol = if dst.is_ipv6() { ETH_P_IPV6 } else { ETH_P_IP };
        let framing = self.wire()?.sock.framing;
        let frame = match framing {
            Framing::L3 => packet.to_vec(),
            Framing::Ethernet(own) => {
                let mac = self.resolve(dst, tester)?;
                ethernet(mac, own, protocol, packet)
            }
        };
        self.wire()?
            .sock
            .send(&frame, protocol)
            .map_err(|e| target_error("send", e))
    }

    /// The target's MAC, resolved by ARP/NDP from the tester's crafted address.
    fn resolve(&mut self, target: IpAddr, local: IpAddr) -> Result<[u8; 6], TargetError> {
        for _ in 0..RESOLVE_TRIES {
            let wire = self.wire()?;
            if let Some(mac) = wire.neighbors.get(&target) {
                return Ok(*mac);
            }
            let Framing::Ethernet(own) = wire.sock.framing else {
                return Err(TargetError("no MAC on an L3 link".into()));
            };
            let (frame, protocol) = match (target, local) {
                (IpAddr::V4(t), IpAddr::V4(l)) => (
                    ethernet(BROADCAST, own, ETH_P_ARP, &arp(1, own, l, [0; 6], t)),
                    ETH_P_ARP,
                ),
                (IpAddr::V6(t), IpAddr::V6(l)) => {
                    let (group, group_mac) = solicited_node(t);
                    let ns = ndp(135, 0, l, group, t, 1, own);
                    (ethernet(group_mac, own, ETH_P_IPV6, &ns), ETH_P_IPV6)
                }
                _ => {
                    return Err(TargetError(
                        "target and local address families differ".into(),
                    ))
                }
            };
            wire.sock
                .send(&frame, protocol)
                .map_err(|e| target_error("send ARP/NDP", e))?;
            let until = Instant::now() + RESOLVE_WAIT;
            while Instant::now() < until {
                let segments = self.drain()?;
                self.take(segments);
                if let Some(mac) = self.wire()?.neighbors.get(&target) {
                    return Ok(*mac);
                }
                self.wait_readable(Duration::from_millis(20))?;
            }
        }
        Err(TargetError(format!(
            "{target} does not answer ARP/NDP on {}",
            self.config.iface
        )))
    }

    fn endpoints(&self) -> Result<Endpoints, TargetError> {
        self.endpoints
            .ok_or_else(|| TargetError("target not opened".into()))
    }

    fn agent(&mut self) -> Result<&mut AgentClient, TargetError> {
        self.agent.as_mut().ok_or_else(|| {
            TargetError("application calls need an agent beside the target (--agent)".into())
        })
    }

    fn agent_call(&mut self, req: &Request) -> Result<Response, TargetError> {
        let agent = self.agent()?;
        let addr = agent.addr();
        match agent.call(req) {
            Ok(Response::Refused { message }) => Err(TargetError(format!(
                "agent {addr} refused {}: {message}",
                req.summary()
            ))),
            Ok(r) => Ok(r),
            Err(e) => {
                self.agent = None;
                Err(target_error(&format!("agent {addr}"), e))
            }
        }
    }

    /// Repeat a non-blocking call until it does not answer would-block or `within` is over,
    /// handling the wire meanwhile.
    fn agent_poll(&mut self, req: &Request, within: Duration) -> Result<Response, TargetError> {
        let until = Instant::now() + within;
        loop {
            let r = self.agent_call(req)?;
            if r != Response::WouldBlock || Instant::now() >= until {
                return Ok(r);
            }
            self.pump(Instant::now() + AGENT_POLL, false)?;
        }
    }

    fn call(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.endpoints()?;
        if let AppCall::Connect { remote, .. } = call {
            // The target's SYN goes to this port: it is this instance's.
            self.tester_ports.insert(remote.port());
        }
        let response = match call {
            AppCall::Write(data) if data.len() > MAX_IO => {
                return Err(TargetError(format!(
                    "write of {} octets: the agent takes at most {MAX_IO}",
                    data.len()
                )))
            }
            // Pending calls are polled here, with the wire handled meanwhile.
            AppCall::Accept => self.agent_poll(&Request::Accept, ACCEPT_WAIT)?,
            AppCall::Read { max } => self.agent_poll(
                &Request::Read {
                    max: (*max).min(MAX_IO),
                },
                READ_WAIT,
            )?,
            _ => self.agent_call(&Request::from_call(call))?,
        };
        response
            .into_result()
            .map_err(|e| TargetError(format!("agent answered {call} with {e}")))
    }

    /// Resets every connection of the instance and checks, by probing, that the target holds
    /// none of them any more ([`conns`]).
    fn teardown(&mut self) -> Result<(), TargetError> {
        let locals = self.config.locals.clone();
        let tester = self.endpoints()?.tester;
        for _ in 0..TEARDOWN_ROUNDS {
            for packet in self.conns.round(&locals) {
                self.send_packet(&packet, tester)?;
            }
            let until = Instant::now() + TEARDOWN_WAIT;
            while !self.conns.all_answered(&locals) && Instant::now() < until {
                self.wait_readable(Duration::from_millis(10))?;
                let segments = self.drain()?;
                self.take(segments);
            }
            if !self.conns.any_open() {
                break;
            }
        }
        let t = self.conns.finish();
        if !t.still_open.is_empty() {
            let list: Vec<String> = t
                .still_open
                .iter()
                .map(|(tester, target)| format!("{tester} <-> {target}"))
                .collect();
            self.notes.push(format!(
                "teardown: the target still answers on {} connection(s) after {TEARDOWN_ROUNDS} \
                 resets (TIME-WAIT that ignores RSTs, or a connection it keeps): {}",
                list.len(),
                list.join(", ")
            ));
        }
        Ok(())
    }

    /// One liveness check of `port` on `ip`: a SYN from a fresh port, answered by a SYN-ACK
    /// (then reset) where an application listens, or by an RST where nothing does.
    fn probe_port(
        &mut self,
        ip: IpVersion,
        port: u16,
        listening: bool,
    ) -> Result<Liveness, TargetError> {
        let ep = self.addresses(ip)?;
        let target = SocketAddr::new(ep.target, port);
        let mut last = String::new();
        for attempt in 0..PROBE_TRIES {
            let tester = SocketAddr::new(ep.tester, self.config.ports.next());
            let isn: u32 = rand::random();
            self.send_packet(&segment(tester, target, isn, 0, SYN), ep.tester)?;
            let wait = PROBE_WAIT * (attempt + 1);
            let until = Instant::now() + wait;
            let mut answer = None;
            while answer.is_none() && Instant::now() < until {
                self.wait_readable(Duration::from_millis(10))?;
                answer = self
                    .drain()?
                    .into_iter()
                    .map(|(_, o)| o)
                    .find(|o| o.src == target && o.dst == tester);
            }
            let Some(o) = answer else {
                last = format!("no answer to a SYN to {target} within {wait:?}");
                continue;
            };
            let syn_ack = o.flags & (SYN | ACK | RST) == SYN | ACK;
            let rst = o.flags & RST != 0;
            if syn_ack {
                // Leave no half-open connection behind.
                let rst = segment(tester, target, isn.wrapping_add(1), 0, RST);
                self.send_packet(&rst, ep.tester)?;
            }
            return Ok(match (listening, syn_ack, rst) {
                (true, true, _) | (false, _, true) => Liveness::Alive,
                (true, _, true) => Liveness::Unusable(format!(
                    "{target} (--open-port) refuses connections: a SYN drew an RST"
                )),
                (false, true, _) => Liveness::Unusable(format!(
                    "{target} (--closed-port) accepts connections: a SYN drew a SYN-ACK"
                )),
                _ => Liveness::Unusable(format!(
                    "{target} answered a SYN with flags {:#05x}",
                    o.flags
                )),
            });
        }
        Ok(Liveness::Unusable(last))
    }
}

impl Target for LinkTarget {
    fn name(&self) -> &str {
        "link"
    }

    /// Sysctls belong to the target's host; a foreign stack's knobs are the user's business.
    fn open(
        &mut self,
        ip: IpVersion,
        _sysctls: &std::collections::BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        let ep = self.addresses(ip)?;
        self.wire()?;
        if self.agent.is_none() {
            if let Some((addr, token)) = &self.config.agent {
                let client = connect_agent(*addr, token)?;
                self.agent = Some(client);
            }
        }
        if self.agent.is_some() {
            self.agent_call(&Request::Reset)?;
        }
        // Whatever the previous instance left on the wire is not this instance's.
        self.endpoints = None;
        self.drain()?;
        self.pending.clear();
        self.dropped = 0;
        self.notes.clear();
        if matches!(self.wire()?.sock.framing, Framing::Ethernet(_)) {
            self.resolve(ep.target, ep.tester)?;
        }
        self.endpoints = Some(ep);
        self.opened = Instant::now();
        Ok(ep)
    }

    fn inject(&mut self, packet: &[u8]) -> Result<(), TargetError> {
        let ep = self.endpoints()?;
        if let Ok(o) = observe(packet) {
            self.tester_ports.insert(o.src.port());
            if o.src.ip() != ep.tester {
                self.other_sources.insert(o.src.ip());
            }
            if o.dst.ip() != ep.target {
                self.other_destinations.insert(o.dst.ip());
            }
            self.conns.on_sent(&o);
        }
        self.send_packet(packet, ep.tester)
    }

    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
        if self.pending.is_empty() {
            self.pump(Instant::now() + within, true)?;
        }
        Ok(self.pending.pop_front())
    }

    fn cannot(&self, call: &AppCall) -> Option<String> {
        match call {
            // The agent connects only to the peers it was started with (--allow-peer), never
            // to a group: an OPEN the stack must refuse (MUST-46) cannot be asked of it.
            AppCall::Connect { remote, .. } if is_group(remote.ip()) => Some(format!(
                "the agent opens connections only to its --allow-peer addresses, not to {}",
                remote.ip()
            )),
            _ => None,
        }
    }

    fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.call(call)
    }

    /// The agent's calls are socket calls (`tcpconform serve`'s agent maps them onto the
    /// reference stack with the same meaning).
    fn on_sockets(&self) -> bool {
        self.agent.is_some()
    }

    fn state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<TcpState>, TargetError> {
        if self.agent.is_none() {
            return Ok(None);
        }
        match self.agent_call(&Request::State { local, remote })? {
            Response::State { state } => Ok(state),
            Response::Error { message, .. } => Err(TargetError(format!("agent: state: {message}"))),
            other => Err(TargetError(format!("agent answered state with {other:?}"))),
        }
    }

    fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
        self.pump(Instant::now() + d, false)
    }

    fn now(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Unlike a namespace, a real stack outlives the instance: the agent's sockets are
    /// aborted, every connection the instance made is reset and probed until the target
    /// confirms it is gone, and what the target sends meanwhile is dropped.
    fn close(&mut self) {
        if self.agent.is_some() {
            let _ = self.agent_call(&Request::Reset);
        }
        if self.endpoints.is_some() {
            if let Err(e) = self.teardown() {
                self.notes.push(format!("teardown: {e}"));
            }
        }
        if self.dropped > 0 {
            self.notes.push(format!(
                "{} segment(s) of the target dropped: more than {PENDING_LIMIT} were waiting",
                self.dropped
            ));
            self.dropped = 0;
        }
        self.conns.finish();
        self.pending.clear();
        self.tester_ports.clear();
        self.other_sources.clear();
        self.other_destinations.clear();
        self.endpoints = None;
    }

    fn capabilities(&self) -> Capabilities {
        // Before the first instance opens the wire, the interface's MTU as the kernel has it:
        // the fit of the first instance must not depend on whether the wire is open yet.
        let link_mtu = match &self.wire {
            Some(w) => w.sock.mtu,
            None => wire::interface_mtu(&self.config.iface).unwrap_or(65_535),
        };
        let mtu = link_mtu.min(self.config.mtu.unwrap_or(usize::MAX));
        Capabilities {
            application: match self.config.agent {
                Some(_) => Application::Driven,
                None => Application::Fixed(FixedApp {
                    open_port: self.config.open_port,
                    closed_port: self.config.closed_port,
                    behaviour: self.config.app,
                }),
            },
            observes_state: self.config.agent.is_some(),
            mtu,
            ipv4: self.config.targets.iter().any(IpAddr::is_ipv4),
            ipv6: self.config.targets.iter().any(IpAddr::is_ipv6),
            persistent: true,
        }
    }

    fn fresh_port(&mut self) -> Option<u16> {
        Some(self.config.ports.next())
    }

    /// A SYN to the open port must draw a SYN-ACK, else a SYN to the closed port an RST.
    fn probe(&mut self, ip: IpVersion) -> Result<Liveness, TargetError> {
        if self.endpoints.is_some() {
            return Err(TargetError("probe during an instance".into()));
        }
        if matches!(self.wire()?.sock.framing, Framing::Ethernet(_)) {
            let ep = self.addresses(ip)?;
            if let Err(e) = self.resolve(ep.target, ep.tester) {
                return Ok(Liveness::Unusable(e.0));
            }
        }
        match (self.config.open_port, self.config.closed_port) {
            (Some(port), _) => self.probe_port(ip, port, true),
            (None, Some(port)) => self.probe_port(ip, port, false),
            (None, None) => Ok(Liveness::NotChecked),
        }
    }

    fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }
}

impl Drop for LinkTarget {
    fn drop(&mut self) {
        self.close();
    }
}

/// Connect to the agent; while it is still closing a previous harness's session it answers
/// "busy" for a moment, so that answer is retried briefly.
fn connect_agent(addr: SocketAddr, token: &str) -> Result<AgentClient, TargetError> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match AgentClient::connect(addr, token) {
            Ok(c) => return Ok(c),
            Err(e) if e.to_string().contains("busy") && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(target_error("agent", e)),
        }
    }
}
