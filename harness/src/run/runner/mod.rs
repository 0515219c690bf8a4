//! Runs one case instance (a case on one IP version) against a target, step by step, and
//! returns its [`CaseResult`]. The runner owns the tester's side of the connection: its ISN, its
//! port, and the [`ConnView`] of the target's variables learned from the wire.

mod calls;
mod fill;
mod segments;
mod states;
mod variants;

use super::conn::ConnView;
use super::event::{
    CaseResult, Choice, Direction, Failure, FieldDiff, IpVersion, Outcome, SegmentDiff, TraceEntry,
    Verdict,
};
use super::fit;
use super::matching::{self, resolve, Comparison};
use super::probe::{self, Expectation, Finding};
use super::stats;
use crate::app::{AppCall, AppResult, ErrorKind};
use crate::case::expr::{EvalError, Expr, Space, Var};
use crate::case::model::{
    Assumption, Branch, Call, CallError, CallKind, Case, Expect, Level, ReadExpect, Send,
    SendOption, Setup, Shutdown, Step, StepKind, Value, FAST_OPEN_KIND,
};
use crate::case::needs::{Feature, Need};
use crate::packet::build::{build, icmp_error, Quoted};
use crate::packet::diff::rows as diff_rows;
use crate::packet::observe::observe;
use crate::packet::render::{render, Relative};
use crate::packet::spec::{Observed, ObservedOption, OptionSpec, PacketSpec};
use crate::target::{Application, FixedApp, Received, Target};
use crate::tcp::{flags, TcpState};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant as WallClock};

/// How often queued calls are offered to a non-blocking socket again while segments are awaited.
const PENDING_CALL_POLL: Duration = Duration::from_millis(2);
/// How long a state probe waits for its answer.
const PROBE_WAIT: Duration = Duration::from_secs(1);
/// How long the end of a case in SYN-SENT waits for the next SYN retransmission: past the
/// initial RTO (RFC 6298 2.1: 1 s) and its first doubling.
const SYN_RETRANSMISSION_WAIT: Duration = Duration::from_secs(3);

/// Port the reference target connects from in `setup: connect` (a real kernel picks its own;
/// the runner learns it from the SYN either way).
const ACTIVE_OPEN_PORT: u16 = 49_152;

/// Per-instance randomness: the tester's ISN and port. `seed` comes from the run, so a run can
/// be repeated exactly (`--seed`).
#[derive(Debug, Clone, Copy)]
pub struct InstanceSeed(pub u64);

impl InstanceSeed {
    fn next(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.0)
    }
}

struct Run<'t> {
    target: &'t mut dyn Target,
    conn: ConnView,
    tester: SocketAddr,
    target_addr: SocketAddr,
    trace: Vec<TraceEntry>,
    variants: Vec<String>,
    choices: Vec<Choice>,
    /// A packet received while choosing a `one_of` branch that belongs to a later step.
    /// Packets received out of turn (while choosing a `one_of` branch, or while waiting for a
    /// probe's answer), for the next steps, oldest first.
    pushback: VecDeque<Received>,
    /// `setup: connect`: the target picks its own port; learn it from its first segment.
    learn_target_port: bool,
    /// `setup: listen`: the target's port listens, so a segment that meets no connection there
    /// meets LISTEN (RFC 9293 3.10.7.2), not CLOSED (3.10.7.1).
    port_listens: bool,
    /// Set when the instance ends without a verdict on the case: the target cannot perform a
    /// step at all ([`Target::cannot`], skipped), or did not offer an optional feature the
    /// case checks (not applicable).
    no_verdict: Option<Outcome>,
    /// The target's application when the harness does not drive it (agentless `link`).
    fixed: Option<FixedApp>,
    /// The optional features the case needs the target to offer (`needs:`), checked against
    /// the target's first SYN or SYN-ACK.
    needs_offered: Vec<Feature>,
    offered_checked: bool,
    /// An expression needed `ts.val`/`ts.ecr` before the target sent a timestamp.
    unbound_timestamps: std::cell::Cell<bool>,
    /// The last step that passed on silence (an `expect_none`) with nothing seen of the target
    /// since: a verdict resting on it needs proof that the target is alive and as expected.
    silence: Option<(Step, usize)>,
    /// The segment the last `expect` took, with the tester's view of the connection before
    /// it, for an `expect_also`.
    taken: Option<(Observed, ConnView)>,
    /// How long the last `expect` that took a segment waited for it (for `interval`).
    last_wait: Option<Duration>,
    /// When the last step that was not a pure observation ended: `after` and `interval` time a
    /// segment from there, so a `state:` query or probe between a segment and its
    /// retransmission (slow under load) does not shift the retransmission's timing.
    origin: Option<Duration>,
    /// Calls made before the handshake completed that a non-blocking socket would not take yet:
    /// RFC 9293 3.10.2 SEND in SYN-SENT / SYN-RECEIVED queues the data (and a CLOSE after it
    /// waits for it, 3.10.4), so the runner offers them again, in order, while it waits for
    /// segments, until the socket takes them.
    pending_calls: VecDeque<AppCall>,
    /// The state the last `state:` step asserted, while nothing the tester did since can have
    /// moved it (no segment sent, no call that succeeded).
    asserted: Option<TcpState>,
    /// The control bits of the tester's last segment: what a `one_of` between RFC 5961 and
    /// RFC 793 is about.
    last_sent: u16,
    /// Rule reports of the reference stack taken before a probe (the probe's own are dropped).
    kept_rules: Vec<reference_stack::Rule>,
    /// The tester's last segment carried data or a FIN and nothing came back since: the
    /// target may owe an ACK.
    owed: bool,
    /// Keep-alives are on: no probe may restart their timer.
    keepalive: bool,
    /// The IPv4 identification of the next packet, per instance (from the seed).
    ident: u16,
}

