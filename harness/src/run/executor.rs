//! Runs many case instances on worker threads and feeds the results to the reporters on the
//! calling thread. Each worker builds its own target on its own thread (a namespaced target is
//! bound to the thread that entered the namespace), and reporters never see a worker.

use super::baseline::Baseline;
use super::event::{
    CaseResult, Direction, IpVersion, Outcome, Reporter, RunEvent, Summary, TraceEntry,
};
use super::runner::run_instance_within;
use super::stall;
use crate::case::model::Case;
use crate::target::Target;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
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
}

/// Runs `instances` on `opts.jobs` workers, each with a target from `make_target`. Results
/// reach `reporters` as they finish; the summary is returned. Once the run is interrupted
/// ([`crate::interrupt`]) no further instance starts, the running ones end early (reported
/// as skipped, "interrupted"), and the reporters still get `Finished`: the summary then
/// counts fewer instances than were given.
pub fn execute(
    instances: &[Instance<'_>],
    opts: &RunOptions<'_>,
    make_target: &(dyn Fn() -> Box<dyn Target> + Sync),
    reporters: &mut [&mut dyn Reporter],
) -> std::io::Result<Summary> {
    let RunOptions {
        jobs,
        seed,
        target_name,
        baseline,
        budget,
    } = *opts;
    let started = Instant::now();
    let emit = |reporters: &mut [&mut dyn Reporter], ev: &RunEvent| -> std::io::Result<()> {
        for r in reporters.iter_mut() {
            r.event(ev)
                .map_err(|e| std::io::Error::new(e.kind(), format!("writing reports: {e}")))?;
        }
        Ok(())
    };
    let next = AtomicUsize::new(0);
    // Set when the run must end early for a reason of the harness's own (a report cannot be
    // written): no worker starts another instance.
    let abandon = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<CaseResult>();
    let mut summary = Summary::default();
    let jobs = jobs.clamp(1, instances.len().max(1));
    std::thread::scope(|scope| -> std::io::Result<()> {
        // A thread that cannot be made (a process or thread limit) is an error, not a panic:
        // the run goes on with the workers it has, or ends here if it has none.
        let mut workers = 0;
        for n in 0..jobs {
            let tx = tx.clone();
            let (next, abandon) = (&next, &abandon);
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn_scoped(scope, move || {
                    let mut target = make_target();
                    if !target.virtual_clock() {
                        stall::start();
                    }
                    loop {
                        // Interrupted: start nothing more; the target is dropped on the way
                        // out, which tears its instance down.
                        if crate::interrupt::requested() || abandon.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(inst) = instances.get(i) else { break };
                        let instance_seed = seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
                        let mut result = run_awake(target.as_mut(), inst, instance_seed, budget);
                        if let (Outcome::Failed(f), Some(b)) = (&mut result.outcome, baseline) {
                            f.baseline = b.matches(&result.id, result.ip);
                        }
                        if tx.send(result).is_err() {
                            break;
                        }
                    }
                });
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
        let begun = emit(
            reporters,
            &RunEvent::Started {
                total: instances.len(),
                target: target_name.to_string(),
            },
        );
        if begun.is_err() {
            abandon.store(true, Ordering::Relaxed);
            return begun;
        }
        let mut io_result = Ok(());
        for result in rx.iter() {
            if result.passed() {
                summary.passed += 1;
            } else if result.failed() {
                summary.failed += 1;
            } else if matches!(result.outcome, Outcome::Skipped { .. }) {
                summary.skipped += 1;
            } else {
                summary.baseline += 1;
            }
            if io_result.is_ok() {
                io_result = emit(reporters, &RunEvent::CaseFinished(Box::new(result)));
            }
        }
        io_result
    })?;
    summary.wall = started.elapsed();
    emit(reporters, &RunEvent::Finished(summary))?;
    Ok(summary)
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
                result.outcome = Outcome::Skipped {
                    reason: format!(
                        "inconclusive: the harness stalled in all {ATTEMPTS} attempts (machine \
                         overloaded?); {}",
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
        ) -> Result<Option<&'static str>, TargetError> {
            if self.opened <= self.stalled {
                // Seen when the process runs again: it was off the CPU for the last 41 s.
                let len = Duration::from_secs(41);
                stall::record(stall::Stall {
                    from: Instant::now().checked_sub(len).expect("uptime over 41 s"),
                    len,
                });
                return Ok(Some("LISTEN"));
            }
            if self.opened <= self.stalled + self.stall_free_failures {
                return Ok(Some("LISTEN"));
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
            Outcome::Skipped { reason } => assert!(reason.starts_with("inconclusive"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
