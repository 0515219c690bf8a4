//! SEGMENT ARRIVES at the stack: CLOSED (RFC 9293 3.10.7.1) and LISTEN (3.10.7.2), which have
//! no TCB, and the hand-over of a segment to its connection's TCB.

use super::*;

impl Stack {
    // ----- SEGMENT ARRIVES without a TCB -------------------------------------------------------

    /// RFC 9293 3.10.7.1: CLOSED (no TCB, no listener).
    pub(super) fn segment_for_closed(
        &mut self,
        tuple: FourTuple,
        tcp: &TcpRepr,
        handled: &mut Handled,
    ) {
        if tcp.flags.rst() {
            // CL-1: an incoming RST is discarded; never answer an RST with an RST.
            handled.rules.push(Rule::Cl1);
        } else if !tcp.flags.ack() {
            // CL-2: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
            handled.rules.push(Rule::Cl2);
            self.send_rst(tuple, SeqNumber(0), Some(tcp.seq + seg_len(tcp)));
        } else {
            // CL-3: <SEQ=SEG.ACK><CTL=RST>.
            handled.rules.push(Rule::Cl3);
            self.send_rst(tuple, tcp.ack, None);
        }
    }

    /// RFC 9293 3.10.7.2: LISTEN.
    pub(super) fn segment_for_listener(
        &mut self,
        now: Instant,
        listener: SocketHandle,
        tuple: FourTuple,
        seg: &Segment,
        security_ok: bool,
        handled: &mut Handled,
    ) {
        let tcp = &seg.tcp;
        if tcp.flags.rst() {
            // LI-1: first check, an RST is ignored.
            handled.rules.push(Rule::Li1);
            return;
        }
        if tcp.flags.ack() {
            // LI-2: second check, any ACK is bad: <SEQ=SEG.ACK><CTL=RST>.
            handled.rules.push(Rule::Li2);
            self.send_rst(tuple, tcp.ack, None);
            return;
        }
        if !tcp.flags.syn() {
            // LI-5: fourth, other text or control: drop.
            handled.rules.push(Rule::Li5);
            return;
        }
        if !security_ok {
            // LI-3: third check, security/compartment mismatch: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
            handled.rules.push(Rule::Li3);
            self.send_rst(tuple, SeqNumber(0), Some(tcp.seq + seg_len(tcp)));
            return;
        }
        // Backlog full: drop the SYN silently, the peer will retransmit it (module docs).
        let full = match self.sockets.get(&listener) {
            Some(Socket::Listener(l)) => {
                l.half_open.len() >= self.config.syn_backlog
                    || l.accept_queue.len() >= self.config.accept_backlog
            }
            _ => true,
        };
        if full {
            self.stats.syn_dropped += 1;
            return;
        }
        // LI-4: a new connection in SYN-RECEIVED with an RFC 6528 ISS; the SYN-ACK is queued.
        handled.rules.push(Rule::Li4);
        let h = self.accept_syn(now, listener, tuple, tcp);
        handled.state_after = self.state(h);
        handled.handle = Some(h);
    }

    /// Create the passive connection of LI-4.
    pub(super) fn accept_syn(
        &mut self,
        now: Instant,
        listener: SocketHandle,
        tuple: FourTuple,
        syn: &TcpRepr,
    ) -> SocketHandle {
        let iss = self.isn.isn(now, &tuple);
        let mut tcb = Tcb::accept_syn(&self.config, tuple, iss, syn, now);
        if let Some(jar) = &self.cookies {
            tcb.take_fastopen(jar.decide(tuple.remote.ip(), syn), syn);
        }
        let h = self.alloc_handle();
        let conn = Conn {
            tcb,
            listener: Some(listener),
            queued: false,
            owned: false,
            released: false,
            reading_given_up: false,
            in_demux: true,
        };
        self.sockets.insert(h, Socket::Conn(Box::new(conn)));
        self.conns.insert(tuple, h);
        if let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener) {
            l.half_open.insert(h);
        }
        self.update(now, h);
        h
    }

    // ----- SEGMENT ARRIVES with a TCB ----------------------------------------------------------

    pub(super) fn segment_for_conn(
        &mut self,
        now: Instant,
        h: SocketHandle,
        seg: &Segment,
        security_ok: bool,
        handled: &mut Handled,
    ) {
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            // The table and the sockets always agree; treat a mismatch as CLOSED.
            self.conns.retain(|_, v| *v != h);
            return;
        };
        let arrival = Arrival {
            tcp: &seg.tcp,
            security_ok,
            ecn: seg.ip.ecn(),
        };
        let outcome = c.tcb.handle_segment(now, &arrival);
        // RFC 9293 3.6.1 SHLD-3 (RFC 1122 4.2.2.13): "if new data is received after CLOSE is
        // called" by an application that no longer reads, an RST shows that it was lost. The
        // TCB took the data (and would ACK it); the RST at SND.NXT replaces that ACK.
        if c.reading_given_up && !c.tcb.is_closed() && c.tcb.unread() > 0 {
            let _ = c.tcb.release(now);
        }
        let reopen = c.tcb.take_time_wait_syn();
        let learned = c.tcb.take_fastopen_cookie();
        handled.rules = outcome.rules;
        handled.handle = Some(h);
        handled.state_after = c.tcb.state();
        self.update(now, h);
        if let Some(cookie) = learned {
            let key = (seg.dst().ip(), seg.src().ip());
            self.server_cookies.insert(key, cookie);
        }
        if reopen {
            // SQ-5 (MAY-2, RFC 6191): the TIME-WAIT TCB is deleted and its SYN opens a new
            // incarnation, processed as if it had arrived in LISTEN. Without a listener on the
            // port it meets CLOSED instead (CL-2), as any SYN to a closed port does.
            let tuple = FourTuple {
                local: seg.dst(),
                remote: seg.src(),
            };
            let mut next = Handled::found(tuple, State::Closed);
            if let Some(l) = self.find_listener(tuple.local) {
                next.state_after = State::Listen;
                self.segment_for_listener(now, l, tuple, seg, security_ok, &mut next);
            } else {
                self.segment_for_closed(tuple, &seg.tcp, &mut next);
            }
            handled.rules.extend(next.rules);
            handled.state_after = next.state_after;
            handled.handle = next.handle;
        }
    }
}

/// SEG.LEN (RFC 9293 3.4): payload octets, plus one for SYN and one for FIN.
fn seg_len(tcp: &TcpRepr) -> u32 {
    let len = tcp.payload.len() + usize::from(tcp.flags.syn()) + usize::from(tcp.flags.fin());
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seg_len_counts_syn_and_fin() {
        let mut t = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq: SeqNumber(0),
            ack: SeqNumber(0),
            flags: TcpFlags::SYN | TcpFlags::FIN,
            reserved: 0,
            window: 0,
            urgent: 0,
            options: Vec::new(),
            padding: Vec::new(),
            payload: vec![0; 5],
        };
        assert_eq!(seg_len(&t), 7);
        t.flags = TcpFlags::ACK;
        assert_eq!(seg_len(&t), 5);
    }
}
