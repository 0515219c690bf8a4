//! The reference stack against the Linux kernel over a TUN device, in a network namespace the
//! test creates (and that vanishes with its threads). Runs only as root; otherwise each test
//! says why it did not run, and fails under CI (`needs`).

#[path = "../examples/common/tun_driver.rs"]
mod tun_driver;
// The harness's tests share this helper; one file says how every test reports what it lacks.
#[path = "../../harness/tests/needs/mod.rs"]
mod needs;

use reference_stack::Config;
use std::time::Duration;
use tun_driver::{Opener, Report};

const MIB: u64 = 1 << 20;

fn run(opener: Opener, v6: bool, bytes: u64) -> Report {
    let report = tun_driver::run_transfer(
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
    let host = std::process::Command::new("ip")
        .args(["link", "show", tun_driver::TUN_NAME])
        .output()
        .expect("ip");
    assert!(
        !host.status.success(),
        "the TUN device must not exist outside the test's namespace"
    );
    report
}

#[test]
fn linux_client_to_reference_10_mib_each_way() {
    require!(tun_driver::unavailable());
    run(Opener::Linux, false, 10 * MIB);
}

#[test]
fn reference_client_to_linux_10_mib_each_way() {
    require!(tun_driver::unavailable());
    run(Opener::Reference, false, 10 * MIB);
}

#[test]
fn ipv6_both_openers() {
    require!(tun_driver::unavailable());
    run(Opener::Linux, true, MIB);
    run(Opener::Reference, true, MIB);
}

#[test]
fn closed_port_refuses_linux_connect() {
    require!(tun_driver::unavailable());
    for v6 in [false, true] {
        let r = tun_driver::connect_to_closed_port(v6, 7).expect("namespace and TUN set up");
        let e = r.expect_err("nobody listens on port 7");
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "v6={v6}: {e}"
        );
    }
}
