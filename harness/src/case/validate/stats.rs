//! The statistical and load steps: `isn_sample` and `syn_flood`.

use super::*;

/// `isn_sample: { count, same_tuple, gap }`.
pub(super) fn isn_sample(cx: &mut Cx<'_>, node: &Node) -> Option<IsnSample> {
    let f = cx.map(node, "isn_sample", ISN_SAMPLE_FIELDS)?;
    let same_tuple = match f.get("same_tuple") {
        Some(n) => cx.boolean(n, "isn_sample same_tuple")?,
        None => false,
    };
    // The statistics need enough samples to mean something (see run/stats/isn.rs): 32 increments
    // already put a random generator's estimates far from every threshold; 3 samples give the
    // two increments a clock check needs. The upper bounds keep one case under a minute.
    let (lo, hi) = if same_tuple {
        (3, 10_000)
    } else {
        (32, 16_000)
    };
    let count_node = f.req(cx, "count")?;
    let count = cx.int(count_node, "isn_sample count", lo, hi)? as u32;
    let gap = match f.get("gap") {
        Some(n) => {
            let g = cx.duration(n, "isn_sample gap")?;
            if same_tuple && g.is_zero() {
                cx.err(n, "isn_sample gap must be more than 0 with `same_tuple: true` (the clock must tick between two samples)");
                return None;
            }
            if g > Duration::from_secs(10) {
                cx.err(n, "isn_sample gap must be at most 10s");
                return None;
            }
            g
        }
        None if same_tuple => Duration::from_millis(10),
        None => Duration::ZERO,
    };
    Some(IsnSample {
        count,
        same_tuple,
        gap,
    })
}

/// `syn_flood: { count, sources, drain, answered_first, others, connect_within }`.
pub(super) fn syn_flood(cx: &mut Cx<'_>, node: &Node) -> Option<SynFlood> {
    let f = cx.map(node, "syn_flood", SYN_FLOOD_FIELDS)?;
    let count_node = f.req(cx, "count")?;
    let sources_node = f.req(cx, "sources")?;
    let sources = match cx.string(sources_node, "syn_flood sources")?.as_str() {
        "spoofed" => FloodSources::Spoofed,
        "tester" => FloodSources::Tester,
        other => {
            cx.err(
                sources_node,
                format!("unknown syn_flood sources `{other}` (expected spoofed or tester)"),
            );
            return None;
        }
    };
    // `tester` sources use one port each of the 16384 dynamic ports (RFC 6335 6).
    let max = match sources {
        FloodSources::Spoofed => 100_000,
        FloodSources::Tester => 16_000,
    };
    let count = cx.int(count_node, "syn_flood count", 1, max)? as u32;
    let drain = match f.get("drain") {
        Some(n) => cx.duration(n, "syn_flood drain")?,
        None => Duration::from_millis(500),
    };
    let answered_first = match f.get("answered_first") {
        Some(n) => {
            let v = cx.int(n, "syn_flood answered_first", 0, i128::from(count))? as u32;
            if v > 0 && sources == FloodSources::Spoofed {
                cx.err(n, "syn_flood answered_first needs `sources: tester` (answers to spoofed sources cannot be told apart in order)");
                return None;
            }
            v
        }
        None => 0,
    };
    let others = match f.get("others") {
        Some(n) => {
            // A single name is a list of one; each error points at its item.
            let items: Vec<&Node> = match &n.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![n],
            };
            let mut out = Vec::new();
            for item in items {
                let name = cx.string(item, "syn_flood others")?;
                let Some(r) = SynReply::ALL.iter().copied().find(|r| r.name() == name) else {
                    cx.err(
                        item,
                        format!(
                            "unknown syn_flood answer `{name}` (expected syn_ack, rst or silence)"
                        ),
                    );
                    return None;
                };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            if out.is_empty() {
                cx.err(n, "syn_flood others must allow at least one answer");
                return None;
            }
            out.sort();
            out
        }
        None => vec![SynReply::SynAck, SynReply::Silence],
    };
    let connect_within = match f.get("connect_within") {
        Some(n) => {
            let d = cx.duration(n, "syn_flood connect_within")?;
            if d < Duration::from_secs(1) {
                cx.err(n, "syn_flood connect_within must be at least 1s (one SYN retransmission timeout, RFC 6298 2.1)");
                return None;
            }
            Some(d)
        }
        None => None,
    };
    Some(SynFlood {
        count,
        sources,
        drain,
        answered_first,
        others,
        connect_within,
    })
}
