//! `pmtu/black-hole-lowers-segment-size` (RFC 4821 7.7): the reference with PLPMTUD's black-hole
//! response (`Config::plpmtud_black_hole`, on in the harness's default) passes it through the
//! variant of its R1th timeout; with the response off — a stack that resends full-size segments
//! into the hole until R2 — the case fails at level practice, on the fifth full-size resend.

use std::path::Path;
use tcpconform::case::load::load_paths;
use tcpconform::case::model::Level;
use tcpconform::run::event::Outcome;
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;

const CASE: &str = "pmtu/black-hole-lowers-segment-size";

fn run(black_hole: bool) -> Vec<(String, Outcome)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../cases/{CASE}.yaml"));
    let cases = load_paths(&[path]).expect("the case loads");
    assert_eq!(cases.len(), 2, "one instance per IP version");
    let config = reference_stack::Config {
        plpmtud_black_hole: black_hole,
        ..ReferenceTarget::default_config()
    };
    let mut out = Vec::new();
    for case in &cases {
        for &ip in &case.ip {
            let r = run_instance(&mut ReferenceTarget::new(config.clone()), case, ip, 7);
            out.push((r.display_name(), r.outcome));
        }
    }
    out
}

#[test]
fn the_reference_resends_in_smaller_segments_at_its_r1th_timeout() {
    assert!(ReferenceTarget::default_config().plpmtud_black_hole);
    for (name, outcome) in run(true) {
        match outcome {
            // R1 = 3 (reference default): the third resend fits.
            Outcome::Passed { variants } => assert_eq!(variants, ["plpmtud-3"], "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn without_black_hole_detection_the_case_fails_at_level_practice() {
    for (name, outcome) in run(false) {
        match outcome {
            Outcome::Failed(f) => {
                assert_eq!(f.level, Level::Practice, "{name}: {f:?}");
                // The fifth resend, where only `plpmtud-5` is left, is full-size again.
                assert!(
                    f.message.contains("got PA seq 1:1401(1400)")
                        && f.message.contains("differs in len"),
                    "{name}: {}",
                    f.message
                );
            }
            other => panic!("{name}: expected a failure, got {other:?}"),
        }
    }
}
