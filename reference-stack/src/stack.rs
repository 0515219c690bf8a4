//! Many connections behind one driver-facing API, sans-IO in the style of quinn-proto: the
//! driver passes packets in (`handle_packet`), takes packets out (`poll_transmit`), owns the
//! clock (`poll_timeout` / `handle_timeout`) and reads application events (`poll_event`).
//!
//! What lives here and not in [`Tcb`]:
//!
//! - demultiplexing: a segment goes to the connection of its 4-tuple, else to a listener (an
//!   exact local address before a wildcard one), else to the CLOSED rules;
//! - the states without a TCB: CLOSED (RFC 9293 3.10.7.1, CL-1..CL-3) and LISTEN (3.10.7.2,
//!   LI-1..LI-5), including the RFC 6528 ISN of a new passive connection;
//! - address validation: segments to or from broadcast/multicast addresses are dropped
//!   silently (MUST-57), SYNs from an invalid source too (MUST-63), OPEN to such an address is
//!   refused (MUST-46);
//! - the SYN and accept backlogs (see below), and the IP header of everything sent.
//!
//! **Backlog policy.** A listener holds at most `Config::syn_backlog` half-open (SYN-RECEIVED)
//! connections and at most `Config::accept_backlog` established ones waiting for `accept`. When
//! either is full a new SYN is dropped silently, without RST and without a SYN-ACK, and
//! `Stats::syn_dropped` counts it: the peer retransmits its SYN after its RTO and gets in once
//! room is made, which is what BSD does without SYN cookies. (An RST would tell the peer the
//! port is closed, which is false; a SYN cookie would need state this reference does not keep.)
//!
//! **Socket lifetime.** A connection leaves the demultiplexing table as soon as its TCB is
//! deleted (CLOSED reached, or back to LISTEN), after its last segments were taken. Its handle
//! stays valid, so that `recv`/`send` can report "connection reset" and `state` says CLOSED,
//! until the application calls `close` or `abort` on it; a connection the application never saw
//! (half-open, or never accepted after its listener closed) is forgotten at once.

use crate::config::{Config, Keepalive};
use crate::isn::IsnGenerator;
use crate::rules::Rule;
use crate::state::State;
use crate::tcb::{Arrival, ConnError, ConnEvent, Tcb, TcbInfo};
use crate::time::Instant;
use crate::tuple::FourTuple;
use crate::wire::{
    ecn, IcmpError, IpRepr, Ipv4Repr, Ipv6Repr, Segment, SeqNumber, TcpFlags, TcpRepr, WireError,
};
use core::fmt;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Names one listener or connection of a [`Stack`]. Handles are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle(pub u32);

impl fmt::Display for SocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Errors of the application calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackError {
    /// A listener already has this address, or a connection this 4-tuple (or no ephemeral port
    /// is left).
    AddrInUse,
    /// The handle names no socket (never existed, or forgotten after `close`).
    NoSuchSocket,
    /// `accept` on a handle that is not a listener.
    NotListening,
    /// A connection call (`send`, `recv`, ...) on a listener.
    IsListener,
    /// MUST-46: broadcast, multicast or unspecified remote address, port 0, a local address that
    /// cannot be a source, or mixed address families.
    InvalidAddress,
    /// The connection refused the call (RFC 9293 3.9.1 error responses).
    Conn(ConnError),
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::AddrInUse => f.write_str("address in use"),
            StackError::NoSuchSocket => f.write_str("no such socket"),
            StackError::NotListening => f.write_str("socket is not listening"),
            StackError::IsListener => f.write_str("socket is a listener"),
            StackError::InvalidAddress => f.write_str("invalid address"),
            StackError::Conn(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StackError {}

impl From<ConnError> for StackError {
    fn from(e: ConnError) -> StackError {
        StackError::Conn(e)
    }
}

/// What became of one incoming segment: for coverage (which SEGMENT ARRIVES rules ran) and for
/// state assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The segment's 4-tuple from this stack's point of view (local = its destination).
    /// Always `Some` from `handle_segment`; `Option` so that a driver can report packets that
    /// never became a segment in the same shape.
    pub tuple: Option<FourTuple>,
    /// The state the segment found (`state_of(tuple)` before it).
    pub state_before: State,
    /// The state it left (`LISTEN` when a passive connection went back to its listener).
    pub state_after: State,
    /// Every SEGMENT ARRIVES rule applied, in order; empty when the segment was discarded
    /// before SEGMENT ARRIVES (MUST-57, MUST-63, full backlog).
    pub rules: Vec<Rule>,
    /// The connection that handled it, or the new one a SYN created (LI-4).
    pub handle: Option<SocketHandle>,
}

impl Handled {
    /// Nothing done yet to a packet for `tuple`, which found `state`.
    fn found(tuple: FourTuple, state: State) -> Handled {
        Handled {
            tuple: Some(tuple),
            state_before: state,
            state_after: state,
            rules: Vec::new(),
            handle: None,
        }
    }
}

/// An application event, tagged with the handle it concerns by [`Stack::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A passive connection completed its handshake and waits in `listener`'s accept queue;
    /// the handle of the event is the new connection.
    Incoming {
        listener: SocketHandle,
    },
    Conn(ConnEvent),
}

