#![no_main]
//! See `tcpconform_fuzz::case_loader` and fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tcpconform_fuzz::case_loader(data));
