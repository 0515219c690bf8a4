//! The agent's wire protocol: one JSON object per line, over TCP, request then response.
//!
//! The first request of a session must be `{"op":"auth","token":"..."}`. Octet strings are hex.
//! A `refused` response means the agent did not perform the request (bad JSON, unauthenticated,
//! outside its allowed ports/addresses, over a size bound): nothing changed on its side.
//! Every other response is the result of the socket call itself.

use crate::app::{AppCall, AppError, AppResult, ErrorKind, Keepalive};
use crate::tcp::TcpState;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Longest request or response line, newline excluded: a hex-encoded [`MAX_IO`] write plus room
/// for the JSON around it.
pub const MAX_LINE: usize = 2 * MAX_IO + 1024;

/// Largest write, and largest read, one request may ask for.
pub const MAX_IO: usize = 64 * 1024;

/// Shortest token the agent accepts from `--token-file`.
pub const MIN_TOKEN_LEN: usize = 16;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Must come first; compared in constant time.
    Auth {
        token: String,
    },
    /// Abort every socket of this session (between case instances).
    Reset,
    /// Passive OPEN on `addr:port`.
    Listen {
        addr: IpAddr,
        port: u16,
    },
    /// Take the next established connection, without waiting.
    Accept,
    /// Active OPEN from `local` to `remote`; returns once the SYN is on its way (with
    /// `fastopen` and a cached cookie, once the SYN waits for the first write).
    Connect {
        local: SocketAddr,
        remote: SocketAddr,
        /// TCP Fast Open (TCP_FASTOPEN_CONNECT); absent means false.
        #[serde(default, skip_serializing_if = "is_false")]
        fastopen: bool,
    },
    /// SEND, without waiting; `data` is hex.
    Write {
        data: String,
    },
    /// RECEIVE up to `max` octets, without waiting.
    Read {
        max: usize,
    },
    ShutdownWrite,
    /// shutdown(SHUT_WR): the RFC's CLOSE.
    Close,
    /// close(2) with SO_LINGER 0: RST.
    Abort,
    /// close(2): the connection given up, reading too (RST if data is left unread).
    Release,
    NoDelay {
        on: bool,
    },
    /// Keep-alives on: SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT.
    Keepalive {
        idle_secs: u32,
        interval_secs: u32,
        count: u32,
    },
    /// TCP_USER_TIMEOUT: the connection's R2 (MUST-21).
    UserTimeout {
        ms: u64,
    },
    /// The RFC 9293 state of `local` <-> `remote`.
    State {
        local: SocketAddr,
        remote: SocketAddr,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Parses one request line strictly: valid JSON, a known `op`, exactly its fields (serde does
/// not refuse extra fields of unit variants in tagged enums, so the keys are compared here).
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let req: Request = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&req).map_err(|e| e.to_string())?;
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    if keys(&value) != keys(&back) {
        return Err(format!(
            "fields {:?} are not those of `{}`",
            keys(&value),
            req.summary()
        ));
    }
    Ok(req)
}

impl Request {
    /// A one-line summary for the agent's log: never the token, never the data.
    pub fn summary(&self) -> String {
        match self {
            Request::Auth { .. } => "auth".into(),
            Request::Reset => "reset".into(),
            Request::Listen { addr, port } => format!("listen {}", SocketAddr::new(*addr, *port)),
            Request::Accept => "accept".into(),
            Request::Connect {
                local,
                remote,
                fastopen,
            } => format!(
                "connect {local} -> {remote}{}",
                if *fastopen { " (fastopen)" } else { "" }
            ),
            Request::Write { data } => format!("write {} octets", data.len() / 2),
            Request::Read { max } => format!("read up to {max}"),
            Request::ShutdownWrite => "shutdown(SHUT_WR)".into(),
            Request::Close => "close".into(),
            Request::Abort => "abort".into(),
            Request::Release => "release (close(2))".into(),
            Request::NoDelay { on } => format!("nodelay {on}"),
            Request::Keepalive {
                idle_secs,
                interval_secs,
                count,
            } => format!("keepalive idle {idle_secs}s interval {interval_secs}s count {count}"),
            Request::UserTimeout { ms } => format!("user timeout {ms}ms"),
            Request::State { local, remote } => format!("state {local} <-> {remote}"),
        }
    }
}

/// One response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    Ok,
    Wrote {
        n: usize,
    },
    /// Octets read, hex; empty = end of stream.
    Data {
        data: String,
    },
    WouldBlock,
    /// The socket call failed (connection refused, reset, ...): a result, not a refusal.
    Error {
        kind: ErrorKind,
        message: String,
    },
    /// `None`: the agent cannot observe this connection.
    State {
        state: Option<TcpState>,
    },
    /// The agent did not perform the request.
    Refused {
        message: String,
    },
}

impl Response {
    pub fn refused(message: impl Into<String>) -> Response {
        Response::Refused {
            message: message.into(),
        }
    }

