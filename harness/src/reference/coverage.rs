//! `tcpconform coverage`: what the corpus exercises, measured on the reference stack from the
//! stack's own reports (each handled segment names its SEGMENT ARRIVES rules and the state it
//! met), not from what cases claim.
//!
//! The corpus runs under both RST/SYN profiles (RFC 5961 and RFC 793, MAY-12) because some rules
//! exist only in one of them (RS-1, SY-2, AK-1 vs SY-3).

use crate::case::model::Case;
use crate::case::{is_requirement_id, requirements};
use crate::run::runner::run_instance;
use crate::target::reference::{ReferenceTarget, SegmentKind};
use reference_stack::{RstPolicy, Rule, State};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// RFC 9293 requirement ids (rfc9293_requirements.tsv) that no packet exchange can show, with
/// the reason. Everything else is observable on the wire and should have a passing case.
/// Application interfaces whose effect a case can drive and see are observable: MUST-17 (Nagle
/// off, `call: nodelay`), MUST-24 and MUST-27 (keep-alives requested with a configured idle
/// time, `call: { keepalive: ... }`, then probes on the wire after exactly that time).
pub const NOT_OBSERVABLE: &[(&str, &str)] = &[
    ("MUST-21", "an application interface (setting R2), not a wire behaviour"),
    ("MUST-32", "an application notification (urgent data)"),
    ("MUST-33", "an application query (urgent data queued)"),
    ("MUST-43", "an application interface (local IP in OPEN)"),
    ("MUST-44", "internal to the host (asking IP for a source address)"),
    ("MUST-45", "internal to the host (source address choice)"),
    ("MUST-47", "an application interface (error reports)"),
    ("MUST-48", "an application interface (setting the Diffserv field)"),
    ("MUST-49", "a configuration knob (TTL)"),
    ("MUST-51", "an application interface (source route)"),
    ("MUST-52", "IPv4 source routing, which no test network here forwards"),
    ("MUST-53", "IPv4 source routing, which no test network here forwards"),
    ("SHLD-9", "an application notification (R1 reached)"),
    ("SHLD-13", "advice to applications"),
    ("SHLD-20", "an application interface (disabling error reports)"),
    ("SHLD-21", "an application interface (changing Diffserv)"),
    ("SHLD-22", "between TCP and IP inside the host"),
    ("SHLD-23", "advice to applications"),
    ("SHLD-24", "IPv4 source routing"),
    ("SHLD-25", "an application notification (ICMP Destination Unreachable)"),
    ("MAY-9", "an application interface (received Diffserv)"),
    ("MAY-14", "an application interface (FLUSH)"),
    ("MAY-15", "an application interface (PUSH on SEND)"),
    ("MAY-17", "an application notification (PSH)"),
    ("MAY-18", "a design choice (alternative congestion control)"),
    ("SHLD-10", "R1 only triggers advice to IP and the application; the retransmissions themselves are SHLD-11/MUST-22"),
    ("MAY-10", "supporting the IP Timestamp option looks the same on the wire as ignoring it (MUST-50)"),
    ("MAY-11", "supporting the IP Record Route option looks the same on the wire as ignoring it (MUST-50)"),
    ("MAY-4", "a retransmission with the same or with a new IPv4 Identification both conform (3.8.1), so no exchange can fail it"),
    ("SHLD-6", "needs an interface whose effective MTU varies packet to packet (header compression, 3.7.3); a fixed MTU is MUST-16/MUST-67 (options/mss-bounded-by-mtu)"),
];

/// Every requirement id of RFC 9293 Appendix B, as in rfc9293_requirements.tsv (119 ids).
pub fn requirement_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = Vec::new();
    for (prefix, n) in [("MUST-", 69), ("SHLD-", 31), ("MAY-", 18)] {
        for i in 1..=n {
            ids.push(Box::leak(format!("{prefix}{i}").into_boxed_str()));
        }
    }
    ids.push("REC-1");
    ids
}

/// What one coverage run found.
#[derive(Debug, Default)]
pub struct Coverage {
    /// Rule -> segments that went through it.
    pub rules: BTreeMap<Rule, usize>,
    /// (state on arrival, segment kind) -> segments.
    pub grid: BTreeMap<(State, SegmentKind), usize>,
    /// Requirement ids named by at least one case that passed.
    pub requirements: BTreeSet<String>,
    /// (case id, rule) pairs a case claims in `cells` that the stack never reported for it.
    pub unmet_claims: Vec<(String, Rule)>,
    /// Case id -> every rule the stack reported for it (both IP versions and RST profiles): the
    /// stack's whole account, claimed or not, so that a rule reported where it does not apply
    /// shows too.
    pub reported: Vec<(String, BTreeSet<Rule>)>,
    /// Case instances that did not pass (coverage counts them anyway; they are listed).
    pub failing: Vec<String>,
    pub instances: usize,
}

