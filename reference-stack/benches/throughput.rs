//! Throughput figures (not a test): `cargo bench -p tcpconform-reference --bench throughput`.
//!
//! 1. engine only: two `Stack`s back to back in memory on a virtual clock, one bulk transfer;
//!    segments per second and Gbit/s of wall-clock time spent in the stacks.
//! 2. over TUN with the Linux kernel as the peer (root only; skipped otherwise), each direction.

#[path = "../examples/common/tun_driver.rs"]
mod tun_driver;

use reference_stack::stack::{SocketHandle, Stack, StackError};
use reference_stack::tcb::ConnError;
use reference_stack::{Config, Instant};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tun_driver::Opener;

const MIB: u64 = 1 << 20;

fn engine_only(bytes: u64) {
    let config = Config {
        isn_secret: Some([1; 16]),
        ..Config::default()
    };
    let mut a = Stack::new(config.clone());
    let mut b = Stack::new(config);
    let server = SocketAddr::new(Ipv4Addr::new(192, 0, 2, 2).into(), 80);
    let l = b.listen(server).expect("listen");
    let mut now = Instant::ZERO;
    let c = a
        .connect(
            now,
            SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), 0),
            server,
        )
        .expect("connect");
    let mut s: Option<SocketHandle> = None;
    let chunk = vec![0x5a; 64 * 1024];
    let mut buf = vec![0; 64 * 1024];
    let (mut sent, mut received, mut segments) = (0u64, 0u64, 0u64);
    let start = std::time::Instant::now();
    while received < bytes {
        if sent < bytes {
            let len = (bytes - sent).min(chunk.len() as u64) as usize;
            match a.send(now, c, &chunk[..len]) {
                Ok(n) => sent += n as u64,
                Err(StackError::Conn(ConnError::WouldBlock)) => {}
                Err(e) => panic!("send: {e}"),
            }
        }
        // Each segment is answered before the next is delivered, as on a wire (so the
        // receiver's ACK clock is not coalesced over whole flights).
        let mut moved = false;
        while let Some(p) = a.poll_transmit(now) {
            b.handle_packet(now, &p).expect("valid");
            segments += 1;
            moved = true;
            while let Some(q) = b.poll_transmit(now) {
                a.handle_packet(now, &q).expect("valid");
                segments += 1;
            }
        }
        while let Some(q) = b.poll_transmit(now) {
            a.handle_packet(now, &q).expect("valid");
            segments += 1;
            moved = true;
        }
        if s.is_none() {
            s = b.accept(l).expect("accept");
        }
        if let Some(s) = s {
            loop {
                match b.recv(s, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        received += n as u64;
                        moved = true;
                    }
                    Err(StackError::Conn(ConnError::WouldBlock)) => break,
                    Err(e) => panic!("recv: {e}"),
                }
            }
        }
        if !moved {
            let next = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("a timer");
            now = now.max(next);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "engine only: {bytes} octets, {segments} segments in {secs:.3} s: {:.0} segments/s, {:.3} Gbit/s",
        segments as f64 / secs,
        bytes as f64 * 8.0 / secs / 1e9
    );
}

fn over_tun(opener: Opener, ref_sends: u64, linux_sends: u64, what: &str) {
    match tun_driver::run_transfer(
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
    engine_only(256 * MIB);
    if let Some(why) = tun_driver::unavailable() {
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
