//! tcpconform: TCP conformance cases, a runner, targets and reports.
