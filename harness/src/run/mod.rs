//! The runner: executes cases against a target and emits events.
//!
//! - [`runner`]: one case instance, step by step;
//! - [`matching`]: an `expect` against a received segment, field by field;
//! - [`conn`]: the target's TCB variables as learned from the wire;
//! - [`probe`]: a connection's TCP state read off the wire, where the target cannot report it;
//! - [`fit`]: whether a target can give an instance what it needs (else it is skipped);
//! - [`executor`]: many instances on worker threads, results to reporters;
//! - [`select`]: `--filter` and `--partition`;
//! - [`stall`]: scheduling stalls of the harness, which make a failed real-clock instance run
//!   again;
//! - [`stats`]: the statistical and load steps (`isn_sample`, `syn_flood`);
//! - [`event`]: what reporters consume.

pub mod baseline;
pub mod conn;
pub mod event;
pub mod executor;
pub mod fit;
pub mod matching;
pub mod probe;
pub mod runner;
pub mod select;
pub mod stall;
pub mod stats;
