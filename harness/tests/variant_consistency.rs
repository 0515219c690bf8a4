//! A target must make RFC 9293 MAY-12's choice (RST and SYN handling of RFC 5961 or of RFC 793)
//! once: a run whose instances take one in some states and the other elsewhere fails, though
//! each instance alone passes on an allowed variant.

mod faulty;

use faulty::{Fault, Faulty};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tcpconform::case::load::load_paths;
use tcpconform::cli::RstProfile;
use tcpconform::reference::config as reference_config;
use tcpconform::run::baseline::Baseline;
use tcpconform::run::event::{Inconsistency, Mitigation, Reporter, RunEvent, Summary};
use tcpconform::run::executor::{execute, Instance, RunOptions};
use tcpconform::target::reference::ReferenceTarget;
use tcpconform::target::Target;

/// The RST profile alternates from one instance to the next, over all the run's workers.
struct Alternating {
    profiles: [RstProfile; 2],
    opened: Arc<AtomicUsize>,
}

impl Fault for Alternating {
    fn open(&mut self, inner: &mut ReferenceTarget) {
        let n = self.opened.fetch_add(1, Ordering::SeqCst);
        *inner = ReferenceTarget::new(reference_config(self.profiles[n % 2]));
    }
}

#[derive(Default)]
struct Events {
    inconsistent: Vec<Inconsistency>,
    summary: Option<Summary>,
}

impl Reporter for Events {
    fn event(&mut self, event: &RunEvent) -> std::io::Result<()> {
        match event {
            RunEvent::Inconsistent(list) => self.inconsistent = list.clone(),
            RunEvent::Finished(s) => self.summary = Some(*s),
            _ => {}
        }
        Ok(())
    }
}

/// The corpus's RST cases on two workers, each with a reference stack of the given profile.
fn run(profiles: [RstProfile; 2]) -> Events {
    run_with(profiles, None)
}

fn run_with(profiles: [RstProfile; 2], baseline: Option<&Baseline>) -> Events {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let cases = load_paths(&[root]).expect("the corpus loads");
    let instances: Vec<Instance<'_>> = cases
        .iter()
        .filter(|c| c.id.starts_with("rules/rst/"))
        .flat_map(|c| c.ip.iter().map(move |&ip| Instance { case: c, ip }))
        .collect();
    // The profile alternates per instance, not per worker: however the two workers share the
    // instances out, both profiles meet the RST cases.
    let opened = Arc::new(AtomicUsize::new(0));
    let make = move || {
        Box::new(Faulty::new(Alternating {
            profiles,
            opened: opened.clone(),
        })) as Box<dyn Target>
    };
    let mut events = Events::default();
    execute(
        &instances,
        &RunOptions {
            jobs: 2,
            seed: 1,
            target_name: "reference",
            baseline,
            budget: Duration::from_secs(60),
            strict: false,
            fail_fast: false,
        },
        &make,
        &mut [&mut events],
    )
    .expect("run");
    events
}

#[test]
fn one_profile_is_consistent() {
    let e = run([RstProfile::Rfc5961, RstProfile::Rfc5961]);
    let s = e.summary.expect("finished");
    assert_eq!((s.failed, s.inconsistent), (0, 0), "{s:?}");
    assert!(
        e.inconsistent.iter().all(|i| !i.fails),
        "{:?}",
        e.inconsistent
    );
}

#[test]
fn a_target_that_takes_both_profiles_fails() {
    let e = run([RstProfile::Rfc5961, RstProfile::Rfc793]);
    let s = e.summary.expect("finished");
    assert_eq!(s.failed, 0, "every instance alone passes: {s:?}");
    assert_eq!(s.inconsistent, 1, "{:?}", e.inconsistent);
    let i = e.inconsistent.iter().find(|i| i.fails).expect("MAY-12");
    let taken: Vec<&str> = i.taken.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(taken, ["rfc5961", "rfc793"]);
}

#[test]
fn the_inconsistency_names_the_mitigation() {
    let e = run([RstProfile::Rfc5961, RstProfile::Rfc793]);
    let i = e.inconsistent.iter().find(|i| i.fails).expect("MAY-12");
    assert_eq!(i.mitigation, Some(Mitigation::Rst), "{i:?}");
    assert!(i.known.is_none());
}

#[test]
fn a_baseline_choice_entry_makes_it_known() {
    let baseline = Baseline::parse(
        "- choice: rfc5961-rst\n  rfc: \"RFC9293 3.10.7.4\"\n  reason: resets in some states\n",
    )
    .expect("parses");
    let e = run_with([RstProfile::Rfc5961, RstProfile::Rfc793], Some(&baseline));
    let s = e.summary.expect("finished");
    assert_eq!((s.failed, s.inconsistent), (0, 0), "{s:?}");
    let i = e
        .inconsistent
        .iter()
        .find(|i| i.mitigation == Some(Mitigation::Rst))
        .expect("still reported");
    assert!(!i.fails);
    assert!(i
        .known
        .as_deref()
        .is_some_and(|k| k.contains("resets in some states")));
    assert!(baseline.review().stale_choices.is_empty());
}

#[test]
fn a_choice_entry_for_a_consistent_target_is_stale() {
    let baseline = Baseline::parse(
        "- choice: rfc5961-rst\n  rfc: \"RFC9293 3.10.7.4\"\n  reason: resets in some states\n",
    )
    .expect("parses");
    let e = run_with([RstProfile::Rfc5961, RstProfile::Rfc5961], Some(&baseline));
    assert_eq!(e.summary.expect("finished").inconsistent, 0);
    assert_eq!(baseline.review().stale_choices.len(), 1);
}
