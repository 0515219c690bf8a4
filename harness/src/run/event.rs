//! What the runner tells the reporters. Data flows one way: the runner emits these, reporters
//! (terminal, JUnit, JSON, pcap) consume them and never reach back (nextest's split).

use reference_stack::Rule;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::case::model::Level;
pub use crate::ip::IpVersion;

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
    /// A step did not match. How much that weighs is the failure's [`Level`].
    Failed(Failure),
    /// The instance ran but cannot be judged: its verdict would rest on silence alone (the
    /// target may as well be dead), or the harness stalled, or the target stopped answering.
    Inconclusive { reason: String },
    /// The case checks an optional feature the target did not offer (its SYN or SYN-ACK did
    /// not carry the option): nothing to judge.
    NotApplicable { reason: String },
    /// The case could not run on this target/IP version (e.g. needs an agent; over the time
    /// budget; interrupted).
    Skipped { reason: String },
}

/// What a finished instance means for the run, once its level, the baseline and `--strict`
/// are taken into account. Reporters show this; only `Failed` fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Passed,
    /// A MUST not met (or a SHOULD with `--strict`).
    Failed,
    /// A SHOULD or recommended practice not met.
    Warning,
    /// A MAY the target did not take: information about its choices.
    Info,
    /// A failure the target's baseline records.
    KnownDeviation,
    Inconclusive,
    NotApplicable,
    Skipped,
}

impl Verdict {
    /// The verdict of `outcome` (no baseline applied), with SHOULD failures counted as
    /// failures when `strict`.
    pub fn of(outcome: &Outcome, strict: bool) -> Verdict {
        match outcome {
            Outcome::Passed { .. } => Verdict::Passed,
            Outcome::Failed(f) if f.baseline.is_some() => Verdict::KnownDeviation,
            Outcome::Failed(f) => match f.level {
                Level::Must => Verdict::Failed,
                Level::Should | Level::Practice if strict => Verdict::Failed,
                Level::Should | Level::Practice => Verdict::Warning,
                Level::May => Verdict::Info,
            },
            Outcome::Inconclusive { .. } => Verdict::Inconclusive,
            Outcome::NotApplicable { .. } => Verdict::NotApplicable,
            Outcome::Skipped { .. } => Verdict::Skipped,
        }
    }

    /// The word reports use: `passed`, `failed`, `warning`, ...
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Warning => "warning",
            Verdict::Info => "info",
            Verdict::KnownDeviation => "baseline",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotApplicable => "not_applicable",
            Verdict::Skipped => "skipped",
        }
    }
}

/// A failed step: where, what was expected, what arrived.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Index of the step in the case (0-based) and its line in the case file, if known.
    pub step: usize,
    pub line: Option<usize>,
    /// One-line summary: "expected SYN-ACK within 1s, got RST".
    pub message: String,
    /// Expected vs received, field by field, for each segment comparison that failed: one for
    /// an `expect`, one per variant for a `one_of`; empty when no packet was compared.
    pub diff: Vec<SegmentDiff>,
    /// This failure is a known, recorded deviation of the target (baseline): reported, but it
    /// does not fail the run. The string is the baseline's reason with the RFC section.
    pub baseline: Option<String>,
    /// How strongly the RFC asks for what the failed step checks.
    pub level: Level,
}

/// One segment compared with what a step expected: a table of fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentDiff {
    /// The `one_of` variant the segment was compared with; `None` for a plain `expect`.
    pub variant: Option<String>,
    pub fields: Vec<FieldDiff>,
    /// What the table does not show: the arrival time missed, "expected nothing for 200ms".
    pub note: Option<String>,
}

