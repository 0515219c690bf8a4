//! The reference stack with a fault put in from outside: a [`Fault`] sees every packet going
//! in and out, and every state query, and may drop or rewrite a packet, send one more later,
//! or let time pass. Tests use it to stand in for stacks that misbehave (one that ignores
//! resets, one whose wire dies, one that throttles its challenge ACKs, one whose resets carry
//! the wrong number, one that sends a loss probe too early) or for a slow host, and check that
//! the verdicts say so.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tcpconform::cli::RstProfile;
use tcpconform::reference::config as reference_config;
use tcpconform::run::event::IpVersion;
use tcpconform::target::reference::ReferenceTarget;
use tcpconform::target::{AppCall, AppResult, Endpoints, Received, Target, TargetError};
use tcpconform::tcp::TcpState;

/// What a fault does. Every method's default leaves the reference as it is.
pub trait Fault {
    /// A new instance begins on `inner` (which the fault may replace).
    fn open(&mut self, _inner: &mut ReferenceTarget) {}
    /// Whether a packet from the tester reaches the stack.
    fn lets_in(&mut self, _packet: &[u8]) -> bool {
        true
    }
    /// Whether a packet from the stack reaches the tester.
    fn lets_out(&mut self, _packet: &[u8]) -> bool {
        true
    }
    /// A packet from the stack that reaches the tester, which the fault may rewrite.
    fn rewrite_out(&mut self, _packet: &mut Vec<u8>) {}
    /// After a state query, on the stack's clock.
    fn after_state(&mut self, _inner: &mut ReferenceTarget) {}
    /// A packet the stack seems to send this long after `packet` (a copy of it, say): a stack
    /// that sends more than the reference does.
    fn also_out(&mut self, _packet: &[u8]) -> Option<(Duration, Vec<u8>)> {
        None
    }
}

/// The reference stack behind a fault.
pub struct Faulty<F: Fault> {
    pub inner: ReferenceTarget,
    pub fault: F,
    /// What `Fault::also_out` added, with when it goes out on the stack's clock.
    later: Vec<(Duration, Vec<u8>)>,
}

impl<F: Fault> Faulty<F> {
    /// The reference with the RFC 5961 profile and this fault.
    pub fn new(fault: F) -> Self {
        Faulty {
            inner: ReferenceTarget::new(reference_config(RstProfile::Rfc5961)),
            fault,
            later: Vec::new(),
        }
    }
}

/// The flags of a packet (0 when it does not decode).
pub fn flags_of(packet: &[u8]) -> u16 {
    tcpconform::packet::observe::observe(packet).map_or(0, |o| o.flags)
}

impl<F: Fault> Target for Faulty<F> {
    fn name(&self) -> &str {
        "faulty reference"
    }
    fn open(
        &mut self,
        ip: IpVersion,
        s: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        self.fault.open(&mut self.inner);
        self.later.clear();
        self.inner.open(ip, s)
    }
    fn inject(&mut self, p: &[u8]) -> Result<(), TargetError> {
        if !self.fault.lets_in(p) {
            return Ok(());
        }
        self.inner.inject(p)
    }
    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
        let start = self.inner.now();
        loop {
            let now = self.inner.now();
            if let Some(i) = self.later.iter().position(|(at, _)| *at <= now) {
                let (at, packet) = self.later.remove(i);
                return Ok(Some(Received { at, packet }));
            }
            let left = within.saturating_sub(now.saturating_sub(start));
            if left.is_zero() {
                return Ok(None);
            }
            // Wake up for the earliest added packet, if it is due before `within` ends.
            let wait = self
                .later
                .iter()
                .map(|(at, _)| at.saturating_sub(now))
                .fold(left, Duration::min);
            if let Some(mut r) = self.inner.receive(wait)? {
                if let Some((after, packet)) = self.fault.also_out(&r.packet) {
                    self.later.push((r.at + after, packet));
                }
                if self.fault.lets_out(&r.packet) {
                    self.fault.rewrite_out(&mut r.packet);
                    return Ok(Some(r));
                }
            }
        }
    }
    fn app(&mut self, c: &AppCall) -> Result<AppResult, TargetError> {
        self.inner.app(c)
    }
    fn state(&mut self, l: SocketAddr, r: SocketAddr) -> Result<Option<TcpState>, TargetError> {
        let s = self.inner.state(l, r);
        self.fault.after_state(&mut self.inner);
        s
    }
    fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
        self.inner.wait(d)
    }
    fn now(&self) -> Duration {
        self.inner.now()
    }
    fn virtual_clock(&self) -> bool {
        true
    }
    fn close(&mut self) {
        self.inner.close()
    }
}
