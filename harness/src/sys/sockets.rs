//! The application side on the kernel: plain, non-blocking TCP socket syscalls in the calling
//! thread's namespace. Failures carry the errno's name (`ECONNRESET (Connection reset by
//! peer)`), which is what cases match on.

use super::tun::poll_fd;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::time::Duration;

/// The errno's symbolic name and its text: `ECONNREFUSED (Connection refused)`.
pub fn errno_text(e: &io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let name = match code {
        libc::ECONNRESET => "ECONNRESET",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EPIPE => "EPIPE",
        libc::ENOTCONN => "ENOTCONN",
        libc::EAGAIN => "EAGAIN",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::EALREADY => "EALREADY",
        libc::EISCONN => "EISCONN",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EINVAL => "EINVAL",
        libc::EBADF => "EBADF",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::EPROTO => "EPROTO",
        _ => return format!("errno {code} ({})", io::Error::from_raw_os_error(code)),
    };
    // The text without std's " (os error N)" suffix.
    let text = io::Error::from_raw_os_error(code).to_string();
    let text = text
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string();
    format!("{name} ({text})")
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(last_error())
    } else {
        Ok(ret.unsigned_abs())
    }
}

/// A `sockaddr_storage` and its length for `addr`.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The pending Fast Open connections a listener allows (TCP_FASTOPEN's qlen).
const FASTOPEN_QUEUE: libc::c_int = 16;

