//! The code behind the fuzz targets of tcpconform, kept out of `fuzz_targets/` so that each
//! target is a few lines and the checks can be read (and reused) in one place.
//!
//! - [`wire_check`]: parse/emit round trip and the differential against etherparse;
//! - [`state_machine`]: one reference [`reference_stack::stack::Stack`] against a fuzzer-driven
//!   peer model, with invariants checked after every event;
//! - [`pair`]: two stacks through a lossy, reordering, duplicating channel;
//! - `agent` (feature `harness`): the agent's connection handling against a backend that makes
//!   no socket call, its input format in [`agent_input`].

#[cfg(feature = "harness")]
pub mod agent;
pub mod agent_input;
pub mod pair;
pub mod pattern;
pub mod state_machine;
pub mod wire_check;

use reference_stack::wire::{ChecksumCheck, Segment};
#[cfg(feature = "harness")]
use tcpconform::case::expr::Expr;

/// The `parse_segment` target: arbitrary bytes into `Segment::parse` / `parse_with(Ignore)`.
pub fn parse_segment(data: &[u8]) {
    let verified = Segment::parse(data);
    let ignored = Segment::parse_with(data, ChecksumCheck::Ignore);
    if let Ok(v) = &verified {
        // Verifying checksums only ever rejects more.
        assert_eq!(Ok(v), ignored.as_ref(), "Verify accepted, Ignore differs");
    }
    if let Ok(seg) = &ignored {
        wire_check::round_trip(seg, data, verified.is_ok());
        wire_check::differential(seg, data);
    }
    // The ICMP/ICMPv6 error parser sees the same bytes (the stack hands it what is not TCP):
    // it must never panic, and a packet that is a TCP segment is never an ICMP error.
    let icmp = reference_stack::wire::IcmpError::parse(data);
    assert!(
        icmp.is_none() || verified.is_err(),
        "one packet parsed both as a TCP segment and as an ICMP error"
    );
}

#[cfg(feature = "harness")]
/// The `case_loader` target: arbitrary text into the case loader and the expression parser.
/// Errors are fine; panics and hangs are not, nor an expression whose printed form does not
/// parse back to the same value.
pub fn case_loader(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    // A path that cannot exist: no `_preludes.yaml` is found next to it, so a case naming a
    // prelude uses the built-in library (in memory) instead of reading a file.
    let path = std::path::Path::new("/nonexistent-fuzz-dir/fuzz.yaml");
    let _ = tcpconform::case::load_str(path, text);
    for line in text.lines().take(8) {
        if let Ok(e) = Expr::parse(line) {
            // Display prints a parenthesised form (what diagnostics show): it must parse back to
            // an expression of the same value, and printing must be stable from then on.
            let printed = e.to_string();
            let again = Expr::parse(&printed).unwrap_or_else(|err| {
                panic!("printed expression `{printed}` does not parse: {err:?}")
            });
            let lookup = |_| Some(7);
            assert_eq!(
                e.eval(&lookup),
                again.eval(&lookup),
                "`{line}` vs `{printed}`"
            );
            let reprinted = again.to_string();
            let third = Expr::parse(&reprinted).map(|x| x.to_string()).ok();
            assert_eq!(
                third.as_deref(),
                Some(reprinted.as_str()),
                "printing is not stable"
            );
        }
    }
}
