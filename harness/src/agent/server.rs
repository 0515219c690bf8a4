//! The agent's server side: the sockets and the clock around [`Sessions`] (who holds the
//! session, deadlines, what each line means), every request checked against the [`Policy`]
//! before a [`Backend`] performs it, every request logged on stderr.

use super::protocol::{unhex, Request, Response, MAX_IO};
use super::session::{Action, ConnId, Sessions, Timeouts};
use crate::app::sockets::SocketApp;
use crate::app::ErrorKind;
use crate::sys::sockdiag;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the serving loop looks at its stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

/// What the agent may touch: the only addresses and ports its socket calls may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Local addresses sockets may be bound to (`--bind-addr`).
    pub bind_addrs: Vec<IpAddr>,
    /// Local ports to listen on or connect from, and remote ports to connect to (`--allow-port`).
    pub ports: Vec<u16>,
    /// Remote addresses connect may name (`--allow-peer`).
    pub peers: Vec<IpAddr>,
}

impl Policy {
    fn local(&self, addr: IpAddr, port: u16) -> Result<(), String> {
        if !self.bind_addrs.contains(&addr) {
            return Err(format!("address {addr} is not an allowed --bind-addr"));
        }
        if !self.ports.contains(&port) {
            return Err(format!("port {port} is not an allowed --allow-port"));
        }
        Ok(())
    }

    /// `Ok` if the request names only allowed addresses and ports and stays within the bounds.
    pub fn check(&self, req: &Request) -> Result<(), String> {
        match req {
            Request::Listen { addr, port } => self.local(*addr, *port),
            Request::Connect { local, remote, .. } => {
                self.local(local.ip(), local.port())?;
                if !self.peers.contains(&remote.ip()) {
                    return Err(format!(
                        "peer {} is not an allowed --allow-peer",
                        remote.ip()
                    ));
                }
                if !self.ports.contains(&remote.port()) {
                    return Err(format!(
                        "port {} is not an allowed --allow-port",
                        remote.port()
                    ));
                }
                Ok(())
            }
            Request::Write { data } if data.len() > 2 * MAX_IO => {
                Err(format!("write of more than {MAX_IO} octets"))
            }
            Request::Write { data } if unhex(data).is_none() => Err("write data is not hex".into()),
            Request::Read { max } if *max > MAX_IO => {
                Err(format!("read of more than {MAX_IO} octets"))
            }
            // Read-only, but still only about our own addresses (an active OPEN's local port
            // may be the kernel's choice).
            Request::State { local, .. } if !self.bind_addrs.contains(&local.ip()) => Err(format!(
                "address {} is not an allowed --bind-addr",
                local.ip()
            )),
            _ => Ok(()),
        }
    }
}

/// Who performs the checked socket calls: the kernel ([`OsBackend`]) or a stack in process.
pub trait Backend: Send {
    /// Perform one request; never `Auth`, and only after [`Policy::check`] passed.
    fn call(&mut self, req: &Request) -> Response;
    /// Abort every socket (end of session, `reset`).
    fn reset(&mut self);
}

/// Kernel sockets in the agent's network namespace; state by sock_diag.
pub struct OsBackend {
    app: SocketApp,
}

impl Default for OsBackend {
    /// Calls never wait: the harness polls a pending accept or read (it owns the timing).
    fn default() -> OsBackend {
        OsBackend {
            app: SocketApp::new(Duration::ZERO, Duration::ZERO),
        }
    }
}

impl Backend for OsBackend {
    fn call(&mut self, req: &Request) -> Response {
        match req {
            Request::Auth { .. } => Response::refused("already authenticated"),
            Request::Reset => {
                self.reset();
                Response::Ok
            }
            Request::State { local, remote } => match sockdiag::state_of(*local, *remote) {
                Ok(s) => Response::State { state: Some(s) },
                Err(e) => Response::Error {
                    kind: ErrorKind::Other,
                    message: format!("sock_diag: {e}"),
                },
            },
            _ => match req.to_call() {
                Ok(Some(call)) => Response::from_result(self.app.call(&call)),
                Ok(None) => Response::refused("not an application call"),
                Err(e) => Response::refused(e),
            },
        }
    }

    fn reset(&mut self) {
        self.app.reset();
    }
}

/// The agent's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub token: String,
    pub policy: Policy,
    pub timeouts: Timeouts,
}

/// A bound agent, not yet serving.
pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
}

/// A serving agent on its own thread; stops (and aborts its sockets) on [`ServerHandle::stop`]
/// or drop.
pub struct ServerHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Octets read from a control connection at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Connections taken from the listen queue per turn, so that a flood of them cannot starve
/// the session.
const ACCEPTS_PER_TURN: usize = 64;

