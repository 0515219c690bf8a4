//! From the located YAML tree to the validated model: every field is checked here, and every
//! error names its node, what was found and what was expected.
//!
//! This file holds what every part shares: the names the language knows, the diagnostics
//! collector `Cx` with its readers of plain values, and `Fields`. One file per job:
//! `case.rs` (a case, its setup and steps), `send.rs`, `expect.rs`, `call.rs` and `stats.rs`
//! (`isn_sample`, `syn_flood`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod call;
mod case;
mod expect;
mod send;
mod stats;

pub(crate) use case::{case, setup, steps, CaseDraft};

use super::diag::Diagnostic;
use super::expr::{Expr, Space};
use super::lang;
use super::model::*;
use super::needs::Need;
use super::yaml::{Key, Kind, Node};

/// RFC 9293 Appendix B requirement ids (`shared/rfc/rfc9293_requirements.tsv`): MUST-1..69,
/// SHLD-1..31, MAY-1..18, REC-1.
pub fn is_requirement_id(id: &str) -> bool {
    let Some((level, digits)) = id.split_once('-') else {
        return false;
    };
    let Ok(n) = digits.parse::<u32>() else {
        return false;
    };
    let max = match level {
        "MUST" => 69,
        "SHLD" => 31,
        "MAY" => 18,
        "REC" => 1,
        _ => return false,
    };
    // `MUST-01` is not how the RFC writes it.
    (1..=max).contains(&n) && n.to_string() == digits
}

// The field names come from the language table, which the JSON Schema is generated from too.
pub(crate) const CASE_FIELDS: &[&str] = &lang::names::<{ lang::CASE.len() }>(&[lang::CASE]);
pub(crate) const STEP_KINDS: &[&str] = &lang::names::<{ lang::STEP.len() }>(&[lang::STEP]);
pub(crate) const FILL_WINDOW_FIELDS: &[&str] =
    &lang::names::<{ lang::FILL_WINDOW.len() }>(&[lang::FILL_WINDOW]);
pub(crate) const ISN_SAMPLE_FIELDS: &[&str] =
    &lang::names::<{ lang::ISN_SAMPLE.len() }>(&[lang::ISN_SAMPLE]);
pub(crate) const SYN_FLOOD_FIELDS: &[&str] =
    &lang::names::<{ lang::SYN_FLOOD.len() }>(&[lang::SYN_FLOOD]);
pub(crate) const SEND_FIELDS: &[&str] = &lang::names::<{ lang::SEND.len() }>(&[lang::SEND]);
pub(crate) const EXPECT_FIELDS: &[&str] = &lang::names::<{ lang::EXPECT.len() }>(&[lang::EXPECT]);
pub(crate) const EXPECT_OPTION_FIELDS: &[&str] =
    &lang::names::<{ lang::EXPECT_OPTIONS.len() }>(&[lang::EXPECT_OPTIONS]);
pub(crate) const CALLS: &[&str] = &lang::names::<{ lang::CALL.len() }>(&[lang::CALL]);
pub(crate) const KEEPALIVE_FIELDS: &[&str] =
    &lang::names::<{ lang::KEEPALIVE.len() }>(&[lang::KEEPALIVE]);
pub(crate) const ICMP_FIELDS: &[&str] = &lang::names::<{ lang::ICMP.len() }>(&[lang::ICMP]);
pub(crate) const SETUP_FIELDS: &[&str] = &lang::names::<
    { lang::SETUP.len() + lang::SETUP_EXTRA.len() },
>(&[lang::SETUP, lang::SETUP_EXTRA]);
pub(crate) const DEFAULTS_FIELDS: &[&str] =
    &lang::names::<{ lang::DEFAULTS.len() }>(&[lang::DEFAULTS]);
pub(crate) const FLAG_MASK_FIELDS: &[&str] =
    &lang::names::<{ lang::FLAG_MASK.len() }>(&[lang::FLAG_MASK]);
pub(crate) const TS_FIELDS: &[&str] = &lang::names::<{ lang::TS.len() }>(&[lang::TS]);
pub(crate) const RANGE_FIELDS: &[&str] = &lang::names::<{ lang::RANGE.len() }>(&[lang::RANGE]);
pub(crate) const LIBRARY_FIELDS: &[&str] =
    &lang::names::<{ lang::LIBRARY.len() }>(&[lang::LIBRARY]);