    /// The response that carries a call's result.
    pub fn from_result(r: AppResult) -> Response {
        match r {
            AppResult::Ok => Response::Ok,
            AppResult::Wrote(n) => Response::Wrote { n },
            AppResult::Read(data) => Response::Data { data: hex(&data) },
            AppResult::WouldBlock => Response::WouldBlock,
            AppResult::Failed(e) => Response::Error {
                kind: e.kind,
                message: e.detail,
            },
        }
    }

    /// The call's result this response carries; `Err` for a response that carries none
    /// (a refusal, a state, data that is not hex).
    pub fn into_result(self) -> Result<AppResult, String> {
        match self {
            Response::Ok => Ok(AppResult::Ok),
            Response::Wrote { n } => Ok(AppResult::Wrote(n)),
            Response::Data { data } => unhex(&data)
                .map(AppResult::Read)
                .ok_or_else(|| "data that is not hex".to_string()),
            Response::WouldBlock => Ok(AppResult::WouldBlock),
            Response::Error { kind, message } => {
                Ok(AppResult::Failed(AppError::new(kind, message)))
            }
            Response::State { .. } => Err("a state instead of a call result".into()),
            Response::Refused { message } => Err(format!("refused: {message}")),
        }
    }
}

impl Request {
    /// The request that asks the agent for `call`.
    pub fn from_call(call: &AppCall) -> Request {
        match call {
            AppCall::Listen { local } => Request::Listen {
                addr: local.ip(),
                port: local.port(),
            },
            AppCall::Accept => Request::Accept,
            AppCall::Connect {
                local,
                remote,
                fastopen,
            } => Request::Connect {
                local: *local,
                remote: *remote,
                fastopen: *fastopen,
            },
            AppCall::Write(data) => Request::Write { data: hex(data) },
            AppCall::Read { max } => Request::Read { max: *max },
            AppCall::ShutdownWrite => Request::ShutdownWrite,
            AppCall::Close => Request::Close,
            AppCall::Abort => Request::Abort,
            AppCall::Release => Request::Release,
            AppCall::NoDelay(on) => Request::NoDelay { on: *on },
            AppCall::Keepalive(k) => Request::Keepalive {
                idle_secs: k.idle_secs(),
                interval_secs: k.interval_secs(),
                count: k.count,
            },
            AppCall::UserTimeout(d) => Request::UserTimeout {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
        }
    }

    /// The application call this request asks for; `Ok(None)` for the session's own requests
    /// (auth, reset, state), `Err` for a write whose data is not hex.
    pub fn to_call(&self) -> Result<Option<AppCall>, String> {
        Ok(Some(match self {
            Request::Auth { .. } | Request::Reset | Request::State { .. } => return Ok(None),
            Request::Listen { addr, port } => AppCall::Listen {
                local: SocketAddr::new(*addr, *port),
            },
            Request::Accept => AppCall::Accept,
            Request::Connect {
                local,
                remote,
                fastopen,
            } => AppCall::Connect {
                local: *local,
                remote: *remote,
                fastopen: *fastopen,
            },
            Request::Write { data } => AppCall::Write(unhex(data).ok_or("write data is not hex")?),
            Request::Read { max } => AppCall::Read { max: *max },
            Request::ShutdownWrite => AppCall::ShutdownWrite,
            Request::Close => AppCall::Close,
            Request::Abort => AppCall::Abort,
            Request::Release => AppCall::Release,
            Request::NoDelay { on } => AppCall::NoDelay(*on),
            Request::UserTimeout { ms } => AppCall::UserTimeout(Duration::from_millis(*ms)),
            Request::Keepalive {
                idle_secs,
                interval_secs,
                count,
            } => AppCall::Keepalive(Keepalive {
                idle: Duration::from_secs(u64::from(*idle_secs)),
                interval: Duration::from_secs(u64::from(*interval_secs)),
                count: *count,
            }),
        }))
    }
}

/// `text` fit for one log line, or for a message that quotes what a peer sent: every control
/// character (C0 including tab and newline, DEL, C1) and every character that reorders or
/// hides text on a terminal (bidirectional controls, line and paragraph separators, the byte
/// order mark, non-characters) written as a visible `\u{..}` escape, and the whole cut after
/// `max` octets with a note of how much more there was. The result never holds such a
/// character and is at most `max` + 40 octets long, so a request can neither forge a log line
/// nor drive the terminal that shows the log.
pub fn printable(text: &str, max: usize) -> String {
    use std::fmt::Write as _;
    // Most log lines are short plain ASCII: nothing to escape, nothing to cut.
    if text.len() <= max && text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(max) + 40);
    let mut escaped = String::new();
    for (i, ch) in text.char_indices() {
        escaped.clear();
        if hides_text(ch) {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(ch));
        } else {
            escaped.push(ch);
        }
        if out.len() + escaped.len() > max {
            let _ = write!(out, "... ({} more octets)", text.len() - i);
            break;
        }
        out.push_str(&escaped);
    }
    out
}

