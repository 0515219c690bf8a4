//! A TUN device (IFF_TUN | IFF_NO_PI: one IP packet per read or write) and the interface setup
//! of a case namespace, by ioctl: a handful of syscalls, no `ip` process, no netlink parsing.

use super::netns::check;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// The device name inside each case namespace (never created anywhere else).
pub const TUN_NAME: &str = "tcpconform0";

/// A non-blocking TUN device in the calling thread's namespace; removed when dropped.
pub struct Tun {
    fd: OwnedFd,
}

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    // The last octet stays NUL: names are at most IFNAMSIZ - 1 octets.
    let room = ifr.ifr_name.len().saturating_sub(1);
    for (dst, src) in ifr.ifr_name.iter_mut().take(room).zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    ifr
}

fn socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket creation.
    let raw = check(
        unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) },
        "socket",
    )?;
    // SAFETY: `raw` is a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Set IFF_UP on `name`.
fn link_up(sock: &OwnedFd, name: &str) -> io::Result<()> {
    let mut ifr = ifreq(name);
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write one ifreq that outlives the calls.
    unsafe {
        check(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr), "SIOCGIFFLAGS")?;
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr), "SIOCSIFFLAGS")?;
    }
    Ok(())
}

fn sockaddr_v4(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(addr.octets()) },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; this is how the ioctl ABI passes it.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

impl Tun {
    /// Create the device in the calling thread's namespace, bring `lo` and the device up and
    /// give the kernel `v4/prefix4` and `v6/prefix6` on it. IPv6 duplicate address detection is
    /// off (the caller sets `accept_dad=0` first, and a TUN device is IFF_NOARP anyway), so the
    /// address is usable at once.
    pub fn create(v4: Ipv4Addr, prefix4: u8, v6: Ipv6Addr, prefix6: u8) -> io::Result<Tun> {
        // SAFETY: a plain open of a device node with a NUL-terminated path.
        let raw = check(
            unsafe {
                libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC)
            },
            "open /dev/net/tun",
        )?;
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut ifr = ifreq(TUN_NAME);
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which outlives the call.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) }, "TUNSETIFF")?;

        let inet = socket(libc::AF_INET)?;
        link_up(&inet, "lo")?;
        let mut ifr = ifreq(TUN_NAME);
        ifr.ifr_ifru.ifru_addr = sockaddr_v4(v4);
        // SAFETY: SIOCSIFADDR reads one ifreq.
        check(unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCSIFADDR, &ifr) }, "SIOCSIFADDR")?;
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix4.min(32))).unwrap_or(0);
        ifr.ifr_ifru.ifru_netmask = sockaddr_v4(Ipv4Addr::from(mask));
        // SAFETY: SIOCSIFNETMASK reads one ifreq.
        check(
            unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCSIFNETMASK, &ifr) },
            "SIOCSIFNETMASK",
        )?;
        link_up(&inet, TUN_NAME)?;

        let mut ifr = ifreq(TUN_NAME);
        // SAFETY: SIOCGIFINDEX reads and writes one ifreq.
        check(unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCGIFINDEX, &mut ifr) }, "SIOCGIFINDEX")?;
        // SAFETY: SIOCGIFINDEX filled the index member of the union.
        let index = unsafe { ifr.ifr_ifru.ifru_ifindex };
        let inet6 = socket(libc::AF_INET6)?;
        let req = libc::in6_ifreq {
            ifr6_addr: libc::in6_addr { s6_addr: v6.octets() },
            ifr6_prefixlen: u32::from(prefix6.min(128)),
            ifr6_ifindex: index,
        };
        // SAFETY: SIOCSIFADDR on an AF_INET6 socket reads one in6_ifreq.
        check(unsafe { libc::ioctl(inet6.as_raw_fd(), libc::SIOCSIFADDR, &req) }, "SIOCSIFADDR (IPv6)")?;
        Ok(Tun { fd })
    }

    /// One packet into `buf`; `None` if none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: reads at most buf.len() bytes into buf.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
        }
        Ok(Some(n.unsigned_abs()))
    }

    /// Hand one IP packet to the kernel as if it had arrived on the device.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        for _ in 0..100 {
            // SAFETY: writes packet.len() bytes from packet.
            let n = unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
            self.poll(libc::POLLOUT, Duration::from_millis(10))?;
        }
        Err(io::Error::new(io::ErrorKind::WouldBlock, "TUN device not writable for 1 s"))
    }

    /// Wait up to `timeout` for `events` (POLLIN, POLLOUT); true if ready.
    pub fn poll(&self, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
        poll_fd(self.fd.as_raw_fd(), events, timeout)
    }
}

/// poll() one fd for up to `timeout` (rounded up to a millisecond); true if ready. EINTR is
/// reported as not ready: callers loop on their own deadline.
pub fn poll_fd(fd: libc::c_int, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events, revents: 0 };
    let micros = timeout.as_micros();
    let ms = micros.div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
    }
    Ok(n > 0)
}
