//! Reporters: terminal, JUnit, JSON, pcap. Each implements [`crate::run::event::Reporter`]
//! and only consumes events; none reaches back into the runner.
//!
//! The helpers here format what several reporters show the same way: the trace and the
//! failure detail.

pub mod json;
pub mod jsonl;
pub mod junit;
pub mod pcap;
pub mod terminal;

use std::fmt::Write as _;
use std::path::Path;

use crate::run::event::{Direction, Failure, SegmentDiff, TraceEntry};

/// The trace marker of a direction: `>` sent to the target, `<` received from it, `|` an
/// application call, `#` a runner note.
pub fn direction_marker(d: Direction) -> char {
    match d {
        Direction::Sent => '>',
        Direction::Received => '<',
        Direction::App => '|',
        Direction::Note => '#',
    }
}

/// The direction as a word, for machine formats: `sent`, `received`, `app`, `note`.
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Sent => "sent",
        Direction::Received => "received",
        Direction::App => "app",
        Direction::Note => "note",
    }
}

/// The trace, one line per entry (controls escaped, see [`escape_controls`]), each line
/// prefixed with `indent`:
/// `   0.000100s > S seq 0:0(0) win 65535 <mss 1460>`.
pub fn format_trace(trace: &[TraceEntry], indent: &str) -> String {
    let mut out = String::new();
    for e in trace {
        let _ = writeln!(
            out,
            "{indent}{:>10.6}s {} {}",
            e.at.as_secs_f64(),
            direction_marker(e.direction),
            escape_controls(&e.text)
        );
    }
    out
}

/// A failure's field comparison as the table people read, `None` when no segment was
/// compared:
///
/// ```text
///           expected   received
///   flags   SA         R          <- differs
/// ```
///
/// A `one_of` shows one table per variant, each headed by its name.
pub fn diff_text(diff: &[SegmentDiff]) -> Option<String> {
    if diff.is_empty() {
        return None;
    }
    let mut out = String::new();
    for d in diff {
        if let Some(v) = &d.variant {
            out.push_str(v);
            out.push(':');
            out.push(if d.fields.is_empty() { ' ' } else { '\n' });
        }
        if !d.fields.is_empty() {
            let rows: Vec<(&str, &str, &str, bool)> = d
                .fields
                .iter()
                .map(|f| {
                    (
                        f.field.as_str(),
                        f.expected.as_str(),
                        f.received.as_str(),
                        f.differs,
                    )
                })
                .collect();
            out.push_str(&crate::packet::diff::render(&rows));
        }
        if let Some(note) = &d.note {
            if d.variant.is_none() || !d.fields.is_empty() {
                out.push_str("  ");
            }
            out.push_str(note);
            out.push('\n');
        }
    }
    Some(out)
}

/// Where a failure happened: `step 3` or `step 3 (line 42)`; steps count from 1 for people.
pub fn failure_location(f: &Failure) -> String {
    match f.line {
        Some(line) => format!("step {} (line {line})", f.step + 1),
        None => format!("step {}", f.step + 1),
    }
}

/// Indent every line of `text` by `indent`.
pub fn indent(text: &str, indent: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

/// `text` with control characters written as visible `\u{..}` escapes: C0 controls other
/// than tab, newline and carriage return, DEL, C1 controls, and the non-characters U+FFFE and
/// U+FFFF. What a target provokes then can neither drive a terminal (ANSI escapes) nor break
/// an XML document (XML 1.0 cannot carry those characters at all). The output contains no
/// such character, so escaping twice changes nothing.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\t' | '\n' | '\r' => out.push(ch),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(ch)));
            }
            _ => out.push(ch),
        }
    }
    out
}

/// Checks, before a run, that a report file can be written at `path`: its folder exists and
/// is writable, and `path` is not a folder. Nothing is created: a report is never written
/// into a folder the user did not make.
pub fn check_report_file(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("is a folder; name a file".into());
    }
    writable_folder(parent(path))?;
    if path.exists() {
        writable(path)?;
    }
    Ok(())
}

/// Checks, before a run, that captures can go into `dir`: it is a writable folder, or it is
/// missing and so can be made there: its parent folder exists and is writable
/// (`create_parents`: the nearest folder that exists on the way up is, for a default path).
pub fn check_report_dir(dir: &Path, create_parents: bool) -> Result<(), String> {
    if dir.exists() {
        return writable_folder(dir);
    }
    let mut up = parent(dir);
    while create_parents && !up.exists() {
        up = parent(up);
    }
    writable_folder(up)
}

/// The folder `path` is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn writable_folder(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("no such folder {}", dir.display()))
        }
        Err(e) => Err(format!("folder {}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => Err(format!("{} is not a folder", dir.display())),
        Ok(_) => writable(dir),
    }
}

fn writable(path: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: a NUL in the path", path.display()))?;
    // SAFETY: a valid NUL-terminated path; access(2) only reads it. W_OK also fails on a
    // read-only file system (EROFS), which is the one case root meets.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("{} is not writable: {e}", path.display()));
    }
    Ok(())
}
