//! Does a received segment match an `expect`? Every checked field yields a row (expected text,
//! and whether it matched), so a failure shows the whole comparison, not just the first miss.

use super::conn::ConnView;
use crate::case::expr::{EvalError, Space};
use crate::case::model::{
    Expect, FlagMatch, Flags, NumMatch, OptionKind, OptionPattern, OptionsMatch, Value,
    FAST_OPEN_KIND, USER_TIMEOUT_KIND,
};
use crate::packet::diff::payload_preview;
use crate::packet::spec::{Observed, ObservedOption};

/// One compared field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// A field name known to `packet::diff` (`flags`, `seq`, `ack`, `win`, `options`, `len`, ...).
    pub field: &'static str,
    pub expected: String,
    pub ok: bool,
}

/// The verdict on one segment.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn matched(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }

    pub fn differing(&self) -> Vec<&'static str> {
        self.rows
            .iter()
            .filter(|r| !r.ok)
            .map(|r| r.field)
            .collect()
    }

    pub fn expected_pairs(&self) -> Vec<(String, String)> {
        self.rows
            .iter()
            .map(|r| (r.field.to_string(), r.expected.clone()))
            .collect()
    }
}

/// One sub-field of an options comparison, for the failure's table: which option, which
/// field of it (`options.ts.ecr`, `options.sack[0].left`, `options[2]`, `options.mss`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDetail {
    pub field: String,
    pub expected: String,
    pub received: String,
    pub ok: bool,
}

