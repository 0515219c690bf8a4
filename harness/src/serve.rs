//! `tcpconform serve`: the reference stack as a real stack on a TUN device, with a real clock,
//! so that it can be tested over `--target link` like any foreign stack (or talked to by any
//! TCP client in the same namespace).
//!
//! The kernel's side of the TUN device gets `--kernel-addr`; the stack answers at `--addr`.
//! Ports given with `--listen` are served by a built-in application (echo or sink); with
//! `--agent-listen` the process also obeys the agent protocol ([`crate::agent`]) for a case's
//! application calls, with the same checks as `tcpconform agent`. `--netns NAME` runs all of it
//! inside an existing named namespace (`ip netns add NAME`), never touching the caller's.

use crate::agent::protocol::{Request, Response};
use crate::agent::server::{Backend, Policy, Server, ServerConfig};
use crate::app::stack::{state_of, StackApp};
use crate::app::ErrorKind;
use crate::cli::RstProfile;
use clap::{Args, ValueEnum};
use reference_stack::stack::{SocketHandle, Stack, StackError};
use reference_stack::tcb::ConnError;
use reference_stack::{Config, Instant};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

/// Longest sleep of one turn of the loop (agent requests are answered at least this often).
const TURN: Duration = Duration::from_millis(2);
/// The TUN device's MTU: the largest IP packet.
pub const DEVICE_MTU: usize = 65_535;

/// How long the agent session waits for the stack loop to answer.
const JOB_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppKind {
    /// Send back what is read; close after the peer's FIN.
    Echo,
    /// Read and drop everything; close after the peer's FIN.
    Sink,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TUN device name; attached to as it is if it already exists.
    #[arg(long, default_value = "tcpc0")]
    pub iface: String,
    /// Run inside this existing named network namespace (/run/netns/NAME).
    #[arg(long)]
    pub netns: Option<String>,
    /// Address (with prefix) for the kernel's side of a created device (repeatable).
    #[arg(long = "kernel-addr", default_values = ["192.0.2.1/24", "2001:db8::1/64"])]
    pub kernel_addrs: Vec<String>,
    /// The reference stack's own addresses (repeatable).
    #[arg(long = "addr", default_values = ["192.0.2.2", "2001:db8::2"])]
    pub addrs: Vec<IpAddr>,
    /// Ports the built-in application listens on (repeatable).
    #[arg(long = "listen")]
    pub listen: Vec<u16>,
    /// What the built-in application does with a connection.
    #[arg(long, value_enum, default_value = "echo")]
    pub app: AppKind,
    /// Also obey the agent protocol on this control address (no wildcard).
    #[arg(long, value_parser = crate::agent::address::parse_socket_addr)]
    pub agent_listen: Option<SocketAddr>,
    /// The agent token, first line of this file (else a random one is printed).
    #[arg(long)]
    pub agent_token_file: Option<PathBuf>,
    /// Ports agent requests may use (repeatable).
    #[arg(long = "allow-port")]
    pub allow_ports: Vec<u16>,
    /// Remote addresses agent connects may name (repeatable).
    #[arg(long = "allow-peer")]
    pub allow_peers: Vec<IpAddr>,
    /// The stack's MTU (its MSS follows). The device itself takes packets up to 65,535
    /// octets (`DEVICE_MTU`), so that a case may send a segment larger than the stack's MTU.
    #[arg(long, default_value_t = 1500)]
    pub mtu: usize,
    /// RST/SYN handling in synchronized states.
    #[arg(long, value_enum, default_value = "rfc5961")]
    pub reference_profile: RstProfile,
}

fn check(ret: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(ret)
    }
}

/// Move the whole (still single-threaded) process into the named namespace.
fn enter_named_netns(name: &str) -> io::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && name != "."
        && name != "..";
    if !valid {
        return Err(io::Error::other(format!("bad namespace name {name:?}")));
    }
    let ns = std::fs::File::open(format!("/run/netns/{name}"))
        .map_err(|e| io::Error::new(e.kind(), format!("namespace {name}: {e}")))?;
    // SAFETY: setns on a valid namespace fd; affects this (only) thread.
    check(
        unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
        "setns",
    )?;
    Ok(())
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A TUN device (IFF_TUN | IFF_NO_PI: one IP packet per read/write), non-blocking.
struct Tun {
    fd: OwnedFd,
}

