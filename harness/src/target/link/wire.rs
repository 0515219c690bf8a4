//! The link itself: an AF_PACKET socket bound to one interface (SOCK_DGRAM on a TUN or other
//! L3 device, SOCK_RAW with Ethernet framing otherwise), the interface's MTU, and the rule that
//! every packet the harness sends goes to an address the user named ([`destination_allowed`]).

use crate::packet::checksum;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const ETH_P_ALL: u16 = 0x0003;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
const ARPHRD_ETHER: u16 = 1;
pub const PACKET_OUTGOING: u8 = 4;

/// A multicast or the limited broadcast address: a destination no single host owns.
pub fn is_group(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// The target address an IP packet is delivered to: its destination if that is one of
/// `allowed`; for a multicast or broadcast destination, the `allowed` address of its IP version,
/// whose link-layer address the frame then carries, so that no other host on the link sees it.
/// Every packet the link target sends passes this check.
pub fn destination_allowed(packet: &[u8], allowed: &[IpAddr]) -> Result<IpAddr, String> {
    let dst = match packet.first().map(|b| b >> 4) {
        Some(4) => packet
            .get(16..20)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        Some(6) => packet
            .get(24..40)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    };
    match dst {
        None => Err("not an IPv4 or IPv6 packet: refusing to send it".into()),
        Some(d) if allowed.contains(&d) => Ok(d),
        Some(d) if is_group(d) => allowed
            .iter()
            .copied()
            .find(|a| a.is_ipv6() == d.is_ipv6())
            .ok_or_else(|| format!("refusing to send to {d}: no --target-addr of its IP version")),
        Some(d) => Err(format!(
            "refusing to send to {d}: not a --target-addr ({allowed:?})"
        )),
    }
}

/// The first local address of the calling thread's namespace among `addrs`, if any.
pub fn local_address_among(addrs: &[IpAddr]) -> io::Result<Option<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = None;
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            let ip = match family {
                libc::AF_INET => {
                    // SAFETY: family AF_INET: a sockaddr_in.
                    let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                    Some(IpAddr::V4(Ipv4Addr::from(
                        sin.sin_addr.s_addr.to_ne_bytes(),
                    )))
                }
                libc::AF_INET6 => {
                    // SAFETY: family AF_INET6: a sockaddr_in6.
                    let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                    Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            };
            if let Some(ip) = ip.filter(|ip| addrs.contains(ip)) {
                found = Some(ip);
                break;
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(found)
}

fn cvt(ret: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(ret)
    }
}

/// How frames look on the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// TUN and other L3 devices: bare IP packets (SOCK_DGRAM).
    L3,
    /// Ethernet with our MAC (SOCK_RAW).
    Ethernet([u8; 6]),
}

/// An AF_PACKET socket bound to one interface.
pub struct PacketSocket {
    pub fd: OwnedFd,
    ifindex: libc::c_int,
    pub framing: Framing,
    /// The interface's MTU: the largest IP packet it carries.
    pub mtu: usize,
}

/// An `ifreq` naming `iface`.
fn ifreq(iface: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    if iface.len() >= ifr.ifr_name.len() {
        return Err(io::Error::other(format!("interface name {iface} too long")));
    }
    for (dst, src) in ifr.ifr_name.iter_mut().zip(iface.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// A plain datagram socket for interface ioctls.
fn probe_socket() -> io::Result<OwnedFd> {
    // SAFETY: a plain datagram socket for the ioctl.
    let probe = cvt(
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) },
        "socket",
    )?;
    // SAFETY: `probe` is a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(probe) })
}

fn mtu_of(probe: &OwnedFd, iface: &str) -> io::Result<usize> {
    let mut ifr = ifreq(iface)?;
    // SAFETY: SIOCGIFMTU reads the name from and writes the MTU into `ifr`.
    cvt(
        unsafe { libc::ioctl(probe.as_raw_fd(), libc::SIOCGIFMTU, &mut ifr) },
        "SIOCGIFMTU",
    )?;
    // SAFETY: the ioctl above filled the MTU member of the union.
    Ok(usize::try_from(unsafe { ifr.ifr_ifru.ifru_mtu }).unwrap_or(0))
}

/// The MTU of `iface` in this namespace, without opening anything on it.
pub fn interface_mtu(iface: &str) -> io::Result<usize> {
    mtu_of(&probe_socket()?, iface)
}