/// Counters, for drivers and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub segments_received: u64,
    pub segments_sent: u64,
    /// RSTs sent by the stack itself (CL-2, CL-3, LI-2, LI-3); a TCB's own RSTs are not counted.
    pub resets_sent: u64,
    /// SYNs dropped because a listener's SYN or accept backlog was full.
    pub syn_dropped: u64,
    /// Segments dropped by address validation (MUST-57, MUST-63).
    pub invalid_address_dropped: u64,
}

struct Listener {
    local: SocketAddr,
    /// Passive connections still in SYN-RECEIVED.
    half_open: BTreeSet<SocketHandle>,
    /// Established connections waiting for `accept`.
    accept_queue: VecDeque<SocketHandle>,
}

struct Conn {
    tcb: Tcb,
    /// The listener of a passive connection, until the application accepts it.
    listener: Option<SocketHandle>,
    /// In the listener's accept queue.
    queued: bool,
    /// The application knows the handle (it called `connect`, or `accept` returned it).
    owned: bool,
    /// The application called `close` or `abort`: forget the socket once the TCB is deleted.
    released: bool,
    /// Still in the 4-tuple table (the TCB exists).
    in_demux: bool,
}

enum Socket {
    Listener(Listener),
    Conn(Box<Conn>),
}

/// The reference TCP stack: many connections, sans-IO. See the module docs.
pub struct Stack {
    config: Config,
    isn: IsnGenerator,
    sockets: BTreeMap<SocketHandle, Socket>,
    conns: HashMap<FourTuple, SocketHandle>,
    listeners: HashMap<SocketAddr, SocketHandle>,
    next_handle: u32,
    /// Round-robin position of `poll_transmit` over connections.
    next_poll: SocketHandle,
    /// Packets the stack itself produced (RSTs of CLOSED and LISTEN, last segments of deleted
    /// TCBs), sent before any connection's.
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<(SocketHandle, Event)>,
    ip_ident: u16,
    next_ephemeral: u16,
    stats: Stats,
}

const EPHEMERAL_FIRST: u16 = 49152;
const EPHEMERAL_COUNT: u16 = 16384;