impl Tun {
    /// Create the device `name`, or attach to it if it exists (then it is left as it is).
    fn open(name: &str, kernel_addrs: &[String], mtu: usize) -> io::Result<Tun> {
        let existed = std::path::Path::new("/sys/class/net").join(name).exists();
        // SAFETY: a plain open of a device node with a NUL-terminated path.
        let raw = check(
            unsafe {
                libc::open(
                    c"/dev/net/tun".as_ptr(),
                    libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
                )
            },
            "open /dev/net/tun",
        )?;
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        if name.is_empty() || name.len() >= ifr.ifr_name.len() {
            return Err(io::Error::other(format!("bad interface name {name:?}")));
        }
        for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which outlives the call.
        check(
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) },
            "TUNSETIFF",
        )?;
        if !existed {
            ip(&["link", "set", "lo", "up"])?;
            ip(&["link", "set", name, "mtu", &mtu.to_string()])?;
            for a in kernel_addrs {
                if a.contains(':') {
                    ip(&["-6", "addr", "add", a, "dev", name, "nodad"])?;
                } else {
                    ip(&["addr", "add", a, "dev", name])?;
                }
            }
            ip(&["link", "set", name, "up"])?;
        }
        Ok(Tun { fd })
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: reads at most buf.len() octets into buf.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n as usize))
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        // SAFETY: writes packet.len() octets from packet.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            // A full device queue drops the packet, as a link would.
            if e.raw_os_error() != Some(libc::EAGAIN) {
                return Err(e);
            }
        }
        Ok(())
    }

    fn wait(&self, timeout: Duration) {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(1000) as libc::c_int;
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) };
    }
}

/// An agent request for the stack loop, with where to answer.
type Job = (Request, Sender<Response>);

/// The agent's backend in `serve`: forwards each request to the stack loop.
struct StackBackend {
    jobs: Sender<Job>,
}

impl Backend for StackBackend {
    fn call(&mut self, req: &Request) -> Response {
        let (tx, rx) = mpsc::channel();
        if self.jobs.send((req.clone(), tx)).is_err() {
            return Response::Error {
                kind: ErrorKind::Other,
                message: "the stack loop is gone".into(),
            };
        }
        rx.recv_timeout(JOB_TIMEOUT)
            .unwrap_or_else(|_| Response::Error {
                kind: ErrorKind::Other,
                message: "the stack loop did not answer".into(),
            })
    }

    fn reset(&mut self) {
        let _ = self.call(&Request::Reset);
    }
}

/// The agent's sockets on the stack: one listener, one connection, as on a real target.
#[derive(Default)]
struct AgentSockets {
    app: StackApp,
}

impl AgentSockets {
    fn reset(&mut self, stack: &mut Stack, now: Instant) {
        self.app.reset(stack, now);
    }

    fn call(&mut self, stack: &mut Stack, now: Instant, req: &Request) -> Response {
        match req {
            Request::Auth { .. } => Response::refused("already authenticated"),
            Request::Reset => {
                self.reset(stack, now);
                Response::Ok
            }
            Request::State { local, remote } => Response::State {
                state: Some(state_of(stack, *local, *remote)),
            },
            _ => match req.to_call() {
                Ok(Some(call)) => Response::from_result(self.app.call(stack, now, &call)),
                Ok(None) => Response::refused("not an application call"),
                Err(e) => Response::refused(e),
            },
        }
    }
}

/// One connection of the built-in application.
struct AppConn {
    handle: SocketHandle,
    pending: Vec<u8>,
}

/// The reference stack on the TUN device, its built-in application and the agent's sockets.
struct Serve {
    stack: Stack,
    tun: Tun,
    start: std::time::Instant,
    buf: Vec<u8>,
    app: AppKind,
    listeners: Vec<SocketHandle>,
    conns: Vec<AppConn>,
    agent: AgentSockets,
}

impl Serve {
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn flush(&mut self) -> io::Result<()> {
        let now = self.now();
        while let Some(p) = self.stack.poll_transmit(now) {
            self.tun.send(&p)?;
        }
        Ok(())
    }

    /// One round: wait for a packet or the next timer, handle every packet (answers go out
    /// before the next is read), fire timers.
    fn turn(&mut self) -> io::Result<()> {
        self.flush()?;
        let now = self.now();
        let wait = match self.stack.poll_timeout() {
            Some(t) => Duration::from_micros(t.total_micros().saturating_sub(now.total_micros())),
            None => TURN,
        };
        self.tun.wait(wait.min(TURN));
        self.receive()?;
        let now = self.now();
        if self.stack.poll_timeout().is_some_and(|t| t <= now) {
            self.stack.handle_timeout(now);
        }
        self.flush()
    }

    /// Every packet waiting on the device; what the stack answers to one goes out before the
    /// next is read.
    fn receive(&mut self) -> io::Result<()> {
        while let Some(n) = self.tun.recv(&mut self.buf)? {
            let now = self.now();
            // Not TCP or not for us (the kernel's router solicitations, ...): dropped.
            let _ = self
                .stack
                .handle_packet(now, self.buf.get(..n).unwrap_or(&[]));
            self.flush()?;
        }
        Ok(())
    }

