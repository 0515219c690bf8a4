//! The reference stack as a real TCP on a TUN device, talking to the Linux kernel, on the
//! harness's one driver (`tcpconform::reference::driver`).
//!
//! Runs as root. Everything happens in a network namespace created for the run (unshare on the
//! driver thread; it vanishes with the process): the kernel has 192.0.2.1/24 and 2001:db8::1/64
//! on the TUN device, the reference stack is 192.0.2.2 and 2001:db8::2.
//!
//! ```text
//! tun_serve listen <port> [echo|sink]     serve until Ctrl-C; reach it with the printed nsenter
//!                                         command, e.g. nc 192.0.2.2 <port>
//! tun_serve selftest <bytes> [v6]         a Linux client connects; <bytes> each way, checked
//! tun_serve connect <bytes> [v6]          the reference connects to a Linux listener; same
//! ```

use reference_stack::stack::Event;
use reference_stack::Config;
use std::collections::HashMap;
use std::time::Duration;
use tcpconform::reference::driver;
use tcpconform::reference::transfer::{self, Opener, Transfer};

fn usage() -> ! {
    eprintln!(
        "usage: tun_serve listen <port> [echo|sink] | selftest <bytes> [v6] | connect <bytes> [v6]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(why) = driver::unavailable() {
        eprintln!("tun_serve: {why}");
        std::process::exit(1);
    }
    let result = match args.first().map(String::as_str) {
        Some("listen") => {
            let port = args
                .get(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| usage());
            let echo = match args.get(2).map(String::as_str) {
                None | Some("echo") => true,
                Some("sink") => false,
                Some(_) => usage(),
            };
            serve(port, echo)
        }
        Some(mode @ ("selftest" | "connect")) => {
            let bytes = args
                .get(1)
                .and_then(|b| b.parse().ok())
                .unwrap_or_else(|| usage());
            let v6 = args.get(2).map(String::as_str) == Some("v6");
            let opener = if mode == "selftest" {
                Opener::Linux
            } else {
                Opener::Reference
            };
            transfer(opener, v6, bytes)
        }
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("tun_serve: {e}");
        std::process::exit(1);
    }
}

fn transfer(opener: Opener, v6: bool, bytes: u64) -> std::io::Result<()> {
    let report = transfer::run_transfer(
        opener,
        v6,
        bytes,
        bytes,
        Config::default(),
        Duration::from_secs(300),
    )?;
    println!("{report:#?}");
    report.check().map_err(std::io::Error::other)?;
    println!(
        "ok: {bytes} octets each way, checksums match, {:.3} Gbit/s (both directions), {:.2?}",
        report.gbit_per_s(),
        report.elapsed
    );
    Ok(())
}

/// Listen on both address families until killed; echo (or discard) what each client sends.
fn serve(port: u16, echo: bool) -> std::io::Result<()> {
    let (mut d, _ns) = transfer::driver_in_new_namespace(Config::default())?;
    let listeners = [
        d.stack
            .listen(transfer::ref_addr(false, port))
            .map_err(std::io::Error::other)?,
        d.stack
            .listen(transfer::ref_addr(true, port))
            .map_err(std::io::Error::other)?,
    ];
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    println!("reference stack on 192.0.2.2:{port} and [2001:db8::2]:{port}");
    println!(
        "try: nsenter --net=/proc/{}/task/{tid}/ns/net nc 192.0.2.2 {port}",
        std::process::id()
    );
    let mut conns: HashMap<_, Transfer> = HashMap::new();
    loop {
        d.turn(Duration::from_millis(50))?;
        for l in listeners {
            while let Some(h) = d.stack.accept(l).map_err(std::io::Error::other)? {
                if let Some(t) = d.stack.tuple(h) {
                    println!("{h}: accepted {t}");
                }
                let t = if echo {
                    Transfer::echo(h)
                } else {
                    Transfer::new(h, 0, 0)
                };
                conns.insert(h, t);
            }
        }
        let now = d.now();
        conns.retain(|h, t| match t.step(&mut d.stack, now) {
            Ok(false) => true,
            Ok(true) => {
                println!("{h}: done, received {} octets, sent {}", t.received, t.sent);
                let _ = d.stack.close(now, *h);
                false
            }
            Err(e) => {
                println!("{h}: {e}");
                let _ = d.stack.close(now, *h);
                false
            }
        });
        while let Some((h, ev)) = d.stack.poll_event() {
            if !matches!(ev, Event::Conn(reference_stack::tcb::ConnEvent::Readable)) {
                println!("{h}: {ev:?}");
            }
        }
    }
}