/// The options comparison of [`check`], sub-field by sub-field.
pub fn option_details(m: &OptionsMatch, got: &Observed, conn: &ConnView) -> Vec<OptionDetail> {
    let none = Space::None;
    let opts = got.options.as_slice();
    let mut out = Vec::new();
    let mut push = |field: String, (ok, expected): (bool, String), received: String| {
        out.push(OptionDetail {
            field,
            expected,
            received,
            ok,
        })
    };
    let has = |k: OptionKind| opts.iter().any(|o| kind_of(o) == k);
    let presence = |k: OptionKind| if has(k) { "present" } else { "absent" }.to_string();
    for k in &m.contains {
        let name = format!("options.{}", kind_name(*k).replace(' ', ""));
        push(name, (has(*k), "present".into()), presence(*k));
    }
    for k in &m.absent {
        let name = format!("options.{}", kind_name(*k).replace(' ', ""));
        push(name, (!has(*k), "absent".into()), presence(*k));
    }
    if let Some(exact) = &m.exact {
        let observed: Vec<&ObservedOption> = if exact.contains(&OptionPattern::Eol) {
            opts.iter().collect()
        } else {
            opts.iter()
                .take_while(|o| !matches!(o, ObservedOption::Eol))
                .collect()
        };
        for i in 0..exact.len().max(observed.len()) {
            let (p, o) = (exact.get(i), observed.get(i).copied());
            match (p, o) {
                (
                    Some(OptionPattern::Timestamps { val, ecr }),
                    Some(ObservedOption::Timestamps { tsval, tsecr }),
                ) => {
                    push(
                        format!("options[{i}].ts.val"),
                        num_matches(val, *tsval, none, conn),
                        tsval.to_string(),
                    );
                    push(
                        format!("options[{i}].ts.ecr"),
                        num_matches(ecr, *tsecr, none, conn),
                        tsecr.to_string(),
                    );
                }
                (Some(OptionPattern::Sack(pats)), Some(ObservedOption::Sack(blocks))) => {
                    sack_details(&format!("options[{i}].sack"), pats, blocks, conn, &mut push);
                }
                _ => {
                    let expected = match (p, o) {
                        (Some(p), Some(o)) => pattern_matches(p, o, conn),
                        (Some(p), None) => (false, pattern_text(p, conn)),
                        (None, _) => (false, "none".into()),
                    };
                    let received = o.map_or("none".into(), |o| option_text(o, conn));
                    push(format!("options[{i}]"), expected, received);
                }
            }
        }
    }
    let find = |k: OptionKind| opts.iter().find(|o| kind_of(o) == k);
    if let Some(mm) = &m.mss {
        let (r, v) = match find(OptionKind::Mss) {
            Some(ObservedOption::Mss(v)) => (v.to_string(), Some(u32::from(*v))),
            _ => ("absent".into(), None),
        };
        let (ok, t) = num_matches(mm, v.unwrap_or(0), none, conn);
        push("options.mss".into(), (ok && v.is_some(), t), r);
    }
    if let Some(wm) = &m.wscale {
        let (r, v) = match find(OptionKind::WindowScale) {
            Some(ObservedOption::WindowScale(v)) => (v.to_string(), Some(u32::from(*v))),
            _ => ("absent".into(), None),
        };
        let (ok, t) = num_matches(wm, v.unwrap_or(0), none, conn);
        push("options.wscale".into(), (ok && v.is_some(), t), r);
    }
    if let Some(tm) = &m.ts {
        match find(OptionKind::Timestamps) {
            Some(ObservedOption::Timestamps { tsval, tsecr }) => {
                let (val, ecr) = (*tsval, *tsecr);
                push(
                    "options.ts.val".into(),
                    num_matches(&tm.val, val, none, conn),
                    val.to_string(),
                );
                push(
                    "options.ts.ecr".into(),
                    num_matches(&tm.ecr, ecr, none, conn),
                    ecr.to_string(),
                );
            }
            _ => {
                let val = num_matches(&tm.val, 0, none, conn).1;
                let ecr = num_matches(&tm.ecr, 0, none, conn).1;
                push(
                    "options.ts".into(),
                    (false, format!("{val} {ecr}")),
                    "absent".into(),
                );
            }
        }
    }
    if let Some(sm) = &m.sack {
        match find(OptionKind::Sack) {
            Some(ObservedOption::Sack(blocks)) => {
                sack_details("options.sack", sm, blocks, conn, &mut push)
            }
            _ => push(
                "options.sack".into(),
                (false, sack_edges_match(sm, &[], conn).1),
                "absent".into(),
            ),
        }
    }
    if let Some(cm) = &m.tfo_cookie {
        let len = fast_open_cookie(opts).map(<[u8]>::len);
        let (ok, t) = num_matches(cm, len.unwrap_or(0) as u32, none, conn);
        let received = len.map_or("absent".into(), |n| n.to_string());
        push(
            "options.tfo_cookie".into(),
            (ok && len.is_some(), t),
            received,
        );
    }
    if let Some(want) = &m.tfo {
        let cookie = fast_open_cookie(opts);
        push(
            "options.tfo".into(),
            (cookie == Some(want), tfo_text(want)),
            cookie.map_or("absent".into(), tfo_text),
        );
    }
    if m.padding_zero {
        let padding = got.padding.as_slice();
        let hex: Vec<String> = padding.iter().map(|b| format!("{b:02x}")).collect();
        let received = if padding.is_empty() {
            "none".into()
        } else {
            hex.join(" ")
        };
        push(
            "options.padding".into(),
            (padding.iter().all(|b| *b == 0), "zero".into()),
            received,
        );
    }
    out
}

/// `PREFIX[i].left` / `.right` for every block given or received; edges relative to the
/// tester's ISN, as the case writes them.
fn sack_details(
    prefix: &str,
    pats: &[(NumMatch, NumMatch)],
    blocks: &[(u32, u32)],
    conn: &ConnView,
    push: &mut impl FnMut(String, (bool, String), String),
) {
    let base = conn.base(Space::Tester);
    let edge = |v: u32| format!("{} (abs {v})", v.wrapping_sub(base));
    for i in 0..pats.len().max(blocks.len()) {
        let got = blocks.get(i);
        for (side, pat, v) in [
            ("left", pats.get(i).map(|p| &p.0), got.map(|b| b.0)),
            ("right", pats.get(i).map(|p| &p.1), got.map(|b| b.1)),
        ] {
            let expected = match pat {
                Some(p) => {
                    let (ok, t) = num_matches(p, v.unwrap_or(0), Space::Tester, conn);
                    (ok && v.is_some(), t)
                }
                None => (false, "none".into()),
            };
            push(
                format!("{prefix}[{i}].{side}"),
                expected,
                v.map_or("none".into(), edge),
            );
        }
    }
}

