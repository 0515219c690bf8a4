//! RACK-TLP (RFC 8985) as a named variant: the corpus's cases with a `rack-tlp` variant pass on
//! the reference with RACK-TLP on (`Config::rack_tlp`) through that variant, and through the
//! classic ones with it off. A reference made to probe too early, twice in a row, or with the
//! wrong segment fails the probe's case; one that marks a loss before the reordering window has
//! passed, resends a segment RACK already resent, or probes twice fails the RACK cases. Every
//! `rack-tlp` variant of the corpus is run here, and the whole corpus passes with RACK-TLP on.

mod faulty;

use faulty::{Fault, Faulty};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tcpconform::case::load::load_paths;
use tcpconform::case::model::{Case, Level};
use tcpconform::packet::observe::observe;
use tcpconform::run::event::{CaseResult, Failure, IpVersion, Outcome};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;
use tcpconform::target::Target;

/// The cases whose `rack-tlp` variant the reference's tail loss probe takes, with the classic
/// variants it takes with the probe off.
const CASES: [(&str, &str); 1] = [("timers/rto-resends-left-edge-even-if-sacked", "left-edge")];

/// The cases whose `rack-tlp` variants need RACK's loss marking by time (RFC 8985 6.2) as
/// well: the variants the reference takes with RACK-TLP on, and with it off.
const RACK_CASES: [(&str, &[&str], &[&str]); 3] = [
    (
        "limited-transmit/new-segment-per-sack-dup-ack",
        &["rack-tlp", "rack-tlp"],
        &["initial-window-4", "limited-transmit", "limited-transmit"],
    ),
    (
        "timers/rto-resend-skips-sacked-octets",
        &["rack-tlp"],
        &["left-edge-segment", "scoreboard-kept-on-the-ack"],
    ),
    (
        "timers/sack-reneged-at-snd-una-resent",
        &["rack-tlp"],
        &["reneged-block-only"],
    ),
];

fn load(ids: &[&str]) -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let paths: Vec<PathBuf> = ids
        .iter()
        .map(|id| root.join(format!("{id}.yaml")))
        .collect();
    let cases = load_paths(&paths).expect("the cases load");
    assert_eq!(cases.len(), ids.len());
    cases
}

fn cases() -> Vec<Case> {
    load(&CASES.map(|(id, _)| id))
}

fn config(rack_tlp: bool) -> reference_stack::Config {
    reference_stack::Config {
        rack_tlp,
        ..ReferenceTarget::default_config()
    }
}

fn run(target: &mut dyn Target, case: &Case, ip: IpVersion) -> CaseResult {
    run_instance(target, case, ip, 7)
}

fn variants(r: &CaseResult) -> Vec<String> {
    match &r.outcome {
        Outcome::Passed { variants } => variants.clone(),
        other => panic!("{}: expected a pass, got {other:?}", r.display_name()),
    }
}

#[test]
fn with_the_probe_on_the_reference_takes_rack_tlp_and_with_it_off_the_classic_variant() {
    for case in &cases() {
        let classic = CASES.iter().find(|(id, _)| *id == case.id).unwrap().1;
        for &ip in &case.ip {
            let on = run(&mut ReferenceTarget::new(config(true)), case, ip);
            assert_eq!(variants(&on), vec!["rack-tlp"], "{}", on.display_name());
            let off = run(&mut ReferenceTarget::new(config(false)), case, ip);
            assert_eq!(variants(&off), vec![classic], "{}", off.display_name());
        }
    }
}

#[test]
fn with_rack_on_the_reference_marks_losses_by_time_and_with_it_off_counts_duplicates() {
    for (case, (id, on, off)) in load(&RACK_CASES.map(|(id, ..)| id)).iter().zip(RACK_CASES) {
        assert_eq!(case.id, id);
        for &ip in &case.ip {
            let r = run(&mut ReferenceTarget::new(config(true)), case, ip);
            assert_eq!(variants(&r), on, "{}", r.display_name());
            let r = run(&mut ReferenceTarget::new(config(false)), case, ip);
            assert_eq!(variants(&r), off, "{}", r.display_name());
        }
    }
}

