//! The agent's control connections, sans-IO: which connection holds the session, what each
//! line received means, and when a connection is cut off. [`super::server::Server`] owns the
//! sockets and the clock and carries out the [`Action`]s; the `agent_protocol` fuzz target
//! drives the same code with arbitrary bytes and a backend that makes no socket call.
//!
//! The rules:
//! - the session belongs to the first connection that authenticates; until then a connection
//!   holds nothing, and it must authenticate within [`Timeouts::auth`] or it is closed;
//! - while a session is held, a new connection is told `busy` and closed at once, and so is a
//!   waiting one that authenticates;
//! - at most [`MAX_WAITING`] connections wait to authenticate; the oldest gives way to a new one
//!   (a harness authenticates within milliseconds of connecting, a flood of idle connections
//!   then cannot keep it out);
//! - every answer to a connection without the session is its last;
//! - a request line is at most [`MAX_LINE`] octets and, once begun, must end within
//!   [`Timeouts::line`];
//! - a session with no request for [`Timeouts::idle`] ends; however a session ends, its
//!   sockets are aborted ([`Backend::reset`]);
//! - every log line is [`printable`] and bounded, whatever a peer sent.

use super::protocol::{parse_request, printable, token_eq, Request, Response, MAX_LINE};
use super::server::{Backend, ServerConfig};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most connections waiting to authenticate at once.
pub const MAX_WAITING: usize = 16;

/// Longest log line, before the note of what was cut (see [`printable`]).
pub const MAX_LOG_LINE: usize = 512;

/// Longest text of a peer's quoted back in a refusal.
const MAX_QUOTE: usize = 200;

/// How long a control connection may take at each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From connecting to a valid `auth`.
    pub auth: Duration,
    /// From the first octet of a request line to its newline; also how long a response may
    /// take to be written.
    pub line: Duration,
    /// From one request of a session to the next. Longer than any wait a case makes between
    /// two application calls (the harness's `--max-case-time`, 60 s by default).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            auth: Duration::from_secs(5),
            line: Duration::from_secs(5),
            idle: Duration::from_secs(120),
        }
    }
}

/// The driver's name for one control connection.
pub type ConnId = u64;

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this response (one JSON line) on the connection.
    Send(ConnId, Response),
    /// Close the connection, after what was sent on it.
    Close(ConnId),
    /// Log this line (printable, bounded).
    Log(String),
}

struct Conn {
    peer: SocketAddr,
    accepted: Instant,
    last_request: Instant,
    /// The request line so far, without its newline.
    line: Vec<u8>,
    /// When its first octet came.
    line_started: Option<Instant>,
}

/// Which deadline a connection meets next.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// Not authenticated in time.
    Auth,
    /// A request line begun and not ended in time.
    Line,
    /// A session without a request for too long.
    Idle,
}

/// Every open control connection, and the one that holds the session.
pub struct Sessions {
    config: ServerConfig,
    conns: BTreeMap<ConnId, Conn>,
    owner: Option<ConnId>,
    actions: VecDeque<Action>,
}

impl Sessions {
    pub fn new(config: ServerConfig) -> Sessions {
        Sessions {
            config,
            conns: BTreeMap::new(),
            owner: None,
            actions: VecDeque::new(),
        }
    }

    /// The connection that holds the session, if one does.
    pub fn owner(&self) -> Option<ConnId> {
        self.owner
    }

    /// Whether `id` is open (accepted, not closed since).
    pub fn is_open(&self, id: ConnId) -> bool {
        self.conns.contains_key(&id)
    }

