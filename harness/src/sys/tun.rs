//! A TUN device (IFF_TUN | IFF_NO_PI: one IP packet per read or write) and the set-up of its
//! interface: ioctls for the links and the MTU, rtnetlink for the addresses (the ioctl cannot
//! add a second address or say `nodad`). A handful of syscalls, no `ip` process.

use super::check;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::str::FromStr;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The device name inside each case namespace (never created anywhere else).
pub const TUN_NAME: &str = "tcpconform0";

/// Why no network namespace with a TUN device can be made here, if none can: it takes root
/// (or CAP_NET_ADMIN) and `/dev/net/tun`. A phrase to follow the name of what needs it.
pub fn unavailable() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces and a TUN device)");
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("needs /dev/net/tun, which is missing");
    }
    None
}

/// An address of the kernel's side of a device, with its prefix length: `192.0.2.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl FromStr for IfAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<IfAddr, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: not ADDRESS/PREFIX"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?}: {addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{s:?}: the prefix length is 0 to {max}"))?;
        Ok(IfAddr { addr, prefix })
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A non-blocking TUN device; removed when dropped, unless it existed before it was opened.
pub struct Tun {
    fd: OwnedFd,
    name: String,
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
        check(
            libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr),
            "SIOCGIFFLAGS",
        )?;
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(
            libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr),
            "SIOCSIFFLAGS",
        )?;
    }
    Ok(())
}

impl Tun {
    /// Whether an interface `name` exists in the calling thread's namespace.
    pub fn exists(name: &str) -> bool {
        std::path::Path::new("/sys/class/net").join(name).exists()
    }

    /// Create the device `name` in the calling thread's namespace, or attach to it if it
    /// exists (a device made persistent by another program, left as it is).
    pub fn open(name: &str) -> io::Result<Tun> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('/') {
            return Err(io::Error::other(format!("bad interface name {name:?}")));
        }
        // SAFETY: a plain open of a device node with a NUL-terminated path.
        let raw = check(
            unsafe {
                libc::open(
                    c"/dev/net/tun".as_ptr(),
                    libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
                )
            },
            "open /dev/net/tun",
        )?;
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut ifr = ifreq(name);
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which outlives the call.
        check(
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) },
            "TUNSETIFF",
        )?;
        Ok(Tun {
            fd,
            name: name.to_string(),
        })
    }

    /// Bring `lo` and the device up, set the device's MTU (if given) and give the kernel
    /// `addrs` on it. IPv6 addresses are added with IFA_F_NODAD, so they are never tentative:
    /// usable at once, and this returns only once each has its local route.
    pub fn configure(&self, mtu: Option<usize>, addrs: &[IfAddr]) -> io::Result<()> {
        let inet = socket(libc::AF_INET)?;
        link_up(&inet, "lo")?;
        if let Some(mtu) = mtu {
            let mut ifr = ifreq(&self.name);
            ifr.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu)
                .map_err(|_| io::Error::other(format!("MTU {mtu} is too large")))?;
            // SAFETY: SIOCSIFMTU reads one ifreq.
            check(
                unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCSIFMTU, &ifr) },
                "SIOCSIFMTU",
            )?;
        }
        let mut ifr = ifreq(&self.name);
        // SAFETY: SIOCGIFINDEX reads and writes one ifreq.
        check(
            unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCGIFINDEX, &mut ifr) },
            "SIOCGIFINDEX",
        )?;
        // SAFETY: SIOCGIFINDEX filled the index member of the union.
        let index = unsafe { ifr.ifr_ifru.ifru_ifindex };
        // IPv4 before the link comes up, IPv6 after: an IPv6 address on a down link would
        // wait for it to come up before its local route exists.
        for a in addrs.iter().filter(|a| a.addr.is_ipv4()) {
            add_address(index, *a)?;
        }
        link_up(&inet, &self.name)?;
        for a in addrs {
            if let IpAddr::V6(v6) = a.addr {
                add_address(index, *a)?;
                wait_ipv6_local_route(v6)?;
            }
        }
        Ok(())
    }

    /// Create the case device [`TUN_NAME`] in the calling thread's namespace, bring `lo` and
    /// the device up and give the kernel `v4/prefix4` and `v6/prefix6` on it.
    pub fn create(v4: Ipv4Addr, prefix4: u8, v6: Ipv6Addr, prefix6: u8) -> io::Result<Tun> {
        let tun = Tun::open(TUN_NAME)?;
        tun.configure(
            None,
            &[
                IfAddr {
                    addr: v4.into(),
                    prefix: prefix4,
                },
                IfAddr {
                    addr: v6.into(),
                    prefix: prefix6,
                },
            ],
        )?;
        Ok(tun)
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One packet into `buf`; `None` if none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: reads at most buf.len() bytes into buf.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n.unsigned_abs()))
    }

    /// Hand one IP packet to the kernel as if it had arrived on the device.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        for _ in 0..100 {
            // SAFETY: writes packet.len() bytes from packet.
            let n =
                unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
            self.poll(libc::POLLOUT, Duration::from_millis(10))?;
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "TUN device not writable for 1 s",
        ))
    }

    /// Wait up to `timeout` for `events` (POLLIN, POLLOUT); true if ready.
    pub fn poll(&self, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
        poll_fd(self.fd.as_raw_fd(), events, timeout)
    }
}

