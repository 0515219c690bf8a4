//! `expect`: the pattern a received segment must match, field by field, options included.

use super::send::option_kind;
use super::send::payload;
use super::*;

pub(super) fn expect(cx: &mut Cx<'_>, node: &Node) -> Option<Expect> {
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

pub(super) fn flag_match(cx: &mut Cx<'_>, node: &Node) -> Option<FlagMatch> {
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

pub(super) fn expect_options(cx: &mut Cx<'_>, node: &Node) -> Option<OptionsMatch> {
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
    let sack_first = match f.get("sack_first") {
        Some(n) => {
            let text = cx.string(n, "expect.options.sack_first")?;
            let blocks = sack_patterns(cx, n, &text)?;
            if blocks.len() != 1 {
                cx.err(
                    n,
                    "expect.options.sack_first is one SACK block `LEFT:RIGHT`",
                );
                return None;
            }
            blocks.into_iter().next()
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
        sack_first,
        padding_zero,
    })
}

pub(super) fn sack_patterns(
    cx: &mut Cx<'_>,
    node: &Node,
    text: &str,
) -> Option<Vec<(NumMatch, NumMatch)>> {
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
pub(super) fn option_patterns(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<OptionPattern>> {
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
