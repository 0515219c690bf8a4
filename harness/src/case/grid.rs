//! Grids: one case file, many cases. A `grid:` maps axis names to labelled values; every
//! combination is one instance with `${axis}` substituted and the steps kept or dropped by
//! their `when`/`unless` conditions, each located at its origin in the file.

use super::load::MAX_GRID_INSTANCES;
use super::validate::Cx;
use super::yaml::{Key, Kind, Node};

/// One combination of a grid (or the single instance of a plain case).
pub(super) struct Instance {
    pub(super) node: Node,
    pub(super) labels: Vec<(String, String)>,
    /// `[ESTABLISHED,rcv.nxt-1]`, empty without a grid.
    pub(super) suffix: String,
}

/// An axis: name and (label, value) pairs.
struct Axis {
    name: String,
    values: Vec<(String, Node)>,
}

pub(super) fn expand_grid(cx: &mut Cx<'_>, root: &Node) -> Vec<Instance> {
    let Kind::Map(entries) = &root.kind else {
        return vec![Instance {
            node: root.clone(),
            labels: Vec::new(),
            suffix: String::new(),
        }];
    };
    let Some((grid_key, grid)) = entries.iter().find(|(k, _)| k.name == "grid") else {
        let mut node = root.clone();
        substitute_all(cx, &mut node, &[], &[]);
        return vec![Instance {
            node,
            labels: Vec::new(),
            suffix: String::new(),
        }];
    };
    let Some(axes) = parse_axes(cx, grid_key, grid) else {
        return Vec::new();
    };
    let total = axes
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
    match total {
        Some(n) if n <= MAX_GRID_INSTANCES => {}
        _ => {
            cx.err(
                grid,
                format!("grid expands into more than {MAX_GRID_INSTANCES} cases"),
            );
            return Vec::new();
        }
    }
    let template = Node {
        kind: Kind::Map(
            entries
                .iter()
                .filter(|(k, _)| k.name != "grid")
                .cloned()
                .collect(),
        ),
        line: root.line,
        col: root.col,
    };
    // Check conditions once against the axes, so their errors are reported once.
    check_conditions(cx, &template, &axes);
    if !cx.diags.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut idx = vec![0usize; axes.len()];
    loop {
        let chosen: Vec<(String, String)> = axes
            .iter()
            .zip(&idx)
            .filter_map(|(a, &i)| a.values.get(i).map(|(l, _)| (a.name.clone(), l.clone())))
            .collect();
        let values: Vec<(&str, &str, &Node)> = axes
            .iter()
            .zip(&idx)
            .filter_map(|(a, &i)| {
                a.values
                    .get(i)
                    .map(|(l, v)| (a.name.as_str(), l.as_str(), v))
            })
            .collect();
        let mut node = template.clone();
        substitute_all(cx, &mut node, &values, &axes);
        filter_steps(&mut node, &chosen);
        let suffix = format!(
            "[{}]",
            chosen
                .iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        out.push(Instance {
            node,
            labels: chosen,
            suffix,
        });
        // Odometer over the axes, last axis fastest.
        let mut pos = axes.len();
        loop {
            if pos == 0 {
                return if cx.diags.is_empty() { out } else { Vec::new() };
            }
            pos -= 1;
            if let Some(slot) = idx.get_mut(pos) {
                *slot += 1;
                if *slot < axes.get(pos).map_or(0, |a| a.values.len()) {
                    break;
                }
                *slot = 0;
            }
        }
    }
}

fn parse_axes(cx: &mut Cx<'_>, key: &Key, grid: &Node) -> Option<Vec<Axis>> {
    let Kind::Map(entries) = &grid.kind else {
        cx.err(
            grid,
            format!(
                "grid must map axis names to lists of values, found {}",
                grid.describe()
            ),
        );
        return None;
    };
    if entries.is_empty() {
        cx.err_at(key.line, key.col, "grid needs at least one axis");
        return None;
    }
    let mut axes = Vec::new();
    for (k, v) in entries {
        if k.name.is_empty()
            || !k
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            cx.err_at(
                k.line,
                k.col,
                format!("bad axis name `{}` (letters, digits and _ only)", k.name),
            );
            return None;
        }
        let values: Vec<(String, Node)> = match &v.kind {
            Kind::Seq(items) => {
                let mut vals = Vec::new();
                for i in items {
                    let Some(t) = i.scalar_text() else {
                        cx.err(i, format!("grid axis `{}`: a list value must be a scalar (use a mapping `label: value` for structured values)", k.name));
                        return None;
                    };
                    vals.push((t, i.clone()));
                }
                vals
            }
            Kind::Map(pairs) => pairs
                .iter()
                .map(|(l, n)| (l.name.clone(), n.clone()))
                .collect(),
            _ => {
                cx.err(
                    v,
                    format!(
                        "grid axis `{}` must be a list or a mapping of label: value, found {}",
                        k.name,
                        v.describe()
                    ),
                );
                return None;
            }
        };
        if values.is_empty() {
            cx.err(v, format!("grid axis `{}` has no values", k.name));
            return None;
        }
        for (i, (l, _)) in values.iter().enumerate() {
            if values.iter().take(i).any(|(m, _)| m == l) {
                cx.err(
                    v,
                    format!("grid axis `{}`: label `{l}` appears twice", k.name),
                );
                return None;
            }
        }
        axes.push(Axis {
            name: k.name.clone(),
            values,
        });
    }
    Some(axes)
}

