//! The JSON Schema of case files (`tcpconform schema`), for editors: save it and put
//! `# yaml-language-server: $schema=PATH` at the top of a case to get completion and checks.
//!
//! Written by hand rather than derived: the model is the validated form, while the schema
//! describes what people type (several shapes per field). The loader stays the authority;
//! the schema is deliberately a little looser (it cannot check expressions or grid
//! placeholders).

use serde_json::{json, Value};

use super::expr::Var;
use super::model::{CallError, Level, TcpState};
use super::needs::Need;
use super::validate::{CASE_FIELDS, EXPECT_FIELDS, SEND_FIELDS};

/// The schema as pretty-printed JSON (draft 2020-12).
pub fn json_schema() -> String {
    serde_json::to_string_pretty(&schema()).unwrap_or_default()
}

fn schema() -> Value {
    let states: Vec<&str> = TcpState::ALL.iter().map(|s| s.name()).collect();
    let needs: Vec<&str> = Need::all().iter().map(|n| n.name()).collect();
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
    let vars: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
    let errors: Vec<&str> = CallError::ALL.iter().map(|e| e.name()).collect();
    let duration = json!({
        "type": "string",
        "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*(us|µs|ms|s|min)\s*$",
        "description": "A duration with a unit: 500us, 200ms, 1.5s, 2min"
    });
    let value = json!({
        "description": format!("An integer, an expression (+ - * parentheses, variables {}), abs(EXPR), or {{ abs: EXPR }}", vars.join(", ")),
        "anyOf": [
            { "type": "integer" },
            { "type": "string" },
            { "type": "object", "properties": { "abs": { "type": ["integer", "string"] } }, "required": ["abs"], "additionalProperties": false }
        ]
    });
    let matcher = json!({
        "description": "Exact value or expression, \"*\", \">= x\", \"<= x\", \"> x\", \"< x\", \"a..=b\", \"a..b\", or { min, max }",
        "anyOf": [
            { "$ref": "#/$defs/value" },
            { "type": "object", "properties": { "min": { "$ref": "#/$defs/value" }, "max": { "$ref": "#/$defs/value" } }, "additionalProperties": false }
        ]
    });
    let flags = json!({
        "type": "string",
        "pattern": "^(\\.|[SFRPAUECN]+)$",
        "description": "Flag letters S F R P A U E C N in any order, or . for none"
    });
    let option = json!({
        "description": "mss N, wscale N, sackOK, sack L:R ..., ts VAL ECR, nop, eol, { kind: K, data: \"hex\" }, { raw: \"hex\" }",
        "anyOf": [
            { "type": "string", "pattern": "^\\s*(mss|wscale|sackOK|sackok|sack_permitted|sack|ts|nop|eol)\\b" },
            { "type": "object", "properties": { "kind": { "type": "integer", "minimum": 0, "maximum": 255 }, "data": { "type": "string" } }, "required": ["kind"], "additionalProperties": false },
            { "type": "object", "properties": { "raw": { "type": "string" } }, "required": ["raw"], "additionalProperties": false }
        ]
    });
    let option_kind = json!({
        "anyOf": [
            { "enum": ["mss", "wscale", "sackOK", "sack", "ts", "nop", "eol"] },
            { "type": "integer", "minimum": 0, "maximum": 255 }
        ]
    });
    let kinds = json!({ "anyOf": [ { "$ref": "#/$defs/optionKind" }, { "type": "array", "items": { "$ref": "#/$defs/optionKind" } } ] });
    let ip_byte = json!({ "type": "integer", "minimum": 0, "maximum": 255 });
    let send = json!({
        "type": "object",
        "description": "A segment the tester injects. seq is relative to the tester's ISN, ack to the target's.",
        "properties": {
            "flags": { "$ref": "#/$defs/flags" },
            "seq": { "$ref": "#/$defs/value" },
            "ack": { "$ref": "#/$defs/value" },
            "win": { "$ref": "#/$defs/value" },
            "urg": { "$ref": "#/$defs/value" },
            "reserved": { "type": "integer", "minimum": 0, "maximum": 7 },
            "options": { "type": "array", "items": { "$ref": "#/$defs/option" } },
            "data": { "type": ["integer", "string"], "description": "N pattern octets, or text" },
            "hex": { "type": "string" },
            "doff": { "type": "integer", "minimum": 0, "maximum": 15 },
            "checksum": { "anyOf": [ { "enum": ["bad", "correct"] }, { "type": "integer", "minimum": 0, "maximum": 65535 } ] },
            "ttl": ip_byte,
            "tos": ip_byte,
            "df": { "type": "boolean" },
            "ip_id": { "type": "integer", "minimum": 0, "maximum": 65535 },
            "flow_label": { "type": "integer", "minimum": 0, "maximum": 1048575 },
            "ipv4_options": { "type": "string" },
            "src": { "type": "string", "description": "Another source address than the tester's (same IP version)" },
            "dst": { "type": "string", "description": "Another destination address than the target's (same IP version), e.g. a multicast group; the segment still goes to the target" },
            "raw": { "type": "string", "description": "The whole IP packet, hex" },
            "icmp": {
                "type": "object",
                "description": "An ICMP (ICMPv6 on IPv6) error from the tester quoting the target's segment with this seq",
                "properties": {
                    "type": { "type": "integer", "minimum": 0, "maximum": 255 },
                    "code": { "type": "integer", "minimum": 0, "maximum": 255 },
                    "seq": { "$ref": "#/$defs/value" }
                },
                "required": ["type", "code", "seq"],
                "additionalProperties": false
            }
        },
        "additionalProperties": false
    });
    let expect = json!({
        "type": "object",
        "description": "A segment the target must send. seq is relative to the target's ISN, ack to the tester's.",
        "properties": {
            "flags": { "anyOf": [
                { "$ref": "#/$defs/flags" },
                { "type": "array", "items": { "$ref": "#/$defs/flags" }, "minItems": 1 },
                { "type": "object", "properties": { "has": { "$ref": "#/$defs/flags" }, "not": { "anyOf": [ { "$ref": "#/$defs/flags" }, { "type": "array", "items": { "$ref": "#/$defs/flags" } } ] } }, "additionalProperties": false }
            ] },
            "seq": { "$ref": "#/$defs/match" },
            "ack": { "$ref": "#/$defs/match" },
            "win": { "$ref": "#/$defs/match" },
            "urg": { "$ref": "#/$defs/match" },
            "reserved": { "$ref": "#/$defs/match" },
            "len": { "$ref": "#/$defs/match" },
            "data": { "type": ["integer", "string"] },
            "hex": { "type": "string" },
            "ttl": { "$ref": "#/$defs/match" },
            "tos": { "$ref": "#/$defs/match" },
            "ecn": { "$ref": "#/$defs/match" },
            "within": { "$ref": "#/$defs/duration" },
            "after": { "$ref": "#/$defs/duration" },
            "options": { "anyOf": [
                { "type": "array", "items": { "$ref": "#/$defs/option" } },
                { "type": "object", "properties": {
                    "contains": { "$ref": "#/$defs/optionKinds" },
                    "absent": { "$ref": "#/$defs/optionKinds" },
                    "exact": { "type": "array", "items": { "$ref": "#/$defs/option" } },
                    "mss": { "$ref": "#/$defs/match" },
                    "wscale": { "$ref": "#/$defs/match" },
                    "ts": { "type": "object", "properties": { "val": { "$ref": "#/$defs/match" }, "ecr": { "$ref": "#/$defs/match" } }, "additionalProperties": false },
                    "sack": { "type": "string" },
                    "sack_first": { "type": "string", "description": "the first SACK block (LEFT:RIGHT); more may follow" },
                    "padding": { "enum": ["zero"], "description": "every octet after End of Option List is zero (MUST-69)" }
                  }, "additionalProperties": false }
            ] }
        },
        "additionalProperties": false
    });
    let calls = [
        "listen", "accept", "connect", "close", "abort", "nodelay", "shutdown",
    ];
    let call = json!({
        "anyOf": [
            { "enum": calls },
            { "type": "object", "properties": {
                "listen": { "type": "null" }, "accept": { "type": "null" },
                "connect": { "type": ["null", "string"], "description": "~ (the tester), or an IP address" },
                "close": { "type": "null" }, "abort": { "type": "null" }, "nodelay": { "type": "null" },
                "write": { "type": ["integer", "string"] },
                "write_hex": { "type": "string" },
                "read": { "type": "integer", "minimum": 1 },
                "expect": { "type": "string", "description": "Bytes a read must return, or eof" },
                "expect_hex": { "type": "string" },
                "shutdown": { "enum": ["read", "write", "both", null] },
                "keepalive": {
                    "type": "object",
                    "description": "Keep-alives on (RFC 9293 3.8.4): first probe after idle, then every interval, dropped after count unanswered probes; whole seconds",
                    "properties": {
                        "idle": { "$ref": "#/$defs/duration" },
                        "interval": { "$ref": "#/$defs/duration" },
                        "count": { "type": "integer", "minimum": 1, "maximum": 127 }
                    },
                    "required": ["idle", "interval", "count"],
                    "additionalProperties": false
                },
                "error": { "enum": errors }
              }, "additionalProperties": false }
        ]
    });
    let condition = json!({ "type": "object", "additionalProperties": { "anyOf": [ { "type": ["string", "integer"] }, { "type": "array", "items": { "type": ["string", "integer"] } } ] } });
    let step = json!({
        "type": "object",
        "minProperties": 1,
        "properties": {
            "send": { "$ref": "#/$defs/send" },
            "expect": { "$ref": "#/$defs/expect" },
            "expect_also": { "$ref": "#/$defs/expect" },
            "expect_none": { "$ref": "#/$defs/duration" },
            "state": { "anyOf": [ { "enum": states }, { "type": "string", "pattern": "\\$\\{" } ] },
            "call": { "$ref": "#/$defs/call" },
            "wait": { "$ref": "#/$defs/duration" },
            "one_of": { "type": "object", "minProperties": 2, "additionalProperties": { "$ref": "#/$defs/steps" } },
            "fill_window": {
                "type": "object",
                "description": "Send in-order data, left unread, until the target advertises a zero window",
                "properties": {
                    "max": { "type": "integer", "minimum": 65536, "maximum": 268435456, "description": "octets to send at most before giving up (default 16 MiB): a larger buffer makes the instance not applicable" }
                },
                "additionalProperties": false
            },
            "isn_sample": {
                "type": "object",
                "description": "Sample the target's ISNs over many handshakes and judge them (RFC 9293 3.4.1)",
                "properties": {
                    "count": { "type": "integer", "minimum": 3, "maximum": 16000, "description": "SYNs to send (fresh tuples: 32..=16000; same_tuple: 3..=10000)" },
                    "same_tuple": { "type": "boolean", "description": "true: one 4-tuple, ISNs must follow a clock (MUST-8); false: fresh tuples, ISNs must be unpredictable (MUST-9)" },
                    "gap": { "$ref": "#/$defs/duration" }
                },
                "required": ["count"],
                "additionalProperties": false
            },
            "syn_flood": {
                "type": "object",
                "description": "A burst of SYNs at the listening port; answers classified as syn_ack, rst or silence",
                "properties": {
                    "count": { "type": "integer", "minimum": 1, "maximum": 100000 },
                    "sources": { "enum": ["spoofed", "tester"] },
                    "drain": { "$ref": "#/$defs/duration" },
                    "answered_first": { "type": "integer", "minimum": 0, "description": "The first N SYNs must each get a SYN-ACK (sources: tester)" },
                    "others": {
                        "anyOf": [
                            { "enum": ["syn_ack", "rst", "silence"] },
                            { "type": "array", "minItems": 1, "items": { "enum": ["syn_ack", "rst", "silence"] } }
                        ],
                        "description": "Allowed answers to the other SYNs (default [syn_ack, silence])"
                    },
                    "connect_within": { "$ref": "#/$defs/duration" }
                },
                "required": ["count", "sources"],
                "additionalProperties": false
            },
            "assume": { "type": "string", "description": "A condition the rest of the case rests on, e.g. \"rcv.wnd > 0\"; where it does not hold, the instance is not applicable" },
            "level": { "enum": levels, "description": "How strongly the RFC asks for what this step checks, when it differs from the case's" },
            "when": condition,
            "unless": condition
        },
        "additionalProperties": false
    });
    let mut case_props = serde_json::Map::new();
    for (name, v) in [
        (
            "id",
            json!({ "type": "string", "description": "Unique across the corpus, path-like: rst/syn-received-returns-to-listen" }),
        ),
        ("title", json!({ "type": "string" })),
        ("description", json!({ "type": "string" })),
        (
            "rfc",
            json!({ "type": ["array", "string"], "items": { "type": "string" }, "description": "References; MUST-n / SHLD-n / MAY-n ids are checked" }),
        ),
        (
            "cells",
            json!({ "type": "array", "items": { "enum": reference_stack::Rule::ALL.map(reference_stack::Rule::id).to_vec() } }),
        ),
        (
            "ip",
            json!({ "anyOf": [ { "enum": [4, 6] }, { "type": "array", "items": { "enum": [4, 6] }, "minItems": 1 } ] }),
        ),
        (
            "tags",
            json!({ "type": ["array", "string"], "items": { "type": "string" } }),
        ),
        (
            "level",
            json!({ "enum": levels, "description": "How strongly the RFC asks for what the case checks: must (a failure fails the run), should and practice (a warning), may (information). Default: the strongest level among its requirement ids, else must." }),
        ),
        (
            "needs",
            json!({ "type": ["array", "string"], "items": { "enum": needs } }),
        ),
        (
            "sysctls",
            json!({ "type": "object", "additionalProperties": { "type": ["string", "integer", "boolean"] } }),
        ),
        (
            "setup",
            json!({ "type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
            "listen": { "type": "integer", "minimum": 1, "maximum": 65535 },
            "connect": { "type": "integer", "minimum": 1, "maximum": 65535 },
            "closed": { "type": "integer", "minimum": 1, "maximum": 65535 } }, "additionalProperties": false }),
        ),
        (
            "prelude",
            json!({ "type": "string", "description": "A prelude of _preludes.yaml, e.g. ESTABLISHED, FIN-WAIT-1, SYN-RECEIVED/active" }),
        ),
        (
            "defaults",
            json!({ "type": "object", "properties": { "win": { "type": "integer", "minimum": 0, "maximum": 65535 }, "within": { "$ref": "#/$defs/duration" } }, "additionalProperties": false }),
        ),
        (
            "grid",
            json!({ "type": "object", "minProperties": 1, "additionalProperties": { "anyOf": [ { "type": "array", "minItems": 1 }, { "type": "object", "minProperties": 1 } ] } }),
        ),
        ("steps", json!({ "$ref": "#/$defs/steps" })),
    ] {
        case_props.insert(name.to_string(), v);
    }
    debug_assert!(CASE_FIELDS.iter().all(|f| case_props.contains_key(*f)));
    debug_assert!(SEND_FIELDS
        .iter()
        .all(|f| send["properties"].get(*f).is_some()));
    debug_assert!(EXPECT_FIELDS
        .iter()
        .all(|f| expect["properties"].get(*f).is_some()));
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tcpconform.invalid/case.schema.json",
        "title": "tcpconform case",
        "description": "One TCP behaviour: segments sent, segments expected, calls and states, in order. See cases/README.md.",
        "type": "object",
        "properties": case_props,
        "required": ["id", "title", "steps"],
        "additionalProperties": false,
        "$defs": {
            "duration": duration,
            "value": value,
            "match": matcher,
            "flags": flags,
            "option": option,
            "optionKind": option_kind,
            "optionKinds": kinds,
            "send": send,
            "expect": expect,
            "call": call,
            "step": step,
            "steps": { "type": "array", "items": { "$ref": "#/$defs/step" } }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::validate::{ISN_SAMPLE_FIELDS, STEP_KINDS, SYN_FLOOD_FIELDS};

    #[test]
    fn schema_is_json_and_names_every_field() {
        let text = json_schema();
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        for f in CASE_FIELDS {
            assert!(v["properties"].get(*f).is_some(), "case field {f}");
        }
        for f in SEND_FIELDS {
            assert!(
                v["$defs"]["send"]["properties"].get(*f).is_some(),
                "send field {f}"
            );
        }
        for f in EXPECT_FIELDS {
            assert!(
                v["$defs"]["expect"]["properties"].get(*f).is_some(),
                "expect field {f}"
            );
        }
        for f in STEP_KINDS {
            assert!(
                v["$defs"]["step"]["properties"].get(*f).is_some(),
                "step kind {f}"
            );
        }
        for f in ISN_SAMPLE_FIELDS {
            assert!(
                v["$defs"]["step"]["properties"]["isn_sample"]["properties"]
                    .get(*f)
                    .is_some(),
                "isn_sample field {f}"
            );
        }
        for f in SYN_FLOOD_FIELDS {
            assert!(
                v["$defs"]["step"]["properties"]["syn_flood"]["properties"]
                    .get(*f)
                    .is_some(),
                "syn_flood field {f}"
            );
        }
        assert_eq!(
            v["properties"]["cells"]["items"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(55)
        );
    }
}
