//! Statistical and load steps: `isn_sample` (RFC 9293 3.4.1) and `syn_flood` (RFC 9293
//! 3.10.7.2, RFC 4987).
//!
//! `isn.rs` is pure math on series of ISNs ([`judge_fresh`], [`judge_clock`]). The steps
//! (`isn_sample.rs`, `syn_flood.rs`) drive a [`Target`] for many handshakes at once; the runner
//! hands them the pieces of its state they need ([`Io`], here) and turns an `Err` into a step
//! failure.

mod isn;
mod isn_sample;
mod syn_flood;

pub use isn::*;
pub use isn_sample::isn_sample;
pub use syn_flood::syn_flood;

use super::conn::ConnView;
use super::event::{Direction, TraceEntry};
use crate::packet::build::build;
use crate::packet::observe::observe;
use crate::packet::render::render;
use crate::packet::spec::{ChecksumSpec, IpFields, Observed, OptionSpec, PacketSpec};
use crate::target::Target;
use crate::tcp::flags::SYN;
use std::net::SocketAddr;
use std::time::Duration;

/// The parts of the runner's state a statistical step uses.
pub struct Io<'a> {
    pub target: &'a mut dyn Target,
    pub conn: &'a mut ConnView,
    /// The case's tester address and port.
    pub tester: SocketAddr,
    /// The target's listening address and port.
    pub target_addr: SocketAddr,
    pub trace: &'a mut Vec<TraceEntry>,
    /// The IPv4 identification of the instance's next packet, counted per instance so that a
    /// seed replays a run's packets exactly.
    pub ident: &'a mut u16,
}

/// How long to wait for the SYN-ACK of one sample (doubled for each SYN sent again).
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// SYNs sent per sample before the sample fails.
const SYN_TRIES: u32 = 3;

/// Dynamic port range (RFC 6335 6): tester ports of samples and floods are drawn from it.
const DYNAMIC_FIRST: u16 = 49_152;

impl Io<'_> {
    /// One trace entry, stamped with the target's clock (the runner's notes go through here).
    pub(crate) fn note(&mut self, direction: Direction, text: String, packet: Option<Vec<u8>>) {
        let at = self.target.now();
        self.trace.push(TraceEntry {
            at,
            direction,
            text,
            packet,
        });
    }

    fn inject(&mut self, spec: &PacketSpec, record: bool) -> Result<(), String> {
        let mut spec = spec.clone();
        if spec.ip.ident.is_none() {
            spec.ip.ident = Some(*self.ident);
            *self.ident = self.ident.wrapping_add(1);
        }
        let bytes = build(&spec);
        if record {
            let text = observe(&bytes)
                .map(|o| render(&o, None))
                .unwrap_or_else(|e| format!("undecodable: {e}"));
            self.note(Direction::Sent, text, Some(bytes.clone()));
        }
        self.target
            .inject(&bytes)
            .map_err(|e| format!("target error: {e}"))
    }

    /// The next decodable packet from the target within `within` (undecodable ones skipped).
    fn receive(&mut self, within: Duration) -> Result<Option<(Duration, Observed)>, String> {
        let deadline = self.target.now() + within;
        loop {
            let left = deadline.saturating_sub(self.target.now());
            let Some(r) = self
                .target
                .receive(left)
                .map_err(|e| format!("target error: {e}"))?
            else {
                return Ok(None);
            };
            if let Ok(o) = observe(&r.packet) {
                return Ok(Some((r.at, o)));
            }
        }
    }

    fn record_received(&mut self, o: &Observed) {
        self.note(Direction::Received, render(o, None), Some(o.raw.clone()));
    }
}

fn segment(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: u16) -> PacketSpec {
    PacketSpec {
        src,
        dst,
        seq,
        ack,
        flags,
        window: 65535,
        urgent: 0,
        reserved: 0,
        // RFC 9293 3.7.1: a SYN carries MSS (MUST-14), other segments never (MUST-65); no
        // other option, to keep samples alike.
        options: if flags & SYN != 0 {
            vec![OptionSpec::Mss(1460)]
        } else {
            Vec::new()
        },
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    }
}

/// The `i`-th port after `own` in the dynamic range, never `own` itself.
fn nth_port(own: u16, i: u32) -> u16 {
    let span = u32::from(u16::MAX - DYNAMIC_FIRST); // 16383 ports other than `own`
    let base = u32::from(own.max(DYNAMIC_FIRST) - DYNAMIC_FIRST);
    let off = (base + 1 + i % span) % (span + 1);
    DYNAMIC_FIRST + off as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_stay_in_range_and_skip_own() {
        for own in [49_152u16, 50_000, 65_535] {
            for i in [0u32, 1, 16_382, 16_383, 40_000] {
                let p = nth_port(own, i);
                assert!(p >= DYNAMIC_FIRST && p != own, "own {own} i {i} -> {p}");
            }
        }
        assert_ne!(nth_port(50_000, 0), nth_port(50_000, 1));
    }
}