type StepResult = Result<(), Failure>;

/// The failure of `step`, at the step's level (the loader gives every step one).
fn fail(step: &Step, index: usize, message: impl Into<String>) -> Failure {
    Failure {
        step: index,
        line: Some(step.loc.line),
        message: format!("{}: {}", step.loc, message.into()),
        diff: Vec::new(),
        baseline: None,
        level: step.level.unwrap_or(Level::Must),
    }
}

impl Run<'_> {
    /// What the statistical steps (`isn_sample`, `syn_flood`) drive the target through.
    fn stats_io(&mut self) -> stats::Io<'_> {
        stats::Io {
            target: &mut *self.target,
            conn: &mut self.conn,
            tester: self.tester,
            target_addr: self.target_addr,
            trace: &mut self.trace,
            ident: &mut self.ident,
        }
    }

    /// The IPv4 identification for the instance's next packet that names none.
    fn stamp(&mut self, spec: &mut PacketSpec) {
        if spec.ip.ident.is_none() {
            spec.ip.ident = Some(self.ident);
            self.ident = self.ident.wrapping_add(1);
        }
    }

    fn note(&mut self, direction: Direction, text: String, packet: Option<Vec<u8>>) {
        self.stats_io().note(direction, text, packet);
    }

    /// Bases to show a packet from the target relative to both ISNs.
    fn rel_received(&self) -> Option<Relative> {
        rel_for(&self.conn)
    }

    fn rel_sent(&self) -> Option<Relative> {
        Some(Relative {
            seq_base: self.conn.tester_isn,
            ack_base: self.conn.base(Space::Target),
        })
    }

    fn next_packet(&mut self, within: Duration) -> Result<Option<Received>, String> {
        if let Some(p) = self.pushback.pop_front() {
            return Ok(Some(p));
        }
        if self.pending_calls.is_empty() {
            return self
                .target
                .receive(within)
                .map_err(|e| format!("target error: {e}"));
        }
        // Queued calls: offered to the socket between short waits, until it takes them.
        let start = self.target.now();
        loop {
            self.flush_pending_calls()?;
            let left = within.saturating_sub(self.target.now().saturating_sub(start));
            let slice = if self.pending_calls.is_empty() {
                left
            } else {
                left.min(PENDING_CALL_POLL)
            };
            let got = self
                .target
                .receive(slice)
                .map_err(|e| format!("target error: {e}"))?;
            if got.is_some() || slice == left {
                return Ok(got);
            }
        }
    }

    /// Offers the queued calls to the socket once more, in order; a write it does not take yet
    /// stops there.
    fn flush_pending_calls(&mut self) -> Result<(), String> {
        while let Some(call) = self.pending_calls.pop_front() {
            let result = self
                .target
                .app(&call)
                .map_err(|e| format!("target error: {e}"))?;
            match (&call, &result) {
                (AppCall::Write(_), AppResult::WouldBlock) => {
                    self.pending_calls.push_front(call);
                    return Ok(());
                }
                (AppCall::Write(data), AppResult::Wrote(n)) if *n < data.len() => {
                    self.note(Direction::App, format!("{call} = {result} (queued)"), None);
                    self.pending_calls
                        .push_front(AppCall::Write(data[*n..].to_vec()));
                }
                _ => self.note(Direction::App, format!("{call} = {result} (queued)"), None),
            }
        }
        Ok(())
    }

    fn steps(&mut self, steps: &[Step], case: &Case, base_index: usize) -> StepResult {
        let result = self.steps_inner(steps, case, base_index);
        if result.is_err()
            && self.no_verdict.is_none()
            && self.unbound_timestamps.get()
            && self.conn.target_tsval.is_none()
        {
            self.no_verdict = Some(Outcome::NotApplicable {
                reason: "the case uses the target's timestamps (ts.val/ts.ecr), and the target \
                         sent none: RFC 7323 timestamps are optional"
                    .into(),
            });
        }
        result
    }

    fn steps_inner(&mut self, steps: &[Step], case: &Case, base_index: usize) -> StepResult {
        for (i, step) in steps.iter().enumerate() {
            let index = base_index + i;
            if crate::interrupt::requested() {
                return Err(fail(step, index, crate::interrupt::REASON));
            }
            match &step.kind {
                StepKind::Send(s) => self.send(step, index, s, case.defaults.win)?,
                StepKind::Expect(e) => self.expect(step, index, e, case.defaults.within)?,
                StepKind::ExpectAlso(e) => self.expect_also(step, index, e)?,
                StepKind::ExpectNone(d) => self.expect_none(step, index, *d)?,
                StepKind::State(s) => self.state(step, index, *s)?,
                StepKind::Call(c) => self.call(step, index, c)?,
                StepKind::Assume(a) => self.assume(step, index, a)?,
                StepKind::FillWindow(f) => self.fill_window(step, index, f, case.defaults.win)?,
                StepKind::Wait(d) => {
                    self.note(Direction::Note, format!("wait {d:?}"), None);
                    self.target
                        .wait(*d)
                        .map_err(|e| fail(step, index, format!("target error: {e}")))?;
                }
                StepKind::OneOf(branches) => self.one_of(step, index, branches, case)?,
                StepKind::IsnSample(s) => {
                    stats::isn_sample(&mut self.stats_io(), s).map_err(|m| fail(step, index, m))?
                }
                StepKind::SynFlood(f) => {
                    stats::syn_flood(&mut self.stats_io(), f).map_err(|m| fail(step, index, m))?
                }
            }
            // Observations leave the timing origin where the exchange left it.
            if !matches!(
                step.kind,
                StepKind::State(_) | StepKind::ExpectAlso(_) | StepKind::Assume(_)
            ) {
                self.origin = Some(self.target.now());
            }
        }
        Ok(())
    }
}

