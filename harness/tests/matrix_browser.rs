//! The matrix page in a real browser: headless chromium loads `index.html` with a filter in the
//! URL fragment, runs the page's script and dumps the DOM; the rows it left visible must be
//! exactly the ones the filter selects. A page whose script is broken, or whose rows are
//! missing, fails the same check (shown below).

mod compare_fixtures;
mod needs;

use std::path::{Path, PathBuf};
use std::process::Command;

use compare_fixtures::{tcpconform, three_runs, ALL_ROWS};

fn chromium_missing() -> Option<String> {
    needs::tool("chromium", "--version", "apt-get install -y chromium")
}

/// The DOM of `page#fragment` after its script ran.
fn dump_dom(page: &Path, fragment: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}{fragment}", page.display());
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-sync",
            "--disable-component-update",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed on {url}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The instance rows of a dumped page: (name, visible).
fn rows(dom: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for chunk in dom.split("<tr ").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        if !tag.starts_with("class=\"inst") {
            continue;
        }
        let name = tag
            .split("data-name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_string();
        out.push((name, !tag.contains(" hidden")));
    }
    out
}

/// The filters and the rows each must show, over the runs of `compare_fixtures`.
const FILTERS: [(&str, &[&str]); 11] = [
    ("", &ALL_ROWS),
    (
        "#differs",
        &[
            "close/e [ipv4]",
            "rst/a [ipv4]",
            "rst/b [ipv4]",
            "rules/listen/c [ipv4]",
            "rules/syn-sent/d [ipv4]",
        ],
    ),
    (
        "#area=rst",
        &["rst/a [ipv4]", "rst/a [ipv6]", "rst/b [ipv4]"],
    ),
    ("#differs&area=rst", &["rst/a [ipv4]", "rst/b [ipv4]"]),
    (
        "#area=rules",
        &["rules/listen/c [ipv4]", "rules/syn-sent/d [ipv4]"],
    ),
    ("#area=rules%2Flisten", &["rules/listen/c [ipv4]"]),
    ("#level=should", &["rules/syn-sent/d [ipv4]"]),
    ("#level=may&differs", &["close/e [ipv4]"]),
    ("#verdict=failed", &["rst/a [ipv4]"]),
    ("#verdict=baseline&area=rules", &["rules/listen/c [ipv4]"]),
    ("#rule=RS-4&differs", &["rst/a [ipv4]"]),
];

/// Checks every filter of [`FILTERS`] on `page`; the first mismatch is the error.
fn check_filters(page: &Path) -> Result<(), String> {
    for (fragment, expected) in FILTERS {
        let dom = dump_dom(page, fragment);
        let rows = rows(&dom);
        let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
        if names != ALL_ROWS {
            return Err(format!("{fragment:?}: rendered rows {names:?}"));
        }
        let shown: Vec<&str> = rows
            .iter()
            .filter(|(_, visible)| *visible)
            .map(|(n, _)| n.as_str())
            .collect();
        if shown != expected {
            return Err(format!(
                "{fragment:?}: shows {shown:?}, expected {expected:?}"
            ));
        }
        let count = format!("{} of {} rows", expected.len(), ALL_ROWS.len());
        if !dom.contains(&count) {
            return Err(format!("{fragment:?}: the page does not say {count:?}"));
        }
    }
    Ok(())
}

/// The matrix of the three fixture runs, written under `dir`; returns its index.html.
fn matrix(dir: &Path) -> PathBuf {
    let runs = three_runs(dir);
    let out = dir.join("matrix");
    let mut args = vec!["matrix".to_string()];
    args.extend(runs.iter().map(|p| p.display().to_string()));
    args.extend(["-o".to_string(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = tcpconform(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    out.join("index.html")
}

#[test]
fn every_filter_shows_exactly_its_rows() {
    require!(chromium_missing());
    let dir = tempfile::tempdir().unwrap();
    let page = matrix(dir.path());
    check_filters(&page).unwrap();
}

#[test]
fn cells_show_verdict_level_and_variant_and_titles_stay_text() {
    require!(chromium_missing());
    let dir = tempfile::tempdir().unwrap();
    let page = matrix(dir.path());
    let dom = dump_dom(&page, "#area=rst");
    // The link run's failure of rst/a [ipv4]: the verdict and its level.
    let row = dom
        .split("<tr ")
        .find(|r| r.contains("data-name=\"rst/a [ipv4]\""))
        .expect("row rst/a [ipv4]");
    assert!(
        row.contains(">FAIL</a><span class=\"lv\">MUST</span>"),
        "{row}"
    );
    let row = dom
        .split("<tr ")
        .find(|r| r.contains("data-name=\"rst/b [ipv4]\""))
        .expect("row rst/b [ipv4]");
    assert!(row.contains("<span class=\"var\">rfc5961</span>"), "{row}");
    assert!(row.contains("<span class=\"var\">rfc793</span>"), "{row}");
    assert!(row.contains("v-absent"), "link lacks rst/b: {row}");
    // The hostile title is text, not an element.
    assert!(!dom.contains("<img"), "a title became markup");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn a_broken_page_fails_the_check() {
    require!(chromium_missing());
    let dir = tempfile::tempdir().unwrap();
    let page = matrix(dir.path());
    let good = std::fs::read_to_string(&page).unwrap();
    // A script that does not run leaves every row visible and counts nothing: the first
    // check (the unfiltered page says how many rows it shows) already fails.
    let start = good.find("<script>").expect("inline script");
    let broken_script = format!(
        "{}<script>this is not JavaScript{}",
        &good[..start],
        &good[start + "<script>".len()..]
    );
    std::fs::write(&page, broken_script).unwrap();
    let err = check_filters(&page).expect_err("a page whose script fails passed the check");
    assert_eq!(err, "\"\": the page does not say \"7 of 7 rows\"");
    // A script that runs but filters nothing fails at the first filter.
    let inert = good.replace("tr.hidden = !ok;", "tr.hidden = false;");
    assert_ne!(inert, good);
    std::fs::write(&page, inert).unwrap();
    let err = check_filters(&page).expect_err("a page that does not filter passed the check");
    assert!(err.starts_with("\"#differs\": shows ["), "{err}");
    // A page that lost its rows fails too.
    let no_rows = good.replace("<tr class=\"inst", "<tr class=\"gone");
    std::fs::write(&page, no_rows).unwrap();
    let err = check_filters(&page).expect_err("a page without rows passed the check");
    assert!(err.contains("rendered rows []"), "{err}");
}
