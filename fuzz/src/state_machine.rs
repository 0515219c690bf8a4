//! The `state_machine` target: one reference [`Stack`] and a fuzzer-driven peer.
//!
//! The input is a setup and a list of events: peer segments whose sequence and acknowledgment
//! numbers are offsets from the live connection's numbers (so most land in or near the window),
//! raw bytes now and then, application calls and clock moves. The peer is a small model: what it
//! put on the wire, what it received in order from the stack, the stack's ISS. After every event
//! the invariants below are checked through the public API and the emitted packets only.
//!
//! Invariants (each `assert!` names its own):
//!
//! - every emitted packet parses with our parser, checksums verified, re-emits to the same bytes,
//!   and is accepted by etherparse with every field agreeing ([`crate::wire_check`]);
//! - the state of the connection only moves forward along RFC 9293 Figure 5 (any state may go
//!   to CLOSED; a passive SYN-RECEIVED may go back to LISTEN);
//! - SND.UNA =< SND.NXT, and SND.NXT - SND.UNA is bounded by the send buffer (+ SYN and FIN);
//! - RCV.NXT never moves back, and never past the octets the peer actually sent in sequence
//!   from IRS; the same holds for the ACK field of every segment the stack sends (it never
//!   acknowledges data it did not receive);
//! - data read by the application is exactly the peer's data, in order; data the stack sends is
//!   exactly the application's data at that sequence number, never beyond what was written;
//! - send/receive queues and the advertised window are bounded by the configured buffers;
//!   no segment carries more than SND.MSS octets;
//! - after `handle_timeout(now)`, `poll_timeout()` is later than `now` (no busy loop); before
//!   it, never earlier than `now`; a burst of output without new input is bounded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use reference_stack::stack::{SocketHandle, Stack};
use reference_stack::tcb::TcbInfo;
use reference_stack::time::{Duration, Instant};
use reference_stack::wire::{
    checksum, IpRepr, SackBlock, Segment, SeqNumber, TcpFlags, TcpOption, TcpRepr,
};
use reference_stack::{Config, FourTuple, RstPolicy, State};

use crate::{pattern, wire_check};

/// Packets one event may make the stack send (a full send buffer at the smallest MSS is ~100).
pub const MAX_PACKETS_PER_EVENT: usize = 5_000;
/// Timer expiries one clock move may go through.
pub const MAX_TIMER_STEPS: usize = 5_000;
/// Largest peer payload the fuzzer builds (keeps executions fast).
const MAX_PEER_PAYLOAD: usize = 1_600;

pub const STACK_PORT: u16 = 80;
pub const PEER_PORT: u16 = 40_000;

/// How the stack is configured and how the first connection starts.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Setup {
    /// Active open (the stack connects) instead of a listener.
    pub active: bool,
    pub ipv6: bool,
    /// Config knobs: see [`config`].
    pub knobs: u16,
    /// The peer's ISS.
    pub peer_iss: u32,
}

/// The options of a SYN or SYN-ACK the peer sends.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct SynOpts {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum SeqBase {
    /// The peer's next new sequence number.
    PeerNxt,
    /// The stack's RCV.NXT, as `info` reports it.
    StackRcvNxt,
    /// The stack's IRS.
    Irs,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum AckBase {
    /// What the peer received in order from the stack.
    PeerRcvNxt,
    /// The highest sequence number the stack has sent.
    StackSndMax,
    /// The stack's SND.UNA, as `info` reports it.
    StackSndUna,
}

/// A segment of the peer, its numbers relative to the live connection.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct PeerSeg {
    /// Low byte: FIN SYN RST PSH ACK URG ECE CWR as on the wire.
    pub flags: u8,
    pub seq_base: SeqBase,
    pub seq_off: i16,
    pub ack_base: AckBase,
    pub ack_off: i16,
    pub window: u16,
    pub len: u16,
    /// TSval advance and TSecr offset from the stack's last TSval.
    pub ts: Option<(u16, i16)>,
    /// One SACK block: left edge offset from the peer's receive point, and length.
    pub sack: Option<(i16, u16)>,
    pub urgent: u16,
}