/// Replaces `${axis}` / `${axis.field}` in every string of `node`. A string that is exactly one
/// placeholder takes the axis value's whole node (a list, a mapping, a number).
fn substitute_all(cx: &mut Cx<'_>, node: &mut Node, values: &[(&str, &str, &Node)], axes: &[Axis]) {
    match &mut node.kind {
        Kind::Seq(items) => items
            .iter_mut()
            .for_each(|i| substitute_all(cx, i, values, axes)),
        Kind::Map(entries) => entries
            .iter_mut()
            .for_each(|(_, v)| substitute_all(cx, v, values, axes)),
        Kind::Str(s) if s.contains("${") => {
            let text = s.clone();
            if let Some(new) = substitute(cx, node, &text, values, axes) {
                *node = new;
            }
        }
        _ => {}
    }
}

fn substitute(
    cx: &mut Cx<'_>,
    at: &Node,
    text: &str,
    values: &[(&str, &str, &Node)],
    axes: &[Axis],
) -> Option<Node> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            cx.err(at, format!("unclosed `${{` in `{text}`"));
            return None;
        };
        let name = after[..end].trim();
        let (axis, field) = match name.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (name, None),
        };
        let Some((_, label, value)) = values.iter().find(|(a, _, _)| *a == axis) else {
            let known: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
            let msg = if known.is_empty() {
                format!("`${{{name}}}` refers to a grid axis, but the case has no `grid`")
            } else {
                format!(
                    "`${{{name}}}`: unknown grid axis `{axis}` (axes: {})",
                    known.join(", ")
                )
            };
            cx.err(at, msg);
            return None;
        };
        let value: &Node = match field {
            None => value,
            Some(f) => match value.get(f) {
                Some(v) => v,
                None => {
                    cx.err(
                        at,
                        format!("`${{{name}}}`: the value of axis `{axis}` has no field `{f}`"),
                    );
                    return None;
                }
            },
        };
        let whole = start == 0 && end + 3 == rest.len() && out.is_empty();
        if whole {
            let mut n = value.clone();
            relocate(&mut n, at.line, at.col);
            return Some(n);
        }
        // Spliced into text, a structured value stands for its label.
        let t = match (field, value.scalar_text()) {
            (_, Some(t)) => t,
            (None, None) => label.to_string(),
            (Some(_), None) => {
                cx.err(
                    at,
                    format!(
                        "`${{{name}}}` is {} and cannot be spliced into text",
                        value.describe()
                    ),
                );
                return None;
            }
        };
        out.push_str(&t);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(Node {
        kind: Kind::Str(out),
        line: at.line,
        col: at.col,
    })
}

/// Errors inside a substituted value point at the placeholder that brought it in.
fn relocate(n: &mut Node, line: usize, col: usize) {
    n.line = line;
    n.col = col;
    match &mut n.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|i| relocate(i, line, col)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            k.line = line;
            k.col = col;
            relocate(v, line, col)
        }),
        _ => {}
    }
}

