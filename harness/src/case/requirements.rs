//! The numbered requirements of the RFCs beyond RFC 9293 (`requirements.tsv`, beside this file:
//! how the ids are formed is in its header). Cases name them in `rfc:` like RFC 9293's
//! Appendix B ids; the validator rejects unknown ones and coverage counts them per RFC.

use std::sync::OnceLock;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `RFC2018-MUST-10`.
    pub id: &'static str,
    /// `RFC2018`.
    pub rfc: &'static str,
    pub section: &'static str,
    /// The keyword as the RFC writes it (`MUST NOT`, `RECOMMENDED`, ...).
    pub keyword: &'static str,
    /// Why no packet exchange can show it; `None` when a peer can.
    pub not_observable: Option<&'static str>,
    pub quote: &'static str,
}

const TABLE: &str = include_str!("requirements.tsv");

/// Every row, in table order (by RFC, then document order).
pub fn table() -> &'static [Requirement] {
    static ROWS: OnceLock<Vec<Requirement>> = OnceLock::new();
    ROWS.get_or_init(|| parse(TABLE).unwrap_or_else(|e| panic!("requirements.tsv: {e}")))
}

fn parse(text: &'static str) -> Result<Vec<Requirement>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&'static str> = line.split('\t').collect();
        let [id, section, keyword, wire, quote] = f[..] else {
            return Err(format!(
                "line {}: expected 5 columns, found {}",
                n + 1,
                f.len()
            ));
        };
        let not_observable =
            match wire {
                "yes" => None,
                _ => Some(wire.strip_prefix("no: ").ok_or_else(|| {
                    format!("line {}: observable is `yes` or `no: reason`", n + 1)
                })?),
            };
        let rfc = id.split('-').next().unwrap_or_default();
        rows.push(Requirement {
            id,
            rfc,
            section,
            keyword,
            not_observable,
            quote,
        });
    }
    Ok(rows)
}

/// The row of `id`.
pub fn find(id: &str) -> Option<&'static Requirement> {
    table().iter().find(|r| r.id == id)
}

/// The RFCs of the table (`RFC2018`, ...), in table order.
pub fn rfcs() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in table() {
        if !out.contains(&r.rfc) {
            out.push(r.rfc);
        }
    }
    out
}

/// Whether a word of a case's `rfc:` is meant as such an id: `RFC<digits>-...`.
pub fn looks_like_id(word: &str) -> bool {
    word.strip_prefix("RFC")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(num, _)| !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()))
}

/// What to say of an unknown id: the ranges its RFC has and the closest id, or the RFCs the
/// table holds when its RFC is not among them.
pub fn unknown_id_help(id: &str) -> String {
    let rfc = id.split('-').next().unwrap_or_default();
    let rows: Vec<&Requirement> = table().iter().filter(|r| r.rfc == rfc).collect();
    if rows.is_empty() {
        return format!(
            "{rfc} has no numbered requirements here (the table holds {})",
            rfcs().join(", ")
        );
    }
    let mut ranges = Vec::new();
    for group in ["MUST", "SHLD", "MAY"] {
        let n = rows
            .iter()
            .filter(|r| r.id.split('-').nth(1) == Some(group))
            .count();
        if n > 0 {
            ranges.push(format!("{rfc}-{group}-1..{n}"));
        }
    }
    let nearest = rows
        .iter()
        .map(|r| (distance(id, r.id), r.id))
        .min()
        .map(|(_, n)| n)
        .unwrap_or_default();
    format!("expected {}; nearest: `{nearest}`", ranges.join(", "))
}

/// Levenshtein distance over bytes (ids are ASCII and short).
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_ids_are_unique() {
        let t = table();
        assert!(t.len() > 100, "{} rows", t.len());
        let mut ids: Vec<&str> = t.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), t.len(), "duplicate ids");
    }

    /// Within each RFC and group the numbers run 1, 2, 3, ... in table order, so an id names
    /// the n-th keyword of its group in the document.
    #[test]
    fn ids_are_numbered_in_document_order() {
        for rfc in rfcs() {
            for group in ["MUST", "SHLD", "MAY"] {
                let ids: Vec<&str> = table()
                    .iter()
                    .filter(|r| r.rfc == rfc && r.id.split('-').nth(1) == Some(group))
                    .map(|r| r.id)
                    .collect();
                for (i, id) in ids.iter().enumerate() {
                    assert_eq!(*id, format!("{rfc}-{group}-{}", i + 1));
                }
            }
        }
    }

    /// The keyword is the group's, and the quote carries it.
    #[test]
    fn quotes_carry_their_keyword() {
        for r in table() {
            let group = r.id.split('-').nth(1).unwrap_or_default();
            let expected = match r.keyword {
                "MUST" | "MUST NOT" | "SHALL" | "SHALL NOT" | "REQUIRED" => "MUST",
                "SHOULD" | "SHOULD NOT" | "RECOMMENDED" | "NOT RECOMMENDED" => "SHLD",
                "MAY" | "OPTIONAL" => "MAY",
                other => panic!("{}: keyword `{other}`", r.id),
            };
            assert_eq!(group, expected, "{}", r.id);
            assert!(
                r.quote.contains(r.keyword),
                "{}: quote lacks {}",
                r.id,
                r.keyword
            );
            assert!(!r.section.is_empty(), "{}: no section", r.id);
            if let Some(why) = r.not_observable {
                assert!(!why.trim().is_empty(), "{}: no reason", r.id);
            }
        }
    }

    #[test]
    fn unknown_ids_name_the_nearest() {
        assert!(find("RFC2018-MUST-10").is_some());
        assert!(find("RFC2018-MUST-11").is_none());
        let help = unknown_id_help("RFC2018-MUST-11");
        assert!(help.contains("RFC2018-MUST-1..10"), "{help}");
        assert!(help.contains("nearest: `RFC2018-MUST-1"), "{help}");
        assert!(unknown_id_help("RFC2883-MUST-1").contains("RFC2018"));
        assert!(looks_like_id("RFC2018-MUST-1") && looks_like_id("RFC2883-X"));
        assert!(!looks_like_id("RFC9293") && !looks_like_id("RFCx-1") && !looks_like_id("MUST-1"));
    }
}
