#![no_main]
//! The agent's connection handling and request parsing; see `tcpconform_fuzz::agent`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tcpconform_fuzz::agent::agent_protocol(data));
