//! What the runner tells the reporters. Data flows one way: the runner emits these, reporters
//! (terminal, JUnit, JSON, pcap) consume them and never reach back (nextest's split).

use std::path::PathBuf;
use std::time::Duration;

/// Which IP version a case instance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpVersion {
    V4,
    V6,
}

impl IpVersion {
    pub fn label(self) -> &'static str {
        match self {
            IpVersion::V4 => "ipv4",
            IpVersion::V6 => "ipv6",
        }
    }
}

/// Direction of one trace entry, from the tester's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A packet the tester injected into the target.
    Sent,
    /// A packet the target emitted.
    Received,
    /// An application call performed on the target side, or its result.
    App,
    /// A runner note: a wait, a state assertion, a variant chosen.
    Note,
}

/// One line of the exchange, in order.
#[derive(Debug, Clone)]
pub struct TraceEntry {
    /// Time since the case instance started (virtual on the reference target).
    pub at: Duration,
    pub direction: Direction,
    /// Human-readable, tcpdump-like: `S seq 0(1) win 65535 <mss 1460,sackOK>`.
    pub text: String,
    /// The raw IP packet for `Sent`/`Received` (what the pcap gets).
    pub packet: Option<Vec<u8>>,
}

/// How a case instance ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every step matched. `variants` names the allowed behaviours the target chose at each
    /// `one_of` step, e.g. `["rfc5961"]`.
    Passed { variants: Vec<String> },
    /// A step did not match.
    Failed(Failure),
    /// The case could not run on this target/IP version (e.g. needs an agent; IPv4-only rule).
    Skipped { reason: String },
}

/// A failed step: where, what was expected, what arrived.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Index of the step in the case (0-based) and its line in the case file, if known.
    pub step: usize,
    pub line: Option<usize>,
    /// One-line summary: "expected SYN-ACK within 1s, got RST".
    pub message: String,
    /// Expected vs received, field by field (multi-line), when a packet was compared.
    pub diff: Option<String>,
    /// This failure is a known, recorded deviation of the target (baseline): reported, but it
    /// does not fail the run. The string is the baseline's reason with the RFC section.
    pub baseline: Option<String>,
}

/// Everything known about one finished case instance.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case id, e.g. `rst/syn-received-passive-returns-to-listen` (grid instances carry
    /// their expansion suffix).
    pub id: String,
    pub title: String,
    pub ip: IpVersion,
    pub file: PathBuf,
    /// The target's name: `reference`, `linux`, `link`.
    pub target: String,
    /// RFC references as written in the case (`RFC9293 3.10.7.4`, `MUST-11`).
    pub rfc: Vec<String>,
    /// SEGMENT ARRIVES rule ids the case claims (`RS-2`).
    pub cells: Vec<String>,
    /// Rule ids the target itself reported (reference stack only), in order, deduplicated.
    pub rules_observed: Vec<String>,
    pub duration: Duration,
    pub outcome: Outcome,
    pub trace: Vec<TraceEntry>,
}

impl CaseResult {
    /// `id [ipv4]`: the name reporters show and JUnit uses.
    pub fn display_name(&self) -> String {
        format!("{} [{}]", self.id, self.ip.label())
    }

    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed { .. })
    }

    /// Failed and not covered by the target's baseline.
    pub fn failed(&self) -> bool {
        matches!(&self.outcome, Outcome::Failed(f) if f.baseline.is_none())
    }
}

/// Totals at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Failures matched by the baseline (counted here, not in `failed`).
    pub baseline: usize,
    /// Instances not run because the target stopped answering ([`RunEvent::TargetUnusable`]).
    pub not_run: usize,
    pub wall: Duration,
}

#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The run starts with `total` case instances (after filter, partition and IP expansion).
    Started {
        total: usize,
        target: String,
    },
    CaseStarted {
        id: String,
        ip: IpVersion,
    },
    CaseFinished(Box<CaseResult>),
    /// The target stopped answering (or never answered): the run stops, the instances not run
    /// yet are reported as such. `after` names the last instance that ran, if any.
    TargetUnusable {
        reason: String,
        after: Option<String>,
    },
    Finished(Summary),
}

/// A consumer of run events.
pub trait Reporter {
    fn event(&mut self, event: &RunEvent) -> std::io::Result<()>;
}