impl Stack {
    pub fn new(config: Config) -> Stack {
        let isn = IsnGenerator::new(config.isn_secret);
        // Start the ephemeral ports and IP ids somewhere key-dependent, not at a constant.
        let seed = isn.isn(Instant::ZERO, &unspecified_tuple()).0;
        Stack {
            config,
            isn,
            sockets: BTreeMap::new(),
            conns: HashMap::new(),
            listeners: HashMap::new(),
            next_handle: 0,
            next_poll: SocketHandle(0),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            ip_ident: (seed >> 16) as u16,
            next_ephemeral: EPHEMERAL_FIRST + (seed as u16) % EPHEMERAL_COUNT,
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Passive OPEN (RFC 9293 3.10.1). An unspecified IP accepts any local address of its
    /// family; the same port may be open on IPv4 and IPv6 at once.
    pub fn listen(&mut self, local: SocketAddr) -> Result<SocketHandle, StackError> {
        if local.port() == 0 || is_broadcast_or_multicast(local.ip()) {
            return Err(StackError::InvalidAddress);
        }
        if self.listeners.contains_key(&local) {
            return Err(StackError::AddrInUse);
        }
        let h = self.alloc_handle();
        let listener = Listener {
            local,
            half_open: BTreeSet::new(),
            accept_queue: VecDeque::new(),
        };
        self.sockets.insert(h, Socket::Listener(listener));
        self.listeners.insert(local, h);
        Ok(h)
    }

    /// Active OPEN (RFC 9293 3.10.1). A local port of 0 picks an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<SocketHandle, StackError> {
        // MUST-46: no OPEN to a broadcast, multicast or otherwise invalid address.
        let rip = remote.ip();
        let lip = local.ip();
        if rip.is_unspecified()
            || is_broadcast_or_multicast(rip)
            || remote.port() == 0
            || lip.is_unspecified()
            || is_broadcast_or_multicast(lip)
            || lip.is_ipv4() != rip.is_ipv4()
        {
            return Err(StackError::InvalidAddress);
        }
        let tuple = if local.port() == 0 {
            self.ephemeral_tuple(local, remote)
                .ok_or(StackError::AddrInUse)?
        } else {
            FourTuple { local, remote }
        };
        if self.conns.contains_key(&tuple) {
            return Err(StackError::AddrInUse);
        }
        let iss = self.isn.isn(now, &tuple);
        let tcb = Tcb::connect(&self.config, tuple, iss, now);
        let h = self.alloc_handle();
        let conn = Conn {
            tcb,
            listener: None,
            queued: false,
            owned: true,
            released: false,
            in_demux: true,
        };
        self.sockets.insert(h, Socket::Conn(Box::new(conn)));
        self.conns.insert(tuple, h);
        self.update(now, h);
        Ok(h)
    }

    /// The next established connection of `listener`, `None` if none waits.
    pub fn accept(&mut self, listener: SocketHandle) -> Result<Option<SocketHandle>, StackError> {
        loop {
            let h = match self.sockets.get_mut(&listener) {
                None => return Err(StackError::NoSuchSocket),
                Some(Socket::Conn(_)) => return Err(StackError::NotListening),
                Some(Socket::Listener(l)) => match l.accept_queue.pop_front() {
                    Some(h) => h,
                    None => return Ok(None),
                },
            };
            if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
                c.listener = None;
                c.queued = false;
                c.owned = true;
                return Ok(Some(h));
            }
        }
    }

    /// SEND (RFC 9293 3.10.2): how many octets were queued.
    pub fn send(
        &mut self,
        now: Instant,
        h: SocketHandle,
        data: &[u8],
    ) -> Result<usize, StackError> {
        let r = self.conn_mut(h)?.tcb.send(now, data);
        self.update(now, h);
        Ok(r?)
    }

    /// RECEIVE (RFC 9293 3.10.3): `Ok(0)` is end of stream.
    pub fn recv(&mut self, h: SocketHandle, buf: &mut [u8]) -> Result<usize, StackError> {
        Ok(self.conn_mut(h)?.tcb.recv(buf)?)
    }

    /// Half-close: FIN after the queued data; receiving goes on.
    pub fn shutdown_write(&mut self, now: Instant, h: SocketHandle) -> Result<(), StackError> {
        let r = self.conn_mut(h)?.tcb.shutdown_write(now);
        self.update(now, h);
        Ok(r?)
    }

    /// CLOSE (RFC 9293 3.10.4). On a listener: stop listening and abort the connections nobody
    /// accepted. On a connection: the handle is released; the connection finishes its close
    /// (FIN, TIME-WAIT) on its own and is then forgotten.
    pub fn close(&mut self, now: Instant, h: SocketHandle) -> Result<(), StackError> {
        match self.sockets.get_mut(&h) {
            None => Err(StackError::NoSuchSocket),
            Some(Socket::Listener(_)) => {
                self.close_listener(now, h);
                Ok(())
            }
            Some(Socket::Conn(c)) => {
                c.released = true;
                let r = if c.tcb.is_closed() {
                    Ok(())
                } else {
                    c.tcb.close(now)
                };
                self.update(now, h);
                Ok(r?)
            }
        }
    }