/// Bases to show a packet from the target: its ISN (0 until its SYN is seen, i.e. absolute)
/// for seq, the tester's ISN for ack.
fn rel_for(view: &ConnView) -> Option<Relative> {
    Some(Relative {
        seq_base: view.base(Space::Target),
        ack_base: view.tester_isn,
    })
}

/// The least real time a case needs: its waits, quiet periods and earliest-arrival bounds
/// (a `one_of` counts its longest branch).
pub fn minimum_duration(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Wait(d) | StepKind::ExpectNone(d) => *d,
            StepKind::Expect(e) => e.after.unwrap_or(Duration::ZERO),
            StepKind::OneOf(branches) => branches
                .iter()
                .map(|b| minimum_duration(&b.steps))
                .max()
                .unwrap_or_default(),
            _ => Duration::ZERO,
        })
        .sum()
}

/// The longest a case may wait for its target's answers: the `within` of the `expect` steps that
/// set one (of a `one_of`, its most patient variant). Resends at doubling timeouts are waited
/// for this way, and take that long on a target that does not take a case's quickest variant,
/// though nothing in the case has to last.
pub fn patience(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Expect(e) => e.within.unwrap_or(Duration::ZERO),
            StepKind::OneOf(branches) => branches
                .iter()
                .map(|b| patience(&b.steps))
                .max()
                .unwrap_or_default(),
            _ => Duration::ZERO,
        })
        .fold(Duration::ZERO, Duration::saturating_add)
}

/// The order to start a real-time run's instances in, longest first: by what a case must wait
/// and what it may wait for. Started early, a case that waits half a minute for resends when
/// the target does not take its quickest variant overlaps the many short ones instead of
/// holding up the end of the run.
pub fn longest_first(steps: &[Step]) -> std::cmp::Reverse<Duration> {
    std::cmp::Reverse(minimum_duration(steps).saturating_add(patience(steps)))
}