/// Expected vs received of one field of a compared segment: a row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// `flags`, `seq`, `ack`, `win`, `options`, `len`, `data`, ...; an option's sub-field as
    /// `options.ts.ecr`, `options.sack[0].left`, `options.mss` or `options[2]` (its position
    /// in an exact list).
    pub field: String,
    /// What the case asked for, as the case wrote it with its value (`1 (abs 12346)`); `*`
    /// when the field was not checked.
    pub expected: String,
    /// What arrived; a payload as its length, hex and text (a bounded prefix).
    pub received: String,
    /// Whether this field made the comparison fail.
    pub differs: bool,
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
    /// SEGMENT ARRIVES rules the case claims (`RS-2`).
    pub cells: Vec<Rule>,
    /// How strongly the RFC asks for what the case checks (the case's `level`); a failed step
    /// carries its own in [`Failure::level`].
    pub level: Level,
    /// Rules the target itself reported (reference stack only), in order, deduplicated.
    pub rules_observed: Vec<Rule>,
    pub duration: Duration,
    pub outcome: Outcome,
    /// What the outcome means for the run ([`Verdict::of`], then the baseline and `--strict`
    /// applied by the executor).
    pub verdict: Verdict,
    /// The allowed variants the target chose, with the alternatives each was chosen among.
    pub choices: Vec<Choice>,
    pub trace: Vec<TraceEntry>,
}

impl CaseResult {
    /// `id [ipv4]`: the name reporters show and JUnit uses.
    pub fn display_name(&self) -> String {
        format!("{} [{}]", self.id, self.ip.label())
    }

    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }

    /// Failed at the level that fails a run, and not covered by the target's baseline.
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Failed
    }

    /// The failed step, if the instance failed at any level.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// The reason an instance was not judged (inconclusive, not applicable, skipped).
    pub fn reason(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Inconclusive { reason }
            | Outcome::NotApplicable { reason }
            | Outcome::Skipped { reason } => Some(reason),
            Outcome::Passed { .. } | Outcome::Failed(_) => None,
        }
    }
}

/// One choice a target made at a `one_of` step: the variant it took among the alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub chosen: String,
    /// Every variant the step allowed, sorted: what identifies the choice across cases.
    pub among: Vec<String>,
    /// The RFC 5961 mitigation the choice is about, where it is one (RFC 9293 MAY-12).
    pub mitigation: Option<Mitigation>,
}

/// RFC 9293 MAY-12 lets an implementation take RFC 5961's protections against blind
/// in-window attacks. Each of the three is one decision of the implementation, made once:
/// a stack that answers one in-window RST with a challenge ACK and resets on another, in
/// the same kind of state, follows neither RFC. The three are independent of each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mitigation {
    /// RFC 5961 3: an RST in the window but not at RCV.NXT draws a challenge ACK.
    Rst,
    /// RFC 5961 4: a SYN in a synchronized state draws a challenge ACK.
    Syn,
    /// RFC 5961 5: an ACK outside [SND.UNA - MAX.SND.WND, SND.NXT] is dropped with an ACK.
    Ack,
}

impl Mitigation {
    /// The mitigation a `one_of` between `rfc5961` and `rfc793` variants is about: the
    /// tester's last segment says which (RST, SYN, else its ACK field). `None` where the
    /// variants are not that choice. The ACK check holds in every state that reaches RFC
    /// 9293 3.10.7.4's fifth check, SYN-RECEIVED and TIME-WAIT included: the check comes
    /// before the per-state processing ("When the ACK value is acceptable, the per-state
    /// processing below applies").
    pub fn of(among: &[String], sent_flags: u16) -> Option<Mitigation> {
        let offered = |f: &str| among.iter().any(|v| family(v) == Some(f));
        if !(offered("rfc5961") && offered("rfc793")) {
            return None;
        }
        if sent_flags & crate::tcp::flags::RST != 0 {
            Some(Mitigation::Rst)
        } else if sent_flags & crate::tcp::flags::SYN != 0 {
            Some(Mitigation::Syn)
        } else {
            Some(Mitigation::Ack)
        }
    }

    /// The name a baseline's `choice` entry gives it.
    pub fn key(self) -> &'static str {
        match self {
            Mitigation::Rst => "rfc5961-rst",
            Mitigation::Syn => "rfc5961-syn",
            Mitigation::Ack => "rfc5961-ack",
        }
    }

    pub fn from_key(key: &str) -> Option<Mitigation> {
        [Mitigation::Rst, Mitigation::Syn, Mitigation::Ack]
            .into_iter()
            .find(|m| m.key() == key)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Mitigation::Rst => "RFC 5961 3 (in-window RST)",
            Mitigation::Syn => "RFC 5961 4 (SYN in a synchronized state)",
            Mitigation::Ack => "RFC 5961 5 (ACK outside the acceptable range)",
        }
    }
}

