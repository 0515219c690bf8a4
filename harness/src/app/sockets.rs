//! Application calls on the kernel's TCP sockets, in the calling thread's network namespace:
//! the `linux` target makes them in its case namespace, `tcpconform agent` beside a stack under
//! test. One listener and one connection, as a case drives them.

use super::{AppCall, AppError, AppResult, ErrorKind};
use crate::sys::sockets::{errno_text, Socket};
use std::io;
use std::time::Duration;

/// The kind of a failed socket call, from its errno.
pub fn error_kind(e: &io::Error) -> ErrorKind {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => ErrorKind::Refused,
        Some(libc::ECONNRESET | libc::ECONNABORTED) => ErrorKind::Reset,
        Some(libc::ETIMEDOUT) => ErrorKind::TimedOut,
        Some(libc::ENOTCONN) => ErrorKind::NotConnected,
        Some(libc::EPIPE) => ErrorKind::Closing,
        Some(libc::EADDRINUSE) => ErrorKind::AddrInUse,
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH) => ErrorKind::Unreachable,
        Some(libc::EINVAL | libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT) => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

fn failed(e: &io::Error) -> AppResult {
    AppResult::Failed(AppError::new(error_kind(e), errno_text(e)))
}

fn done(r: io::Result<()>) -> AppResult {
    match r {
        Ok(()) => AppResult::Ok,
        Err(e) => failed(&e),
    }
}

/// The application's sockets.
pub struct SocketApp {
    listener: Option<Socket>,
    conn: Option<Socket>,
    /// How long `accept` (explicit, or implied by a call on the connection) waits for a
    /// connection to complete.
    accept_wait: Duration,
    /// How long `read` waits for the socket to become readable when nothing is queued.
    read_wait: Duration,
}

impl SocketApp {
    pub fn new(accept_wait: Duration, read_wait: Duration) -> SocketApp {
        SocketApp {
            listener: None,
            conn: None,
            accept_wait,
            read_wait,
        }
    }

    /// The connection the case drives: accepted from the listener on first use if the case
    /// did not accept it explicitly.
    fn conn(&mut self) -> Result<&Socket, AppResult> {
        if self.conn.is_none() {
            let Some(listener) = self.listener.as_ref() else {
                return Err(AppResult::Failed(AppError::new(
                    ErrorKind::NotConnected,
                    "ENOTCONN (no connection: listen or connect first)",
                )));
            };
            match listener.accept(self.accept_wait) {
                Ok(Some(s)) => self.conn = Some(s),
                Ok(None) => {
                    return Err(AppResult::Failed(AppError::new(
                        ErrorKind::NotConnected,
                        "ENOTCONN (no established connection to accept yet)",
                    )))
                }
                Err(e) => return Err(failed(&e)),
            }
        }
        self.conn
            .as_ref()
            .ok_or_else(|| AppResult::Failed(AppError::new(ErrorKind::NotConnected, "ENOTCONN")))
    }

    pub fn call(&mut self, call: &AppCall) -> AppResult {
        match call {
            AppCall::Listen { local } => match Socket::listen(*local) {
                Ok(s) => {
                    self.listener = Some(s);
                    AppResult::Ok
                }
                Err(e) => failed(&e),
            },
            AppCall::Accept => match &self.listener {
                None => AppResult::Failed(AppError::new(
                    ErrorKind::Invalid,
                    "EINVAL (accept without listen)",
                )),
                Some(l) => match l.accept(self.accept_wait) {
                    Ok(Some(s)) => {
                        self.conn = Some(s);
                        AppResult::Ok
                    }
                    Ok(None) => AppResult::WouldBlock,
                    Err(e) => failed(&e),
                },
            },
            AppCall::Connect {
                local,
                remote,
                fastopen,
            } => match Socket::connect(*local, *remote, *fastopen) {
                Ok(s) => {
                    self.conn = Some(s);
                    AppResult::Ok
                }
                Err(e) => failed(&e),
            },
            AppCall::Write(data) => match self.conn() {
                Err(r) => r,
                Ok(s) => match s.write(data) {
                    Ok(n) => AppResult::Wrote(n),
                    Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => AppResult::WouldBlock,
                    Err(e) => failed(&e),
                },
            },
            AppCall::Read { max } => {
                let wait = self.read_wait;
                match self.conn() {
                    Err(r) => r,
                    Ok(s) => match s.read(*max, wait) {
                        Ok(Some(data)) => AppResult::Read(data),
                        Ok(None) => AppResult::WouldBlock,
                        Err(e) => failed(&e),
                    },
                }
            }
            AppCall::ShutdownWrite => match self.conn() {
                Err(r) => r,
                Ok(s) => done(s.shutdown_write()),
            },
            AppCall::NoDelay(on) => match self.conn() {
                Err(r) => r,
                Ok(s) => done(s.set_nodelay(*on)),
            },
            AppCall::Keepalive(k) => match self.conn() {
                Err(r) => r,
                Ok(s) => done(s.set_keepalive(k.idle_secs(), k.interval_secs(), k.count)),
            },
            AppCall::UserTimeout(d) => match self.conn() {
                Err(r) => r,
                Ok(s) => done(s.set_user_timeout(*d)),
            },
            // CLOSE on the connection is shutdown(SHUT_WR): RFC 9293 3.10.4 CLOSE means "I have
            // no more to send" and RECEIVE goes on in FIN-WAIT-1/2, while close(2) would also
            // give up receiving (new data would then draw an RST, RFC 1122 4.2.2.13) — a socket
            // API choice, not the RFC's CLOSE. The fd is closed (with RST if still open) by
            // `reset`. With no connection (nothing to accept), CLOSE in LISTEN: "any
            // outstanding RECEIVEs are returned ..., delete TCB".
            AppCall::Close => match self.conn() {
                Ok(s) => done(s.shutdown_write()),
                Err(r) => match self.listener.take() {
                    Some(_) => AppResult::Ok,
                    None => r,
                },
            },
            // close(2): the application gives the connection up, reading too; the kernel sends
            // FIN, or RST when data was left unread (RFC 9293 3.6.1, SHLD-3), and answers
            // data that arrives later. A listener alone is closed the same way.
            AppCall::Release => match self.conn() {
                Ok(_) => match self.conn.take() {
                    Some(s) => done(s.close()),
                    None => AppResult::Failed(AppError::new(ErrorKind::NotConnected, "ENOTCONN")),
                },
                Err(r) => match self.listener.take() {
                    Some(l) => done(l.close()),
                    None => r,
                },
            },
            // ABORT (RFC 9293 3.10.5): RST on the connection, or just delete a listener.
            AppCall::Abort => match self.conn() {
                Ok(_) => match self.conn.take() {
                    Some(s) => done(s.abort()),
                    None => AppResult::Failed(AppError::new(ErrorKind::NotConnected, "ENOTCONN")),
                },
                Err(r) => match self.listener.take() {
                    Some(_) => AppResult::Ok,
                    None => r,
                },
            },
        }
    }

    /// Closes every socket with RST (an aborted socket is freed at once rather than orphaned).
    pub fn reset(&mut self) {
        for s in [self.conn.take(), self.listener.take()]
            .into_iter()
            .flatten()
        {
            let _ = s.abort();
        }
    }
}

impl Drop for SocketApp {
    fn drop(&mut self) {
        self.reset();
    }
}