    /// ABORT (RFC 9293 3.10.5): RST if synchronized, forget the connection.
    pub fn abort(&mut self, now: Instant, h: SocketHandle) -> Result<(), StackError> {
        match self.sockets.get_mut(&h) {
            None => Err(StackError::NoSuchSocket),
            Some(Socket::Listener(_)) => {
                self.close_listener(now, h);
                Ok(())
            }
            Some(Socket::Conn(c)) => {
                c.released = true;
                if !c.tcb.is_closed() {
                    c.tcb.abort(now);
                }
                self.update(now, h);
                Ok(())
            }
        }
    }

    /// MUST-17: Nagle on or off for one connection.
    pub fn set_nagle(&mut self, h: SocketHandle, on: bool) -> Result<(), StackError> {
        self.conn_mut(h)?.tcb.set_nagle(on);
        Ok(())
    }

    /// MUST-24, MUST-27: keep-alives for one connection with this timing (`None`: off). New
    /// connections start with `Config::keepalive` (off by default, MUST-25).
    pub fn set_keepalive(
        &mut self,
        h: SocketHandle,
        keepalive: Option<Keepalive>,
    ) -> Result<(), StackError> {
        self.conn_mut(h)?.tcb.set_keepalive_timing(keepalive);
        Ok(())
    }

    /// LISTEN for a listener, the connection's state, CLOSED for a deleted TCB or unknown handle.
    pub fn state(&self, h: SocketHandle) -> State {
        match self.sockets.get(&h) {
            Some(Socket::Listener(_)) => State::Listen,
            Some(Socket::Conn(c)) if c.in_demux => c.tcb.state(),
            _ => State::Closed,
        }
    }

    /// The state a segment on `tuple` would find: its connection's, else LISTEN when a listener
    /// matches, else CLOSED.
    pub fn state_of(&self, tuple: FourTuple) -> State {
        if let Some(c) = self.conns.get(&tuple).and_then(|h| self.conn(*h)) {
            return c.tcb.state();
        }
        if self.find_listener(tuple.local).is_some() {
            State::Listen
        } else {
            State::Closed
        }
    }

    pub fn info(&self, h: SocketHandle) -> Option<TcbInfo> {
        self.conn(h).filter(|c| c.in_demux).map(|c| c.tcb.info())
    }

    pub fn info_of(&self, tuple: FourTuple) -> Option<TcbInfo> {
        self.conns
            .get(&tuple)
            .and_then(|h| self.conn(*h))
            .map(|c| c.tcb.info())
    }

    /// The local 4-tuple of a connection (also after its TCB was deleted).
    pub fn tuple(&self, h: SocketHandle) -> Option<FourTuple> {
        self.conn(h).map(|c| c.tcb.tuple())
    }

