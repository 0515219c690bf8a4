//! The raw layer: a case file as a YAML tree where every node knows its line and column.
//!
//! serde-saphyr parses the text and gives each node a location ([`serde_saphyr::Spanned`]);
//! the validating layer (`validate.rs`) then walks this tree by hand, which lets one field take
//! several shapes (`seq: 5`, `seq: "rcv.nxt + 1"`, `seq: { abs: 5 }`) and every error name the
//! exact node, the unknown field and the valid alternatives.

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML node and its 1-based position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key (always read as a string) and its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub line: usize,
    pub col: usize,
}

impl Node {
    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "nothing (null)".into(),
            Kind::Bool(b) => format!("the boolean `{b}`"),
            Kind::Int(i) => format!("the number `{i}`"),
            Kind::Float(f) => format!("the number `{f}`"),
            Kind::Str(s) => format!("the string `{s}`"),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        }
    }

    /// The text of a scalar (numbers and booleans as written), `None` for collections/null.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// The value of `key` if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses one YAML document into a located tree. Never panics; hostile input (alias bombs,
/// deep nesting) is bounded by serde-saphyr's default budget.
pub(crate) fn parse(src: &str) -> Result<Node, SyntaxError> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans only: `flags: N` or `y` must stay letters, not become `false`/`true`.
    options.strict_booleans = true;
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(src, options) {
        Ok(root) => Ok(root.into()),
        Err(e) => {
            let (line, col) = e
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((1, 1));
            Err(SyntaxError {
                line: line.max(1),
                col: col.max(1),
                message: error_message(&e),
            })
        }
    }
}

/// The first line of serde-saphyr's message without its own `error: line L column C: ` prefix
/// (the loader prints its own location and snippet).
fn error_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let stripped = first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
        .filter(|(pos, _)| pos.contains("column"))
        .map(|(_, msg)| msg);
    let msg = stripped.unwrap_or(first);
    format!("YAML syntax error: {msg}")
}

/// The serde-facing tree; converted into [`Node`] right after parsing.
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl From<Spanned<Raw>> for Node {
    fn from(s: Spanned<Raw>) -> Node {
        let line = s.referenced.line() as usize;
        let col = s.referenced.column() as usize;
        let kind = match s.value {
            Raw::Null => Kind::Null,
            Raw::Bool(b) => Kind::Bool(b),
            Raw::Int(i) => Kind::Int(i),
            Raw::Float(f) => Kind::Float(f),
            Raw::Str(t) => Kind::Str(t),
            Raw::Seq(items) => Kind::Seq(items.into_iter().map(Node::from).collect()),
            Raw::Map(entries) => Kind::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = Key {
                            name: k.value,
                            line: k.referenced.line() as usize,
                            col: k.referenced.column() as usize,
                        };
                        (key, Node::from(v))
                    })
                    .collect(),
            ),
        };
        Node {
            kind,
            line: line.max(1),
            col: col.max(1),
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i.into()))
    }

    fn visit_u64<E>(self, i: u64) -> Result<Raw, E> {
        Ok(Raw::Int(i.into()))
    }

    fn visit_i128<E>(self, i: i128) -> Result<Raw, E> {
        Ok(Raw::Int(i))
    }

    fn visit_u128<E: de::Error>(self, i: u128) -> Result<Raw, E> {
        i128::try_from(i)
            .map(Raw::Int)
            .map_err(|_| E::custom("integer too large"))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Raw, E> {
        Ok(Raw::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::Str(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Raw, E> {
        Ok(Raw::Str(s))
    }

    fn visit_bytes<E>(self, b: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(b).into_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn located_tree_and_strict_booleans() {
        let n = parse("a:\n  - flags: N\n    seq: 0x10\n").expect("parses");
        let item = match &n.get("a").expect("a").kind {
            Kind::Seq(items) => items[0].clone(),
            other => panic!("{other:?}"),
        };
        let flags = item.get("flags").expect("flags");
        assert_eq!(flags.kind, Kind::Str("N".into()));
        assert_eq!((flags.line, flags.col), (2, 12));
        assert_eq!(item.get("seq").map(|s| &s.kind), Some(&Kind::Int(16)));
    }

    #[test]
    fn syntax_errors_are_located() {
        let e = parse("a: [1, 2\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 4));
        assert_eq!(e.message, "YAML syntax error: unclosed bracket '['");
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 1));
        assert!(e.message.contains("duplicate mapping key"));
    }
}
