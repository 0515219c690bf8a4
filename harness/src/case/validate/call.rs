//! `call`: the application calls a case makes on the target.

use super::send::payload;
use super::*;

pub(super) fn call(cx: &mut Cx<'_>, node: &Node) -> Option<Call> {
    let simple = |name: &str| -> Option<CallKind> {
        Some(match name {
            "listen" => CallKind::Listen,
            "accept" => CallKind::Accept,
            "connect" => CallKind::Connect { fastopen: false },
            "close" => CallKind::Close,
            "abort" => CallKind::Abort,
            "release" => CallKind::Release,
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
    let mut fastopen = None;
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
            "fastopen" => fastopen = Some((cx.boolean(v, "call fastopen")?, v)),
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
                    "user_timeout" => {
                        let d = cx.duration(v, "user_timeout")?;
                        if d.subsec_nanos() % 1_000_000 != 0
                            || d.is_zero()
                            || d > Duration::from_secs(24 * 3600)
                        {
                            cx.err(
                                v,
                                "user_timeout must be whole milliseconds in 1ms..=24h \
                                 (TCP_USER_TIMEOUT counts milliseconds)",
                            );
                            return None;
                        }
                        CallKind::UserTimeout(d)
                    }
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
    if let Some((on, at)) = fastopen {
        match &mut kind {
            CallKind::Connect { fastopen } => *fastopen = on,
            _ => {
                cx.err(at, "`fastopen` in a call only applies to `connect: ~`");
                return None;
            }
        }
    }
    Some(Call { kind, error })
}

/// `keepalive: { idle: 1s, interval: 1s, count: 3 }`: every field required (the case states its
/// timing; stacks' defaults differ and the RFC's idle default is two hours, MUST-28).
pub(super) fn keepalive(cx: &mut Cx<'_>, node: &Node) -> Option<CallKind> {
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
    use std::time::Duration;

    fn keepalive_case(call: &str) -> Result<Vec<Case>, Vec<crate::case::diag::Diagnostic>> {
        let src = format!(
            "id: k\ntitle: t\nsetup: {{ listen: 80 }}\nsteps:\n  - call: {{ keepalive: {call} }}\n"
        );
        crate::case::load::load_str(std::path::Path::new("k.yaml"), &src)
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