/// A received option as the case language writes it.
fn option_text(o: &ObservedOption, conn: &ConnView) -> String {
    match o {
        ObservedOption::Timestamps { tsval, tsecr } => format!("ts {tsval} {tsecr}"),
        ObservedOption::Sack(blocks) => {
            let base = conn.base(Space::Tester);
            let edges: Vec<String> = blocks
                .iter()
                .map(|(l, r)| format!("{}:{}", l.wrapping_sub(base), r.wrapping_sub(base)))
                .collect();
            format!("sack {}", edges.join(" "))
        }
        other => crate::packet::render::option(other, None),
    }
}

/// Evaluates a value to an absolute number on the wire, in `space`.
pub fn resolve(value: &Value, space: Space, conn: &ConnView) -> Result<i64, EvalError> {
    match value {
        Value::Rel(e) => {
            let rel = e.eval(&|v| conn.var(v))?;
            Ok(match space {
                Space::None => rel,
                _ => i64::from(conn.base(space).wrapping_add(rel as u32)),
            })
        }
        Value::Abs(e) => e.eval(&|v| conn.var_abs(v)),
    }
}

fn show_value(value: &Value, space: Space, conn: &ConnView) -> String {
    let text = match value {
        Value::Rel(e) => e.to_string(),
        Value::Abs(e) => format!("abs({e})"),
    };
    match (resolve(value, space, conn), space) {
        (Ok(abs), Space::Tester | Space::Target) => {
            let rel = (abs as u32).wrapping_sub(conn.base(space));
            if text == rel.to_string() {
                format!("{text} (abs {})", abs as u32)
            } else {
                format!("{text} = {rel} (abs {})", abs as u32)
            }
        }
        (Ok(v), Space::None) if text != v.to_string() => format!("{text} = {v}"),
        (Ok(_), Space::None) => text,
        (Err(e), _) => format!("{text} [{e}]"),
    }
}

/// Matches `got` against `m`. Sequence fields compare modulo 2^32 (RFC 9293 3.4).
fn num_matches(m: &NumMatch, got: u32, space: Space, conn: &ConnView) -> (bool, String) {
    let seq = space != Space::None;
    let cmp = |bound: i64| -> i64 {
        if seq {
            i64::from(got.wrapping_sub(bound as u32) as i32)
        } else {
            i64::from(got) - bound
        }
    };
    match m {
        NumMatch::Any => (true, "*".into()),
        NumMatch::Eq(v) => {
            let text = show_value(v, space, conn);
            match resolve(v, space, conn) {
                Ok(want) => (cmp(want) == 0, text),
                Err(_) => (false, text),
            }
        }
        NumMatch::Range { min, max } => {
            let mut ok = true;
            let mut parts = Vec::new();
            if let Some(lo) = min {
                parts.push(format!(">= {}", show_value(lo, space, conn)));
                ok &= resolve(lo, space, conn)
                    .map(|b| cmp(b) >= 0)
                    .unwrap_or(false);
            }
            if let Some(hi) = max {
                parts.push(format!("<= {}", show_value(hi, space, conn)));
                ok &= resolve(hi, space, conn)
                    .map(|b| cmp(b) <= 0)
                    .unwrap_or(false);
            }
            (ok, parts.join(" and "))
        }
    }
}

fn flags_match(m: &FlagMatch, got: u16) -> (bool, String) {
    match m {
        FlagMatch::OneOf(sets) => {
            let ok = sets.iter().any(|f| f.0 == got);
            let text = sets
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(" or ");
            (ok, text)
        }
        FlagMatch::Mask { has, not } => {
            let ok = got & has.0 == has.0 && got & not.0 == 0;
            let mut text = format!("has {has}");
            if not.0 != 0 {
                text.push_str(&format!(", not {}", Flags(not.0)));
            }
            (ok, text)
        }
    }
}

