//! The JSON-lines reporter: a line per event, each a whole object, with the `--json` fields.

mod report_fixtures;

use report_fixtures::{feed, hostile_text, run_events};
use serde_json::Value;
use tcpconform::report::json::JsonReporter;
use tcpconform::report::jsonl::JsonlReporter;
use tcpconform::run::event::{Reporter, RunEvent};

#[test]
fn one_line_per_event_with_the_json_report_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.jsonl");
    let mut reporter = JsonlReporter::create(&path).expect("create");
    let events = run_events();
    feed(&mut reporter, &events);
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line one JSON object"))
        .collect();
    let finished = events
        .iter()
        .filter(|e| matches!(e, RunEvent::CaseFinished(_)))
        .count();
    assert_eq!(lines.len(), finished + 2);
    assert_eq!(lines[0]["type"], "started");
    assert_eq!(lines[0]["target"], "reference");
    let last = lines.last().expect("summary");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["passed"], 1);
    assert_eq!(last["failed"], 1);
    assert_eq!(last["wall_secs"], 0.25);

    // The case lines are the `--json` document's cases, plus their type.
    let mut json = JsonReporter::new(dir.path().join("run.json"));
    feed(&mut json, &events);
    let doc = serde_json::to_value(json.run()).expect("document");
    let cases: Vec<Value> = lines[1..=finished]
        .iter()
        .map(|l| {
            let mut l = l.clone();
            assert_eq!(l["type"], "case");
            l.as_object_mut().expect("object").remove("type");
            l
        })
        .collect();
    assert_eq!(Value::Array(cases), doc["cases"]);
    // Hostile trace text (newlines, controls) stays inside its line.
    assert_eq!(lines[2]["trace"][2]["text"], hostile_text());
}

#[test]
fn every_line_is_on_disk_as_soon_as_its_event_arrives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.jsonl");
    let mut reporter = JsonlReporter::create(&path).expect("create");
    // Made (empty) before the run starts, so that a bad path is found then.
    assert_eq!(std::fs::read(&path).expect("exists").len(), 0);
    let mut lines = 0;
    for (n, event) in run_events().iter().enumerate() {
        reporter.event(event).expect("event");
        if !matches!(event, RunEvent::CaseStarted { .. }) {
            lines += 1;
        }
        // Read back by another handle: nothing is held in the reporter.
        let on_disk = std::fs::read_to_string(&path).expect("read");
        assert_eq!(on_disk.lines().count(), lines, "after event {n}");
        assert!(on_disk.ends_with('\n'), "after event {n}");
    }
}
