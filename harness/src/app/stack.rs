//! Application calls on the reference stack: the `reference` target makes them in process on
//! its virtual clock, `tcpconform serve` for its built-in agent. One listener and one
//! connection, as a case drives them.

use super::{AppCall, AppError, AppResult, ErrorKind};
use crate::tcp::TcpState;
use reference_stack::config::Keepalive;
use reference_stack::stack::{SocketHandle, Stack, StackError};
use reference_stack::tcb::ConnError;
use reference_stack::{FourTuple, Instant, State};
use std::net::SocketAddr;

/// The result of a failed stack call (a would-block is no failure: the call is pending).
fn failed(e: StackError) -> AppResult {
    let kind = match e {
        StackError::Conn(ConnError::WouldBlock) => return AppResult::WouldBlock,
        StackError::Conn(ConnError::Refused) => ErrorKind::Refused,
        StackError::Conn(ConnError::Reset) => ErrorKind::Reset,
        StackError::Conn(ConnError::TimedOut) => ErrorKind::TimedOut,
        StackError::Conn(ConnError::Closing) => ErrorKind::Closing,
        // RFC 9293 3.10: a call on a connection that is not (or no longer) there, or in a state
        // where it is not valid, is "connection does not exist".
        StackError::Conn(ConnError::InvalidState) | StackError::NoSuchSocket => {
            ErrorKind::NotConnected
        }
        StackError::AddrInUse => ErrorKind::AddrInUse,
        StackError::InvalidAddress | StackError::NotListening | StackError::IsListener => {
            ErrorKind::Invalid
        }
    };
    AppResult::Failed(AppError::new(kind, e.to_string()))
}

fn done(r: Result<(), StackError>) -> AppResult {
    r.map_or_else(failed, |()| AppResult::Ok)
}

/// The reference stack's state, in the harness's vocabulary.
pub fn tcp_state(s: State) -> TcpState {
    match s {
        State::Closed => TcpState::Closed,
        State::Listen => TcpState::Listen,
        State::SynSent => TcpState::SynSent,
        State::SynReceived => TcpState::SynReceived,
        State::Established => TcpState::Established,
        State::FinWait1 => TcpState::FinWait1,
        State::FinWait2 => TcpState::FinWait2,
        State::CloseWait => TcpState::CloseWait,
        State::Closing => TcpState::Closing,
        State::LastAck => TcpState::LastAck,
        State::TimeWait => TcpState::TimeWait,
    }
}

/// The state a segment from `remote` to `local` would find on `stack`.
pub fn state_of(stack: &Stack, local: SocketAddr, remote: SocketAddr) -> TcpState {
    tcp_state(stack.state_of(FourTuple { local, remote }))
}

/// The application's sockets on one stack.
#[derive(Debug, Default)]
pub struct StackApp {
    listener: Option<SocketHandle>,
    conn: Option<SocketHandle>,
}

impl StackApp {
    /// The connection the case drives: accepted from the listener on first use if the case
    /// did not accept it explicitly.
    fn conn(&mut self, stack: &mut Stack) -> Result<SocketHandle, AppResult> {
        if let Some(h) = self.conn {
            return Ok(h);
        }
        let Some(listener) = self.listener else {
            return Err(AppResult::Failed(AppError::new(
                ErrorKind::NotConnected,
                "no connection: listen or connect first",
            )));
        };
        match stack.accept(listener) {
            Ok(Some(h)) => {
                self.conn = Some(h);
                Ok(h)
            }
            Ok(None) => Err(AppResult::Failed(AppError::new(
                ErrorKind::NotConnected,
                "no established connection to accept yet",
            ))),
            Err(e) => Err(failed(e)),
        }
    }

    pub fn call(&mut self, stack: &mut Stack, now: Instant, call: &AppCall) -> AppResult {
        match call {
            AppCall::Listen { local } => match stack.listen(*local) {
                Ok(h) => {
                    self.listener = Some(h);
                    AppResult::Ok
                }
                Err(e) => failed(e),
            },
            AppCall::Accept => match self.listener {
                None => {
                    AppResult::Failed(AppError::new(ErrorKind::Invalid, "accept without listen"))
                }
                Some(l) => match stack.accept(l) {
                    Ok(Some(h)) => {
                        self.conn = Some(h);
                        AppResult::Ok
                    }
                    Ok(None) => AppResult::WouldBlock,
                    Err(e) => failed(e),
                },
            },
            AppCall::Connect {
                local,
                remote,
                fastopen,
            } => match if *fastopen {
                stack.connect_fastopen(now, *local, *remote)
            } else {
                stack.connect(now, *local, *remote)
            } {
                Ok(h) => {
                    self.conn = Some(h);
                    AppResult::Ok
                }
                Err(e) => failed(e),
            },
            AppCall::Write(data) => match self.conn(stack) {
                Err(r) => r,
                Ok(h) => stack
                    .send(now, h, data)
                    .map_or_else(failed, AppResult::Wrote),
            },
            AppCall::Read { max } => match self.conn(stack) {
                Err(r) => r,
                Ok(h) => {
                    let mut buf = vec![0; *max];
                    match stack.recv(h, &mut buf) {
                        Ok(n) => {
                            buf.truncate(n);
                            AppResult::Read(buf)
                        }
                        Err(e) => failed(e),
                    }
                }
            },
            AppCall::ShutdownWrite => match self.conn(stack) {
                Err(r) => r,
                Ok(h) => done(stack.shutdown_write(now, h)),
            },
            // CLOSE the connection (the handle stays, so a second CLOSE is answered "connection
            // closing"); with no connection, CLOSE in LISTEN deletes the listener (3.10.4).
            AppCall::Close => match self.conn(stack) {
                Ok(h) => done(stack.close(now, h)),
                Err(r) => match self.listener.take() {
                    Some(l) => done(stack.close(now, l)),
                    None => r,
                },
            },
            // ABORT (RFC 9293 3.10.5): RST on the connection, or delete the listener.
            AppCall::Abort => match self.conn(stack) {
                Ok(h) => done(stack.abort(now, h)),
                Err(r) => match self.listener.take() {
                    Some(l) => done(stack.close(now, l)),
                    None => r,
                },
            },
            // The connection given up entirely (RFC 9293 3.6.1): RST if data is left unread,
            // else CLOSE; the handle is the stack's from now on, as close(2) frees the fd.
            AppCall::Release => match self.conn(stack) {
                Ok(h) => {
                    self.conn = None;
                    done(stack.release(now, h))
                }
                Err(r) => match self.listener.take() {
                    Some(l) => done(stack.release(now, l)),
                    None => r,
                },
            },
            AppCall::NoDelay(on) => match self.conn(stack) {
                Err(r) => r,
                Ok(h) => done(stack.set_nagle(h, !on)),
            },
            AppCall::UserTimeout(d) => match self.conn(stack) {
                Err(r) => r,
                Ok(h) => done(stack.set_user_timeout(h, *d)),
            },
            AppCall::Keepalive(k) => match self.conn(stack) {
                Err(r) => r,
                Ok(h) => done(stack.set_keepalive(
                    h,
                    Some(Keepalive {
                        idle: k.idle,
                        interval: k.interval,
                        count: k.count,
                    }),
                )),
            },
        }
    }

    /// Aborts the connection and closes the listener (between case instances).
    pub fn reset(&mut self, stack: &mut Stack, now: Instant) {
        if let Some(h) = self.conn.take() {
            let _ = stack.abort(now, h);
        }
        if let Some(h) = self.listener.take() {
            let _ = stack.close(now, h);
        }
    }
}
