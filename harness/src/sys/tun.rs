//! A TUN device (IFF_TUN | IFF_NO_PI: one IP packet per read or write) and the interface setup
//! of a case namespace: ioctls for the links and the IPv4 address, one rtnetlink request for
//! the IPv6 address (the ioctl cannot say `nodad`). A handful of syscalls, no `ip` process.

use super::netns::check;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
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

fn sockaddr_v4(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; this is how the ioctl ABI passes it.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

impl Tun {
    /// Create the device in the calling thread's namespace, bring `lo` and the device up and
    /// give the kernel `v4/prefix4` and `v6/prefix6` on it. The IPv6 address is added with
    /// IFA_F_NODAD, so it is never tentative: usable at once.
    pub fn create(v4: Ipv4Addr, prefix4: u8, v6: Ipv6Addr, prefix6: u8) -> io::Result<Tun> {
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
        let mut ifr = ifreq(TUN_NAME);
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which outlives the call.
        check(
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) },
            "TUNSETIFF",
        )?;

        let inet = socket(libc::AF_INET)?;
        link_up(&inet, "lo")?;
        let mut ifr = ifreq(TUN_NAME);
        ifr.ifr_ifru.ifru_addr = sockaddr_v4(v4);
        // SAFETY: SIOCSIFADDR reads one ifreq.
        check(
            unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCSIFADDR, &ifr) },
            "SIOCSIFADDR",
        )?;
        let mask = u32::MAX
            .checked_shl(32 - u32::from(prefix4.min(32)))
            .unwrap_or(0);
        ifr.ifr_ifru.ifru_netmask = sockaddr_v4(Ipv4Addr::from(mask));
        // SAFETY: SIOCSIFNETMASK reads one ifreq.
        check(
            unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCSIFNETMASK, &ifr) },
            "SIOCSIFNETMASK",
        )?;
        link_up(&inet, TUN_NAME)?;

        let mut ifr = ifreq(TUN_NAME);
        // SAFETY: SIOCGIFINDEX reads and writes one ifreq.
        check(
            unsafe { libc::ioctl(inet.as_raw_fd(), libc::SIOCGIFINDEX, &mut ifr) },
            "SIOCGIFINDEX",
        )?;
        // SAFETY: SIOCGIFINDEX filled the index member of the union.
        let index = unsafe { ifr.ifr_ifru.ifru_ifindex };
        add_ipv6_nodad(index, v6, prefix6)?;
        wait_ipv6_local_route(v6)?;
        Ok(Tun { fd })
    }

    /// One packet into `buf`; `None` if none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: reads at most buf.len() bytes into buf.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(e)
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

/// RTM_NEWADDR for `addr/prefix` on interface `index`, flagged IFA_F_NODAD: without it the
/// address stays tentative until the kernel's DAD work runs, asynchronously, even when DAD is
/// disabled, and a bind in the meantime fails with EADDRNOTAVAIL.
fn add_ipv6_nodad(index: libc::c_int, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    const RTM_NEWADDR: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLM_F_EXCL: u16 = 0x200;
    const NLM_F_CREATE: u16 = 0x400;
    const IFA_ADDRESS: u16 = 1;
    const IFA_F_NODAD: u8 = 0x02;
    const NLMSG_ERROR: u16 = 2;
    let len: usize = 16 + 8 + 4 + 16;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&RTM_NEWADDR.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
                                              // struct ifaddrmsg: family, prefix length, flags, scope (universe), interface index.
    m.extend_from_slice(&[libc::AF_INET6 as u8, prefix.min(128), IFA_F_NODAD, 0]);
    m.extend_from_slice(&index.to_ne_bytes());
    // struct rtattr IFA_ADDRESS + the address.
    m.extend_from_slice(&20u16.to_ne_bytes());
    m.extend_from_slice(&IFA_ADDRESS.to_ne_bytes());
    m.extend_from_slice(&addr.octets());

    let answer = rtnetlink(&m)?;
    // The answer is one NLMSG_ERROR: header, then the (negative) errno, 0 for success.
    match (u16_at(&answer, 4), i32_at(&answer, 16)) {
        (Some(NLMSG_ERROR), Some(0)) => Ok(()),
        (Some(NLMSG_ERROR), Some(e)) => {
            let e = io::Error::from_raw_os_error(e.saturating_neg());
            Err(io::Error::new(
                e.kind(),
                format!("RTM_NEWADDR {addr}/{prefix}: {e}"),
            ))
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
