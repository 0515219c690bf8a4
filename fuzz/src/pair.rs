//! The `state_machine_pair` target: two reference stacks, A listening and B connecting, joined
//! by a channel the input drives: packets are delivered in any order, dropped or duplicated;
//! both applications write, read, shut down, close or abort; the clock moves.
//!
//! Checked throughout: every packet passes [`crate::wire_check`], and what each application has
//! read is a prefix of what the other wrote. Checked at the end, after a bounded loss-free
//! phase that delivers everything, reads everything and runs the timers until nothing is left:
//! unless a side was reset, refused or timed out, its own application closed or aborted, or
//! the writer aborted, each side has read exactly what the other wrote.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use arbitrary::Arbitrary;
use reference_stack::stack::{Event, SocketHandle, Stack, StackError};
use reference_stack::tcb::{ConnError, ConnEvent};
use reference_stack::time::{Duration, Instant};
use reference_stack::wire::Segment;

use crate::pattern;
use crate::state_machine::config;
use crate::wire_check;

/// Packets in flight in one direction; beyond this the channel drops the newest.
const MAX_IN_FLIGHT: usize = 256;
/// Rounds of the final delivery phase.
const MAX_FINAL_ROUNDS: usize = 3_000;
const MAX_PACKETS_PER_POLL: usize = 5_000;

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Op {
    Write {
        b: bool,
        len: u16,
    },
    Read {
        b: bool,
        len: u16,
    },
    /// Deliver the packet at `idx` (modulo what is in flight) of one direction.
    Deliver {
        to_b: bool,
        idx: u8,
    },
    Drop {
        to_b: bool,
        idx: u8,
    },
    Duplicate {
        to_b: bool,
        idx: u8,
    },
    /// Deliver everything in flight, in order.
    DeliverAll,
    AdvanceMillis(u16),
    ToTimeout,
    Shutdown {
        b: bool,
    },
    Close {
        b: bool,
    },
    Abort {
        b: bool,
    },
}

#[derive(Debug, Clone, Arbitrary)]
pub struct Input {
    pub knobs_a: u16,
    pub knobs_b: u16,
    pub ops: Vec<Op>,
}

/// One side: its stack, its connection, what its application wrote and read.
struct Side {
    stack: Stack,
    conn: Option<SocketHandle>,
    /// Stream offsets are tagged per side so A's and B's data differ.
    salt: u64,
    /// The other side's salt: what this side reads is checked octet by octet as it comes.
    peer_salt: u64,
    written: u64,
    read: Vec<u8>,
    /// Reset, refused or timed out.
    failed: bool,
    /// The application closed or aborted: it reads no more.
    released: bool,
    /// The application aborted: what it wrote may be lost (RFC 9293 3.10.5 flushes the
    /// queues; the RST may be lost too, leaving the other side waiting).
    aborted: bool,
    eof: bool,
}

impl Side {
    /// The octets this side's application writes at stream offsets `off..off + len`.
    fn octets(&self, off: u64, len: usize) -> &'static [u8] {
        pattern::octets(off + self.salt, len)
    }
}

/// Where B's stream starts in the pattern (A's starts at 0).
const B_PHASE: u64 = 54_321;

pub struct Pair {
    now: Instant,
    a: Side,
    b: Side,
    listener: SocketHandle,
    /// In flight to A, and to B.
    to_a: VecDeque<Vec<u8>>,
    to_b: VecDeque<Vec<u8>>,
}

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

impl Pair {
    pub fn run(input: &Input) {
        let mut p = Pair::new(input.knobs_a, input.knobs_b);
        for op in &input.ops {
            p.op(*op);
            p.pump();
        }
        p.finish();
    }

    fn new(knobs_a: u16, knobs_b: u16) -> Pair {
        let mut ca = config(knobs_a);
        let mut cb = config(knobs_b);
        ca.isn_secret = Some([1; 16]);
        cb.isn_secret = Some([2; 16]);
        let mut a = Stack::new(ca);
        let mut b = Stack::new(cb);
        let now = Instant::from_millis(1);
        let a_addr = SocketAddr::new(IpAddr::V4(A_IP), 80);
        let b_addr = SocketAddr::new(IpAddr::V4(B_IP), 5000);
        let listener = a.listen(a_addr).expect("listen");
        let conn = b.connect(now, b_addr, a_addr).expect("connect");
        let side = |stack, conn, salt, peer_salt| Side {
            stack,
            conn,
            salt,
            peer_salt,
            written: 0,
            read: Vec::new(),
            failed: false,
            released: false,
            aborted: false,
            eof: false,
        };
        let mut p = Pair {
            now,
            // Different phases of the pattern: one stream's octets do not pass for the other's.
            a: side(a, None, 0, B_PHASE),
            b: side(b, Some(conn), B_PHASE, 0),
            listener,
            to_a: VecDeque::new(),
            to_b: VecDeque::new(),
        };
        p.pump();
        p
    }

