//! The JSON Schema of case files (`tcpconform schema`), for editors: save it and put
//! `# yaml-language-server: $schema=PATH` at the top of a case to get completion and checks.
//!
//! Generated from the language table (`lang.rs`) the validator takes its field names from.
//! The loader stays the authority: the schema cannot check expressions, sequence spaces or
//! ranges that depend on other fields, and it accepts a grid placeholder (`${axis}`) for any
//! value, as the loader does before it substitutes.

use serde_json::{json, Map, Value};

use super::lang::{self, Object, Ty};

/// The schema as pretty-printed JSON (draft 2020-12).
pub fn json_schema() -> String {
    serde_json::to_string_pretty(&schema()).unwrap_or_default()
}

/// The schema as a JSON value.
pub fn schema() -> Value {
    let mut defs = Map::new();
    for d in lang::DEFS {
        let mut v = ty(&d.ty);
        let doc = if d.name == "value" {
            format!("{} Variables: {}.", d.doc, lang::variables().join(", "))
        } else {
            d.doc.to_string()
        };
        describe(&mut v, &doc);
        defs.insert(d.name.to_string(), v);
    }
    defs.insert(
        PLACEHOLDER.to_string(),
        json!({
            "type": "string",
            "pattern": r"\$\{",
            "description": "Text with a grid placeholder ${axis} or ${axis.field}, replaced before the case is checked"
        }),
    );
    let mut case = object(&lang::CASE_OBJECT);
    case["description"] = json!("One TCP behaviour: segments sent, segments expected, calls and states, in order. See cases/README.md.");
    // The loader asks for `setup` unless a prelude provides it.
    case["anyOf"] = json!([{ "required": ["setup"] }, { "required": ["prelude"] }]);
    defs.insert("case".to_string(), case);
    let mut library = object(&lang::LIBRARY_OBJECT);
    describe(&mut library, "A prelude library (_preludes.yaml)");
    defs.insert("library".to_string(), library);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tcpconform.invalid/case.schema.json",
        "title": "tcpconform case",
        "description": "A case file, or a prelude library (_preludes.yaml). See cases/README.md.",
        "anyOf": [{ "$ref": "#/$defs/case" }, { "$ref": "#/$defs/library" }],
        "$defs": defs
    })
}

const PLACEHOLDER: &str = "placeholder";

/// The schema of one type. Every value may be a placeholder: shapes that do not accept any
/// string already are wrapped in `anyOf [shape, placeholder]`.
fn ty(t: &Ty) -> Value {
    let shape = match t {
        Ty::Text | Ty::Hex => return json!({ "type": "string" }),
        Ty::Scalar => return json!({ "type": ["string", "number", "boolean"] }),
        Ty::Any => return json!({}),
        Ty::Def(name) => return json!({ "$ref": format!("#/$defs/{name}") }),
        Ty::Int(min, max) => {
            let mut int = json!({ "type": "integer" });
            if *min != i64::MIN {
                int["minimum"] = json!(min);
            }
            if *max != i64::MAX {
                int["maximum"] = json!(max);
            }
            // The loader also reads integers written as text, decimal or 0x-hex.
            json!({ "anyOf": [int, { "type": "string", "pattern": r"^\s*([+-]?[0-9]+|0[xX][0-9a-fA-F]+)\s*$" }] })
        }
        Ty::IntEnum(values) => json!({ "enum": values }),
        Ty::Bool => json!({ "type": "boolean" }),
        Ty::Pattern(p) => json!({ "type": "string", "pattern": p }),
        Ty::Keyword(words, alone) => {
            json!({ "type": "string", "pattern": keyword_pattern(words, *alone) })
        }
        Ty::Enum(words) => json!({ "enum": words }),
        Ty::Names(f) => json!({ "enum": f() }),
        Ty::Nothing => json!({ "enum": [null, true] }),
        Ty::List(item) => json!({ "type": "array", "items": ty(item) }),
        Ty::OneOrList(item) => {
            json!({ "anyOf": [ty(item), { "type": "array", "items": ty(item) }] })
        }
        Ty::MapOf(value, min) => {
            let mut m = json!({ "type": "object", "additionalProperties": ty(value) });
            if *min > 0 {
                m["minProperties"] = json!(min);
            }
            m
        }
        Ty::Object(o) => object(o),
        Ty::AnyOf(tys) => json!({ "anyOf": tys.iter().map(ty).collect::<Vec<_>>() }),
    };
    json!({ "anyOf": [shape, { "$ref": format!("#/$defs/{PLACEHOLDER}") }] })
}

