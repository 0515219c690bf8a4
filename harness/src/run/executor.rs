//! Runs many case instances on worker threads and feeds the results to the reporters on the
//! calling thread. Each worker builds its own target on its own thread (a namespaced target is
//! bound to the thread that entered the namespace), and reporters never see a worker.

use super::baseline::Baseline;
use super::event::{
    CaseResult, Direction, IpVersion, Outcome, Reporter, RunEvent, Summary, TraceEntry, Verdict,
};
use super::runner::{minimum_duration, run_instance_within};
use super::stall;
use crate::case::model::{Case, StepKind};
use crate::target::{Liveness, Target};
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
}

/// Why a run stopped early: the target stopped answering.
#[derive(Default)]
struct Stop {
    flag: AtomicBool,
    why: Mutex<Option<(String, Option<String>)>>,
}

impl Stop {
    fn stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Records the first reason only.
    fn stop(&self, reason: String, after: Option<String>) {
        if let Ok(mut why) = self.why.lock() {
            if why.is_none() {
                *why = Some((reason, after));
            }
        }
        self.flag.store(true, Ordering::SeqCst);
    }

    fn take(&self) -> Option<(String, Option<String>)> {
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
            r.event(ev)?;
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
            for ip in [IpVersion::V4, IpVersion::V6] {
                if !instances.iter().any(|i| i.ip == ip) || stop.stopped() {
                    continue;
                }
                match first.probe(ip) {
                    Ok(Liveness::Unusable(why)) => stop.stop(why, None),
                    Err(e) => stop.stop(e.0, None),
                    Ok(_) => {}
                }
            }
        }
        (persistent, real_time)
    };
    // Floods last and alone where the stack is shared by every instance.
    let (mut normal, mut alone): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for (i, inst) in instances.iter().enumerate() {
        let flood = inst
            .case
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::SynFlood(_)));
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
        normal.sort_by_key(|&i| std::cmp::Reverse(minimum_duration(&instances[i].case.steps)));
    }
    let mut summary = Summary::default();
    let mut io_result = Ok(());
    let mut not_started: Vec<usize> = Vec::new();
    for (order, jobs) in [(&mut normal, opts.jobs), (&mut alone, 1)] {
        if stop.stopped() || crate::interrupt::requested() {
            not_started.append(order);
            continue;
        }
        let left = phase(order, jobs, instances, opts, make_target, &stop, |result| {
            summary.count(&result);
            if io_result.is_ok() {
                io_result = emit(reporters, &RunEvent::CaseFinished(Box::new(result)));
            }
        });
        not_started.extend(left);
    }
    io_result?;
    if let Some((reason, after)) = stop.take() {
        emit(
            reporters,
            &RunEvent::TargetUnusable {
                reason: reason.clone(),
                after,
            },
        )?;
        not_started.sort_unstable();
        for i in not_started {
            let inst = &instances[i];
            let result = not_run_result(inst, opts.target_name, &reason);
            summary.not_run += 1;
            emit(reporters, &RunEvent::CaseFinished(Box::new(result)))?;
        }
    }
    summary.wall = started.elapsed();
    emit(reporters, &RunEvent::Finished(summary))?;
    Ok(summary)
}

/// An instance the run did not get to because the target stopped answering.
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
            reason: format!("not run: the target stopped answering ({reason})"),
        },
        verdict: Verdict::Skipped,
        trace: Vec::new(),
    }
}

/// Runs the instances at `order` (indices into `instances`) on `jobs` workers, handing each
/// result to `done` on the calling thread. Returns the indices not started (the run was
/// stopped or interrupted).
fn phase(
    order: &[usize],
    jobs: usize,
    instances: &[Instance<'_>],
    opts: &RunOptions<'_>,
    make_target: &(dyn Fn() -> Box<dyn Target> + Sync),
    stop: &Stop,
    mut done: impl FnMut(CaseResult),
) -> Vec<usize> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<CaseResult>();
    let jobs = jobs.clamp(1, order.len().max(1));
    let (seed, baseline, budget, strict) = (opts.seed, opts.baseline, opts.budget, opts.strict);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                let mut target = make_target();
                let persistent = target.capabilities().persistent;
                if !target.virtual_clock() {
                    stall::start();
                }
                loop {
                    // Interrupted or stopped: start nothing more; the target is dropped on
                    // the way out, which tears its instance down.
                    if crate::interrupt::requested() || stop.stopped() {
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
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
            done(result);
        }
    });
    let started = next.load(Ordering::SeqCst).min(order.len());
    order[started..].to_vec()
}

/// After a failed instance on a shared stack: is the stack still there? If not, the run
/// stops, and this failure — perhaps the death itself, perhaps its first symptom — is no
/// verdict on the case.
fn check_alive(target: &mut dyn Target, result: &mut CaseResult, stop: &Stop) {
    if stop.stopped() {
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
    stop.stop(why, Some(name));
}

/// Attempts of one instance when the harness keeps stalling while it fails.
pub const ATTEMPTS: u64 = 3;

/// Runs one instance; on a real clock, an attempt that failed while the harness process was
/// stalled ([`stall`]) is no verdict and runs again, with a fresh seed (new tester port and
/// ISN, so a remote target's leftover connection cannot meet it). The trace of the attempt
/// that counts starts with a note per discarded attempt. If every attempt stalls and fails, the
/// instance is skipped as inconclusive, never failed: a FAIL is always one the harness was
/// awake for.
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
}
