//! The reference stack against the Linux kernel over a TUN device (on the harness's one
//! driver, `reference::driver`), in a network namespace the test creates (and that vanishes
//! with its threads). Runs only as root; otherwise each test says why it did not run, and fails
//! under CI (`needs`).

mod needs;

use reference_stack::Config;
use std::time::Duration;
use tcpconform::reference::driver::unavailable;
use tcpconform::reference::transfer::{self, Opener, Report};
use tcpconform::sys::tun::{Tun, TUN_NAME};

const MIB: u64 = 1 << 20;

fn run(opener: Opener, v6: bool, bytes: u64) -> Report {
    let report = transfer::run_transfer(
        opener,
        v6,
        bytes,
        bytes,
        Config::default(),
        Duration::from_secs(240),
    )
    .unwrap_or_else(|e| panic!("{opener:?} v6={v6}: {e}"));
    eprintln!(
        "{opener:?} v6={v6}: {bytes} octets each way in {:.2?} ({:.3} Gbit/s), {} packets in, {} out, final state {}",
        report.elapsed,
        report.gbit_per_s(),
        report.packets_in,
        report.packets_out,
        report.final_state
    );
    report
        .check()
        .unwrap_or_else(|e| panic!("{opener:?} v6={v6}: {e}"));
    assert_eq!(report.ref_received.0, bytes);
    assert_eq!(report.linux_received.0, bytes);
    // Nothing leaked into the host's namespace.
    assert!(
        !Tun::exists(TUN_NAME),
        "the TUN device must not exist outside the test's namespace"
    );
    report
}

#[test]
fn linux_client_to_reference_10_mib_each_way() {
    require!(unavailable());
    run(Opener::Linux, false, 10 * MIB);
}

#[test]
fn reference_client_to_linux_10_mib_each_way() {
    require!(unavailable());
    run(Opener::Reference, false, 10 * MIB);
}

#[test]
fn ipv6_both_openers() {
    require!(unavailable());
    run(Opener::Linux, true, MIB);
    run(Opener::Reference, true, MIB);
}

#[test]
fn closed_port_refuses_linux_connect() {
    require!(unavailable());
    for v6 in [false, true] {
        let r = transfer::connect_to_closed_port(v6, 7).expect("namespace and TUN set up");
        let e = r.expect_err("nobody listens on port 7");
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "v6={v6}: {e}"
        );
    }
}