/// RACK-TLP is an allowed way to recover (RFC 8985 is a Standards Track alternative to
/// duplicate-ACK counting): a case that fails a correct RACK-TLP sender asks for more than the
/// RFCs do. Every case passes on the reference with RACK-TLP on, as with it off
/// (`run_reference`).
#[test]
fn the_whole_corpus_passes_on_the_reference_with_rack_tlp_on() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let cases = load_paths(&[root]).expect("the corpus loads");
    let mut failed = Vec::new();
    for case in &cases {
        for &ip in &case.ip {
            let r = run(&mut ReferenceTarget::new(config(true)), case, ip);
            if let Outcome::Failed(f) = &r.outcome {
                failed.push(format!("{}: {}", r.display_name(), f.message));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Every `rack-tlp` variant in the corpus is one this test knows about (so a new one is run on
/// the reference here, or its absence explained beside `CASES`).
#[test]
fn every_rack_tlp_variant_in_the_corpus_is_accounted_for() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let mut found = BTreeSet::new();
    for entry in walk(&root) {
        let text = std::fs::read_to_string(&entry).unwrap();
        if text
            .lines()
            .any(|l| l.trim_start().starts_with("rack-tlp:"))
        {
            let rel = entry.strip_prefix(&root).unwrap().with_extension("");
            found.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    let known: BTreeSet<String> = CASES
        .iter()
        .map(|(id, _)| id.to_string())
        .chain(RACK_CASES.iter().map(|(id, ..)| id.to_string()))
        .collect();
    assert_eq!(found, known);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out
}

/// Data segments the stack sent, by sequence number, to tell new data from a resend.
#[derive(Default)]
struct Seen(BTreeSet<u32>);

impl Seen {
    /// The segment's sequence number and whether it carries data sent before; `None` for a
    /// segment without data.
    fn note(&mut self, packet: &[u8]) -> Option<(u32, bool, u16)> {
        let o = observe(packet).ok()?;
        if o.payload.is_empty() {
            return None;
        }
        Some((o.seq, !self.0.insert(o.seq), o.flags))
    }
}

const PSH: u16 = 0x08;

/// Sends the last segment of each write (the one with PSH) again 50 ms later: a probe at a
/// quarter of PTO = 2 * SRTT (SRTT is 100 ms in the cases), before RFC 8985 7.2 allows.
#[derive(Default)]
struct EarlyProbe(Seen);

impl Fault for EarlyProbe {
    fn open(&mut self, inner: &mut ReferenceTarget) {
        *inner = ReferenceTarget::new(config(true));
        self.0 = Seen::default();
    }
    fn also_out(&mut self, packet: &[u8]) -> Option<(Duration, Vec<u8>)> {
        match self.0.note(packet)? {
            (_, false, flags) if flags & PSH != 0 => {
                Some((Duration::from_millis(50), packet.to_vec()))
            }
            _ => None,
        }
    }
}

/// Sends every resent segment twice, 10 ms apart: two probes in a row (RFC 8985 7.1 allows one
/// per episode).
#[derive(Default)]
struct DoubleProbe(Seen);

impl Fault for DoubleProbe {
    fn open(&mut self, inner: &mut ReferenceTarget) {
        *inner = ReferenceTarget::new(config(true));
        self.0 = Seen::default();
    }
    fn also_out(&mut self, packet: &[u8]) -> Option<(Duration, Vec<u8>)> {
        match self.0.note(packet)? {
            (_, true, _) => Some((Duration::from_millis(10), packet.to_vec())),
            _ => None,
        }
    }
}

/// Probes at PTO with the first segment of the flight instead of the highest one (RFC 8985
/// 7.3): a copy of the first data segment 200 ms after it, and its own probe withheld.
#[derive(Default)]
struct WrongSegment {
    seen: Seen,
    first: Option<u32>,
    /// The packet `also_out` just looked at is the reference's own probe: withhold it.
    withhold: bool,
}

impl Fault for WrongSegment {
    fn open(&mut self, inner: &mut ReferenceTarget) {
        *inner = ReferenceTarget::new(config(true));
        *self = WrongSegment::default();
    }
    // `Faulty` asks `also_out` first, then `lets_out`, of each packet.
    fn also_out(&mut self, packet: &[u8]) -> Option<(Duration, Vec<u8>)> {
        self.withhold = false;
        let (seq, again, _) = self.seen.note(packet)?;
        if again {
            self.withhold = self.first != Some(seq);
            return None;
        }
        if self.first.is_some() {
            return None;
        }
        self.first = Some(seq);
        Some((Duration::from_millis(200), packet.to_vec()))
    }
    fn lets_out(&mut self, _packet: &[u8]) -> bool {
        !std::mem::take(&mut self.withhold)
    }
}

/// Each instance of the cases fails on the faulty reference, where `at` says, at `level`.
fn fails<F: Fault>(make: impl Fn() -> F, what: &str, level: Level, at: fn(&Failure) -> bool) {
    for case in &cases() {
        for &ip in &case.ip {
            let r = run(&mut Faulty::new(make()), case, ip);
            match &r.outcome {
                Outcome::Failed(f) => {
                    assert!(
                        at(f),
                        "{}: {what}: failed elsewhere: {f:?}",
                        r.display_name()
                    );
                    assert_eq!(f.level, level, "{}: {what}", r.display_name());
                }
                other => panic!("{}: {what} must fail, got {other:?}", r.display_name()),
            }
        }
    }
}

/// The segment that arrived was compared with the `rack-tlp` variant and did not fit it.
fn at_the_rack_tlp_choice(f: &Failure) -> bool {
    f.diff
        .iter()
        .any(|d| d.variant.as_deref() == Some("rack-tlp"))
}

/// The segment that arrived, after the variant was chosen, has another sequence number than
/// the step expected (the RTO's resend of SND.UNA).
fn at_the_rto_resend(f: &Failure) -> bool {
    f.diff
        .iter()
        .any(|d| d.variant.is_none() && d.fields.iter().any(|x| x.field == "seq" && x.differs))
}

#[test]
fn a_probe_before_pto_fails() {
    // Too early for `rack-tlp` (its `after`), and not the classic variant's segment: PTO's
    // duration is a SHOULD (RFC 8985 7.2).
    fails(
        EarlyProbe::default,
        "a probe at SRTT / 2",
        Level::Should,
        |f| {
            f.diff.iter().any(|d| {
                d.variant.as_deref() == Some("rack-tlp")
                    && !d.fields.iter().any(|x| x.differs)
                    && d.note
                        .as_deref()
                        .is_some_and(|n| n.starts_with("time: expected not before"))
            })
        },
    );
}

#[test]
fn two_probes_in_a_row_fail() {
    // 7.3: after the probe the RTO, not another PTO, MUST be armed.
    fails(
        DoubleProbe::default,
        "a second probe",
        Level::Must,
        at_the_rto_resend,
    );
}

#[test]
fn a_probe_of_the_first_segment_fails() {
    // 7.3: the highest segment SHOULD be the probe.
    fails(
        WrongSegment::default,
        "a probe of the first segment",
        Level::Should,
        at_the_rack_tlp_choice,
    );
}

/// The wrapper alone changes nothing: the reference with its probe on still passes through it.
struct Honest;

impl Fault for Honest {
    fn open(&mut self, inner: &mut ReferenceTarget) {
        *inner = ReferenceTarget::new(config(true));
    }
}

#[test]
fn through_the_fault_wrapper_alone_the_reference_still_passes() {
    for case in &cases() {
        for &ip in &case.ip {
            let r = run(&mut Faulty::new(Honest), case, ip);
            assert_eq!(variants(&r), vec!["rack-tlp"], "{}", r.display_name());
        }
    }
}