/// Characters a log line must not carry as they are.
fn hides_text(ch: char) -> bool {
    ch.is_control()
        || matches!(ch,
            '\u{200b}'..='\u{200f}'       // zero-width space and joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'     // line and paragraph separators, embeddings, overrides
            | '\u{2060}'..='\u{2069}'     // word joiner, invisible operators, isolates
            | '\u{feff}'                  // byte order mark
            | '\u{fff9}'..='\u{fffb}'     // interlinear annotation controls
            | '\u{fffe}' | '\u{ffff}')
}

/// Lower-case hex of `data`.
pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The octets of a hex string (either case); `None` if it is not hex of whole octets.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let bytes = s.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect()
}

/// Token comparison whose time depends only on the lengths, not on where the strings differ.
pub fn token_eq(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    // Always as many steps as `expected` has octets; a short `given` has already lost.
    for (i, y) in b.iter().enumerate() {
        diff |= a.get(i).copied().unwrap_or(0) ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// A fresh random token: 32 octets, hex.
pub fn new_token() -> String {
    hex(&rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastopen_connect_round_trips_and_is_omitted_when_off() {
        let local: SocketAddr = "192.0.2.1:49152".parse().unwrap();
        let remote: SocketAddr = "192.0.2.2:8080".parse().unwrap();
        for fastopen in [false, true] {
            let call = AppCall::Connect {
                local,
                remote,
                fastopen,
            };
            let line = serde_json::to_vec(&Request::from_call(&call)).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&line).contains("fastopen"),
                fastopen
            );
            let back = parse_request(&line).unwrap().to_call().unwrap();
            assert_eq!(back, Some(call));
        }
    }

    #[test]
    fn hex_round_trip() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&data)), Some(data));
        assert_eq!(unhex("0A"), Some(vec![10]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn token_comparison() {
        assert!(token_eq("0123456789abcdef", "0123456789abcdef"));
        assert!(!token_eq("0123456789abcdeX", "0123456789abcdef"));
        assert!(!token_eq("0123456789abcde", "0123456789abcdef"));
        assert!(!token_eq("0123456789abcdef0", "0123456789abcdef"));
        assert!(!token_eq("", "0123456789abcdef"));
    }

    #[test]
    fn printable_escapes_and_bounds() {
        assert_eq!(printable("listen 8080", 100), "listen 8080");
        assert_eq!(
            printable("x\nagent: auth -> ok\u{1b}[2J", 100),
            "x\\u{a}agent: auth -> ok\\u{1b}[2J"
        );
        assert_eq!(
            printable("\r\t\u{7f}\u{9b}", 100),
            "\\u{d}\\u{9}\\u{7f}\\u{9b}"
        );
        assert_eq!(
            printable("a\u{202e}b\u{2066}c", 100),
            "a\\u{202e}b\\u{2066}c"
        );
        assert_eq!(printable("één", 100), "één");
        let long = "A".repeat(10_000);
        let cut = printable(&long, 100);
        assert_eq!(cut, format!("{}... (9900 more octets)", "A".repeat(100)));
        // Never more than max + 40, never a control character, whatever comes in.
        let nasty: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let p = printable(&nasty, 300);
        assert!(p.len() <= 340, "{}", p.len());
        assert!(!p.chars().any(hides_text));
        // An escape is never cut in half.
        assert_eq!(printable("ab\n", 4), "ab... (1 more octets)");
    }

    #[test]
    fn wire_format() {
        let r: Request = serde_json::from_str(r#"{"op":"listen","addr":"192.0.2.1","port":80}"#)
            .expect("listen parses");
        assert_eq!(
            r,
            Request::Listen {
                addr: "192.0.2.1".parse().expect("ip"),
                port: 80
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"exec","cmd":"sh"}"#).is_err());
        assert!(parse_request(br#"{"op":"accept","x":1}"#).is_err());
        assert!(parse_request(br#"{"op":"read","max":1,"x":1}"#).is_err());
        assert_eq!(parse_request(br#"{"op":"accept"}"#), Ok(Request::Accept));
        assert_eq!(parse_request(br#"{"op":"release"}"#), Ok(Request::Release));
        assert_eq!(
            parse_request(br#"{"op":"user_timeout","ms":2000}"#),
            Ok(Request::UserTimeout { ms: 2000 })
        );
        let two = AppCall::UserTimeout(Duration::from_millis(2000));
        assert_eq!(Request::from_call(&two).to_call(), Ok(Some(two)));
        assert_eq!(
            Request::from_call(&AppCall::Release).to_call(),
            Ok(Some(AppCall::Release))
        );
        let text = serde_json::to_string(&Response::Wrote { n: 3 }).expect("serializes");
        assert_eq!(text, r#"{"result":"wrote","n":3}"#);
    }
}
