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
//! until the application calls `close`, `abort` or `release` on it; a connection the
//! application never saw (half-open, or never accepted after its listener closed) is forgotten
//! at once.

mod arrive;
mod bookkeeping;
mod frame;

use frame::{is_broadcast_or_multicast, is_valid_source};

use crate::config::{Config, Keepalive};
use crate::fastopen::{ClientCookie, CookieJar};
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
    /// The application called `close`, `abort` or `release`: forget the socket once the TCB
    /// is deleted.
    released: bool,
    /// The application called `release`: nobody will read any more, so data that arrives is
    /// lost and draws an RST (RFC 9293 3.6.1 SHLD-3).
    reading_given_up: bool,
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
    /// The Fast Open cookie secret, when Fast Open is on.
    cookies: Option<CookieJar>,
    /// Fast Open cookies of servers, by (our address, server address) (RFC 7413 4.1.3: "the
    /// client should cache at most one (most recently received) cookie per client and server
    /// IP address pair").
    server_cookies: HashMap<(IpAddr, IpAddr), ClientCookie>,
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
        let cookies = config.fastopen.as_ref().map(|f| CookieJar::new(f.secret));
        Stack {
            config,
            cookies,
            server_cookies: HashMap::new(),
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
        self.open(now, local, remote, false)
    }

    /// Active OPEN with TCP Fast Open (RFC 7413 4.2.1), as Linux's TCP_FASTOPEN_CONNECT: with a
    /// cookie cached for the server, the SYN waits for the first `send` and carries the cookie
    /// and that data; without one, the SYN goes now and asks for a cookie.
    pub fn connect_fastopen(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<SocketHandle, StackError> {
        self.open(now, local, remote, true)
    }

    /// The server's cached Fast Open cookie, as seen from `local` (RFC 7413 4.1.3).
    pub fn fastopen_cookie(&self, local: IpAddr, remote: IpAddr) -> Option<&ClientCookie> {
        self.server_cookies.get(&(local, remote))
    }

    fn open(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        fastopen: bool,
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
        let mut tcb = Tcb::connect(&self.config, tuple, iss, now);
        if fastopen {
            tcb.ask_fastopen(self.server_cookies.get(&(lip, rip)));
        }
        let h = self.alloc_handle();
        let conn = Conn {
            tcb,
            listener: None,
            queued: false,
            owned: true,
            released: false,
            reading_given_up: false,
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
        self.let_go(now, h, false)
    }

    /// The application gives the connection up entirely, as a socket's close(2) does: unlike
    /// CLOSE it stops reading too (the "half-duplex" close of RFC 9293 3.6.1, MAY-1). Data
    /// still unread draws an RST instead of a FIN, and so does data arriving later (SHLD-3;
    /// RFC 1122 4.2.2.13, RFC 2525 2.17); otherwise the close goes on as after `close`. On a
    /// listener: as `close`.
    pub fn release(&mut self, now: Instant, h: SocketHandle) -> Result<(), StackError> {
        self.let_go(now, h, true)
    }

    /// `close`, or with `stop_reading` `release`: the application lets go of the handle.
    fn let_go(
        &mut self,
        now: Instant,
        h: SocketHandle,
        stop_reading: bool,
    ) -> Result<(), StackError> {
        match self.sockets.get_mut(&h) {
            None => Err(StackError::NoSuchSocket),
            Some(Socket::Listener(_)) => {
                self.close_listener(now, h);
                Ok(())
            }
            Some(Socket::Conn(c)) => {
                c.released = true;
                c.reading_given_up |= stop_reading;
                let r = if c.tcb.is_closed() {
                    Ok(())
                } else if stop_reading {
                    c.tcb.release(now)
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

    /// The connection's user timeout, R2 for its data (MUST-21; [`Tcb::set_user_timeout`]).
    pub fn set_user_timeout(
        &mut self,
        h: SocketHandle,
        r2: crate::time::Duration,
    ) -> Result<(), StackError> {
        self.conn_mut(h)?.tcb.set_user_timeout(r2);
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
            match icmp.mtu {
                // Path MTU Discovery (RFC 1191, RFC 8201): the segment size goes down.
                Some(mtu) => c.tcb.handle_packet_too_big(mtu, icmp.seq),
                None => c.tcb.handle_icmp(icmp.class, icmp.seq),
            };
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

fn unspecified_tuple() -> FourTuple {
    let any = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
    FourTuple {
        local: any,
        remote: any,
    }
}
