//! Everything a user can tune, with the RFC's defaults. One `Config` per stack; connections copy
//! what they need at creation.

use crate::time::Duration;

/// How RST and SYN segments are checked in the synchronized states (RFC 9293 3.10.7.4, MAY-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RstPolicy {
    /// RFC 793: any in-window RST resets; an in-window SYN resets; any ACK up to SND.NXT is taken.
    Rfc793,
    /// RFC 5961: only an exact RST (SEG.SEQ == RCV.NXT) resets, an in-window one draws a challenge
    /// ACK; any SYN draws a challenge ACK; ACKs below SND.UNA - MAX.SND.WND are discarded with
    /// an ACK.
    Rfc5961,
}

/// Keep-alive timing of one connection (RFC 9293 3.8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Time without any segment from the peer before the first probe (MUST-26: only when idle
    /// this long; MUST-27: configurable; MUST-28: the default is at least two hours).
    pub idle: Duration,
    /// Time between probes while they go unanswered.
    pub interval: Duration,
    /// Unanswered probes after which the connection is dropped. One lost ACK must not end the
    /// connection (MUST-29), so a count of 1 is the application's explicit choice.
    pub count: u32,
}

impl Keepalive {
    /// MUST-28: the idle time defaults to no less than two hours.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(2 * 60 * 60);
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            idle: Keepalive::DEFAULT_IDLE,
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// TCP Fast Open, server side (RFC 7413).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastOpen {
    /// Key of the cookie MAC (RFC 7413 4.1.2). `None` draws a random one per stack.
    pub secret: Option<[u8; 16]>,
}

