//! The matrix as static pages: `index.html` (one self-contained page: inline style and script,
//! no external asset, opens from the file system) and, beside it, one trace page per run and
//! area (`traces/<run>/<area>.html`) that the cells link to.
//!
//! Every text that comes from a run (titles, messages, traces: what a target provoked) is
//! HTML-escaped with its control characters made visible ([`crate::report::escape_controls`]).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use reference_stack::Rule;

use super::matrix::{detail, href, relative, trace_page, Cell, Matrix, Row};
use super::{SavedCase, VERDICTS};
use crate::case::model::Level;
use crate::run::event::Verdict;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Writes `index.html` and the trace pages under `out` (created if missing); returns the files
/// written.
pub fn write(matrix: &Matrix, out: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    let index = out.join("index.html");
    std::fs::write(&index, index_html(matrix, out))?;
    written.push(index);
    for k in 0..matrix.columns.len() {
        for area in matrix.areas() {
            let path = out.join(trace_page(k, area));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, trace_html(matrix, k, area, out))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// HTML text: `& < > " '` escaped, control characters shown as `\u{..}`.
pub fn esc(text: &str) -> String {
    let text = crate::report::escape_controls(text);
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The word a cell shows for a verdict.
fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "pass",
        Verdict::Failed => "FAIL",
        Verdict::Warning => "warn",
        Verdict::Info => "info",
        Verdict::KnownDeviation => "known",
        Verdict::Inconclusive => "inconcl.",
        Verdict::NotApplicable => "n/a",
        Verdict::Skipped => "skip",
    }
}

/// The summary's line for a verdict.
fn long(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed (MUST not met)",
        Verdict::Warning => "warnings (SHOULD not met)",
        Verdict::Info => "informational (MAY not taken)",
        Verdict::KnownDeviation => "known deviations (baseline)",
        Verdict::Inconclusive => "inconclusive",
        Verdict::NotApplicable => "not applicable",
        Verdict::Skipped => "skipped",
    }
}

fn level_word(l: Level) -> &'static str {
    match l {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
        Level::Practice => "REC",
        Level::May => "MAY",
    }
}

/// The order in which a rule's colour is chosen: the worst verdict among its instances.
const RULE_COLOUR: [Verdict; 8] = [
    Verdict::Failed,
    Verdict::KnownDeviation,
    Verdict::Warning,
    Verdict::Info,
    Verdict::Inconclusive,
    Verdict::Passed,
    Verdict::NotApplicable,
    Verdict::Skipped,
];

/// The SEGMENT ARRIVES steps the rule ids are named after (RFC 9293 3.10.7).
fn rule_group(prefix: &str) -> &'static str {
    match prefix {
        "CL" => "CLOSED",
        "LI" => "LISTEN",
        "SS" => "SYN-SENT",
        "SQ" => "SEQ check",
        "RS" => "RST bit",
        "SC" => "security",
        "SY" => "SYN bit",
        "AK" => "ACK field",
        "UR" => "URG bit",
        "TX" => "text",
        "FN" => "FIN bit",
        _ => "",
    }
}

