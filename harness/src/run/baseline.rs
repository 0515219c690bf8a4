//! Baselines: the known deviations of one target (`cases/baselines/<target>.yaml`).
//!
//! A failing case instance that a baseline entry matches is a known deviation, reported with
//! the entry's reason and RFC section rather than as a regression. An entry that matched
//! nothing during a run is stale: the deviation is gone (or the case was renamed) and the
//! entry should go too.
//!
//! ```yaml
//! - case: rst/syn-received-*        # a case id, or a glob: `*` any run, `?` one character
//!   ip: both                        # 4, 6 or both (the default)
//!   rfc: "RFC9293 3.10.7.4"
//!   reason: "Linux answers ... instead of ..."
//! ```

use crate::ip::IpVersion;
use serde::Deserialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

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
}

/// One known deviation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// A case id or a glob over case ids.
    pub case: String,
    pub ip: IpSelector,
    /// The RFC section the target deviates from, e.g. `RFC9293 3.10.7.4`.
    pub rfc: String,
    pub reason: String,
}

impl Entry {
    /// The text a report shows for a matched failure: reason and RFC section.
    pub fn explanation(&self) -> String {
        format!("{} ({})", self.reason, self.rfc)
    }
}

/// `ip:` as written: `4`, `6`, `both` (or `"4"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawIp {
    Number(u8),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    case: String,
    ip: Option<RawIp>,
    rfc: String,
    reason: String,
}

/// The known deviations of one target, with a record of which entries matched.
#[derive(Debug, Default)]
pub struct Baseline {
    entries: Vec<Entry>,
    used: Vec<AtomicBool>,
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
        for (i, r) in raw.into_iter().enumerate() {
            let at = |msg: &str| format!("entry {} ({}): {msg}", i + 1, r.case);
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
            if r.case.trim().is_empty() {
                return Err(at("case is empty"));
            }
            if !r.rfc.trim_start().starts_with("RFC") {
                return Err(at(&format!(
                    "rfc must name a section, like \"RFC9293 3.10.7.4\", not {:?}",
                    r.rfc
                )));
            }
            if r.reason.trim().is_empty() {
                return Err(at("reason is empty: say what the target does instead"));
            }
            entries.push(Entry {
                case: r.case.trim().to_string(),
                ip,
                rfc: r.rfc,
                reason: r.reason.trim().to_string(),
            });
        }
        let used = entries.iter().map(|_| AtomicBool::new(false)).collect();
        Ok(Baseline { entries, used })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The explanation (reason and RFC section) of the first entry covering case `id` on `ip`,
    /// which is then no longer stale.
    pub fn matches(&self, id: &str, ip: IpVersion) -> Option<String> {
        let (entry, used) = self
            .entries
            .iter()
            .zip(&self.used)
            .find(|(e, _)| e.ip.covers(ip) && glob_match(&e.case, id))?;
        used.store(true, Ordering::Relaxed);
        Some(entry.explanation())
    }

    /// Entries no `matches` call has hit so far. After a full run they are stale; after a
    /// filtered run they may merely not have been selected.
    pub fn stale(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !used.load(Ordering::Relaxed))
            .map(|(e, _)| e)
            .collect()
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

    #[test]
    fn matches_and_stale() {
        let b = Baseline::parse(TEXT).expect("valid baseline");
        assert_eq!(b.entries().len(), 3);
        assert_eq!(b.entries()[2].ip, IpSelector::Both);
        assert_eq!(b.matches("rst/x", IpVersion::V6), None);
        assert_eq!(
            b.matches("rst/x", IpVersion::V4).as_deref(),
            Some("answers with a challenge ACK (RFC9293 3.10.7.4)")
        );
        assert!(b
            .matches("closed/syn-to-closed-port", IpVersion::V6)
            .is_some());
        let stale: Vec<&str> = b.stale().iter().map(|e| e.case.as_str()).collect();
        assert_eq!(stale, vec!["handshake/passive-open"]);
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
        let explained = |id: &str| b.matches(id, IpVersion::V6).unwrap_or_default();
        assert!(explained("grid/listen[SYN-FIN,zero]").contains("RFC9293 3.10.7.2"));
        assert!(explained("grid/synchronized/ack[ESTABLISHED,nxt+wnd]").contains("RCV.NXT+RCV.WND"));
        assert!(explained("grid/syn-received[passive,SYN-ACK,nxt]").contains("request socket"));
        assert_eq!(b.matches("handshake/passive-open", IpVersion::V4), None);
    }
}
