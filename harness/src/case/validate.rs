//! From the located YAML tree to the validated model: every field is checked here, and every
//! error names its node, what was found and what was expected.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::diag::Diagnostic;
use super::expr::{Expr, Space};
use super::model::*;
use super::needs::Need;
use super::yaml::{Key, Kind, Node};

/// The 55 SEGMENT ARRIVES rule ids of `shared/rfc/segment_arrives_cells.tsv` (RFC 9293 3.10.7).
pub const CELLS: [&str; 55] = [
    "CL-1", "CL-2", "CL-3", "LI-1", "LI-2", "LI-3", "LI-4", "LI-5", "SS-1", "SS-2", "SS-3", "SS-4",
    "SS-5", "SS-6", "SS-7", "SS-8", "SQ-1", "SQ-2", "SQ-3", "SQ-4", "SQ-5", "RS-1", "RS-2", "RS-3",
    "RS-4", "RS-5", "SC-1", "SC-2", "SY-1", "SY-2", "SY-3", "AK-0", "AK-1", "AK-2", "AK-3", "AK-4",
    "AK-5", "AK-6", "AK-7", "AK-8", "AK-9", "AK-10", "AK-11", "AK-12", "UR-1", "UR-2", "TX-1",
    "TX-2", "FN-0", "FN-1", "FN-2", "FN-3", "FN-4", "FN-5", "FN-6",
];

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

