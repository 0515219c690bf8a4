//! Runs many case instances on worker threads and feeds the results to the reporters on the
//! calling thread. Each worker builds its own target on its own thread (a namespaced target is
//! bound to the thread that entered the namespace), and reporters never see a worker.

use super::baseline::Baseline;
use super::event::{
    family, CaseResult, Direction, Inconsistency, IpVersion, Mitigation, Outcome, Reporter,
    RunEvent, Summary, TraceEntry, Verdict,
};
use super::runner::{longest_first, run_instance_within, SETUP_FAILED};
use super::stall;
use crate::case::model::{Case, StepKind};
use crate::target::{Liveness, Target};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use std::time::Instant;

/// One case on one IP version.
#[derive(Debug, Clone)]
pub struct Instance<'c> {
    pub case: &'c Case,
    pub ip: IpVersion,
}

/// How a run executes, besides what it runs.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// Worker threads.
    pub jobs: usize,
    /// Seed of the tester's ISNs and ports (per instance: mixed with its index).
    pub seed: u64,
    /// The target's name for the reports.
    pub target_name: &'a str,
    /// Known deviations: a failure listed here is reported as such, not counted as failed.
    pub baseline: Option<&'a Baseline>,
    /// Real-time targets skip cases that need more waiting than this.
    pub budget: Duration,
    /// SHOULD-level failures fail the run (`--strict`).
    pub strict: bool,
    /// Start no instance after the first failure (`--fail-fast`).
    pub fail_fast: bool,
}

/// Why a run stopped early: the target stopped answering.
#[derive(Default)]
struct Stop {
    flag: AtomicBool,
    why: Mutex<Option<Halt>>,
}

/// Why a run stops before its end.
#[derive(Debug, Clone)]
enum Halt {
    /// The target stopped answering (`after` the named instance, or before the first).
    Unusable {
        reason: String,
        after: Option<String>,
    },
    /// `--fail-fast`: this instance failed.
    FailFast { failed: String },
}

impl Stop {
    fn stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The target is unusable: no verdict can be had any more.
    fn unusable(&self) -> bool {
        matches!(
            self.why.lock().ok().as_deref(),
            Some(Some(Halt::Unusable { .. }))
        )
    }

    /// Records the first reason only.
    fn stop(&self, halt: Halt) {
        if let Ok(mut why) = self.why.lock() {
            if why.is_none() {
                *why = Some(halt);
            }
        }
        self.flag.store(true, Ordering::SeqCst);
    }

    fn take(&self) -> Option<Halt> {
        self.why.lock().ok().and_then(|mut w| w.take())
    }
}

