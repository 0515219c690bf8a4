//! The system calls of a script as the case's setup and application calls.

use super::*;

impl Conv<'_> {
    pub(super) fn syscall(&mut self, e: &Event, s: &Syscall, rest: &[Event]) -> Result<(), Why> {
        if s.blocks_until.is_some() && s.name != "connect" {
            return Err(why(
                "blocking call",
                format!("{}() until a later time", s.name),
            ));
        }
        let arg = |i: usize| s.args.get(i).map(String::as_str).unwrap_or_default();
        match s.name.as_str() {
            "socket" => {
                self.idle(e)?;
                if arg(1) != "SOCK_STREAM" {
                    return Err(why("socket type", arg(1).to_string()));
                }
                if self.fds.values().any(|f| *f != Fd::Fresh) && self.accepted {
                    return Err(why("second connection", "another socket".to_string()));
                }
                self.fds.insert(s.result.clone(), Fd::Fresh);
                Ok(())
            }
            "bind" => {
                self.idle(e)?;
                Self::ok_result(s)?;
                self.note(
                    e.line,
                    "bind: the target's port is the case's setup port (8080)",
                );
                Ok(())
            }
            "fcntl" => {
                self.idle(e)?;
                if arg(1) == "F_SETFL" {
                    // packetdrill's calls return at their time unless written as blocking
                    // (`...`), which is unsupported: blocking or not, no call here waits.
                    Self::ok_result(s)?;
                    self.note(e.line, format!("{}: the case's calls do not block", arg(2)));
                    Ok(())
                } else if arg(1) == "F_GETFL" {
                    self.skip(e.line, "fcntl F_GETFL", String::new());
                    Ok(())
                } else {
                    Err(why("fcntl", format!("{} {}", arg(1), arg(2))))
                }
            }
            "listen" => {
                self.idle(e)?;
                Self::ok_result(s)?;
                let Some((fd, Fd::Fresh)) = self.fd(s) else {
                    return Err(why(
                        "listen",
                        "on a socket the script did not create".to_string(),
                    ));
                };
                self.anchor_setup(format!("{{ listen: {PORT} }}"))?;
                self.fds.insert(fd, Fd::Listener);
                Ok(())
            }
            "connect" => {
                self.idle(e)?;
                let Some((fd, Fd::Fresh)) = self.fd(s) else {
                    return Err(why(
                        "connect",
                        "on a socket the script did not create".to_string(),
                    ));
                };
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("-1", Some("EINPROGRESS")) => {}
                    ("0", None) => self.note(
                        e.line,
                        "connect() returns once the handshake completes: the target's ACK of \
                         the SYN-ACK shows it",
                    ),
                    _ => return Err(why("connect result", format!("= {}", s.result))),
                }
                self.anchor_setup(format!("{{ connect: {PORT} }}"))?;
                self.fds.insert(fd, Fd::Conn);
                if let Some(line) = self.nodelay_pending.take() {
                    self.step(line, "call: nodelay".into());
                }
                Ok(())
            }
            "accept" | "accept4" => {
                self.wait_for(e)?;
                if !matches!(self.fd(s), Some((_, Fd::Listener))) {
                    return Err(why("accept", "not on the listener".to_string()));
                }
                if self.accepted {
                    return Err(why("second connection", "a second accept".to_string()));
                }
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("-1", Some("EAGAIN" | "EWOULDBLOCK")) => {
                        self.step(e.line, "call: { accept: ~, error: EAGAIN }".into());
                    }
                    (r, None) if r.parse::<u32>().is_ok() => {
                        self.step(e.line, "call: accept".into());
                        self.fds.insert(r.to_string(), Fd::Conn);
                        self.accepted = true;
                        if let Some(line) = self.nodelay_pending.take() {
                            self.note(
                                line,
                                "TCP_NODELAY on the listener: set on the accepted connection",
                            );
                            self.step(line, "call: nodelay".into());
                        }
                    }
                    _ => return Err(why("accept result", format!("= {}", s.result))),
                }
                Ok(())
            }
            "setsockopt" => self.setsockopt(e, s),
            "getsockopt" => {
                self.idle(e)?;
                self.skip(e.line, "getsockopt", arg(2).to_string());
                Ok(())
            }
            "write" | "send" | "sendto" => {
                if s.name != "write" && arg(3) != "0" {
                    return Err(why(&format!("{} flags", s.name), arg(3).to_string()));
                }
                if s.name == "sendto" && !matches!(arg(4), "..." | "NULL") {
                    return Err(why("sendto address", arg(4).to_string()));
                }
                self.conn_call(s)?;
                let n: u64 = arg(2)
                    .parse()
                    .map_err(|_| why("write length", arg(2).to_string()))?;
                if n == 0 || n > MAX_CALL_BYTES {
                    return Err(why("write length", format!("{n} octets")));
                }
                self.wait_for(e)?;
                match (s.result.as_str(), s.errno.as_deref()) {
                    (r, None) if r == n.to_string() => {
                        self.step(e.line, format!("call: {{ write: {n} }}"));
                    }
                    ("-1", Some(err)) => {
                        let err = errno(err).ok_or_else(|| why("write error", err.to_string()))?;
                        self.step(e.line, format!("call: {{ write: {n}, error: {err} }}"));
                    }
                    (r, _) => return Err(why("partial write", format!("{n} octets, {r} written"))),
                }
                Ok(())
            }
            "read" | "recv" | "recvfrom" => {
                if s.name != "read" && arg(3) != "0" {
                    return Err(why(&format!("{} flags", s.name), arg(3).to_string()));
                }
                self.conn_call(s)?;
                if self.closed {
                    return Err(why("read after close", String::new()));
                }
                let n: u64 = arg(2)
                    .parse()
                    .map_err(|_| why("read length", arg(2).to_string()))?;
                if n == 0 || n > MAX_CALL_BYTES {
                    return Err(why("read length", format!("{n} octets")));
                }
                self.wait_for(e)?;
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("0", None) => self.step(e.line, format!("call: {{ read: {n}, expect: eof }}")),
                    (r, None) => {
                        let m: u64 = r.parse().map_err(|_| why("read result", r.to_string()))?;
                        if m > n {
                            return Err(why("read result", format!("{m} of {n}")));
                        }
                        let expect = if self.read_off % 26 == 0 {
                            m.to_string()
                        } else {
                            quoted(&String::from_utf8_lossy(&pattern(
                                self.read_off as usize,
                                m as usize,
                            )))
                        };
                        self.read_off += m;
                        self.step(e.line, format!("call: {{ read: {n}, expect: {expect} }}"));
                    }
                    ("-1", Some(err)) => {
                        let err = errno(err).ok_or_else(|| why("read error", err.to_string()))?;
                        self.step(e.line, format!("call: {{ read: {n}, error: {err} }}"));
                    }
                    (r, _) => return Err(why("read result", r.to_string())),
                }
                Ok(())
            }
            "shutdown" => {
                self.conn_call(s)?;
                let how = match arg(1) {
                    "SHUT_WR" => "write",
                    "SHUT_RD" => "read",
                    "SHUT_RDWR" => "both",
                    other => return Err(why("shutdown", other.to_string())),
                };
                // SHUT_RD changes nothing on the wire, but makes later reads return end of
                // stream; the case's `shutdown: read` (and `both`) leave reads as they were.
                let read_later = rest.iter().any(|r| {
                    matches!(&r.action, Action::Syscall(c) if matches!(c.name.as_str(), "read" | "recv" | "recvfrom" | "recvmsg"))
                });
                if how != "write" && read_later {
                    return Err(why(
                        "read after shutdown(SHUT_RD)",
                        format!("{}: the case's shutdown does not end later reads", arg(1)),
                    ));
                }
                self.wait_for(e)?;
                match (s.result.as_str(), s.errno.as_deref()) {
                    ("0", None) => self.step(e.line, format!("call: {{ shutdown: {how} }}")),
                    ("-1", Some(err)) => {
                        let err =
                            errno(err).ok_or_else(|| why("shutdown error", err.to_string()))?;
                        self.step(e.line, format!("call: {{ shutdown: {how}, error: {err} }}"));
                    }
                    (r, _) => return Err(why("shutdown result", r.to_string())),
                }
                Ok(())
            }
            "close" => self.close(e, s, rest),
            "ioctl" | "poll" | "epoll_create" | "epoll_create1" | "epoll_ctl" | "epoll_wait" => {
                // Queries: what they report is not checked, the exchange goes on.
                self.idle(e)?;
                let feature = if s.name == "ioctl" {
                    format!("ioctl {}", arg(1))
                } else {
                    s.name.clone()
                };
                self.skip(e.line, &feature, String::new());
                Ok(())
            }
            other => Err(why(other, String::new())),
        }
    }

    /// The call is on the connection.
    pub(super) fn conn_call(&self, s: &Syscall) -> Result<(), Why> {
        match self.fd(s) {
            Some((_, Fd::Conn)) => Ok(()),
            _ => Err(why(
                &format!("{} on another socket", s.name),
                "not on the connection".to_string(),
            )),
        }
    }

    pub(super) fn setsockopt(&mut self, e: &Event, s: &Syscall) -> Result<(), Why> {
        let arg = |i: usize| s.args.get(i).map(String::as_str).unwrap_or_default();
        let name = arg(2);
        let int = || {
            arg(3)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<u64>()
                .ok()
        };
        let Some((fd, kind)) = self.fd(s) else {
            return Err(why(
                "setsockopt",
                "on a socket the script did not create".to_string(),
            ));
        };
        match name {
            "SO_REUSEADDR" | "SO_REUSEPORT" if int() == Some(1) => {
                self.idle(e)?;
                Self::ok_result(s)?;
                self.note(
                    e.line,
                    format!("{name}: every case instance has a fresh target"),
                );
                Ok(())
            }
            "TCP_NODELAY" if int() == Some(1) => {
                Self::ok_result(s)?;
                match kind {
                    Fd::Conn => {
                        self.wait_for(e)?;
                        self.step(e.line, "call: nodelay".into());
                    }
                    Fd::Listener | Fd::Fresh => {
                        self.idle(e)?;
                        self.nodelay_pending = Some(e.line);
                    }
                }
                Ok(())
            }
            "SO_LINGER" if arg(3) == "{onoff=1,linger=0}" => {
                self.idle(e)?;
                Self::ok_result(s)?;
                self.linger0.insert(fd);
                self.note(e.line, "SO_LINGER 0: close() becomes the case's abort");
                Ok(())
            }
            "SO_KEEPALIVE" | "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT" => {
                Self::ok_result(s)?;
                let key = match name {
                    "SO_KEEPALIVE" => "on",
                    "TCP_KEEPIDLE" => "idle",
                    "TCP_KEEPINTVL" => "interval",
                    _ => "count",
                };
                let v =
                    int().ok_or_else(|| why(&format!("setsockopt {name}"), arg(3).to_string()))?;
                if key == "on" && v != 1 {
                    return Err(why("setsockopt SO_KEEPALIVE", "off".to_string()));
                }
                if kind != Fd::Conn {
                    return Err(why(
                        &format!("setsockopt {name}"),
                        "not on the connection".to_string(),
                    ));
                }
                self.wait_for(e)?;
                self.keepalive.insert(key, v);
                self.keepalive_line = e.line;
                if self.keepalive.len() == 4 {
                    let k = std::mem::take(&mut self.keepalive);
                    self.step(
                        e.line,
                        format!(
                            "call: {{ keepalive: {{ idle: {}s, interval: {}s, count: {} }} }}",
                            k["idle"], k["interval"], k["count"]
                        ),
                    );
                }
                Ok(())
            }
            other => Err(why(&format!("setsockopt {other}"), arg(3).to_string())),
        }
    }

    pub(super) fn close(&mut self, e: &Event, s: &Syscall, rest: &[Event]) -> Result<(), Why> {
        Self::ok_result(s)?;
        let Some((fd, kind)) = self.fd(s) else {
            return Err(why(
                "close",
                "a socket the script did not create".to_string(),
            ));
        };
        match kind {
            Fd::Fresh => {
                self.idle(e)?;
                self.fds.remove(&fd);
                self.note(e.line, "closing a socket that never connected");
                Ok(())
            }
            Fd::Listener => {
                // Closing the listener only matters to connections not accepted yet and to
                // SYNs still to come.
                let syn_later = rest.iter().any(|r| {
                    matches!(&r.action, Action::Packet(p)
                        if p.direction == Direction::Inbound && p.flags.contains('S') && !p.flags.contains('.'))
                });
                if self.accepted && !syn_later {
                    self.idle(e)?;
                    self.note(
                        e.line,
                        "closing the listener after its connection was accepted: no SYN follows",
                    );
                    Ok(())
                } else {
                    Err(why(
                        "close of the listener",
                        "with connections or SYNs to come".to_string(),
                    ))
                }
            }
            Fd::Conn => {
                if self.linger0.contains(&fd) {
                    self.wait_for(e)?;
                    self.step(e.line, "call: abort".into());
                    self.closed = true;
                    return Ok(());
                }
                // close(2) also gives up receiving: unread data makes it send a RST, and data
                // arriving later draws one (RFC 1122 4.2.2.13); the case's close keeps
                // receiving, its release does not. They agree when neither happens.
                let data_later = rest.iter().any(|r| {
                    matches!(&r.action, Action::Packet(p)
                        if p.direction == Direction::Inbound && p.len > 0)
                });
                let release = self.in_data_end > self.read_off || data_later;
                self.wait_for(e)?;
                let call = if release { "release" } else { "close" };
                self.step(e.line, format!("call: {call}"));
                self.closed = true;
                self.released = release;
                Ok(())
            }
        }
    }
}

/// The case language's name for an errno packetdrill expects.
pub(super) fn errno(name: &str) -> Option<&'static str> {
    Some(match name {
        "ECONNRESET" => "ECONNRESET",
        "ECONNREFUSED" => "ECONNREFUSED",
        "ETIMEDOUT" => "ETIMEDOUT",
        "ENOTCONN" => "ENOTCONN",
        "EPIPE" => "EPIPE",
        "EAGAIN" | "EWOULDBLOCK" => "EAGAIN",
        _ => return None,
    })
}
