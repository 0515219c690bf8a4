//! The `call` step: an application call on the target's side, its result against what the
//! case expects.

use super::*;

impl Run<'_> {
    pub(super) fn call(&mut self, step: &Step, index: usize, c: &Call) -> StepResult {
        let app = match &c.kind {
            CallKind::Listen => AppCall::Listen {
                local: self.target_addr,
            },
            CallKind::Accept => AppCall::Accept,
            CallKind::Connect { fastopen } => AppCall::Connect {
                local: self.target_addr,
                remote: self.tester,
                fastopen: *fastopen,
            },
            CallKind::ConnectTo(ip) => {
                if ip.is_ipv4() != self.tester.is_ipv4() {
                    return Err(fail(
                        step,
                        index,
                        format!("connect to {ip}: not of this instance's IP version"),
                    ));
                }
                AppCall::Connect {
                    local: self.target_addr,
                    remote: SocketAddr::new(*ip, self.tester.port()),
                    fastopen: false,
                }
            }
            CallKind::Write(data) => AppCall::Write(data.clone()),
            CallKind::Read { max, .. } => AppCall::Read { max: *max },
            CallKind::Shutdown(Shutdown::Write | Shutdown::Both) => AppCall::ShutdownWrite,
            CallKind::Shutdown(Shutdown::Read) => {
                self.note(
                    Direction::App,
                    "shutdown(SHUT_RD): no effect on the wire".into(),
                    None,
                );
                return Ok(());
            }
            CallKind::Close => AppCall::Close,
            CallKind::Abort => AppCall::Abort,
            CallKind::Release => AppCall::Release,
            CallKind::NoDelay => AppCall::NoDelay(true),
            CallKind::Keepalive {
                idle,
                interval,
                count,
            } => AppCall::Keepalive(crate::app::Keepalive {
                idle: *idle,
                interval: *interval,
                count: *count,
            }),
            CallKind::UserTimeout(d) => AppCall::UserTimeout(*d),
        };
        if let (Some(fixed), AppCall::Accept, None) = (self.fixed, &app, c.error) {
            self.note(
                Direction::App,
                format!(
                    "accept(): the application on port {} accepts by itself (--app {})",
                    self.target_addr.port(),
                    fixed.behaviour.name()
                ),
                None,
            );
            return Ok(());
        }
        // Behind a queued SEND, a CLOSE or another SEND waits its turn (RFC 9293 3.10.4: CLOSE
        // in SYN-RECEIVED with data to send is queued until ESTABLISHED).
        if !self.pending_calls.is_empty()
            && c.error.is_none()
            && matches!(
                app,
                AppCall::Write(_) | AppCall::Close | AppCall::ShutdownWrite
            )
        {
            self.note(
                Direction::App,
                format!("{app}: queued behind the SEND the socket has not taken yet"),
                None,
            );
            self.pending_calls.push_back(app);
            return Ok(());
        }
        if let Some(reason) = self.target.cannot(&app) {
            self.no_verdict = Some(Outcome::Skipped {
                reason: format!("{app}: {reason}"),
            });
            return Err(fail(step, index, reason));
        }
        let result = self
            .target
            .app(&app)
            .map_err(|e| fail(step, index, format!("target error: {e}")))?;
        // `close() = ok` alone would hide that sockets did shutdown(2): say which call it was.
        let api = match app.socket_api() {
            Some(api) if self.target.on_sockets() => format!(" ({api})"),
            _ => String::new(),
        };
        self.note(Direction::App, format!("{app} = {result}{api}"), None);
        self.keepalive |= matches!(app, AppCall::Keepalive(_)) && result == AppResult::Ok;
        if matches!(app, AppCall::Connect { .. }) && result == AppResult::Ok {
            self.conn.on_new_open();
        }
        // A call that did something may have moved the state (a CLOSE sends a FIN); reading,
        // writing and a failed call leave the asserted state as it was.
        if result == AppResult::Ok
            && !matches!(
                app,
                AppCall::NoDelay(_) | AppCall::Keepalive(_) | AppCall::Accept
            )
        {
            self.asserted = None;
        }
        match (&c.error, &result) {
            (Some(want), AppResult::Failed(got)) => {
                if error_matches(*want, got.kind) {
                    Ok(())
                } else {
                    Err(fail(
                        step,
                        index,
                        format!("{app}: expected {}, got error {got}", want.name()),
                    ))
                }
            }
            (Some(CallError::WouldBlock), AppResult::WouldBlock) => Ok(()),
            (Some(want), other) => Err(fail(
                step,
                index,
                format!("{app}: expected error {}, got {other}", want.name()),
            )),
            (None, AppResult::Failed(e)) => Err(fail(step, index, format!("{app} failed: {e}"))),
            // SEND before the handshake completed: RFC 9293 3.10.2 queues the data in SYN-SENT
            // and SYN-RECEIVED; a non-blocking socket answers EAGAIN instead. It is offered
            // again while the runner awaits segments ([`Run::next_packet`]).
            (None, AppResult::WouldBlock)
                if matches!(c.kind, CallKind::Write(_)) && !self.conn.synchronized() =>
            {
                self.pending_calls.push_back(app.clone());
                self.note(
                    Direction::Note,
                    "the connection is not yet established and the socket is non-blocking: \
                     the data is queued, as SEND queues it in SYN-SENT and SYN-RECEIVED \
                     (RFC 9293 3.10.2), and offered to the socket again while segments are awaited"
                        .into(),
                    None,
                );
                Ok(())
            }
            (None, AppResult::WouldBlock) if !matches!(c.kind, CallKind::Read { .. }) => {
                Err(fail(step, index, format!("{app} would block")))
            }
            (None, _) => match &c.kind {
                CallKind::Read {
                    expect: Some(want), ..
                } => {
                    let got: &[u8] = match &result {
                        AppResult::Read(d) => d,
                        _ => &[],
                    };
                    let ok = match want {
                        ReadExpect::Eof => matches!(result, AppResult::Read(ref d) if d.is_empty()),
                        ReadExpect::Data(d) => got == d.as_slice(),
                    };
                    if ok {
                        Ok(())
                    } else {
                        let want_text = match want {
                            ReadExpect::Eof => "end of stream".to_string(),
                            ReadExpect::Data(d) => format!("{:?}", String::from_utf8_lossy(d)),
                        };
                        Err(fail(
                            step,
                            index,
                            format!(
                                "{app}: expected {want_text}, got {result} {:?}",
                                String::from_utf8_lossy(got)
                            ),
                        ))
                    }
                }
                _ => Ok(()),
            },
        }
    }
}

/// Whether a failed call's kind is the error a case expects (errno names in the case language,
/// RFC 9293 3.10 error responses on the target).
fn error_matches(want: CallError, got: ErrorKind) -> bool {
    match want {
        CallError::Any => true,
        CallError::ConnReset => got == ErrorKind::Reset,
        CallError::ConnRefused => got == ErrorKind::Refused,
        CallError::TimedOut => got == ErrorKind::TimedOut,
        CallError::NotConn => got == ErrorKind::NotConnected,
        CallError::Pipe => got == ErrorKind::Closing,
        // A pending call is `AppResult::WouldBlock`, never a failure.
        CallError::WouldBlock => false,
    }
}
