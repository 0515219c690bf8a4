//! Expected vs received, one row per field, for failure messages:
//!
//! ```text
//!           expected            received
//!   flags   SA                  R             <- differs
//!   seq     *                   0 (abs 3105729)
//!   ack     1 (abs 12346)       1 (abs 12346)
//! ```
//!
//! The matcher supplies the expected side as already formatted text per field name; this
//! module formats the received side. Field names (aliases in brackets): `flags`, `seq`, `ack`,
//! `win` (`window`), `urg` (`urgent`), `options` (`opts`), `len` (`payload`), `data` (the
//! payload's octets), `ttl`, `tos`, `reserved`, `doff` (`data_offset`), `checksum`. Rows for
//! flags, seq, ack, win, options and len are always shown (expected `*` when the matcher gave
//! none), the others only when expected; unknown names get a row with received `?`.

use super::render::{self, Relative};
use super::spec::Observed;

/// The ECN field of a TOS / traffic class octet, with its RFC 3168 name.
fn ecn_name(tos: u8) -> &'static str {
    match tos & 0b11 {
        0 => "0 (not-ECT)",
        1 => "1 (ECT(1))",
        2 => "2 (ECT(0))",
        _ => "3 (CE)",
    }
}

/// Rows always shown, then rows shown only when expected; canonical order.
const ALWAYS: [&str; 6] = ["flags", "seq", "ack", "win", "options", "len"];
const OPTIONAL: [&str; 9] = [
    "data", "ports", "urg", "ttl", "tos", "ecn", "reserved", "doff", "checksum",
];

/// The table, marking a row `<- differs` when its expected text is not `*` and equals
/// neither the received text nor its first word (so expected `1` matches received
/// `1 (abs 12346)`). Use [`field_table_marked`] when the matcher knows better (patterns such
/// as `contains [mss]`).
pub fn field_table(expected: &[(String, String)], got: &Observed, rel: Option<Relative>) -> String {
    table(expected, got, rel, |_name, exp, recv| {
        let exp = exp.trim();
        exp != "*" && exp != recv && Some(exp) != recv.split_whitespace().next()
    })
}

/// The table with exactly the rows named in `differing` (canonical or alias names) marked.
pub fn field_table_marked(
    expected: &[(String, String)],
    got: &Observed,
    rel: Option<Relative>,
    differing: &[&str],
) -> String {
    let differing: Vec<&str> = differing.iter().map(|d| canonical(d)).collect();
    table(expected, got, rel, |name, _, _| differing.contains(&name))
}

/// The received text of one field, as the table shows it; `None` for an unknown name.
pub fn received(field: &str, got: &Observed, rel: Option<Relative>) -> Option<String> {
    let with_base = |value: u32, base: Option<u32>| match base {
        Some(b) => format!("{} (abs {value})", value.wrapping_sub(b)),
        None => value.to_string(),
    };
    Some(match canonical(field) {
        "flags" => render::flags(got.flags),
        "seq" => with_base(got.seq, rel.map(|r| r.seq_base)),
        "ack" => with_base(got.ack, rel.map(|r| r.ack_base)),
        "win" => got.window.to_string(),
        "urg" => got.urgent.to_string(),
        "options" if got.options.is_empty() => "none".to_string(),
        "options" => render::options(&got.options, rel),
        "len" => got.payload.len().to_string(),
        "data" => payload_preview(&got.payload),
        "ttl" => got.ttl.to_string(),
        "tos" => format!("{:#04x}", got.tos),
        "ecn" => ecn_name(got.tos).to_string(),
        "reserved" => got.reserved.to_string(),
        "doff" => got.data_offset.to_string(),
        "checksum" => if got.checksum_ok { "ok" } else { "bad" }.to_string(),
        "ports" => format!("{} > {}", got.src, got.dst),
        _ => return None,
    })
}

/// A payload as a failure shows it: its length, then at most [`PREVIEW_OCTETS`] octets in hex
/// and as text (`.` for what is not printable ASCII), `…` when there is more.
pub fn payload_preview(p: &[u8]) -> String {
    if p.is_empty() {
        return "0 octets".into();
    }
    let shown = &p[..p.len().min(PREVIEW_OCTETS)];
    let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = shown
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let more = if p.len() > shown.len() { "…" } else { "" };
    format!("{} octets {}{more} |{text}{more}|", p.len(), hex.join(" "))
}

/// How many payload octets a failure shows.
pub const PREVIEW_OCTETS: usize = 16;

fn canonical(name: &str) -> &str {
    match name {
        "window" => "win",
        "urgent" => "urg",
        "opts" => "options",
        "payload" => "len",
        "data_offset" => "doff",
        other => other,
    }
}

fn table(
    expected: &[(String, String)],
    got: &Observed,
    rel: Option<Relative>,
    differs: impl Fn(&str, &str, &str) -> bool,
) -> String {
    render(&rows(expected, got, rel, differs))
}

/// The rows of the table: (field, expected, received, differs), in canonical order.
pub fn rows(
    expected: &[(String, String)],
    got: &Observed,
    rel: Option<Relative>,
    differs: impl Fn(&str, &str, &str) -> bool,
) -> Vec<(String, String, String, bool)> {
    let lookup = |name: &str| {
        expected
            .iter()
            .find(|(n, _)| canonical(n) == name)
            .map(|(_, v)| v.as_str())
    };
    let mut rows: Vec<(String, String, String, bool)> = Vec::new();
    let mut row = |name: &str, exp: &str, recv: String| {
        let d = differs(name, exp, &recv);
        rows.push((name.to_string(), exp.to_string(), recv, d));
    };
    for name in ALWAYS {
        let exp = lookup(name).unwrap_or("*");
        row(name, exp, received(name, got, rel).unwrap_or_default());
    }
    for name in OPTIONAL {
        if let Some(exp) = lookup(name) {
            row(name, exp, received(name, got, rel).unwrap_or_default());
        }
    }
    for (name, exp) in expected {
        let name = canonical(name);
        if !ALWAYS.contains(&name) && !OPTIONAL.contains(&name) {
            row(name, exp, "?".to_string());
        }
    }
    rows
}

/// Renders rows (field, expected, received, differs) as the aligned table.
pub fn render<S: AsRef<str>>(rows: &[(S, S, S, bool)]) -> String {
    let width = |f: fn(&(S, S, S, bool)) -> &str, min: usize| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let name_w = width(|r| r.0.as_ref(), 5) + 3;
    let exp_w = width(|r| r.1.as_ref(), 8) + 2;
    let recv_w = width(|r| r.2.as_ref(), 8) + 2;
    let mut out = format!("  {:name_w$}{:exp_w$}received\n", "", "expected");
    for (name, exp, recv, differs) in rows {
        let (name, exp, recv) = (name.as_ref(), exp.as_ref(), recv.as_ref());
        let line = if *differs {
            format!("  {name:name_w$}{exp:exp_w$}{recv:recv_w$}<- differs")
        } else {
            format!("  {name:name_w$}{exp:exp_w$}{recv}")
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