/// Runs `instances` on `opts.jobs` workers, each with a target from `make_target`. Results
/// reach `reporters` as they finish; the summary is returned. Once the run is interrupted
/// ([`crate::interrupt`]) no further instance starts, the running ones end early (reported
/// as skipped, "interrupted"), and the reporters still get `Finished`: the summary then
/// counts fewer instances than were given.
///
/// On a target whose stack outlives the instances ([`Capabilities::persistent`]), the run
/// first checks that the stack answers ([`Target::probe`]) and checks again after every
/// failed instance; once it does not, no further instance starts, the run reports
/// [`RunEvent::TargetUnusable`] and every instance not run as such (`Summary::not_run`).
/// There, the SYN floods run last, one at a time, with nothing else in flight.
pub fn execute(
    instances: &[Instance<'_>],
    opts: &RunOptions<'_>,
    make_target: &(dyn Fn() -> Box<dyn Target> + Sync),
    reporters: &mut [&mut dyn Reporter],
) -> std::io::Result<Summary> {
    let started = Instant::now();
    let emit = |reporters: &mut [&mut dyn Reporter], ev: &RunEvent| -> std::io::Result<()> {
        for r in reporters.iter_mut() {
            r.event(ev)
                .map_err(|e| std::io::Error::new(e.kind(), format!("writing reports: {e}")))?;
        }
        Ok(())
    };
    emit(
        reporters,
        &RunEvent::Started {
            total: instances.len(),
            target: opts.target_name.to_string(),
        },
    )?;
    let stop = Stop::default();
    let (persistent, real_time) = {
        let mut first = make_target();
        let persistent = first.capabilities().persistent;
        let real_time = !first.virtual_clock();
        if persistent {
            let caps = first.capabilities();
            for ip in [IpVersion::V4, IpVersion::V6] {
                // Only the IP versions the target has: an instance on another is skipped
                // (run/fit.rs), not a sign of a dead target.
                let has = match ip {
                    IpVersion::V4 => caps.ipv4,
                    IpVersion::V6 => caps.ipv6,
                };
                if !has || !instances.iter().any(|i| i.ip == ip) || stop.stopped() {
                    continue;
                }
                let halt = |reason| Halt::Unusable {
                    reason,
                    after: None,
                };
                match first.probe(ip) {
                    Ok(Liveness::Unusable(why)) => stop.stop(halt(why)),
                    Err(e) => stop.stop(halt(e.0)),
                    Ok(_) => {}
                }
            }
        }
        (persistent, real_time)
    };
    // Where the stack is shared by every instance, the floods and the ISN samples (a thousand
    // SYNs, each to be answered within a deadline) run last and alone: beside other instances
    // a small stack (or a 2-core host) is busy past the deadline, and the flood would disturb
    // the others.
    let (mut normal, mut alone): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for (i, inst) in instances.iter().enumerate() {
        let flood = inst
            .case
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::SynFlood(_) | StepKind::IsnSample(_)));
        if persistent && flood {
            alone.push(i);
        } else {
            normal.push(i);
        }
    }
    if real_time {
        // On a real clock a run lasts at least as long as its longest instance: start the
        // longest first (the waits they are made of cost time, not CPU), so that the short
        // ones fill the gaps instead of delaying them to the end.
        normal.sort_by_key(|&i| longest_first(&instances[i].case.steps));
    }
    let mut summary = Summary::default();
    let mut choices = Choices::default();
    let mut io_result = Ok(());
    let mut not_started: Vec<usize> = Vec::new();
    for (order, jobs) in [(&mut normal, opts.jobs), (&mut alone, 1)] {
        if stop.stopped() || crate::interrupt::requested() {
            not_started.append(order);
            continue;
        }
        let left = phase(order, jobs, instances, opts, make_target, &stop, |result| {
            summary.count(&result);
            choices.record(&result);
            if io_result.is_ok() {
                io_result = emit(reporters, &RunEvent::CaseFinished(Box::new(result)));
            }
            io_result.is_ok()
        })?;
        not_started.extend(left);
    }
    io_result?;
    let mut inconsistent = choices.inconsistencies();
    for i in &mut inconsistent {
        if let Some(m) = i.mitigation {
            i.known = opts.baseline.and_then(|b| b.explain_choice(m));
            i.fails = i.known.is_none();
        }
    }
    if !inconsistent.is_empty() {
        summary.inconsistent = inconsistent.iter().filter(|i| i.fails).count();
        emit(reporters, &RunEvent::Inconsistent(inconsistent))?;
    }
    not_started.sort_unstable();
    match stop.take() {
        Some(Halt::Unusable { reason, after }) => {
            emit(
                reporters,
                &RunEvent::TargetUnusable {
                    reason: reason.clone(),
                    after,
                },
            )?;
            let why = format!("not run: the target stopped answering ({reason})");
            for i in not_started {
                let result = not_run_result(&instances[i], opts.target_name, &why);
                summary.not_run += 1;
                emit(reporters, &RunEvent::CaseFinished(Box::new(result)))?;
            }
        }
        Some(Halt::FailFast { failed }) => {
            let why = format!("not run: --fail-fast, after {failed} failed");
            for i in not_started {
                let result = not_run_result(&instances[i], opts.target_name, &why);
                summary.skipped += 1;
                emit(reporters, &RunEvent::CaseFinished(Box::new(result)))?;
            }
        }
        None => {}
    }
    summary.wall = started.elapsed();
    emit(reporters, &RunEvent::Finished(summary))?;
    Ok(summary)
}

/// The variants a run's instances chose: RFC 9293 MAY-12's by RFC 5961 mitigation, the
/// others by the alternatives they chose among.
#[derive(Default)]
struct Choices {
    by_mitigation: BTreeMap<Mitigation, BTreeMap<String, Vec<String>>>,
    by_among: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
}