/// One kernel TCP socket, non-blocking, closed on drop.
pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    /// A TCP socket for `ip`'s family; IPv6 sockets are V6ONLY so that the two families never
    /// share a port.
    fn new(ip: IpAddr) -> io::Result<Socket> {
        let family = if ip.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: plain socket creation.
        let raw = cvt(unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: `raw` is a fresh fd we own.
        let s = Socket {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        };
        s.set_int(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        if ip.is_ipv6() {
            s.set_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
        }
        Ok(s)
    }

    fn set_int(&self, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
        // SAFETY: the option value is one c_int that outlives the call.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
        Ok(())
    }

    fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let (storage, len) = sockaddr(addr);
        // SAFETY: storage holds a sockaddr of `len` octets.
        cvt(unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        })?;
        Ok(())
    }

    /// Passive OPEN (RFC 9293 3.9.1): bound to `local`, listening, Fast Open ready.
    pub fn listen(local: SocketAddr) -> io::Result<Socket> {
        let s = Socket::new(local.ip())?;
        s.bind(local)?;
        // RFC 7413 server side, for the `fastopen` cases: a queue of pending Fast Open
        // connections. It changes nothing unless the namespace's net.ipv4.tcp_fastopen has the
        // server bit (2), which the default (1, client only) has not.
        s.set_int(libc::IPPROTO_TCP, libc::TCP_FASTOPEN, FASTOPEN_QUEUE)?;
        // SAFETY: plain syscall on our fd.
        cvt(unsafe { libc::listen(s.fd.as_raw_fd(), 16) })?;
        Ok(s)
    }

    /// The next connection from this listener, waiting up to `within`; `None` if none came.
    pub fn accept(&self, within: Duration) -> io::Result<Option<Socket>> {
        let deadline = std::time::Instant::now() + within;
        loop {
            // SAFETY: null address pointers are allowed; flags make the new fd non-blocking.
            let raw = unsafe {
                libc::accept4(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if raw >= 0 {
                // SAFETY: `raw` is a fresh fd we own.
                return Ok(Some(Socket {
                    fd: unsafe { OwnedFd::from_raw_fd(raw) },
                }));
            }
            let e = last_error();
            if !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) {
                return Err(e);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            poll_fd(self.fd.as_raw_fd(), libc::POLLIN, left)?;
        }
    }

    /// Active OPEN from `local` (port 0: ephemeral) to `remote`. Returns once the SYN is out:
    /// a non-blocking connect sends it before returning EINPROGRESS.
    /// Active OPEN, non-blocking. `fastopen`: TCP_FASTOPEN_CONNECT first (RFC 7413): with a
    /// cookie cached, the SYN waits for the first write and carries it; without, it asks for one.
    pub fn connect(local: SocketAddr, remote: SocketAddr, fastopen: bool) -> io::Result<Socket> {
        let s = Socket::new(local.ip())?;
        if fastopen {
            s.set_int(libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, 1)?;
        }
        s.bind(local)?;
        let (storage, len) = sockaddr(remote);
        // SAFETY: storage holds a sockaddr of `len` octets.
        let ret = unsafe {
            libc::connect(
                s.fd.as_raw_fd(),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        match cvt(ret) {
            Ok(_) => Ok(s),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(s),
            Err(e) => Err(e),
        }
    }

    /// SEND without blocking: octets queued (possibly fewer than given).
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        // SAFETY: sends at most data.len() octets from data; MSG_NOSIGNAL: EPIPE, not SIGPIPE.
        cvt_size(unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        })
    }

    /// RECEIVE: up to `max` octets, waiting up to `within` for the socket to become readable
    /// (data, end of stream or an error). `Ok(None)`: nothing within the time (EAGAIN).
    pub fn read(&self, max: usize, within: Duration) -> io::Result<Option<Vec<u8>>> {
        poll_fd(self.fd.as_raw_fd(), libc::POLLIN, within)?;
        let mut buf = vec![0u8; max];
        // SAFETY: receives at most buf.len() octets into buf.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        match cvt_size(n) {
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn shutdown_write(&self) -> io::Result<()> {
        // SAFETY: plain syscall on our fd.
        cvt(unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) })?;
        Ok(())
    }

    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.set_int(libc::IPPROTO_TCP, libc::TCP_NODELAY, libc::c_int::from(on))
    }

    /// Keep-alives on (RFC 9293 3.8.4) with this timing, in whole seconds. The timing goes
    /// first: SO_KEEPALIVE then arms the timer with the new idle time.
    pub fn set_keepalive(&self, idle_secs: u32, interval_secs: u32, count: u32) -> io::Result<()> {
        let int = |v: u32| {
            libc::c_int::try_from(v).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        };
        self.set_int(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, int(idle_secs)?)?;
        self.set_int(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, int(interval_secs)?)?;
        self.set_int(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, int(count)?)?;
        self.set_int(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)
    }

    /// The user timeout (RFC 9293 3.8.3, MUST-21): TCP_USER_TIMEOUT, whole milliseconds.
    pub fn set_user_timeout(&self, d: Duration) -> io::Result<()> {
        let ms = libc::c_int::try_from(d.as_millis())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        self.set_int(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, ms)
    }

    /// close(2), its result reported (dropping the socket would ignore it). The fd is gone
    /// either way, as close(2) promises even when it fails.
    pub fn close(self) -> io::Result<()> {
        let raw = self.fd.into_raw_fd();
        // SAFETY: `raw` was ours alone and is closed exactly once, here.
        cvt(unsafe { libc::close(raw) })?;
        Ok(())
    }

    /// ABORT (RFC 9293 3.10.5): SO_LINGER {on, 0 s} makes close() send RST and drop the
    /// connection at once instead of an orderly FIN.
    pub fn abort(self) -> io::Result<()> {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: the option value is one linger struct that outlives the call.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        })?;
        drop(self);
        Ok(())
    }

    /// The locally bound address (after an ephemeral bind).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: getsockname writes at most `len` octets into storage.
        cvt(unsafe {
            libc::getsockname(
                self.fd.as_raw_fd(),
                (&mut storage as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        match i32::from(storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in (family AF_INET).
                let sin: libc::sockaddr_in =
                    unsafe { std::ptr::read((&storage as *const libc::sockaddr_storage).cast()) };
                let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6).
                let sin6: libc::sockaddr_in6 =
                    unsafe { std::ptr::read((&storage as *const libc::sockaddr_storage).cast()) };
                let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Ok(SocketAddr::new(ip.into(), u16::from_be(sin6.sin6_port)))
            }
            f => Err(io::Error::other(format!("getsockname: family {f}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        let e = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(errno_text(&e), "ECONNRESET (Connection reset by peer)");
        let e = io::Error::from_raw_os_error(libc::ETIMEDOUT);
        assert!(errno_text(&e).starts_with("ETIMEDOUT (Connection timed out"));
        let e = io::Error::from_raw_os_error(libc::ENOTCONN);
        assert!(errno_text(&e).starts_with("ENOTCONN"));
    }

    #[test]
    fn sockaddr_round_trip_lengths() {
        let (s, len) = sockaddr("192.0.2.1:80".parse().expect("addr"));
        assert_eq!(i32::from(s.ss_family), libc::AF_INET);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in>());
        let (s, len) = sockaddr("[2001:db8::1]:80".parse().expect("addr"));
        assert_eq!(i32::from(s.ss_family), libc::AF_INET6);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in6>());
    }
}
