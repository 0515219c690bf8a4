//! The running Linux kernel as the stack under test.
//!
//! Each case instance gets a fresh network namespace of its own, entered by the worker thread
//! alone (`unshare(CLONE_NEWNET)`), holding one TUN device. The kernel owns 192.0.2.1/24 and
//! 2001:db8::1/64 on it; the tester's 192.0.2.2 and 2001:db8::2 are on-link behind the device,
//! so whatever the kernel sends them comes out of the TUN fd, where `receive` reads it, and
//! nothing answers them except the packets `inject` writes into it. Application calls are real
//! socket syscalls made by the same thread, hence in the same namespace; `state` asks sock_diag.
//!
//! `close` closes every socket (with RST, so no orphan outlives the case by long), the TUN device,
//! and moves the thread back to the namespace it started in: the case namespace then has no
//! user and the kernel frees it, TIME-WAIT sockets included (they are purged with their
//! namespace). Nothing of one case can be seen by the next, which runs in a new namespace.
//!
//! A `LinuxTarget` is bound to the thread that created it: namespaces are per thread, so a call
//! from any other thread is refused rather than made in the wrong namespace.

use super::{AppCall, AppResult, Endpoints, Received, Target, TargetError};
use crate::app::sockets::SocketApp;
use crate::ip::IpVersion;
use crate::sys::netns;
use crate::sys::sockdiag;
use crate::sys::tun::Tun;
use crate::tcp::TcpState;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const TESTER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const TESTER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// Sysctls pinned in every case namespace before the case's own (which may override them).
pub const DEFAULT_SYSCTLS: &[(&str, &str)] = &[
    // RFC 9293 3.10.7.4 (and RFC 5961 challenge ACKs): the ACK sent for an unacceptable
    // segment must not be skipped by rate limiting, or a case's expected ACK comes or not
    // depending on what the previous case did 500 ms earlier.
    ("net.ipv4.tcp_invalid_ratelimit", "0"),
    ("net.ipv4.tcp_challenge_ack_limit", "2147483647"),
    // A small write goes out at once (Nagle still applies) instead of waiting for the
    // previous segment to leave the device queue: timing-independent segmentation.
    ("net.ipv4.tcp_autocorking", "0"),
    // No metrics from earlier connections (the namespace is fresh; this keeps it so).
    ("net.ipv4.tcp_no_metrics_save", "1"),
    // A namespace inherits the host's default congestion control (cubic on most hosts, bbr on
    // some), which would make the congestion cases' verdicts depend on the machine. Reno is
    // RFC 5681's algorithm and always built in; `--sysctl` or a case's `sysctls:` choose
    // another (the host's tcp_allowed_congestion_control limits which).
    ("net.ipv4.tcp_congestion_control", "reno"),
    // No duplicate address detection, no link-local address, no router solicitations: the
    // device carries the case's traffic and little else.
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv6.conf.default.addr_gen_mode", "1"),
    ("net.ipv6.conf.default.router_solicitations", "0"),
];

/// Pinned like [`DEFAULT_SYSCTLS`] where the kernel has them (newer kernels only).
pub const OPTIONAL_SYSCTLS: &[(&str, &str)] = &[
    // RFC 6298 2.4: "if it is less than 1 second, then the RTO SHOULD be rounded up to 1
    // second". Linux's own floor is 200 ms, which puts a retransmission inside the few hundred
    // milliseconds a case waits for silence; a case can set 200000 to see Linux's default.
    ("net.ipv4.tcp_rto_min_us", "1000000"),
];

/// Once the case is over, sockets the application closed (FIN-WAIT-1, LAST-ACK, ...) would
/// keep their namespace alive while they retransmit into a device that is gone; these make
/// them give up at the next timer.
const TEARDOWN_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.tcp_orphan_retries", "1"),
    ("net.ipv4.tcp_fin_timeout", "1"),
];

/// How long `accept` waits for a connection to complete (the tester's ACK is already in).
const ACCEPT_WAIT: Duration = Duration::from_millis(200);
/// How long `read` waits for the socket to become readable when nothing is queued yet.
const READ_WAIT: Duration = Duration::from_millis(20);

