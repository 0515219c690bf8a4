//! Baselines: the known deviations of one target (`cases/baselines/<target>.yaml`).
//!
//! A failing case instance that a baseline entry matches is a known deviation, reported with
//! the entry's reason and RFC section rather than as a regression. An entry names the case
//! (or a glob over case ids), the IP versions, the failing step (its line in the case file)
//! and a glob over the failure message, so that a different failure of the same case — at
//! another step, or another mismatch at the same step — is a failure, not the known deviation.
//!
//! After a run the baseline says what it no longer describes: an entry that covers instances
//! of the run but matched none of their failures is stale (the deviation is gone, or the case
//! changed); an entry that covers an instance which passed is too broad (a failure there later
//! would hide behind it); an entry without `step` and `failure` is imprecise.
//!
//! ```yaml
//! - case: rst/syn-received-*        # a case id, or a glob: `*` any run, `?` one character
//!   ip: both                        # 4, 6 or both (the default)
//!   step: 14                        # the line of the failing step in the case file
//!   failure: "expected R *, got nothing"   # glob over the message, location left out
//!   rfc: "RFC9293 3.10.7.4"         # the rule the target breaks
//!   reason: "Linux answers ... instead of ..."
//!
//! - choice: rfc5961-ack             # an RFC 5961 mitigation (rfc5961-rst, -syn, -ack) the
//!   rfc: "RFC9293 3.10.7.4"         # target takes in some states and not in others
//!   reason: "checked in synchronized states only; SYN-RECEIVED answers the RFC 793 way"
//! ```
//!
//! A `choice` entry is about the run, not a case: RFC 9293 MAY-12 is a choice made once per
//! implementation, and a target that makes it both ways fails the run (see
//! [`crate::run::event::Mitigation`]) unless its baseline names the mitigation.

use crate::ip::IpVersion;
use crate::run::event::{CaseResult, Failure, Mitigation, Verdict};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Which IP versions an entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpSelector {
    V4,
    V6,
    Both,
}

impl IpSelector {
    pub fn covers(self, ip: IpVersion) -> bool {
        matches!(
            (self, ip),
            (IpSelector::Both, _)
                | (IpSelector::V4, IpVersion::V4)
                | (IpSelector::V6, IpVersion::V6)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            IpSelector::V4 => "IPv4",
            IpSelector::V6 => "IPv6",
            IpSelector::Both => "IPv4 and IPv6",
        }
    }
}

/// One known deviation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// A case id or a glob over case ids.
    pub case: String,
    pub ip: IpSelector,
    /// The line (in the case file) of the step that fails; `None` in an imprecise entry.
    pub step: Option<usize>,
    /// A glob over the failure message, its `path:line:col: ` location left out.
    pub failure: Option<String>,
    /// The RFC section the target deviates from, e.g. `RFC9293 3.10.7.4`.
    pub rfc: String,
    pub reason: String,
}

impl Entry {
    /// The text a report shows for a matched failure: reason and RFC section.
    pub fn explanation(&self) -> String {
        format!("{} ({})", self.reason, self.rfc)
    }

    /// Whether the entry is about this case instance at all.
    pub fn covers(&self, id: &str, ip: IpVersion) -> bool {
        self.ip.covers(ip) && glob_match(&self.case, id)
    }

    /// Whether `f` is the failure the entry describes.
    pub fn describes(&self, f: &Failure) -> bool {
        self.step.is_none_or(|line| f.line == Some(line))
            && self
                .failure
                .as_deref()
                .is_none_or(|p| glob_match(p, without_location(&f.message)))
    }

    /// Names both the failing step and the failure.
    pub fn precise(&self) -> bool {
        self.step.is_some() && self.failure.is_some()
    }
}

/// A failure message without the `path:line:col: ` it starts with.
pub fn without_location(message: &str) -> &str {
    let bytes = message.as_bytes();
    let mut i = 0;
    while let Some(colon) = message[i..].find(':').map(|c| c + i) {
        // `:<digits>:<digits>: `
        let mut j = colon + 1;
        let digits = |from: usize| {
            bytes
                .get(from..)
                .map_or(0, |b| b.iter().take_while(|c| c.is_ascii_digit()).count())
        };
        let line = digits(j);
        if line > 0 && bytes.get(j + line) == Some(&b':') {
            j += line + 1;
            let col = digits(j);
            if col > 0 && message.get(j + col..j + col + 2) == Some(": ") {
                return &message[j + col + 2..];
            }
        }
        i = colon + 1;
    }
    message
}