/// The step lists of a case node: `steps` and every `one_of` variant inside, recursively.
fn step_lists_mut(node: &mut Node, f: &mut dyn FnMut(&mut Vec<Node>)) {
    let Some(steps) = map_get_mut(node, "steps") else {
        return;
    };
    walk_steps(steps, f);
}

fn walk_steps(list: &mut Node, f: &mut dyn FnMut(&mut Vec<Node>)) {
    let Kind::Seq(items) = &mut list.kind else {
        return;
    };
    f(items);
    for item in items.iter_mut() {
        if let Some(one_of) = map_get_mut(item, "one_of") {
            if let Kind::Map(branches) = &mut one_of.kind {
                for (_, b) in branches.iter_mut() {
                    walk_steps(b, f);
                }
            }
        }
    }
}

fn map_get_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.kind {
        Kind::Map(entries) => entries
            .iter_mut()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v),
        _ => None,
    }
}

/// `when: { axis: label | [labels] }` keeps a step if every listed axis has one of the labels;
/// `unless:` drops it in that case. Both keys are removed afterwards.
fn filter_steps(node: &mut Node, chosen: &[(String, String)]) {
    step_lists_mut(node, &mut |items| {
        items.retain(|step| {
            let when = step.get("when").is_none_or(|c| condition_holds(c, chosen));
            let unless = step
                .get("unless")
                .is_some_and(|c| condition_holds(c, chosen));
            when && !unless
        });
        for step in items.iter_mut() {
            if let Kind::Map(entries) = &mut step.kind {
                entries.retain(|(k, _)| k.name != "when" && k.name != "unless");
            }
        }
    });
}

fn condition_holds(cond: &Node, chosen: &[(String, String)]) -> bool {
    let Kind::Map(entries) = &cond.kind else {
        return false;
    };
    entries.iter().all(|(axis, want)| {
        let Some((_, label)) = chosen.iter().find(|(a, _)| *a == axis.name) else {
            return false;
        };
        match &want.kind {
            Kind::Seq(items) => items
                .iter()
                .any(|i| i.scalar_text().as_deref() == Some(label)),
            _ => want.scalar_text().as_deref() == Some(label),
        }
    })
}

/// Checks every `when`/`unless` against the axes (names and labels exist).
fn check_conditions(cx: &mut Cx<'_>, template: &Node, axes: &[Axis]) {
    let mut node = template.clone();
    let mut bad: Vec<(Node, String)> = Vec::new();
    step_lists_mut(&mut node, &mut |items| {
        for step in items.iter() {
            for key in ["when", "unless"] {
                let Some(cond) = step.get(key) else { continue };
                let Kind::Map(entries) = &cond.kind else {
                    bad.push((cond.clone(), format!("`{key}` must map grid axes to labels, e.g. `{key}: {{ state: [ESTABLISHED] }}`")));
                    continue;
                };
                for (axis, want) in entries {
                    let Some(a) = axes.iter().find(|a| a.name == axis.name) else {
                        let names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
                        let at = Node {
                            kind: Kind::Null,
                            line: axis.line,
                            col: axis.col,
                        };
                        bad.push((
                            at,
                            format!(
                                "`{key}` names unknown grid axis `{}` (axes: {})",
                                axis.name,
                                names.join(", ")
                            ),
                        ));
                        continue;
                    };
                    let wants: Vec<&Node> = match &want.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => vec![want],
                    };
                    for w in wants {
                        let label = w.scalar_text().unwrap_or_default();
                        if !a.values.iter().any(|(l, _)| *l == label) {
                            let labels: Vec<&str> =
                                a.values.iter().map(|(l, _)| l.as_str()).collect();
                            bad.push((
                                w.clone(),
                                format!(
                                    "`{key}`: axis `{}` has no value `{label}` (values: {})",
                                    a.name,
                                    labels.join(", ")
                                ),
                            ));
                        }
                    }
                }
            }
        }
    });
    for (n, msg) in bad {
        cx.err(&n, msg);
    }
}
