//! `tcpconform matrix` without a browser: the table in matrix.json and matrix.csv, the links
//! from cells to trace pages and captures, column labels, and usage errors.

mod compare_fixtures;

use std::path::Path;

use compare_fixtures::{passed, result, tcpconform, three_runs, write_run, ALL_ROWS};
use serde_json::Value;
use tcpconform::run::event::{IpVersion, Level};

fn run_matrix(args: &[String]) -> (i32, String) {
    let mut all = vec!["matrix".to_string()];
    all.extend(args.iter().cloned());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let (code, out, err) = tcpconform(&all);
    (code, out + &err)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn json_and_csv_hold_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let runs = three_runs(dir.path());
    let out = dir.path().join("m");
    let mut args: Vec<String> = runs.iter().map(|p| s(p)).collect();
    args.extend(["-o".into(), s(&out)]);
    let (code, text) = run_matrix(&args);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("3 run(s), 7 instance(s), 5 differ"), "{text}");

    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    let labels: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["reference", "linux", "link"]);
    assert_eq!(doc["runs"][1]["counts"]["baseline"], 1);
    assert_eq!(doc["runs"][2]["counts"]["failed"], 1);
    let names: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ALL_ROWS);
    let row = |name: &str| {
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    let d = row("rules/syn-sent/d [ipv4]");
    assert_eq!(d["level"], "should");
    assert_eq!(d["differs"], true);
    assert_eq!(d["cells"][1]["verdict"], "warning");
    assert_eq!(d["cells"][1]["level"], "should");
    assert_eq!(
        d["cells"][1]["detail"],
        "expected A within 1s, got R (should)"
    );
    let b = row("rst/b [ipv4]");
    assert_eq!(b["cells"][0]["variants"][0], "rfc5961");
    assert_eq!(b["cells"][2], Value::Null, "link lacks rst/b");
    assert_eq!(row("close/f [ipv6]")["differs"], false);

    let csv = std::fs::read_to_string(out.join("matrix.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + ALL_ROWS.len());
    assert!(lines[0].starts_with(
        "area,id,ip,title,level,differs,reference verdict,reference level,reference variants,"
    ));
    assert!(
        lines.contains(&"rst,rst/b,ipv4,title of rst/b,must,yes,passed,must,rfc5961,passed,must,rfc793,absent,,"),
        "{csv}"
    );
}

#[test]
fn every_cell_links_a_trace_section_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let runs = three_runs(dir.path());
    let out = dir.path().join("m");
    let mut args: Vec<String> = runs.iter().map(|p| s(p)).collect();
    args.extend(["-o".into(), s(&out)]);
    assert_eq!(run_matrix(&args).0, 0);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    let mut checked = 0;
    for row in doc["rows"].as_array().unwrap() {
        for cell in row["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c.is_null())
        {
            let link = cell["trace"].as_str().unwrap();
            let (file, anchor) = link.split_once('#').unwrap();
            let page =
                std::fs::read_to_string(out.join(file)).unwrap_or_else(|e| panic!("{link}: {e}"));
            assert!(
                page.contains(&format!("<section class=\"inst\" id=\"{anchor}\">")),
                "{link}: no such section"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 20);
    // Trace text is escaped, and the index is the page the cells live on.
    let rst = std::fs::read_to_string(out.join("traces/1/rst.html")).unwrap();
    assert!(rst.contains("ack 1 win 65535 &lt;/pre&gt;&lt;b&gt;"));
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("href=\"traces/3/rst.html#rst__a.ipv4\""));
    assert!(!index.contains("<img"), "a title became markup");
    assert!(
        !index.contains("src=\"http") && !index.contains("href=\"http"),
        "external asset"
    );
}

#[test]
fn captures_are_linked_relative_to_the_page_when_they_exist() {
    let dir = tempfile::tempdir().unwrap();
    let runs = three_runs(dir.path());
    let pcaps = dir.path().join("linux pcaps");
    std::fs::create_dir_all(&pcaps).unwrap();
    std::fs::write(pcaps.join("rules__listen__c.ipv4.pcap"), b"pcap").unwrap();
    let out = dir.path().join("m");
    let mut args: Vec<String> = runs.iter().map(|p| s(p)).collect();
    args.extend([
        "-o".into(),
        s(&out),
        "--pcap-dir".into(),
        "-".into(),
        "--pcap-dir".into(),
        s(&pcaps),
        "--pcap-dir".into(),
        "-".into(),
    ]);
    let (code, text) = run_matrix(&args);
    assert_eq!(code, 0, "{text}");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    let c = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "rules/listen/c [ipv4]")
        .unwrap();
    let link = c["cells"][1]["pcap"].as_str().unwrap();
    assert_eq!(link, "../linux%20pcaps/rules__listen__c.ipv4.pcap");
    assert!(out
        .join("../linux pcaps/rules__listen__c.ipv4.pcap")
        .is_file());
    assert_eq!(c["cells"][0]["pcap"], Value::Null, "reference: no pcap dir");
    let page = std::fs::read_to_string(out.join("traces/2/rules__listen.html")).unwrap();
    assert!(page.contains("href=\"../../../linux%20pcaps/rules__listen__c.ipv4.pcap\""));
    // Instances without a capture file get no link.
    let a = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "rst/a [ipv4]")
        .unwrap();
    assert_eq!(a["cells"][1]["pcap"], Value::Null);
}

#[test]
fn runs_of_one_target_are_told_apart_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let one = |file: &str| {
        write_run(
            dir.path(),
            file,
            "link",
            vec![result(
                "rst/a",
                IpVersion::V4,
                Level::Must,
                &[],
                passed(&[]),
            )],
        )
    };
    let (a, b) = (one("pytcp.json"), one("slirp.json"));
    let out = dir.path().join("m");
    let (code, text) = run_matrix(&[s(&a), s(&b), "-o".into(), s(&out)]);
    assert_eq!(code, 0, "{text}");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    assert_eq!(doc["runs"][0]["label"], "link (pytcp.json)");
    assert_eq!(doc["runs"][1]["label"], "link (slirp.json)");
    // The same file twice: told apart by position.
    let (code, text) = run_matrix(&[s(&a), s(&a), "-o".into(), s(&out)]);
    assert_eq!(code, 0, "{text}");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    assert_eq!(
        doc["runs"][1]["label"],
        format!("link ({}) #2", a.display()).as_str()
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let runs = three_runs(dir.path());
    let out = s(&dir.path().join("m"));
    let (code, text) = run_matrix(&[
        s(&runs[0]),
        s(&runs[1]),
        "-o".into(),
        out.clone(),
        "--pcap-dir".into(),
        "x".into(),
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("1 --pcap-dir for 2 run(s)"), "{text}");
    let (code, text) = run_matrix(&[
        s(&dir.path().join("missing.json")),
        "-o".into(),
        out.clone(),
    ]);
    assert_eq!(code, 2);
    assert!(text.contains("missing.json: cannot read"), "{text}");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"not\": \"a run\"}").unwrap();
    let (code, text) = run_matrix(&[s(&junk), "-o".into(), out.clone()]);
    assert_eq!(code, 2);
    assert!(text.contains("not a run document"), "{text}");
    let (code, _) = run_matrix(&["-o".into(), out]);
    assert_eq!(code, 2, "no run at all");
}
