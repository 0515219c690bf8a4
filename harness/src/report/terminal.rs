//! The terminal reporter: a progress bar on a terminal, plain lines otherwise.
//!
//! Each failure is printed when it happens: a `FAIL` line with the message, then the diff and
//! the trace so far, indented. Baseline hits ("known deviations") and skipped cases are listed
//! at the end. The last line printed is exactly `N passed, N failed`, with `, N skipped`
//! appended when some were skipped; baseline hits count as neither and get their own line
//! just before. Verbose mode also prints a line for every passed case and every known
//! deviation as it finishes.
//!
//! Colour follows <https://no-color.org>: off when `NO_COLOR` is set to a non-empty value,
//! and off when the output is not a terminal.

use std::ffi::OsStr;
use std::io::{self, IsTerminal, Stdout, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{diff_text, escape_controls, failure_location, format_trace, indent};
use crate::run::event::{CaseResult, Outcome, Reporter, RunEvent, Summary, Verdict};

/// How the terminal reporter prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminalOptions {
    /// Print a line for every case, not only failures.
    pub verbose: bool,
    /// ANSI colours.
    pub color: bool,
    /// An indicatif progress bar (only sensible when the output is a terminal).
    pub progress: bool,
    /// Without a bar, a progress line at most this often (CI logs stay alive; `None`: never).
    pub progress_lines: Option<std::time::Duration>,
}

impl TerminalOptions {
    /// Progress bar and colour when stdout is a terminal; colour also needs `NO_COLOR`
    /// unset or empty.
    pub fn detect(verbose: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR");
        TerminalOptions::resolve(verbose, io::stdout().is_terminal(), no_color.as_deref())
    }

    /// [`TerminalOptions::detect`] given whether the output is a terminal and the value of
    /// `NO_COLOR`.
    pub fn resolve(verbose: bool, tty: bool, no_color: Option<&OsStr>) -> Self {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        TerminalOptions {
            verbose,
            color: tty && !no_color,
            progress: tty,
            // A CI log without a terminal still shows the run is alive.
            progress_lines: Some(std::time::Duration::from_secs(10)),
        }
    }
}

pub struct TerminalReporter<W: Write> {
    out: W,
    opts: TerminalOptions,
    bar: Option<ProgressBar>,
    /// Known deviations, information, failures and warnings (one line each), then instances
    /// without a verdict (name, reason), listed at the end.
    baseline: Vec<(String, String)>,
    info: Vec<String>,
    failures: Vec<String>,
    warnings: Vec<String>,
    inconclusive: Vec<(String, String)>,
    not_applicable: Vec<(String, String)>,
    skipped: Vec<(String, String)>,
    /// Why the run stopped early, if it did.
    unusable: Option<String>,
    /// Choices the target made more than one way.
    inconsistent: Vec<String>,
    /// Progress without a bar: instances in the run, finished, passed; when the run began and
    /// the last progress line was printed.
    total: usize,
    done: usize,
    done_passed: usize,
    begun: std::time::Instant,
    last_line: std::time::Instant,
}

impl TerminalReporter<Stdout> {
    /// A reporter on stdout with [`TerminalOptions::detect`].
    pub fn stdout(verbose: bool) -> Self {
        TerminalReporter::new(io::stdout(), TerminalOptions::detect(verbose))
    }
}

impl<W: Write> TerminalReporter<W> {
    /// A reporter writing to `out`. With `opts.progress` the bar is drawn on stdout, so only
    /// pass it when `out` is stdout.
    pub fn new(out: W, opts: TerminalOptions) -> Self {
        TerminalReporter {
            out,
            opts,
            bar: None,
            baseline: Vec::new(),
            info: Vec::new(),
            failures: Vec::new(),
            warnings: Vec::new(),
            inconclusive: Vec::new(),
            not_applicable: Vec::new(),
            skipped: Vec::new(),
            unusable: None,
            inconsistent: Vec::new(),
            total: 0,
            done: 0,
            done_passed: 0,
            begun: std::time::Instant::now(),
            last_line: std::time::Instant::now(),
        }
    }

    /// The writer back (tests read what was printed).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Print `text` (one or more lines) without tearing the progress bar.
    fn print(&mut self, text: &str) -> io::Result<()> {
        let out = &mut self.out;
        match &self.bar {
            Some(bar) => bar.suspend(|| out.write_all(text.as_bytes())),
            None => out.write_all(text.as_bytes()),
        }
    }