    /// The built-in application: accept, echo or drop, close after the peer's FIN.
    fn application(&mut self) {
        let now = self.now();
        for &l in &self.listeners {
            while let Ok(Some(h)) = self.stack.accept(l) {
                self.conns.push(AppConn {
                    handle: h,
                    pending: Vec::new(),
                });
            }
        }
        let mut buf = [0u8; 16 * 1024];
        let (stack, app) = (&mut self.stack, self.app);
        self.conns.retain_mut(|c| {
            loop {
                match stack.recv(c.handle, &mut buf) {
                    Ok(0) => {
                        // End of stream: finish what is owed, then CLOSE.
                        if c.pending.is_empty() || app == AppKind::Sink {
                            let _ = stack.close(now, c.handle);
                            return false;
                        }
                        break;
                    }
                    Ok(n) => {
                        if app == AppKind::Echo {
                            c.pending.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                        }
                    }
                    Err(StackError::Conn(ConnError::WouldBlock)) => break,
                    Err(_) => {
                        let _ = stack.close(now, c.handle);
                        return false;
                    }
                }
            }
            while !c.pending.is_empty() {
                match stack.send(now, c.handle, &c.pending) {
                    Ok(0) | Err(StackError::Conn(ConnError::WouldBlock)) => break,
                    Ok(n) => {
                        c.pending.drain(..n.min(c.pending.len()));
                    }
                    Err(_) => {
                        let _ = stack.close(now, c.handle);
                        return false;
                    }
                }
            }
            true
        });
        // Events are read from the sockets' states; drop them so they do not pile up.
        while self.stack.poll_event().is_some() {}
    }

    fn jobs(&mut self, jobs: &Receiver<Job>) -> io::Result<()> {
        while let Ok((req, reply)) = jobs.try_recv() {
            // Segments the harness injected before this request are on the device already:
            // handle them first, so that the request sees their effect (a state query right
            // after an ACK must see the ACK).
            self.receive()?;
            let now = self.now();
            let resp = self.agent.call(&mut self.stack, now, &req);
            let _ = reply.send(resp);
        }
        Ok(())
    }
}

fn agent_config(args: &ServeArgs) -> Result<Option<(SocketAddr, ServerConfig)>, String> {
    let Some(addr) = args.agent_listen else {
        return Ok(None);
    };
    if crate::agent::address::is_wildcard(addr.ip()) {
        return Err(format!(
            "--agent-listen {addr}: refusing a wildcard control address"
        ));
    }
    let token = match &args.agent_token_file {
        Some(p) => crate::agent::read_token(p)?,
        None => {
            let t = crate::agent::protocol::new_token();
            println!("token: {t}");
            t
        }
    };
    Ok(Some((
        addr,
        ServerConfig {
            token,
            policy: Policy {
                bind_addrs: args.addrs.clone(),
                ports: args.allow_ports.clone(),
                peers: args.allow_peers.clone(),
            },
            timeouts: Default::default(),
        },
    )))
}

/// `tcpconform serve`: runs until SIGINT or SIGTERM (then closes its device and exits with
/// 130 or 143, see [`crate::interrupt`]) or killed.
pub fn run(args: &ServeArgs) -> u8 {
    match serve(args) {
        Ok(()) => crate::exit::PASSED,
        Err(e) => {
            eprintln!("error: serve: {e}");
            crate::exit::USAGE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    crate::target::sweep::sweep_and_report();
    let agent = agent_config(args)?;
    // Before any thread exists, so that every thread is in the namespace.
    if let Some(ns) = &args.netns {
        enter_named_netns(ns).map_err(|e| e.to_string())?;
    }
    let tun = Tun::open(&args.iface, &args.kernel_addrs, DEVICE_MTU).map_err(|e| e.to_string())?;
    let config = Config {
        mtu: args.mtu,
        ..crate::commands::reference_config(args.reference_profile)
    };
    let mut s = Serve {
        stack: Stack::new(config),
        tun,
        start: std::time::Instant::now(),
        buf: vec![0; DEVICE_MTU + 64],
        app: args.app,
        listeners: Vec::new(),
        conns: Vec::new(),
        agent: AgentSockets::default(),
    };
    for &port in &args.listen {
        for &a in &args.addrs {
            let h = s
                .stack
                .listen(SocketAddr::new(a, port))
                .map_err(|e| format!("listen on {a} port {port}: {e}"))?;
            s.listeners.push(h);
        }
    }
    let (tx, jobs) = mpsc::channel::<Job>();
    let _agent = match agent {
        None => None,
        Some((addr, config)) => {
            let server = Server::bind(addr, config).map_err(|e| format!("agent on {addr}: {e}"))?;
            Some(
                server
                    .spawn(Box::new(StackBackend { jobs: tx }))
                    .map_err(|e| e.to_string())?,
            )
        }
    };
    eprintln!(
        "serve: reference stack at {:?} on {} ({}), listening on {:?} ({:?}){}",
        args.addrs,
        args.iface,
        args.netns
            .as_deref()
            .map_or("this namespace".to_string(), |n| format!("namespace {n}")),
        args.listen,
        args.app,
        args.agent_listen
            .map_or(String::new(), |a| format!(", agent on {a}")),
    );
    // A turn sleeps at most `TURN`, so a signal is noticed within that. Leaving drops the
    // agent (its sockets are aborted) and then the device, which vanishes if serve made it.
    while !crate::interrupt::requested() {
        s.turn().map_err(|e| format!("{}: {e}", args.iface))?;
        s.application();
        s.jobs(&jobs).map_err(|e| format!("{}: {e}", args.iface))?;
    }
    eprintln!("serve: interrupted, closing {}", args.iface);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_plain() {
        assert!(enter_named_netns("../etc").is_err());
        assert!(enter_named_netns("").is_err());
        assert!(enter_named_netns("a/b").is_err());
    }
}