#[derive(Debug, Clone, Arbitrary)]
pub enum Event {
    Peer(PeerSeg),
    /// A SYN (passive mode) or SYN-ACK (active mode) with these options, at the peer's ISS plus
    /// an offset.
    PeerSyn {
        opts: SynOpts,
        /// SYN-ACK (once the stack's SYN was seen) rather than SYN.
        ack: bool,
        seq_off: i8,
        ack_off: i8,
    },
    /// TCP header and payload as given, ports and checksum set for the live connection.
    RawTcp(Vec<u8>),
    /// A whole IP packet as given.
    RawIp(Vec<u8>),
    Send(u16),
    Recv(u16),
    Shutdown,
    Close,
    Abort,
    Listen,
    /// The stack opens a new connection to the peer (a new local port).
    Connect,
    /// The peer opens a new connection from a new port (passive open on the listener).
    NewPeerConn(SynOpts),
    SetNagle(bool),
    AdvanceMillis(u16),
    AdvanceSecs(u16),
    /// Jump to the earliest timer.
    ToTimeout,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct Input {
    pub setup: Setup,
    pub syn: SynOpts,
    pub events: Vec<Event>,
}

/// The stack's config for the knob bits: buffer sizes from 1 KiB to 64 KiB (so windows fill
/// and zero-window probes happen), MTUs down to 300, every option on or off, both RST
/// policies, delayed ACKs on or off.
pub fn config(knobs: u16) -> Config {
    let sizes = [1024, 4096, 16 * 1024, 65_535];
    let bits = |shift: u16, n: u16| usize::from((knobs >> shift) & n);
    Config {
        recv_buffer: sizes[bits(0, 3)],
        send_buffer: sizes[bits(2, 3)],
        mtu: [300, 576, 1500, 9000][bits(4, 3)],
        window_scale: [None, Some(0), Some(2), Some(7)][bits(6, 3)],
        timestamps: knobs & (1 << 8) != 0,
        sack: knobs & (1 << 9) != 0,
        rst_policy: if knobs & (1 << 10) != 0 {
            RstPolicy::Rfc793
        } else {
            RstPolicy::Rfc5961
        },
        delayed_ack: if knobs & (1 << 11) != 0 {
            None
        } else {
            Some(Duration::from_millis(100))
        },
        nagle: knobs & (1 << 12) == 0,
        time_wait_reuse: knobs & (1 << 13) != 0,
        keepalive: if knobs & (1 << 14) != 0 {
            Some(Duration::from_secs(7200))
        } else {
            None
        },
        syn_backlog: 4,
        accept_backlog: 4,
        isn_secret: Some([7; 16]),
        ..Config::default()
    }
}

/// The octets the peer sends at sequence numbers `seq..seq + len` (so retransmissions agree).
pub fn peer_octets(seq: SeqNumber, len: usize) -> &'static [u8] {
    pattern::octets(u64::from(seq.0), len)
}

/// The octets the application writes at stream offsets `off..off + len`. A different phase of
/// the pattern than the peer's, so one stream's octets do not pass for the other's.
pub fn app_octets(off: u64, len: usize) -> &'static [u8] {
    pattern::octets(off + APP_PHASE, len)
}

/// Where the application's stream starts in the pattern.
pub const APP_PHASE: u64 = 0x0B_5EED;

/// The peer's view of one connection.
#[derive(Debug, Clone)]
struct Conn {
    /// From the stack's point of view.
    tuple: FourTuple,
    handle: Option<SocketHandle>,
    last_state: Option<State>,
    peer_iss: SeqNumber,
    /// The next new sequence number of the peer.
    peer_nxt: SeqNumber,
    /// Every (seq, seg_len) the peer put on the wire on this tuple (SYN and FIN included).
    sent: Vec<(SeqNumber, u32)>,
    /// The last `contiguous_from` answer: (IRS, `sent.len()` then, octets). `sent` only grows,
    /// so the answer holds until it does; it is asked after every emitted ACK.
    covered: std::cell::Cell<Option<(SeqNumber, usize, u32)>>,
    /// The peer's payload bytes did not all follow [`peer_octets`] (raw input).
    tainted: bool,
    stack_iss: Option<SeqNumber>,
    peer_rcv_nxt: SeqNumber,
    stack_snd_max: SeqNumber,
    stack_tsval: u32,
    peer_tsval: u32,
    /// Octets the application queued with `send`, and read with `recv`.
    app_sent: u64,
    app_read: u64,
    /// The last `info`, kept for the segments the stack sends after the TCB is deleted.
    info: Option<TcbInfo>,
    /// IRS and RCV.NXT of the last `info` with a synchronized state.
    last_rcv_nxt: Option<(SeqNumber, SeqNumber)>,
}

