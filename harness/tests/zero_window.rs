//! The grid's window geometry holds on a stack whose receive window is zero: a position meant
//! to be inside the window (`rcv.nxt + rcv.wnd - 1`, data at RCV.NXT) cannot exist there, so
//! those instances are not applicable (`assume: "rcv.wnd > 0"`), never a FAIL blaming the
//! stack's RST, SYN or data handling, which is right by RFC 9293 3.10.7.4's Table 6.
//!
//! The target is the reference stack with no receive buffer: it advertises a zero window from
//! its SYN-ACK on and accepts no data, a legal if unhelpful configuration.

use std::path::Path;
use tcpconform::case::load::load_paths;
use tcpconform::cli::RstProfile;
use tcpconform::reference::config as reference_config;
use tcpconform::run::event::Verdict;
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;

#[test]
fn a_zero_window_draws_no_false_failure_from_the_grid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/grid");
    let cases = load_paths(&[root]).expect("the grid loads");
    let config = reference_stack::Config {
        recv_buffer: 0,
        ..reference_config(RstProfile::Rfc5961)
    };
    let (mut failed, mut not_applicable, mut passed) = (Vec::new(), 0, 0);
    for case in &cases {
        for &ip in &case.ip {
            let mut t = ReferenceTarget::new(config.clone());
            let r = run_instance(&mut t, case, ip, 7);
            match r.verdict {
                Verdict::Passed => passed += 1,
                Verdict::NotApplicable => not_applicable += 1,
                _ => failed.push(format!("{}: {:?}", r.display_name(), r.outcome)),
            }
        }
    }
    println!("zero window: {passed} passed, {not_applicable} not applicable");
    assert!(
        failed.is_empty(),
        "{} instances:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(not_applicable > 0 && passed > 0);
}

/// `fill_window` closes the receive window whatever the buffer's size or window scaling, so the
/// zero-window cases run on any stack (they once assumed the reference's 262,144 octets); a
/// buffer larger than the step's `max` makes the instance not applicable, never a failure.
#[test]
fn fill_window_closes_a_window_of_any_size() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/rules/seq");
    let cases: Vec<_> = load_paths(&[root])
        .expect("the cases load")
        .into_iter()
        .filter(|c| c.id.starts_with("rules/seq/zero-window-"))
        .collect();
    assert_eq!(cases.len(), 5, "ack-with-data, rst, and three positions");
    for (recv_buffer, window_scale) in [
        (3_000, None),
        (100_000, None),
        (100_000, Some(2)),
        (4 << 20, Some(7)),
    ] {
        let config = reference_stack::Config {
            recv_buffer,
            window_scale,
            ..reference_config(RstProfile::Rfc5961)
        };
        for case in &cases {
            for &ip in &case.ip {
                let mut t = ReferenceTarget::new(config.clone());
                let r = run_instance(&mut t, case, ip, 3);
                assert_eq!(
                    r.verdict,
                    Verdict::Passed,
                    "{} with a {recv_buffer}-octet buffer, scale {window_scale:?}: {:?}",
                    r.display_name(),
                    r.outcome
                );
            }
        }
    }
    let text = "id: t/fill\ntitle: t\nrfc: [\"RFC9293 3.8.6\"]\nprelude: ESTABLISHED\n\
                steps:\n  - fill_window: { max: 65536 }\n  - state: ESTABLISHED\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/t.yaml");
    let case = tcpconform::case::load::load_str(&path, text)
        .expect("loads")
        .remove(0);
    let mut t = ReferenceTarget::new(reference_config(RstProfile::Rfc5961));
    let r = run_instance(&mut t, &case, tcpconform::run::event::IpVersion::V4, 3);
    assert_eq!(r.verdict, Verdict::NotApplicable, "{:?}", r.outcome);
    assert!(
        format!("{:?}", r.outcome).contains("receive buffer is larger than the case fills"),
        "{:?}",
        r.outcome
    );
}
