//! `expect`: the pattern a received segment must match, field by field, options included.

use super::send::option_kind;
use super::send::payload;
use super::*;

pub(super) fn expect(cx: &mut Cx<'_>, node: &Node) -> Option<Expect> {
    let before = cx.diags.len();
    let f = cx.map_all(node, "expect", EXPECT_FIELDS)?;
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
    let interval = f.get("interval").and_then(|n| interval(cx, n));
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
        interval,
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
            let sets = all(items.iter().map(|i| cx.flags(i, "expect.flags")));
            Some(FlagMatch::OneOf(sets?))
        }
        Kind::Map(_) => {
            let f = cx.map(node, "expect.flags", FLAG_MASK_FIELDS)?;
            let has = match f.get("has") {
                Some(n) => cx.flags(n, "expect.flags.has"),
                None => Some(Flags(0)),
            };
            let not = match f.get("not") {
                Some(n) => match &n.kind {
                    Kind::Seq(items) => all(items.iter().map(|i| cx.flags(i, "expect.flags.not")))
                        .map(|sets| Flags(sets.iter().fold(0, |bits, f| bits | f.0))),
                    _ => cx.flags(n, "expect.flags.not"),
                },
                None => Some(Flags(0)),
            };
            let (has, not) = (has?, not?);
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
    let before = cx.diags.len();
    let f = cx.map_all(node, "expect.options", EXPECT_OPTION_FIELDS)?;
    let kinds = |cx: &mut Cx<'_>, name: &str| -> Option<Vec<OptionKind>> {
        match f.get(name) {
            None => Some(Vec::new()),
            Some(n) => match &n.kind {
                Kind::Seq(items) => all(items.iter().map(|i| option_kind(cx, i))),
                _ => option_kind(cx, n).map(|k| vec![k]),
            },
        }
    };
    // Every part is checked before giving up, so that each mistake is reported.
    let contains = kinds(cx, "contains");
    let absent = kinds(cx, "absent");
    let exact = f.get("exact").map(|n| option_patterns(cx, n));
    let mss = f
        .get("mss")
        .map(|n| cx.num_match(n, "expect.options.mss", Space::None));
    let wscale = f
        .get("wscale")
        .map(|n| cx.num_match(n, "expect.options.wscale", Space::None));
    let ts = f.get("ts").map(|n| {
        let t = cx.map(n, "expect.options.ts", TS_FIELDS)?;
        let val = match t.get("val") {
            Some(v) => cx.num_match(v, "ts.val", Space::None),
            None => Some(NumMatch::Any),
        };
        let ecr = match t.get("ecr") {
            Some(v) => cx.num_match(v, "ts.ecr", Space::None),
            None => Some(NumMatch::Any),
        };
        Some(TsMatch {
            val: val?,
            ecr: ecr?,
        })
    });
    let sack = f.get("sack").map(|n| {
        let text = cx.string(n, "expect.options.sack")?;
        sack_patterns(cx, n, &text)
    });
    let sack_first = f.get("sack_first").map(|n| {
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
    });
    let tfo_cookie = f
        .get("tfo_cookie")
        .map(|n| cx.num_match(n, "expect.options.tfo_cookie", Space::None));
    let tfo = f.get("tfo").map(|n| cx.hex(n, "expect.options.tfo"));
    let padding_zero = match f.get("padding") {
        None => false,
        Some(n) => match &n.kind {
            Kind::Str(s) if s == "zero" => true,
            _ => {
                cx.err(n, "expect.options.padding must be `zero`");
                false
            }
        },
    };
    if cx.diags.len() > before {
        return None;
    }
    let (contains, absent) = (contains?, absent?);
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
    Some(OptionsMatch {
        contains,
        absent,
        exact: given(exact)?,
        mss: given(mss)?,
        wscale: given(wscale)?,
        ts: given(ts)?,
        sack: given(sack)?,
        sack_first: given(sack_first)?,
        padding_zero,
        tfo_cookie: given(tfo_cookie)?,
        tfo: given(tfo)?,
    })
}

/// An optional part that was checked: `Some(None)` when absent, `None` when it was bad.
fn given<T>(part: Option<Option<T>>) -> Option<Option<T>> {
    match part {
        None => Some(None),
        Some(v) => v.map(Some),
    }
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
    let out = all(text.split_whitespace().map(|block| {
        let Some((l, r)) = block.split_once(':') else {
            cx.err(node, format!("SACK block `{block}` must be `LEFT:RIGHT`"));
            return None;
        };
        let left = cx.num_match(&arg_node(l), "SACK left edge", Space::Tester);
        let right = cx.num_match(&arg_node(r), "SACK right edge", Space::Tester);
        Some((left?, right?))
    }))?;
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
    // Every option is checked: each bad one is reported.
    all(items.iter().map(|item| option_pattern(cx, item)))
}

fn option_pattern(cx: &mut Cx<'_>, item: &Node) -> Option<OptionPattern> {
    if let Kind::Map(_) = item.kind {
        let f = cx.map(item, "an option", OPTION_FIELDS)?;
        let kind_node = f.req(cx, "kind")?;
        let kind = cx.int(kind_node, "option kind", 0, 255)? as u8;
        let data = match f.get("data") {
            Some(d) => Some(cx.hex(d, "option data")?),
            None => None,
        };
        return Some(OptionPattern::Unknown { kind, data });
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
        "ts" if want(cx, 2, "ts VAL ECR") => {
            let val = cx.num_match(&arg(args[0]), "ts value", Space::None);
            let ecr = cx.num_match(&arg(args[1]), "ts echo reply", Space::None);
            OptionPattern::Timestamps {
                val: val?,
                ecr: ecr?,
            }
        }
        "sack" => OptionPattern::Sack(sack_patterns(cx, item, &args.join(" "))?),
        // Any Fast Open option, with or without a cookie.
        "tfo" if want(cx, 0, "tfo") => OptionPattern::Unknown {
            kind: FAST_OPEN_KIND,
            data: None,
        },
        // Any User Timeout Option, whatever its value.
        "uto" if want(cx, 0, "uto") => OptionPattern::Unknown {
            kind: USER_TIMEOUT_KIND,
            data: None,
        },
        "tfo" | "uto" | "nop" | "eol" | "sackok" | "sack_permitted" | "mss" | "wscale" | "ts" => {
            return None
        }
        _ => {
            cx.err(
                item,
                format!("unknown option `{name}` (expected {OPTION_NAMES})"),
            );
            return None;
        }
    };
    Some(p)
}

/// `interval: "1.5x..2.5x"`: a range of multiples of the previous expect's wait.
fn interval(cx: &mut Cx<'_>, node: &Node) -> Option<(f64, f64)> {
    let text = cx.string(node, "expect.interval")?;
    let factor = |s: &str| {
        s.trim()
            .strip_suffix('x')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|f| f.is_finite() && *f > 0.0)
    };
    match text.split_once("..").map(|(a, b)| (factor(a), factor(b))) {
        Some((Some(lo), Some(hi))) if lo <= hi => Some((lo, hi)),
        _ => {
            cx.err(
                node,
                format!(
                    "expect.interval must be a range of multiples of the previous wait, \
                     `LOx..HIx` with 0 < LO <= HI (e.g. \"1.5x..2.5x\"), found `{text}`"
                ),
            );
            None
        }
    }
}
