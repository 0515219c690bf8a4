//! `interval`: a wait judged as a multiple of the previous one, so a backoff is checked from
//! whatever initial RTO the stack chose (RFC 6298 2.1 allows any above 1 s; 5.5 MUST double).
//! The reference stack with long initial RTOs stands in for such stacks: doubling passes, a
//! timer that does not back off (capped at its initial value) fails, though each of its
//! retransmissions falls inside the absolute bounds the case also gives.

mod faulty;

use faulty::{Fault, Faulty};
use std::path::Path;
use std::time::Duration;
use tcpconform::case::load::load_paths;
use tcpconform::cli::RstProfile;
use tcpconform::reference::config as reference_config;
use tcpconform::run::event::{IpVersion, Outcome, Verdict};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;
use tcpconform::target::Target;

fn run(case_file: &str, initial: u64, max: u64) -> (Verdict, Outcome) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cases")
        .join(case_file);
    let case = load_paths(&[path]).expect("the case loads").remove(0);
    let config = reference_stack::Config {
        rto_initial: Duration::from_secs(initial),
        rto_max: Duration::from_secs(max),
        ..reference_config(RstProfile::Rfc5961)
    };
    let mut t = ReferenceTarget::new(config);
    let r = run_instance(&mut t, &case, IpVersion::V4, 9);
    (r.verdict, r.outcome)
}

#[test]
fn a_backoff_is_judged_from_the_initial_rto_the_stack_chose() {
    for file in [
        "handshake/syn-retransmit-backoff.yaml",
        "handshake/syn-ack-retransmit-backoff.yaml",
    ] {
        for initial in [5, 10] {
            let (verdict, outcome) = run(file, initial, 120);
            assert_eq!(verdict, Verdict::Passed, "{file}, {initial} s: {outcome:?}");
            let Outcome::Passed { variants } = outcome else {
                unreachable!()
            };
            assert_eq!(variants, ["rto-longer"], "{file}, {initial} s");
        }
        // 10 s, then 10 s again: inside `after: 9s, within: 50s`, but no backoff.
        let (verdict, outcome) = run(file, 10, 10);
        assert_eq!(verdict, Verdict::Failed, "{file}: {outcome:?}");
        let Outcome::Failed(f) = outcome else {
            unreachable!()
        };
        assert!(
            format!("{:?}", f.diff).contains("1.00x"),
            "{file}: {} / {:?}",
            f.message,
            f.diff
        );
    }
}

/// State queries that take 400 ms, as a loaded host's sock_diag or an agent's round trip can.
struct SlowStates;

impl Fault for SlowStates {
    fn after_state(&mut self, inner: &mut ReferenceTarget) {
        inner
            .wait(Duration::from_millis(400))
            .expect("the clock moves");
    }
}

/// A state query between a segment and its retransmission does not move the retransmission's
/// timing: `after` counts from the last step that was not an observation.
#[test]
fn a_slow_state_query_does_not_shift_retransmission_timing() {
    for file in [
        "handshake/syn-ack-retransmit-backoff.yaml",
        "close/fin-retransmit-backoff.yaml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../cases")
            .join(file);
        for case in load_paths(&[path]).expect("the case loads") {
            let mut t = Faulty::new(SlowStates);
            let r = run_instance(&mut t, &case, IpVersion::V4, 9);
            assert_eq!(r.verdict, Verdict::Passed, "{file}: {:?}", r.outcome);
        }
    }
}
