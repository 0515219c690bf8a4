//! The JSON reporter: one document per run with target, summary and every case's detail.

mod report_fixtures;

use report_fixtures::{feed, hostile_text, run_events};
use serde_json::Value;
use tcpconform::packet::observe;
use tcpconform::report::json::JsonReporter;

fn document() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let mut reporter = JsonReporter::new(&path);
    feed(&mut reporter, &run_events());
    let text = std::fs::read_to_string(&path).expect("the document was written");
    serde_json::from_str(&text).expect("valid JSON")
}

fn bytes_from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn document_has_target_summary_and_cases() {
    let doc = document();
    assert_eq!(doc["target"], "reference");
    assert_eq!(doc["summary"]["passed"], 1);
    assert_eq!(doc["summary"]["failed"], 1);
    assert_eq!(doc["summary"]["skipped"], 1);
    assert_eq!(doc["summary"]["baseline"], 1);
    assert_eq!(doc["summary"]["wall_secs"], 0.25);

    let cases = doc["cases"].as_array().expect("cases array");
    let statuses: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("handshake/passive-open [ipv4]", "passed"),
            ("rst/syn-x [ipv6]", "failed"),
            ("rst/in-window [ipv4]", "baseline"),
            ("app/needs-agent [ipv6]", "skipped"),
        ]
    );

    let passed = &cases[0];
    assert_eq!(passed["variants"][0], "rfc5961");
    assert_eq!(passed["rfc"][1], "MUST-11");
    assert_eq!(passed["cells"][0], "RS-2");
    assert_eq!(passed["level"], "must");
    assert_eq!(passed["rules_observed"][0], "LI-1");
    assert_eq!(passed["ip"], "ipv4");
    assert_eq!(passed["failure"], Value::Null);

    let failed = &cases[1];
    assert_eq!(failed["failure"]["step"], 1);
    assert_eq!(failed["failure"]["line"], 14);
    assert_eq!(failed["failure"]["message"], "expected SA within 1s, got R");
    assert!(failed["failure"]["diff"]
        .as_str()
        .unwrap()
        .contains("<- differs"));
    // The same comparison as data, field by field.
    let segment = &failed["failure"]["segments"][0];
    assert_eq!(segment["variant"], Value::Null);
    assert_eq!(
        segment["fields"][0],
        serde_json::json!({ "field": "flags", "expected": "SA", "received": "R", "differs": true })
    );
    assert_eq!(failed["failure"]["baseline"], Value::Null);
    // JSON carries any text exactly, hostile or not.
    assert_eq!(failed["trace"][2]["text"], hostile_text());
    assert_eq!(failed["trace"][2]["direction"], "note");
    assert_eq!(failed["trace"][2]["packet"], Value::Null);
    assert_eq!(failed["trace"][1]["at_secs"], 0.002);

    assert_eq!(
        cases[2]["failure"]["baseline"],
        "Linux sends no challenge ACK here (RFC 5961 3.2)"
    );
    assert_eq!(cases[3]["skip_reason"], "needs an agent on the target");
}

#[test]
fn trace_packets_are_the_raw_bytes() {
    let doc = document();
    let entry = &doc["cases"][0]["trace"][1];
    assert_eq!(entry["direction"], "received");
    let bytes = bytes_from_hex(entry["packet"].as_str().expect("hex packet"));
    let o = observe(&bytes).expect("an IP packet");
    assert_eq!(o.flags, 0x012, "SYN-ACK");
    assert_eq!(o.seq, 5000);
    assert!(o.checksum_ok);
}