impl PacketSocket {
    pub fn open(iface: &str) -> io::Result<PacketSocket> {
        let name = std::ffi::CString::new(iface)
            .map_err(|_| io::Error::other("interface name contains NUL"))?;
        // SAFETY: NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::other(format!(
                "no interface {iface} in this namespace"
            )));
        }
        let mut ifr = ifreq(iface)?;
        let probe = probe_socket()?;
        // SAFETY: SIOCGIFHWADDR reads the name from and writes the address into `ifr`.
        cvt(
            unsafe { libc::ioctl(probe.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr) },
            "SIOCGIFHWADDR",
        )?;
        // SAFETY: the ioctl above filled the hardware address member of the union.
        let hw = unsafe { ifr.ifr_ifru.ifru_hwaddr };
        let framing = if hw.sa_family == ARPHRD_ETHER {
            let mut mac = [0u8; 6];
            for (m, b) in mac.iter_mut().zip(hw.sa_data.iter()) {
                *m = *b as u8;
            }
            Framing::Ethernet(mac)
        } else {
            Framing::L3
        };
        let mtu = mtu_of(&probe, iface)?;
        let kind = match framing {
            Framing::L3 => libc::SOCK_DGRAM,
            Framing::Ethernet(_) => libc::SOCK_RAW,
        };
        // SAFETY: plain socket creation.
        let raw = cvt(
            unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    libc::c_int::from(ETH_P_ALL.to_be()),
                )
            },
            "socket(AF_PACKET)",
        )?;
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let ifindex = ifindex as libc::c_int;
        let addr = sockaddr_ll(ifindex, ETH_P_ALL, None);
        // SAFETY: `addr` is a sockaddr_ll of the size given.
        cvt(
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            },
            "bind(AF_PACKET)",
        )?;
        // Locally generated frames (a veth peer, checksum offload) may carry a partial TCP
        // checksum; PACKET_AUXDATA says so, and `recv` completes it as the wire would.
        let on: libc::c_int = 1;
        // SAFETY: the option value is one c_int that outlives the call.
        cvt(
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_AUXDATA,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            },
            "PACKET_AUXDATA",
        )?;
        Ok(PacketSocket {
            fd,
            ifindex,
            framing,
            mtu,
        })
    }

    /// Sends one frame: an IP packet on L3 (`protocol` says which), a whole Ethernet frame
    /// otherwise.
    pub fn send(&self, frame: &[u8], protocol: u16) -> io::Result<()> {
        let addr = sockaddr_ll(self.ifindex, protocol, None);
        // SAFETY: sends frame.len() octets from frame to a valid sockaddr_ll.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One frame waiting on the socket: its length, protocol (L3), packet type and whether its
    /// checksum is still to be computed (TP_STATUS_CSUMNOTREADY); `None` if none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, u16, u8, bool)>> {
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` names a live buffer of the length given.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(None),
                _ => Err(e),
            };
        }
        let mut csum_not_ready = false;
        // SAFETY: the kernel filled `msg.msg_control`; the CMSG macros walk it within
        // msg_controllen.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_PACKET
                    && (*cmsg).cmsg_type == libc::PACKET_AUXDATA
                {
                    let aux: libc::tpacket_auxdata =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    csum_not_ready = aux.tp_status & libc::TP_STATUS_CSUMNOTREADY != 0;
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        let len = (n as usize).min(buf.len());
        Ok(Some((
            len,
            u16::from_be(from.sll_protocol),
            from.sll_pkttype,
            csum_not_ready,
        )))
    }
}

/// Completes the TCP checksum of an IP packet whose sender left it to offload: what the
/// packet would carry on a wire. Packets that are not plain TCP are left alone.
pub fn complete_tcp_checksum(p: &mut [u8]) {
    let Some((src, dst, proto)) = ip_src_dst(p) else {
        return;
    };
    if proto != 6 {
        return;
    }
    let word = |p: &[u8], i: usize| {
        usize::from(u16::from_be_bytes([
            p.get(i).copied().unwrap_or(0),
            p.get(i + 1).copied().unwrap_or(0),
        ]))
    };
    let (start, end) = match p.first().map(|b| b >> 4) {
        Some(4) => (
            usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4,
            word(p, 2),
        ),
        _ => (40, 40 + word(p, 4)),
    };
    let end = end.min(p.len());
    let Some(tcp) = p.get_mut(start..end) else {
        return;
    };
    if tcp.len() < 20 {
        return;
    }
    if let Some(c) = tcp.get_mut(16..18) {
        c.copy_from_slice(&[0, 0]);
    }
    let sum = tcp_checksum(src, dst, tcp);
    if let Some(c) = tcp.get_mut(16..18) {
        c.copy_from_slice(&sum.to_be_bytes());
    }
}

pub fn sockaddr_ll(ifindex: libc::c_int, protocol: u16, mac: Option<[u8; 6]>) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
    let mut a: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    a.sll_family = libc::AF_PACKET as libc::c_ushort;
    a.sll_protocol = protocol.to_be();
    a.sll_ifindex = ifindex;
    if let Some(mac) = mac {
        a.sll_halen = 6;
        for (d, s) in a.sll_addr.iter_mut().zip(mac) {
            *d = s;
        }
    }
    a
}

pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The TCP checksum over the pseudo-header (RFC 9293 3.1; RFC 8200 8.1 for IPv6), with the
/// checksum field of `segment` zero.
pub fn tcp_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> u16 {
    checksum::finish(checksum::sum(
        checksum::pseudo_header(src, dst, segment.len()),
        segment,
    ))
}

pub fn ip_src_dst(p: &[u8]) -> Option<(IpAddr, IpAddr, u8)> {
    match p.first().map(|b| b >> 4) {
        Some(4) => {
            let src = <[u8; 4]>::try_from(p.get(12..16)?).ok()?;
            let dst = <[u8; 4]>::try_from(p.get(16..20)?).ok()?;
            Some((
                Ipv4Addr::from(src).into(),
                Ipv4Addr::from(dst).into(),
                *p.get(9)?,
            ))
        }
        Some(6) => {
            let src = <[u8; 16]>::try_from(p.get(8..24)?).ok()?;
            let dst = <[u8; 16]>::try_from(p.get(24..40)?).ok()?;
            Some((
                Ipv6Addr::from(src).into(),
                Ipv6Addr::from(dst).into(),
                *p.get(6)?,
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(dst: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[9] = 6;
        p[16..20].copy_from_slice(&dst);
        p
    }

    #[test]
    fn only_named_destinations() {
        let allowed: Vec<IpAddr> = vec![
            "192.0.2.1".parse().expect("ip"),
            "2001:db8::1".parse().expect("ip"),
        ];
        assert!(destination_allowed(&v4([192, 0, 2, 1]), &allowed).is_ok());
        assert!(destination_allowed(&v4([192, 0, 2, 9]), &allowed).is_err());
        assert!(destination_allowed(&v4([8, 8, 8, 8]), &allowed).is_err());
        let mut p6 = vec![0u8; 60];
        p6[0] = 0x60;
        p6[24..40].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().expect("ip").octets());
        assert!(destination_allowed(&p6, &allowed).is_ok());
        p6[39] = 2;
        assert!(destination_allowed(&p6, &allowed).is_err());
        assert!(destination_allowed(&[0x45, 0, 0], &allowed).is_err());
        assert!(destination_allowed(&[], &allowed).is_err());
        assert!(destination_allowed(&[0x10; 40], &allowed).is_err());
        // Group destinations go to the target of their IP version.
        assert_eq!(
            destination_allowed(&v4([224, 0, 0, 1]), &allowed),
            Ok(allowed[0])
        );
        assert_eq!(destination_allowed(&v4([255; 4]), &allowed), Ok(allowed[0]));
        p6[24..40].copy_from_slice(&"ff02::1".parse::<Ipv6Addr>().expect("ip").octets());
        assert_eq!(destination_allowed(&p6, &allowed), Ok(allowed[1]));
        assert!(destination_allowed(&p6, &allowed[..1]).is_err());
    }

    #[test]
    fn partial_checksum_completed() {
        // An IPv4 SYN as a veth peer hands it over: checksum field holding only the
        // pseudo-header sum.
        let mut p = v4([192, 0, 2, 3]);
        p[12..16].copy_from_slice(&[192, 0, 2, 1]);
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[20..22].copy_from_slice(&8080u16.to_be_bytes());
        p[32] = 0x50;
        p[33] = 0x02;
        p[36..38].copy_from_slice(&[0x12, 0x34]);
        complete_tcp_checksum(&mut p);
        let (src, dst) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 3]));
        // A correct checksum sums to zero with itself included.
        assert_eq!(tcp_checksum(src, dst, &p[20..40]), 0);
        assert_ne!(p[36..38], [0x12, 0x34]);
        // Truncated or non-TCP packets are left alone, without panicking.
        let mut short = p[..30].to_vec();
        complete_tcp_checksum(&mut short);
        let mut udp = p.clone();
        udp[9] = 17;
        let before = udp.clone();
        complete_tcp_checksum(&mut udp);
        assert_eq!(udp, before);
    }
}
