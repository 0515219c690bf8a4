//! The agent's server side: one authenticated harness at a time, every request checked against
//! the [`Policy`] before a [`Backend`] performs it, every request logged on stderr.

use super::protocol::{token_eq, unhex, Request, Response, MAX_IO, MAX_LINE};
use crate::app::sockets::SocketApp;
use crate::app::ErrorKind;
use crate::sys::sockdiag;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A session with no request for this long is closed (its sockets aborted). Longer than any
/// wait a case may make between two application calls (R2 of 3 minutes, 2MSL, ...), so that a
/// harness in the middle of a case is never cut off.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// How often the accept loop looks at its stop flag.
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
            Request::Connect { local, remote } => {
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

/// What one attempt at reading a request line gave.
enum Line {
    /// A whole line is in the buffer (newline removed).
    Complete,
    /// The read timed out; the buffer keeps what came so far.
    Pending,
    /// End of stream.
    Closed,
}

/// Reads (the rest of) one line of at most [`MAX_LINE`] octets into `buf`. An error if the line
/// is longer: the session cannot resynchronise and is closed.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Line> {
    let limit = (MAX_LINE + 1).saturating_sub(buf.len()) as u64;
    let before = buf.len();
    match reader.by_ref().take(limit).read_until(b'\n', buf) {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            return Ok(Line::Pending)
        }
        Err(e) => return Err(e),
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Line::Complete);
    }
    if buf.len() > MAX_LINE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("request longer than {MAX_LINE} octets"),
        ));
    }
    if buf.len() == before {
        return Ok(Line::Closed);
    }
    // The stream ended inside a line: take it as the last request.
    Ok(Line::Complete)
}

fn send(stream: &mut TcpStream, resp: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(resp).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// The agent's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub token: String,
    pub policy: Policy,
}

/// One session: authenticate, then check and perform requests until the harness hangs up.
fn session(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: &ServerConfig,
    backend: &mut dyn Backend,
    stop: &AtomicBool,
) {
    let log = |what: &str, resp: &Response| {
        let outcome = match resp {
            Response::Refused { message } => format!("REFUSED: {message}"),
            Response::Error { message, .. } => format!("error: {message}"),
            Response::Data { data } => format!("data ({} octets)", data.len() / 2),
            other => serde_json::to_string(other).unwrap_or_default(),
        };
        eprintln!("agent: {peer}: {what} -> {outcome}");
    };
    let _ = stream.set_read_timeout(Some(ACCEPT_POLL));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut buf = Vec::new();
    let mut authenticated = false;
    let mut idle_since = std::time::Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) || crate::interrupt::requested() {
            break;
        }
        match read_line(&mut reader, &mut buf) {
            Ok(Line::Complete) => idle_since = std::time::Instant::now(),
            Ok(Line::Pending) => {
                if idle_since.elapsed() > IDLE_TIMEOUT {
                    eprintln!("agent: {peer}: idle for {IDLE_TIMEOUT:?}");
                    break;
                }
                continue;
            }
            Ok(Line::Closed) => break,
            Err(e) => {
                let resp = Response::refused(format!("bad request: {e}"));
                log("(unreadable)", &resp);
                let _ = send(&mut stream, &resp);
                break;
            }
        }
        let parsed = super::protocol::parse_request(&buf);
        buf.clear();
        let req = match parsed {
            Ok(r) => r,
            Err(e) => {
                let resp = Response::refused(format!("bad request: {e}"));
                log("(malformed)", &resp);
                if send(&mut stream, &resp).is_err() || !authenticated {
                    break;
                }
                continue;
            }
        };
        let resp = if !authenticated {
            match &req {
                Request::Auth { token } if token_eq(token, &config.token) => {
                    authenticated = true;
                    Response::Ok
                }
                Request::Auth { .. } => Response::refused("authentication failed"),
                _ => Response::refused("authenticate first: {\"op\":\"auth\",\"token\":...}"),
            }
        } else {
            match config.policy.check(&req) {
                Err(message) => Response::refused(message),
                Ok(()) => backend.call(&req),
            }
        };
        log(&req.summary(), &resp);
        if send(&mut stream, &resp).is_err() || !authenticated {
            break;
        }
    }
    backend.reset();
    eprintln!("agent: {peer}: session closed, sockets aborted");
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

    /// Serve until `stop` is set or the process is interrupted (SIGINT, SIGTERM): one session
    /// at a time, on this thread; a harness that connects while another is served is told so
    /// and disconnected.
    pub fn run(self, backend: &mut dyn Backend, stop: &AtomicBool) {
        let busy = Arc::new(AtomicBool::new(false));
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel::<(TcpStream, SocketAddr)>();
            let config = &self.config;
            let worker_busy = busy.clone();
            scope.spawn(move || {
                for (stream, peer) in rx {
                    session(stream, peer, config, backend, stop);
                    worker_busy.store(false, Ordering::SeqCst);
                }
            });
            // SIGINT/SIGTERM stop the agent like `stop` does (see `crate::interrupt`).
            while !stop.load(Ordering::SeqCst) && !crate::interrupt::requested() {
                match self.listener.accept() {
                    Ok((mut stream, peer)) => {
                        let _ = stream.set_nonblocking(false);
                        if busy.swap(true, Ordering::SeqCst) {
                            let resp = Response::refused("busy: another harness is connected");
                            eprintln!("agent: {peer}: connection refused: busy");
                            let _ = send(&mut stream, &resp);
                            continue;
                        }
                        eprintln!("agent: {peer}: connected");
                        if tx.send((stream, peer)).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(ACCEPT_POLL)
                    }
                    Err(e) => {
                        eprintln!("agent: accept: {e}");
                        std::thread::sleep(ACCEPT_POLL);
                    }
                }
            }
            drop(tx);
        });
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
