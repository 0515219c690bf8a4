#![no_main]
//! Two reference stacks through a lossy channel; see `tcpconform_fuzz::pair`.

libfuzzer_sys::fuzz_target!(|input: tcpconform_fuzz::pair::Input| {
    tcpconform_fuzz::pair::Pair::run(&input)
});
