//! TCP Fast Open, client side (RFC 7413 4.1.3, 4.2.1 and 4.2.2 "Client: Receiving SYN-ACK").
//!
//! The application asks for Fast Open on an active OPEN (Linux's TCP_FASTOPEN_CONNECT). With no
//! cookie cached for the server, the SYN goes at once with an empty option, a cookie request
//! (4.1.1); the data waits for the handshake. With a cookie, the SYN waits for the first SEND and
//! carries the cookie and that data (4.2.1). The cookie and MSS of a SYN-ACK are handed to the
//! stack, which caches them per client and server address (4.1.3).

use super::Tcb;
use crate::fastopen::{self, ClientCookie};
use crate::state::State;
use crate::wire::{TcpOption, TcpRepr, TCP_MAX_OPTIONS_LEN};

/// What Fast Open does for our SYN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ClientFastOpen {
    /// Not asked for (or a passive connection).
    Off,
    /// No cookie cached: the SYN carries an empty option.
    Request,
    /// The cached cookie goes on the SYN with data.
    Cookie(ClientCookie),
    /// Asked for, but the SYN timed out: it is retransmitted without data or option (4.2.1).
    Retried,
}

impl Tcb {
    /// The application asked for Fast Open on this active OPEN, `cached` is the server's
    /// cookie if the stack has one. With a cookie the SYN waits for the first SEND, so that it
    /// can carry data (RFC 7413 4.2.1).
    pub fn ask_fastopen(&mut self, cached: Option<&ClientCookie>) {
        if self.state != State::SynSent || self.snd_nxt != self.iss {
            return;
        }
        match cached {
            None => self.fastopen_client = ClientFastOpen::Request,
            Some(c) => {
                self.fastopen_client = ClientFastOpen::Cookie(c.clone());
                self.syn_tx = false;
            }
        }
    }

    /// A cookie (and MSS) learned from a SYN-ACK, for the stack's cache (RFC 7413 4.1.3).
    pub fn take_fastopen_cookie(&mut self) -> Option<ClientCookie> {
        self.fastopen_learned.take()
    }

    /// The SYN waits for the data it is to carry.
    pub(super) fn fastopen_deferred(&self) -> bool {
        self.state == State::SynSent
            && matches!(self.fastopen_client, ClientFastOpen::Cookie(_))
            && self.snd_nxt == self.iss
            && !self.syn_tx
    }

    /// The Fast Open option of our SYN, if `used` octets of options leave room for it
    /// (4.2.1 step 1a: otherwise "abort TFO and fall back to the regular 3WHS").
    pub(super) fn fastopen_syn_option(&self, used: usize) -> Option<TcpOption> {
        let cookie = match &self.fastopen_client {
            ClientFastOpen::Request => Vec::new(),
            ClientFastOpen::Cookie(c) => c.cookie.clone(),
            ClientFastOpen::Off | ClientFastOpen::Retried => return None,
        };
        let opt = TcpOption::Unknown {
            kind: fastopen::KIND,
            data: cookie,
        };
        (used + opt.wire_len() <= TCP_MAX_OPTIONS_LEN).then_some(opt)
    }

    /// Octets of data our first SYN carries: 4.2.1 step 1b, "any data up to the cached server
    /// MSS or default 536 bytes", less the options (the MSS counts the data after them, RFC
    /// 9293 3.7.1). Only with a cookie, and only if the option found room.
    pub(super) fn fastopen_syn_data(&self, options: &[TcpOption]) -> usize {
        let ClientFastOpen::Cookie(c) = &self.fastopen_client else {
            return 0;
        };
        let has_option = options.iter().any(|o| {
            matches!(
                o,
                TcpOption::Unknown {
                    kind: fastopen::KIND,
                    ..
                }
            )
        });
        if !has_option {
            return 0;
        }
        let mss = usize::from(c.mss.unwrap_or(self.opts.peer_mss));
        let option_len = options.iter().map(TcpOption::wire_len).sum::<usize>();
        let room = mss.saturating_sub(option_len.next_multiple_of(4));
        self.send_buf.len().min(room)
    }

    /// The SYN's retransmission timer fired in SYN-SENT. 4.2.1: "the client SHOULD retransmit a
    /// SYN packet without data and Fast Open options"; the data goes after the handshake.
    pub(super) fn fastopen_syn_timeout(&mut self) {
        if self.state != State::SynSent || self.fastopen_client == ClientFastOpen::Off {
            return;
        }
        self.fastopen_client = ClientFastOpen::Retried;
        self.snd_nxt = self.iss + 1u32;
    }

    /// A SYN-ACK acknowledged our SYN in SYN-SENT (4.2.2, "Client: Receiving SYN-ACK"): step 1,
    /// its cookie and MSS go to the cache; step 2, the ACK carries "the data after SND.UNA":
    /// data of the SYN the server did not acknowledge is sent again at once, as new data
    /// ("The client SHOULD retransmit any unacknowledged data in the first ACK packet").
    pub(super) fn fastopen_syn_acked(&mut self, seg: &TcpRepr) {
        if self.fastopen_client == ClientFastOpen::Off {
            return;
        }
        if let Some(cookie) = fastopen::syn_cookie(seg) {
            if fastopen::valid_cookie_len(cookie.len()) {
                self.fastopen_learned = Some(ClientCookie {
                    cookie: cookie.to_vec(),
                    mss: super::options::syn_options(seg).mss,
                });
            }
        }
        if self.snd_nxt > self.snd_una {
            self.snd_nxt = self.snd_una;
            // The octets will have been sent twice: no RTT sample from them (Karn, MUST-18).
            self.rtt_sample = None;
            self.timers.stop(super::timers::Timer::Retransmit);
            self.rtx_since = None;
        }
    }
}
