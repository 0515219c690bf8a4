//! The `agent_protocol` target: the agent's connection handling
//! ([`tcpconform::agent::session::Sessions`], request parsing included) driven by arbitrary
//! events ([`crate::agent_input`]) against a backend that makes no socket call. After every
//! event the promises of `docs/SECURITY.md` are checked:
//!
//! - the backend is called only for a connection that sent an `auth` line with the token, while no
//!   other connection held the session, only with requests the policy allows, never with
//!   `auth`, and never outside a connection's own octets (not on accept, hang-up or a tick);
//! - the session passes to a connection only in its own octets, after that `auth`; when
//!   a session ends its sockets are aborted once;
//! - a connection accepted while a session is held is told `busy` and closed, at once;
//! - every answer to a connection without the session is followed by its closing; nothing is
//!   sent on a connection after it is closed, and it is closed once;
//! - after the deadlines are checked none is overdue, and no waiting connection's deadline is
//!   later than its authentication deadline; at most `MAX_WAITING` connections wait;
//! - every log line and every refusal is printable and bounded, whatever was received;
//! - every request that parses prints back to a line that parses to the same request.

use crate::agent_input::{auth_line, decode, Event, TOKEN};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tcpconform::agent::protocol::{hex, parse_request, Request, Response, MAX_LINE};
use tcpconform::agent::server::{Backend, Policy, ServerConfig};
use tcpconform::agent::session::{Action, ConnId, Sessions, Timeouts, MAX_LOG_LINE, MAX_WAITING};

/// One tick of [`Event::Wait`].
const TICK: Duration = Duration::from_millis(4);

/// Most octets [`Event::Fill`] events add up to in one input: enough to cross the line bound
/// twice, not enough to make an execution slow.
const MAX_FILL: usize = 2 * (MAX_LINE + 1);

/// Longest refusal message: what a peer sent is quoted only in part.
const MAX_REFUSAL: usize = 1024;

/// A backend that checks how it is called and answers like a kernel that has nothing to say.
struct Fake {
    policy: Policy,
    /// Set only while a connection's octets are being handled.
    open_for_calls: bool,
    calls: usize,
    resets: usize,
}

impl Backend for Fake {
    fn call(&mut self, req: &Request) -> Response {
        assert!(
            self.open_for_calls,
            "a backend call outside a connection's octets: {req:?}"
        );
        assert!(
            !matches!(req, Request::Auth { .. }),
            "auth reached the backend"
        );
        if let Err(e) = self.policy.check(req) {
            panic!("the backend was asked what the policy refuses ({e}): {req:?}");
        }
        self.calls += 1;
        match req {
            Request::Accept => Response::WouldBlock,
            Request::Write { data } => Response::Wrote { n: data.len() / 2 },
            Request::Read { max } => Response::Data {
                data: hex(&b"data"[..(*max).min(4)]),
            },
            Request::State { .. } => Response::State {
                state: Some(tcpconform::case::TcpState::Established),
            },
            _ => Response::Ok,
        }
    }

    fn reset(&mut self) {
        self.resets += 1;
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        token: TOKEN.into(),
        policy: Policy {
            bind_addrs: vec![
                "192.0.2.1".parse().expect("ip"),
                "2001:db8::1".parse().expect("ip"),
            ],
            ports: vec![80, 8080],
            peers: vec!["192.0.2.2".parse().expect("ip")],
        },
        timeouts: Timeouts::default(),
    }
}

struct Harness {
    s: Sessions,
    b: Fake,
    now: Instant,
    timeouts: Timeouts,
    /// Connections accepted so far (ids 0..accepted).
    accepted: ConnId,
    /// When each connection was accepted.
    accepted_at: BTreeMap<ConnId, Instant>,
    /// Whether a line received on each connection so far was an `auth` with the token.
    saw_token: BTreeMap<ConnId, bool>,
    /// Each connection's unfinished line.
    line: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeSet<ConnId>,
    /// The connections open now.
    live: BTreeSet<ConnId>,
    filled: usize,
}

impl Harness {
    fn new() -> Harness {
        let config = config();
        Harness {
            b: Fake {
                policy: config.policy.clone(),
                open_for_calls: false,
                calls: 0,
                resets: 0,
            },
            timeouts: config.timeouts,
            s: Sessions::new(config),
            now: Instant::now(),
            accepted: 0,
            accepted_at: BTreeMap::new(),
            saw_token: BTreeMap::new(),
            line: BTreeMap::new(),
            closed: BTreeSet::new(),
            live: BTreeSet::new(),
            filled: 0,
        }
    }