/// One case instance: its namespace is the worker thread's current one.
struct Instance {
    endpoints: Endpoints,
    opened: Instant,
    tun: Tun,
    pending: VecDeque<Received>,
    app: SocketApp,
    buf: Vec<u8>,
}

pub struct LinuxTarget {
    /// The namespace the thread was in when the target was made: where `close` returns.
    home: File,
    /// `--sysctl`: set in every case namespace after [`DEFAULT_SYSCTLS`], before the case's.
    sysctls: Vec<(String, String)>,
    thread: libc::pid_t,
    instance: Option<Instance>,
}

fn target_error(what: &str, e: impl std::fmt::Display) -> TargetError {
    TargetError(format!("{what}: {e}"))
}

/// Why the Linux target cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    crate::sys::tun::unavailable().map(|why| format!("the linux target {why}"))
}

impl LinuxTarget {
    /// A target bound to the calling thread; `sysctls` go into every case namespace after
    /// the pinned ones (a case's own `sysctls:` still come last).
    pub fn new(sysctls: Vec<(String, String)>) -> Result<LinuxTarget, TargetError> {
        if let Some(why) = unavailable() {
            return Err(TargetError(why));
        }
        let home =
            netns::current().map_err(|e| target_error("cannot read this thread's namespace", e))?;
        Ok(LinuxTarget {
            home,
            sysctls,
            thread: netns::thread_id(),
            instance: None,
        })
    }

    fn on_own_thread(&self) -> Result<(), TargetError> {
        if netns::thread_id() == self.thread {
            Ok(())
        } else {
            Err(TargetError(
                "the linux target was used from a thread other than its own".into(),
            ))
        }
    }

    fn instance(&mut self) -> Result<&mut Instance, TargetError> {
        self.on_own_thread()?;
        self.instance
            .as_mut()
            .ok_or_else(|| TargetError("target not opened".into()))
    }

    /// Steps of `open` after `unshare`; on error the caller tears the namespace down.
    fn setup(
        ip: IpVersion,
        run: &[(String, String)],
        sysctls: &BTreeMap<String, String>,
    ) -> Result<Instance, TargetError> {
        for (key, value) in DEFAULT_SYSCTLS {
            netns::write_sysctl(key, value).map_err(TargetError)?;
        }
        for (key, value) in run {
            netns::write_sysctl(key, value).map_err(TargetError)?;
        }
        for (key, value) in OPTIONAL_SYSCTLS {
            if netns::sysctl_path(key).is_ok_and(|p| p.exists()) {
                netns::write_sysctl(key, value).map_err(TargetError)?;
            }
        }
        let tun =
            Tun::create(TARGET_V4, 24, TARGET_V6, 64).map_err(|e| target_error("TUN device", e))?;
        // The case's own, after the device exists so that per-device keys can name it.
        for (key, value) in sysctls {
            netns::write_sysctl(key, value).map_err(TargetError)?;
        }
        let endpoints = match ip {
            IpVersion::V4 => Endpoints {
                target: IpAddr::V4(TARGET_V4),
                tester: IpAddr::V4(TESTER_V4),
            },
            IpVersion::V6 => Endpoints {
                target: IpAddr::V6(TARGET_V6),
                tester: IpAddr::V6(TESTER_V6),
            },
        };
        Ok(Instance {
            endpoints,
            opened: Instant::now(),
            tun,
            pending: VecDeque::new(),
            app: SocketApp::new(ACCEPT_WAIT, READ_WAIT),
            buf: vec![0; 65_536],
        })
    }
}

impl Instance {
    /// Move every packet waiting on the device into `pending`, keeping TCP only (the kernel's
    /// MLD reports and the like are not the case's business). True if any TCP packet came.
    fn pull(&mut self) -> Result<bool, TargetError> {
        let mut got = false;
        while let Some(n) = self
            .tun
            .recv(&mut self.buf)
            .map_err(|e| target_error("TUN read", e))?
        {
            let packet = self.buf.get(..n).unwrap_or(&[]);
            if is_tcp(packet) {
                self.pending.push_back(Received {
                    at: self.opened.elapsed(),
                    packet: packet.to_vec(),
                });
                got = true;
            }
        }
        Ok(got)
    }