impl Conn {
    fn new(tuple: FourTuple, handle: Option<SocketHandle>, peer_iss: SeqNumber) -> Conn {
        Conn {
            tuple,
            handle,
            last_state: None,
            peer_iss,
            peer_nxt: peer_iss,
            sent: Vec::new(),
            covered: std::cell::Cell::new(None),
            tainted: false,
            stack_iss: None,
            peer_rcv_nxt: SeqNumber(0),
            stack_snd_max: SeqNumber(0),
            stack_tsval: 0,
            peer_tsval: 1,
            app_sent: 0,
            app_read: 0,
            info: None,
            last_rcv_nxt: None,
        }
    }

    /// How many octets from `irs` on the peer has sent without a gap.
    fn contiguous_from(&self, irs: SeqNumber) -> u32 {
        if let Some((at, n, covered)) = self.covered.get() {
            if at == irs && n == self.sent.len() {
                return covered;
            }
        }
        let mut ranges: Vec<(u32, u32)> = self
            .sent
            .iter()
            .filter_map(|&(seq, len)| {
                let start = seq.wrapping_diff(irs);
                let end = i64::from(start) + i64::from(len);
                // Ranges starting before IRS count from IRS on.
                (end > 0 && start < i32::MAX / 2).then(|| (start.max(0) as u32, end as u32))
            })
            .collect();
        ranges.sort_unstable();
        let mut covered = 0u32;
        for (start, end) in ranges {
            if start > covered {
                break;
            }
            covered = covered.max(end);
        }
        self.covered.set(Some((irs, self.sent.len(), covered)));
        covered
    }
}

/// Legal moves of one connection within one event: the transitive closure of RFC 9293
/// Figure 5 (plus "any state -> CLOSED" for RST, ABORT and timeouts, and a passive
/// SYN-RECEIVED back to LISTEN, RS-2).
pub fn reachable(from: State, to: State) -> bool {
    use State::*;
    if from == to || to == Closed {
        return true;
    }
    let next: &[State] = match from {
        Closed => &[Listen, SynSent],
        Listen => &[SynReceived, SynSent],
        SynSent => &[SynReceived, Established],
        SynReceived => &[Established, FinWait1, Listen],
        Established => &[FinWait1, CloseWait],
        FinWait1 => &[FinWait2, Closing, TimeWait],
        FinWait2 => &[TimeWait],
        CloseWait => &[LastAck],
        Closing => &[TimeWait],
        LastAck | TimeWait => &[],
    };
    next.iter().any(|&n| n == to || reachable(n, to))
}

pub struct Harness {
    stack: Stack,
    config: Config,
    now: Instant,
    stack_ip: IpAddr,
    peer_ip: IpAddr,
    listener: Option<SocketHandle>,
    conn: Conn,
    next_port: u16,
}

impl Harness {
    pub fn new(setup: &Setup, syn: &SynOpts) -> Harness {
        let config = config(setup.knobs);
        let (stack_ip, peer_ip): (IpAddr, IpAddr) = if setup.ipv6 {
            (
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
            )
        } else {
            (
                Ipv4Addr::new(10, 0, 0, 1).into(),
                Ipv4Addr::new(10, 0, 0, 2).into(),
            )
        };
        let tuple = FourTuple {
            local: SocketAddr::new(stack_ip, STACK_PORT),
            remote: SocketAddr::new(peer_ip, PEER_PORT),
        };
        let mut h = Harness {
            stack: Stack::new(config.clone()),
            config,
            now: Instant::from_millis(1),
            stack_ip,
            peer_ip,
            listener: None,
            conn: Conn::new(tuple, None, SeqNumber(setup.peer_iss)),
            next_port: PEER_PORT + 1,
        };
        if setup.active {
            let handle = h
                .stack
                .connect(h.now, tuple.local, tuple.remote)
                .expect("connect to a valid address");
            h.conn.handle = Some(handle);
        } else {
            h.listener = Some(h.stack.listen(tuple.local).expect("listen"));
            h.peer_syn(syn, 0, None);
        }
        h.settle();
        h
    }

