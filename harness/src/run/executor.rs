//! Runs many case instances on worker threads and feeds the results to the reporters on the
//! calling thread. Each worker builds its own target on its own thread (a namespaced target is
//! bound to the thread that entered the namespace), and reporters never see a worker.

use super::baseline::Baseline;
use super::event::{CaseResult, IpVersion, Outcome, Reporter, RunEvent, Summary};
use super::runner::run_instance_within;
use crate::case::model::Case;
use crate::target::Target;
use std::sync::atomic::{AtomicUsize, Ordering};
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
            r.event(ev)?;
        }
        Ok(())
    };
    emit(
        reporters,
        &RunEvent::Started {
            total: instances.len(),
            target: target_name.to_string(),
        },
    )?;
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<CaseResult>();
    let mut summary = Summary::default();
    let jobs = jobs.clamp(1, instances.len().max(1));
    let mut io_result = Ok(());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                let mut target = make_target();
                loop {
                    // Interrupted: start nothing more; the target is dropped on the way out,
                    // which tears its instance down.
                    if crate::interrupt::requested() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(inst) = instances.get(i) else { break };
                    let instance_seed = seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
                    let mut result = run_instance_within(
                        target.as_mut(),
                        inst.case,
                        inst.ip,
                        instance_seed,
                        budget,
                    );
                    if let (Outcome::Failed(f), Some(b)) = (&mut result.outcome, baseline) {
                        f.baseline = b.matches(&result.id, result.ip);
                    }
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
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
    });
    io_result?;
    summary.wall = started.elapsed();
    emit(reporters, &RunEvent::Finished(summary))?;
    Ok(summary)
}
