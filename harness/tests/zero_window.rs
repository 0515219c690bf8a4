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