impl Server {
    /// Bind the control port. The caller has already refused wildcard addresses if it must.
    pub fn bind(addr: SocketAddr, config: ServerConfig) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Server { listener, config })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until `stop` is set or the process is interrupted (SIGINT, SIGTERM), on this
    /// thread: one poll(2) loop over the listener and every control connection, the rules in
    /// [`Sessions`]. The backend's calls do not block (a connection is never waited for), so
    /// a harness that connects while another holds the session is answered at once.
    pub fn run(self, backend: &mut dyn Backend, stop: &AtomicBool) {
        let mut sessions = Sessions::new(self.config.clone());
        let mut streams: BTreeMap<ConnId, TcpStream> = BTreeMap::new();
        let mut next_id: ConnId = 0;
        let mut buf = vec![0u8; READ_CHUNK];
        let write_within = self.config.timeouts.line;
        // SIGINT/SIGTERM stop the agent like `stop` does (see `crate::interrupt`).
        while !stop.load(Ordering::SeqCst) && !crate::interrupt::requested() {
            let now = Instant::now();
            let wait = sessions
                .next_deadline()
                .map_or(ACCEPT_POLL, |d| d.saturating_duration_since(now))
                .min(ACCEPT_POLL);
            let ids: Vec<ConnId> = streams.keys().copied().collect();
            let mut fds: Vec<libc::pollfd> = std::iter::once(self.listener.as_raw_fd())
                .chain(streams.values().map(AsRawFd::as_raw_fd))
                .map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // Round up: a deadline 0.4 ms away must not become a busy loop of 0 ms polls.
            let ms = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
            // SAFETY: `fds` is a valid array of pollfd of the length given.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    eprintln!("agent: poll: {e}");
                    std::thread::sleep(ACCEPT_POLL);
                }
                continue;
            }
            let now = Instant::now();
            for (fd, id) in fds.iter().skip(1).zip(&ids) {
                if fd.revents == 0 {
                    continue;
                }
                let Some(stream) = streams.get_mut(id) else {
                    continue;
                };
                match stream.read(&mut buf) {
                    Ok(0) => {
                        streams.remove(id);
                        sessions.closed(*id, backend);
                    }
                    Ok(n) => sessions.received(*id, buf.get(..n).unwrap_or(&[]), now, backend),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(_) => {
                        streams.remove(id);
                        sessions.closed(*id, backend);
                    }
                }
            }
            // Connections are read before new ones are taken: a harness that hangs up and
            // connects again is not told `busy` by its own old session.
            if fds.first().is_some_and(|f| f.revents != 0) {
                for _ in 0..ACCEPTS_PER_TURN {
                    match self.listener.accept() {
                        Ok((stream, peer)) => {
                            let _ = stream.set_nonblocking(true);
                            let _ = stream.set_nodelay(true);
                            let id = next_id;
                            next_id += 1;
                            streams.insert(id, stream);
                            sessions.accepted(id, peer, now, backend);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("agent: accept: {e}");
                            break;
                        }
                    }
                }
            }
            sessions.tick(Instant::now(), backend);
            perform(&mut sessions, &mut streams, backend, write_within);
        }
        sessions.shutdown(backend);
        perform(&mut sessions, &mut streams, backend, write_within);
    }

    /// [`Server::run`] on a thread of its own (in the caller's network namespace).
    pub fn spawn(self, mut backend: Box<dyn Backend>) -> io::Result<ServerHandle> {
        let addr = self.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tcpconform-agent".into())
            .spawn(move || self.run(backend.as_mut(), &flag))?;
        Ok(ServerHandle {
            stop,
            thread: Some(thread),
            addr,
        })
    }
}

/// Carries out what [`Sessions`] decided, in order.
fn perform(
    sessions: &mut Sessions,
    streams: &mut BTreeMap<ConnId, TcpStream>,
    backend: &mut dyn Backend,
    write_within: Duration,
) {
    while let Some(action) = sessions.poll_action() {
        match action {
            Action::Send(id, resp) => {
                let Some(stream) = streams.get_mut(&id) else {
                    continue;
                };
                if let Err(e) = send(stream, &resp, write_within) {
                    eprintln!("agent: connection {id}: cannot send: {e}");
                    streams.remove(&id);
                    sessions.closed(id, backend);
                }
            }
            // Dropping the stream closes it.
            Action::Close(id) => drop(streams.remove(&id)),
            Action::Log(line) => eprintln!("agent: {line}"),
        }
    }
}

/// Writes one response line on a non-blocking stream, waiting at most `within` for room: a
/// harness that does not read its answers cannot hold the agent.
fn send(stream: &mut TcpStream, resp: &Response, within: Duration) -> io::Result<()> {
    let mut line = serde_json::to_vec(resp).map_err(io::Error::other)?;
    line.push(b'\n');
    let until = Instant::now() + within;
    let mut rest = line.as_slice();
    while !rest.is_empty() {
        match stream.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = rest.get(n..).unwrap_or(&[]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the peer took no response for {within:?}"),
                    ));
                }
                let mut pfd = libc::pollfd {
                    fd: stream.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, ms) };
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
