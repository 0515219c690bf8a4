//! A case's top-level fields, its setup, its steps and the steps that hold other steps
//! (`one_of`), with the requirement level and `assume`.

use super::call::call;
use super::expect::expect;
use super::send::send;
use super::stats::isn_sample;
use super::stats::syn_flood;
use super::*;
use crate::case::requirements;
use reference_stack::Rule;

/// The top-level fields of a case, before preludes are inlined.
pub(crate) struct CaseDraft {
    pub case: Case,
    /// The `prelude:` node, to locate errors about it.
    pub prelude_node: Option<Node>,
    /// Whether the file gave `setup:` (a prelude may supply it otherwise).
    pub has_setup: bool,
}

/// Default port of `setup` when a case relies on its prelude's setup.
const DEFAULT_PORT: u16 = 8080;

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
    let before = cx.diags.len();
    let f = cx.map_all(root, "a case", CASE_FIELDS)?;

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
                } else if requirements::looks_like_id(word) {
                    if requirements::find(word).is_some() {
                        requirements.push(word.to_string());
                    } else {
                        let help = requirements::unknown_id_help(word);
                        cx.err(item, format!("unknown requirement id `{word}` ({help})"));
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
            if let Ok(rule) = c.parse::<Rule>() {
                cells.push(rule);
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
        if let Some(d) = cx.map_all(n, "defaults", DEFAULTS_FIELDS) {
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
    let f = cx.map(node, "setup", SETUP_FIELDS)?;
    let fastopen = match f.get("fastopen") {
        Some(n) => Some(cx.boolean(n, "setup.fastopen")?),
        None => None,
    };
    let opens: Vec<_> = f
        .entries
        .iter()
        .filter(|(k, _)| k.name != "fastopen")
        .collect();
    if opens.len() != 1 {
        cx.err(
            node,
            "setup takes exactly one of `listen: PORT`, `connect: PORT`, `closed: PORT`",
        );
        return None;
    }
    let (k, v) = opens.first()?;
    let port = cx.int(v, &format!("setup.{} port", k.name), 1, 65535)? as u16;
    if fastopen.is_some() && k.name != "connect" {
        cx.err(node, "setup `fastopen` only applies to `connect: PORT`");
        return None;
    }
    Some(match k.name.as_str() {
        "listen" => Setup::Listen { port },
        "connect" => Setup::Connect {
            port,
            fastopen: fastopen.unwrap_or(false),
        },
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
    let mut out: Vec<Step> = Vec::new();
    let mut ok = true;
    for item in items {
        match step(cx, item) {
            Some(s) => {
                let follows_expect = matches!(
                    out.last().map(|p| &p.kind),
                    Some(StepKind::Expect(_) | StepKind::ExpectAlso(_))
                );
                if matches!(s.kind, StepKind::ExpectAlso(_)) && !follows_expect {
                    cx.err(
                        item,
                        "expect_also must follow an `expect` (it looks again at the segment \
                         that step took)",
                    );
                    ok = false;
                }
                out.push(s)
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

pub(super) fn step(cx: &mut Cx<'_>, node: &Node) -> Option<Step> {
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
    // A bad `level` or a stray field is reported, and the step itself still checked.
    let before = cx.diags.len();
    let level = match entries.iter().find(|(k, _)| k.name == "level") {
        Some((_, n)) => level(cx, n),
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
    }
    let loc = cx.loc_key(key);
    let kind = match key.name.as_str() {
        "send" => StepKind::Send(Box::new(send(cx, value)?)),
        "expect" => StepKind::Expect(Box::new(expect(cx, value)?)),
        "expect_also" => {
            let e = expect(cx, value)?;
            if e.within.is_some() || e.after.is_some() {
                cx.err(
                    value,
                    "expect_also looks again at the segment the previous `expect` took: it has \
                     no `within` or `after` of its own",
                );
                return None;
            }
            StepKind::ExpectAlso(Box::new(e))
        }
        "expect_none" => StepKind::ExpectNone(cx.duration(value, "expect_none")?),
        "wait" => StepKind::Wait(cx.duration(value, "wait")?),
        "assume" => StepKind::Assume(assumption(cx, value)?),
        "fill_window" => StepKind::FillWindow(fill_window(cx, value)?),
        "state" => {
            let s = cx.string(value, "state")?;
            StepKind::State(s.parse::<TcpState>().map_err(|e| cx.err(value, e)).ok()?)
        }
        "call" => StepKind::Call(call(cx, value)?),
        "isn_sample" => StepKind::IsnSample(isn_sample(cx, value)?),
        "syn_flood" => StepKind::SynFlood(syn_flood(cx, value)?),
        _ => StepKind::OneOf(one_of(cx, value)?),
    };
    if cx.diags.len() > before {
        return None;
    }
    Some(Step { kind, loc, level })
}

/// `fill_window: { max }`: `max` in octets, 65536 to 256 MiB (default 16 MiB).
pub(super) fn fill_window(cx: &mut Cx<'_>, node: &Node) -> Option<FillWindow> {
    let f = cx.map(node, "fill_window", FILL_WINDOW_FIELDS)?;
    let max = match f.get("max") {
        Some(n) => cx.int(n, "fill_window max", 65_536, 256 << 20)? as u32,
        None => FillWindow::DEFAULT_MAX,
    };
    Some(FillWindow { max })
}

/// `assume: "<expr> <op> <expr>"`, `op` one of `<`, `<=`, `>`, `>=`, `==`, `!=`.
pub(super) fn assumption(cx: &mut Cx<'_>, node: &Node) -> Option<Assumption> {
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
pub(super) fn level(cx: &mut Cx<'_>, node: &Node) -> Option<Level> {
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

pub(super) fn one_of(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<Branch>> {
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