    /// Wait until `deadline` or, with `stop_on_packet`, until a TCP packet is pending. An
    /// interrupted run ends the wait early with an error: a wait cut short must not pass for
    /// the silence an `expect_none` asks for.
    fn pump_until(&mut self, deadline: Instant, stop_on_packet: bool) -> Result<(), TargetError> {
        loop {
            self.pull()?;
            if stop_on_packet && !self.pending.is_empty() {
                return Ok(());
            }
            if crate::interrupt::requested() {
                return Err(TargetError::interrupted());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            self.tun
                .poll(libc::POLLIN, left.min(crate::interrupt::CHECK_EVERY))
                .map_err(|e| target_error("poll TUN", e))?;
        }
    }
}

/// An IPv4 or IPv6 packet whose (first) next header is TCP.
fn is_tcp(packet: &[u8]) -> bool {
    const TCP: u8 = 6;
    match packet.first().map(|b| b >> 4) {
        Some(4) => packet.get(9) == Some(&TCP),
        Some(6) => packet.get(6) == Some(&TCP),
        _ => false,
    }
}

impl Target for LinuxTarget {
    fn name(&self) -> &str {
        "linux"
    }

    fn open(
        &mut self,
        ip: IpVersion,
        sysctls: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        self.on_own_thread()?;
        self.close();
        netns::unshare().map_err(|e| target_error("new network namespace", e))?;
        match LinuxTarget::setup(ip, &self.sysctls, sysctls) {
            Ok(instance) => {
                let endpoints = instance.endpoints;
                self.instance = Some(instance);
                Ok(endpoints)
            }
            Err(e) => {
                // Leave the half-made namespace; it has no other user and goes away.
                let _ = netns::enter(&self.home);
                Err(e)
            }
        }
    }

    fn inject(&mut self, packet: &[u8]) -> Result<(), TargetError> {
        let inst = self.instance()?;
        // What the kernel sent before this packet went in stays ahead of its answer.
        inst.pull()?;
        inst.tun
            .send(packet)
            .map_err(|e| target_error("TUN write", e))
    }

    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
        let inst = self.instance()?;
        if inst.pending.is_empty() {
            inst.pump_until(Instant::now() + within, true)?;
        }
        Ok(inst.pending.pop_front())
    }

    fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        Ok(self.instance()?.app.call(call))
    }

    fn on_sockets(&self) -> bool {
        true
    }

    fn state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<TcpState>, TargetError> {
        self.instance()?;
        sockdiag::state_of(local, remote)
            .map(Some)
            .map_err(|e| target_error("sock_diag", e))
    }

    fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
        self.instance()?.pump_until(Instant::now() + d, false)
    }

    fn now(&self) -> Duration {
        self.instance
            .as_ref()
            .map(|i| i.opened.elapsed())
            .unwrap_or_default()
    }

    fn close(&mut self) {
        let Some(mut inst) = self.instance.take() else {
            return;
        };
        // RST instead of FIN: an aborted socket is freed at once rather than orphaned.
        inst.app.reset();
        if netns::thread_id() == self.thread {
            for (key, value) in TEARDOWN_SYSCTLS {
                let _ = netns::write_sysctl(key, value);
            }
        }
        if netns::thread_id() == self.thread {
            // If this fails the thread stays in the dead case namespace; the next `open`
            // unshares from there, which is just as isolated.
            let _ = netns::enter(&self.home);
        }
        // After leaving: the reaper threads, started by the first call, must not be born in
        // (and so keep alive) a case namespace.
        inst.tun.close_in_background();
    }
}

impl Drop for LinuxTarget {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_filter() {
        let mut v4 = vec![0x45u8; 20];
        v4[9] = 6;
        assert!(is_tcp(&v4));
        v4[9] = 1;
        assert!(!is_tcp(&v4));
        let mut v6 = vec![0x60u8; 40];
        v6[6] = 6;
        assert!(is_tcp(&v6));
        v6[6] = 58;
        assert!(!is_tcp(&v6));
        assert!(!is_tcp(&[]));
        assert!(!is_tcp(&[0x45]));
    }
}
