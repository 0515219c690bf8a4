#![no_main]
//! See `tcpconform_fuzz::parse_segment` and fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tcpconform_fuzz::parse_segment(data));
