//! After a `linux` target is dropped nothing of it remains: its thread is back in its own
//! namespace, no TUN device is open (so the case namespaces are gone) and none was ever
//! visible in the host namespace. A file of its own: it counts the process's TUN fds, which
//! other tests running in parallel would disturb. Needs root; otherwise it does not run, and
//! fails under CI (`needs`).

mod needs;

use etherparse::PacketBuilder;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use tcpconform::run::event::IpVersion;
use tcpconform::sys::tun::TUN_NAME;
use tcpconform::target::linux::{self, LinuxTarget};
use tcpconform::target::{AppCall, Endpoints, Target};

fn ns_inode() -> u64 {
    let m = std::fs::metadata("/proc/thread-self/ns/net").expect("ns");
    std::os::unix::fs::MetadataExt::ino(&m)
}

/// File descriptors of this process open on /dev/net/tun.
fn open_tun_fds() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == "/dev/net/tun"))
        .count()
}

fn syn(ep: Endpoints) -> Vec<u8> {
    let builder = match (ep.tester, ep.target) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed families"),
    };
    let mut out = Vec::new();
    builder
        .tcp(50_000, 8080, 1, 65_535)
        .syn()
        .write(&mut out, &[])
        .expect("SYN builds");
    out
}

#[test]
fn nothing_is_left_behind() {
    require!(linux::unavailable());
    let home = ns_inode();
    // The worker thread does the namespace work; this thread (never moved) checks the host.
    let worker = std::thread::spawn(move || {
        let home = ns_inode();
        let mut t = LinuxTarget::new(Vec::new()).expect("target");
        let mut seen = Vec::new();
        for ip in [IpVersion::V4, IpVersion::V6, IpVersion::V4] {
            let ep = t.open(ip, &BTreeMap::new()).expect("open");
            assert_ne!(
                ns_inode(),
                home,
                "each instance runs in a namespace of its own"
            );
            seen.push(ns_inode());
            t.app(&AppCall::Listen {
                local: std::net::SocketAddr::new(ep.target, 8080),
            })
            .expect("listen");
            t.inject(&syn(ep)).expect("inject");
            let got = t.receive(Duration::from_millis(500)).expect("receive");
            assert!(got.is_some(), "SYN-ACK");
            assert!(open_tun_fds() >= 1);
        }
        // Namespace inodes are reused once freed; consecutive ones are distinct at least.
        assert!(seen.windows(2).all(|w| w.first() != w.last()), "{seen:?}");
        drop(t);
        assert_eq!(ns_inode(), home, "the thread is back in its own namespace");
    });
    worker.join().expect("worker");
    assert_eq!(ns_inode(), home);
    // The devices are closed in the background; the last one within a few RCU grace periods.
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_tun_fds() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_tun_fds(), 0, "every TUN device is closed");
    // No thread of the process (the TUN reapers included) is left in a case namespace.
    let tasks = std::fs::read_dir("/proc/self/task").expect("tasks");
    for task in tasks.flatten() {
        let ns = std::fs::metadata(task.path().join("ns/net")).expect("task ns");
        let inode = std::os::unix::fs::MetadataExt::ino(&ns);
        assert_eq!(
            inode,
            home,
            "thread {:?} is in another namespace",
            task.file_name()
        );
    }
    let out = Command::new("ip").args(["link", "show", TUN_NAME]).output();
    if let Ok(out) = out {
        assert!(
            !out.status.success(),
            "{TUN_NAME} exists in the host namespace"
        );
    }
    assert!(!std::path::Path::new("/sys/class/net")
        .join(TUN_NAME)
        .exists());
}
