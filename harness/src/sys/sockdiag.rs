//! TCP states from the kernel through sock_diag (NETLINK_SOCK_DIAG, `inet_diag_req_v2`), as
//! `ss -t` reads them, in the namespace of the calling thread.
//!
//! The namespace of a case holds a handful of sockets, so a dump of every TCP socket of one
//! family (all states, request sockets included) and an exact 4-tuple match here is both cheap
//! and independent of which sockets the kernel's exact lookup can or cannot find.

use super::check;
use crate::tcp::TcpState;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDR_LEN: usize = 16;
/// `struct inet_diag_sockid`: sport, dport, src[16], dst[16], if, cookie[2].
const SOCKID_LEN: usize = 48;
/// `struct inet_diag_msg`: family, state, timer, retrans, id, expires, rqueue, wqueue, uid, inode.
const DIAG_MSG_LEN: usize = 4 + SOCKID_LEN + 20;

/// Linux `TCP_*` states (include/net/tcp_states.h).
const TCP_LISTEN: u8 = 10;

/// One TCP socket as sock_diag reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiagSocket {
    pub state: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// The RFC 9293 3.3.2 state of a Linux TCP state. `TCP_NEW_SYN_RECV` is a request socket (the
/// SYN-ACK is out, the handshake not complete): SYN-RECEIVED in the RFC's terms.
pub fn rfc_state(linux_state: u8) -> Option<TcpState> {
    Some(match linux_state {
        1 => TcpState::Established,
        2 => TcpState::SynSent,
        3 | 12 => TcpState::SynReceived,
        4 => TcpState::FinWait1,
        5 => TcpState::FinWait2,
        6 => TcpState::TimeWait,
        7 => TcpState::Closed,
        8 => TcpState::CloseWait,
        9 => TcpState::LastAck,
        10 => TcpState::Listen,
        11 => TcpState::Closing,
        _ => return None,
    })
}

/// The RFC state of `local` <-> `remote` in the calling thread's namespace: the socket with
/// exactly this 4-tuple; else LISTEN if a listener owns the local port (the RFC's view: the
/// connection does not exist, the port listens); else CLOSED.
pub fn state_of(local: SocketAddr, remote: SocketAddr) -> io::Result<TcpState> {
    let sockets = dump(local.ip())?;
    if let Some(s) = sockets
        .iter()
        .find(|s| s.state != TCP_LISTEN && s.local == local && s.remote == remote)
    {
        return rfc_state(s.state)
            .ok_or_else(|| io::Error::other(format!("unknown Linux TCP state {}", s.state)));
    }
    let listens = sockets.iter().any(|s| {
        s.state == TCP_LISTEN
            && s.local.port() == local.port()
            && (s.local.ip() == local.ip() || s.local.ip().is_unspecified())
    });
    Ok(if listens {
        TcpState::Listen
    } else {
        TcpState::Closed
    })
}

/// How long a dump may take to be answered.
const ANSWER_WITHIN_SECS: libc::time_t = 5;

/// Every TCP socket of `family_of`'s family in the calling thread's namespace.
pub fn dump(family_of: IpAddr) -> io::Result<Vec<DiagSocket>> {
    // SAFETY: plain socket creation.
    let raw = check(
        unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        },
        "socket(NETLINK_SOCK_DIAG)",
    )?;
    // SAFETY: `raw` is a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // The kernel answers a dump at once; a bound keeps a lost answer from hanging a worker (or
    // the agent) for ever.
    let timeout = libc::timeval {
        tv_sec: ANSWER_WITHIN_SECS,
        tv_usec: 0,
    };
    // SAFETY: SO_RCVTIMEO with a timeval of the right size.
    check(
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        },
        "setsockopt(SO_RCVTIMEO)",
    )?;
    let family = if family_of.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    } as u8;
    let request = request(family);
    // SAFETY: sends request.len() bytes from request; the kernel is the default destination.
    let n = unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
    check(n as libc::c_int, "send(sock_diag)")?;
    let mut sockets = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: receives at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("sock_diag: no answer within {ANSWER_WITHIN_SECS} s"),
                    ))
                }
                _ => return Err(io::Error::new(e.kind(), format!("recv(sock_diag): {e}"))),
            }
        }
        let data = buf.get(..n.unsigned_abs()).unwrap_or(&[]);
        if data.is_empty() {
            return Err(io::Error::other("sock_diag: empty answer"));
        }
        if parse(data, &mut sockets)? {
            return Ok(sockets);
        }
    }
}

