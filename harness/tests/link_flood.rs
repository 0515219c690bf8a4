//! A target that floods the tester on `--target link` cannot take the harness's memory: the
//! segments kept for the runner are bounded (the rest dropped, counted and noted in the
//! instance's trace), and one read of the socket is bounded too, so a wait still ends on time.
//!
//! Inside a namespace this test creates: a veth pair, the link target on one end (the tester's
//! crafted address 192.0.2.3), the kernel's 192.0.2.1 on the other, and a raw socket there
//! sending a stream of segments from 192.0.2.1 to the tester's port for the length of one
//! `wait`. One test in this file: it measures the process's peak memory.

mod link_support;
#[macro_use]
mod needs;

use link_support::NetNs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcpconform::packet::build::build;
use tcpconform::packet::spec::{ChecksumSpec, IpFields, PacketSpec};
use tcpconform::run::event::IpVersion;
use tcpconform::target::link::{LinkConfig, LinkTarget, PortAllocator};
use tcpconform::target::Target;

const TARGET: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const TESTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// How long the instance waits while the flood runs.
const WAIT: Duration = Duration::from_secs(4);
/// The bound the test holds the harness to: the queue's 16,384 segments and a read batch are
/// a few MiB; an unbounded queue of the segments such a flood brings is well over this.
const PEAK_GROWTH_LIMIT_KIB: u64 = 48 * 1024;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

fn mac_of(ns: &NetNs, dev: &str) -> [u8; 6] {
    let out = std::process::Command::new("ip")
        .args(["-n", &ns.name, "-o", "link", "show", dev])
        .output()
        .expect("ip link show");
    let text = String::from_utf8_lossy(&out.stdout);
    let mac = text
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .expect("a MAC");
    let mut m = [0u8; 6];
    for (i, part) in mac.split(':').enumerate() {
        m[i] = u8::from_str_radix(part, 16).expect("hex");
    }
    m
}

/// Sends Ethernet frames carrying `packet` out of `dev` until `stop`; counts them.
fn flood(dev: &str, dst_mac: [u8; 6], src_mac: [u8; 6], packet: Vec<u8>, stop: &AtomicBool) -> u64 {
    // SAFETY: plain socket calls on a socket this function owns.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(fd >= 0, "AF_PACKET: {}", std::io::Error::last_os_error());
        let name = std::ffi::CString::new(dev).expect("name");
        let index = libc::if_nametoindex(name.as_ptr());
        assert!(index > 0);
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = index as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&dst_mac);
        let mut frame = Vec::with_capacity(14 + packet.len());
        frame.extend_from_slice(&dst_mac);
        frame.extend_from_slice(&src_mac);
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        frame.extend_from_slice(&packet);
        let mut sent = 0;
        while !stop.load(Ordering::Relaxed) {
            let n = libc::sendto(
                fd,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if n > 0 {
                sent += 1;
            }
        }
        libc::close(fd);
        sent
    }
}

#[test]
fn a_flood_stays_within_bounded_memory_and_the_wait_ends_on_time() {
    require!(needs::namespaces());
    let ns = NetNs::new("flood");
    ns.ip(&["link", "add", "fa", "type", "veth", "peer", "name", "fb"]);
    ns.ip(&["link", "set", "fa", "up"]);
    ns.ip(&["link", "set", "fb", "up"]);
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "fb"]);
    let (fa_mac, fb_mac) = (mac_of(&ns, "fa"), mac_of(&ns, "fb"));
    let name = ns.name.clone();
    let (peak_growth, sent, elapsed, notes) = ns.run(move || {
        let config = LinkConfig {
            iface: "fa".into(),
            targets: vec![IpAddr::V4(TARGET)],
            locals: vec![IpAddr::V4(TESTER)],
            closed_port: Some(9),
            ports: Arc::new(PortAllocator::with_offset(0)),
            ..LinkConfig::default()
        };
        let mut target = LinkTarget::new(config);
        target
            .open(IpVersion::V4, &Default::default())
            .expect("open");
        let port = target.fresh_port().expect("a tester port");
        let tester = SocketAddr::new(IpAddr::V4(TESTER), port);
        let spec = |src: SocketAddr, dst: SocketAddr, flags: u16| PacketSpec {
            src,
            dst,
            seq: 1,
            ack: 1,
            flags,
            window: 1000,
            urgent: 0,
            reserved: 0,
            options: Vec::new(),
            payload: Vec::new(),
            data_offset: None,
            checksum: ChecksumSpec::Correct,
            ip: IpFields::default(),
            raw: None,
        };
        // The tester's port becomes this instance's: a SYN to a closed port of the kernel.
        let closed = SocketAddr::new(IpAddr::V4(TARGET), 9);
        target
            .inject(&build(&spec(tester, closed, 0x02)))
            .expect("inject");
        // The flood: the kernel side "answers" the tester's port over and over.
        let flood_packet = build(&spec(closed, tester, 0x10));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let flooder = {
            let (stop, sent, name) = (stop.clone(), sent.clone(), name.clone());
            std::thread::spawn(move || {
                link_support::enter(&name);
                sent.store(
                    flood("fb", fa_mac, fb_mac, flood_packet, &stop),
                    Ordering::SeqCst,
                );
            })
        };
        let before = peak_rss_kib();
        let started = Instant::now();
        target.wait(WAIT).expect("wait");
        let elapsed = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        flooder.join().expect("flooder");
        let peak_growth = peak_rss_kib().saturating_sub(before);
        target.close();
        let notes = target.take_notes();
        (peak_growth, sent.load(Ordering::SeqCst), elapsed, notes)
    });
    eprintln!(
        "flood: {sent} segments sent, peak memory grew {peak_growth} KiB, wait took {elapsed:?}"
    );
    assert!(
        sent > 100_000,
        "the flood was too small to test anything: {sent}"
    );
    let dropped = notes
        .iter()
        .find(|n| n.contains("dropped: more than 16384 were waiting"))
        .unwrap_or_else(|| panic!("no note of dropped segments: {notes:?}"));
    assert!(!dropped.is_empty());
    assert!(
        peak_growth < PEAK_GROWTH_LIMIT_KIB,
        "peak memory grew {peak_growth} KiB under a flood of {sent} segments"
    );
    assert!(
        elapsed < WAIT + Duration::from_secs(2),
        "a {WAIT:?} wait took {elapsed:?} under the flood"
    );
}