/// `^\s*([mM][sS][sS]|...)(\s|$)`: ECMA-262 regular expressions have no inline
/// case-insensitive flag, so each letter is a class.
fn keyword_pattern(words: &[&str], alone: bool) -> String {
    let any_case = |w: &str| -> String {
        w.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let alts: Vec<String> = words.iter().map(|w| any_case(w)).collect();
    let end = if alone { r"\s*$" } else { r"(\s|$)" };
    format!(r"^\s*({}){end}", alts.join("|"))
}

fn object(o: &Object) -> Value {
    let mut props = Map::new();
    for field in o.fields.iter().chain(o.extra) {
        let mut v = ty(&field.ty);
        describe(&mut v, field.doc);
        props.insert(field.name.to_string(), v);
    }
    let mut v = json!({
        "type": "object",
        "properties": props,
        "additionalProperties": false
    });
    if !o.required.is_empty() {
        v["required"] = json!(o.required);
    }
    if o.pick_one {
        let one: Vec<Value> = o
            .fields
            .iter()
            .map(|f| json!({ "required": [f.name] }))
            .collect();
        v["oneOf"] = Value::Array(one);
    }
    v
}

fn describe(v: &mut Value, doc: &str) {
    if let Value::Object(m) = v {
        m.insert("description".to_string(), json!(doc));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::validate::{
        CALLS, CASE_FIELDS, EXPECT_FIELDS, ISN_SAMPLE_FIELDS, SEND_FIELDS, STEP_KINDS,
        SYN_FLOOD_FIELDS,
    };

    /// The object schema inside `v`: through the placeholder `anyOf` and `$ref`s.
    fn obj<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
        if let Some(r) = v["$ref"].as_str() {
            let name = r.trim_start_matches("#/$defs/");
            return obj(root, &root["$defs"][name]);
        }
        if v.get("properties").is_some() {
            return v;
        }
        v["anyOf"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|x| obj(root, x))
                    .find(|x| x.get("properties").is_some())
            })
            .unwrap_or(&Value::Null)
    }

    #[test]
    fn schema_is_json_and_names_every_field_the_validator_knows() {
        let v: Value = serde_json::from_str(&json_schema()).expect("valid JSON");
        let step = obj(&v, &v["$defs"]["steps"]["anyOf"][0]["items"]);
        let call = obj(&v, &step["properties"]["call"]);
        for (fields, at) in [
            (CASE_FIELDS, &v["$defs"]["case"]),
            (STEP_KINDS, step),
            (SEND_FIELDS, obj(&v, &step["properties"]["send"])),
            (EXPECT_FIELDS, obj(&v, &step["properties"]["expect"])),
            (
                ISN_SAMPLE_FIELDS,
                obj(&v, &step["properties"]["isn_sample"]),
            ),
            (SYN_FLOOD_FIELDS, obj(&v, &step["properties"]["syn_flood"])),
            (CALLS, call),
        ] {
            for f in fields {
                assert!(at["properties"].get(*f).is_some(), "field {f}");
            }
        }
        // Enumerations come from the model: every rule id is a valid `cells` entry.
        fn enums(v: &Value, out: &mut Vec<usize>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::Array(a)) = m.get("enum") {
                        out.push(a.len());
                    }
                    m.values().for_each(|x| enums(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| enums(x, out)),
                _ => {}
            }
        }
        // Editors run patterns as ECMA-262 regular expressions: no inline flags such as (?i).
        let text = json_schema();
        assert!(!text.contains("(?"), "a pattern with an inline flag");
        let mut cells = Vec::new();
        enums(&v["$defs"]["case"]["properties"]["cells"], &mut cells);
        assert_eq!(cells, [55, 55], "one id, or a list of them");
    }
}