/// The dump request: `nlmsghdr` + `inet_diag_req_v2` for every TCP state.
fn request(family: u8) -> Vec<u8> {
    let len = NLMSG_HDR_LEN + 4 + 4 + SOCKID_LEN;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel assigns ours
    m.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // idiag_states: all, TCP_NEW_SYN_RECV included
    m.resize(len, 0); // the socket id: zero, a dump ignores it
    m
}

fn u16_ne(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_ne(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// Parse the netlink messages in `data` into `out`; true once the dump is complete.
fn parse(mut data: &[u8], out: &mut Vec<DiagSocket>) -> io::Result<bool> {
    let short = || io::Error::other("sock_diag: truncated message");
    while data.len() >= NLMSG_HDR_LEN {
        let len = u32_ne(data, 0).ok_or_else(short)? as usize;
        let kind = u16_ne(data, 4).ok_or_else(short)?;
        let msg = data
            .get(..len)
            .filter(|_| len >= NLMSG_HDR_LEN)
            .ok_or_else(short)?;
        let body = msg.get(NLMSG_HDR_LEN..).unwrap_or(&[]);
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = u32_ne(body, 0).ok_or_else(short)? as i32;
                if errno != 0 {
                    return Err(io::Error::from_raw_os_error(-errno));
                }
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(s) = diag_socket(body) {
                    out.push(s);
                }
            }
            _ => {}
        }
        // Messages are 4-aligned (NLMSG_ALIGN).
        let next = len.div_ceil(4) * 4;
        data = data.get(next..).unwrap_or(&[]);
    }
    Ok(false)
}

/// One `inet_diag_msg`.
fn diag_socket(body: &[u8]) -> Option<DiagSocket> {
    let m = body.get(..DIAG_MSG_LEN)?;
    let (family, state) = (*m.first()?, *m.get(1)?);
    let id = m.get(4..4 + SOCKID_LEN)?;
    let sport = u16::from_be_bytes(id.get(0..2)?.try_into().ok()?);
    let dport = u16::from_be_bytes(id.get(2..4)?.try_into().ok()?);
    let addr = |at: usize| -> Option<IpAddr> {
        if i32::from(family) == libc::AF_INET {
            let a: [u8; 4] = id.get(at..at + 4)?.try_into().ok()?;
            Some(IpAddr::from(a))
        } else {
            let a: [u8; 16] = id.get(at..at + 16)?.try_into().ok()?;
            Some(IpAddr::from(a))
        }
    };
    Some(DiagSocket {
        state,
        local: SocketAddr::new(addr(4)?, sport),
        remote: SocketAddr::new(addr(20)?, dport),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDR_LEN + body.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(body);
        m.resize(len.div_ceil(4) * 4, 0);
        m
    }

    #[test]
    fn parses_a_dump() {
        let mut msg = vec![libc::AF_INET as u8, 1, 0, 0];
        msg.extend_from_slice(&80u16.to_be_bytes());
        msg.extend_from_slice(&50000u16.to_be_bytes());
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&[192, 0, 2, 1]);
        let mut dst = [0u8; 16];
        dst[..4].copy_from_slice(&[192, 0, 2, 2]);
        msg.extend_from_slice(&src);
        msg.extend_from_slice(&dst);
        msg.resize(DIAG_MSG_LEN + 8, 0); // trailing attributes are ignored
        let mut data = message(SOCK_DIAG_BY_FAMILY, &msg);
        data.extend(message(NLMSG_DONE, &[0; 4]));
        let mut out = Vec::new();
        assert!(parse(&data, &mut out).expect("parses"));
        assert_eq!(
            out,
            vec![DiagSocket {
                state: 1,
                local: "192.0.2.1:80".parse().expect("addr"),
                remote: "192.0.2.2:50000".parse().expect("addr"),
            }]
        );
        // A truncated dump is neither complete nor a panic.
        let mut out = Vec::new();
        assert!(parse(data.get(..30).unwrap_or(&[]), &mut out).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(rfc_state(12), Some(TcpState::SynReceived));
        assert_eq!(rfc_state(6), Some(TcpState::TimeWait));
        assert_eq!(rfc_state(13), None);
    }
}
