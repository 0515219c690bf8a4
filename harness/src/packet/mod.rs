//! Packets: build what the tester sends, observe what the target sends, render both.
//!
//! Data flows one way: a resolved [`spec::PacketSpec`] -> [`build::build`] -> bytes; target
//! bytes -> [`observe::observe`] -> [`spec::Observed`] -> [`render::render`] (one line) and
//! [`diff::field_table`] (expected vs received).

pub mod build;
pub(crate) mod checksum;
pub mod diff;
pub mod observe;
pub mod render;
pub mod spec;

pub use build::build;
pub use observe::{observe, ObserveError};
pub use render::{render, render_spec, Relative};
