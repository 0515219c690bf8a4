//! The JSON-lines reporter: the run as it happens, one JSON object per line, each line handed
//! to the kernel (one `write(2)`) as soon as its event arrives. A run that is killed, even
//! by SIGKILL, leaves every instance that finished before.
//!
//! ```text
//! {"type":"started","target":"reference","total":1918}
//! {"type":"case","id":"rst/syn-x","name":"rst/syn-x [ipv4]","status":"failed",...}
//! {"type":"summary","passed":1917,"failed":1,"skipped":0,"baseline":0,"wall_secs":1.5}
//! ```
//!
//! Before the summary may come an `inconsistent` line (choices the target made more than one
//! way, as the `--json` document's `inconsistent_choices`) and a `target_unusable` line (the
//! target stopped answering; the instances not run follow as `case` lines).
//!
//! A `case` line has the fields of a case of the `--json` document ([`JsonCase`]); lines come
//! in the order instances finish. A run that was killed has no `summary` line, and its last
//! line may be cut short: every line that ends in a newline is a whole object.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::json::{JsonCase, JsonInconsistency, JsonSummary};
use crate::run::event::{Reporter, RunEvent};

/// One line.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JsonLine<'a> {
    Started {
        target: &'a str,
        total: usize,
        /// The run's seed (`run --seed` replays it), as `0x...`.
        #[serde(skip_serializing_if = "Option::is_none")]
        seed: Option<String>,
    },
    Case(Box<JsonCase>),
    Inconsistent {
        choices: Vec<JsonInconsistency>,
    },
    TargetUnusable {
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<&'a str>,
    },
    Summary(JsonSummary),
}

pub struct JsonlReporter {
    file: File,
    seed: Option<u64>,
}

impl JsonlReporter {
    /// Creates (or truncates) `path` now, before the run: a path that cannot be written is
    /// found before any instance runs.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(JsonlReporter {
            file: File::create(path)?,
            seed: None,
        })
    }

    /// The run's seed, for the `started` line.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    fn line(&mut self, line: &JsonLine<'_>) -> io::Result<()> {
        let mut text = serde_json::to_vec(line).map_err(io::Error::other)?;
        text.push(b'\n');
        // Unbuffered: the whole line in one write, nothing left in this process to lose.
        self.file.write_all(&text)
    }
}

impl Reporter for JsonlReporter {
    fn event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::Started { target, total } => {
                let seed = self.seed.map(|s| format!("{s:#018x}"));
                self.line(&JsonLine::Started {
                    target,
                    total: *total,
                    seed,
                })
            }
            RunEvent::Inconsistent(list) => self.line(&JsonLine::Inconsistent {
                choices: list.iter().map(JsonInconsistency::from).collect(),
            }),
            RunEvent::TargetUnusable { reason, after } => self.line(&JsonLine::TargetUnusable {
                reason,
                after: after.as_deref(),
            }),
            RunEvent::CaseStarted { .. } => Ok(()),
            RunEvent::CaseFinished(c) => {
                self.line(&JsonLine::Case(Box::new(JsonCase::from_result(c))))
            }
            RunEvent::Finished(s) => self.line(&JsonLine::Summary(JsonSummary::from(s))),
        }
    }
}