/// Runs every case on every IP version it names, under both RST profiles.
pub fn measure(cases: &[Case]) -> Coverage {
    let mut cov = Coverage::default();
    for case in cases {
        let mut observed: BTreeSet<Rule> = BTreeSet::new();
        let mut passed_somewhere = false;
        for policy in [RstPolicy::Rfc5961, RstPolicy::Rfc793] {
            for &ip in &case.ip {
                let config = reference_stack::Config {
                    rst_policy: policy,
                    ..ReferenceTarget::default_config()
                };
                let mut target = ReferenceTarget::new(config);
                let result = run_instance(&mut target, case, ip, 0x00c0_ffee);
                cov.instances += 1;
                if result.passed() {
                    passed_somewhere |= policy == RstPolicy::Rfc5961;
                } else if policy == RstPolicy::Rfc5961 {
                    cov.failing.push(result.display_name());
                }
                for h in target.take_handled() {
                    if h.kind != SegmentKind::Other {
                        *cov.grid.entry((h.state, h.kind)).or_default() += 1;
                    }
                    for r in h.rules {
                        *cov.rules.entry(r).or_default() += 1;
                        observed.insert(r);
                    }
                }
            }
        }
        if passed_somewhere {
            cov.requirements.extend(case.requirements.iter().cloned());
        }
        for cell in &case.cells {
            if !observed.contains(cell) {
                cov.unmet_claims.push((case.id.clone(), *cell));
            }
        }
        cov.reported.push((case.id.clone(), observed));
    }
    cov
}

impl Coverage {
    pub fn rules_covered(&self) -> usize {
        Rule::ALL
            .iter()
            .filter(|r| self.rules.contains_key(r))
            .count()
    }

    pub fn cells_covered(&self) -> usize {
        self.grid.len()
    }