    fn side(&mut self, b: bool) -> &mut Side {
        if b {
            &mut self.b
        } else {
            &mut self.a
        }
    }

    fn op(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Write { b, len } => write(self.side(b), now, usize::from(len)),
            Op::Read { b, len } => read(self.side(b), usize::from(len)),
            Op::Deliver { to_b, idx } => {
                if let Some(p) = take(self.queue(to_b), idx) {
                    self.deliver(to_b, &p);
                }
            }
            Op::Drop { to_b, idx } => {
                let _ = take(self.queue(to_b), idx);
            }
            Op::Duplicate { to_b, idx } => {
                let q = self.queue(to_b);
                if let Some(p) = nth(q, idx).cloned() {
                    if q.len() < MAX_IN_FLIGHT {
                        q.push_back(p);
                    }
                }
            }
            Op::DeliverAll => self.deliver_all(),
            Op::AdvanceMillis(ms) => self.advance(now + Duration::from_millis(u64::from(ms))),
            Op::ToTimeout => {
                if let Some(t) = self.next_timeout() {
                    self.advance(t.max(now));
                }
            }
            Op::Shutdown { b } => {
                let s = self.side(b);
                if let Some(h) = s.conn {
                    let _ = s.stack.shutdown_write(now, h);
                }
            }
            Op::Close { b } => {
                let s = self.side(b);
                if let Some(h) = s.conn {
                    let _ = s.stack.close(now, h);
                    s.released = true;
                }
            }
            Op::Abort { b } => {
                let s = self.side(b);
                if let Some(h) = s.conn {
                    let _ = s.stack.abort(now, h);
                    s.released = true;
                    s.aborted = true;
                }
            }
        }
    }

    fn queue(&mut self, to_b: bool) -> &mut VecDeque<Vec<u8>> {
        if to_b {
            &mut self.to_b
        } else {
            &mut self.to_a
        }
    }

    fn deliver(&mut self, to_b: bool, packet: &[u8]) {
        let now = self.now;
        if std::env::var_os("FUZZ_TRACE").is_some() {
            if let Ok(seg) = Segment::parse(packet) {
                let t = &seg.tcp;
                let to = if to_b { "B" } else { "A" };
                eprintln!(
                    "{now} -> {to}: {} seq {} ack {} win {} len {}",
                    t.flags,
                    t.seq,
                    t.ack,
                    t.window,
                    t.payload.len()
                );
            }
        }
        // Errors (a packet mangled on the way) are the stack's to drop; none are made here.
        let _ = self.side(to_b).stack.handle_packet(now, packet);
    }

    fn deliver_all(&mut self) {
        while let Some(p) = self.to_b.pop_front() {
            self.deliver(true, &p);
        }
        while let Some(p) = self.to_a.pop_front() {
            self.deliver(false, &p);
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        match (self.a.stack.poll_timeout(), self.b.stack.poll_timeout()) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    /// Fire both stacks' timers up to `target`, one expiry at a time.
    fn advance(&mut self, target: Instant) {
        for _ in 0..crate::state_machine::MAX_TIMER_STEPS {
            match self.next_timeout() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    self.a.stack.handle_timeout(self.now);
                    self.b.stack.handle_timeout(self.now);
                    self.pump();
                    if let Some(t) = self.next_timeout() {
                        assert!(t > self.now, "timer at {t} not after now {}", self.now);
                    }
                }
                _ => {
                    self.now = target;
                    self.a.stack.handle_timeout(target);
                    self.b.stack.handle_timeout(target);
                    return;
                }
            }
        }
        panic!("timer storm before {target}");
    }

    /// Move packets from the stacks into the channel, pick up A's connection, note failures,
    /// check the prefix property.
    fn pump(&mut self) {
        let now = self.now;
        for (stack, queue) in [
            (&mut self.a.stack, &mut self.to_b),
            (&mut self.b.stack, &mut self.to_a),
        ] {
            for i in 0.. {
                let Some(p) = stack.poll_transmit(now) else {
                    break;
                };
                assert!(i < MAX_PACKETS_PER_POLL, "packet storm");
                let seg = Segment::parse(&p)
                    .unwrap_or_else(|e| panic!("stack emitted a bad packet: {e}"));
                assert_eq!(
                    wire_check::differential(&seg, &p),
                    wire_check::Etherparse::Agrees,
                    "etherparse rejects an emitted packet"
                );
                if queue.len() < MAX_IN_FLIGHT {
                    queue.push_back(p);
                }
            }
        }
        if self.a.conn.is_none() {
            if let Ok(Some(h)) = self.a.stack.accept(self.listener) {
                self.a.conn = Some(h);
            }
        }
        for s in [&mut self.a, &mut self.b] {
            while let Some((h, ev)) = s.stack.poll_event() {
                if Some(h) == s.conn {
                    if let Event::Conn(
                        ConnEvent::Reset | ConnEvent::Refused | ConnEvent::TimedOut,
                    ) = ev
                    {
                        s.failed = true;
                    }
                }
            }
        }
        check_prefix(&self.a, &self.b);
        check_prefix(&self.b, &self.a);
    }

    /// Loss-free until quiet, then compare the streams.
    fn finish(&mut self) {
        for _ in 0..MAX_FINAL_ROUNDS {
            self.deliver_all();
            self.pump();
            read(&mut self.a, usize::MAX);
            read(&mut self.b, usize::MAX);
            self.pump();
            if !self.to_a.is_empty() || !self.to_b.is_empty() {
                continue;
            }
            let done = |s: &Side, other: &Side| {
                s.failed || s.released || s.eof || s.read.len() as u64 == other.written
            };
            if done(&self.a, &self.b) && done(&self.b, &self.a) {
                break;
            }
            match self.next_timeout() {
                Some(t) => self.advance(t.max(self.now)),
                None => break,
            }
        }
        if std::env::var_os("FUZZ_DEBUG").is_some() {
            for (name, s) in [("A", &self.a), ("B", &self.b)] {
                let info = s.conn.and_then(|h| s.stack.info(h));
                eprintln!(
                    "{name}: now {} written {} read {} failed {} released {} eof {} timeout {:?}\n  {info:?}",
                    self.now,
                    s.written,
                    s.read.len(),
                    s.failed,
                    s.released,
                    s.eof,
                    s.stack.poll_timeout()
                );
            }
        }
        assert!(
            self.to_a.is_empty() && self.to_b.is_empty(),
            "packets still in flight after {MAX_FINAL_ROUNDS} loss-free rounds at {}: the stacks \
             never stop answering each other",
            self.now
        );
        for (s, other) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let ok = s.failed || other.failed || other.aborted || s.released || s.conn.is_none();
            if !ok {
                assert_eq!(
                    s.read.len() as u64,
                    other.written,
                    "a side read {} octets, the other wrote {}",
                    s.read.len(),
                    other.written
                );
            }
        }
    }
}

