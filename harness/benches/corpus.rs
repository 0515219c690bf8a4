//! Prints how fast the corpus runs on the reference target (virtual clock): case instances per
//! second on one thread, and the wall time of the whole corpus on all cores. A benchmark, not a
//! test: it prints figures and asserts nothing about time.
//!
//! cargo bench -p tcpconform --bench corpus

use std::path::Path;
use std::time::Instant;
use tcpconform::case::load::load_paths;
use tcpconform::run::event::{Reporter, RunEvent};
use tcpconform::run::executor::{execute, Instance, RunOptions};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;
use tcpconform::target::Target;

struct Quiet;

impl Reporter for Quiet {
    fn event(&mut self, _: &RunEvent) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    let cases_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let t0 = Instant::now();
    let cases = load_paths(&[cases_dir]).expect("the corpus loads");
    let load = t0.elapsed();
    let instances: Vec<Instance<'_>> = cases
        .iter()
        .flat_map(|case| case.ip.iter().map(move |&ip| Instance { case, ip }))
        .collect();
    println!(
        "corpus: {} cases, {} instances, loaded in {:.1} ms",
        cases.len(),
        instances.len(),
        load.as_secs_f64() * 1e3
    );

    // One thread, repeated until at least 2 s have passed.
    let mut target = ReferenceTarget::new(ReferenceTarget::default_config());
    let mut runs = 0usize;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < 2.0 {
        for (i, inst) in instances.iter().enumerate() {
            let r = run_instance(&mut target, inst.case, inst.ip, i as u64);
            std::hint::black_box(&r);
            runs += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "single thread: {:.0} case instances/s ({:.1} us each)",
        runs as f64 / secs,
        secs * 1e6 / runs as f64
    );

    // The whole corpus as `tcpconform run` does it, on every core.
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let make =
        || Box::new(ReferenceTarget::new(ReferenceTarget::default_config())) as Box<dyn Target>;
    let mut quiet = Quiet;
    let start = Instant::now();
    let summary = execute(
        &instances,
        &RunOptions {
            jobs,
            seed: 1,
            target_name: "reference",
            baseline: None,
            budget: std::time::Duration::MAX,
            strict: false,
            fail_fast: false,
        },
        &make,
        &mut [&mut quiet],
    )
    .expect("run");
    println!(
        "whole corpus, {jobs} workers: {:.1} ms wall ({} passed, {} failed)",
        start.elapsed().as_secs_f64() * 1e3,
        summary.passed,
        summary.failed
    );
}