    /// The next thing to do, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest time at which [`Sessions::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .map(|(id, c)| self.deadline(*id, c).0)
            .min()
    }

    /// A new connection from `peer`.
    pub fn accepted(
        &mut self,
        id: ConnId,
        peer: SocketAddr,
        now: Instant,
        backend: &mut dyn Backend,
    ) {
        if self.owner.is_some() {
            self.log(format!("{peer}: connection refused: busy"));
            self.actions.push_back(Action::Send(id, busy()));
            self.actions.push_back(Action::Close(id));
            return;
        }
        self.log(format!("{peer}: connected"));
        self.conns.insert(
            id,
            Conn {
                peer,
                accepted: now,
                last_request: now,
                line: Vec::new(),
                line_started: None,
            },
        );
        // No session is held: every connection is waiting. Ids grow with every connection,
        // so the first is the oldest.
        if self.conns.len() > MAX_WAITING {
            if let Some(oldest) = self.conns.keys().next().copied() {
                let resp = Response::refused(format!(
                    "too many connections waiting to authenticate (at most {MAX_WAITING})"
                ));
                self.end(oldest, resp, backend);
            }
        }
    }

    /// Octets received on `id`: each whole line is one request, performed (or refused) in
    /// order. A backend is only ever called for the connection that holds the session.
    pub fn received(&mut self, id: ConnId, data: &[u8], now: Instant, backend: &mut dyn Backend) {
        let mut rest = data;
        while !rest.is_empty() {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            let end = rest.iter().position(|b| *b == b'\n');
            let take = end.unwrap_or(rest.len());
            if conn.line.len() + take > MAX_LINE {
                // The session cannot find the next request boundary: it ends.
                let resp = Response::refused(format!("request longer than {MAX_LINE} octets"));
                self.end(id, resp, backend);
                return;
            }
            if conn.line.is_empty() && take > 0 {
                conn.line_started = Some(now);
            }
            conn.line.extend_from_slice(&rest[..take]);
            let Some(end) = end else {
                return;
            };
            rest = &rest[end + 1..];
            let line = std::mem::take(&mut conn.line);
            conn.line_started = None;
            conn.last_request = now;
            self.request(id, &line, backend);
        }
    }

    /// `id` is gone (the peer closed it, or it failed): its session, if it held it, ends.
    pub fn closed(&mut self, id: ConnId, backend: &mut dyn Backend) {
        self.close(id, backend);
    }

    /// Ends the connections whose time is up.
    pub fn tick(&mut self, now: Instant, backend: &mut dyn Backend) {
        let due: Vec<(ConnId, Due)> = self
            .conns
            .iter()
            .filter_map(|(id, c)| {
                let (at, why) = self.deadline(*id, c);
                (now >= at).then_some((*id, why))
            })
            .collect();
        let t = self.config.timeouts;
        for (id, why) in due {
            let message = match why {
                Due::Auth => format!("authentication timeout: no valid auth within {:?}", t.auth),
                Due::Line => format!("request line unfinished after {:?}: session closed", t.line),
                Due::Idle => format!("idle for {:?}: session closed", t.idle),
            };
            self.end(id, Response::refused(message), backend);
        }
    }

    /// The agent stops: every connection is closed, the session's sockets aborted.
    pub fn shutdown(&mut self, backend: &mut dyn Backend) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id, backend);
        }
    }

    /// When `id` is next due, and for what.
    fn deadline(&self, id: ConnId, c: &Conn) -> (Instant, Due) {
        let t = self.config.timeouts;
        if self.owner != Some(id) {
            return (c.accepted + t.auth, Due::Auth);
        }
        match c.line_started {
            Some(at) => (at + t.line, Due::Line),
            None => (c.last_request + t.idle, Due::Idle),
        }
    }

    /// One request line from `id`.
    fn request(&mut self, id: ConnId, line: &[u8], backend: &mut dyn Backend) {
        let Some(peer) = self.conns.get(&id).map(|c| c.peer) else {
            return;
        };
        let held = self.owner == Some(id);
        let (what, resp) = match parse_request(line) {
            Err(e) => (
                "(malformed)".to_string(),
                Response::refused(format!("bad request: {}", printable(&e, MAX_QUOTE))),
            ),
            Ok(req) => {
                let resp = match &req {
                    Request::Auth { .. } if held => Response::refused("already authenticated"),
                    _ if held => match self.config.policy.check(&req) {
                        Err(message) => Response::refused(message),
                        Ok(()) => backend.call(&req),
                    },
                    Request::Auth { token } if token_eq(token, &self.config.token) => {
                        if self.owner.is_some() {
                            busy()
                        } else {
                            self.owner = Some(id);
                            Response::Ok
                        }
                    }
                    Request::Auth { .. } => Response::refused("authentication failed"),
                    _ => Response::refused("authenticate first: {\"op\":\"auth\",\"token\":...}"),
                };
                (req.summary(), resp)
            }
        };
        self.log(format!("{peer}: {what} -> {}", outcome(&resp)));
        self.actions.push_back(Action::Send(id, resp));
        if self.owner != Some(id) {
            self.close(id, backend);
        }
    }

    /// Sends `resp` to `id` as its last word and closes it.
    fn end(&mut self, id: ConnId, resp: Response, backend: &mut dyn Backend) {
        let Some(peer) = self.conns.get(&id).map(|c| c.peer) else {
            return;
        };
        self.log(format!("{peer}: {}", outcome(&resp)));
        self.actions.push_back(Action::Send(id, resp));
        self.close(id, backend);
    }

    fn close(&mut self, id: ConnId, backend: &mut dyn Backend) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        self.actions.push_back(Action::Close(id));
        if self.owner == Some(id) {
            self.owner = None;
            backend.reset();
            self.log(format!("{}: session closed, sockets aborted", conn.peer));
        } else {
            self.log(format!("{}: closed", conn.peer));
        }
    }

    fn log(&mut self, line: String) {
        self.actions
            .push_back(Action::Log(printable(&line, MAX_LOG_LINE)));
    }
}

