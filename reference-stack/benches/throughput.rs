//! Throughput figures (not a test): `cargo bench -p tcpconform-reference --bench throughput`.
//!
//! The engine only: two `Stack`s back to back in memory on a virtual clock, one bulk transfer;
//! segments per second and Gbit/s of wall-clock time spent in the stacks. The same over a TUN
//! device with the Linux kernel as the peer is `cargo bench -p tcpconform --bench tun`.

use reference_stack::stack::{SocketHandle, Stack, StackError};
use reference_stack::tcb::ConnError;
use reference_stack::{Config, Instant};
use std::net::{Ipv4Addr, SocketAddr};

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

fn main() {
    engine_only(256 * MIB);
}