/// `ip:` as written: `4`, `6`, `both` (or `"4"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawIp {
    Number(u8),
    Text(String),
}

/// A known inconsistency in an RFC 9293 MAY-12 choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceEntry {
    pub mitigation: Mitigation,
    pub rfc: String,
    pub reason: String,
}

impl ChoiceEntry {
    pub fn explanation(&self) -> String {
        format!("{} ({})", self.reason, self.rfc)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    case: Option<String>,
    choice: Option<String>,
    ip: Option<RawIp>,
    step: Option<usize>,
    failure: Option<String>,
    rfc: String,
    reason: String,
}

/// What happened to one entry during a run.
#[derive(Debug, Default, Clone)]
struct Use {
    /// Instances of the run the entry covers.
    covered: usize,
    /// Failures it matched.
    matched: usize,
    /// Instances it covers that passed.
    passing: Vec<String>,
}

/// What the baseline no longer describes after a run.
#[derive(Debug, Default)]
pub struct Review<'a> {
    /// Entries covering instances of the run that matched none of their failures.
    pub stale: Vec<&'a Entry>,
    /// Entries covering instances that passed, with those instances.
    pub too_broad: Vec<(&'a Entry, Vec<String>)>,
    /// Entries without `step` and `failure`.
    pub imprecise: Vec<&'a Entry>,
    /// `choice` entries whose mitigation the run saw taken one way only.
    pub stale_choices: Vec<&'a ChoiceEntry>,
}

impl Review<'_> {
    pub fn is_clean(&self) -> bool {
        self.stale.is_empty()
            && self.too_broad.is_empty()
            && self.imprecise.is_empty()
            && self.stale_choices.is_empty()
    }
}

/// The known deviations of one target, with a record of how each entry was used.
#[derive(Debug, Default)]
pub struct Baseline {
    entries: Vec<Entry>,
    uses: Mutex<Vec<Use>>,
    choices: Vec<ChoiceEntry>,
    /// Per choice entry: whether the run saw the mitigation chosen, and taken both ways.
    choice_uses: Mutex<Vec<(bool, bool)>>,
}

impl Baseline {
    /// No known deviations.
    pub fn empty() -> Baseline {
        Baseline::default()
    }

    /// Read and check a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Baseline::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Read and check several baseline files, each alone, and take the entries of all: one
    /// target's known deviations split by where they show (Linux's own, and over a wire).
    /// YAML anchors stay within their file.
    pub fn load_all(paths: &[PathBuf]) -> Result<Baseline, String> {
        let (mut entries, mut choices) = (Vec::new(), Vec::new());
        for path in paths {
            let one = Baseline::load(path)?;
            entries.extend(one.entries);
            choices.extend(one.choices);
        }
        Ok(Baseline {
            uses: Mutex::new(vec![Use::default(); entries.len()]),
            choice_uses: Mutex::new(vec![(false, false); choices.len()]),
            entries,
            choices,
        })
    }