    fn paint(&self, ansi: &str, text: &str) -> String {
        if self.opts.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Without a progress bar, a line every [`TerminalOptions::progress_lines`] while
    /// instances finish: how far the run is and how it goes so far.
    fn progress_line(&mut self) -> io::Result<()> {
        let Some(every) = self.opts.progress_lines.filter(|_| !self.opts.progress) else {
            return Ok(());
        };
        let now = std::time::Instant::now();
        if now.duration_since(self.last_line) < every {
            return Ok(());
        }
        self.last_line = now;
        let line = format!(
            "... {}/{} done after {:.0}s: {} passed, {} failed, {} other\n",
            self.done,
            self.total,
            now.duration_since(self.begun).as_secs_f64(),
            self.done_passed,
            self.failures.len(),
            self.done - self.done_passed - self.failures.len()
        );
        self.print(&line)
    }

    fn started(&mut self, total: usize, target: &str) -> io::Result<()> {
        self.total = total;
        self.begun = std::time::Instant::now();
        self.last_line = self.begun;
        if self.opts.progress {
            let template = if self.opts.color {
                "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg}"
            } else {
                "[{elapsed_precise}] {bar:30} {pos}/{len} {msg}"
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::with_draw_target(
                Some(u64::try_from(total).unwrap_or(u64::MAX)),
                ProgressDrawTarget::stdout(),
            )
            .with_style(style);
            self.bar = Some(bar);
        }
        self.print(&format!(
            "running {} against {target}\n",
            count(total, "case")
        ))
    }

    fn finished_case(&mut self, c: &CaseResult) -> io::Result<()> {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.done += 1;
        self.done_passed += usize::from(c.verdict == Verdict::Passed);
        let name = escape_controls(&c.display_name());
        match (c.verdict, &c.outcome) {
            (Verdict::Passed, Outcome::Passed { variants }) => {
                if self.opts.verbose {
                    let chose = if variants.is_empty() {
                        String::new()
                    } else {
                        format!(" (chose {})", variants.join(", "))
                    };
                    let line = format!("{} {name}{chose}\n", self.paint("32", "PASS"));
                    self.print(&line)?;
                }
            }
            (Verdict::KnownDeviation, Outcome::Failed(f)) => {
                let reason = f.baseline.as_deref().unwrap_or_default();
                if self.opts.verbose {
                    let line =
                        escape_controls(&format!("{name}: {} [baseline: {reason}]", f.message));
                    let shown = format!("{} {line}\n", self.paint("33", "KNOWN"));
                    self.print(&shown)?;
                }
                self.baseline.push((name.clone(), escape_controls(reason)));
            }
            (Verdict::Info, Outcome::Failed(f)) => {
                let line = escape_controls(&format!("{name}: {}", f.message));
                if self.opts.verbose {
                    let shown = format!("{} {line}\n", self.paint("36", "INFO"));
                    self.print(&shown)?;
                }
                self.info.push(line);
            }
            (Verdict::Failed | Verdict::Warning, Outcome::Failed(f)) => {
                let (label, color) = match c.verdict {
                    Verdict::Failed => ("FAIL", "31"),
                    _ => ("WARN", "33"),
                };
                let mut text = format!(
                    "{} {name}: {} at {}\n",
                    self.paint(color, label),
                    escape_controls(&f.message),
                    failure_location(f)
                );
                text.push_str(&format!(
                    "    case {} ({} not met)\n",
                    c.file.display(),
                    f.level
                ));
                if !c.rfc.is_empty() {
                    text.push_str(&format!("    rfc {}\n", c.rfc.join(", ")));
                }
                if let Some(diff) = diff_text(&f.diff) {
                    text.push_str(&indent(&escape_controls(&diff), "    "));
                }
                // A warning's trace only on request: the diff says what was not met.
                if !c.trace.is_empty() && (c.verdict == Verdict::Failed || self.opts.verbose) {
                    text.push_str("    trace:\n");
                    text.push_str(&format_trace(&c.trace, "    "));
                }
                self.print(&text)?;
                let recap = escape_controls(&format!("{name}: {}", f.message));
                match c.verdict {
                    Verdict::Failed => self.failures.push(recap),
                    _ => self.warnings.push(recap),
                }
            }
            (verdict, _) => {
                let reason = c.reason().unwrap_or_default();
                let (label, list) = match verdict {
                    Verdict::Inconclusive => ("INCONCLUSIVE", &mut self.inconclusive),
                    Verdict::NotApplicable => ("N/A", &mut self.not_applicable),
                    _ => ("SKIP", &mut self.skipped),
                };
                list.push((escape_controls(&name), escape_controls(reason)));
                if self.opts.verbose {
                    let line = escape_controls(&format!("{name}: {reason}"));
                    let shown = format!("{} {line}\n", self.paint("2", label));
                    self.print(&shown)?;
                }
            }
        }
        Ok(())
    }

    fn finished(&mut self, s: &Summary) -> io::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let verbose = self.opts.verbose;
        let mut text = String::new();
        let grouped: [(&str, &[(String, String)]); 4] = [
            ("known deviations", &self.baseline),
            ("skipped", &self.skipped),
            ("not applicable", &self.not_applicable),
            ("inconclusive", &self.inconclusive),
        ];
        for (title, list) in grouped {
            if !list.is_empty() {
                text.push_str(&format!("{title} ({}):\n", list.len()));
                text.push_str(&by_reason(list, verbose));
            }
        }
        let listed: [(&str, &[String]); 3] = [
            ("information (MAY not taken)", &self.info),
            ("warnings (SHOULD not met)", &self.warnings),
            ("failures (MUST not met)", &self.failures),
        ];
        for (title, list) in listed {
            if !list.is_empty() {
                text.push_str(&format!("{title} ({}):\n", list.len()));
                for line in list {
                    text.push_str(&format!("  {line}\n"));
                }
            }
        }
        if !self.inconsistent.is_empty() {
            text.push_str(&format!(
                "choices the target made more than one way ({}):\n",
                self.inconsistent.len()
            ));
            for line in &self.inconsistent {
                text.push_str(&format!("  {line}\n"));
            }
        }
        if let Some(why) = &self.unusable {
            text.push_str(&format!("{}: {why}\n", self.paint("31", "STOPPED")));
        }
        text.push_str(&format!("finished in {:.2}s\n", s.wall.as_secs_f64()));
        if let Some(line) = verdicts_line(s) {
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str(&summary_line(s));
        text.push('\n');
        self.print(&text)?;
        self.out.flush()
    }
}

/// The line before the last: the verdicts other than passed and failed, when there are any
/// (`3 warnings, 1 not applicable, 322 known deviations`).
pub fn verdicts_line(s: &Summary) -> Option<String> {
    let parts: Vec<String> = [
        (s.warnings, "warning", "warnings"),
        (s.info, "informational", "informational"),
        (s.inconclusive, "inconclusive", "inconclusive"),
        (s.not_applicable, "not applicable", "not applicable"),
        (s.baseline, "known deviation", "known deviations"),
    ]
    .iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|&(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Instances (name, reason), one line per reason with how many and the first few names; every
/// one with `verbose`.
fn by_reason(skipped: &[(String, String)], verbose: bool) -> String {
    let mut text = String::new();
    if verbose {
        for (name, reason) in skipped {
            text.push_str(&format!("  {name}: {reason}\n"));
        }
        return text;
    }
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, reason) in skipped {
        match reasons.iter_mut().find(|(r, _)| r == reason) {
            Some((_, names)) => names.push(name),
            None => reasons.push((reason, vec![name])),
        }
    }
    reasons.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    for (reason, names) in reasons {
        match names.as_slice() {
            [one] => text.push_str(&format!("  {one}: {reason}\n")),
            many => {
                let shown: Vec<&str> = many.iter().take(3).copied().collect();
                let more = if many.len() > 3 { ", ..." } else { "" };
                text.push_str(&format!(
                    "  {} instances: {reason} ({}{more})\n",
                    many.len(),
                    shown.join(", ")
                ));
            }
        }
    }
    text
}

/// `1 case`, `2 cases`: a count with its noun in the right number.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The last line: `N passed, N failed`, plus `, N skipped` when N > 0. Never coloured, so
/// scripts can match it.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!("{} passed, {} failed", s.passed, s.failed);
    if s.skipped > 0 {
        line.push_str(&format!(", {} skipped", s.skipped));
    }
    if s.not_run > 0 {
        line.push_str(&format!(", {} not run", s.not_run));
    }
    line
}

impl<W: Write> Reporter for TerminalReporter<W> {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::Started { total, target } => self.started(*total, target),
            RunEvent::CaseStarted { id, ip } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{id} [{}]", ip.label()));
                }
                Ok(())
            }
            RunEvent::CaseFinished(c) => {
                self.finished_case(c)?;
                self.progress_line()
            }
            RunEvent::Inconsistent(list) => {
                self.inconsistent = list
                    .iter()
                    .map(|i| {
                        let taken: Vec<String> = i
                            .taken
                            .iter()
                            .map(|(v, names)| {
                                let more = names.len().saturating_sub(2);
                                let shown = names.iter().take(2).cloned().collect::<Vec<_>>();
                                let more = if more > 0 {
                                    format!(" and {more} more")
                                } else {
                                    String::new()
                                };
                                format!("{v} ({}{more})", shown.join(", "))
                            })
                            .collect();
                        let what = match (i.mitigation, &i.known) {
                            (Some(m), Some(known)) => {
                                format!("known: {} taken both ways: {known}", m.describe())
                            }
                            (Some(m), None) => format!(
                                "FAIL: {} taken both ways (RFC 9293 MAY-12 is the \
                                 implementation's choice, made once)",
                                m.describe()
                            ),
                            (None, _) => {
                                format!("note: chosen among {}", i.among.join(" | "))
                            }
                        };
                        escape_controls(&format!("{what}: {}", taken.join("; ")))
                    })
                    .collect();
                Ok(())
            }
            RunEvent::TargetUnusable { reason, after } => {
                let where_ = match after {
                    Some(a) => format!(" after {a}"),
                    None => " before the first instance".into(),
                };
                self.unusable = Some(escape_controls(&format!(
                    "the target stopped answering{where_}: {reason}"
                )));
                Ok(())
            }
            RunEvent::Finished(s) => self.finished(s),
        }
    }
}