/// Which of RFC 9293 MAY-12's two ways a variant takes: `rfc5961` and its refinements
/// (`rfc5961-throttled`), or `rfc793`. Other variants (a TIME-WAIT SYN that reopens the
/// connection, RFC 6191) are another choice.
pub fn family(variant: &str) -> Option<&'static str> {
    if variant == "rfc5961" || variant.starts_with("rfc5961-") {
        Some("rfc5961")
    } else if variant == "rfc793" || variant.starts_with("rfc793-") {
        Some("rfc793")
    } else {
        None
    }
}

/// A choice the target made differently in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    /// The RFC 5961 mitigation, for a MAY-12 choice (which then fails the run).
    pub mitigation: Option<Mitigation>,
    /// The target's baseline knows it (a `choice` entry): its explanation.
    pub known: Option<String>,
    pub among: Vec<String>,
    /// Each variant taken, with the instances that took it (a few).
    pub taken: Vec<(String, Vec<String>)>,
    /// The choice is the implementation's (MAY-12): taking it both ways fails the run.
    pub fails: bool,
}

/// Totals at the end of a run, one per [`Verdict`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub warnings: usize,
    pub info: usize,
    pub inconclusive: usize,
    pub not_applicable: usize,
    pub skipped: usize,
    /// Failures matched by the baseline (counted here, not in `failed`).
    pub baseline: usize,
    /// Instances not run because the target stopped answering ([`RunEvent::TargetUnusable`]).
    pub not_run: usize,
    /// Implementation choices (MAY-12) the target made both ways: each fails the run.
    pub inconsistent: usize,
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
    /// Choices the target made differently across the run's instances, before `Finished`.
    Inconsistent(Vec<Inconsistency>),
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

impl Summary {
    /// Counts one finished instance by its verdict.
    pub fn count(&mut self, result: &CaseResult) {
        let n = match result.verdict {
            Verdict::Passed => &mut self.passed,
            Verdict::Failed => &mut self.failed,
            Verdict::Warning => &mut self.warnings,
            Verdict::Info => &mut self.info,
            Verdict::KnownDeviation => &mut self.baseline,
            Verdict::Inconclusive => &mut self.inconclusive,
            Verdict::NotApplicable => &mut self.not_applicable,
            Verdict::Skipped => &mut self.skipped,
        };
        *n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::flags::{ACK, PSH, RST, SYN};

    fn among(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_segment_sent_says_which_mitigation() {
        let both = among(&["rfc5961", "rfc793"]);
        assert_eq!(Mitigation::of(&both, RST), Some(Mitigation::Rst));
        assert_eq!(Mitigation::of(&both, RST | ACK), Some(Mitigation::Rst));
        assert_eq!(Mitigation::of(&both, SYN), Some(Mitigation::Syn));
        assert_eq!(Mitigation::of(&both, ACK | PSH), Some(Mitigation::Ack));
        let throttled = among(&["rfc5961", "rfc5961-throttled", "rfc793"]);
        assert_eq!(Mitigation::of(&throttled, SYN), Some(Mitigation::Syn));
        // Not that choice: one side missing, or other names.
        assert_eq!(Mitigation::of(&among(&["rfc5961", "reopen"]), SYN), None);
        assert_eq!(Mitigation::of(&among(&["ack", "silent"]), ACK), None);
    }

    #[test]
    fn variants_belong_to_a_family() {
        assert_eq!(family("rfc5961"), Some("rfc5961"));
        assert_eq!(family("rfc5961-throttled"), Some("rfc5961"));
        assert_eq!(family("rfc793"), Some("rfc793"));
        assert_eq!(family("reopen"), None);
        assert_eq!(family("rfc59610"), None);
    }
}