    /// Parse baseline text: a YAML sequence of entries (an empty file is an empty baseline).
    pub fn parse(text: &str) -> Result<Baseline, String> {
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Ok(Baseline::empty());
        }
        let raw: Vec<RawEntry> = serde_saphyr::from_str(text).map_err(|e| {
            e.to_string()
                .lines()
                .next()
                .unwrap_or("invalid YAML")
                .to_string()
        })?;
        let mut entries = Vec::with_capacity(raw.len());
        let mut choices = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let name = r.case.as_deref().or(r.choice.as_deref()).unwrap_or("");
            let at = |msg: &str| format!("entry {} ({name}): {msg}", i + 1);
            if !r.rfc.trim_start().starts_with("RFC") {
                return Err(at(&format!(
                    "rfc must name a section, like \"RFC9293 3.10.7.4\", not {:?}",
                    r.rfc
                )));
            }
            if r.reason.trim().is_empty() {
                return Err(at("reason is empty: say what the target does instead"));
            }
            let case = match (&r.case, &r.choice) {
                (Some(c), None) => c,
                (None, Some(c)) => {
                    if r.ip.is_some() || r.step.is_some() || r.failure.is_some() {
                        return Err(at(
                            "a choice entry is about the run: no ip, step or failure",
                        ));
                    }
                    let Some(mitigation) = Mitigation::from_key(c.trim()) else {
                        return Err(at(&format!(
                            "choice must be rfc5961-rst, rfc5961-syn or rfc5961-ack, not {c:?}"
                        )));
                    };
                    choices.push(ChoiceEntry {
                        mitigation,
                        rfc: r.rfc.clone(),
                        reason: r.reason.trim().to_string(),
                    });
                    continue;
                }
                _ => {
                    return Err(at(
                        "give either case (a known failure) or choice (a known inconsistency)",
                    ))
                }
            };
            let ip = match &r.ip {
                None => IpSelector::Both,
                Some(RawIp::Number(4)) => IpSelector::V4,
                Some(RawIp::Number(6)) => IpSelector::V6,
                Some(RawIp::Text(t)) => match t.trim() {
                    "4" | "ipv4" => IpSelector::V4,
                    "6" | "ipv6" => IpSelector::V6,
                    "both" => IpSelector::Both,
                    other => return Err(at(&format!("ip must be 4, 6 or both, not {other:?}"))),
                },
                Some(RawIp::Number(n)) => {
                    return Err(at(&format!("ip must be 4, 6 or both, not {n}")))
                }
            };
            if case.trim().is_empty() {
                return Err(at("case is empty"));
            }
            if r.step == Some(0) {
                return Err(at("step is the line of the failing step, counted from 1"));
            }
            if r.failure.as_deref().is_some_and(|f| f.trim().is_empty()) {
                return Err(at("failure is empty: give a glob over the failure message"));
            }
            entries.push(Entry {
                case: case.trim().to_string(),
                ip,
                step: r.step,
                failure: r.failure.map(|f| f.trim().to_string()),
                rfc: r.rfc,
                reason: r.reason.trim().to_string(),
            });
        }
        let uses = Mutex::new(vec![Use::default(); entries.len()]);
        let choice_uses = Mutex::new(vec![(false, false); choices.len()]);
        Ok(Baseline {
            entries,
            uses,
            choices,
            choice_uses,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The explanation (reason and RFC section) of the first entry that describes failure
    /// `f` of case `id` on `ip`.
    pub fn explain(&self, id: &str, ip: IpVersion, f: &Failure) -> Option<String> {
        self.entries
            .iter()
            .find(|e| e.covers(id, ip) && e.describes(f))
            .map(Entry::explanation)
    }

    /// The explanation of the `choice` entry for `m`, a mitigation the run saw taken both
    /// ways.
    pub fn explain_choice(&self, m: Mitigation) -> Option<String> {
        let i = self.choices.iter().position(|c| c.mitigation == m)?;
        if let Ok(mut uses) = self.choice_uses.lock() {
            uses[i].1 = true;
        }
        Some(self.choices[i].explanation())
    }

    /// Records a finished instance (its verdict final) against every entry covering it.
    pub fn record(&self, result: &CaseResult) {
        if let Ok(mut uses) = self.choice_uses.lock() {
            for (c, u) in self.choices.iter().zip(uses.iter_mut()) {
                u.0 |= result
                    .choices
                    .iter()
                    .any(|x| x.mitigation == Some(c.mitigation));
            }
        }
        let Ok(mut uses) = self.uses.lock() else {
            return;
        };
        for (e, u) in self.entries.iter().zip(uses.iter_mut()) {
            if !e.covers(&result.id, result.ip) {
                continue;
            }
            match (result.verdict, result.failure()) {
                (Verdict::Passed, _) => {
                    u.covered += 1;
                    u.passing.push(result.display_name());
                }
                (Verdict::Skipped | Verdict::NotApplicable | Verdict::Inconclusive, _) => {}
                (_, Some(f)) if e.describes(f) => {
                    u.covered += 1;
                    u.matched += 1;
                }
                _ => u.covered += 1,
            }
        }
    }

    /// What the baseline no longer describes, after the instances recorded so far.
    pub fn review(&self) -> Review<'_> {
        let uses = self.uses.lock().map(|u| u.clone()).unwrap_or_default();
        let mut review = Review::default();
        for (e, u) in self.entries.iter().zip(uses) {
            if u.covered > 0 && u.matched == 0 {
                review.stale.push(e);
            }
            if !u.passing.is_empty() {
                review.too_broad.push((e, u.passing));
            }
            if !e.precise() {
                review.imprecise.push(e);
            }
        }
        let choice_uses = self
            .choice_uses
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default();
        for (c, (seen, matched)) in self.choices.iter().zip(choice_uses) {
            if seen && !matched {
                review.stale_choices.push(c);
            }
        }
        review
    }
}