pub(crate) const OPTION_FIELDS: &[&str] =
    &lang::names::<{ lang::OPTION_FIELDS.len() }>(&[lang::OPTION_FIELDS]);
pub(crate) const PRELUDE_FIELDS: &[&str] = &lang::names::<
    { lang::PRELUDE_START.len() + lang::PRELUDE_STEPS.len() },
>(&[lang::PRELUDE_START, lang::PRELUDE_STEPS]);
/// Largest keep-alive idle time and interval, in seconds (Linux's MAX_TCP_KEEPIDLE and
/// MAX_TCP_KEEPINTVL), and largest probe count (MAX_TCP_KEEPCNT).
const KEEPALIVE_MAX_SECS: u64 = 32767;
const KEEPALIVE_MAX_COUNT: i128 = 127;
pub(crate) const OPTION_NAMES: &str = "mss N, wscale N, sackOK, sack L:R ..., ts VAL ECR, tfo, tfo cookie, uto 30s, uto 5min, nop, eol, { kind: K, data: \"hex\" }, { raw: \"hex\" }";

/// Collects diagnostics for one file.
pub(crate) struct Cx<'a> {
    pub file: Arc<PathBuf>,
    pub src: &'a str,
    pub diags: Vec<Diagnostic>,
    /// Suffix added to every message (the grid combination being checked).
    pub context: String,
}

impl<'a> Cx<'a> {
    pub fn new(file: Arc<PathBuf>, src: &'a str) -> Cx<'a> {
        Cx {
            file,
            src,
            diags: Vec::new(),
            context: String::new(),
        }
    }

    pub fn err_at(&mut self, line: usize, col: usize, msg: impl Into<String>) {
        let mut msg = msg.into();
        msg.push_str(&self.context);
        self.diags.push(Diagnostic::at(
            (*self.file).clone(),
            self.src,
            line,
            col,
            msg,
        ));
    }

    pub fn err(&mut self, node: &Node, msg: impl Into<String>) {
        self.err_at(node.line, node.col, msg);
    }

    fn loc(&self, node: &Node) -> Loc {
        Loc {
            file: self.file.clone(),
            line: node.line,
            col: node.col,
        }
    }

    fn loc_key(&self, key: &Key) -> Loc {
        Loc {
            file: self.file.clone(),
            line: key.line,
            col: key.col,
        }
    }

    /// The entries of a mapping, after checking every key is among `allowed`; `None` when one
    /// is not (for small mappings, where the rest would only repeat the mistake).
    pub fn map<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let before = self.diags.len();
        let f = self.map_all(node, what, allowed)?;
        (self.diags.len() == before).then_some(f)
    }