fn nth(q: &VecDeque<Vec<u8>>, idx: u8) -> Option<&Vec<u8>> {
    if q.is_empty() {
        return None;
    }
    q.get(usize::from(idx) % q.len())
}

fn take(q: &mut VecDeque<Vec<u8>>, idx: u8) -> Option<Vec<u8>> {
    if q.is_empty() {
        return None;
    }
    let i = usize::from(idx) % q.len();
    q.remove(i)
}

fn write(s: &mut Side, now: Instant, len: usize) {
    let Some(h) = s.conn else { return };
    let data = s.octets(s.written, len);
    if let Ok(n) = s.stack.send(now, h, data) {
        s.written += n as u64;
    }
}

fn read(s: &mut Side, max: usize) {
    let Some(h) = s.conn else { return };
    let mut buf = [0u8; 4096];
    let mut left = max;
    while left > 0 {
        let want = left.min(buf.len());
        let Some(chunk) = buf.get_mut(..want) else {
            return;
        };
        match s.stack.recv(h, chunk) {
            Ok(0) => {
                s.eof = true;
                return;
            }
            Ok(n) => {
                let got = buf.get(..n).expect("recv returned more than the buffer");
                let off = s.read.len() as u64;
                if let Some(i) = pattern::first_mismatch(off + s.peer_salt, got) {
                    panic!("octet {} of the stream differs", off + i as u64);
                }
                s.read.extend_from_slice(got);
                left = left.saturating_sub(n);
            }
            Err(StackError::Conn(ConnError::Reset | ConnError::Refused | ConnError::TimedOut)) => {
                s.failed = true;
                return;
            }
            Err(_) => return,
        }
    }
}

/// What `s` read is a prefix of what `other` wrote (the octets themselves are checked by
/// [`read`] as they arrive).
fn check_prefix(s: &Side, other: &Side) {
    assert!(
        s.read.len() as u64 <= other.written,
        "read {} octets, only {} were written",
        s.read.len(),
        other.written
    );
}
