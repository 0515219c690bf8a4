//! The statistical and load steps: `isn_sample` and `syn_flood`.

use super::*;

/// `isn_sample: { count, same_tuple, gap }`.
pub(super) fn isn_sample(cx: &mut Cx<'_>, node: &Node) -> Option<IsnSample> {
    let before = cx.diags.len();
    let f = cx.map_all(node, "isn_sample", ISN_SAMPLE_FIELDS)?;
    let same_tuple = match f.get("same_tuple") {
        Some(n) => cx.boolean(n, "isn_sample same_tuple"),
        None => Some(false),
    };
    // The bounds below depend on it; a bad value is reported, the rest checked as fresh tuples.
    let (same_tuple_ok, same_tuple) = (same_tuple.is_some(), same_tuple.unwrap_or(false));
    // The statistics need enough samples to mean something (see run/stats/isn.rs): 32 increments
    // already put a random generator's estimates far from every threshold; 3 samples give the
    // two increments a clock check needs. The upper bounds keep one case under a minute.
    let (lo, hi) = if same_tuple {
        (3, 10_000)
    } else {
        (32, 16_000)
    };
    let count = f
        .req(cx, "count")
        .and_then(|n| cx.int(n, "isn_sample count", lo, hi));
    let gap = match f.get("gap") {
        Some(n) => cx.duration(n, "isn_sample gap").and_then(|g| {
            if same_tuple && g.is_zero() {
                cx.err(n, "isn_sample gap must be more than 0 with `same_tuple: true` (the clock must tick between two samples)");
                return None;
            }
            if g > Duration::from_secs(10) {
                cx.err(n, "isn_sample gap must be at most 10s");
                return None;
            }
            Some(g)
        }),
        None if same_tuple => Some(Duration::from_millis(10)),
        None => Some(Duration::ZERO),
    };
    if cx.diags.len() > before || !same_tuple_ok {
        return None;
    }
    let (count, gap) = (count? as u32, gap?);
    Some(IsnSample {
        count,
        same_tuple,
        gap,
    })
}

/// `syn_flood: { count, sources, drain, answered_first, others, connect_within }`.
pub(super) fn syn_flood(cx: &mut Cx<'_>, node: &Node) -> Option<SynFlood> {
    let before = cx.diags.len();
    let f = cx.map_all(node, "syn_flood", SYN_FLOOD_FIELDS)?;
    let count_node = f.req(cx, "count");
    let sources =
        f.req(cx, "sources")
            .and_then(|n| match cx.string(n, "syn_flood sources")?.as_str() {
                "spoofed" => Some(FloodSources::Spoofed),
                "tester" => Some(FloodSources::Tester),
                other => {
                    cx.err(
                        n,
                        format!("unknown syn_flood sources `{other}` (expected spoofed or tester)"),
                    );
                    None
                }
            });
    // `tester` sources use one port each of the 16384 dynamic ports (RFC 6335 6); checked
    // against the larger bound when `sources` is bad, so that the count's own error shows.
    let max = match sources {
        Some(FloodSources::Tester) => 16_000,
        _ => 100_000,
    };
    let count = count_node.and_then(|n| cx.int(n, "syn_flood count", 1, max));
    let drain = match f.get("drain") {
        Some(n) => cx.duration(n, "syn_flood drain"),
        None => Some(Duration::from_millis(500)),
    };
    let answered_first = match f.get("answered_first") {
        Some(n) => cx
            .int(n, "syn_flood answered_first", 0, count.unwrap_or(max))
            .and_then(|v| {
                if v > 0 && sources == Some(FloodSources::Spoofed) {
                    cx.err(n, "syn_flood answered_first needs `sources: tester` (answers to spoofed sources cannot be told apart in order)");
                    return None;
                }
                Some(v as u32)
            }),
        None => Some(0),
    };
    let others = match f.get("others") {
        Some(n) => {
            // A single name is a list of one; each error points at its item.
            let items: Vec<&Node> = match &n.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![n],
            };
            let replies = all(items.into_iter().map(|item| {
                let name = cx.string(item, "syn_flood others")?;
                let r = SynReply::ALL.iter().copied().find(|r| r.name() == name);
                if r.is_none() {
                    cx.err(
                        item,
                        format!(
                            "unknown syn_flood answer `{name}` (expected syn_ack, rst or silence)"
                        ),
                    );
                }
                r
            }));
            replies.and_then(|mut out| {
                out.sort();
                out.dedup();
                if out.is_empty() {
                    cx.err(n, "syn_flood others must allow at least one answer");
                    return None;
                }
                Some(out)
            })
        }
        None => Some(vec![SynReply::SynAck, SynReply::Silence]),
    };
    let connect_within = match f.get("connect_within") {
        Some(n) => cx.duration(n, "syn_flood connect_within").and_then(|d| {
            if d < Duration::from_secs(1) {
                cx.err(n, "syn_flood connect_within must be at least 1s (one SYN retransmission timeout, RFC 6298 2.1)");
                return None;
            }
            Some(Some(d))
        }),
        None => Some(None),
    };
    if cx.diags.len() > before {
        return None;
    }
    Some(SynFlood {
        count: count? as u32,
        sources: sources?,
        drain: drain?,
        answered_first: answered_first?,
        others: others?,
        connect_within: connect_within?,
    })
}
