//! Throughput figures (not a test): `cargo bench -p tcpconform --bench tun`.
//!
//! The reference stack over a TUN device, on the harness's one driver, with the Linux kernel as
//! the peer (root only; skipped otherwise), each direction. The engine alone, without a device,
//! is `cargo bench -p tcpconform-reference --bench throughput`.

use reference_stack::Config;
use std::time::Duration;
use tcpconform::reference::driver;
use tcpconform::reference::transfer::{self, Opener};

const MIB: u64 = 1 << 20;

fn over_tun(opener: Opener, ref_sends: u64, linux_sends: u64, what: &str) {
    match transfer::run_transfer(
        opener,
        false,
        ref_sends,
        linux_sends,
        Config::default(),
        Duration::from_secs(300),
    ) {
        Ok(r) => match r.check() {
            Ok(()) => println!(
                "TUN, {what}: {} octets in {:.3} s: {:.3} Gbit/s ({} packets in, {} out)",
                ref_sends + linux_sends,
                r.elapsed.as_secs_f64(),
                r.gbit_per_s(),
                r.packets_in,
                r.packets_out
            ),
            Err(e) => println!("TUN, {what}: transfer corrupted: {e}"),
        },
        Err(e) => println!("TUN, {what}: failed: {e}"),
    }
}

fn main() {
    if let Some(why) = driver::unavailable() {
        println!("TUN benchmarks skipped: {why}");
        return;
    }
    over_tun(Opener::Linux, 0, 256 * MIB, "Linux -> reference");
    over_tun(Opener::Linux, 256 * MIB, 0, "reference -> Linux");
    over_tun(
        Opener::Reference,
        128 * MIB,
        128 * MIB,
        "both ways, reference opens",
    );
}