fn kind_of(o: &ObservedOption) -> OptionKind {
    match o {
        ObservedOption::Eol => OptionKind::Eol,
        ObservedOption::Nop => OptionKind::Nop,
        ObservedOption::Mss(_) => OptionKind::Mss,
        ObservedOption::WindowScale(_) => OptionKind::WindowScale,
        ObservedOption::SackPermitted => OptionKind::SackPermitted,
        ObservedOption::Sack(_) => OptionKind::Sack,
        ObservedOption::Timestamps { .. } => OptionKind::Timestamps,
        ObservedOption::Unknown { kind, .. } | ObservedOption::Malformed { kind, .. } => {
            match *kind {
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
    }
}

fn kind_name(k: OptionKind) -> String {
    match k {
        OptionKind::Eol => "eol".into(),
        OptionKind::Nop => "nop".into(),
        OptionKind::Mss => "mss".into(),
        OptionKind::WindowScale => "wscale".into(),
        OptionKind::SackPermitted => "sackOK".into(),
        OptionKind::Sack => "sack".into(),
        OptionKind::Timestamps => "ts".into(),
        OptionKind::Other(FAST_OPEN_KIND) => "tfo".into(),
        OptionKind::Other(USER_TIMEOUT_KIND) => "uto".into(),
        OptionKind::Other(k) => format!("kind {k}"),
    }
}

fn sack_edges_match(
    pats: &[(NumMatch, NumMatch)],
    blocks: &[(u32, u32)],
    conn: &ConnView,
) -> (bool, String) {
    let mut ok = pats.len() == blocks.len();
    let mut texts = Vec::new();
    for (i, (l, r)) in pats.iter().enumerate() {
        let got = blocks.get(i);
        let (lok, lt) = num_matches(l, got.map_or(0, |b| b.0), Space::Tester, conn);
        let (rok, rt) = num_matches(r, got.map_or(0, |b| b.1), Space::Tester, conn);
        ok &= got.is_some() && lok && rok;
        texts.push(format!("{lt}:{rt}"));
    }
    (ok, texts.join(" "))
}

fn pattern_matches(p: &OptionPattern, o: &ObservedOption, conn: &ConnView) -> (bool, String) {
    let none = Space::None;
    match (p, o) {
        (OptionPattern::Eol, ObservedOption::Eol) => (true, "eol".into()),
        (OptionPattern::Nop, ObservedOption::Nop) => (true, "nop".into()),
        (OptionPattern::Mss(m), ObservedOption::Mss(v)) => {
            let (ok, t) = num_matches(m, u32::from(*v), none, conn);
            (ok, format!("mss {t}"))
        }
        (OptionPattern::WindowScale(m), ObservedOption::WindowScale(v)) => {
            let (ok, t) = num_matches(m, u32::from(*v), none, conn);
            (ok, format!("wscale {t}"))
        }
        (OptionPattern::SackPermitted, ObservedOption::SackPermitted) => (true, "sackOK".into()),
        (OptionPattern::Sack(pats), ObservedOption::Sack(blocks)) => {
            let (ok, t) = sack_edges_match(pats, blocks, conn);
            (ok, format!("sack {t}"))
        }
        (OptionPattern::Timestamps { val, ecr }, ObservedOption::Timestamps { tsval, tsecr }) => {
            let (a, at) = num_matches(val, *tsval, none, conn);
            let (b, bt) = num_matches(ecr, *tsecr, none, conn);
            (a && b, format!("ts {at} {bt}"))
        }
        (OptionPattern::Unknown { kind, data }, ObservedOption::Unknown { kind: k, data: d }) => {
            let ok = kind == k && data.as_ref().is_none_or(|want| want == d);
            (ok, format!("kind {kind}"))
        }
        (p, _) => (false, pattern_text(p, conn)),
    }
}

fn pattern_text(p: &OptionPattern, conn: &ConnView) -> String {
    let none = Space::None;
    match p {
        OptionPattern::Eol => "eol".into(),
        OptionPattern::Nop => "nop".into(),
        OptionPattern::Mss(m) => format!("mss {}", num_matches(m, 0, none, conn).1),
        OptionPattern::WindowScale(m) => format!("wscale {}", num_matches(m, 0, none, conn).1),
        OptionPattern::SackPermitted => "sackOK".into(),
        OptionPattern::Sack(p) => format!("sack {}", sack_edges_match(p, &[], conn).1),
        OptionPattern::Timestamps { val, ecr } => format!(
            "ts {} {}",
            num_matches(val, 0, none, conn).1,
            num_matches(ecr, 0, none, conn).1
        ),
        OptionPattern::Unknown { kind, .. } => format!("kind {kind}"),
    }
}

fn options_match(m: &OptionsMatch, got: &Observed, conn: &ConnView) -> Option<Row> {
    let padding = got.padding.as_slice();
    let got = got.options.as_slice();
    if m.is_empty() {
        return None;
    }
    let mut ok = true;
    let mut parts = Vec::new();
    let has = |k: OptionKind| got.iter().any(|o| kind_of(o) == k);
    if !m.contains.is_empty() {
        ok &= m.contains.iter().all(|k| has(*k));
        let names: Vec<String> = m.contains.iter().map(|k| kind_name(*k)).collect();
        parts.push(format!("contains [{}]", names.join(", ")));
    }
    if !m.absent.is_empty() {
        ok &= !m.absent.iter().any(|k| has(*k));
        let names: Vec<String> = m.absent.iter().map(|k| kind_name(*k)).collect();
        parts.push(format!("absent [{}]", names.join(", ")));
    }
    if let Some(exact) = &m.exact {
        // EOL padding the target adds after its list is part of the wire format, not of the
        // list: compare up to the first EOL unless the pattern itself names one.
        let observed: Vec<&ObservedOption> = if exact.contains(&OptionPattern::Eol) {
            got.iter().collect()
        } else {
            got.iter()
                .take_while(|o| !matches!(o, ObservedOption::Eol))
                .collect()
        };
        let mut texts = Vec::new();
        let mut all = observed.len() == exact.len();
        for (i, p) in exact.iter().enumerate() {
            match observed.get(i) {
                Some(o) => {
                    let (pok, t) = pattern_matches(p, o, conn);
                    all &= pok;
                    texts.push(t);
                }
                None => texts.push(pattern_text(p, conn)),
            }
        }
        ok &= all;
        parts.push(format!("exactly <{}>", texts.join(",")));
    }
    let find = |k: OptionKind| got.iter().find(|o| kind_of(o) == k);
    if let Some(mm) = &m.mss {
        let (o, t) = match find(OptionKind::Mss) {
            Some(ObservedOption::Mss(v)) => num_matches(mm, u32::from(*v), Space::None, conn),
            _ => (false, num_matches(mm, 0, Space::None, conn).1),
        };
        ok &= o;
        parts.push(format!("mss {t}"));
    }
    if let Some(wm) = &m.wscale {
        let (o, t) = match find(OptionKind::WindowScale) {
            Some(ObservedOption::WindowScale(v)) => {
                num_matches(wm, u32::from(*v), Space::None, conn)
            }
            _ => (false, num_matches(wm, 0, Space::None, conn).1),
        };
        ok &= o;
        parts.push(format!("wscale {t}"));
    }
    if let Some(tm) = &m.ts {
        let (o, t) = match find(OptionKind::Timestamps) {
            Some(ObservedOption::Timestamps { tsval, tsecr }) => {
                let (a, at) = num_matches(&tm.val, *tsval, Space::None, conn);
                let (b, bt) = num_matches(&tm.ecr, *tsecr, Space::None, conn);
                (a && b, format!("{at} {bt}"))
            }
            _ => (
                false,
                format!(
                    "{} {}",
                    num_matches(&tm.val, 0, Space::None, conn).1,
                    num_matches(&tm.ecr, 0, Space::None, conn).1
                ),
            ),
        };
        ok &= o;
        parts.push(format!("ts {t}"));
    }
    if let Some(sm) = &m.sack {
        let blocks: &[(u32, u32)] = match find(OptionKind::Sack) {
            Some(ObservedOption::Sack(b)) => b,
            _ => &[],
        };
        let (o, t) = sack_edges_match(sm, blocks, conn);
        ok &= o;
        parts.push(format!("sack {t}"));
    }
    if let Some(first) = &m.sack_first {
        let blocks: &[(u32, u32)] = match find(OptionKind::Sack) {
            Some(ObservedOption::Sack(b)) => b,
            _ => &[],
        };
        let (o, t) = sack_edges_match(
            std::slice::from_ref(first),
            &blocks[..blocks.len().min(1)],
            conn,
        );
        ok &= o;
        parts.push(format!("sack first {t}"));
    }
    if let Some(cm) = &m.tfo_cookie {
        let len = fast_open_cookie(got).map(<[u8]>::len);
        let (o, t) = num_matches(cm, len.unwrap_or(0) as u32, Space::None, conn);
        ok &= o && len.is_some();
        parts.push(format!("tfo cookie of {t} octets"));
    }
    if let Some(want) = &m.tfo {
        let cookie = fast_open_cookie(got);
        ok &= cookie == Some(want);
        parts.push(format!("tfo {}", tfo_text(want)));
    }
    if m.padding_zero {
        // MUST-69 (RFC 9293 3.1): "The padding is composed of zeros."
        if padding.iter().all(|b| *b == 0) {
            parts.push("padding zero".to_string());
        } else {
            ok = false;
            let hex: Vec<String> = padding.iter().map(|b| format!("{b:02x}")).collect();
            parts.push(format!("padding zero (found {})", hex.join(" ")));
        }
    }
    Some(Row {
        field: "options",
        expected: parts.join("; "),
        ok,
    })
}

/// Compares `got` with `e`. `conn` must already know the target's ISN if `got` is a SYN.
pub fn check(e: &Expect, got: &Observed, conn: &ConnView) -> Comparison {
    let mut rows = Vec::new();
    if let Some(f) = &e.flags {
        let (ok, expected) = flags_match(f, got.flags);
        rows.push(Row {
            field: "flags",
            expected,
            ok,
        });
    }
    let fields: [(&'static str, &Option<NumMatch>, u32, Space); 9] = [
        ("seq", &e.seq, got.seq, Space::Target),
        ("ack", &e.ack, got.ack, Space::Tester),
        ("win", &e.win, u32::from(got.window), Space::None),
        ("urg", &e.urg, u32::from(got.urgent), Space::None),
        (
            "reserved",
            &e.reserved,
            u32::from(got.reserved),
            Space::None,
        ),
        ("len", &e.len, got.payload.len() as u32, Space::None),
        ("ttl", &e.ttl, u32::from(got.ttl), Space::None),
        ("tos", &e.tos, u32::from(got.tos), Space::None),
        ("ecn", &e.ecn, u32::from(got.tos & 0b11), Space::None),
    ];
    for (field, m, value, space) in fields {
        if let Some(m) = m {
            let (ok, expected) = num_matches(m, value, space, conn);
            rows.push(Row {
                field,
                expected,
                ok,
            });
        }
    }
    if let Some(data) = &e.data {
        rows.push(Row {
            field: "data",
            expected: payload_preview(data),
            ok: &got.payload == data,
        });
    }
    if let Some(row) = options_match(&e.options, got, conn) {
        rows.push(row);
    }
    if !got.checksum_ok {
        // MUST-2: a target segment with a wrong checksum never matches.
        rows.push(Row {
            field: "checksum",
            expected: "ok".into(),
            ok: false,
        });
    }
    Comparison { rows }
}

/// A one-line summary of what an expect wants, for "expected X, got nothing".
pub fn summary(e: &Expect, conn: &ConnView) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &e.flags {
        parts.push(flags_match(f, 0).1);
    }
    if let Some(m) = &e.seq {
        parts.push(format!("seq {}", num_matches(m, 0, Space::Target, conn).1));
    }
    if let Some(m) = &e.ack {
        parts.push(format!("ack {}", num_matches(m, 0, Space::Tester, conn).1));
    }
    if let Some(m) = &e.len {
        parts.push(format!("len {}", num_matches(m, 0, Space::None, conn).1));
    }
    if parts.is_empty() {
        "a segment".into()
    } else {
        parts.join(" ")
    }
}

/// The cookie of a segment's Fast Open option (empty for a request), if it has one.
fn fast_open_cookie(opts: &[ObservedOption]) -> Option<&[u8]> {
    opts.iter().find_map(|o| match o {
        ObservedOption::Unknown { kind, data } if *kind == FAST_OPEN_KIND => Some(&data[..]),
        _ => None,
    })
}

/// A Fast Open cookie as the trace shows it: hex, or `request` for an empty option.
fn tfo_text(cookie: &[u8]) -> String {
    if cookie.is_empty() {
        return "request".into();
    }
    cookie.iter().map(|b| format!("{b:02x}")).collect()
}
