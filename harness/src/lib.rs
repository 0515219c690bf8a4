//! tcpconform: TCP conformance cases, a runner, targets and reports.
//!
//! Data flows one way: case file -> [`case`] model -> [`run`] runner -> [`target`] -> events ->
//! [`report`] reporters.

pub mod case;
pub mod packet;
pub mod report;
pub mod run;
pub mod target;

pub mod app;
pub mod cli;
pub mod coverage;
pub mod interrupt;

pub mod agent;
pub mod serve;
