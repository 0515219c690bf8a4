//! The numbered requirements of the RFCs beyond RFC 9293 (`case::requirements`) that the corpus
//! names. The loader rejects an id the table does not hold; this file pins the set the corpus
//! names, so that a requirement losing its last case (an id deleted or mistyped into another
//! valid one) fails here instead of quietly lowering the coverage figure. Whether those cases
//! pass is `run_reference`'s job.

use std::collections::BTreeSet;
use std::path::Path;
use tcpconform::case::load::load_paths;
use tcpconform::case::requirements;

/// The ids the corpus names, by RFC. Adding a case for a new id adds it here.
const NAMED: &[&str] = &[
    "RFC2018-MUST-2",
    "RFC2018-MUST-3",
    "RFC2018-MUST-4",
    "RFC2018-MUST-7",
    "RFC2018-MUST-10",
    "RFC2018-SHLD-2",
    "RFC2018-SHLD-4",
    "RFC1191-MUST-1",
    "RFC7413-MUST-4",
    "RFC7413-MUST-9",
    "RFC7413-MUST-10",
    "RFC7413-SHLD-2",
    "RFC7413-SHLD-5",
    "RFC6298-MUST-3",
    "RFC6298-MUST-4",
    "RFC6298-MUST-6",
    "RFC6298-MUST-7",
    "RFC6298-MUST-8",
    "RFC6298-MUST-12",
    "RFC5961-MUST-1",
    "RFC5961-MUST-2",
    "RFC5961-MUST-3",
    "RFC5961-MUST-4",
    "RFC5961-MUST-6",
    "RFC5961-MUST-7",
    "RFC5961-MUST-10",
    "RFC5681-MUST-7",
    "RFC5681-MUST-8",
    "RFC5681-MUST-15",
    "RFC5681-MUST-18",
    "RFC5681-MUST-20",
    "RFC5681-MUST-22",
    "RFC7323-MUST-1",
    "RFC7323-MUST-3",
    "RFC7323-MUST-7",
    "RFC7323-MUST-8",
    "RFC7323-MUST-10",
    "RFC7323-MUST-13",
    "RFC7323-MUST-15",
    "RFC7323-MUST-18",
    "RFC7323-MUST-19",
    "RFC7323-MUST-21",
    "RFC7323-MUST-26",
    "RFC8985-MUST-5",
    "RFC8985-MUST-6",
    "RFC8985-MUST-9",
    "RFC8985-SHLD-11",
    "RFC8985-SHLD-12",
    "RFC8985-SHLD-13",
];

#[test]
fn the_corpus_names_the_pinned_requirement_ids() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let cases = load_paths(&[root]).unwrap_or_else(|d| panic!("{d:?}"));
    let named: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.requirements.iter())
        .filter_map(|r| requirements::find(r).map(|row| row.id))
        .collect();
    let pinned: BTreeSet<&str> = NAMED.iter().copied().collect();
    let lost: Vec<&&str> = pinned.difference(&named).collect();
    let new: Vec<&&str> = named.difference(&pinned).collect();
    assert!(
        lost.is_empty() && new.is_empty(),
        "no case names any more: {lost:?}; named but not pinned here: {new:?}"
    );
}

/// A pinned id that is not observable on the wire would be a claim no case can back.
#[test]
fn pinned_ids_are_in_the_table_and_observable() {
    for id in NAMED {
        let row = requirements::find(id).unwrap_or_else(|| panic!("{id} is not in the table"));
        assert!(
            row.not_observable.is_none(),
            "{id} is marked not observable: {:?}",
            row.not_observable
        );
    }
}