pub(crate) const CASE_FIELDS: &[&str] = &[
    "id",
    "title",
    "description",
    "rfc",
    "cells",
    "ip",
    "tags",
    "needs",
    "level",
    "sysctls",
    "setup",
    "prelude",
    "defaults",
    "grid",
    "steps",
];
pub(crate) const STEP_KINDS: &[&str] = &[
    "send",
    "expect",
    "expect_none",
    "state",
    "call",
    "wait",
    "one_of",
    "isn_sample",
    "syn_flood",
    "assume",
];
pub(crate) const ISN_SAMPLE_FIELDS: &[&str] = &["count", "same_tuple", "gap"];
pub(crate) const SYN_FLOOD_FIELDS: &[&str] = &[
    "count",
    "sources",
    "drain",
    "answered_first",
    "others",
    "connect_within",
];
pub(crate) const SEND_FIELDS: &[&str] = &[
    "flags",
    "seq",
    "ack",
    "win",
    "urg",
    "reserved",
    "options",
    "data",
    "hex",
    "doff",
    "checksum",
    "ttl",
    "tos",
    "df",
    "ip_id",
    "flow_label",
    "ipv4_options",
    "src",
    "dst",
    "raw",
    "icmp",
];
pub(crate) const EXPECT_FIELDS: &[&str] = &[
    "flags", "seq", "ack", "win", "urg", "reserved", "len", "data", "hex", "options", "ttl", "tos",
    "ecn", "within", "after",
];
pub(crate) const EXPECT_OPTION_FIELDS: &[&str] = &[
    "contains", "absent", "exact", "mss", "wscale", "ts", "sack", "padding",
];
pub(crate) const CALLS: &[&str] = &[
    "listen",
    "accept",
    "connect",
    "write",
    "write_hex",
    "read",
    "shutdown",
    "close",
    "abort",
    "nodelay",
    "keepalive",
];
pub(crate) const KEEPALIVE_FIELDS: &[&str] = &["idle", "interval", "count"];
/// Largest keep-alive idle time and interval, in seconds (Linux's MAX_TCP_KEEPIDLE and
/// MAX_TCP_KEEPINTVL), and largest probe count (MAX_TCP_KEEPCNT).
const KEEPALIVE_MAX_SECS: u64 = 32767;
const KEEPALIVE_MAX_COUNT: i128 = 127;
pub(crate) const OPTION_NAMES: &str = "mss N, wscale N, sackOK, sack L:R ..., ts VAL ECR, nop, eol, { kind: K, data: \"hex\" }, { raw: \"hex\" }";

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

    /// The entries of a mapping, after checking every key is among `allowed`.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.err(
                node,
                format!("{what} must be a mapping, found {}", node.describe()),
            );
            return None;
        };
        let mut ok = true;
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
                ok = false;
            }
        }
        ok.then_some(Fields { node, entries })
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

    /// A list of strings; a single string is a list of one.
    fn strings(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        match &node.kind {
            Kind::Seq(items) => items.iter().map(|i| self.string(i, what)).collect(),
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
            let f = self.map(node, what, &["min", "max"])?;
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

/// The top-level fields of a case, before preludes are inlined.
pub(crate) struct CaseDraft {
    pub case: Case,
    /// The `prelude:` node, to locate errors about it.
    pub prelude_node: Option<Node>,
    /// Whether the file gave `setup:` (a prelude may supply it otherwise).
    pub has_setup: bool,
}

/// Default port of `setup` when a case relies on its prelude's setup.
pub const DEFAULT_PORT: u16 = 8080;

/// Validates one expanded case document (no `grid` key left).
pub(crate) fn case(
    cx: &mut Cx<'_>,
    root: &Node,
    grid: Vec<(String, String)>,
    id_suffix: &str,
) -> Option<CaseDraft> {
    if root.kind == Kind::Null {
        cx.err_at(
            1,
            1,
            "empty case file (expected a mapping with at least `id`, `title` and `steps`)",
        );
        return None;
    }
    let f = cx.map(root, "a case", CASE_FIELDS)?;
    let before = cx.diags.len();

    let id_node = f.req(cx, "id");
    let id = id_node.and_then(|n| cx.string(n, "id"));
    if let (Some(n), Some(id)) = (id_node, &id) {
        let valid = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_.-+".contains(c))
            && !id.starts_with('/')
            && !id.ends_with('/');
        if !valid {
            cx.err(n, format!("bad id `{id}` (expected a path-like name of letters, digits and / _ . - +, e.g. `rst/syn-received-returns-to-listen`)"));
        }
    }
    let title = f.req(cx, "title").and_then(|n| cx.string(n, "title"));

    let mut rfc = Vec::new();
    let mut requirements = Vec::new();
    if let Some(n) = f.get("rfc") {
        let items: Vec<&Node> = match &n.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        for item in items {
            let Some(text) = cx.string(item, "rfc") else {
                continue;
            };
            for word in text.split(|c: char| c.is_whitespace() || c == ',') {
                let looks_like_id = ["MUST-", "SHLD-", "MAY-", "REC-"]
                    .iter()
                    .any(|p| word.starts_with(p));
                if looks_like_id {
                    if is_requirement_id(word) {
                        requirements.push(word.to_string());
                    } else {
                        cx.err(item, format!("unknown RFC 9293 requirement id `{word}` (expected MUST-1..69, SHLD-1..31, MAY-1..18 or REC-1)"));
                    }
                }
            }
            rfc.push(text);
        }
    }

    let mut cells = Vec::new();
    if let Some(n) = f.get("cells") {
        let items: Vec<&Node> = match &n.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        for item in items {
            let Some(c) = cx.string(item, "cells") else {
                continue;
            };
            if CELLS.contains(&c.as_str()) {
                cells.push(c);
            } else {
                cx.err(item, format!("unknown SEGMENT ARRIVES rule id `{c}` (expected CL-1..3, LI-1..5, SS-1..8, SQ-1..5, RS-1..5, SC-1..2, SY-1..3, AK-0..12, UR-1..2, TX-1..2, FN-0..6)"));
            }
        }
    }

    let mut ip = Vec::new();
    match f.get("ip") {
        None => ip = vec![IpVersion::V4, IpVersion::V6],
        Some(n) => {
            let items: Vec<&Node> = match &n.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![n],
            };
            if items.is_empty() {
                cx.err(n, "ip must list at least one version (4, 6)");
            }
            for item in items {
                let v = match item.kind {
                    Kind::Int(4) => IpVersion::V4,
                    Kind::Int(6) => IpVersion::V6,
                    _ => {
                        cx.err(
                            item,
                            format!("ip versions are 4 and 6, found {}", item.describe()),
                        );
                        continue;
                    }
                };
                if !ip.contains(&v) {
                    ip.push(v);
                }
            }
        }
    }

    let tags = f
        .get("tags")
        .and_then(|n| cx.strings(n, "tags"))
        .unwrap_or_default();
    if let Some(n) = f.get("description") {
        cx.string(n, "description");
    }
    let level = match f.get("level") {
        Some(n) => level(cx, n),
        None => requirements
            .iter()
            .filter_map(|r| Level::of_requirement(r))
            .min()
            .or(Some(Level::Must)),
    };
    let mut needs = Vec::new();
    if let Some(n) = f.get("needs") {
        let items: Vec<&Node> = match &n.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        for item in items {
            let Some(word) = cx.string(item, "needs") else {
                continue;
            };
            match Need::parse(&word) {
                Some(need) if !needs.contains(&need) => needs.push(need),
                Some(_) => {}
                None => cx.err(
                    item,
                    format!(
                        "unknown need `{word}` (expected one of {})",
                        Need::all()
                            .iter()
                            .map(|n| n.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            }
        }
    }

    let mut sysctls = BTreeMap::new();
    if let Some(n) = f.get("sysctls") {
        if let Kind::Map(entries) = &n.kind {
            for (k, v) in entries {
                if k.name.is_empty()
                    || !k
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
                {
                    cx.err_at(
                        k.line,
                        k.col,
                        format!("bad sysctl name `{}` (e.g. net.ipv4.tcp_rfc1337)", k.name),
                    );
                    continue;
                }
                match v.scalar_text() {
                    Some(t) => {
                        sysctls.insert(k.name.clone(), t);
                    }
                    None => cx.err(
                        v,
                        format!(
                            "sysctl value must be a number or a string, found {}",
                            v.describe()
                        ),
                    ),
                }
            }
        } else {
            cx.err(
                n,
                format!(
                    "sysctls must be a mapping of name: value, found {}",
                    n.describe()
                ),
            );
        }
    }

    let setup = match f.get("setup") {
        Some(n) => setup(cx, n),
        None => None,
    };
    let prelude_node = f.get("prelude").cloned();
    let prelude = prelude_node.as_ref().and_then(|n| cx.string(n, "prelude"));
    if f.get("setup").is_none() && prelude_node.is_none() {
        cx.err(root, "missing field `setup` (e.g. `setup: { listen: 8080 }`), or a `prelude:` that provides it");
    }

    let mut defaults = Defaults::default();
    if let Some(n) = f.get("defaults") {
        if let Some(d) = cx.map(n, "defaults", &["win", "within"]) {
            if let Some(w) = d
                .get("win")
                .and_then(|w| cx.int(w, "defaults.win", 0, 65535))
            {
                defaults.win = w as u16;
            }
            if let Some(w) = d
                .get("within")
                .and_then(|w| cx.duration(w, "defaults.within"))
            {
                defaults.within = w;
            }
        }
    }

    let steps = match f.req(cx, "steps") {
        Some(n) => steps(cx, n, "steps"),
        None => None,
    };
    if let (Some(n), Some(s)) = (f.get("steps"), &steps) {
        if s.is_empty() && prelude.is_none() {
            cx.err(n, "a case needs at least one step");
        }
    }

    if cx.diags.len() > before {
        return None;
    }
    let (level, mut steps) = (level?, steps?);
    fill_levels(&mut steps, level);
    let case = Case {
        id: format!("{}{id_suffix}", id?),
        title: title?,
        loc: cx.loc(id_node?),
        rfc,
        requirements,
        cells,
        level,
        ip,
        tags,
        needs,
        sysctls,
        setup: setup.unwrap_or(Setup::Listen { port: DEFAULT_PORT }),
        prelude,
        prelude_steps: 0,
        defaults,
        grid,
        steps,
    };
    Some(CaseDraft {
        case,
        prelude_node,
        has_setup: f.get("setup").is_some(),
    })
}

pub(crate) fn setup(cx: &mut Cx<'_>, node: &Node) -> Option<Setup> {
    let f = cx.map(node, "setup", &["listen", "connect", "closed"])?;
    if f.entries.len() != 1 {
        cx.err(
            node,
            "setup takes exactly one of `listen: PORT`, `connect: PORT`, `closed: PORT`",
        );
        return None;
    }
    let (k, v) = f.entries.first()?;
    let port = cx.int(v, &format!("setup.{} port", k.name), 1, 65535)? as u16;
    Some(match k.name.as_str() {
        "listen" => Setup::Listen { port },
        "connect" => Setup::Connect { port },
        _ => Setup::Closed { port },
    })
}

/// A list of steps.
pub(crate) fn steps(cx: &mut Cx<'_>, node: &Node, what: &str) -> Option<Vec<Step>> {
    let Kind::Seq(items) = &node.kind else {
        cx.err(
            node,
            format!(
                "{what} must be a list of steps (`- send: ...`), found {}",
                node.describe()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match step(cx, item) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn step(cx: &mut Cx<'_>, node: &Node) -> Option<Step> {
    let Kind::Map(entries) = &node.kind else {
        cx.err(
            node,
            format!(
                "a step must be a mapping with one of: {} (found {})",
                STEP_KINDS.join(", "),
                node.describe()
            ),
        );
        return None;
    };
    let mut kinds = entries
        .iter()
        .filter(|(k, _)| STEP_KINDS.contains(&k.name.as_str()));
    let Some((key, value)) = kinds.next() else {
        let Some((k, _)) = entries.first() else {
            cx.err(
                node,
                format!("empty step (expected one of: {})", STEP_KINDS.join(", ")),
            );
            return None;
        };
        let msg = if k.name == "when" || k.name == "unless" {
            format!("`{}` is only allowed in a case with a `grid`", k.name)
        } else {
            format!(
                "unknown step `{}`{} (expected one of: {})",
                k.name,
                did_you_mean(&k.name, STEP_KINDS),
                STEP_KINDS.join(", ")
            )
        };
        cx.err_at(k.line, k.col, msg);
        return None;
    };
    if let Some((k2, _)) = kinds.next() {
        cx.err_at(
            k2.line,
            k2.col,
            format!(
                "one step per list item: `{}` follows `{}` (start a new `- {}:` item)",
                k2.name, key.name, k2.name
            ),
        );
        return None;
    }
    let level = match entries.iter().find(|(k, _)| k.name == "level") {
        Some((_, n)) => Some(level(cx, n)?),
        None => None,
    };
    if let Some((k, _)) = entries
        .iter()
        .find(|(k, _)| !STEP_KINDS.contains(&k.name.as_str()) && k.name != "level")
    {
        let msg = if k.name == "when" || k.name == "unless" {
            format!("`{}` is only allowed in a case with a `grid`", k.name)
        } else {
            format!(
                "unknown field `{}` next to `{}` (a step has exactly one of: {}, and may have a \
                 `level`)",
                k.name,
                key.name,
                STEP_KINDS.join(", ")
            )
        };
        cx.err_at(k.line, k.col, msg);
        return None;
    }
    let loc = cx.loc_key(key);
    let kind = match key.name.as_str() {
        "send" => StepKind::Send(Box::new(send(cx, value)?)),
        "expect" => StepKind::Expect(Box::new(expect(cx, value)?)),
        "expect_none" => StepKind::ExpectNone(cx.duration(value, "expect_none")?),
        "wait" => StepKind::Wait(cx.duration(value, "wait")?),
        "assume" => StepKind::Assume(assumption(cx, value)?),
        "state" => {
            let s = cx.string(value, "state")?;
            StepKind::State(s.parse::<TcpState>().map_err(|e| cx.err(value, e)).ok()?)
        }
        "call" => StepKind::Call(call(cx, value)?),
        "isn_sample" => StepKind::IsnSample(isn_sample(cx, value)?),
        "syn_flood" => StepKind::SynFlood(syn_flood(cx, value)?),
        _ => StepKind::OneOf(one_of(cx, value)?),
    };
    Some(Step { kind, loc, level })
}

/// `assume: "<expr> <op> <expr>"`, `op` one of `<`, `<=`, `>`, `>=`, `==`, `!=`.
fn assumption(cx: &mut Cx<'_>, node: &Node) -> Option<Assumption> {
    let text = cx.string(node, "assume")?;
    let Some((at, op, spelling)) = Comparison::ALL
        .iter()
        .filter_map(|(op, sp)| text.find(sp).map(|at| (at, *op, *sp)))
        .min_by_key(|(at, _, sp)| (*at, std::cmp::Reverse(sp.len())))
    else {
        cx.err(
            node,
            format!(
                "assume needs a comparison, e.g. \"rcv.wnd > 0\" (one of {}), found `{text}`",
                Comparison::ALL.map(|(_, s)| s).join(" ")
            ),
        );
        return None;
    };
    let (l, r) = (&text[..at], &text[at + spelling.len()..]);
    let left = cx.expr(node, l, "assume")?;
    let right = cx.expr(node, r, "assume")?;
    Some(Assumption {
        left,
        op,
        right,
        text: text.trim().to_string(),
    })
}

/// `level: must | should | practice | may`.
fn level(cx: &mut Cx<'_>, node: &Node) -> Option<Level> {
    let word = cx.string(node, "level")?;
    match Level::parse(&word) {
        Some(l) => Some(l),
        None => {
            cx.err(
                node,
                format!(
                    "unknown level `{word}` (expected one of: {})",
                    Level::ALL.map(Level::name).join(", ")
                ),
            );
            None
        }
    }
}

/// `isn_sample: { count, same_tuple, gap }`.
fn isn_sample(cx: &mut Cx<'_>, node: &Node) -> Option<IsnSample> {
    let f = cx.map(node, "isn_sample", ISN_SAMPLE_FIELDS)?;
    let same_tuple = match f.get("same_tuple") {
        Some(n) => cx.boolean(n, "isn_sample same_tuple")?,
        None => false,
    };
    // The statistics need enough samples to mean something (see run/stats.rs): 32 increments
    // already put a random generator's estimates far from every threshold; 3 samples give the
    // two increments a clock check needs. The upper bounds keep one case under a minute.
    let (lo, hi) = if same_tuple {
        (3, 10_000)
    } else {
        (32, 16_000)
    };
    let count_node = f.req(cx, "count")?;
    let count = cx.int(count_node, "isn_sample count", lo, hi)? as u32;
    let gap = match f.get("gap") {
        Some(n) => {
            let g = cx.duration(n, "isn_sample gap")?;
            if same_tuple && g.is_zero() {
                cx.err(n, "isn_sample gap must be more than 0 with `same_tuple: true` (the clock must tick between two samples)");
                return None;
            }
            if g > Duration::from_secs(10) {
                cx.err(n, "isn_sample gap must be at most 10s");
                return None;
            }
            g
        }
        None if same_tuple => Duration::from_millis(10),
        None => Duration::ZERO,
    };
    Some(IsnSample {
        count,
        same_tuple,
        gap,
    })
}

/// `syn_flood: { count, sources, drain, answered_first, others, connect_within }`.
fn syn_flood(cx: &mut Cx<'_>, node: &Node) -> Option<SynFlood> {
    let f = cx.map(node, "syn_flood", SYN_FLOOD_FIELDS)?;
    let count_node = f.req(cx, "count")?;
    let sources_node = f.req(cx, "sources")?;
    let sources = match cx.string(sources_node, "syn_flood sources")?.as_str() {
        "spoofed" => FloodSources::Spoofed,
        "tester" => FloodSources::Tester,
        other => {
            cx.err(
                sources_node,
                format!("unknown syn_flood sources `{other}` (expected spoofed or tester)"),
            );
            return None;
        }
    };
    // `tester` sources use one port each of the 16384 dynamic ports (RFC 6335 6).
    let max = match sources {
        FloodSources::Spoofed => 100_000,
        FloodSources::Tester => 16_000,
    };
    let count = cx.int(count_node, "syn_flood count", 1, max)? as u32;
    let drain = match f.get("drain") {
        Some(n) => cx.duration(n, "syn_flood drain")?,
        None => Duration::from_millis(500),
    };
    let answered_first = match f.get("answered_first") {
        Some(n) => {
            let v = cx.int(n, "syn_flood answered_first", 0, i128::from(count))? as u32;
            if v > 0 && sources == FloodSources::Spoofed {
                cx.err(n, "syn_flood answered_first needs `sources: tester` (answers to spoofed sources cannot be told apart in order)");
                return None;
            }
            v
        }
        None => 0,
    };
    let others = match f.get("others") {
        Some(n) => {
            // A single name is a list of one; each error points at its item.
            let items: Vec<&Node> = match &n.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![n],
            };
            let mut out = Vec::new();
            for item in items {
                let name = cx.string(item, "syn_flood others")?;
                let Some(r) = SynReply::ALL.iter().copied().find(|r| r.name() == name) else {
                    cx.err(
                        item,
                        format!(
                            "unknown syn_flood answer `{name}` (expected syn_ack, rst or silence)"
                        ),
                    );
                    return None;
                };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            if out.is_empty() {
                cx.err(n, "syn_flood others must allow at least one answer");
                return None;
            }
            out.sort();
            out
        }
        None => vec![SynReply::SynAck, SynReply::Silence],
    };
    let connect_within = match f.get("connect_within") {
        Some(n) => {
            let d = cx.duration(n, "syn_flood connect_within")?;
            if d < Duration::from_secs(1) {
                cx.err(n, "syn_flood connect_within must be at least 1s (one SYN retransmission timeout, RFC 6298 2.1)");
                return None;
            }
            Some(d)
        }
        None => None,
    };
    Some(SynFlood {
        count,
        sources,
        drain,
        answered_first,
        others,
        connect_within,
    })
}

fn one_of(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<Branch>> {
    let Kind::Map(entries) = &node.kind else {
        cx.err(
            node,
            format!(
                "one_of must map variant names to step lists (e.g. `rfc5961: [...]`), found {}",
                node.describe()
            ),
        );
        return None;
    };
    if entries.len() < 2 {
        cx.err(
            node,
            format!("one_of needs at least 2 variants, found {}", entries.len()),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (k, v) in entries {
        let Some(steps) = steps(cx, v, &format!("one_of variant `{}`", k.name)) else {
            ok = false;
            continue;
        };
        match steps.first().map(|s| &s.kind) {
            Some(StepKind::Expect(_) | StepKind::ExpectNone(_)) => {}
            _ => {
                cx.err_at(k.line, k.col, format!("one_of variant `{}` must start with `expect` or `expect_none` (the runner chooses a variant on what arrives)", k.name));
                ok = false;
                continue;
            }
        }
        out.push(Branch {
            name: k.name.clone(),
            loc: cx.loc_key(k),
            steps,
        });
    }
    ok.then_some(out)
}

fn send(cx: &mut Cx<'_>, node: &Node) -> Option<Send> {
    let f = cx.map(node, "send", SEND_FIELDS)?;
    let before = cx.diags.len();
    let flags = match f.get("flags") {
        Some(n) => cx.flags(n, "send.flags"),
        None if f.get("raw").is_some() || f.get("icmp").is_some() => Some(Flags(0)),
        None => {
            cx.err(
                node,
                "send needs `flags` (letters S F R P A U E C N, or `.` for none)",
            );
            None
        }
    };
    let seq = f
        .get("seq")
        .and_then(|n| cx.value(n, "send.seq", Space::Tester));
    let ack = f
        .get("ack")
        .and_then(|n| cx.value(n, "send.ack", Space::Target));
    let win = f.get("win").and_then(|n| cx.plain_expr(n, "send.win"));
    let urg = f.get("urg").and_then(|n| cx.plain_expr(n, "send.urg"));
    let reserved = f
        .get("reserved")
        .and_then(|n| cx.int(n, "send.reserved", 0, 7))
        .unwrap_or(0) as u8;
    let options = match f.get("options") {
        Some(n) => send_options(cx, n).unwrap_or_default(),
        None => Vec::new(),
    };
    let payload = match (f.get("data"), f.get("hex")) {
        (Some(_), Some(h)) => {
            cx.err(h, "give either `data` or `hex`, not both");
            Vec::new()
        }
        (Some(d), None) => payload(cx, d, "send.data").unwrap_or_default(),
        (None, Some(h)) => cx.hex(h, "send.hex").unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    let doff = f
        .get("doff")
        .and_then(|n| cx.int(n, "send.doff", 0, 15))
        .map(|v| v as u8);
    let checksum = match f.get("checksum") {
        None => ChecksumSpec::Correct,
        Some(n) => match &n.kind {
            Kind::Str(s) if s == "bad" => ChecksumSpec::Bad,
            Kind::Str(s) if s == "correct" => ChecksumSpec::Correct,
            _ => match cx.int(
                n,
                "send.checksum (`bad`, `correct` or a 16-bit value)",
                0,
                0xffff,
            ) {
                Some(v) => ChecksumSpec::Value(v as u16),
                None => ChecksumSpec::Correct,
            },
        },
    };
    let ip = IpFields {
        ttl: f
            .get("ttl")
            .and_then(|n| cx.int(n, "send.ttl", 0, 255))
            .map(|v| v as u8),
        tos: f
            .get("tos")
            .and_then(|n| cx.int(n, "send.tos", 0, 255))
            .map(|v| v as u8),
        dont_frag: f.get("df").and_then(|n| cx.boolean(n, "send.df")),
        ident: f
            .get("ip_id")
            .and_then(|n| cx.int(n, "send.ip_id", 0, 0xffff))
            .map(|v| v as u16),
        flow_label: f
            .get("flow_label")
            .and_then(|n| cx.int(n, "send.flow_label", 0, 0xf_ffff))
            .map(|v| v as u32),
        ipv4_options: f
            .get("ipv4_options")
            .and_then(|n| cx.hex(n, "send.ipv4_options"))
            .unwrap_or_default(),
    };
    if ip.ipv4_options.len() > 40 {
        if let Some(n) = f.get("ipv4_options") {
            cx.err(
                n,
                format!(
                    "send.ipv4_options: at most 40 bytes fit in an IPv4 header, found {}",
                    ip.ipv4_options.len()
                ),
            );
        }
    }
    // Literal values must fit their 16-bit fields; expressions are checked by the runner.
    for (name, e) in [("win", &win), ("urg", &urg)] {
        if let (Some(Expr::Num(n)), Some(node)) = (e, f.get(name)) {
            if !(0..=0xffff).contains(n) {
                cx.err(node, format!("send.{name} must be in 0..=65535, found {n}"));
            }
        }
    }
    let mut address = |key: &str| -> Option<std::net::IpAddr> {
        let n = f.get(key)?;
        let text = cx.string(n, key)?;
        match text.trim().parse() {
            Ok(a) => Some(a),
            Err(_) => {
                cx.err(
                    n,
                    format!("send.{key}: `{text}` is not an IP address (e.g. 224.0.0.1, ff02::1)"),
                );
                None
            }
        }
    };
    let (src, dst) = (address("src"), address("dst"));
    let raw = f.get("raw").and_then(|n| cx.hex(n, "send.raw"));
    let icmp = f.get("icmp").and_then(|n| icmp_send(cx, n));
    if let (Some(_), Some(r)) = (f.get("icmp"), f.get("raw")) {
        cx.err(r, "give either `icmp` or `raw`, not both");
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(Send {
        src,
        dst,
        flags: flags?,
        seq,
        ack,
        win,
        urg,
        reserved,
        options,
        payload,
        doff,
        checksum,
        ip,
        raw,
        icmp,
    })
}

/// `icmp: { type: T, code: C, seq: EXPR }`.
fn icmp_send(cx: &mut Cx<'_>, node: &Node) -> Option<IcmpSend> {
    let f = cx.map(node, "send.icmp", &["type", "code", "seq"])?;
    let field = |cx: &mut Cx<'_>, name: &str| match f.get(name) {
        Some(n) => cx
            .int(n, &format!("send.icmp.{name}"), 0, 255)
            .map(|v| v as u8),
        None => {
            cx.err(node, format!("send.icmp needs `{name}`"));
            None
        }
    };
    let icmp_type = field(cx, "type");
    let code = field(cx, "code");
    let seq = match f.get("seq") {
        Some(n) => cx.value(n, "send.icmp.seq", Space::Target),
        None => {
            cx.err(
                node,
                "send.icmp needs `seq` (the quoted segment's, target-relative)",
            );
            None
        }
    };
    Some(IcmpSend {
        icmp_type: icmp_type?,
        code: code?,
        seq: seq?,
    })
}

/// `data: N` (pattern octets) or `data: "text"`.
fn payload(cx: &mut Cx<'_>, node: &Node, what: &str) -> Option<Vec<u8>> {
    match &node.kind {
        Kind::Int(n) => match usize::try_from(*n) {
            Ok(n) if n <= 1 << 20 => Some(pattern(0, n)),
            _ => {
                cx.err(
                    node,
                    format!("{what}: a pattern length must be in 0..=1048576, found {n}"),
                );
                None
            }
        },
        Kind::Str(s) => Some(s.as_bytes().to_vec()),
        _ => {
            cx.err(
                node,
                format!(
                    "{what} must be a length (pattern octets) or a string, found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

fn send_options(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<SendOption>> {
    let Kind::Seq(items) = &node.kind else {
        cx.err(
            node,
            format!(
                "send.options must be a list ({OPTION_NAMES}), found {}",
                node.describe()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        match &item.kind {
            Kind::Map(entries) if entries.iter().any(|(k, _)| k.name == "raw") => {
                let f = cx.map(item, "a raw option", &["raw"])?;
                out.push(SendOption::Raw(cx.hex(f.get("raw")?, "option raw")?));
            }
            Kind::Map(_) => {
                let f = cx.map(item, "an option", &["kind", "data"])?;
                let kind_node = f.req(cx, "kind")?;
                let kind = cx.int(kind_node, "option kind", 0, 255)? as u8;
                let data = match f.get("data") {
                    Some(d) => cx.hex(d, "option data")?,
                    None => Vec::new(),
                };
                if data.len() > 253 {
                    cx.err(
                        item,
                        "option data longer than 253 bytes cannot be encoded (use { raw: ... })",
                    );
                    return None;
                }
                out.push(SendOption::Unknown { kind, data });
            }
            Kind::Str(s) => out.push(send_option(cx, item, s)?),
            _ => {
                cx.err(
                    item,
                    format!(
                        "an option is a string ({OPTION_NAMES}), found {}",
                        item.describe()
                    ),
                );
                return None;
            }
        }
    }
    Some(out)
}

/// One `name args...` option of a `send`.
fn send_option(cx: &mut Cx<'_>, node: &Node, text: &str) -> Option<SendOption> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((name, args)) = words.split_first() else {
        cx.err(node, format!("empty option (expected {OPTION_NAMES})"));
        return None;
    };
    let arity = |cx: &mut Cx<'_>, n: usize, usage: &str| {
        if args.len() != n {
            cx.err(node, format!("option `{text}`: expected `{usage}`"));
            return false;
        }
        true
    };
    let arg_node = |s: &str| Node {
        kind: Kind::Str(s.to_string()),
        line: node.line,
        col: node.col,
    };
    Some(match name.to_ascii_lowercase().as_str() {
        "nop" if arity(cx, 0, "nop") => SendOption::Nop,
        "eol" if arity(cx, 0, "eol") => SendOption::Eol,
        "sackok" | "sack_permitted" if arity(cx, 0, "sackOK") => SendOption::SackPermitted,
        "mss" if arity(cx, 1, "mss N") => {
            SendOption::Mss(cx.int(&arg_node(args[0]), "mss", 0, 65535)? as u16)
        }
        "wscale" if arity(cx, 1, "wscale N") => {
            SendOption::WindowScale(cx.int(&arg_node(args[0]), "wscale", 0, 255)? as u8)
        }
        "ts" if arity(cx, 2, "ts VAL ECR") => SendOption::Timestamps {
            val: cx.plain_expr(&arg_node(args[0]), "ts value")?,
            ecr: cx.plain_expr(&arg_node(args[1]), "ts echo reply")?,
        },
        "sack" => {
            if args.is_empty() || args.len() > 4 {
                cx.err(
                    node,
                    format!("option `{text}`: expected `sack L:R ...` with 1 to 4 blocks"),
                );
                return None;
            }
            let mut blocks = Vec::new();
            for a in args {
                let Some((l, r)) = a.split_once(':') else {
                    cx.err(
                        node,
                        format!("option `{text}`: SACK block `{a}` must be `LEFT:RIGHT`"),
                    );
                    return None;
                };
                blocks.push((
                    cx.value(&arg_node(l), "SACK left edge", Space::Target)?,
                    cx.value(&arg_node(r), "SACK right edge", Space::Target)?,
                ));
            }
            SendOption::Sack(blocks)
        }
        "nop" | "eol" | "sackok" | "sack_permitted" | "mss" | "wscale" | "ts" => return None,
        _ => {
            cx.err(
                node,
                format!("unknown option `{name}` (expected {OPTION_NAMES})"),
            );
            return None;
        }
    })
}

fn option_kind(cx: &mut Cx<'_>, node: &Node) -> Option<OptionKind> {
    if let Kind::Int(k) = node.kind {
        return match u8::try_from(k) {
            Ok(k) => Some(kind_from_code(k)),
            Err(_) => {
                cx.err(node, format!("option kind must be in 0..=255, found {k}"));
                None
            }
        };
    }
    let name = cx.string(node, "option kind")?;
    Some(match name.to_ascii_lowercase().as_str() {
        "eol" => OptionKind::Eol,
        "nop" => OptionKind::Nop,
        "mss" => OptionKind::Mss,
        "wscale" => OptionKind::WindowScale,
        "sackok" | "sack_permitted" => OptionKind::SackPermitted,
        "sack" => OptionKind::Sack,
        "ts" => OptionKind::Timestamps,
        _ => {
            cx.err(node, format!("unknown option kind `{name}` (expected mss, wscale, sackOK, sack, ts, nop, eol or a kind number)"));
            return None;
        }
    })
}

fn kind_from_code(k: u8) -> OptionKind {
    match k {
        0 => OptionKind::Eol,
        1 => OptionKind::Nop,
        2 => OptionKind::Mss,
        3 => OptionKind::WindowScale,
        4 => OptionKind::SackPermitted,
        5 => OptionKind::Sack,
        8 => OptionKind::Timestamps,
        k => OptionKind::Other(k),
    }
}

fn expect(cx: &mut Cx<'_>, node: &Node) -> Option<Expect> {
    let f = cx.map(node, "expect", EXPECT_FIELDS)?;
    let before = cx.diags.len();
    let flags = f.get("flags").and_then(|n| flag_match(cx, n));
    let num = |cx: &mut Cx<'_>, name: &str, space: Space| {
        f.get(name)
            .and_then(|n| cx.num_match(n, &format!("expect.{name}"), space))
    };
    let seq = num(cx, "seq", Space::Target);
    let ack = num(cx, "ack", Space::Tester);
    let win = num(cx, "win", Space::None);
    let urg = num(cx, "urg", Space::None);
    let reserved = num(cx, "reserved", Space::None);
    let len = num(cx, "len", Space::None);
    let ttl = num(cx, "ttl", Space::None);
    let tos = num(cx, "tos", Space::None);
    let ecn = num(cx, "ecn", Space::None);
    let data = match (f.get("data"), f.get("hex")) {
        (Some(_), Some(h)) => {
            cx.err(h, "give either `data` or `hex`, not both");
            None
        }
        (Some(d), None) => payload(cx, d, "expect.data"),
        (None, Some(h)) => cx.hex(h, "expect.hex"),
        (None, None) => None,
    };
    let options = match f.get("options") {
        Some(n) => expect_options(cx, n).unwrap_or_default(),
        None => OptionsMatch::default(),
    };
    let within = f
        .get("within")
        .and_then(|n| cx.duration(n, "expect.within"));
    let after = f.get("after").and_then(|n| cx.duration(n, "expect.after"));
    if cx.diags.len() > before {
        return None;
    }
    let e = Expect {
        flags,
        seq,
        ack,
        win,
        urg,
        reserved,
        len,
        data,
        options,
        ttl,
        tos,
        ecn,
        within,
        after,
    };
    let has_matcher = e.flags.is_some()
        || e.seq.is_some()
        || e.ack.is_some()
        || e.win.is_some()
        || e.urg.is_some()
        || e.reserved.is_some()
        || e.len.is_some()
        || e.data.is_some()
        || !e.options.is_empty()
        || e.ttl.is_some()
        || e.tos.is_some()
        || e.ecn.is_some();
    if !has_matcher {
        cx.err(node, "expect needs at least one matcher (e.g. `flags: SA`); to accept any segment write `flags: { has: . }`, to expect silence use `expect_none`");
        return None;
    }
    if let (Some(a), Some(w)) = (e.after, e.within) {
        if a > w {
            cx.err(
                node,
                "expect.after is later than expect.within: no arrival time can match",
            );
            return None;
        }
    }
    Some(e)
}

fn flag_match(cx: &mut Cx<'_>, node: &Node) -> Option<FlagMatch> {
    match &node.kind {
        Kind::Seq(items) => {
            if items.is_empty() {
                cx.err(node, "expect.flags: an empty list matches nothing");
                return None;
            }
            let sets: Option<Vec<Flags>> =
                items.iter().map(|i| cx.flags(i, "expect.flags")).collect();
            Some(FlagMatch::OneOf(sets?))
        }
        Kind::Map(_) => {
            let f = cx.map(node, "expect.flags", &["has", "not"])?;
            let has = match f.get("has") {
                Some(n) => cx.flags(n, "expect.flags.has")?,
                None => Flags(0),
            };
            let not = match f.get("not") {
                Some(n) => match &n.kind {
                    Kind::Seq(items) => {
                        let mut bits = 0;
                        for i in items {
                            bits |= cx.flags(i, "expect.flags.not")?.0;
                        }
                        Flags(bits)
                    }
                    _ => cx.flags(n, "expect.flags.not")?,
                },
                None => Flags(0),
            };
            if has.0 & not.0 != 0 {
                cx.err(
                    node,
                    format!(
                        "expect.flags: `{}` is both required and forbidden",
                        Flags(has.0 & not.0)
                    ),
                );
                return None;
            }
            Some(FlagMatch::Mask { has, not })
        }
        _ => cx
            .flags(node, "expect.flags")
            .map(|f| FlagMatch::OneOf(vec![f])),
    }
}

fn expect_options(cx: &mut Cx<'_>, node: &Node) -> Option<OptionsMatch> {
    if let Kind::Seq(_) = node.kind {
        return Some(OptionsMatch {
            exact: Some(option_patterns(cx, node)?),
            ..OptionsMatch::default()
        });
    }
    let f = cx.map(node, "expect.options", EXPECT_OPTION_FIELDS)?;
    let kinds = |cx: &mut Cx<'_>, name: &str| -> Option<Vec<OptionKind>> {
        match f.get(name) {
            None => Some(Vec::new()),
            Some(n) => match &n.kind {
                Kind::Seq(items) => items.iter().map(|i| option_kind(cx, i)).collect(),
                _ => option_kind(cx, n).map(|k| vec![k]),
            },
        }
    };
    let contains = kinds(cx, "contains")?;
    let absent = kinds(cx, "absent")?;
    if let Some(k) = contains.iter().find(|k| absent.contains(k)) {
        cx.err(
            node,
            format!(
                "option kind {} is both in `contains` and `absent`",
                k.code()
            ),
        );
        return None;
    }
    let exact = match f.get("exact") {
        Some(n) => Some(option_patterns(cx, n)?),
        None => None,
    };
    let mss = match f.get("mss") {
        Some(n) => Some(cx.num_match(n, "expect.options.mss", Space::None)?),
        None => None,
    };
    let wscale = match f.get("wscale") {
        Some(n) => Some(cx.num_match(n, "expect.options.wscale", Space::None)?),
        None => None,
    };
    let ts = match f.get("ts") {
        Some(n) => {
            let t = cx.map(n, "expect.options.ts", &["val", "ecr"])?;
            let val = match t.get("val") {
                Some(v) => cx.num_match(v, "ts.val", Space::None)?,
                None => NumMatch::Any,
            };
            let ecr = match t.get("ecr") {
                Some(v) => cx.num_match(v, "ts.ecr", Space::None)?,
                None => NumMatch::Any,
            };
            Some(TsMatch { val, ecr })
        }
        None => None,
    };
    let sack = match f.get("sack") {
        Some(n) => {
            let text = cx.string(n, "expect.options.sack")?;
            Some(sack_patterns(cx, n, &text)?)
        }
        None => None,
    };
    let padding_zero = match f.get("padding") {
        None => false,
        Some(n) => match &n.kind {
            Kind::Str(s) if s == "zero" => true,
            _ => {
                cx.err(n, "expect.options.padding must be `zero`");
                return None;
            }
        },
    };
    Some(OptionsMatch {
        contains,
        absent,
        exact,
        mss,
        wscale,
        ts,
        sack,
        padding_zero,
    })
}

fn sack_patterns(cx: &mut Cx<'_>, node: &Node, text: &str) -> Option<Vec<(NumMatch, NumMatch)>> {
    let arg_node = |s: &str| Node {
        kind: Kind::Str(s.to_string()),
        line: node.line,
        col: node.col,
    };
    let mut out = Vec::new();
    for block in text.split_whitespace() {
        let Some((l, r)) = block.split_once(':') else {
            cx.err(node, format!("SACK block `{block}` must be `LEFT:RIGHT`"));
            return None;
        };
        out.push((
            cx.num_match(&arg_node(l), "SACK left edge", Space::Tester)?,
            cx.num_match(&arg_node(r), "SACK right edge", Space::Tester)?,
        ));
    }
    if out.is_empty() {
        cx.err(node, "expected at least one SACK block `LEFT:RIGHT`");
        return None;
    }
    Some(out)
}

/// The `exact` option list of an `expect`: like send options, `*` allowed for values.
fn option_patterns(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<OptionPattern>> {
    let Kind::Seq(items) = &node.kind else {
        cx.err(
            node,
            format!(
                "expect.options.exact must be a list, found {}",
                node.describe()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        if let Kind::Map(_) = item.kind {
            let f = cx.map(item, "an option", &["kind", "data"])?;
            let kind_node = f.req(cx, "kind")?;
            let kind = cx.int(kind_node, "option kind", 0, 255)? as u8;
            let data = match f.get("data") {
                Some(d) => Some(cx.hex(d, "option data")?),
                None => None,
            };
            out.push(OptionPattern::Unknown { kind, data });
            continue;
        }
        let text = cx.string(item, "an option")?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let arg = |s: &str| Node {
            kind: Kind::Str(s.to_string()),
            line: item.line,
            col: item.col,
        };
        let Some((name, args)) = words.split_first() else {
            cx.err(item, format!("empty option (expected {OPTION_NAMES})"));
            return None;
        };
        let want = |cx: &mut Cx<'_>, n: usize, usage: &str| {
            let ok = args.len() == n;
            if !ok {
                cx.err(
                    item,
                    format!("option `{text}`: expected `{usage}` (`*` matches any value)"),
                );
            }
            ok
        };
        let p = match name.to_ascii_lowercase().as_str() {
            "nop" if want(cx, 0, "nop") => OptionPattern::Nop,
            "eol" if want(cx, 0, "eol") => OptionPattern::Eol,
            "sackok" | "sack_permitted" if want(cx, 0, "sackOK") => OptionPattern::SackPermitted,
            "mss" if want(cx, 1, "mss N") => {
                OptionPattern::Mss(cx.num_match(&arg(args[0]), "mss", Space::None)?)
            }
            "wscale" if want(cx, 1, "wscale N") => {
                OptionPattern::WindowScale(cx.num_match(&arg(args[0]), "wscale", Space::None)?)
            }
            "ts" if want(cx, 2, "ts VAL ECR") => OptionPattern::Timestamps {
                val: cx.num_match(&arg(args[0]), "ts value", Space::None)?,
                ecr: cx.num_match(&arg(args[1]), "ts echo reply", Space::None)?,
            },
            "sack" => OptionPattern::Sack(sack_patterns(cx, item, &args.join(" "))?),
            "nop" | "eol" | "sackok" | "sack_permitted" | "mss" | "wscale" | "ts" => return None,
            _ => {
                cx.err(
                    item,
                    format!("unknown option `{name}` (expected {OPTION_NAMES})"),
                );
                return None;
            }
        };
        out.push(p);
    }
    Some(out)
}

fn call(cx: &mut Cx<'_>, node: &Node) -> Option<Call> {
    let simple = |name: &str| -> Option<CallKind> {
        Some(match name {
            "listen" => CallKind::Listen,
            "accept" => CallKind::Accept,
            "connect" => CallKind::Connect,
            "close" => CallKind::Close,
            "abort" => CallKind::Abort,
            "nodelay" => CallKind::NoDelay,
            "shutdown" => CallKind::Shutdown(Shutdown::Write),
            _ => return None,
        })
    };
    let unknown = |cx: &mut Cx<'_>, at: (usize, usize), name: &str| {
        cx.err_at(
            at.0,
            at.1,
            format!(
                "unknown call `{name}` (expected one of: {})",
                CALLS.join(", ")
            ),
        );
    };
    if let Kind::Str(name) = &node.kind {
        if let Some(kind) = simple(name) {
            return Some(Call { kind, error: None });
        }
        if CALLS.contains(&name.as_str()) {
            cx.err(
                node,
                format!("call `{name}` needs an argument: `{{ {name}: ... }}`"),
            );
        } else {
            unknown(cx, (node.line, node.col), name);
        }
        return None;
    }
    let Kind::Map(entries) = &node.kind else {
        cx.err(
            node,
            format!(
                "call must be a name ({}) or a mapping, found {}",
                CALLS.join(", "),
                node.describe()
            ),
        );
        return None;
    };
    let mut kind = None;
    let mut error = None;
    let mut read_expect = None;
    let mut ok = true;
    for (k, v) in entries {
        match k.name.as_str() {
            "error" => {
                let name = cx.string(v, "call error")?;
                error = CallError::from_name(&name);
                if error.is_none() {
                    let names: Vec<&str> = CallError::ALL.iter().map(|e| e.name()).collect();
                    cx.err(
                        v,
                        format!(
                            "unknown call error `{name}` (expected one of: {})",
                            names.join(", ")
                        ),
                    );
                    ok = false;
                }
            }
            "expect" | "expect_hex" => {
                read_expect = Some(match (&v.kind, k.name.as_str()) {
                    (Kind::Str(s), "expect") if s == "eof" => ReadExpect::Eof,
                    (Kind::Str(s), "expect") => ReadExpect::Data(s.as_bytes().to_vec()),
                    // `expect: N`: the N pattern octets that `data: N` sends.
                    (Kind::Int(_), "expect") => ReadExpect::Data(payload(cx, v, "read expect")?),
                    (_, "expect_hex") => ReadExpect::Data(cx.hex(v, "read expect_hex")?),
                    _ => {
                        cx.err(
                            v,
                            format!(
                                "read expect must be a string, a pattern length or `eof`, found {}",
                                v.describe()
                            ),
                        );
                        return None;
                    }
                });
            }
            name if CALLS.contains(&name) => {
                if kind.is_some() {
                    cx.err_at(
                        k.line,
                        k.col,
                        format!("one call per step: `{name}` follows another call"),
                    );
                    return None;
                }
                kind = Some(match name {
                    "write" => CallKind::Write(payload(cx, v, "write")?),
                    "write_hex" => CallKind::Write(cx.hex(v, "write_hex")?),
                    "read" => CallKind::Read {
                        max: cx.int(v, "read size", 1, 1 << 20)? as usize,
                        expect: None,
                    },
                    "keepalive" => keepalive(cx, v)?,
                    "connect" if !matches!(v.kind, Kind::Null | Kind::Bool(true)) => {
                        let text = cx.string(v, "connect address")?;
                        match text.trim().parse::<std::net::IpAddr>() {
                            Ok(ip) => CallKind::ConnectTo(ip),
                            Err(_) => {
                                cx.err(
                                    v,
                                    format!("connect takes `~` (the tester) or an IP address, found `{text}`"),
                                );
                                return None;
                            }
                        }
                    }
                    "shutdown" => match &v.kind {
                        Kind::Null => CallKind::Shutdown(Shutdown::Write),
                        Kind::Str(s) if s == "read" => CallKind::Shutdown(Shutdown::Read),
                        Kind::Str(s) if s == "write" => CallKind::Shutdown(Shutdown::Write),
                        Kind::Str(s) if s == "both" => CallKind::Shutdown(Shutdown::Both),
                        _ => {
                            cx.err(
                                v,
                                format!(
                                    "shutdown takes `read`, `write` or `both`, found {}",
                                    v.describe()
                                ),
                            );
                            return None;
                        }
                    },
                    other => {
                        if !matches!(v.kind, Kind::Null | Kind::Bool(true)) {
                            cx.err(v, format!("call `{other}` takes no argument (write `{other}: ~` or just `call: {other}`)"));
                            return None;
                        }
                        simple(other)?
                    }
                });
            }
            name => {
                unknown(cx, (k.line, k.col), name);
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let Some(mut kind) = kind else {
        cx.err(
            node,
            format!(
                "call mapping names no call (expected one of: {})",
                CALLS.join(", ")
            ),
        );
        return None;
    };
    if let Some(re) = read_expect {
        match &mut kind {
            CallKind::Read { expect, .. } => *expect = Some(re),
            _ => {
                cx.err(node, "`expect` in a call only applies to `read`");
                return None;
            }
        }
    }
    Some(Call { kind, error })
}

/// `keepalive: { idle: 1s, interval: 1s, count: 3 }`: every field required (the case states its
/// timing; stacks' defaults differ and the RFC's idle default is two hours, MUST-28).
fn keepalive(cx: &mut Cx<'_>, node: &Node) -> Option<CallKind> {
    let f = cx.map(node, "keepalive", KEEPALIVE_FIELDS)?;
    let (idle, interval, count) = (f.req(cx, "idle"), f.req(cx, "interval"), f.req(cx, "count"));
    let secs = |cx: &mut Cx<'_>, node: &Node, what: &str| -> Option<Duration> {
        let d = cx.duration(node, what)?;
        // Socket options (TCP_KEEPIDLE, TCP_KEEPINTVL) count whole seconds: a case must mean
        // the same on every target.
        if d.subsec_nanos() != 0 || d.is_zero() || d.as_secs() > KEEPALIVE_MAX_SECS {
            cx.err(
                node,
                format!(
                    "keepalive {what} must be whole seconds in 1s..={KEEPALIVE_MAX_SECS}s (socket options count seconds), found {d:?}"
                ),
            );
            return None;
        }
        Some(d)
    };
    let idle = idle.and_then(|n| secs(cx, n, "idle"));
    let interval = interval.and_then(|n| secs(cx, n, "interval"));
    let count = count.and_then(|n| cx.int(n, "keepalive count", 1, KEEPALIVE_MAX_COUNT));
    Some(CallKind::Keepalive {
        idle: idle?,
        interval: interval?,
        count: count? as u32,
    })
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

    fn keepalive_case(call: &str) -> Result<Vec<Case>, Vec<super::super::diag::Diagnostic>> {
        let src = format!(
            "id: k\ntitle: t\nsetup: {{ listen: 80 }}\nsteps:\n  - call: {{ keepalive: {call} }}\n"
        );
        super::super::load::load_str(std::path::Path::new("k.yaml"), &src)
    }

    #[test]
    fn keepalive_call() {
        let cases = keepalive_case("{ idle: 2s, interval: 1s, count: 3 }").expect("valid");
        let StepKind::Call(call) = &cases[0].steps[0].kind else {
            panic!("not a call: {:?}", cases[0].steps[0]);
        };
        assert_eq!(
            call.kind,
            CallKind::Keepalive {
                idle: Duration::from_secs(2),
                interval: Duration::from_secs(1),
                count: 3
            }
        );
        let error = |call: &str| match keepalive_case(call) {
            Ok(_) => panic!("`{call}` accepted"),
            Err(d) => d
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        };
        // Sockets count seconds: a sub-second or fractional time would mean something else on
        // Linux.
        let e = error("{ idle: 500ms, interval: 1s, count: 3 }");
        assert!(e.contains("keepalive idle must be whole seconds"), "{e}");
        let e = error("{ idle: 1s, interval: 1.5s, count: 3 }");
        assert!(
            e.contains("keepalive interval must be whole seconds"),
            "{e}"
        );
        let e = error("{ idle: 1s, interval: 1s }");
        assert!(e.contains("missing field `count`"), "{e}");
        let e = error("{ idle: 1s, interval: 1s, count: 0 }");
        assert!(e.contains("keepalive count must be in 1..=127"), "{e}");
        let e = error("{ idle: 1s, intervall: 1s, count: 3 }");
        assert!(e.contains("did you mean `interval`"), "{e}");
        let e = error("~");
        assert!(e.contains("keepalive must be a mapping"), "{e}");
    }
}