/// The limits a received TCP User Timeout Option is held to (RFC 5482 3.1): the user timeout
/// it may set is `min(U_LIMIT, max(ADV_UTO, REMOTE_UTO, L_LIMIT))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtoLimits {
    /// L_LIMIT: never below this. RFC 5482 asks that it exceed the RTO and gives 100 s, the
    /// data R2 of RFC 1122 (RFC 9293 3.8.3, SHLD-11), for compatibility.
    pub lower: Duration,
    /// U_LIMIT: never above this, so a peer cannot make us hold its state for ever.
    pub upper: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The largest IP packet we send or want to receive; our MSS option is derived from it
    /// (MUST-67: MMS_R minus the fixed IP and TCP headers).
    pub mtu: usize,
    /// Receive buffer per connection, in octets (bounds the advertised window).
    pub recv_buffer: usize,
    /// Send buffer per connection, in octets.
    pub send_buffer: usize,
    /// Offer window scaling (RFC 7323 2) with this shift, `None` to not offer. Capped at 14.
    pub window_scale: Option<u8>,
    /// Offer timestamps (RFC 7323 3).
    pub timestamps: bool,
    /// Offer SACK-permitted and send SACK blocks (RFC 2018).
    pub sack: bool,
    /// Take part in ECN (RFC 3168, SHLD-8) when the peer's SYN asks for it. An active OPEN
    /// never asks (Linux's default, `tcp_ecn = 2`).
    pub ecn: bool,
    pub rst_policy: RstPolicy,
    /// Nagle's algorithm (RFC 9293 3.7.4, SHLD-7), switchable per connection too (MUST-17).
    pub nagle: bool,
    /// Delayed ACK timeout (RFC 9293 3.8.6.3: MUST-40 < 0.5 s), `None` to ACK every segment.
    pub delayed_ack: Option<Duration>,
    /// Maximum segment lifetime; TIME-WAIT lasts 2 * msl (MUST-13).
    pub msl: Duration,
    /// RFC 6298 2.1: initial RTO (1 s).
    pub rto_initial: Duration,
    /// RFC 6298 2.4: RTO floor (SHOULD be 1 s).
    pub rto_min: Duration,
    /// RFC 6298 2.5: RTO ceiling (MAY be placed, at least 60 s).
    pub rto_max: Duration,
    /// R1 (RFC 9293 3.8.3, SHLD-10: at least 3 retransmissions): after this many, negative
    /// advice is reported (`Event::Trouble`).
    pub r1: u32,
    /// R2 for data segments (SHLD-11: at least 100 s): give up and close after this long.
    pub r2: Duration,
    /// R2 for SYN segments (MUST-23: at least 3 minutes).
    pub r2_syn: Duration,
    /// Keep-alive idle time of new connections (MUST-25: off by default; MUST-28: at least two
    /// hours when on). An application changes it per connection with `Stack::set_keepalive`.
    pub keepalive: Option<Duration>,
    /// Interval between unanswered keep-alive probes of new connections.
    pub keepalive_interval: Duration,
    /// Unanswered probes before a new connection is dropped (MUST-29: tolerant of lost ACKs).
    pub keepalive_probes: u32,
    /// Half-open (SYN-RECEIVED) connections per listener; see `Stack` for what happens when full.
    pub syn_backlog: usize,
    /// Established connections waiting in `accept` per listener.
    pub accept_backlog: usize,
    /// IPv4 TTL / IPv6 hop limit of what we send (MUST-49).
    pub ttl: u8,
    /// The IPv4 Basic Security Option (RFC 1108) classification level this host runs at.
    /// `Some(level)` makes a SYN or segment with a different level a "security/compartment
    /// mismatch" (RFC 9293 3.10.7.2 step 3, 3.10.7.3 step 3, 3.10.7.4 step 3). `None` ignores IP
    /// security options, as nearly every modern stack does.
    pub security_level: Option<u8>,
    /// MAY-2 / RFC 6191: accept a SYN in TIME-WAIT that is clearly a new incarnation (higher
    /// sequence number, or higher timestamp) and open a new connection.
    pub time_wait_reuse: bool,
    /// Secret key of the RFC 6528 ISN function. `None` draws a random one per stack.
    pub isn_secret: Option<[u8; 16]>,
    /// Give Fast Open cookies and take data on a SYN with a valid one (RFC 7413). Off by
    /// default: RFC 7413 is Experimental, and data on a SYN may be replayed (its section 6).
    pub fastopen: Option<FastOpen>,
    /// Let a User Timeout Option from the peer (RFC 5482) change the user timeout (R2 for
    /// data) of a connection whose application did not set one, within these limits. `None`
    /// ignores the option like any the stack does not implement (MUST-6); that is the default,
    /// as RFC 5482 3 has the option off (ENABLED false) unless asked for.
    pub user_timeout_option: Option<UtoLimits>,
    /// RACK-TLP (RFC 8985) on connections that negotiated SACK: RACK marks a segment lost
    /// once one sent after it is delivered and a reordering window has passed (8985 6), and
    /// when the tail of a flight goes unacknowledged for a PTO (about two round trips) one
    /// probe, new data or the last segment, goes out before the RTO (8985 7). Off by default:
    /// the corpus's cases expect the classic RTO (RFC 6298 5.4) and duplicate-ACK counting
    /// (RFC 5681 3.2), and name RACK-TLP as a variant (`rack-tlp`).
    pub rack_tlp: bool,
    /// Packetization Layer PMTUD's answer to a path MTU black hole (RFC 4821 7.7): from the R1th
    /// retransmission timeout without progress (`r1`) the path MTU estimate drops to 1024
    /// (IPv4) or 1280 (IPv6), then halves per further timeout to 68 / 1280, so that data a
    /// link silently drops for its size gets through in smaller segments. RFC 9293 3.7.2
    /// strongly recommends PLPMTUD; off by default, as in most stacks (Linux:
    /// `net.ipv4.tcp_mtu_probing=0`).
    pub plpmtud_black_hole: bool,
}

impl Config {
    /// The keep-alive timing new connections start with, whether or not keep-alives are on.
    pub fn keepalive_timing(&self) -> Keepalive {
        Keepalive {
            idle: self.keepalive.unwrap_or(Keepalive::DEFAULT_IDLE),
            interval: self.keepalive_interval,
            count: self.keepalive_probes,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mtu: 1500,
            recv_buffer: 256 * 1024,
            send_buffer: 256 * 1024,
            window_scale: Some(7),
            timestamps: true,
            sack: true,
            ecn: true,
            rst_policy: RstPolicy::Rfc5961,
            nagle: true,
            delayed_ack: Some(Duration::from_millis(100)),
            msl: Duration::from_secs(120),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_secs(1),
            rto_max: Duration::from_secs(120),
            r1: 3,
            r2: Duration::from_secs(100),
            r2_syn: Duration::from_secs(180),
            keepalive: None,
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            syn_backlog: 128,
            accept_backlog: 128,
            ttl: 64,
            security_level: None,
            time_wait_reuse: true,
            isn_secret: None,
            fastopen: None,
            user_timeout_option: None,
            rack_tlp: false,
            plpmtud_black_hole: false,
        }
    }
}