/// The result of an instance that did not run on this target, and why.
fn not_run(target: &dyn Target, case: &Case, ip: IpVersion, reason: String) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        ip,
        file: case.loc.file.as_ref().clone(),
        target: target.name().to_string(),
        rfc: case.rfc.clone(),
        cells: case.cells.clone(),
        level: case.level,
        rules_observed: Vec::new(),
        duration: Duration::ZERO,
        outcome: Outcome::Skipped { reason },
        verdict: Verdict::Skipped,
        choices: Vec::new(),
        trace: Vec::new(),
    }
}

/// Runs `case` on `ip` against `target`. On a real-time target, a case that needs more than
/// `budget` of waiting is skipped (and says so) rather than run for hours.
pub fn run_instance_within(
    target: &mut dyn Target,
    case: &Case,
    ip: IpVersion,
    seed: u64,
    budget: Duration,
) -> CaseResult {
    let needed = minimum_duration(&case.steps);
    if !target.virtual_clock() && needed > budget {
        let reason = format!(
            "needs at least {needed:?} of real time, over the budget of {budget:?} (--max-case-time)"
        );
        return not_run(target, case, ip, reason);
    }
    run_instance(target, case, ip, seed)
}

/// How an instance whose target could not be opened begins its reason (inconclusive: no
/// segment was sent, so it says nothing about the stack; the executor tries it again).
pub const SETUP_FAILED: &str = "the harness could not set up the target";