fn busy() -> Response {
    Response::refused("busy: another harness holds the session (one at a time)")
}

/// A response as the log shows it: never the data.
fn outcome(resp: &Response) -> String {
    match resp {
        Response::Refused { message } => format!("REFUSED: {message}"),
        Response::Error { message, .. } => format!("error: {message}"),
        Response::Data { data } => format!("data ({} octets)", data.len() / 2),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::server::Policy;

    const TOKEN: &str = "0123456789abcdef-token";

    /// Records what it was asked; makes no socket call.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<Request>,
        resets: usize,
    }

    impl Backend for Recorder {
        fn call(&mut self, req: &Request) -> Response {
            self.calls.push(req.clone());
            Response::Ok
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
    }

    struct Rig {
        s: Sessions,
        b: Recorder,
        t0: Instant,
    }

    impl Rig {
        fn new() -> Rig {
            let config = ServerConfig {
                token: TOKEN.into(),
                policy: Policy {
                    bind_addrs: vec!["192.0.2.1".parse().expect("ip")],
                    ports: vec![80],
                    peers: vec![],
                },
                timeouts: Timeouts::default(),
            };
            Rig {
                s: Sessions::new(config),
                b: Recorder::default(),
                t0: Instant::now(),
            }
        }
        fn at(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }
        fn accept(&mut self, id: ConnId, ms: u64) {
            let peer = SocketAddr::from(([192, 0, 2, 9], 40000 + id as u16));
            self.s.accepted(id, peer, self.at(ms), &mut self.b);
        }
        fn recv(&mut self, id: ConnId, data: &[u8], ms: u64) {
            self.s.received(id, data, self.at(ms), &mut self.b);
        }
        fn tick(&mut self, ms: u64) {
            self.s.tick(self.at(ms), &mut self.b);
        }
        fn auth(&mut self, id: ConnId, ms: u64) {
            let line = format!("{{\"op\":\"auth\",\"token\":\"{TOKEN}\"}}\n");
            self.recv(id, line.as_bytes(), ms);
        }
        /// The responses and closes since the last call, logs dropped.
        fn out(&mut self) -> Vec<Action> {
            std::iter::from_fn(|| self.s.poll_action())
                .filter(|a| !matches!(a, Action::Log(_)))
                .collect()
        }
    }

    fn refused_with(a: &Action, id: ConnId, what: &str) -> bool {
        matches!(a, Action::Send(i, Response::Refused { message }) if *i == id && message.contains(what))
    }

    #[test]
    fn a_waiting_connection_holds_nothing_and_times_out() {
        let mut r = Rig::new();
        r.accept(1, 0);
        r.recv(1, br#"{"op":"auth","tok"#, 10);
        r.accept(2, 20);
        r.auth(2, 30);
        assert_eq!(r.s.owner(), Some(2));
        assert_eq!(r.out(), vec![Action::Send(2, Response::Ok)]);
        r.tick(4_999);
        assert!(r.out().is_empty());
        r.tick(5_000);
        let out = r.out();
        assert!(
            refused_with(&out[0], 1, "authentication timeout"),
            "{out:?}"
        );
        assert_eq!(out[1], Action::Close(1));
        assert_eq!(r.s.owner(), Some(2));
        assert_eq!(r.b.resets, 0, "the session was not touched");
    }

    #[test]
    fn nothing_reaches_the_backend_before_auth() {
        let mut r = Rig::new();
        r.accept(1, 0);
        r.recv(
            1,
            b"{\"op\":\"listen\",\"addr\":\"192.0.2.1\",\"port\":80}\n",
            1,
        );
        let out = r.out();
        assert!(refused_with(&out[0], 1, "authenticate first"), "{out:?}");
        assert_eq!(out[1], Action::Close(1));
        r.accept(2, 2);
        r.recv(
            2,
            b"{\"op\":\"auth\",\"token\":\"0123456789abcdef-tokeX\"}\n",
            3,
        );
        let out = r.out();
        assert!(refused_with(&out[0], 2, "authentication failed"), "{out:?}");
        assert!(r.b.calls.is_empty());
        assert_eq!(r.s.owner(), None);
    }

    #[test]
    fn busy_at_once_while_a_session_is_held() {
        let mut r = Rig::new();
        r.accept(1, 0);
        r.accept(2, 0);
        r.auth(1, 1);
        r.out();
        // A new connection: told at once.
        r.accept(3, 2);
        let out = r.out();
        assert!(refused_with(&out[0], 3, "busy"), "{out:?}");
        assert_eq!(out[1], Action::Close(3));
        // A waiting one that authenticates: told too.
        r.auth(2, 3);
        let out = r.out();
        assert!(refused_with(&out[0], 2, "busy"), "{out:?}");
        assert_eq!(r.s.owner(), Some(1));
        // The session goes on; when it ends, its sockets are aborted and it is free.
        r.recv(1, b"{\"op\":\"accept\"}\n", 4);
        assert_eq!(r.b.calls, vec![Request::Accept]);
        r.s.closed(1, &mut r.b);
        assert_eq!((r.s.owner(), r.b.resets), (None, 1));
        r.accept(4, 5);
        r.auth(4, 6);
        assert_eq!(r.s.owner(), Some(4));
    }

    #[test]
    fn a_flood_of_waiting_connections_evicts_the_oldest() {
        let mut r = Rig::new();
        for id in 0..=MAX_WAITING as ConnId {
            r.accept(id, id);
        }
        let out = r.out();
        assert!(refused_with(&out[0], 0, "too many connections"), "{out:?}");
        assert!(!r.s.is_open(0));
        assert!(r.s.is_open(MAX_WAITING as ConnId));
        r.auth(MAX_WAITING as ConnId, 100);
        assert_eq!(r.s.owner(), Some(MAX_WAITING as ConnId));
    }

    #[test]
    fn line_bounds_and_deadlines_end_the_session() {
        // Too long: refused, closed, sockets aborted.
        let mut r = Rig::new();
        r.accept(1, 0);
        r.auth(1, 0);
        r.out();
        r.recv(1, &vec![b' '; MAX_LINE], 1);
        assert!(r.out().is_empty(), "exactly MAX_LINE octets may still end");
        r.recv(1, b" ", 2);
        let out = r.out();
        assert!(refused_with(&out[0], 1, "longer than"), "{out:?}");
        assert_eq!((r.s.owner(), r.b.resets), (None, 1));

        // Unfinished: the line deadline, counted from its first octet.
        let mut r = Rig::new();
        r.accept(1, 0);
        r.auth(1, 0);
        r.out();
        r.recv(1, b"{\"op\":", 1_000);
        r.tick(5_999);
        assert!(r.out().is_empty());
        r.tick(6_000);
        let out = r.out();
        assert!(refused_with(&out[0], 1, "unfinished"), "{out:?}");
        assert_eq!(r.b.resets, 1);

        // Idle: counted from the last request.
        let mut r = Rig::new();
        r.accept(1, 0);
        r.auth(1, 0);
        r.recv(1, b"{\"op\":\"reset\"}\n", 60_000);
        r.out();
        r.tick(179_999);
        assert!(r.out().is_empty());
        assert_eq!(r.s.next_deadline(), Some(r.at(180_000)));
        r.tick(180_000);
        let out = r.out();
        assert!(refused_with(&out[0], 1, "idle"), "{out:?}");
    }

    #[test]
    fn lines_split_anyhow_are_the_same_requests() {
        let mut r = Rig::new();
        r.accept(1, 0);
        let mut all = format!("{{\"op\":\"auth\",\"token\":\"{TOKEN}\"}}\n").into_bytes();
        all.extend_from_slice(b"{\"op\":\"accept\"}\n{\"op\":\"close\"}\n{\"op\":\"abo");
        for (i, b) in all.chunks(3).enumerate() {
            r.recv(1, b, i as u64);
        }
        assert_eq!(r.b.calls, vec![Request::Accept, Request::Close]);
        r.recv(1, b"rt\"}\n", 100);
        assert_eq!(r.b.calls.last(), Some(&Request::Abort));
    }

    #[test]
    fn log_lines_are_printable_and_bounded() {
        let mut r = Rig::new();
        r.accept(1, 0);
        let mut evil = b"{\"op\":\"x\\nagent: forged\\u001b[2J".to_vec();
        evil.extend(std::iter::repeat_n(b'A', 50_000));
        evil.extend_from_slice(b"\"}\n");
        r.recv(1, &evil, 1);
        let logs: Vec<String> = std::iter::from_fn(|| r.s.poll_action())
            .filter_map(|a| match a {
                Action::Log(l) => Some(l),
                _ => None,
            })
            .collect();
        assert!(logs.iter().any(|l| l.contains("bad request")), "{logs:?}");
        for l in &logs {
            assert!(!l.chars().any(char::is_control), "{l:?}");
            assert!(l.len() <= MAX_LOG_LINE + 40, "{}", l.len());
        }
    }
}
