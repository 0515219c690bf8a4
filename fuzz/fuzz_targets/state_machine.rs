#![no_main]
//! One reference stack against a fuzzer-driven peer; see `tcpconform_fuzz::state_machine`.

libfuzzer_sys::fuzz_target!(|input: tcpconform_fuzz::state_machine::Input| {
    tcpconform_fuzz::state_machine::Harness::run(&input)
});