    /// Parse one IP packet (checksums verified) and handle it.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<Handled, WireError> {
        match Segment::parse(bytes) {
            Ok(seg) => Ok(self.handle_segment(now, &seg)),
            // ICMP or ICMPv6 carrying an error about one of our segments (MUST-54).
            Err(e @ WireError::NotTcp { .. }) => match IcmpError::parse(bytes) {
                Some(icmp) => Ok(self.handle_icmp(now, &icmp)),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// An ICMP/ICMPv6 error, directed to the connection whose segment it quotes (RFC 9293
    /// 3.9.2.2, MUST-54; see [`Tcb::handle_icmp`]). No SEGMENT ARRIVES rule runs.
    pub fn handle_icmp(&mut self, now: Instant, icmp: &IcmpError) -> Handled {
        let tuple = FourTuple {
            local: icmp.local,
            remote: icmp.remote,
        };
        let mut handled = Handled::found(tuple, self.state_of(tuple));
        let Some(&h) = self.conns.get(&tuple) else {
            return handled;
        };
        if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
            c.tcb.handle_icmp(icmp.class, icmp.seq);
            handled.handle = Some(h);
            handled.state_after = c.tcb.state();
            self.update(now, h);
        }
        handled
    }

    /// SEGMENT ARRIVES (RFC 9293 3.10.7) for one parsed segment.
    pub fn handle_segment(&mut self, now: Instant, seg: &Segment) -> Handled {
        self.stats.segments_received += 1;
        let tuple = FourTuple {
            local: seg.dst(),
            remote: seg.src(),
        };
        let mut handled = Handled::found(tuple, self.state_of(tuple));
        // MUST-57 (RFC 9293 3.9.2.3): nothing to or from a broadcast or multicast address.
        // MUST-63: a SYN from an address that names no host is rejected; no other segment
        // from there could be answered either, so all are dropped.
        if is_broadcast_or_multicast(tuple.local.ip()) || !is_valid_source(tuple.remote.ip()) {
            self.stats.invalid_address_dropped += 1;
            return handled;
        }
        let security_ok = self.security_ok(&seg.ip);
        if let Some(&h) = self.conns.get(&tuple) {
            self.segment_for_conn(now, h, seg, security_ok, &mut handled);
        } else if let Some(l) = self.find_listener(tuple.local) {
            self.segment_for_listener(now, l, tuple, seg, security_ok, &mut handled);
        } else {
            self.segment_for_closed(tuple, &seg.tcp, &mut handled);
        }
        handled
    }

    /// The next IP packet to send, `None` when nothing is due. Connections are served round
    /// robin, one segment each.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some(p) = self.transmit.pop_front() {
            return Some(p);
        }
        let start = self.next_poll;
        let found = match poll_conns(now, self.sockets.range_mut(start..)) {
            Some(f) => Some(f),
            None => poll_conns(now, self.sockets.range_mut(..start)),
        };
        let (h, tuple, tcp, ect) = found?;
        self.next_poll = SocketHandle(h.0.wrapping_add(1));
        let ecn = if ect { ecn::ECT0 } else { ecn::NOT_ECT };
        Some(self.frame(tuple, tcp, ecn))
    }

    /// The earliest timer of any connection.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sockets
            .values()
            .filter_map(|s| match s {
                Socket::Conn(c) if c.in_demux => c.tcb.poll_timeout(),
                _ => None,
            })
            .min()
    }

    /// Fire every timer due by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (h, s) in self.sockets.iter_mut() {
            if let Socket::Conn(c) = s {
                if c.in_demux && c.tcb.poll_timeout().is_some_and(|t| t <= now) {
                    c.tcb.handle_timeout(now);
                    due.push(*h);
                }
            }
        }
        for h in due {
            self.update(now, h);
        }
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<(SocketHandle, Event)> {
        self.events.pop_front()
    }

    // ----- SEGMENT ARRIVES without a TCB -------------------------------------------------------

    /// RFC 9293 3.10.7.1: CLOSED (no TCB, no listener).
    fn segment_for_closed(&mut self, tuple: FourTuple, tcp: &TcpRepr, handled: &mut Handled) {
        if tcp.flags.rst() {
            // CL-1: an incoming RST is discarded; never answer an RST with an RST.
            handled.rules.push(Rule::Cl1);
        } else if !tcp.flags.ack() {
            // CL-2: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
            handled.rules.push(Rule::Cl2);
            self.send_rst(tuple, SeqNumber(0), Some(tcp.seq + seg_len(tcp)));
        } else {
            // CL-3: <SEQ=SEG.ACK><CTL=RST>.
            handled.rules.push(Rule::Cl3);
            self.send_rst(tuple, tcp.ack, None);
        }
    }

    /// RFC 9293 3.10.7.2: LISTEN.
    fn segment_for_listener(
        &mut self,
        now: Instant,
        listener: SocketHandle,
        tuple: FourTuple,
        seg: &Segment,
        security_ok: bool,
        handled: &mut Handled,
    ) {
        let tcp = &seg.tcp;
        if tcp.flags.rst() {
            // LI-1: first check, an RST is ignored.
            handled.rules.push(Rule::Li1);
            return;
        }
        if tcp.flags.ack() {
            // LI-2: second check, any ACK is bad: <SEQ=SEG.ACK><CTL=RST>.
            handled.rules.push(Rule::Li2);
            self.send_rst(tuple, tcp.ack, None);
            return;
        }
        if !tcp.flags.syn() {
            // LI-5: fourth, other text or control: drop.
            handled.rules.push(Rule::Li5);
            return;
        }
        if !security_ok {
            // LI-3: third check, security/compartment mismatch: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
            handled.rules.push(Rule::Li3);
            self.send_rst(tuple, SeqNumber(0), Some(tcp.seq + seg_len(tcp)));
            return;
        }
        // Backlog full: drop the SYN silently, the peer will retransmit it (module docs).
        let full = match self.sockets.get(&listener) {
            Some(Socket::Listener(l)) => {
                l.half_open.len() >= self.config.syn_backlog
                    || l.accept_queue.len() >= self.config.accept_backlog
            }
            _ => true,
        };
        if full {
            self.stats.syn_dropped += 1;
            return;
        }
        // LI-4: a new connection in SYN-RECEIVED with an RFC 6528 ISS; the SYN-ACK is queued.
        handled.rules.push(Rule::Li4);
        let h = self.accept_syn(now, listener, tuple, tcp);
        handled.state_after = self.state(h);
        handled.handle = Some(h);
    }

    /// Create the passive connection of LI-4.
    fn accept_syn(
        &mut self,
        now: Instant,
        listener: SocketHandle,
        tuple: FourTuple,
        syn: &TcpRepr,
    ) -> SocketHandle {
        let iss = self.isn.isn(now, &tuple);
        let tcb = Tcb::accept_syn(&self.config, tuple, iss, syn, now);
        let h = self.alloc_handle();
        let conn = Conn {
            tcb,
            listener: Some(listener),
            queued: false,
            owned: false,
            released: false,
            in_demux: true,
        };
        self.sockets.insert(h, Socket::Conn(Box::new(conn)));
        self.conns.insert(tuple, h);
        if let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener) {
            l.half_open.insert(h);
        }
        self.update(now, h);
        h
    }

    // ----- SEGMENT ARRIVES with a TCB ----------------------------------------------------------

    fn segment_for_conn(
        &mut self,
        now: Instant,
        h: SocketHandle,
        seg: &Segment,
        security_ok: bool,
        handled: &mut Handled,
    ) {
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            // The table and the sockets always agree; treat a mismatch as CLOSED.
            self.conns.retain(|_, v| *v != h);
            return;
        };
        let arrival = Arrival {
            tcp: &seg.tcp,
            security_ok,
            ecn: seg.ip.ecn(),
        };
        let outcome = c.tcb.handle_segment(now, &arrival);
        let reopen = c.tcb.take_time_wait_syn();
        handled.rules = outcome.rules;
        handled.handle = Some(h);
        handled.state_after = c.tcb.state();
        self.update(now, h);
        if reopen {
            // SQ-5 (MAY-2, RFC 6191): the TIME-WAIT TCB is deleted and its SYN opens a new
            // incarnation, processed as if it had arrived in LISTEN. Without a listener on the
            // port it meets CLOSED instead (CL-2), as any SYN to a closed port does.
            let tuple = FourTuple {
                local: seg.dst(),
                remote: seg.src(),
            };
            let mut next = Handled::found(tuple, State::Closed);
            if let Some(l) = self.find_listener(tuple.local) {
                next.state_after = State::Listen;
                self.segment_for_listener(now, l, tuple, seg, security_ok, &mut next);
            } else {
                self.segment_for_closed(tuple, &seg.tcp, &mut next);
            }
            handled.rules.extend(next.rules);
            handled.state_after = next.state_after;
            handled.handle = next.handle;
        }
    }

    // ----- bookkeeping --------------------------------------------------------------------------

    /// After anything that may have changed connection `h`: move a passive connection from the
    /// half-open set to the accept queue, forward its events, and forget it once its TCB is
    /// deleted (taking its last segments first).
    fn update(&mut self, now: Instant, h: SocketHandle) {
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            return;
        };
        let gone = c.tcb.is_closed() || c.tcb.returned_to_listen();
        let mut incoming = None;
        let mut left_half_open = None;
        if let (Some(l), false) = (c.listener, c.queued) {
            if gone {
                left_half_open = Some(l);
            } else if c.tcb.state() != State::SynReceived {
                // The handshake completed (3.10.7.4 fifth check, SYN-RECEIVED -> ESTABLISHED).
                c.queued = true;
                left_half_open = Some(l);
                incoming = Some(l);
            }
        }
        let visible = c.owned || c.queued;
        let mut out = Vec::new();
        while let Some(ev) = c.tcb.poll_event() {
            out.push(ev);
        }
        let mut last = Vec::new();
        if gone && c.in_demux {
            c.in_demux = false;
            while let Some(tcp) = c.tcb.poll_transmit(now) {
                last.push(tcp);
            }
        }
        let forget = gone && (c.released || !visible || c.tcb.returned_to_listen());
        let tuple = c.tcb.tuple();

        if let Some(l) = left_half_open {
            if let Some(Socket::Listener(listener)) = self.sockets.get_mut(&l) {
                listener.half_open.remove(&h);
                if let Some(l) = incoming {
                    listener.accept_queue.push_back(h);
                    self.events.push_back((h, Event::Incoming { listener: l }));
                }
            }
        }
        if visible {
            self.events
                .extend(out.into_iter().map(|ev| (h, Event::Conn(ev))));
        }
        for tcp in last {
            let p = self.frame(tuple, tcp, ecn::NOT_ECT);
            self.transmit.push_back(p);
        }
        if gone && self.conns.get(&tuple) == Some(&h) {
            self.conns.remove(&tuple);
        }
        if forget {
            self.sockets.remove(&h);
        }
    }

    fn close_listener(&mut self, now: Instant, h: SocketHandle) {
        let Some(Socket::Listener(l)) = self.sockets.remove(&h) else {
            return;
        };
        self.listeners.remove(&l.local);
        // Connections nobody accepted die with their listener (RST if synchronized).
        for child in l.half_open.into_iter().chain(l.accept_queue) {
            if let Some(Socket::Conn(c)) = self.sockets.get_mut(&child) {
                c.listener = None;
                c.queued = false;
                if !c.tcb.is_closed() {
                    c.tcb.abort(now);
                }
                self.update(now, child);
                // Never visible to the application: gone even if the TCB lingers.
                if let Some(Socket::Conn(c)) = self.sockets.get(&child) {
                    if !c.owned {
                        let tuple = c.tcb.tuple();
                        if self.conns.get(&tuple) == Some(&child) {
                            self.conns.remove(&tuple);
                        }
                        self.sockets.remove(&child);
                    }
                }
            }
        }
    }

    /// A listener for `local`: the exact address first, then the wildcard of its family.
    fn find_listener(&self, local: SocketAddr) -> Option<SocketHandle> {
        if let Some(h) = self.listeners.get(&local) {
            return Some(*h);
        }
        let any: IpAddr = match local {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        };
        self.listeners
            .get(&SocketAddr::new(any, local.port()))
            .copied()
    }

    fn conn(&self, h: SocketHandle) -> Option<&Conn> {
        match self.sockets.get(&h) {
            Some(Socket::Conn(c)) => Some(c),
            _ => None,
        }
    }

    fn conn_mut(&mut self, h: SocketHandle) -> Result<&mut Conn, StackError> {
        match self.sockets.get_mut(&h) {
            Some(Socket::Conn(c)) => Ok(c),
            Some(Socket::Listener(_)) => Err(StackError::IsListener),
            None => Err(StackError::NoSuchSocket),
        }
    }

    fn alloc_handle(&mut self) -> SocketHandle {
        let h = SocketHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        h
    }

    fn ephemeral_tuple(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<FourTuple> {
        for _ in 0..EPHEMERAL_COUNT {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            let tuple = FourTuple {
                local: SocketAddr::new(local.ip(), port),
                remote,
            };
            if !self.conns.contains_key(&tuple) {
                return Some(tuple);
            }
        }
        None
    }

    /// `Config::security_level`: an IPv4 packet whose RFC 1108 Basic Security Option names
    /// another level is a mismatch. A packet without the option (and every IPv6 packet) is
    /// taken to be at our level.
    fn security_ok(&self, ip: &IpRepr) -> bool {
        match (self.config.security_level, ip) {
            (Some(ours), IpRepr::V4(v4)) => v4.security_level().is_none_or(|l| l == ours),
            _ => true,
        }
    }

    /// An RST of the stack itself (no TCB): `ack` given means RST+ACK.
    fn send_rst(&mut self, tuple: FourTuple, seq: SeqNumber, ack: Option<SeqNumber>) {
        let mut flags = TcpFlags::RST;
        if ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        let tcp = TcpRepr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            seq,
            ack: ack.unwrap_or_default(),
            flags,
            reserved: 0,
            window: 0,
            urgent: 0,
            options: Vec::new(),
            padding: Vec::new(),
            payload: Vec::new(),
        };
        self.stats.resets_sent += 1;
        let p = self.frame(tuple, tcp, ecn::NOT_ECT);
        self.transmit.push_back(p);
    }

    /// The IP packet around `tcp`: IPv4 with TTL from the config, DF set and a counting ident;
    /// IPv6 with that hop limit (MUST-49). `ecn`: the IP header's ECN field (RFC 3168 5).
    fn frame(&mut self, tuple: FourTuple, tcp: TcpRepr, ecn: u8) -> Vec<u8> {
        self.stats.segments_sent += 1;
        #[cfg(feature = "planted-bug")]
        let tcp = crate::planted::corrupt_ack(tcp);
        let ip = match (tuple.local.ip(), tuple.remote.ip()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                self.ip_ident = self.ip_ident.wrapping_add(1);
                IpRepr::V4(Ipv4Repr {
                    src,
                    dst,
                    dscp_ecn: ecn,
                    ident: self.ip_ident,
                    reserved_flag: false,
                    dont_frag: true,
                    ttl: self.config.ttl,
                    options: Vec::new(),
                })
            }
            (src, dst) => IpRepr::V6(Ipv6Repr {
                src: to_v6(src),
                dst: to_v6(dst),
                traffic_class: ecn,
                flow_label: 0,
                hop_limit: self.config.ttl,
                ext_headers: Vec::new(),
            }),
        };
        Segment { ip, tcp }.emit()
    }
}

