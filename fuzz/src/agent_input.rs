//! The `agent_protocol` target's input: a byte stream read as events on the agent's control
//! connections. Every byte string decodes (what is missing reads as zero), so a mutated seed
//! stays a meaningful session; seeds are written with [`encode`] (`examples/seeds.rs`).
//!
//! Each event is an op byte (its low 3 bits) and its arguments:
//!
//! | op | event | arguments |
//! | --- | --- | --- |
//! | 0 | a new connection | |
//! | 1 | octets received | connection, length n, n octets |
//! | 2 | the peer hung up | connection |
//! | 3 | time passes (4 ms per tick), deadlines checked | ticks, 2 octets big-endian |
//! | 4 | an `auth` line with the right token received | connection |
//! | 5 | k KiB of one octet (never a newline) received: lines over the bound | connection, k, octet |
//! | 6 | a response could not be written | connection |
//! | 7 | deadlines checked, no time passing | |
//!
//! A connection octet c names connection `c % (accepted + 1)`: one of those accepted so far,
//! or one never accepted.
//!
//! This module needs no harness crate, so that the seeds example builds without it.

/// The token the fuzzed agent is configured with.
pub const TOKEN: &str = "fuzz-agent-token-0123456789";

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Accept,
    Data { conn: u8, data: Vec<u8> },
    HangUp { conn: u8 },
    Wait { ticks: u16 },
    Auth { conn: u8 },
    Fill { conn: u8, kib: u8, octet: u8 },
    WriteFailed { conn: u8 },
    Tick,
}

/// The `auth` line [`Event::Auth`] stands for.
pub fn auth_line() -> Vec<u8> {
    format!("{{\"op\":\"auth\",\"token\":\"{TOKEN}\"}}\n").into_bytes()
}

/// The events `data` stands for.
pub fn decode(data: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut i = 0;
    let mut next = || {
        let b = data.get(i).copied();
        i += 1;
        b
    };
    while let Some(op) = next() {
        let mut arg = || next().unwrap_or(0);
        let e = match op & 7 {
            0 => Event::Accept,
            1 => {
                let conn = arg();
                let n = usize::from(arg());
                let data: Vec<u8> = (0..n).map_while(|_| next()).collect();
                Event::Data { conn, data }
            }
            2 => Event::HangUp { conn: arg() },
            3 => Event::Wait {
                ticks: u16::from_be_bytes([arg(), arg()]),
            },
            4 => Event::Auth { conn: arg() },
            5 => Event::Fill {
                conn: arg(),
                kib: arg(),
                octet: arg(),
            },
            6 => Event::WriteFailed { conn: arg() },
            _ => Event::Tick,
        };
        events.push(e);
    }
    events
}

/// The bytes that [`decode`] reads as `events` (data longer than 255 octets is split into
/// several events).
pub fn encode(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Accept => out.push(0),
            Event::Data { conn, data } => {
                for chunk in data.chunks(255) {
                    out.extend_from_slice(&[1, *conn, chunk.len() as u8]);
                    out.extend_from_slice(chunk);
                }
            }
            Event::HangUp { conn } => out.extend_from_slice(&[2, *conn]),
            Event::Wait { ticks } => {
                out.push(3);
                out.extend_from_slice(&ticks.to_be_bytes());
            }
            Event::Auth { conn } => out.extend_from_slice(&[4, *conn]),
            Event::Fill { conn, kib, octet } => out.extend_from_slice(&[5, *conn, *kib, *octet]),
            Event::WriteFailed { conn } => out.extend_from_slice(&[6, *conn]),
            Event::Tick => out.push(7),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode() {
        let events = vec![
            Event::Accept,
            Event::Auth { conn: 0 },
            Event::Data {
                conn: 0,
                data: b"{\"op\":\"accept\"}\n".to_vec(),
            },
            Event::Wait { ticks: 1250 },
            Event::Fill {
                conn: 1,
                kib: 200,
                octet: b'x',
            },
            Event::WriteFailed { conn: 0 },
            Event::HangUp { conn: 0 },
            Event::Tick,
        ];
        assert_eq!(decode(&encode(&events)), events);
        // Truncated input still decodes.
        assert_eq!(
            decode(&[1, 0, 9, b'a']),
            vec![Event::Data {
                conn: 0,
                data: b"a".to_vec()
            }]
        );
    }
}