    fn conn(&self, c: u8) -> ConnId {
        ConnId::from(c) % (self.accepted + 1)
    }

    fn step(&mut self, e: &Event) {
        let owner_before = self.s.owner();
        let (calls_before, resets_before) = (self.b.calls, self.b.resets);
        // The connection whose octets this event carries, if any.
        let mut fed: Option<ConnId> = None;
        match e {
            Event::Accept => {
                let id = self.accepted;
                self.accepted += 1;
                self.accepted_at.insert(id, self.now);
                let peer = SocketAddr::from(([192, 0, 2, 9], 40_000 + (id % 20_000) as u16));
                self.s.accepted(id, peer, self.now, &mut self.b);
                if self.s.is_open(id) {
                    self.live.insert(id);
                }
            }
            Event::Data { conn, data } => {
                let id = self.conn(*conn);
                self.feed(id, data, true);
                fed = Some(id);
            }
            Event::Auth { conn } => {
                let id = self.conn(*conn);
                self.feed(id, &auth_line(), true);
                fed = Some(id);
            }
            Event::Fill { conn, kib, octet } => {
                let id = self.conn(*conn);
                let n = (usize::from(*kib) * 1024).min(MAX_FILL - self.filled);
                self.filled += n;
                // Fill is for lines over the bound; a quarter million empty lines would only
                // make the execution slow (`Data` sends as many lines as an input holds).
                let octet = if *octet == b'\n' { b' ' } else { *octet };
                self.feed(id, &vec![octet; n], false);
                fed = Some(id);
            }
            Event::HangUp { conn } => {
                let id = self.conn(*conn);
                self.s.closed(id, &mut self.b);
            }
            Event::WriteFailed { conn } => {
                let id = self.conn(*conn);
                self.s.closed(id, &mut self.b);
            }
            Event::Wait { ticks } => {
                self.now += TICK * u32::from(*ticks);
                self.s.tick(self.now, &mut self.b);
            }
            Event::Tick => self.s.tick(self.now, &mut self.b),
        }
        let owner = self.s.owner();

        // Backend calls: only within a connection's own octets that carried the token, while
        // no other connection held the session.
        if self.b.calls > calls_before {
            let id = fed.expect("calls only happen while octets are handled");
            assert!(
                self.saw_token[&id],
                "a call for connection {id} without the token"
            );
            assert!(
                owner_before.is_none() || owner_before == Some(id),
                "a call for connection {id} while {owner_before:?} held the session"
            );
        }
        // The session passes only to a connection, in its own octets, that sent the token.
        if let Some(o) = owner {
            if owner_before != Some(o) {
                assert_eq!(fed, Some(o), "the session passed to {o} outside its octets");
                assert!(
                    self.saw_token[&o],
                    "the session passed to {o} without the token"
                );
            }
            assert!(
                self.s.is_open(o),
                "the session belongs to a closed connection"
            );
        }
        // A session that ends has its sockets aborted, once; nothing else aborts them.
        let ended = owner_before.is_some() && owner != owner_before;
        assert_eq!(
            self.b.resets - resets_before,
            usize::from(ended),
            "session {owner_before:?} -> {owner:?}"
        );

        self.check_actions(e, owner_before);

        // Deadlines: after a check none is overdue; a waiting connection is due no later than
        // its authentication deadline.
        if matches!(e, Event::Wait { .. } | Event::Tick) {
            if let Some(d) = self.s.next_deadline() {
                assert!(d > self.now, "a deadline is overdue after a tick");
            }
        }
        // Only the connections open now (a handful), not every one ever accepted.
        let due = self.s.next_deadline();
        for id in &self.live {
            assert!(
                self.s.is_open(*id),
                "connection {id} closed without a Close"
            );
            if Some(*id) != owner {
                let at = self.accepted_at[id];
                let due = due.expect("an open connection has a deadline");
                assert!(
                    due <= at + self.timeouts.auth,
                    "connection {id} waits too long"
                );
            }
        }
        let waiting = self.live.len() - usize::from(owner.is_some());
        assert!(waiting <= MAX_WAITING, "{waiting} connections wait");
    }

