//! `send`: the segment the tester injects (every header field, options, payload, the lies
//! it may tell) and `send: { icmp: ... }`.

use super::*;

pub(super) fn send(cx: &mut Cx<'_>, node: &Node) -> Option<Send> {
    let before = cx.diags.len();
    let f = cx.map_all(node, "send", SEND_FIELDS)?;
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

/// `icmp: { type: T, code: C, seq: EXPR, mtu: N }`.
pub(super) fn icmp_send(cx: &mut Cx<'_>, node: &Node) -> Option<IcmpSend> {
    let f = cx.map(node, "send.icmp", ICMP_FIELDS)?;
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
    let mtu = match f.get("mtu") {
        Some(n) => Some(cx.int(n, "send.icmp.mtu", 0, 65_535)? as u32),
        None => None,
    };
    Some(IcmpSend {
        icmp_type: icmp_type?,
        code: code?,
        seq: seq?,
        mtu,
    })
}

/// `data: N` (pattern octets) or `data: "text"`.
pub(super) fn payload(cx: &mut Cx<'_>, node: &Node, what: &str) -> Option<Vec<u8>> {
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

pub(super) fn send_options(cx: &mut Cx<'_>, node: &Node) -> Option<Vec<SendOption>> {
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
    // Every option is checked: each bad one is reported.
    all(items.iter().map(|item| send_option_item(cx, item)))
}

fn send_option_item(cx: &mut Cx<'_>, item: &Node) -> Option<SendOption> {
    match &item.kind {
        Kind::Map(entries) if entries.iter().any(|(k, _)| k.name == "raw") => {
            let f = cx.map(item, "a raw option", &["raw"])?;
            Some(SendOption::Raw(cx.hex(f.get("raw")?, "option raw")?))
        }
        Kind::Map(_) => {
            let f = cx.map(item, "an option", OPTION_FIELDS)?;
            let kind_node = f.req(cx, "kind")?;
            let kind = cx.int(kind_node, "option kind", 0, 255);
            let data = match f.get("data") {
                Some(d) => cx.hex(d, "option data"),
                None => Some(Vec::new()),
            };
            let (kind, data) = (kind? as u8, data?);
            if data.len() > 253 {
                cx.err(
                    item,
                    "option data longer than 253 bytes cannot be encoded (use { raw: ... })",
                );
                return None;
            }
            Some(SendOption::Unknown { kind, data })
        }
        Kind::Str(s) => send_option(cx, item, s),
        _ => {
            cx.err(
                item,
                format!(
                    "an option is a string ({OPTION_NAMES}), found {}",
                    item.describe()
                ),
            );
            None
        }
    }
}

/// One `name args...` option of a `send`.
pub(super) fn send_option(cx: &mut Cx<'_>, node: &Node, text: &str) -> Option<SendOption> {
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
        "ts" if arity(cx, 2, "ts VAL ECR") => {
            let val = cx.plain_expr(&arg_node(args[0]), "ts value");
            let ecr = cx.plain_expr(&arg_node(args[1]), "ts echo reply");
            SendOption::Timestamps {
                val: val?,
                ecr: ecr?,
            }
        }
        "sack" => {
            if args.is_empty() || args.len() > 4 {
                cx.err(
                    node,
                    format!("option `{text}`: expected `sack L:R ...` with 1 to 4 blocks"),
                );
                return None;
            }
            let blocks = all(args.iter().map(|a| {
                let Some((l, r)) = a.split_once(':') else {
                    cx.err(
                        node,
                        format!("option `{text}`: SACK block `{a}` must be `LEFT:RIGHT`"),
                    );
                    return None;
                };
                let left = cx.value(&arg_node(l), "SACK left edge", Space::Target);
                let right = cx.value(&arg_node(r), "SACK right edge", Space::Target);
                Some((left?, right?))
            }));
            SendOption::Sack(blocks?)
        }
        "tfo" => match args {
            [] => SendOption::FastOpen { cookie: false },
            [c] if c.eq_ignore_ascii_case("cookie") => SendOption::FastOpen { cookie: true },
            _ => {
                cx.err(
                    node,
                    format!("option `{text}`: expected `tfo` (a cookie request) or `tfo cookie`"),
                );
                return None;
            }
        },
        "uto" => match args {
            [t] => SendOption::Unknown {
                kind: USER_TIMEOUT_KIND,
                data: user_timeout_option(cx, node, t)?.to_vec(),
            },
            _ => {
                cx.err(
                    node,
                    format!("option `{text}`: expected `uto 30s` or `uto 5min` (RFC 5482)"),
                );
                return None;
            }
        },
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

/// The two octets after a User Timeout Option's length (RFC 5482 3): the granularity bit G (set:
/// minutes) and a 15-bit value, from `30s` or `5min`.
fn user_timeout_option(cx: &mut Cx<'_>, node: &Node, text: &str) -> Option<[u8; 2]> {
    let (digits, g) = if let Some(d) = text.strip_suffix("min") {
        (d, 0x8000)
    } else if let Some(d) = text.strip_suffix('s') {
        (d, 0)
    } else {
        cx.err(
            node,
            format!("`uto {text}`: give seconds (`uto 30s`) or minutes (`uto 5min`)"),
        );
        return None;
    };
    match digits.parse::<u16>() {
        Ok(v) if v <= 0x7fff => Some((g | v).to_be_bytes()),
        _ => {
            cx.err(
                node,
                format!("`uto {text}`: the value is 15 bits, 0 to 32767"),
            );
            None
        }
    }
}

pub(super) fn option_kind(cx: &mut Cx<'_>, node: &Node) -> Option<OptionKind> {
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
        "tfo" => OptionKind::Other(FAST_OPEN_KIND),
        "uto" => OptionKind::Other(USER_TIMEOUT_KIND),
        _ => {
            cx.err(node, format!("unknown option kind `{name}` (expected mss, wscale, sackOK, sack, ts, tfo, uto, nop, eol or a kind number)"));
            return None;
        }
    })
}

pub(super) fn kind_from_code(k: u8) -> OptionKind {
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
