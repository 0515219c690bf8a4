//! Bulk transfers between the reference stack and the Linux kernel, over the one
//! [`driver`](super::driver), in a network namespace of their own and checked end to end by a
//! hash of each direction: what the Linux interoperation test, the `tun_serve` example and the
//! TUN throughput benchmark run.
//!
//! Isolation: the namespace is created with `unshare(CLONE_NEWNET)` on the driver's own thread,
//! so nothing is ever configured or sent outside it. It has no name; it disappears (with the
//! TUN device and its addresses) when the last thread in it exits and the last file descriptor
//! naming it is closed: on success, failure and panic alike. Only 192.0.2.0/24 (TEST-NET-1)
//! and 2001:db8::/32 (documentation) are used.

use super::driver::Driver;
use crate::sys::netns;
use crate::sys::tun::{IfAddr, Tun, TUN_NAME};
use reference_stack::stack::{Event, SocketHandle, Stack, StackError};
use reference_stack::tcb::{ConnError, ConnEvent};
use reference_stack::{Config, Instant, State};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The kernel's side of the TUN link.
pub const LINUX4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const LINUX6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The reference stack's addresses.
pub const REF4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const REF6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// Move the calling thread into a new, empty network namespace and put the reference stack on
/// a TUN device there (device MTU `config.mtu`), the kernel at [`LINUX4`] and [`LINUX6`].
/// Returns the driver and a handle on the namespace (other threads `enter` it through this).
pub fn driver_in_new_namespace(config: Config) -> io::Result<(Driver, std::fs::File)> {
    netns::unshare()?;
    let ns = netns::current()?;
    let tun = Tun::open(TUN_NAME)?;
    tun.configure(
        Some(config.mtu),
        &[
            IfAddr {
                addr: LINUX4.into(),
                prefix: 24,
            },
            IfAddr {
                addr: LINUX6.into(),
                prefix: 64,
            },
        ],
    )?;
    Ok((Driver::new(Stack::new(config), tun), ns))
}

/// FNV-1a 64: a stream checksum both ends compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for b in data {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// The deterministic test stream: octet `i` of the stream `seed`.
pub fn fill_pattern(seed: u8, offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let x = offset + i as u64;
        *b = (x as u8) ^ ((x >> 8) as u8).wrapping_mul(31) ^ seed;
    }
}

/// One connection of the reference stack doing a bulk transfer: sends `to_send` pattern octets
/// then FIN, reads until the peer's FIN, hashing both directions.
pub struct Transfer {
    pub handle: SocketHandle,
    pub to_send: u64,
    pub sent: u64,
    pub sent_hash: Fnv,
    pub received: u64,
    pub recv_hash: Fnv,
    pub eof: bool,
    shut: bool,
    seed: u8,
    chunk: Vec<u8>,
    /// Echo mode: send back what is read instead of a pattern.
    echo: bool,
    pending: Vec<u8>,
}

impl Transfer {
    pub fn new(handle: SocketHandle, to_send: u64, seed: u8) -> Transfer {
        Transfer {
            handle,
            to_send,
            sent: 0,
            sent_hash: Fnv::default(),
            received: 0,
            recv_hash: Fnv::default(),
            eof: false,
            shut: false,
            seed,
            chunk: vec![0; 64 * 1024],
            echo: false,
            pending: Vec::new(),
        }
    }

    pub fn echo(handle: SocketHandle) -> Transfer {
        Transfer {
            echo: true,
            ..Transfer::new(handle, 0, 0)
        }
    }