    fn feed(&mut self, id: ConnId, data: &[u8], newlines: bool) {
        // The lines this connection sent, framed independently of the agent: whether one of
        // them is an `auth` with the right token (however it is spelt in JSON). Octets for a
        // connection that is not open go nowhere.
        self.saw_token.entry(id).or_default();
        if self.s.is_open(id) {
            self.frame(id, data, newlines);
        }
        self.b.open_for_calls = true;
        self.s.received(id, data, self.now, &mut self.b);
        self.b.open_for_calls = false;
    }

    fn frame(&mut self, id: ConnId, data: &[u8], newlines: bool) {
        let line = self.line.entry(id).or_default();
        let mut rest = data;
        // A fill holds no newline: not scanning it keeps the execution fast.
        while let Some(end) = newlines
            .then(|| rest.iter().position(|b| *b == b'\n'))
            .flatten()
        {
            line.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            if let Ok(req) = check_parsing(line) {
                if matches!(&req, Request::Auth { token } if token == TOKEN) {
                    self.saw_token.insert(id, true);
                }
            }
            line.clear();
        }
        // A line over the bound can no longer be a request: keep memory bounded.
        if line.len() <= MAX_LINE {
            line.extend_from_slice(&rest[..rest.len().min(MAX_LINE + 1 - line.len())]);
        }
    }

    fn check_actions(&mut self, e: &Event, owner_before: Option<ConnId>) {
        let actions: Vec<Action> = std::iter::from_fn(|| self.s.poll_action()).collect();
        let owner = self.s.owner();
        let closes: Vec<ConnId> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Close(id) => Some(*id),
                _ => None,
            })
            .collect();
        for a in &actions {
            match a {
                Action::Log(line) => {
                    assert!(printable(line), "log line {line:?}");
                    assert!(
                        line.len() <= MAX_LOG_LINE + 40,
                        "log line of {}",
                        line.len()
                    );
                }
                Action::Send(id, resp) => {
                    assert!(*id < self.accepted, "a response to {id}, never accepted");
                    assert!(
                        !self.closed.contains(id),
                        "a response to {id} after its close"
                    );
                    if Some(*id) != owner {
                        assert!(
                            closes.contains(id),
                            "an answer to {id} that was not its last"
                        );
                    }
                    if let Response::Refused { message } = resp {
                        assert!(
                            message.len() <= MAX_REFUSAL,
                            "a refusal of {}",
                            message.len()
                        );
                        assert!(printable(message), "{message:?}");
                    }
                    let line = serde_json::to_vec(resp).expect("serializes");
                    assert!(line.len() <= MAX_LINE, "a response line of {}", line.len());
                }
                Action::Close(id) => {
                    assert!(self.closed.insert(*id), "connection {id} closed twice");
                    self.live.remove(id);
                }
            }
        }
        // Accepted while a session was held: told `busy` and closed, at once.
        if matches!(e, Event::Accept) && owner_before.is_some() {
            let id = self.accepted - 1;
            let said: Vec<&Action> = actions
                .iter()
                .filter(|a| !matches!(a, Action::Log(_)))
                .collect();
            assert!(
                matches!(said.as_slice(),
                    [Action::Send(i, Response::Refused { message }), Action::Close(j)]
                    if *i == id && *j == id && message.contains("busy")),
                "{said:?}"
            );
        }
    }

    fn end(&mut self) {
        let owner = self.s.owner();
        let resets = self.b.resets;
        self.s.shutdown(&mut self.b);
        assert_eq!(self.b.resets - resets, usize::from(owner.is_some()));
        assert_eq!(self.s.owner(), None);
        self.check_actions(&Event::Tick, None);
        assert!((0..self.accepted).all(|id| !self.s.is_open(id)));
    }
}

/// No control character (C0, DEL, C1) in `text`.
fn printable(text: &str) -> bool {
    // Plain ASCII, the common case, byte by byte; the rest by character.
    match text.is_ascii() {
        true => text.bytes().all(|b| (0x20..0x7f).contains(&b)),
        false => !text.chars().any(char::is_control),
    }
}

/// Parses one line; a request that parses must print back to a line that parses to it.
fn check_parsing(line: &[u8]) -> Result<Request, String> {
    let req = parse_request(line)?;
    let printed = serde_json::to_vec(&req).expect("serializes");
    assert_eq!(
        parse_request(&printed).as_ref(),
        Ok(&req),
        "{}",
        String::from_utf8_lossy(&printed)
    );
    Ok(req)
}

/// The `agent_protocol` target.
pub fn agent_protocol(data: &[u8]) {
    let mut h = Harness::new();
    for e in decode(data) {
        h.step(&e);
    }
    h.end();
}
