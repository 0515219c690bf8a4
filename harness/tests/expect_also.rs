//! `expect_also`: a second look at the segment an `expect` took, at its own level. One segment
//! whose fields the RFC asks for at different levels (RFC 2018 4: the first SACK block MUST
//! name the triggering segment, the others SHOULD repeat recent blocks) is judged at each: a
//! miss at a SHOULD matcher is a warning, at a MUST matcher a failure. Checked on the
//! reference stack, with deliberately wrong expectations standing in for a wrong stack.

use std::path::Path;
use tcpconform::case::load::load_str;
use tcpconform::cli::RstProfile;
use tcpconform::reference::config as reference_config;
use tcpconform::run::event::{IpVersion, Outcome, Verdict};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;

/// Two out-of-order segments, then the ACK of the second, judged by `checks`.
fn run(checks: &str) -> (Verdict, Outcome) {
    let text = format!(
        "id: t/also\ntitle: t\nrfc: [\"RFC2018 4\"]\nsetup: {{ listen: 8080 }}\nsteps:\n\
         \x20 - send:   {{ flags: S, seq: 0, options: [mss 1460, nop, nop, sackOK] }}\n\
         \x20 - expect: {{ flags: SA, ack: 1 }}\n\
         \x20 - send:   {{ flags: A, seq: 1, ack: 1 }}\n\
         \x20 - call:   accept\n\
         \x20 - send:   {{ flags: PA, seq: 101, ack: 1, data: 100 }}\n\
         \x20 - expect: {{ flags: A, ack: 1 }}\n\
         \x20 - send:   {{ flags: PA, seq: 301, ack: 1, data: 100 }}\n\
         \x20 - expect: {{ flags: A, ack: 1 }}\n{checks}"
    );
    let mut cases = load_str(Path::new("mem.yaml"), &text).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let case = cases.remove(0);
    let mut t = ReferenceTarget::new(reference_config(RstProfile::Rfc5961));
    let r = run_instance(&mut t, &case, IpVersion::V4, 5);
    (r.verdict, r.outcome)
}

#[test]
fn each_matcher_of_one_segment_is_judged_at_its_own_level() {
    let right = "  - expect_also: { options: { sack_first: \"301:401\" } }\n\
                 \x20 - expect_also: { options: { sack: \"301:401 101:201\" } }\n\
                 \x20   level: should\n";
    assert_eq!(run(right).0, Verdict::Passed);

    // The repeated block is wrong: a SHOULD not met.
    let should = "  - expect_also: { options: { sack_first: \"301:401\" } }\n\
                  \x20 - expect_also: { options: { sack: \"301:401 1:101\" } }\n\
                  \x20   level: should\n";
    let (verdict, outcome) = run(should);
    assert_eq!(verdict, Verdict::Warning, "{outcome:?}");

    // The first block is wrong: a MUST not met, whatever the later looks say.
    let must = "  - expect_also: { options: { sack_first: \"101:201\" } }\n\
                \x20 - expect_also: { options: { sack: \"301:401 101:201\" } }\n\
                \x20   level: should\n";
    let (verdict, outcome) = run(must);
    assert_eq!(verdict, Verdict::Failed, "{outcome:?}");
    let Outcome::Failed(f) = outcome else {
        unreachable!()
    };
    assert!(
        f.message
            .contains("expected the same segment to have options sack first"),
        "{}",
        f.message
    );
}

#[test]
fn expect_also_is_only_a_second_look() {
    let errors = |steps: &str| {
        let text = format!(
            "id: t/also\ntitle: t\nrfc: [\"RFC2018 4\"]\nsetup: {{ listen: 8080 }}\nsteps:\n{steps}"
        );
        match load_str(Path::new("mem.yaml"), &text) {
            Ok(_) => String::new(),
            Err(d) => d
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    };
    let e = errors("  - send: { flags: S, seq: 0 }\n  - expect_also: { flags: SA }\n");
    assert!(e.contains("expect_also must follow an `expect`"), "{e}");
    let e = errors(
        "  - send: { flags: S, seq: 0 }\n  - expect: { flags: SA }\n  - expect_also: { ack: 1, within: 1s }\n",
    );
    assert!(e.contains("no `within` or `after`"), "{e}");
    let e = errors("  - send: { flags: S, seq: 0 }\n  - expect: { flags: SA }\n  - expect_also: { options: { sack_first: \"1:2 3:4\" } }\n");
    assert!(e.contains("sack_first is one SACK block"), "{e}");
    assert_eq!(
        errors("  - send: { flags: S, seq: 0 }\n  - expect: { flags: SA }\n  - expect_also: { ack: 1 }\n  - expect_also: { flags: SA }\n"),
        ""
    );
}