    /// Move data as far as the stack lets us; true when both directions are finished.
    pub fn step(&mut self, stack: &mut Stack, now: Instant) -> Result<bool, StackError> {
        let mut buf = [0u8; 16 * 1024];
        while !self.eof {
            match stack.recv(self.handle, &mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let data = buf.get(..n).unwrap_or(&[]);
                    self.received += n as u64;
                    self.recv_hash.update(data);
                    if self.echo {
                        self.pending.extend_from_slice(data);
                    }
                }
                Err(StackError::Conn(ConnError::WouldBlock)) => break,
                Err(e) => return Err(e),
            }
            if self.echo && self.pending.len() > 1 << 20 {
                break;
            }
        }
        if self.echo {
            while !self.pending.is_empty() {
                match stack.send(now, self.handle, &self.pending) {
                    Ok(0) | Err(StackError::Conn(ConnError::WouldBlock)) => break,
                    Ok(n) => {
                        self.sent_hash.update(self.pending.get(..n).unwrap_or(&[]));
                        self.sent += n as u64;
                        self.pending.drain(..n);
                    }
                    Err(e) => return Err(e),
                }
            }
        } else {
            while self.sent < self.to_send {
                let len = (self.to_send - self.sent).min(self.chunk.len() as u64) as usize;
                let chunk = self.chunk.get_mut(..len).unwrap_or(&mut []);
                fill_pattern(self.seed, self.sent, chunk);
                match stack.send(now, self.handle, chunk) {
                    Ok(0) | Err(StackError::Conn(ConnError::WouldBlock)) => break,
                    Ok(n) => {
                        self.sent_hash.update(chunk.get(..n).unwrap_or(&[]));
                        self.sent += n as u64;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let all_sent = if self.echo {
            self.eof && self.pending.is_empty()
        } else {
            self.sent == self.to_send
        };
        if all_sent && !self.shut {
            stack.shutdown_write(now, self.handle)?;
            self.shut = true;
        }
        Ok(self.shut && self.eof)
    }
}

/// Every event the stack has queued.
fn drain_events(stack: &mut Stack) -> Vec<(SocketHandle, Event)> {
    std::iter::from_fn(|| stack.poll_event()).collect()
}

/// The IPv4 or the IPv6 address of a pair.
fn pick(v6: bool, v4_addr: Ipv4Addr, v6_addr: Ipv6Addr) -> IpAddr {
    if v6 {
        IpAddr::V6(v6_addr)
    } else {
        IpAddr::V4(v4_addr)
    }
}

/// The reference stack's address and `port`.
pub fn ref_addr(v6: bool, port: u16) -> SocketAddr {
    SocketAddr::new(pick(v6, REF4, REF6), port)
}

/// The kernel's address and `port`.
pub fn linux_addr(v6: bool, port: u16) -> SocketAddr {
    SocketAddr::new(pick(v6, LINUX4, LINUX6), port)
}

/// Linux side of a transfer on a std socket: send `to_send` pattern octets (seed `seed`) and
/// FIN from one thread while reading to EOF on this one. Returns (received, hash of received,
/// hash of sent).
pub fn linux_transfer(
    stream: std::net::TcpStream,
    to_send: u64,
    seed: u8,
) -> io::Result<(u64, Fnv, Fnv)> {
    use std::io::{Read, Write};
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = stream.try_clone()?;
    let sender = std::thread::spawn(move || -> io::Result<Fnv> {
        let mut hash = Fnv::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < to_send {
            let len = (to_send - sent).min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..len).unwrap_or(&mut []);
            fill_pattern(seed, sent, chunk);
            writer.write_all(chunk)?;
            hash.update(chunk);
            sent += len as u64;
        }
        writer.shutdown(std::net::Shutdown::Write)?;
        Ok(hash)
    });
    let mut reader = stream;
    let mut hash = Fnv::default();
    let mut received = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(buf.get(..n).unwrap_or(&[]));
        received += n as u64;
    }
    let sent_hash = sender
        .join()
        .map_err(|_| io::Error::other("sender thread panicked"))??;
    Ok((received, hash, sent_hash))
}

/// Who opens the connection in [`run_transfer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opener {
    /// A Linux `TcpStream` connects to a reference listener.
    Linux,
    /// The reference connects to a Linux `TcpListener`.
    Reference,
}

/// What both ends saw of one [`run_transfer`].
#[derive(Debug, Clone)]
pub struct Report {
    pub ref_sent: (u64, Fnv),
    pub ref_received: (u64, Fnv),
    pub linux_sent: (u64, Fnv),
    pub linux_received: (u64, Fnv),
    /// From the handshake's completion to both ends' end of stream.
    pub elapsed: Duration,
    pub packets_in: u64,
    pub packets_out: u64,
    /// The reference connection's state after CLOSE and its last ACKs.
    pub final_state: State,
    /// "connection reset" or time-out events seen by the reference.
    pub resets: usize,
}

impl Report {
    /// Every octet arrived, in order, in both directions.
    pub fn check(&self) -> Result<(), String> {
        if self.ref_sent != self.linux_received {
            return Err(format!(
                "reference sent {:?}, Linux received {:?}",
                self.ref_sent, self.linux_received
            ));
        }
        if self.linux_sent != self.ref_received {
            return Err(format!(
                "Linux sent {:?}, reference received {:?}",
                self.linux_sent, self.ref_received
            ));
        }
        Ok(())
    }

    /// Goodput over both directions, in Gbit/s.
    pub fn gbit_per_s(&self) -> f64 {
        let bits = (self.ref_sent.0 + self.linux_sent.0) as f64 * 8.0;
        bits / self.elapsed.as_secs_f64().max(1e-9) / 1e9
    }
}

pub const PORT: u16 = 5001;

/// In a fresh namespace: one connection between Linux and the reference, `ref_sends` octets
/// from the reference and `linux_sends` from Linux at the same time, then FIN both ways and
/// CLOSE. Everything is gone when this returns.
pub fn run_transfer(
    opener: Opener,
    v6: bool,
    ref_sends: u64,
    linux_sends: u64,
    config: Config,
    limit: Duration,
) -> io::Result<Report> {
    std::thread::Builder::new()
        .name("tun-driver".into())
        .spawn(move || drive_transfer(opener, v6, ref_sends, linux_sends, config, limit))?
        .join()
        .map_err(|_| io::Error::other("driver thread panicked"))?
}

