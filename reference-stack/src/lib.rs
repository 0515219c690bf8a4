//! A sans-IO RFC 9293 TCP: the reference stack of tcpconform.
//!
//! No sockets, no threads, no clock: segments in, segments out, time passed in explicitly.
//!
//! - [`wire`]: IPv4/IPv6/TCP parse and emit, every option, checksums, typed errors.
//! - [`tcb`]: one connection: the TCB and the SEGMENT ARRIVES rules of RFC 9293 3.10.7.
//! - [`stack`]: many connections: listeners, demultiplexing by 4-tuple, the SYN backlog, RSTs
//!   for CLOSED and LISTEN, IP framing. This is what a driver talks to.
//! - [`rules`]: the ids of the SEGMENT ARRIVES rules, reported for every segment handled.

pub mod config;
pub mod fastopen;
pub mod isn;
#[cfg(feature = "planted-bug")]
mod planted;
pub mod rules;
pub mod stack;
pub mod state;
pub mod tcb;
pub mod time;
pub mod tuple;
pub mod wire;

pub use config::{Config, FastOpen, RstPolicy, UtoLimits};
pub use rules::Rule;
pub use state::State;
pub use time::{Duration, Instant};
pub use tuple::FourTuple;