    /// Observable requirement ids without a passing case.
    pub fn requirements_missing(&self) -> Vec<&'static str> {
        requirement_ids()
            .into_iter()
            .filter(|id| !NOT_OBSERVABLE.iter().any(|(n, _)| n == id))
            .filter(|id| !self.requirements.contains(*id))
            .collect()
    }

    /// RFC 9293 requirement ids with a passing case.
    pub fn rfc9293_covered(&self) -> usize {
        self.requirements
            .iter()
            .filter(|r| is_requirement_id(r))
            .count()
    }

    /// Per RFC of the requirements table (`case::requirements`), in table order: the RFC, its
    /// observable requirement ids with a passing case, and those without.
    pub fn other_rfcs(&self) -> Vec<OtherRfc> {
        requirements::rfcs()
            .into_iter()
            .map(|rfc| {
                let rows = requirements::table().iter().filter(|r| r.rfc == rfc);
                let mut out = OtherRfc {
                    rfc,
                    total: 0,
                    observable: 0,
                    covered: Vec::new(),
                    missing: Vec::new(),
                };
                for r in rows {
                    out.total += 1;
                    if r.not_observable.is_some() {
                        continue;
                    }
                    out.observable += 1;
                    if self.requirements.contains(r.id) {
                        out.covered.push(r.id);
                    } else {
                        out.missing.push(r.id);
                    }
                }
                out
            })
            .collect()
    }

    /// The terminal report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let total_reqs = requirement_ids().len();
        let observable = total_reqs - NOT_OBSERVABLE.len();
        let _ = writeln!(
            out,
            "SEGMENT ARRIVES rules exercised: {}/55",
            self.rules_covered()
        );
        let missing: Vec<&str> = Rule::ALL
            .iter()
            .filter(|r| !self.rules.contains_key(r))
            .map(|r| r.id())
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(out, "  not exercised: {}", missing.join(", "));
        }
        let _ = writeln!(
            out,
            "state x segment grid cells: {}/88",
            self.cells_covered()
        );
        let _ = write!(out, "  {:<13}", "");
        for k in SegmentKind::GRID {
            let _ = write!(out, "{:>8}", k.name());
        }
        let _ = writeln!(out);
        for s in State::ALL {
            let _ = write!(out, "  {:<13}", s.name());
            for k in SegmentKind::GRID {
                match self.grid.get(&(s, k)) {
                    Some(n) => {
                        let _ = write!(out, "{n:>8}");
                    }
                    None => {
                        let _ = write!(out, "{:>8}", "-");
                    }
                }
            }
            let _ = writeln!(out);
        }
        let reqs_missing = self.requirements_missing();
        let _ = writeln!(
            out,
            "RFC 9293 requirements with a passing case: {}/{total_reqs} ({} of {observable} observable on the wire)",
            self.rfc9293_covered(),
            observable - reqs_missing.len()
        );
        if !reqs_missing.is_empty() {
            let _ = writeln!(
                out,
                "  observable, no passing case yet: {}",
                reqs_missing.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  not observable on the wire ({}):",
            NOT_OBSERVABLE.len()
        );
        for (id, why) in NOT_OBSERVABLE {
            let _ = writeln!(out, "    {id}: {why}");
        }
        for o in self.other_rfcs() {
            let _ = writeln!(
                out,
                "{}: {}/{} observable requirements with a passing case ({} in all)",
                spaced(o.rfc),
                o.covered.len(),
                o.observable,
                o.total
            );
            if !o.missing.is_empty() {
                let _ = writeln!(
                    out,
                    "  observable, no passing case yet: {}",
                    o.missing.join(", ")
                );
            }
        }
        if !self.unmet_claims.is_empty() {
            let _ = writeln!(
                out,
                "claims the reference did not confirm ({}):",
                self.unmet_claims.len()
            );
            for (case, cell) in &self.unmet_claims {
                let _ = writeln!(out, "  {case}: claims {cell}, never reported by the stack");
            }
        }
        if !self.failing.is_empty() {
            let _ = writeln!(
                out,
                "instances failing on the reference ({}):",
                self.failing.len()
            );
            for f in &self.failing {
                let _ = writeln!(out, "  {f}");
            }
        }
        out
    }

    /// A self-contained HTML page: the grid as coloured cells, the rules as a strip.
    pub fn html(&self) -> String {
        let mut h = String::new();
        h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>tcpconform coverage</title><style>");
        h.push_str("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:center;font-size:13px}");
        h.push_str(".hit{background:#7c7}.miss{background:#e77}.rule{display:inline-block;margin:2px;padding:3px 6px;border-radius:3px;font-size:12px}");
        h.push_str("</style></head><body><h1>tcpconform coverage (reference stack)</h1>");
        let _ = write!(
            h,
            "<h2>State x segment kind: {}/88 cells</h2><table><tr><th></th>",
            self.cells_covered()
        );
        for k in SegmentKind::GRID {
            let _ = write!(h, "<th>{}</th>", k.name());
        }
        h.push_str("</tr>");
        for s in State::ALL {
            let _ = write!(h, "<tr><th>{}</th>", s.name());
            for k in SegmentKind::GRID {
                match self.grid.get(&(s, k)) {
                    Some(n) => {
                        let _ = write!(h, "<td class=\"hit\">{n}</td>");
                    }
                    None => h.push_str("<td class=\"miss\">0</td>"),
                }
            }
            h.push_str("</tr>");
        }
        let _ = write!(
            h,
            "</table><h2>SEGMENT ARRIVES rules: {}/55</h2><div>",
            self.rules_covered()
        );
        for r in Rule::ALL {
            let n = self.rules.get(&r).copied().unwrap_or(0);
            let class = if n > 0 { "hit" } else { "miss" };
            let _ = write!(
                h,
                "<span class=\"rule {class}\" title=\"RFC 9293 {}: {n} segments\">{}</span>",
                r.section(),
                r.id()
            );
        }
        let missing = self.requirements_missing();
        let _ = write!(
            h,
            "</div><h2>RFC 9293 requirements with a passing case: {}</h2><p>Observable without a case: {}</p>",
            self.rfc9293_covered(),
            if missing.is_empty() { "none".to_string() } else { missing.join(", ") }
        );
        for o in self.other_rfcs() {
            let _ = write!(
                h,
                "<h2>{}: {}/{} observable requirements with a passing case</h2><p>Observable without a case: {}</p>",
                spaced(o.rfc),
                o.covered.len(),
                o.observable,
                if o.missing.is_empty() { "none".to_string() } else { o.missing.join(", ") }
            );
        }
        h.push_str("</body></html>\n");
        h
    }
}

/// One RFC's line of the coverage report.
#[derive(Debug)]
pub struct OtherRfc {
    /// `RFC2018`.
    pub rfc: &'static str,
    pub total: usize,
    pub observable: usize,
    pub covered: Vec<&'static str>,
    pub missing: Vec<&'static str>,
}

/// `RFC2018` -> `RFC 2018`.
fn spaced(rfc: &str) -> String {
    format!("RFC {}", rfc.trim_start_matches("RFC"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids of other RFCs count per RFC, only observable ones, and not as RFC 9293's.
    #[test]
    fn other_rfcs_count_their_own_observable_ids() {
        let mut cov = Coverage::default();
        for id in ["MUST-11", "RFC2018-MUST-10", "RFC2018-MAY-2"] {
            cov.requirements.insert(id.to_string());
        }
        assert_eq!(cov.rfc9293_covered(), 1);
        let rfc2018 = cov
            .other_rfcs()
            .into_iter()
            .find(|o| o.rfc == "RFC2018")
            .expect("RFC 2018 in the table");
        assert_eq!(rfc2018.covered, vec!["RFC2018-MUST-10"]);
        assert_eq!(rfc2018.total, 20);
        assert_eq!(rfc2018.observable, 17);
        assert!(!rfc2018.missing.contains(&"RFC2018-MAY-2"));
        assert!(rfc2018.missing.contains(&"RFC2018-MUST-4"));
        let text = cov.table();
        assert!(
            text.contains("RFC 2018: 1/17 observable requirements with a passing case (20 in all)"),
            "{text}"
        );
        assert!(cov.html().contains("RFC 2018: 1/17 observable"));
    }
}