/// `pattern` against `text`: `*` matches any run of characters (`/` included), `?` one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for the end of.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_files_add_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(
            &a,
            "- { case: x, ip: both, step: 3, failure: f, rfc: &r RFC9293 3.1, reason: one }\n\
             - { case: y, ip: 4, step: 4, failure: g, rfc: *r, reason: two }\n",
        )
        .expect("write");
        std::fs::write(
            &b,
            "- { case: z, ip: 6, step: 5, failure: h, rfc: RFC5681 3.2, reason: three }\n",
        )
        .expect("write");
        let all = Baseline::load_all(&[a.clone(), b.clone()]).expect("both load");
        let cases: Vec<&str> = all.entries().iter().map(|e| e.case.as_str()).collect();
        assert_eq!(cases, ["x", "y", "z"]);
        // Each file stands alone: an anchor of one is unknown in the other.
        std::fs::write(
            &b,
            "- { case: z, ip: 6, step: 5, failure: h, rfc: *r, reason: three }\n",
        )
        .expect("write");
        let e = Baseline::load_all(&[a, b]).expect_err("an anchor from another file");
        assert!(e.contains("b.yaml"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "rst/syn-received-passive-returns-to-listen",
            "rst/syn-received-passive-returns-to-listen"
        ));
        assert!(glob_match(
            "rst/*",
            "rst/syn-received-passive-returns-to-listen"
        ));
        assert!(glob_match(
            "*listen",
            "rst/syn-received-passive-returns-to-listen"
        ));
        assert!(!glob_match("*/syn-*-to-*", "closed/syn-to-closed-port"));
        assert!(glob_match("*/syn-to-*", "closed/syn-to-closed-port"));
        assert!(glob_match(
            "closed/syn-to-closed-por?",
            "closed/syn-to-closed-port"
        ));
        assert!(glob_match("*", ""));
        assert!(!glob_match("rst/*", "closed/syn-to-closed-port"));
        assert!(!glob_match("rst", "rst/x"));
        assert!(!glob_match("a?", "a"));
        assert!(glob_match("a**b", "ab"));
    }

    const TEXT: &str = r#"