/// Runs `case` on `ip` against `target`. A case that needs what the target cannot give
/// ([`fit::unmet`]) is skipped with the reason.
pub fn run_instance(target: &mut dyn Target, case: &Case, ip: IpVersion, seed: u64) -> CaseResult {
    let caps = target.capabilities();
    if let Some(reason) = fit::unmet(case, ip, &caps) {
        return not_run(target, case, ip, reason);
    }
    let fixed = match caps.application {
        Application::Fixed(app) => Some(app),
        Application::Driven => None,
    };
    let started = WallClock::now();
    let mut rng = InstanceSeed(seed);
    let tester_isn = rng.next() as u32;
    let outcome_and_trace = (|| {
        let ep = target
            .open(ip, &case.sysctls)
            .map_err(|e| (format!("{SETUP_FAILED}: {e}"), Vec::new()))?;
        let setup = case.setup;
        // The tester's port: a fresh one from a target whose stack outlives instances, else
        // random in the dynamic range. `setup: connect` names the port the target connects
        // to, the tester's, as an agent's policy names the ports it may connect to (an active
        // OPEN needs an agent: such a target runs one instance at a time). An application the
        // harness does not drive has ports of its own: the case's listening and closed ports
        // map onto them.
        let own_port = match setup {
            Setup::Connect { .. } => None,
            Setup::Listen { .. } | Setup::Closed { .. } => target.fresh_port(),
        };
        let mut random_port = || 49_152 + (rng.next() % 16_000) as u16;
        let (tester_port, target_port) = match setup {
            Setup::Connect { port, .. } => (port, ACTIVE_OPEN_PORT),
            Setup::Listen { port } => (
                own_port.unwrap_or_else(&mut random_port),
                fixed.and_then(|a| a.open_port).unwrap_or(port),
            ),
            Setup::Closed { port } => (
                own_port.unwrap_or_else(&mut random_port),
                fixed.and_then(|a| a.closed_port).unwrap_or(port),
            ),
        };
        let mut run = Run {
            conn: ConnView::new(tester_isn, ip == IpVersion::V6),
            tester: SocketAddr::new(ep.tester, tester_port),
            target_addr: SocketAddr::new(ep.target, target_port),
            trace: Vec::new(),
            variants: Vec::new(),
            choices: Vec::new(),
            pushback: VecDeque::new(),
            learn_target_port: matches!(setup, Setup::Connect { .. }),
            port_listens: matches!(setup, Setup::Listen { .. }),
            no_verdict: None,
            fixed,
            needs_offered: case
                .needs
                .iter()
                .filter_map(|n| match n {
                    Need::Offers(f) => Some(*f),
                    Need::Unread => None,
                })
                .collect(),
            offered_checked: false,
            unbound_timestamps: std::cell::Cell::new(false),
            silence: None,
            taken: None,
            last_wait: None,
            origin: None,
            pending_calls: VecDeque::new(),
            asserted: None,
            last_sent: 0,
            kept_rules: Vec::new(),
            owed: false,
            keepalive: false,
            ident: rng.next() as u16,
            target,
        };
        run.note(
            Direction::Note,
            match setup {
                Setup::Connect { .. } => format!(
                    "tester {}, target {} (its port chosen by the target)",
                    run.tester,
                    run.target_addr.ip()
                ),
                _ => format!("tester {}, target {}", run.tester, run.target_addr),
            },
            None,
        );
        let setup_call = match setup {
            Setup::Closed { .. } => None,
            Setup::Listen { .. } if fixed.is_some() => {
                run.note(
                    Direction::App,
                    format!(
                        "setup: an application listens on port {} (--open-port, --app {})",
                        target_port,
                        fixed.map_or("", |a| a.behaviour.name())
                    ),
                    None,
                );
                None
            }
            Setup::Listen { .. } => Some(AppCall::Listen {
                local: run.target_addr,
            }),
            Setup::Connect { fastopen, .. } => Some(AppCall::Connect {
                local: SocketAddr::new(ep.target, ACTIVE_OPEN_PORT),
                remote: run.tester,
                fastopen,
            }),
        };
        if let Some(call) = setup_call {
            match run.target.app(&call) {
                Ok(AppResult::Ok) => run.note(Direction::App, format!("setup: {call} = ok"), None),
                Ok(other) => return Err((format!("setup {call} failed: {other}"), run.trace)),
                Err(e) => return Err((format!("setup {call}: target error: {e}"), run.trace)),
            }
        }
        let result = run
            .steps(&case.steps, case, 0)
            .and_then(|()| run.after_silence());
        let Run {
            trace,
            variants,
            choices,
            no_verdict,
            kept_rules,
            ..
        } = run;
        Ok((result, trace, (variants, choices), no_verdict, kept_rules))
    })();
    let mut rules = match &outcome_and_trace {
        Ok((.., kept)) => kept.clone(),
        Err(_) => Vec::new(),
    };
    rules.extend(target.take_rules());
    let rules = dedup(rules);
    target.close();
    let teardown_notes = target.take_notes();
    // Once the run is interrupted, waits end early and steps stop: a failure may be the
    // interruption's doing rather than the target's, so it is no verdict. A pass stands (a
    // cut-short wait fails, so it never passes for silence).
    let interrupted = crate::interrupt::requested();
    let mut chosen = Vec::new();
    let (outcome, trace) = match outcome_and_trace {
        Ok((Err(_), trace, _, _, _)) | Err((_, trace)) if interrupted => (
            Outcome::Skipped {
                reason: crate::interrupt::REASON.into(),
            },
            trace,
        ),
        Ok((Ok(()), trace, (variants, choices), _, _)) => {
            chosen = choices;
            (Outcome::Passed { variants }, trace)
        }
        Ok((Err(_), trace, _, Some(outcome), _)) => (outcome, trace),
        Ok((Err(f), trace, _, None, _)) => (Outcome::Failed(f), trace),
        // The harness could not make the target ready (a namespace, a device, a route):
        // nothing was sent, so there is no verdict on the stack.
        Err((message, trace)) if message.starts_with(SETUP_FAILED) => {
            (Outcome::Inconclusive { reason: message }, trace)
        }
        Err((message, trace)) => (
            Outcome::Failed(Failure {
                step: 0,
                line: Some(case.loc.line),
                message,
                diff: Vec::new(),
                baseline: None,
                level: Level::Must,
            }),
            trace,
        ),
    };
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        ip,
        file: case.loc.file.as_ref().clone(),
        target: target.name().to_string(),
        rfc: case.rfc.clone(),
        cells: case.cells.clone(),
        level: case.level,
        rules_observed: rules,
        duration: started.elapsed(),
        verdict: Verdict::of(&outcome, false),
        choices: chosen,
        outcome,
        trace: with_notes(trace, teardown_notes),
    }
}

/// `trace` with the target's teardown notes at its end.
fn with_notes(mut trace: Vec<TraceEntry>, notes: Vec<String>) -> Vec<TraceEntry> {
    let at = trace.last().map_or(Duration::ZERO, |e| e.at);
    trace.extend(notes.into_iter().map(|text| TraceEntry {
        at,
        direction: Direction::Note,
        text,
        packet: None,
    }));
    trace
}

fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for r in v {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}
