//! The order a real-time run starts its instances in (`runner::longest_first`): what a case
//! must wait (`minimum_duration`) plus what it may wait for its answers (`patience`), longest
//! first, so that a case that waits for resends at doubling timeouts overlaps the short ones.

use std::path::Path;
use std::time::Duration;
use tcpconform::case::load::load_paths;
use tcpconform::case::model::Case;
use tcpconform::run::runner::{longest_first, minimum_duration, patience};

fn case(id: &str) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../cases/{id}.yaml"));
    load_paths(&[path]).expect("the case loads").remove(0)
}

#[test]
fn resends_the_target_may_take_long_for_count_as_patience() {
    // Five resends, each awaited up to 70 s, in the longest variant; nothing that must last.
    let hole = case("pmtu/black-hole-lowers-segment-size");
    assert_eq!(minimum_duration(&hole.steps), Duration::ZERO);
    assert_eq!(patience(&hole.steps), Duration::from_secs(5 * 70));
    // 5 s of silence that must pass, and answers without a `within` of their own.
    let refused = case("rst/connection-refused");
    assert_eq!(minimum_duration(&refused.steps), Duration::from_secs(5));
    assert_eq!(patience(&refused.steps), Duration::ZERO);
    // The resends may last longer: they start first.
    assert!(longest_first(&hole.steps) < longest_first(&refused.steps));
}