    pub fn run(input: &Input) {
        let mut h = Harness::new(&input.setup, &input.syn);
        for ev in &input.events {
            h.event(ev);
            h.settle();
        }
    }

    fn event(&mut self, ev: &Event) {
        let now = self.now;
        match ev {
            Event::Peer(p) => self.peer_segment(p),
            Event::PeerSyn {
                opts,
                ack,
                seq_off,
                ack_off,
            } => {
                let ack = ack.then_some(i32::from(*ack_off));
                self.peer_syn(opts, i32::from(*seq_off), ack)
            }
            Event::RawTcp(bytes) => self.raw_tcp(bytes),
            Event::RawIp(bytes) => self.inject(bytes),
            Event::Send(n) => {
                if let Some(h) = self.conn.handle {
                    let start = self.conn.app_sent;
                    let data = app_octets(start, usize::from(*n));
                    if let Ok(k) = self.stack.send(now, h, data) {
                        assert!(k <= data.len(), "send queued more than given");
                        self.conn.app_sent += k as u64;
                    }
                }
            }
            Event::Recv(n) => self.recv(usize::from(*n)),
            Event::Shutdown => {
                if let Some(h) = self.conn.handle {
                    let _ = self.stack.shutdown_write(now, h);
                }
            }
            Event::Close => {
                if let Some(h) = self.conn.handle {
                    let _ = self.stack.close(now, h);
                }
            }
            Event::Abort => {
                if let Some(h) = self.conn.handle {
                    let _ = self.stack.abort(now, h);
                }
            }
            Event::Listen => {
                if self.listener.is_none() {
                    let local = SocketAddr::new(self.stack_ip, STACK_PORT);
                    self.listener = self.stack.listen(local).ok();
                }
            }
            Event::Connect => {
                let tuple = self.new_tuple();
                if let Ok(handle) = self.stack.connect(now, tuple.local, tuple.remote) {
                    self.conn = Conn::new(tuple, Some(handle), self.conn.peer_iss + 7919u32);
                }
            }
            Event::NewPeerConn(opts) => {
                let mut tuple = self.new_tuple();
                tuple.local.set_port(STACK_PORT);
                self.conn = Conn::new(tuple, None, self.conn.peer_iss + 104_729u32);
                self.peer_syn(opts, 0, None);
            }
            Event::SetNagle(on) => {
                if let Some(h) = self.conn.handle {
                    let _ = self.stack.set_nagle(h, *on);
                }
            }
            Event::AdvanceMillis(ms) => {
                self.advance_to(now + Duration::from_millis(u64::from(*ms)));
            }
            Event::AdvanceSecs(s) => {
                self.advance_to(now + Duration::from_secs(u64::from(*s)));
            }
            Event::ToTimeout => {
                if let Some(t) = self.stack.poll_timeout() {
                    self.advance_to(t.max(now));
                }
            }
        }
    }

    /// A fresh 4-tuple with the next peer port (and the same port as local for active opens).
    fn new_tuple(&mut self) -> FourTuple {
        let port = self.next_port;
        self.next_port = self.next_port.wrapping_add(1).max(PEER_PORT);
        FourTuple {
            local: SocketAddr::new(self.stack_ip, port),
            remote: SocketAddr::new(self.peer_ip, port),
        }
    }