# Linux deviations
- case: rst/*
  ip: 4
  rfc: "RFC9293 3.10.7.4"
  reason: "answers with a challenge ACK"
- case: closed/syn-to-closed-port
  ip: both
  rfc: "RFC9293 3.10.7.1"
  reason: "no RST"
- case: handshake/passive-open
  rfc: "RFC9293 3.10.7.2"
  reason: "never matched"
"#;

    fn failure(line: usize, message: &str) -> Failure {
        Failure {
            step: 2,
            line: Some(line),
            message: format!("cases/x/y.yaml:{line}:5: {message}"),
            diff: Vec::new(),
            baseline: None,
            level: crate::case::model::Level::Must,
        }
    }

    fn result(id: &str, ip: IpVersion, f: Option<Failure>) -> CaseResult {
        let outcome = match f {
            Some(f) => crate::run::event::Outcome::Failed(f),
            None => crate::run::event::Outcome::Passed {
                variants: Vec::new(),
            },
        };
        CaseResult {
            id: id.into(),
            title: String::new(),
            ip,
            file: "cases/x/y.yaml".into(),
            target: "t".into(),
            rfc: Vec::new(),
            cells: Vec::new(),
            level: crate::case::model::Level::Must,
            rules_observed: Vec::new(),
            duration: Default::default(),
            verdict: Verdict::of(&outcome, false),
            choices: Vec::new(),
            outcome,
            trace: Vec::new(),
        }
    }

    const PRECISE: &str = r#"
- case: grid/closed[FIN,*]
  ip: both
  step: 31
  failure: "expected RA *, got RA * (differs in ack)"
  rfc: "RFC9293 3.10.7.1"
  reason: "the FIN is not counted in the RST's ACK"
"#;

    #[test]
    fn an_entry_explains_only_the_failure_it_names() {
        let b = Baseline::parse(PRECISE).expect("valid baseline");
        let id = "grid/closed[FIN,zero]";
        let known = failure(
            31,
            "expected RA seq abs(0) ack 2, got RA seq 0:0(0) ack 1 win 0 (differs in ack)",
        );
        assert!(b.explain(id, IpVersion::V6, &known).is_some());
        // Another step of the same case, or another mismatch at that step: a failure.
        let elsewhere = failure(
            29,
            "expected RA seq abs(0) ack 2, got RA seq 0:0(0) ack 1 win 0 (differs in ack)",
        );
        assert_eq!(b.explain(id, IpVersion::V6, &elsewhere), None);
        let other = failure(31, "expected RA seq abs(0) ack 2, got nothing");
        assert_eq!(b.explain(id, IpVersion::V6, &other), None);
        assert_eq!(
            b.explain("grid/closed[RST,zero]", IpVersion::V4, &known),
            None
        );
    }

    #[test]
    fn a_review_finds_stale_too_broad_and_imprecise_entries() {
        let b = Baseline::parse(&format!("{PRECISE}{TEXT}")).expect("valid baseline");
        let mut known = result(
            "grid/closed[FIN,zero]",
            IpVersion::V4,
            Some(failure(31, "expected RA x, got RA y (differs in ack)")),
        );
        if let crate::run::event::Outcome::Failed(f) = &mut known.outcome {
            f.baseline = b.explain(&known.id, known.ip, f);
        }
        known.verdict = Verdict::of(&known.outcome, false);
        b.record(&known);
        b.record(&result("grid/closed[FIN,1000]", IpVersion::V4, None));
        b.record(&result(
            "rst/x",
            IpVersion::V4,
            Some(failure(3, "anything")),
        ));
        let r = b.review();
        let names = |v: &[&Entry]| v.iter().map(|e| e.case.clone()).collect::<Vec<_>>();
        // The FIN entry matched, but also covers an instance that passed.
        assert_eq!(r.too_broad.len(), 1);
        assert_eq!(
            r.too_broad[0].1,
            vec!["grid/closed[FIN,1000] [ipv4]".to_string()]
        );
        // Entries that covered no instance of this run are not stale: they were not run.
        assert!(r.stale.is_empty(), "{:?}", names(&r.stale));
        assert_eq!(
            names(&r.imprecise),
            [
                "rst/*",
                "closed/syn-to-closed-port",
                "handshake/passive-open"
            ]
        );
        // An imprecise entry explains any failure of what it covers.
        assert!(b
            .explain("rst/x", IpVersion::V4, &failure(3, "anything"))
            .is_some());
        b.record(&result(
            "handshake/passive-open",
            IpVersion::V6,
            Some(failure(9, "x")),
        ));
        assert!(
            b.review().stale.is_empty(),
            "imprecise entries match any failure"
        );
        let only = Baseline::parse(PRECISE).expect("valid");
        only.record(&result(
            "grid/closed[FIN,wrap]",
            IpVersion::V4,
            Some(failure(40, "other")),
        ));
        assert_eq!(only.review().stale.len(), 1);
    }

    #[test]
    fn locations_are_left_out_of_messages() {
        assert_eq!(
            without_location("cases/a b/x.yaml:12:5: expected R"),
            "expected R"
        );
        assert_eq!(
            without_location("C:/x.yaml:3:1: got: nothing"),
            "got: nothing"
        );
        assert_eq!(without_location("no location: here"), "no location: here");
    }

    #[test]
    fn rejects_bad_entries() {
        let bad_ip = "- { case: a, ip: 5, rfc: RFC9293 3.1, reason: x }";
        assert!(Baseline::parse(bad_ip)
            .expect_err("ip 5")
            .contains("ip must be"));
        let bad_rfc = "- { case: a, rfc: somewhere, reason: x }";
        assert!(Baseline::parse(bad_rfc)
            .expect_err("rfc")
            .contains("rfc must"));
        let no_reason = "- { case: a, rfc: RFC9293 3.1, reason: '' }";
        assert!(Baseline::parse(no_reason)
            .expect_err("reason")
            .contains("reason"));
        let unknown = "- { case: a, rfc: RFC9293 3.1, reason: x, why: y }";
        assert!(Baseline::parse(unknown).is_err());
        let neither = "- { rfc: RFC9293 3.1, reason: x }";
        assert!(Baseline::parse(neither)
            .expect_err("neither")
            .contains("either case"));
        let both = "- { case: a, choice: rfc5961-ack, rfc: RFC9293 3.1, reason: x }";
        assert!(Baseline::parse(both).is_err());
        let bad_choice = "- { choice: rfc5961-fin, rfc: RFC9293 3.1, reason: x }";
        assert!(Baseline::parse(bad_choice)
            .expect_err("choice")
            .contains("choice must be"));
        let choice_step = "- { choice: rfc5961-ack, step: 3, rfc: RFC9293 3.1, reason: x }";
        assert!(Baseline::parse(choice_step)
            .expect_err("step")
            .contains("about the run"));
        assert_eq!(
            Baseline::parse("# nothing yet\n")
                .expect("empty")
                .entries()
                .len(),
            0
        );
    }

    #[test]
    fn the_shipped_linux_baseline_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/baselines/linux.yaml");
        let b = Baseline::load(&path).expect("cases/baselines/linux.yaml is valid");
        for e in b.entries() {
            assert!(e.rfc.starts_with("RFC"), "{e:?}");
        }
        assert!(!b.entries().is_empty());
    }
}