/// Threads closing devices: most of a device's teardown is waiting for RCU grace periods
/// outside the RTNL lock, so a few closes overlap well.
const REAPERS: usize = 4;

/// Devices waiting for the reaper threads at most; past that, `close_in_background` closes
/// inline (back-pressure: namespaces cannot pile up faster than the kernel frees them).
const REAPER_BACKLOG: usize = 128;

static REAPER: OnceLock<Option<SyncSender<Tun>>> = OnceLock::new();

impl Tun {
    /// Close the device on a background thread. Unregistering a device waits for RCU grace
    /// periods (20-40 ms on a busy machine), which would otherwise dominate each case
    /// instance; nothing observes the device once its owner has let it go, so the wait can
    /// happen off the case's path.
    pub fn close_in_background(self) {
        let reaper = REAPER.get_or_init(|| {
            let (tx, rx) = sync_channel::<Tun>(REAPER_BACKLOG);
            let rx = Arc::new(Mutex::new(rx));
            let mut spawned = 0;
            for i in 0..REAPERS {
                let rx = Arc::clone(&rx);
                let next = move || rx.lock().ok().and_then(|rx| rx.recv().ok());
                let reaper = std::thread::Builder::new()
                    .name(format!("tun-reaper-{i}"))
                    .spawn(move || std::iter::from_fn(next).for_each(drop));
                spawned += usize::from(reaper.is_ok());
            }
            (spawned > 0).then_some(tx)
        });
        match reaper {
            Some(tx) => match tx.try_send(self) {
                Ok(()) => {}
                Err(TrySendError::Full(tun) | TrySendError::Disconnected(tun)) => drop(tun),
            },
            None => drop(self),
        }
    }
}

/// RTM_NEWADDR for `a` on interface `index`; an IPv6 address flagged IFA_F_NODAD: without it
/// the address stays tentative until the kernel's DAD work runs, asynchronously, even when DAD
/// is disabled, and a bind in the meantime fails with EADDRNOTAVAIL.
fn add_address(index: libc::c_int, a: IfAddr) -> io::Result<()> {
    const RTM_NEWADDR: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLM_F_EXCL: u16 = 0x200;
    const NLM_F_CREATE: u16 = 0x400;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_F_NODAD: u8 = 0x02;
    const NLMSG_ERROR: u16 = 2;
    let (family, octets, flags) = match a.addr {
        IpAddr::V4(v4) => (libc::AF_INET, v4.octets().to_vec(), 0),
        IpAddr::V6(v6) => (libc::AF_INET6, v6.octets().to_vec(), IFA_F_NODAD),
    };
    // IPv4 names the local address twice, as `ip addr add` does: IFA_LOCAL is the address,
    // IFA_ADDRESS the peer's on a point-to-point link (the same here).
    let attrs: &[u16] = if a.addr.is_ipv4() {
        &[IFA_LOCAL, IFA_ADDRESS]
    } else {
        &[IFA_ADDRESS]
    };
    let rta_len = 4 + octets.len();
    let len = 16 + 8 + attrs.len() * rta_len;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&RTM_NEWADDR.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
                                              // struct ifaddrmsg: family, prefix length, flags, scope (universe), interface index.
    m.extend_from_slice(&[family as u8, a.prefix, flags, 0]);
    m.extend_from_slice(&index.to_ne_bytes());
    // One struct rtattr and the address per attribute (both 4 or 20 octets: aligned).
    for &attr in attrs {
        m.extend_from_slice(&(rta_len as u16).to_ne_bytes());
        m.extend_from_slice(&attr.to_ne_bytes());
        m.extend_from_slice(&octets);
    }

    let answer = rtnetlink(&m)?;
    // The answer is one NLMSG_ERROR: header, then the (negative) errno, 0 for success.
    match (u16_at(&answer, 4), i32_at(&answer, 16)) {
        (Some(NLMSG_ERROR), Some(0)) => Ok(()),
        (Some(NLMSG_ERROR), Some(e)) => {
            let e = io::Error::from_raw_os_error(e.saturating_neg());
            Err(io::Error::new(e.kind(), format!("RTM_NEWADDR {a}: {e}")))
        }
        _ => Err(io::Error::other("RTM_NEWADDR: unexpected answer")),
    }
}