    /// Move the clock to `target`, firing every timer on the way. Each step must move time
    /// forward (a timer left at or before `now` after `handle_timeout(now)` is a busy loop).
    fn advance_to(&mut self, target: Instant) {
        for _ in 0..MAX_TIMER_STEPS {
            match self.stack.poll_timeout() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    self.fire_timers();
                }
                _ => {
                    self.now = target;
                    self.fire_timers();
                    return;
                }
            }
        }
        panic!("more than {MAX_TIMER_STEPS} timer expiries before {target}");
    }

    fn fire_timers(&mut self) {
        self.stack.handle_timeout(self.now);
        self.drain();
        if let Some(t) = self.stack.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t} is not after now {} right after handle_timeout",
                self.now
            );
        }
    }

    fn recv(&mut self, n: usize) {
        let Some(h) = self.conn.handle else { return };
        let mut buf = vec![0; n.min(70_000)];
        let Ok(k) = self.stack.recv(h, &mut buf) else {
            return;
        };
        let got = buf.get(..k).expect("recv returned more than the buffer");
        if let Some((irs, _)) = self.conn.last_rcv_nxt {
            if !self.conn.tainted {
                let first = irs + 1u32 + self.conn.app_read as u32;
                if let Some(i) = pattern::first_mismatch(u64::from(first.0), got) {
                    panic!("recv: wrong octet at sequence {}", first + i as u32);
                }
            }
        }
        self.conn.app_read += k as u64;
    }

    /// The peer's SYN, or SYN-ACK acknowledging the stack's ISS + 1 + `ack_off` once the
    /// stack's SYN was seen (a SYN alone then is a simultaneous open, RFC 9293 Figure 8).
    fn peer_syn(&mut self, opts: &SynOpts, seq_off: i32, ack_off: Option<i32>) {
        let mut options = Vec::new();
        if let Some(mss) = opts.mss {
            options.push(TcpOption::Mss(mss));
        }
        if let Some(ws) = opts.wscale {
            options.push(TcpOption::WindowScale(ws));
        }
        if opts.sack_permitted {
            options.push(TcpOption::SackPermitted);
        }
        if opts.timestamps {
            options.push(TcpOption::Timestamps {
                tsval: self.conn.peer_tsval,
                tsecr: 0,
            });
        }
        let (flags, ack) = match (self.conn.stack_iss, ack_off) {
            (Some(iss), Some(off)) => (TcpFlags::SYN | TcpFlags::ACK, iss + 1u32 + off as u32),
            _ => (TcpFlags::SYN, SeqNumber(0)),
        };
        let seq = self.conn.peer_iss + seq_off as u32;
        let tcp = TcpRepr {
            seq,
            ack,
            flags,
            window: 65_535,
            options,
            ..TcpRepr::default()
        };
        self.send_peer(tcp);
    }

    fn peer_segment(&mut self, p: &PeerSeg) {
        let info = self.conn.handle.and_then(|h| self.stack.info(h));
        let seq_base = match (p.seq_base, &info) {
            (SeqBase::StackRcvNxt, Some(i)) => i.rcv_nxt,
            (SeqBase::Irs, Some(i)) => i.irs,
            _ => self.conn.peer_nxt,
        };
        let ack_base = match (p.ack_base, &info) {
            (AckBase::StackSndUna, Some(i)) => i.snd_una,
            (AckBase::StackSndMax, _) => self.conn.stack_snd_max,
            _ => self.conn.peer_rcv_nxt,
        };
        let seq = seq_base + i32::from(p.seq_off) as u32;
        let flags = TcpFlags(u16::from(p.flags));
        let len = usize::from(p.len).min(MAX_PEER_PAYLOAD);
        let data_seq = seq + u32::from(flags.syn());
        let payload = peer_octets(data_seq, len).to_vec();
        let mut options = Vec::new();
        if let Some((adv, ecr)) = p.ts {
            self.conn.peer_tsval = self.conn.peer_tsval.wrapping_add(u32::from(adv));
            options.push(TcpOption::Timestamps {
                tsval: self.conn.peer_tsval,
                tsecr: self.conn.stack_tsval.wrapping_add(i32::from(ecr) as u32),
            });
        }
        if let Some((left, n)) = p.sack {
            let left = self.conn.peer_rcv_nxt + i32::from(left) as u32;
            options.push(TcpOption::Sack(vec![SackBlock {
                left,
                right: left + u32::from(n),
            }]));
        }
        let tcp = TcpRepr {
            seq,
            ack: ack_base + i32::from(p.ack_off) as u32,
            flags,
            window: p.window,
            urgent: p.urgent,
            options,
            payload,
            ..TcpRepr::default()
        };
        self.send_peer(tcp);
    }

    fn raw_tcp(&mut self, bytes: &[u8]) {
        let mut tcp = bytes.to_vec();
        if tcp.len() < 20 {
            return self.inject(bytes);
        }
        let t = self.conn.tuple;
        tcp[0..2].copy_from_slice(&t.remote.port().to_be_bytes());
        tcp[2..4].copy_from_slice(&t.local.port().to_be_bytes());
        let sum = checksum::tcp_checksum(t.remote.ip(), t.local.ip(), &tcp);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        let mut packet = Vec::new();
        let ip = IpRepr::new(t.remote.ip(), t.local.ip()).expect("same family");
        match &ip {
            IpRepr::V4(v4) => v4.emit_into(tcp.len(), &mut packet),
            IpRepr::V6(v6) => v6.emit_into(tcp.len(), &mut packet),
        }
        packet.extend_from_slice(&tcp);
        self.inject(&packet);
    }

    fn send_peer(&mut self, mut tcp: TcpRepr) {
        let t = self.conn.tuple;
        tcp.src_port = t.remote.port();
        tcp.dst_port = t.local.port();
        let seg = Segment {
            ip: IpRepr::new(t.remote.ip(), t.local.ip()).expect("same family"),
            tcp,
        };
        self.inject(&seg.emit());
    }

    /// Hand one packet to the stack, recording what the peer put on the wire first.
    fn inject(&mut self, packet: &[u8]) {
        if let Ok(seg) = Segment::parse(packet) {
            let t = self.conn.tuple;
            if seg.src() == t.remote && seg.dst() == t.local {
                let tcp = &seg.tcp;
                let len = tcp.seg_len();
                if len > 0 {
                    self.conn.sent.push((tcp.seq, len));
                }
                let data_seq = tcp.seq + u32::from(tcp.flags.syn());
                if pattern::first_mismatch(u64::from(data_seq.0), &tcp.payload).is_some() {
                    self.conn.tainted = true;
                }
                let end = tcp.seq + len;
                if end.wrapping_diff(self.conn.peer_nxt) > 0 {
                    self.conn.peer_nxt = end;
                }
            }
        }
        if let Ok(handled) = self.stack.handle_packet(self.now, packet) {
            if handled.tuple == Some(self.conn.tuple) {
                if let Some(h) = handled.handle {
                    if self.conn.handle != Some(h) {
                        self.conn.handle = Some(h);
                        // A new incarnation on the same tuple (the old one closed, or
                        // TIME-WAIT reuse): its variables start afresh.
                        self.conn.last_state = None;
                        self.conn.info = None;
                        self.conn.last_rcv_nxt = None;
                        self.conn.app_read = 0;
                        self.conn.app_sent = 0;
                        self.conn.stack_iss = None;
                    }
                }
            }
        }
        self.drain();
    }

    /// Take everything the stack wants to send, checking each packet.
    fn drain(&mut self) {
        for _ in 0..MAX_PACKETS_PER_EVENT {
            let Some(p) = self.stack.poll_transmit(self.now) else {
                return;
            };
            self.check_emitted(&p);
        }
        panic!("more than {MAX_PACKETS_PER_EVENT} packets without new input");
    }

    fn check_emitted(&mut self, p: &[u8]) {
        let seg = Segment::parse(p).unwrap_or_else(|e| panic!("stack emitted a bad packet: {e}"));
        assert_eq!(seg.emit(), p, "emitted packet is not in canonical form");
        assert_eq!(
            wire_check::differential(&seg, p),
            wire_check::Etherparse::Agrees,
            "etherparse rejects an emitted packet"
        );
        assert_eq!(
            seg.ip.src(),
            self.stack_ip,
            "emitted from a foreign address"
        );
        assert_eq!(seg.ip.dst(), self.peer_ip, "emitted to a foreign address");
        let tcp = &seg.tcp;
        assert!(tcp.reserved == 0, "reserved bits set");
        assert!(
            !tcp.flags.syn() || !tcp.flags.rst(),
            "SYN and RST in one segment"
        );
        let t = self.conn.tuple;
        if seg.src() != t.local || seg.dst() != t.remote {
            // A segment of an earlier connection (still closing) or an RST of CLOSED/LISTEN.
            return;
        }
        if let Some(info) = self.conn.handle.and_then(|h| self.stack.info(h)) {
            self.conn.info = Some(info);
        }
        let c = &mut self.conn;
        if tcp.flags.syn() {
            if c.stack_iss != Some(tcp.seq) {
                c.stack_iss = Some(tcp.seq);
                c.peer_rcv_nxt = tcp.seq;
                c.stack_snd_max = tcp.seq;
            }
            assert!(tcp.payload.is_empty(), "data on our SYN");
        }
        for opt in &tcp.options {
            if let TcpOption::Timestamps { tsval, .. } = opt {
                c.stack_tsval = *tsval;
            }
        }
        // An RST's ACK names the segment it answers (CL-2, LI-3); a SYN-ACK's is IRS + 1.
        if tcp.flags.ack() && !tcp.flags.rst() && !tcp.flags.syn() {
            if let Some(info) = &c.info {
                // Never ACK what the peer did not send (in sequence from IRS).
                let acked = tcp.ack.wrapping_diff(info.irs);
                let covered = c.contiguous_from(info.irs);
                assert!(
                    acked >= 0 && acked as u32 <= covered,
                    "stack ACKs {} but the peer sent only {covered} octets in order from IRS {}",
                    tcp.ack,
                    info.irs
                );
                let scaled = u64::from(tcp.window) << info.rcv_wscale;
                assert!(
                    scaled <= self.config.recv_buffer as u64,
                    "advertised window {scaled} beyond the receive buffer"
                );
                assert!(
                    tcp.payload.len() <= usize::from(info.snd_mss),
                    "segment of {} octets, SND.MSS is {}",
                    tcp.payload.len(),
                    info.snd_mss
                );
            }
        }
        if let (Some(iss), false) = (c.stack_iss, tcp.payload.is_empty()) {
            // Data is the application's, at its own sequence numbers, never beyond what it wrote.
            let first = tcp.seq.0.wrapping_sub(iss.0).wrapping_sub(1);
            let end = u64::from(first) + tcp.payload.len() as u64;
            assert!(
                end <= c.app_sent,
                "stack sends stream octets up to {end}, the application wrote {}",
                c.app_sent
            );
            if let Some(i) = pattern::first_mismatch(u64::from(first) + APP_PHASE, &tcp.payload) {
                let off = u64::from(first) + i as u64;
                panic!("sent octet {off} differs from what was written");
            }
        }
        if c.stack_iss.is_some() {
            let end = tcp.seq + tcp.seg_len();
            if tcp.seq.wrapping_diff(c.peer_rcv_nxt) <= 0 && end.wrapping_diff(c.peer_rcv_nxt) > 0 {
                c.peer_rcv_nxt = end;
            }
            if end.wrapping_diff(c.stack_snd_max) > 0 {
                c.stack_snd_max = end;
            }
        }
    }

    /// After every event: drop application events, check the connection's variables.
    fn settle(&mut self) {
        while self.stack.poll_event().is_some() {}
        if let Some(t) = self.stack.poll_timeout() {
            assert!(t >= self.now, "poll_timeout {t} is before now {}", self.now);
        }
        let Some(h) = self.conn.handle else { return };
        let state = self.stack.state(h);
        if let Some(prev) = self.conn.last_state {
            assert!(
                reachable(prev, state),
                "illegal transition {prev} -> {state}"
            );
        }
        self.conn.last_state = Some(state);
        let Some(info) = self.stack.info(h) else {
            return;
        };
        assert_eq!(info.state, state, "info and state disagree");
        let cfg = &self.config;
        assert!(
            info.send_queue <= cfg.send_buffer,
            "send queue beyond buffer"
        );
        assert!(
            info.recv_queue + info.ooo_queue <= cfg.recv_buffer,
            "receive queues beyond buffer: {} + {}",
            info.recv_queue,
            info.ooo_queue
        );
        assert!(
            info.rcv_wnd as usize <= cfg.recv_buffer,
            "RCV.WND {} beyond buffer",
            info.rcv_wnd
        );
        if state.is_synchronized() {
            let flight = info.snd_nxt.wrapping_diff(info.snd_una);
            assert!(
                flight >= 0 && flight as usize <= cfg.send_buffer + 2,
                "SND.UNA {} SND.NXT {}",
                info.snd_una,
                info.snd_nxt
            );
            // RCV.NXT: forward only, and only over what the peer sent in order.
            let got = info.rcv_nxt.wrapping_diff(info.irs);
            let covered = self.conn.contiguous_from(info.irs);
            assert!(
                got >= 0 && got as u32 <= covered,
                "RCV.NXT {} is {got} past IRS {}, the peer sent {covered} in order",
                info.rcv_nxt,
                info.irs
            );
            if let Some((irs, prev)) = self.conn.last_rcv_nxt {
                if irs == info.irs {
                    assert!(
                        info.rcv_nxt.wrapping_diff(prev) >= 0,
                        "RCV.NXT went back from {prev} to {}",
                        info.rcv_nxt
                    );
                } else {
                    self.conn.app_read = 0;
                }
            }
            // Octets handed to the application (read or readable) are within RCV.NXT.
            let data = (got as u64).saturating_sub(1);
            assert!(
                self.conn.app_read + info.recv_queue as u64 <= data,
                "read {} + queued {} > {data} octets received",
                self.conn.app_read,
                info.recv_queue
            );
            self.conn.last_rcv_nxt = Some((info.irs, info.rcv_nxt));
        }
        self.conn.info = Some(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_5_moves_forward_only() {
        assert!(reachable(State::SynSent, State::CloseWait));
        assert!(reachable(State::SynReceived, State::Listen));
        assert!(reachable(State::FinWait1, State::TimeWait));
        assert!(reachable(State::TimeWait, State::Closed));
        assert!(!reachable(State::Established, State::SynReceived));
        assert!(!reachable(State::TimeWait, State::Established));
        assert!(!reachable(State::CloseWait, State::FinWait1));
        assert!(!reachable(State::FinWait2, State::Closing));
    }

    #[test]
    fn contiguous_coverage_stops_at_the_first_gap() {
        let tuple = FourTuple {
            local: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1),
            remote: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 2),
        };
        let irs = SeqNumber(u32::MAX - 1);
        let mut c = Conn::new(tuple, None, irs);
        c.sent = vec![
            (irs, 1),
            (irs + 1u32, 10),
            (irs + 20u32, 5),
            (irs - 5u32, 8),
        ];
        assert_eq!(c.contiguous_from(irs), 11);
        c.sent.push((irs + 11u32, 9));
        assert_eq!(c.contiguous_from(irs), 25);
    }

    #[test]
    fn a_short_session_passes_every_invariant() {
        let setup = Setup {
            active: false,
            ipv6: false,
            knobs: 0b1_0011_0101,
            peer_iss: 5000,
        };
        let opts = SynOpts {
            mss: Some(1000),
            wscale: Some(2),
            sack_permitted: true,
            timestamps: true,
        };
        let ack = PeerSeg {
            flags: 0x10,
            seq_base: SeqBase::PeerNxt,
            seq_off: 0,
            ack_base: AckBase::PeerRcvNxt,
            ack_off: 0,
            window: 8192,
            len: 0,
            ts: Some((1, 0)),
            sack: None,
            urgent: 0,
        };
        let data = PeerSeg { len: 700, ..ack };
        let input = Input {
            setup,
            syn: opts,
            events: vec![
                Event::Peer(ack),
                Event::Peer(data),
                Event::Send(3000),
                Event::Recv(1000),
                Event::Peer(ack),
                Event::AdvanceSecs(3),
                Event::Shutdown,
                Event::Peer(PeerSeg { flags: 0x11, ..ack }),
                Event::AdvanceSecs(600),
            ],
        };
        Harness::run(&input);
    }
}