fn index_html(m: &Matrix, out: &Path) -> String {
    let mut h = String::new();
    let differing = m.rows.iter().filter(|r| r.differs).count();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>tcpconform matrix</title><style>{STYLE}</style></head><body>\n\
         <h1>tcpconform matrix</h1>\n<p class=\"sub\">{} run{}, {} case instances, {} differ{} \
         between runs. Runs: {}.</p>\n",
        m.columns.len(),
        if m.columns.len() == 1 { "" } else { "s" },
        m.rows.len(),
        differing,
        if differing == 1 { "s" } else { "" },
        m.columns
            .iter()
            .map(|c| format!(
                "<b>{}</b> ({})",
                esc(&c.label),
                esc(&c.file.display().to_string())
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    h.push_str("<div class=\"overview\">");
    summary(&mut h, m);
    pictures(&mut h, m);
    h.push_str("</div>\n");
    filters(&mut h, m);
    table(&mut h, m, out);
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    h
}

fn summary(h: &mut String, m: &Matrix) {
    h.push_str(
        "<div class=\"totals\"><h2>Summary</h2>\n<table class=\"summary\"><thead><tr><th></th>",
    );
    for c in &m.columns {
        let _ = write!(h, "<th>{}</th>", esc(&c.label));
    }
    h.push_str("</tr></thead><tbody>\n<tr><th>case instances</th>");
    for c in &m.columns {
        let _ = write!(
            h,
            "<td class=\"num\">{}</td>",
            c.counts.iter().sum::<usize>()
        );
    }
    h.push_str("</tr>\n");
    for (i, v) in VERDICTS.into_iter().enumerate() {
        let _ = write!(h, "<tr><th>{}</th>", long(v));
        for c in &m.columns {
            let n = c.counts[i];
            let class = if n > 0 { v.name() } else { "none" };
            let _ = write!(h, "<td class=\"num v-{class}\">{n}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("<tr><th>not run (target stopped answering)</th>");
    for c in &m.columns {
        let _ = write!(h, "<td class=\"num\">{}</td>", c.not_run);
    }
    h.push_str("</tr>\n<tr><th>wall time</th>");
    for c in &m.columns {
        match c.wall_secs {
            Some(s) => {
                let _ = write!(h, "<td class=\"num\">{s:.1} s</td>");
            }
            None => h.push_str("<td></td>"),
        }
    }
    h.push_str("</tr>\n</tbody></table>\n");
    for c in m.columns.iter().filter(|c| c.target_unusable.is_some()) {
        let _ = writeln!(
            h,
            "<p><b>{}</b>: the target stopped answering: {}</p>",
            esc(&c.label),
            esc(c.target_unusable.as_deref().unwrap_or_default())
        );
    }
    h.push_str("<p class=\"legend\">");
    for v in VERDICTS {
        let _ = write!(
            h,
            "<span class=\"v-{}\">{}</span> {} ",
            v.name(),
            short(v),
            v.name()
        );
    }
    h.push_str("<span class=\"v-absent\">&mdash;</span> not in that run</p></div>\n");
}

/// Per run, the 55 SEGMENT ARRIVES rules as a grid, a row per step of RFC 9293 3.10.7, each
/// rule coloured by the worst verdict among the instances that claim it.
fn pictures(h: &mut String, m: &Matrix) {
    h.push_str(
        "<div class=\"rules\"><h2>SEGMENT ARRIVES rules (RFC 9293 3.10.7)</h2>\n<p class=\"sub\">Each rule in \
         the colour of the worst verdict among the cases that claim it; a click shows those \
         cases.</p><div class=\"pictures\">\n",
    );
    let mut groups: Vec<(&str, Vec<Rule>)> = Vec::new();
    for r in Rule::ALL {
        let prefix = r.id().split('-').next().unwrap_or_default();
        match groups.last_mut() {
            Some((p, rules)) if *p == prefix => rules.push(r),
            _ => groups.push((prefix, vec![r])),
        }
    }
    let width = groups.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
    for (k, c) in m.columns.iter().enumerate() {
        let counts = m.rule_counts(k);
        let _ = write!(
            h,
            "<div class=\"picture\"><h3>{}</h3><table>",
            esc(&c.label)
        );
        for (prefix, rules) in &groups {
            let _ = write!(h, "<tr><th>{}</th>", rule_group(prefix));
            for rule in rules {
                let n = counts
                    .iter()
                    .find(|(r, _)| r == rule)
                    .map(|(_, n)| *n)
                    .unwrap_or_default();
                let worst = RULE_COLOUR.into_iter().find(|v| {
                    VERDICTS
                        .iter()
                        .position(|x| x == v)
                        .is_some_and(|i| n[i] > 0)
                });
                let tally: Vec<String> = VERDICTS
                    .iter()
                    .zip(n)
                    .filter(|(_, n)| *n > 0)
                    .map(|(v, n)| format!("{n} {}", v.name()))
                    .collect();
                let tip = if tally.is_empty() {
                    "no case claims it".to_string()
                } else {
                    tally.join(", ")
                };
                let _ = write!(
                    h,
                    "<td class=\"v-{}\" title=\"{} (RFC 9293 {}): {tip}\"><a data-rule=\"{id}\" \
                     href=\"#rule={id}\" style=\"color:inherit;text-decoration:none\">{id}</a></td>",
                    worst.map_or("none", Verdict::name),
                    rule.id(),
                    rule.section(),
                    id = rule.id(),
                );
            }
            for _ in rules.len()..width {
                h.push_str("<td class=\"gap\"></td>");
            }
            h.push_str("</tr>");
        }
        h.push_str("</table></div>\n");
    }
    h.push_str("</div></div>\n");
}

fn filters(h: &mut String, m: &Matrix) {
    // Each area and every folder above it: `rules` selects `rules/listen` and its siblings.
    let mut areas: BTreeSet<String> = BTreeSet::new();
    for a in m.areas() {
        let mut prefix = String::new();
        for part in a.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            areas.insert(prefix.clone());
        }
    }
    h.push_str("<h2>Cases</h2>\n<div id=\"filters\"><label>area <select id=\"f-area\"><option value=\"\">all</option>");
    for a in &areas {
        let _ = write!(h, "<option value=\"{0}\">{0}</option>", esc(a));
    }
    h.push_str(
        "</select></label><label>level <select id=\"f-level\"><option value=\"\">all</option>",
    );
    for l in Level::ALL {
        let _ = write!(
            h,
            "<option value=\"{}\">{}</option>",
            l.name(),
            level_word(l)
        );
    }
    h.push_str("</select></label><label>verdict in any run <select id=\"f-verdict\"><option value=\"\">any</option>");
    for v in VERDICTS {
        let _ = write!(h, "<option value=\"{}\">{}</option>", v.name(), long(v));
    }
    h.push_str(
        "</select></label><label><input type=\"checkbox\" id=\"f-differs\"> only rows that \
         differ between runs</label><span id=\"rulefilter\" hidden>rule <b id=\"rulename\"></b> \
         <a href=\"#\" id=\"clearrule\">(all rules)</a></span><span id=\"shown\"></span></div>\n",
    );
}

fn table(h: &mut String, m: &Matrix, out: &Path) {
    h.push_str("<table class=\"matrix\"><thead><tr><th>case</th><th>level</th>");
    for c in &m.columns {
        let _ = write!(h, "<th>{}</th>", esc(&c.label));
    }
    h.push_str("</tr></thead><tbody>\n");
    let mut current: Option<&str> = None;
    let span = m.columns.len() + 2;
    for row in &m.rows {
        if current != Some(row.area.as_str()) {
            current = Some(&row.area);
            let name = if row.area.is_empty() {
                "(top level)"
            } else {
                &row.area
            };
            let _ = writeln!(
                h,
                "<tr class=\"area\" data-group=\"{}\"><th colspan=\"{span}\">{}</th></tr>",
                esc(&row.area),
                esc(name)
            );
        }
        row_html(h, row, out);
    }
    h.push_str("</tbody></table>\n");
}

fn row_html(h: &mut String, row: &Row, out: &Path) {
    let verdicts: Vec<&str> = row.verdicts().into_iter().map(Verdict::name).collect();
    let short_id = row
        .id
        .strip_prefix(&row.area)
        .and_then(|s| s.strip_prefix('/'))
        .unwrap_or(&row.id);
    let _ = write!(
        h,
        "<tr class=\"inst{}\" data-name=\"{}\" data-area=\"{}\" data-level=\"{}\" \
         data-differs=\"{}\" data-verdicts=\"{}\" data-rules=\"{}\"><td class=\"case\" \
         title=\"{}\">{} <small>{}</small><span class=\"title\">{}</span></td><td>{}</td>",
        if row.differs { " differs" } else { "" },
        esc(&row.name()),
        esc(&row.area),
        row.level.map_or("", Level::name),
        u8::from(row.differs),
        verdicts.join(" "),
        esc(&row.rules.join(" ")),
        esc(&row.name()),
        esc(short_id),
        row.ip.label(),
        esc(&row.title),
        row.level.map_or("", level_word),
    );
    for (k, cell) in row.cells.iter().enumerate() {
        match cell {
            Some(cell) => cell_html(h, k, row, cell, out),
            None => h.push_str("<td class=\"v v-absent\">&mdash;</td>"),
        }
    }
    h.push_str("</tr>\n");
}

fn cell_html(h: &mut String, k: usize, row: &Row, cell: &Cell, out: &Path) {
    let c = &cell.case;
    let tip = detail(c).map(|d| {
        let mut d = d;
        if d.chars().count() > 300 {
            d = d.chars().take(300).collect::<String>() + "...";
        }
        format!(" title=\"{}\"", esc(&d))
    });
    let _ = write!(
        h,
        "<td class=\"v v-{}\"{}><a class=\"t\" href=\"{}#{}\">{}</a>",
        c.verdict.name(),
        tip.unwrap_or_default(),
        trace_page(k, &row.area),
        row.anchor(),
        short(c.verdict)
    );
    if judged_failure(c.verdict) {
        if let Some(l) = c.shown_level() {
            let _ = write!(h, "<span class=\"lv\">{}</span>", level_word(l));
        }
    }
    if let Some(p) = &cell.pcap {
        let _ = write!(
            h,
            "<a class=\"pc\" href=\"{}\">pcap</a>",
            esc(&href(&relative(out, p)))
        );
    }
    if !c.variants.is_empty() {
        let _ = write!(
            h,
            "<span class=\"var\">{}</span>",
            esc(&c.variants.join(", "))
        );
    }
    h.push_str("</td>");
}

fn judged_failure(v: Verdict) -> bool {
    matches!(
        v,
        Verdict::Failed | Verdict::Warning | Verdict::Info | Verdict::KnownDeviation
    )
}

/// The trace page of run `k` for `area`: every instance of that area in that run.
fn trace_html(m: &Matrix, k: usize, area: &str, out: &Path) -> String {
    let column = &m.columns[k];
    let page_dir = out.join(trace_page(k, area));
    let page_dir = page_dir.parent().unwrap_or(out);
    let mut h = String::new();
    let shown_area = if area.is_empty() { "(top level)" } else { area };
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · {}</title>\
         <style>{STYLE}</style></head><body>\n<h1>{} · {}</h1>\n<p class=\"sub\">{} · \
         <a href=\"../../index.html#area={}\">back to the matrix</a></p>\n",
        esc(&column.label),
        esc(shown_area),
        esc(&column.label),
        esc(shown_area),
        esc(&column.file.display().to_string()),
        esc(&href(Path::new(area))),
    );
    for row in m.rows.iter().filter(|r| r.area == area) {
        let Some(Some(cell)) = row.cells.get(k) else {
            continue;
        };
        instance_html(&mut h, row, cell, page_dir);
    }
    h.push_str("</body></html>\n");
    h
}

fn instance_html(h: &mut String, row: &Row, cell: &Cell, page_dir: &Path) {
    let c: &SavedCase = &cell.case;
    let _ = write!(
        h,
        "<section class=\"inst\" id=\"{}\"><h2>{} <span class=\"badge v-{}\">{}</span></h2>\
         <p>{}</p><dl>",
        row.anchor(),
        esc(&row.name()),
        c.verdict.name(),
        c.verdict.name(),
        esc(&c.title)
    );
    let mut field = |name: &str, value: String| {
        if !value.is_empty() {
            let _ = write!(h, "<dt>{name}</dt><dd>{}</dd>", esc(&value));
        }
    };
    field("file", c.file.clone());
    field(
        "level",
        c.level.map_or(String::new(), |l| level_word(l).into()),
    );
    field("RFC", c.rfc.join(", "));
    field("rules claimed", c.cells.join(", "));
    field("variants", c.variants.join(", "));
    field("duration", format!("{:.3} s", c.duration_secs));
    if let Some(f) = &c.failure {
        let at = match f.line {
            Some(l) => format!("step {} (line {l})", f.step + 1),
            None => format!("step {}", f.step + 1),
        };
        field(
            "failed at",
            format!(
                "{at}, {}",
                f.level
                    .as_deref()
                    .and_then(Level::parse)
                    .map_or("", level_word)
            ),
        );
        field("message", f.message.clone());
        if let Some(b) = &f.baseline {
            field("known deviation", b.clone());
        }
    }
    if let Some(r) = &c.skip_reason {
        field("reason", r.clone());
    }
    h.push_str("</dl>");
    if let Some(d) = c.failure.as_ref().and_then(|f| f.diff.as_ref()) {
        let _ = write!(h, "<pre class=\"diff\">{}</pre>", esc(d));
    }
    if !c.trace.is_empty() {
        h.push_str("<pre class=\"trace\">");
        for e in &c.trace {
            let marker = match e.direction.as_str() {
                "sent" => '>',
                "received" => '<',
                "app" => '|',
                _ => '#',
            };
            let _ = writeln!(h, "{:>10.6}s {marker} {}", e.at_secs, esc(&e.text));
        }
        h.push_str("</pre>");
    }
    if let Some(p) = &cell.pcap {
        let _ = write!(
            h,
            "<p><a href=\"{}\">pcap</a></p>",
            esc(&href(&relative(page_dir, p)))
        );
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_controls() {
        assert_eq!(
            esc("<script>\"a\"&'b'\u{1b}[31m"),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;\\u{1b}[31m"
        );
    }
}