/// The first connection of `sockets` with a segment to send.
fn poll_conns<'a>(
    now: Instant,
    sockets: impl Iterator<Item = (&'a SocketHandle, &'a mut Socket)>,
) -> Option<(SocketHandle, FourTuple, TcpRepr, bool)> {
    for (h, s) in sockets {
        if let Socket::Conn(c) = s {
            if c.in_demux {
                if let Some(tcp) = c.tcb.poll_transmit(now) {
                    return Some((*h, c.tcb.tuple(), tcp, c.tcb.sent_ect()));
                }
            }
        }
    }
    None
}

/// SEG.LEN (RFC 9293 3.4): payload octets, plus one for SYN and one for FIN.
fn seg_len(tcp: &TcpRepr) -> u32 {
    let len = tcp.payload.len() + usize::from(tcp.flags.syn()) + usize::from(tcp.flags.fin());
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// MUST-57: the limited broadcast and multicast addresses (a subnet broadcast needs a netmask
/// this stack does not have).
fn is_broadcast_or_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// MUST-57, MUST-63: a source must name one host.
fn is_valid_source(ip: IpAddr) -> bool {
    !ip.is_unspecified() && !is_broadcast_or_multicast(ip)
}

fn to_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn unspecified_tuple() -> FourTuple {
    let any = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
    FourTuple {
        local: any,
        remote: any,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seg_len_counts_syn_and_fin() {
        let mut t = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq: SeqNumber(0),
            ack: SeqNumber(0),
            flags: TcpFlags::SYN | TcpFlags::FIN,
            reserved: 0,
            window: 0,
            urgent: 0,
            options: Vec::new(),
            padding: Vec::new(),
            payload: vec![0; 5],
        };
        assert_eq!(seg_len(&t), 7);
        t.flags = TcpFlags::ACK;
        assert_eq!(seg_len(&t), 5);
    }
}