impl Choices {
    fn record(&mut self, result: &CaseResult) {
        for c in &result.choices {
            let taken = match (c.mitigation, family(&c.chosen)) {
                (Some(m), Some(f)) => self
                    .by_mitigation
                    .entry(m)
                    .or_default()
                    .entry(f.to_string()),
                _ => self
                    .by_among
                    .entry(c.among.clone())
                    .or_default()
                    .entry(c.chosen.clone()),
            };
            taken.or_default().push(result.display_name());
        }
    }

    /// The choices made more than one way. A MAY-12 one fails the run: an implementation
    /// takes RFC 5961's or RFC 793's handling of a kind of segment, not one per segment or
    /// state. Other choices may differ between situations the cases do not tell apart; they
    /// are reported, and do not fail the run.
    fn inconsistencies(&self) -> Vec<Inconsistency> {
        let listed = |taken: &BTreeMap<String, Vec<String>>| -> Vec<(String, Vec<String>)> {
            taken
                .iter()
                .map(|(v, names)| (v.clone(), names.clone()))
                .collect()
        };
        let may12 = self
            .by_mitigation
            .iter()
            .filter(|(_, taken)| taken.len() > 1)
            .map(|(m, taken)| Inconsistency {
                mitigation: Some(*m),
                known: None,
                among: taken.keys().cloned().collect(),
                taken: listed(taken),
                fails: true,
            });
        let others = self
            .by_among
            .iter()
            .filter(|(_, taken)| taken.len() > 1)
            .map(|(among, taken)| Inconsistency {
                mitigation: None,
                known: None,
                among: among.clone(),
                taken: listed(taken),
                fails: false,
            });
        may12.chain(others).collect()
    }
}

/// An instance the run did not get to, and why.
fn not_run_result(inst: &Instance<'_>, target: &str, reason: &str) -> CaseResult {
    let case = inst.case;
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        ip: inst.ip,
        file: case.loc.file.as_ref().clone(),
        target: target.to_string(),
        rfc: case.rfc.clone(),
        cells: case.cells.clone(),
        level: case.level,
        rules_observed: Vec::new(),
        duration: Duration::ZERO,
        outcome: Outcome::Skipped {
            reason: reason.to_string(),
        },
        verdict: Verdict::Skipped,
        choices: Vec::new(),
        trace: Vec::new(),
    }
}

/// Runs the instances at `order` (indices into `instances`) on `jobs` workers, handing each
/// result to `done` on the calling thread; `done` returning false (a report cannot be
/// written) starts nothing more. Returns the indices not started (the run was stopped or
/// interrupted), or an error if not one worker thread could be made.
fn phase(
    order: &[usize],
    jobs: usize,
    instances: &[Instance<'_>],
    opts: &RunOptions<'_>,
    make_target: &(dyn Fn() -> Box<dyn Target> + Sync),
    stop: &Stop,
    mut done: impl FnMut(CaseResult) -> bool,
) -> std::io::Result<Vec<usize>> {
    if order.is_empty() {
        return Ok(Vec::new());
    }
    let next = AtomicUsize::new(0);
    let abandon = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<CaseResult>();
    let jobs = jobs.clamp(1, order.len());
    let (seed, baseline, budget, strict) = (opts.seed, opts.baseline, opts.budget, opts.strict);
    let fail_fast = opts.fail_fast;
    std::thread::scope(|scope| -> std::io::Result<()> {
        // One worker: instances from `order` until there are none, or the run stops.
        let worker = |tx: mpsc::Sender<CaseResult>| {
            let (next, abandon) = (&next, &abandon);
            move || {
                let mut target = make_target();
                let persistent = target.capabilities().persistent;
                if !target.virtual_clock() {
                    stall::start();
                }
                loop {
                    // Interrupted or stopped: start nothing more; the target is dropped
                    // on the way out, which tears its instance down.
                    if crate::interrupt::requested()
                        || stop.stopped()
                        || abandon.load(Ordering::SeqCst)
                    {
                        break;
                    }
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = order.get(n) else { break };
                    let inst = &instances[i];
                    let instance_seed = seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
                    let mut result = run_awake(target.as_mut(), inst, instance_seed, budget);
                    if persistent && matches!(result.outcome, Outcome::Failed(_)) {
                        check_alive(target.as_mut(), &mut result, stop);
                    }
                    if let (Outcome::Failed(f), Some(b)) = (&mut result.outcome, baseline) {
                        f.baseline = b.explain(&result.id, result.ip, f);
                    }
                    result.verdict = Verdict::of(&result.outcome, strict);
                    if let Some(b) = baseline {
                        b.record(&result);
                    }
                    if fail_fast && result.verdict == Verdict::Failed {
                        stop.stop(Halt::FailFast {
                            failed: result.display_name(),
                        });
                    }
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            }
        };
        // A thread that cannot be made (a process or thread limit) is an error, not a panic:
        // the run goes on with the workers it has, or ends here if it has none.
        let mut workers = 0;
        for n in 0..jobs {
            let spawn = || {
                std::thread::Builder::new()
                    .name(format!("worker-{n}"))
                    .spawn_scoped(scope, worker(tx.clone()))
            };
            let mut spawned = spawn();
            // EAGAIN for the first worker is often the previous phase's threads still being
            // counted against the limit: joined, but not yet released by the kernel. Give them
            // a moment before calling the limit real.
            let mut retries = 0;
            while workers == 0
                && retries < SPAWN_RETRIES
                && spawned
                    .as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock)
            {
                retries += 1;
                std::thread::sleep(SPAWN_RETRY_WAIT);
                spawned = spawn();
            }
            match spawned {
                Ok(_) => workers += 1,
                Err(e) if workers == 0 => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("cannot start a worker thread: {e}"),
                    ))
                }
                Err(e) => {
                    eprintln!(
                        "warning: started {workers} of {jobs} worker threads ({e}); the run \
                         goes on with those"
                    );
                    break;
                }
            }
        }
        drop(tx);
        for result in rx {
            if !done(result) {
                abandon.store(true, Ordering::SeqCst);
            }
        }
        Ok(())
    })?;
    let started = next.load(Ordering::SeqCst).min(order.len());
    Ok(order[started..].to_vec())
}

