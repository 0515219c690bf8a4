//! The user calls of RFC 9293 3.10.2-3.10.5: SEND, RECEIVE, CLOSE (and half-close), ABORT, and
//! the release of a connection the application gives up entirely (a socket's close(2)).

use super::{ConnError, ConnEvent, Tcb};
use crate::state::State;
use crate::time::Instant;

impl Tcb {
    /// SEND: queued in SYN-SENT and SYN-RECEIVED too (3.10.2); "connection closing" once a FIN
    /// is queued.
    pub(super) fn app_send(&mut self, _now: Instant, data: &[u8]) -> Result<usize, ConnError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        match self.state {
            State::Closed | State::Listen => Err(ConnError::InvalidState),
            _ if self.fin_queued => Err(ConnError::Closing),
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {
                if data.is_empty() {
                    return Ok(0);
                }
                let n = self.send_buf.write(data);
                // RFC 7413 4.2.1: a Fast Open SYN waited for its data.
                if n > 0 && self.fastopen_deferred() {
                    self.syn_tx = true;
                }
                match n {
                    0 => Err(ConnError::WouldBlock),
                    n => Ok(n),
                }
            }
            _ => Err(ConnError::Closing),
        }
    }

    /// RECEIVE: in-order octets; `Ok(0)` once the peer's FIN is reached.
    pub(super) fn app_recv(&mut self, buf: &mut [u8]) -> Result<usize, ConnError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        if self.app_closed {
            return Err(ConnError::Closing);
        }
        let n = self.recv_buf.read(buf);
        if n > 0 {
            self.maybe_window_update();
            return Ok(n);
        }
        if self.peer_fin {
            return Ok(0);
        }
        match self.state {
            // A connection opened with a valid Fast Open cookie is the application's already
            // (RFC 7413 4.2.2): more data may come before the handshake completes.
            State::SynReceived if self.fastopen_accepted => Err(ConnError::WouldBlock),
            State::Closed | State::Listen | State::SynSent | State::SynReceived => {
                Err(ConnError::InvalidState)
            }
            _ => Err(ConnError::WouldBlock),
        }
    }

    /// After a read: tell the peer when the window at least doubled by a MUST-39 step.
    fn maybe_window_update(&mut self) {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        let shift = self.opts.rcv_wscale;
        let avail = (self.recv_buf.free() as u64).min(u64::from(u16::MAX) << shift);
        let current = u64::from(self.rcv_wnd());
        if avail > current && avail - current >= self.sws_threshold() && current <= avail / 2 {
            self.ack_now = true;
        }
    }

    /// Half-close: FIN after the queued data. ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT -> LAST-ACK
    /// (3.10.4); in SYN-SENT / SYN-RECEIVED the FIN waits for ESTABLISHED.
    pub(super) fn app_shutdown(&mut self, _now: Instant) -> Result<(), ConnError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        match self.state {
            // 3.10.4 CLOSED STATE: "error: connection does not exist", also once our FIN was
            // acknowledged (LAST-ACK -> CLOSED keeps the handle until the user releases it).
            State::Closed | State::Listen => return Err(ConnError::InvalidState),
            _ if self.fin_queued => return Err(ConnError::Closing),
            // 3.10.4 SYN-RECEIVED: nothing to send: FIN now, FIN-WAIT-1 (the SYN-ACK is still
            // unacknowledged; its ACK is taken as AK-2).
            State::SynReceived if self.send_buf.is_empty() => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            State::SynSent | State::SynReceived => {
                // A Fast Open SYN that waited for data goes without.
                self.syn_tx |= self.fastopen_deferred();
                self.fin_queued = true;
            }
            State::Established => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.state = State::LastAck;
            }
            _ => return Err(ConnError::Closing),
        }
        Ok(())
    }

    /// CLOSE: in SYN-SENT the TCB is deleted; otherwise a half-close that also gives up
    /// RECEIVE. A repeated CLOSE is "ok" in FIN-WAIT-1/2 and "connection closing" after.
    pub(super) fn app_close(&mut self, now: Instant) -> Result<(), ConnError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        match self.state {
            State::SynSent => {
                self.flush_all();
                self.delete_tcb(Some(ConnEvent::Closed));
                return Ok(());
            }
            State::Closed | State::Listen => return Err(ConnError::InvalidState),
            _ => {}
        }
        let repeated = self.app_closed;
        if !self.fin_queued {
            self.app_shutdown(now)?;
        }
        self.app_closed = true;
        match self.state {
            // 3.10.4: a second CLOSE in CLOSING, LAST-ACK or TIME-WAIT: "error: connection
            // closing". (The first CLOSE after a `shutdown_write` only gives up RECEIVE: "ok".)
            State::Closing | State::LastAck | State::TimeWait if repeated => {
                Err(ConnError::Closing)
            }
            // FIN-WAIT-1/2: "ok" is allowed as long as no second FIN is sent.
            _ => Ok(()),
        }
    }

    /// ABORT (3.10.5): <SEQ=SND.NXT><CTL=RST> in SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2 and
    /// CLOSE-WAIT; no segment otherwise. CLOSED either way.
    pub(super) fn app_abort(&mut self, _now: Instant) {
        if self.is_closed() {
            return;
        }
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.queue_rst(self.snd_nxt, None);
        }
        self.flush_all();
        self.error = Some(ConnError::Reset);
        self.delete_tcb(Some(ConnEvent::Closed));
    }

    /// In-order octets received and not yet read by the application.
    pub fn unread(&self) -> usize {
        self.recv_buf.readable()
    }

    /// The application gives the connection up entirely, reading included (the "half-duplex"
    /// close of RFC 9293 3.6.1, MAY-1; a socket's close(2)). With data still unread, SHLD-3
    /// (RFC 1122 4.2.2.13, RFC 2525 2.17): "send a RST to show that data was lost", at SND.NXT
    /// as ABORT sends it (3.10.5), and the TCB is deleted. Otherwise a plain CLOSE (FIN). Data
    /// that arrives later is the stack's to refuse ([`crate::stack::Stack::release`]).
    pub fn release(&mut self, now: Instant) -> Result<(), ConnError> {
        if self.unread() == 0 || self.is_closed() {
            return self.app_close(now);
        }
        // Any state in which the peer holds a connection the RST can end (TIME-WAIT: none
        // of our octets is outstanding and the peer has closed).
        if self.state.is_synchronized() && self.state != State::TimeWait {
            self.queue_rst(self.snd_nxt, None);
        }
        self.flush_all();
        self.error = Some(ConnError::Reset);
        self.delete_tcb(Some(ConnEvent::Closed));
        Ok(())
    }

    fn flush_all(&mut self) {
        let n = self.send_buf.len();
        self.send_buf.consume(n);
        self.syn_queued = None;
    }
}
