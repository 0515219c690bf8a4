//! tcpconform: TCP conformance cases, a runner, targets and reports.
//!
//! Data flows one way: case file -> [`case`] model -> [`run`] runner -> [`target`] -> events ->
//! [`report`] reporters. [`app`] performs the application calls a case makes, [`sys`] wraps
//! the operating system; [`ip`] and [`tcp`] are the plain vocabulary every layer shares.

pub mod case;
pub mod packet;
pub mod report;
pub mod run;
pub mod sys;
pub mod target;

pub mod app;
pub mod ip;
pub mod rng;
pub mod tcp;

pub mod cli;
pub mod commands;
pub mod compare;
pub mod exit;
pub mod import;
pub mod interrupt;

pub mod agent;
pub mod reference;