/// How long [`wait_ipv6_local_route`] waits. The route normally appears within ~100 us, but the
/// work item runs under the RTNL lock, which namespace teardown (batched in the kernel's
/// `cleanup_net` worker) can hold for over a second on a loaded 2-core machine running `-j8`:
/// a 1 s limit failed ~1 % of instances in a 20-run flake check, and 15 s failed a handful of
/// instances at `-j64` beside other namespace-heavy jobs. The limit only bounds a genuinely
/// broken setup, so it is generous (and the executor tries a failed setup again).
const LOCAL_ROUTE_WAIT: Duration = Duration::from_secs(60);

/// Wait until `addr` has its local route. The kernel inserts it from the address's DAD work
/// item, asynchronously, even for a NODAD address; until then an IPv6 packet to `addr` is
/// dropped as not ours (Ip6InAddrErrors).
fn wait_ipv6_local_route(addr: Ipv6Addr) -> io::Result<()> {
    const RTM_GETROUTE: u16 = 26;
    const RTM_NEWROUTE: u16 = 24;
    const NLM_F_REQUEST: u16 = 0x1;
    const RTA_DST: u16 = 1;
    const RTN_LOCAL: u8 = 2;
    let len: usize = 16 + 12 + 4 + 16;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    m.extend_from_slice(&[libc::AF_INET6 as u8, 128, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&20u16.to_ne_bytes());
    m.extend_from_slice(&RTA_DST.to_ne_bytes());
    m.extend_from_slice(&addr.octets());
    let start = std::time::Instant::now();
    loop {
        let answer = rtnetlink(&m)?;
        // RTM_NEWROUTE: header, then rtmsg whose eighth octet is the route type.
        if u16_at(&answer, 4) == Some(RTM_NEWROUTE) && answer.get(16 + 7) == Some(&RTN_LOCAL) {
            return Ok(());
        }
        if start.elapsed() > LOCAL_ROUTE_WAIT {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{addr}: no local route after {LOCAL_ROUTE_WAIT:?}"),
            ));
        }
        // Back off from 200 us to 10 ms: a slow insert should not cost RTNL round trips.
        let waited = start.elapsed();
        std::thread::sleep(
            (waited / 4).clamp(Duration::from_micros(200), Duration::from_millis(10)),
        );
    }
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn i32_at(d: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// One rtnetlink request and the first datagram of its answer.
fn rtnetlink(request: &[u8]) -> io::Result<Vec<u8>> {
    // SAFETY: plain socket creation.
    let raw = check(
        unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        },
        "socket(NETLINK_ROUTE)",
    )?;
    // SAFETY: `raw` is a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sends request.len() bytes from request to the kernel (the default destination).
    let n = unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
    check(n as libc::c_int, "send(rtnetlink)")?;
    let mut answer = vec![0u8; 4096];
    // SAFETY: receives at most answer.len() bytes into answer.
    let n = unsafe { libc::recv(fd.as_raw_fd(), answer.as_mut_ptr().cast(), answer.len(), 0) };
    check(n as libc::c_int, "recv(rtnetlink)")?;
    answer.truncate(n.unsigned_abs());
    Ok(answer)
}

/// poll() one fd for up to `timeout` (rounded up to a millisecond); true if ready. EINTR is
/// reported as not ready: callers loop on their own deadline.
pub fn poll_fd(fd: libc::c_int, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let micros = timeout.as_micros();
    let ms = micros.div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_addresses() {
        let a: IfAddr = "192.0.2.1/24".parse().expect("valid");
        assert_eq!(a.addr, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(a.prefix, 24);
        assert_eq!(a.to_string(), "192.0.2.1/24");
        let b: IfAddr = "2001:db8::1/64".parse().expect("valid");
        assert_eq!(b.prefix, 64);
        for bad in [
            "192.0.2.1",
            "192.0.2.1/33",
            "2001:db8::1/129",
            "x/8",
            "192.0.2.1/",
        ] {
            assert!(bad.parse::<IfAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn device_names_are_checked_before_any_syscall() {
        for bad in ["", "a/b", "sixteen-octets-x"] {
            assert!(Tun::open(bad).is_err(), "{bad:?}");
        }
    }
}