    /// Like [`Cx::map`], but the known fields are returned even when unknown ones were
    /// reported, so that their errors are reported too. The caller fails when `diags` grew.
    pub fn map_all<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.err(
                node,
                format!("{what} must be a mapping, found {}", node.describe()),
            );
            return None;
        };
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                self.err_at(
                    k.line,
                    k.col,
                    format!(
                        "unknown field `{}` in {what}{} (expected one of: {})",
                        k.name,
                        did_you_mean(&k.name, allowed),
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(Fields { node, entries })
    }

    /// A string scalar (numbers are accepted as their text).
    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(_) | Kind::Float(_) => node.scalar_text(),
            _ => {
                self.err(
                    node,
                    format!("{what} must be a string, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// A list of strings; a single string is a list of one. Every bad item is reported.
    fn strings(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        match &node.kind {
            Kind::Seq(items) => all(items.iter().map(|i| self.string(i, what))),
            _ => self.string(node, what).map(|s| vec![s]),
        }
    }

    /// An integer literal within `lo..=hi`.
    fn int(&mut self, node: &Node, what: &str, lo: i128, hi: i128) -> Option<i128> {
        let v = match &node.kind {
            Kind::Int(i) => Some(*i),
            Kind::Str(s) => parse_int(s),
            _ => None,
        };
        match v {
            Some(v) if (lo..=hi).contains(&v) => Some(v),
            Some(v) => {
                self.err(node, format!("{what} must be in {lo}..={hi}, found {v}"));
                None
            }
            None => {
                self.err(
                    node,
                    format!("{what} must be an integer, found {}", node.describe()),
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let text = match &node.kind {
            Kind::Str(s) => s.clone(),
            _ => {
                self.err(
                    node,
                    format!("{what} must be a duration with a unit (e.g. `200ms`, `1.5s`, `2min`, `500us`), found {}", node.describe()),
                );
                return None;
            }
        };
        parse_duration(&text).map_err(|e| self.err(node, e)).ok()
    }

    fn hex(&mut self, node: &Node, what: &str) -> Option<Vec<u8>> {
        let text = self.string(node, what)?;
        parse_hex(&text)
            .map_err(|e| self.err(node, format!("{what}: {e}")))
            .ok()
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.err(
                    node,
                    format!("{what} must be true or false, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// Parses an expression from a scalar, locating errors inside the text.
    fn expr(&mut self, node: &Node, text: &str, what: &str) -> Option<Expr> {
        match Expr::parse(text) {
            Ok(e) => Some(e),
            Err(e) => {
                // Point inside a plain or quoted one-line scalar.
                let quoted = self
                    .src
                    .lines()
                    .nth(node.line.saturating_sub(1))
                    .and_then(|l| l.chars().nth(node.col.saturating_sub(1)))
                    .is_some_and(|c| c == '"' || c == '\'');
                let offset = text.get(..e.offset).map_or(0, |s| s.chars().count());
                let col = node.col + offset + usize::from(quoted);
                self.err_at(
                    node.line,
                    col,
                    format!("bad expression in {what}: {}", e.message),
                );
                None
            }
        }
    }

    /// A number that may be relative to an ISN: `5`, `"rcv.nxt + 1"`, `"abs(5)"`, `{ abs: 5 }`.
    /// `space` is the field's sequence space; `Space::None` for plain numbers.
    fn value(&mut self, node: &Node, what: &str, space: Space) -> Option<Value> {
        let (text, abs) = match &node.kind {
            Kind::Int(i) => {
                let Ok(i) = i64::try_from(*i) else {
                    self.err(node, format!("{what}: number out of range"));
                    return None;
                };
                return Some(Value::Rel(Expr::Num(i)));
            }
            Kind::Str(s) => {
                let t = s.trim();
                match t.strip_prefix("abs(").and_then(|r| r.strip_suffix(')')) {
                    Some(inner) => (inner.to_string(), true),
                    None => (s.clone(), false),
                }
            }
            Kind::Map(_) => {
                let f = self.map(node, what, &["abs"])?;
                let inner = f.req(self, "abs")?;
                let text = self.string(inner, what)?;
                let e = self.expr(inner, &text, what)?;
                return self.absolute(node, e, what, space);
            }
            _ => {
                self.err(
                    node,
                    format!(
                        "{what} must be a number or an expression, found {}",
                        node.describe()
                    ),
                );
                return None;
            }
        };
        let e = self.expr(node, &text, what)?;
        if abs {
            return self.absolute(node, e, what, space);
        }
        // A relative value must use variables of its own sequence space.
        if space != Space::None {
            if let Some(v) = e
                .vars()
                .into_iter()
                .find(|v| v.space() != Space::None && v.space() != space)
            {
                self.err(
                    node,
                    format!(
                        "{what} is in the {} sequence space but `{v}` is in the {}'s (use abs(...) to mix spaces)",
                        space_name(space),
                        space_name(v.space())
                    ),
                );
                return None;
            }
        }
        Some(Value::Rel(e))
    }

    fn absolute(&mut self, node: &Node, e: Expr, what: &str, space: Space) -> Option<Value> {
        if space == Space::None {
            self.err(node, format!("{what} is not a sequence number: abs(...) only applies to seq, ack and SACK edges"));
            return None;
        }
        Some(Value::Abs(e))
    }

    /// A plain expression (no ISN): window, urgent pointer, timestamps.
    fn plain_expr(&mut self, node: &Node, what: &str) -> Option<Expr> {
        self.value(node, what, Space::None)
            .map(|v| v.expr().clone())
    }

    /// A matcher: exact value, `"*"`, `">= x"`, `"a..=b"`, `{ min, max }`.
    fn num_match(&mut self, node: &Node, what: &str, space: Space) -> Option<NumMatch> {
        if let Kind::Map(entries) = &node.kind {
            if entries.iter().any(|(k, _)| k.name == "abs") {
                return self.value(node, what, space).map(NumMatch::Eq);
            }
            let f = self.map(node, what, RANGE_FIELDS)?;
            let min = match f.get("min") {
                Some(n) => Some(self.value(n, what, space)?),
                None => None,
            };
            let max = match f.get("max") {
                Some(n) => Some(self.value(n, what, space)?),
                None => None,
            };
            if min.is_none() && max.is_none() {
                self.err(node, format!("{what}: a range needs `min`, `max` or both"));
                return None;
            }
            return Some(NumMatch::Range { min, max });
        }
        let Kind::Str(s) = &node.kind else {
            return self.value(node, what, space).map(NumMatch::Eq);
        };
        let t = s.trim();
        if t == "*" {
            return Some(NumMatch::Any);
        }
        let sub = |rest: &str| Node {
            kind: Kind::Str(rest.to_string()),
            line: node.line,
            col: node.col,
        };
        for (op, lo, adj) in [
            (">=", true, 0),
            ("<=", false, 0),
            (">", true, 1),
            ("<", false, -1),
            ("==", true, 0),
        ] {
            if let Some(rest) = t.strip_prefix(op) {
                let v = self.value(&sub(rest), what, space)?;
                let v = adjust(v, adj);
                return Some(match (op, lo) {
                    ("==", _) => NumMatch::Eq(v),
                    (_, true) => NumMatch::Range {
                        min: Some(v),
                        max: None,
                    },
                    (_, false) => NumMatch::Range {
                        min: None,
                        max: Some(v),
                    },
                });
            }
        }
        if let Some((a, b, inclusive)) = t
            .split_once("..=")
            .map(|(a, b)| (a, b, true))
            .or_else(|| t.split_once("..").map(|(a, b)| (a, b, false)))
        {
            let min = self.value(&sub(a), what, space)?;
            let max = self.value(&sub(b), what, space)?;
            return Some(NumMatch::Range {
                min: Some(min),
                max: Some(if inclusive { max } else { adjust(max, -1) }),
            });
        }
        self.value(node, what, space).map(NumMatch::Eq)
    }

    fn flags(&mut self, node: &Node, what: &str) -> Option<Flags> {
        let text = match &node.kind {
            Kind::Str(s) => s.clone(),
            _ => {
                self.err(node, format!("{what} must be flag letters (S F R P A U E C N, or `.` for none), found {}", node.describe()));
                return None;
            }
        };
        text.parse::<Flags>().map_err(|e| self.err(node, e.0)).ok()
    }
}

/// `, did you mean `title`?` when a known name is a typo away from `name` (one edit for short
/// names, two for longer ones; a swap of neighbours counts as one).
fn did_you_mean(name: &str, known: &[&str]) -> String {
    let limit = if name.chars().count() <= 4 { 1 } else { 2 };
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| format!(", did you mean `{k}`?"))
        .unwrap_or_default()
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent swaps); names are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    if let Some(first) = d.first_mut() {
        for (j, cell) in first.iter_mut().enumerate() {
            *cell = j;
        }
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Every item, or `None` if any is `None`: unlike `collect`, every item is evaluated, so each
/// bad one reports its error.
pub(crate) fn all<T>(items: impl Iterator<Item = Option<T>>) -> Option<Vec<T>> {
    let items: Vec<Option<T>> = items.collect();
    items.into_iter().collect()
}

fn space_name(s: Space) -> &'static str {
    match s {
        Space::Tester => "tester",
        Space::Target => "target",
        Space::None => "no",
    }
}

fn adjust(v: Value, by: i64) -> Value {
    if by == 0 {
        return v;
    }
    match v {
        Value::Rel(e) => Value::Rel(e.plus(by)),
        Value::Abs(e) => Value::Abs(e.plus(by)),
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => i128::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

/// A checked mapping: look fields up by name.
pub(crate) struct Fields<'n> {
    pub node: &'n Node,
    pub entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    fn req(&self, cx: &mut Cx<'_>, name: &str) -> Option<&'n Node> {
        let v = self.get(name);
        if v.is_none() {
            cx.err(self.node, format!("missing field `{name}`"));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("titel", "title"), 1);
        assert_eq!(edit_distance("sned", "send"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(
            did_you_mean("titel", CASE_FIELDS),
            ", did you mean `title`?"
        );
        assert_eq!(did_you_mean("has", EXPECT_OPTION_FIELDS), "");
        assert!(is_requirement_id("MUST-69") && is_requirement_id("REC-1"));
        assert!(
            !is_requirement_id("MUST-70")
                && !is_requirement_id("MUST-01")
                && !is_requirement_id("MAY-0")
        );
    }
}