/// The driver thread of `run_transfer`: it alone is in the namespace (plus the Linux peer).
fn drive_transfer(
    opener: Opener,
    v6: bool,
    ref_sends: u64,
    linux_sends: u64,
    config: Config,
    limit: Duration,
) -> io::Result<Report> {
    let (mut d, ns) = driver_in_new_namespace(config)?;
    let deadline = std::time::Instant::now() + limit;
    let timed_out =
        |what: &str| io::Error::new(io::ErrorKind::TimedOut, format!("timed out {what}"));

    // The Linux end, on its own thread.
    let peer = match opener {
        Opener::Linux => {
            let listener = d
                .stack
                .listen(ref_addr(v6, PORT))
                .map_err(io::Error::other)?;
            let ns = ns.try_clone()?;
            let peer = std::thread::spawn(move || -> io::Result<(u64, Fnv, Fnv)> {
                netns::enter(&ns)?;
                let stream = std::net::TcpStream::connect_timeout(
                    &ref_addr(v6, PORT),
                    Duration::from_secs(10),
                )?;
                linux_transfer(stream, linux_sends, 2)
            });
            (peer, Some(listener))
        }
        Opener::Reference => {
            // This thread is in the namespace: the listener is bound there.
            let listener = std::net::TcpListener::bind(linux_addr(v6, PORT))?;
            let peer = std::thread::spawn(move || -> io::Result<(u64, Fnv, Fnv)> {
                let (stream, _) = listener.accept()?;
                linux_transfer(stream, linux_sends, 2)
            });
            (peer, None)
        }
    };
    let (peer, listener) = peer;
    let handle = match listener {
        Some(l) => loop {
            if let Some(h) = d.stack.accept(l).map_err(io::Error::other)? {
                break h;
            }
            if std::time::Instant::now() > deadline || peer.is_finished() {
                return Err(timed_out("waiting for the Linux client"));
            }
            d.turn(Duration::from_millis(10))?;
        },
        None => {
            let now = d.now();
            d.stack
                .connect(now, ref_addr(v6, 0), linux_addr(v6, PORT))
                .map_err(io::Error::other)?
        }
    };
    let mut xfer = Transfer::new(handle, ref_sends, 1);
    let mut started = None;
    let mut resets = 0;
    loop {
        let now = d.now();
        if started.is_none() {
            // RECEIVE and SEND before the handshake completes are not for this driver.
            match d.stack.state(handle) {
                State::SynSent | State::SynReceived => {}
                _ => started = Some(std::time::Instant::now()),
            }
        }
        if started.is_some()
            && xfer.step(&mut d.stack, now).map_err(io::Error::other)?
            && peer.is_finished()
        {
            break;
        }
        resets += count_resets(&mut d.stack);
        if std::time::Instant::now() > deadline {
            return Err(timed_out(&format!(
                "in the transfer: state {}, reference sent {} received {}",
                d.stack.state(handle),
                xfer.sent,
                xfer.received
            )));
        }
        d.turn(Duration::from_millis(5))?;
    }
    let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
    let now = d.now();
    d.stack.close(now, handle).map_err(io::Error::other)?;
    // Let the last ACKs out: a clean close ends in TIME-WAIT or CLOSED (LAST-ACK acknowledged).
    let closing = std::time::Instant::now() + Duration::from_secs(5);
    let clean = |st: State| matches!(st, State::TimeWait | State::Closed);
    while !clean(d.stack.state(handle)) && std::time::Instant::now() < closing {
        d.turn(Duration::from_millis(5))?;
        resets += count_resets(&mut d.stack);
    }
    let final_state = d.stack.state(handle);
    let (received, recv_hash, sent_hash) = peer
        .join()
        .map_err(|_| io::Error::other("Linux peer panicked"))??;
    Ok(Report {
        ref_sent: (xfer.sent, xfer.sent_hash),
        ref_received: (xfer.received, xfer.recv_hash),
        linux_sent: (linux_sends, sent_hash),
        linux_received: (received, recv_hash),
        elapsed,
        packets_in: d.packets_in,
        packets_out: d.packets_out,
        final_state,
        resets,
    })
}

fn count_resets(stack: &mut Stack) -> usize {
    drain_events(stack)
        .iter()
        .filter(|(_, ev)| matches!(ev, Event::Conn(ConnEvent::Reset | ConnEvent::TimedOut)))
        .count()
}

/// In a fresh namespace, a Linux client connects to a reference port nobody listens on; the
/// reference answers CLOSED's RST (CL-2). Returns what `connect` returned.
pub fn connect_to_closed_port(v6: bool, port: u16) -> io::Result<io::Result<()>> {
    std::thread::spawn(move || -> io::Result<io::Result<()>> {
        let (mut d, ns) = driver_in_new_namespace(Config::default())?;
        let peer = std::thread::spawn(move || -> io::Result<io::Result<()>> {
            netns::enter(&ns)?;
            Ok(
                std::net::TcpStream::connect_timeout(&ref_addr(v6, port), Duration::from_secs(10))
                    .map(|_| ()),
            )
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !peer.is_finished() && std::time::Instant::now() < deadline {
            d.turn(Duration::from_millis(5))?;
        }
        peer.join()
            .map_err(|_| io::Error::other("Linux peer panicked"))?
    })
    .join()
    .map_err(|_| io::Error::other("driver thread panicked"))?
}