/// How often, and how far apart, the first worker thread of a phase is tried again when the
/// system says "try again" (EAGAIN): 1 s in all.
const SPAWN_RETRIES: u32 = 20;
const SPAWN_RETRY_WAIT: Duration = Duration::from_millis(50);

/// After a failed instance on a shared stack: is the stack still there? If not, the run
/// stops, and this failure — perhaps the death itself, perhaps its first symptom — is no
/// verdict on the case.
fn check_alive(target: &mut dyn Target, result: &mut CaseResult, stop: &Stop) {
    if stop.unusable() {
        result.outcome = Outcome::Inconclusive {
            reason: "the target stopped answering during this instance".into(),
        };
        return;
    }
    let why = match target.probe(result.ip) {
        Ok(Liveness::Unusable(why)) => why,
        Err(e) => e.0,
        Ok(_) => return,
    };
    let name = result.display_name();
    result.outcome = Outcome::Inconclusive {
        reason: format!("the target stopped answering after it ({why})"),
    };
    stop.stop(Halt::Unusable {
        reason: why,
        after: Some(name),
    });
}

/// Attempts of one instance when the harness keeps stalling while it fails.
pub const ATTEMPTS: u64 = 3;

/// Runs one instance; on a real clock, an attempt that failed while the harness process was
/// stalled ([`stall`]) is no verdict and runs again, with a fresh seed (new tester port and
/// ISN, so a remote target's leftover connection cannot meet it). The trace of the attempt
/// that counts starts with a note per discarded attempt. If every attempt stalls and fails, the
/// instance is skipped as inconclusive, never failed: a FAIL is always one the harness was
/// awake for. An attempt whose target could not be set up ([`SETUP_FAILED`]: a namespace or
/// route that did not come up in time on a loaded machine) runs again too, after a pause.
fn run_awake(
    target: &mut dyn Target,
    inst: &Instance<'_>,
    seed: u64,
    budget: Duration,
) -> CaseResult {
    let mut discarded: Vec<String> = Vec::new();
    let mut attempt: u64 = 0;
    loop {
        let attempt_seed = seed ^ attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let from = Instant::now();
        let mut result = run_instance_within(target, inst.case, inst.ip, attempt_seed, budget);
        let stalled = match &result.outcome {
            Outcome::Failed(f) if !target.virtual_clock() => {
                stall::worst_between(from, Instant::now()).map(|s| (s, f.message.clone()))
            }
            _ => None,
        };
        attempt += 1;
        let setup_failed = match &result.outcome {
            Outcome::Inconclusive { reason } if reason.starts_with(SETUP_FAILED) => {
                Some(reason.clone())
            }
            _ => None,
        };
        if let Some(reason) = &setup_failed {
            if attempt < ATTEMPTS {
                discarded.push(format!(
                    "attempt {attempt} of {ATTEMPTS} discarded: {reason}"
                ));
                if !target.virtual_clock() {
                    std::thread::sleep(Duration::from_secs(attempt));
                }
                continue;
            }
        }
        if let Some((s, message)) = &stalled {
            discarded.push(format!(
                "attempt {attempt} of {ATTEMPTS} discarded: the harness was off the CPU for \
                 {:.3}s while the target's timers ran, and it failed: {message}",
                s.len.as_secs_f64()
            ));
        }
        if stalled.is_none() || attempt == ATTEMPTS {
            if stalled.is_some() {
                result.outcome = Outcome::Inconclusive {
                    reason: format!(
                        "the harness stalled in all {ATTEMPTS} attempts (machine overloaded?); {}",
                        discarded.last().map(String::as_str).unwrap_or_default()
                    ),
                };
            }
            let notes = discarded.into_iter().map(|text| TraceEntry {
                at: Duration::ZERO,
                direction: Direction::Note,
                text,
                packet: None,
            });
            result.trace.splice(0..0, notes);
            result.verdict = Verdict::of(&result.outcome, false);
            return result;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::load::load_str;
    use crate::target::reference::ReferenceTarget;
    use crate::target::{AppCall, AppResult, Endpoints, Received, TargetError};
    use std::collections::BTreeMap;
    use std::net::SocketAddr;

    /// The reference stack posing as a real-clock target whose first `stalled` attempts fail:
    /// `state` answers LISTEN after the harness "stalled" (a stall is recorded), the way the
    /// Linux request socket expired under load. `stall_free_failures` attempts after those fail
    /// the same way without a stall.
    struct Starved {
        inner: ReferenceTarget,
        stalled: u32,
        stall_free_failures: u32,
        opened: u32,
    }

    impl Target for Starved {
        fn name(&self) -> &str {
            "starved"
        }
        fn open(
            &mut self,
            ip: IpVersion,
            s: &BTreeMap<String, String>,
        ) -> Result<Endpoints, TargetError> {
            self.opened += 1;
            self.inner.open(ip, s)
        }
        fn inject(&mut self, p: &[u8]) -> Result<(), TargetError> {
            self.inner.inject(p)
        }
        fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
            self.inner.receive(within)
        }
        fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
            self.inner.app(call)
        }
        fn state(
            &mut self,
            local: SocketAddr,
            remote: SocketAddr,
        ) -> Result<Option<crate::tcp::TcpState>, TargetError> {
            if self.opened <= self.stalled {
                // Seen when the process runs again: it was off the CPU for the last 41 s.
                let len = Duration::from_secs(41);
                stall::record(stall::Stall {
                    from: Instant::now().checked_sub(len).expect("uptime over 41 s"),
                    len,
                });
                return Ok(Some(crate::tcp::TcpState::Listen));
            }
            if self.opened <= self.stalled + self.stall_free_failures {
                return Ok(Some(crate::tcp::TcpState::Listen));
            }
            self.inner.state(local, remote)
        }
        fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
            self.inner.wait(d)
        }
        fn now(&self) -> Duration {
            self.inner.now()
        }
        fn close(&mut self) {
            self.inner.close()
        }
    }

    const CASE: &str = "id: t/syn-received\ntitle: t\nrfc: [\"RFC9293 3.10.7.2\"]\n\
        setup: { listen: 8080 }\nsteps:\n\
        \x20 - send:   { flags: S, seq: 0, win: 65535 }\n\
        \x20 - expect: { flags: SA, seq: 0, ack: 1 }\n\
        \x20 - state:  SYN-RECEIVED\n";

    fn run(stalled: u32, stall_free_failures: u32) -> (CaseResult, u32) {
        let cases = load_str(std::path::Path::new("t.yaml"), CASE).expect("case loads");
        let inst = Instance {
            case: &cases[0],
            ip: IpVersion::V4,
        };
        let mut t = Starved {
            inner: ReferenceTarget::new(Default::default()),
            stalled,
            stall_free_failures,
            opened: 0,
        };
        let r = run_awake(&mut t, &inst, 7, Duration::from_secs(60));
        (r, t.opened)
    }

    // One test: the stalls recorded here are process-wide, so the scenarios run in order.
    #[test]
    fn failures_during_stalls_run_again_and_others_stand() {
        // No stall: the failure stands after one attempt.
        let (r, opened) = run(0, 1);
        assert!(r.failed(), "{:?}", r.outcome);
        assert_eq!(opened, 1);
        assert!(r.trace.iter().all(|e| !e.text.contains("discarded")));

        // A stall in the first attempt: run again, the second attempt passes and its trace
        // says why there were two.
        let (r, opened) = run(1, 0);
        assert!(r.passed(), "{:?}", r.outcome);
        assert_eq!(opened, 2);
        assert!(
            r.trace[0].text.starts_with("attempt 1 of 3 discarded"),
            "{:?}",
            r.trace[0]
        );
        assert!(r.trace[0].text.contains("41.000s"), "{}", r.trace[0].text);

        // A stall, then a failure without one: that failure is the verdict.
        let (r, opened) = run(1, 1);
        assert!(r.failed(), "{:?}", r.outcome);
        assert_eq!(opened, 2);

        // Stalled every time: inconclusive, skipped, never failed.
        let (r, opened) = run(ATTEMPTS as u32, 0);
        assert_eq!(opened, ATTEMPTS as u32);
        match &r.outcome {
            Outcome::Inconclusive { reason } => {
                assert!(reason.starts_with("the harness stalled"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.verdict, Verdict::Inconclusive);
    }

    /// The reference stack behind a setup that fails its first `failures` opens.
    struct SlowSetup {
        inner: ReferenceTarget,
        failures: u32,
        opened: u32,
    }

    impl Target for SlowSetup {
        fn name(&self) -> &str {
            "slow-setup"
        }
        fn open(
            &mut self,
            ip: IpVersion,
            s: &BTreeMap<String, String>,
        ) -> Result<Endpoints, TargetError> {
            self.opened += 1;
            if self.opened <= self.failures {
                return Err(TargetError(
                    "TUN device: 2001:db8::1: no local route".into(),
                ));
            }
            self.inner.open(ip, s)
        }
        fn inject(&mut self, p: &[u8]) -> Result<(), TargetError> {
            self.inner.inject(p)
        }
        fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
            self.inner.receive(within)
        }
        fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
            self.inner.app(call)
        }
        fn state(
            &mut self,
            local: SocketAddr,
            remote: SocketAddr,
        ) -> Result<Option<crate::tcp::TcpState>, TargetError> {
            self.inner.state(local, remote)
        }
        fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
            self.inner.wait(d)
        }
        fn now(&self) -> Duration {
            self.inner.now()
        }
        fn close(&mut self) {
            self.inner.close()
        }
    }

    #[test]
    fn a_target_that_cannot_be_set_up_is_no_verdict_on_the_stack() {
        let cases = load_str(std::path::Path::new("t.yaml"), CASE).expect("case loads");
        let inst = Instance {
            case: &cases[0],
            ip: IpVersion::V4,
        };
        let run = |failures| {
            let mut t = SlowSetup {
                inner: ReferenceTarget::new(Default::default()),
                failures,
                opened: 0,
            };
            let r = run_awake(&mut t, &inst, 7, Duration::from_secs(60));
            (r, t.opened)
        };
        // Set up at the second try: the verdict is the second attempt's, noted.
        let (r, opened) = run(1);
        assert!(r.passed(), "{:?}", r.outcome);
        assert_eq!(opened, 2);
        assert!(
            r.trace[0].text.contains("could not set up"),
            "{:?}",
            r.trace[0]
        );
        // Never: inconclusive, not failed.
        let (r, opened) = run(u32::MAX);
        assert_eq!(opened, ATTEMPTS as u32);
        assert_eq!(r.verdict, Verdict::Inconclusive, "{:?}", r.outcome);
        assert!(!r.failed());
    }
}
