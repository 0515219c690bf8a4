//! The sockets' bookkeeping: the half-open set and the accept queue, a connection's events and
//! its removal, listeners by address, handles and ephemeral ports.

use super::*;

impl Stack {
    /// After anything that may have changed connection `h`: move a passive connection from the
    /// half-open set to the accept queue, forward its events, and forget it once its TCB is
    /// deleted (taking its last segments first).
    pub(super) fn update(&mut self, now: Instant, h: SocketHandle) {
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            return;
        };
        let gone = c.tcb.is_closed() || c.tcb.returned_to_listen();
        let mut incoming = None;
        let mut left_half_open = None;
        if let (Some(l), false) = (c.listener, c.queued) {
            if gone {
                left_half_open = Some(l);
            } else if c.tcb.state() != State::SynReceived || c.tcb.fastopen_accepted() {
                // The handshake completed (3.10.7.4 fifth check, SYN-RECEIVED -> ESTABLISHED),
                // or a SYN with a valid Fast Open cookie brought data the application may read
                // now (RFC 7413 4.2.2).
                c.queued = true;
                left_half_open = Some(l);
                incoming = Some(l);
            }
        }
        let visible = c.owned || c.queued;
        let mut out = Vec::new();
        while let Some(ev) = c.tcb.poll_event() {
            out.push(ev);
        }
        let mut last = Vec::new();
        if gone && c.in_demux {
            c.in_demux = false;
            while let Some(tcp) = c.tcb.poll_transmit(now) {
                last.push(tcp);
            }
        }
        let forget = gone && (c.released || !visible || c.tcb.returned_to_listen());
        let tuple = c.tcb.tuple();

        if let Some(l) = left_half_open {
            if let Some(Socket::Listener(listener)) = self.sockets.get_mut(&l) {
                listener.half_open.remove(&h);
                if let Some(l) = incoming {
                    listener.accept_queue.push_back(h);
                    self.events.push_back((h, Event::Incoming { listener: l }));
                }
            }
        }
        if visible {
            self.events
                .extend(out.into_iter().map(|ev| (h, Event::Conn(ev))));
        }
        for tcp in last {
            let p = self.frame(tuple, tcp, ecn::NOT_ECT);
            self.transmit.push_back(p);
        }
        if gone && self.conns.get(&tuple) == Some(&h) {
            self.conns.remove(&tuple);
        }
        if forget {
            self.sockets.remove(&h);
        }
    }

    pub(super) fn close_listener(&mut self, now: Instant, h: SocketHandle) {
        let Some(Socket::Listener(l)) = self.sockets.remove(&h) else {
            return;
        };
        self.listeners.remove(&l.local);
        // Connections nobody accepted die with their listener (RST if synchronized).
        for child in l.half_open.into_iter().chain(l.accept_queue) {
            if let Some(Socket::Conn(c)) = self.sockets.get_mut(&child) {
                c.listener = None;
                c.queued = false;
                if !c.tcb.is_closed() {
                    c.tcb.abort(now);
                }
                self.update(now, child);
                // Never visible to the application: gone even if the TCB lingers.
                if let Some(Socket::Conn(c)) = self.sockets.get(&child) {
                    if !c.owned {
                        let tuple = c.tcb.tuple();
                        if self.conns.get(&tuple) == Some(&child) {
                            self.conns.remove(&tuple);
                        }
                        self.sockets.remove(&child);
                    }
                }
            }
        }
    }

    /// A listener for `local`: the exact address first, then the wildcard of its family.
    pub(super) fn find_listener(&self, local: SocketAddr) -> Option<SocketHandle> {
        if let Some(h) = self.listeners.get(&local) {
            return Some(*h);
        }
        let any: IpAddr = match local {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        };
        self.listeners
            .get(&SocketAddr::new(any, local.port()))
            .copied()
    }

    pub(super) fn conn(&self, h: SocketHandle) -> Option<&Conn> {
        match self.sockets.get(&h) {
            Some(Socket::Conn(c)) => Some(c),
            _ => None,
        }
    }

    pub(super) fn conn_mut(&mut self, h: SocketHandle) -> Result<&mut Conn, StackError> {
        match self.sockets.get_mut(&h) {
            Some(Socket::Conn(c)) => Ok(c),
            Some(Socket::Listener(_)) => Err(StackError::IsListener),
            None => Err(StackError::NoSuchSocket),
        }
    }

    pub(super) fn alloc_handle(&mut self) -> SocketHandle {
        let h = SocketHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        h
    }

    pub(super) fn ephemeral_tuple(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<FourTuple> {
        for _ in 0..EPHEMERAL_COUNT {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            let tuple = FourTuple {
                local: SocketAddr::new(local.ip(), port),
                remote,
            };
            if !self.conns.contains_key(&tuple) {
                return Some(tuple);
            }
        }
        None
    }
}
