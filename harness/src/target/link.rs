//! `--target link`: a stack on the other end of an existing interface, reached through an
//! AF_PACKET socket: SOCK_DGRAM on a TUN (L3) device, SOCK_RAW with Ethernet framing on an
//! Ethernet link, where the harness itself resolves the target's MAC (ARP, NDP) and answers the
//! target's ARP/NDP queries for the crafted tester address.
//!
//! Safety of the wire: every IP packet sent must be addressed to a `--target-addr`, or to a
//! multicast or broadcast group (a case checking that such segments are discarded, MUST-57),
//! and every Ethernet frame goes to a target's own MAC, never to a group MAC
//! ([`destination_allowed`]); ARP and NDP are only ever about, or addressed to, those addresses.
//! The crafted source (`--local-addr`) must not be an address of the harness's own namespace,
//! so the harness's kernel never answers the target's segments (it drops them as not its own).
//! Application calls and state queries go to an agent (`--agent`), if any.
//!
//! ```text
//! # beside the stack under test (192.0.2.1):
//! tcpconform agent --listen 192.0.2.1:7100 --token-file tok --bind-addr 192.0.2.1 \
//!     --allow-port 8080 --allow-port 49152 --allow-peer 192.0.2.3
//! # on the harness's host, 192.0.2.3 being an address no interface there has:
//! tcpconform run --target link --iface eth1 --target-addr 192.0.2.1 --local-addr 192.0.2.3 \
//!     --agent 192.0.2.1:7100 --agent-token-file tok cases/
//! ```

use super::{AppCall, AppResult, Endpoints, Received, Target, TargetError};
use crate::agent::client::AgentClient;
use crate::agent::protocol::{Request, Response, MAX_IO};
use crate::packet::build::build;
use crate::packet::checksum;
use crate::packet::spec::{ChecksumSpec, IpFields, PacketSpec};
use crate::run::event::IpVersion;
use crate::tcp::TcpState;
use clap::Args;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long `accept` waits for a connection to come up before answering would-block.
const ACCEPT_WAIT: Duration = Duration::from_millis(200);
/// How long `read` waits for data before answering would-block.
const READ_WAIT: Duration = Duration::from_millis(50);
/// Between two polls of the agent for accept/read.
const AGENT_POLL: Duration = Duration::from_millis(5);
/// ARP/NDP resolution: tries and the wait for each.
const RESOLVE_TRIES: usize = 3;
const RESOLVE_WAIT: Duration = Duration::from_millis(500);

const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const ARPHRD_ETHER: u16 = 1;
const PACKET_OUTGOING: u8 = 4;
const BROADCAST: [u8; 6] = [0xff; 6];

/// `--target link` arguments (flattened into `run`).
#[derive(Debug, Clone, Default, Args)]
pub struct LinkArgs {
    /// `--target link`: the interface the target is reached through.
    #[arg(long)]
    pub iface: Option<String>,
    /// `--target link`: the stack under test's address (one per IP version; repeatable).
    #[arg(long = "target-addr")]
    pub target_addrs: Vec<IpAddr>,
    /// `--target link`: the tester's crafted source address (one per IP version; repeatable).
    /// Must not be an address of this host's namespace.
    #[arg(long = "local-addr")]
    pub local_addrs: Vec<IpAddr>,
    /// `--target link`: an agent (`tcpconform agent`) beside the target for application calls.
    #[arg(long)]
    pub agent: Option<SocketAddr>,
    /// `--target link`: the agent's token, first line of this file.
    #[arg(long)]
    pub agent_token_file: Option<PathBuf>,
}

/// Where and how to reach the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    pub iface: String,
    pub targets: Vec<IpAddr>,
    pub locals: Vec<IpAddr>,
    /// Agent address and token.
    pub agent: Option<(SocketAddr, String)>,
}

impl LinkConfig {
    /// Checks `run --target link` arguments: an interface, at most one target and one local
    /// address per IP version, the same versions on both sides, a token with an agent.
    pub fn from_args(args: &LinkArgs) -> Result<LinkConfig, String> {
        let iface = args.iface.clone().ok_or("--target link needs --iface")?;
        if args.target_addrs.is_empty() || args.local_addrs.is_empty() {
            return Err("--target link needs --target-addr and --local-addr".into());
        }
        for list in [&args.target_addrs, &args.local_addrs] {
            for v6 in [false, true] {
                if list.iter().filter(|a| a.is_ipv6() == v6).count() > 1 {
                    return Err(
                        "at most one --target-addr and one --local-addr per IP version".into(),
                    );
                }
            }
        }
        for a in &args.target_addrs {
            if a.is_unspecified() || a.is_multicast() || a.is_loopback() {
                return Err(format!("--target-addr {a}: must be a unicast address"));
            }
            if args.local_addrs.contains(a) {
                return Err(format!("{a} is both --target-addr and --local-addr"));
            }
        }
        let agent = match (args.agent, &args.agent_token_file) {
            (None, None) => None,
            (Some(_), None) => return Err("--agent needs --agent-token-file".into()),
            (None, Some(_)) => return Err("--agent-token-file without --agent".into()),
            (Some(addr), Some(path)) => Some((addr, crate::agent::read_token(path)?)),
        };
        Ok(LinkConfig {
            iface,
            targets: args.target_addrs.clone(),
            locals: args.local_addrs.clone(),
            agent,
        })
    }
}

/// A multicast or the limited broadcast address: a destination no single host owns.
fn is_group(a: IpAddr) -> bool {
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
enum Framing {
    /// TUN and other L3 devices: bare IP packets (SOCK_DGRAM).
    L3,
    /// Ethernet with our MAC (SOCK_RAW).
    Ethernet([u8; 6]),
}

/// An AF_PACKET socket bound to one interface.
struct PacketSocket {
    fd: OwnedFd,
    ifindex: libc::c_int,
    framing: Framing,
}

impl PacketSocket {
    fn open(iface: &str) -> io::Result<PacketSocket> {
        let name = std::ffi::CString::new(iface)
            .map_err(|_| io::Error::other("interface name contains NUL"))?;
        // SAFETY: NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::other(format!(
                "no interface {iface} in this namespace"
            )));
        }
        // SAFETY: ifreq is plain old data; all-zero is valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        if iface.len() >= ifr.ifr_name.len() {
            return Err(io::Error::other(format!("interface name {iface} too long")));
        }
        for (dst, src) in ifr.ifr_name.iter_mut().zip(iface.bytes()) {
            *dst = src as libc::c_char;
        }
        // SAFETY: a plain datagram socket for the ioctl.
        let probe = cvt(
            unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) },
            "socket",
        )?;
        // SAFETY: `probe` is a fresh fd we own.
        let probe = unsafe { OwnedFd::from_raw_fd(probe) };
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
        })
    }

    /// Sends one frame: an IP packet on L3 (`protocol` says which), a whole Ethernet frame
    /// otherwise.
    fn send(&self, frame: &[u8], protocol: u16) -> io::Result<()> {
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
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, u16, u8, bool)>> {
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
fn complete_tcp_checksum(p: &mut [u8]) {
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

fn sockaddr_ll(ifindex: libc::c_int, protocol: u16, mac: Option<[u8; 6]>) -> libc::sockaddr_ll {
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

fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An ARP packet for Ethernet/IPv4 (RFC 826).
fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sha);
    p.extend_from_slice(&spa.octets());
    p.extend_from_slice(&tha);
    p.extend_from_slice(&tpa.octets());
    p
}

/// The ICMPv6 checksum over the IPv6 pseudo-header (RFC 8200 8.1).
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, body: &[u8]) -> u16 {
    let len = (body.len() as u32).to_be_bytes();
    let mut acc = checksum::sum(0, &src.octets());
    acc = checksum::sum(acc, &dst.octets());
    acc = checksum::sum(acc, &len);
    acc = checksum::sum(acc, &[0, 0, 0, 58]);
    checksum::finish(checksum::sum(acc, body))
}

/// The TCP checksum over the pseudo-header (RFC 9293 3.1; RFC 8200 8.1 for IPv6), with the
/// checksum field of `segment` zero.
fn tcp_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> u16 {
    checksum::finish(checksum::sum(
        checksum::pseudo_header(src, dst, segment.len()),
        segment,
    ))
}

/// An IPv6 NDP message (RFC 4861 4.3/4.4) with one link-layer address option.
fn ndp(
    kind: u8,
    flags: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
    opt: u8,
    mac: [u8; 6],
) -> Vec<u8> {
    let mut body = vec![kind, 0, 0, 0, flags, 0, 0, 0];
    body.extend_from_slice(&target.octets());
    body.extend_from_slice(&[opt, 1]);
    body.extend_from_slice(&mac);
    let sum = icmpv6_checksum(src, dst, &body);
    if let Some(c) = body.get_mut(2..4) {
        c.copy_from_slice(&sum.to_be_bytes());
    }
    let mut p = Vec::with_capacity(40 + body.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.extend_from_slice(&[58, 255]); // RFC 4861: hop limit 255
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&body);
    p
}

fn solicited_node(a: Ipv6Addr) -> (Ipv6Addr, [u8; 6]) {
    let o = a.octets();
    let ip = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    );
    (ip, [0x33, 0x33, 0xff, o[13], o[14], o[15]])
}

fn ip_src_dst(p: &[u8]) -> Option<(IpAddr, IpAddr, u8)> {
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

/// The link to the target, once opened.
struct Wire {
    sock: PacketSocket,
    /// MACs of target addresses, learned by ARP/NDP.
    neighbors: HashMap<IpAddr, [u8; 6]>,
    buf: Vec<u8>,
}

pub struct LinkTarget {
    config: LinkConfig,
    wire: Option<Wire>,
    agent: Option<AgentClient>,
    endpoints: Option<Endpoints>,
    opened: Instant,
    pending: VecDeque<Received>,
    /// The tester's ports in this instance (from injected segments): a segment of the target
    /// to another port belongs to an earlier instance's connection and is not passed on.
    tester_ports: BTreeSet<u16>,
    /// This instance's connections, (target, tester) -> the last ACK the target sent (its
    /// RCV.NXT), so that `close` can reset what the case left open.
    conns: BTreeMap<(SocketAddr, SocketAddr), u32>,
}

/// The TCP header fields the link target looks at.
struct TcpView {
    src: SocketAddr,
    dst: SocketAddr,
    ack: u32,
    flags: u8,
}

fn tcp_view(p: &[u8]) -> Option<TcpView> {
    let (src, dst, proto) = ip_src_dst(p)?;
    if proto != 6 {
        return None;
    }
    let start = match src {
        IpAddr::V4(_) => usize::from(p.first()? & 0x0f) * 4,
        IpAddr::V6(_) => 40,
    };
    let tcp = p.get(start..start + 20)?;
    let word =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*tcp.get(i)?, *tcp.get(i + 1)?])) };
    let ack = u32::from_be_bytes(<[u8; 4]>::try_from(tcp.get(8..12)?).ok()?);
    Some(TcpView {
        src: SocketAddr::new(src, word(0)?),
        dst: SocketAddr::new(dst, word(2)?),
        ack,
        flags: *tcp.get(13)?,
    })
}

/// A bare <SEQ=seq><CTL=RST> from `src` to `dst` (RFC 9293 3.10.7.4: a RST whose sequence
/// number is exactly RCV.NXT is acceptable in every synchronized state).
fn rst_packet(src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    build(&PacketSpec {
        src,
        dst,
        seq,
        ack: 0,
        flags: 0x004,
        window: 0,
        urgent: 0,
        reserved: 0,
        options: Vec::new(),
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    })
}

fn target_error(what: &str, e: impl std::fmt::Display) -> TargetError {
    TargetError(format!("{what}: {e}"))
}

impl LinkTarget {
    /// Nothing is opened until the first case instance (`open`), where failures are reported.
    pub fn new(config: LinkConfig) -> LinkTarget {
        LinkTarget {
            config,
            wire: None,
            agent: None,
            endpoints: None,
            opened: Instant::now(),
            pending: VecDeque::new(),
            tester_ports: BTreeSet::new(),
            conns: BTreeMap::new(),
        }
    }

    fn wire(&mut self) -> Result<&mut Wire, TargetError> {
        if self.wire.is_none() {
            if let Some(a) = local_address_among(&self.config.locals)
                .map_err(|e| target_error("getifaddrs", e))?
            {
                return Err(TargetError(format!(
                    "--local-addr {a} is an address of this namespace: its kernel would answer \
                     the target's segments; use an address no interface here has"
                )));
            }
            let sock = PacketSocket::open(&self.config.iface)
                .map_err(|e| target_error(&format!("AF_PACKET on {}", self.config.iface), e))?;
            self.wire = Some(Wire {
                sock,
                neighbors: HashMap::new(),
                buf: vec![0; 65_536 + 64],
            });
        }
        self.wire
            .as_mut()
            .ok_or_else(|| TargetError("link not open".into()))
    }

    /// Handle every frame waiting (answer ARP/NDP, keep the target's TCP segments), waiting up
    /// to `until` for the first; returns early once a segment is pending if `stop_on_packet`.
    fn pump(&mut self, until: Instant, stop_on_packet: bool) -> Result<(), TargetError> {
        loop {
            self.drain_socket()?;
            if stop_on_packet && !self.pending.is_empty() {
                return Ok(());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let fd = self.wire()?.sock.fd.as_raw_fd();
            crate::sys::tun::poll_fd(fd, libc::POLLIN, left)
                .map_err(|e| target_error("poll", e))?;
        }
    }

    fn drain_socket(&mut self) -> Result<(), TargetError> {
        let at = self.opened.elapsed();
        let (targets, locals) = (self.config.targets.clone(), self.config.locals.clone());
        let wire = self.wire()?;
        let mut replies: Vec<(Vec<u8>, u16)> = Vec::new();
        let mut segments = Vec::new();
        while let Some((n, protocol, pkttype, csum_not_ready)) = wire
            .sock
            .recv(&mut wire.buf)
            .map_err(|e| target_error("recv", e))?
        {
            if pkttype == PACKET_OUTGOING {
                continue;
            }
            let frame = wire.buf.get(..n).unwrap_or(&[]);
            let (src_mac, ethertype, payload) = match wire.sock.framing {
                Framing::L3 => ([0; 6], protocol, frame),
                Framing::Ethernet(_) => {
                    let Some(hdr) = frame.get(..14) else { continue };
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(hdr.get(6..12).unwrap_or(&[0; 6]));
                    let et = u16::from_be_bytes([
                        hdr.get(12).copied().unwrap_or(0),
                        hdr.get(13).copied().unwrap_or(0),
                    ]);
                    (mac, et, frame.get(14..).unwrap_or(&[]))
                }
            };
            let own_mac = match wire.sock.framing {
                Framing::Ethernet(m) => m,
                Framing::L3 => [0; 6],
            };
            match ethertype {
                ETH_P_ARP => {
                    if let Some(r) = arp_input(
                        payload,
                        src_mac,
                        own_mac,
                        &targets,
                        &locals,
                        &mut wire.neighbors,
                    ) {
                        replies.push((r, ETH_P_ARP));
                    }
                }
                ETH_P_IP | ETH_P_IPV6 => {
                    let Some((src, dst, proto)) = ip_src_dst(payload) else {
                        continue;
                    };
                    if !targets.contains(&src) {
                        continue;
                    }
                    if proto == 6 && locals.contains(&dst) {
                        let mut packet = payload.to_vec();
                        if csum_not_ready {
                            complete_tcp_checksum(&mut packet);
                        }
                        segments.push(packet);
                    } else if proto == 58 && wire.sock.framing != Framing::L3 {
                        if let Some(r) =
                            ndp_input(payload, src_mac, own_mac, &locals, &mut wire.neighbors)
                        {
                            replies.push((r, ETH_P_IPV6));
                        }
                    }
                }
                _ => {}
            }
        }
        for (frame, protocol) in replies {
            wire.sock
                .send(&frame, protocol)
                .map_err(|e| target_error("send", e))?;
        }
        for packet in segments {
            if let Some(t) = tcp_view(&packet) {
                if !self.tester_ports.is_empty() && !self.tester_ports.contains(&t.dst.port()) {
                    continue;
                }
                if t.flags & 0x04 != 0 {
                    self.conns.remove(&(t.src, t.dst));
                } else if t.flags & 0x10 != 0 {
                    self.conns.insert((t.src, t.dst), t.ack);
                }
            }
            self.pending.push_back(Received { at, packet });
        }
        Ok(())
    }

    /// The target's MAC, resolved by ARP/NDP from the tester's crafted address.
    fn resolve(&mut self, target: IpAddr, local: IpAddr) -> Result<[u8; 6], TargetError> {
        for _ in 0..RESOLVE_TRIES {
            let wire = self.wire()?;
            if let Some(mac) = wire.neighbors.get(&target) {
                return Ok(*mac);
            }
            let Framing::Ethernet(own) = wire.sock.framing else {
                return Err(TargetError("no MAC on an L3 link".into()));
            };
            let (frame, protocol) = match (target, local) {
                (IpAddr::V4(t), IpAddr::V4(l)) => (
                    ethernet(BROADCAST, own, ETH_P_ARP, &arp(1, own, l, [0; 6], t)),
                    ETH_P_ARP,
                ),
                (IpAddr::V6(t), IpAddr::V6(l)) => {
                    let (group, group_mac) = solicited_node(t);
                    // Neighbor Solicitation, source link-layer address option (RFC 4861 4.3).
                    let ns = ndp(135, 0, l, group, t, 1, own);
                    (ethernet(group_mac, own, ETH_P_IPV6, &ns), ETH_P_IPV6)
                }
                _ => {
                    return Err(TargetError(
                        "target and local address families differ".into(),
                    ))
                }
            };
            wire.sock
                .send(&frame, protocol)
                .map_err(|e| target_error("send ARP/NDP", e))?;
            let until = Instant::now() + RESOLVE_WAIT;
            while Instant::now() < until {
                self.pump(Instant::now() + Duration::from_millis(20), false)?;
                if let Some(mac) = self.wire()?.neighbors.get(&target) {
                    return Ok(*mac);
                }
            }
        }
        Err(TargetError(format!(
            "{target} does not answer ARP/NDP on {}",
            self.config.iface
        )))
    }

    fn endpoints(&self) -> Result<Endpoints, TargetError> {
        self.endpoints
            .ok_or_else(|| TargetError("target not opened".into()))
    }

    fn agent(&mut self) -> Result<&mut AgentClient, TargetError> {
        self.agent.as_mut().ok_or_else(|| {
            TargetError("application calls need an agent beside the target (--agent)".into())
        })
    }

    fn agent_call(&mut self, req: &Request) -> Result<Response, TargetError> {
        let agent = self.agent()?;
        let addr = agent.addr();
        match agent.call(req) {
            Ok(Response::Refused { message }) => Err(TargetError(format!(
                "agent {addr} refused {}: {message}",
                req.summary()
            ))),
            Ok(r) => Ok(r),
            Err(e) => {
                self.agent = None;
                Err(target_error(&format!("agent {addr}"), e))
            }
        }
    }

    /// Repeat a non-blocking call until it does not answer would-block or `within` is over,
    /// handling the wire meanwhile.
    fn agent_poll(&mut self, req: &Request, within: Duration) -> Result<Response, TargetError> {
        let until = Instant::now() + within;
        loop {
            let r = self.agent_call(req)?;
            if r != Response::WouldBlock || Instant::now() >= until {
                return Ok(r);
            }
            self.pump(Instant::now() + AGENT_POLL, false)?;
        }
    }

    fn call(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.endpoints()?;
        let response = match call {
            AppCall::Write(data) if data.len() > MAX_IO => {
                return Err(TargetError(format!(
                    "write of {} octets: the agent takes at most {MAX_IO}",
                    data.len()
                )))
            }
            // Pending calls are polled here, with the wire handled meanwhile.
            AppCall::Accept => self.agent_poll(&Request::Accept, ACCEPT_WAIT)?,
            AppCall::Read { max } => self.agent_poll(
                &Request::Read {
                    max: (*max).min(MAX_IO),
                },
                READ_WAIT,
            )?,
            _ => self.agent_call(&Request::from_call(call))?,
        };
        response
            .into_result()
            .map_err(|e| TargetError(format!("agent answered {call} with {e}")))
    }
}

impl Target for LinkTarget {
    fn name(&self) -> &str {
        "link"
    }

    /// Sysctls belong to the target's host; a foreign stack's knobs are the user's business.
    fn open(
        &mut self,
        ip: IpVersion,
        _sysctls: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        let v6 = ip == IpVersion::V6;
        let pick = |list: &[IpAddr], what: &str| {
            list.iter()
                .copied()
                .find(|a| a.is_ipv6() == v6)
                .ok_or_else(|| {
                    TargetError(format!("no IPv{} {what} given", if v6 { 6 } else { 4 }))
                })
        };
        let ep = Endpoints {
            target: pick(&self.config.targets, "--target-addr")?,
            tester: pick(&self.config.locals, "--local-addr")?,
        };
        self.wire()?;
        if self.agent.is_none() {
            if let Some((addr, token)) = &self.config.agent {
                let client = connect_agent(*addr, token)?;
                self.agent = Some(client);
            }
        }
        if self.agent.is_some() {
            self.agent_call(&Request::Reset)?;
        }
        // Whatever the previous instance left on the wire is not this instance's.
        self.pump(Instant::now(), false)?;
        self.pending.clear();
        if matches!(self.wire()?.sock.framing, Framing::Ethernet(_)) {
            self.resolve(ep.target, ep.tester)?;
        }
        self.endpoints = Some(ep);
        self.opened = Instant::now();
        Ok(ep)
    }

    fn inject(&mut self, packet: &[u8]) -> Result<(), TargetError> {
        let ep = self.endpoints()?;
        let dst = destination_allowed(packet, &self.config.targets).map_err(TargetError)?;
        if let Some(t) = tcp_view(packet) {
            self.tester_ports.insert(t.src.port());
        }
        // `dst` is a target address; the packet's own destination may be a group address
        // (then only that target's MAC receives it).
        let protocol = if dst.is_ipv6() { ETH_P_IPV6 } else { ETH_P_IP };
        let framing = self.wire()?.sock.framing;
        let frame = match framing {
            Framing::L3 => packet.to_vec(),
            Framing::Ethernet(own) => {
                let mac = self.resolve(dst, ep.tester)?;
                ethernet(mac, own, protocol, packet)
            }
        };
        let iface = self.config.iface.clone();
        self.wire()?
            .sock
            .send(&frame, protocol)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EMSGSIZE) => TargetError(format!(
                    "a packet of {} octets does not fit the MTU of {iface}",
                    packet.len()
                )),
                _ => target_error("send", e),
            })
    }

    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
        if self.pending.is_empty() {
            self.pump(Instant::now() + within, true)?;
        }
        Ok(self.pending.pop_front())
    }

    fn cannot(&self, call: &AppCall) -> Option<String> {
        match call {
            // The agent connects only to the peers it was started with (--allow-peer), never
            // to a group: an OPEN the stack must refuse (MUST-46) cannot be asked of it.
            AppCall::Connect { remote, .. } if is_group(remote.ip()) => Some(format!(
                "the agent opens connections only to its --allow-peer addresses, not to {}",
                remote.ip()
            )),
            _ => None,
        }
    }

    fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.call(call)
    }

    fn state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<TcpState>, TargetError> {
        if self.agent.is_none() {
            return Ok(None);
        }
        match self.agent_call(&Request::State { local, remote })? {
            Response::State { state } => Ok(state),
            Response::Error { message, .. } => Err(TargetError(format!("agent: state: {message}"))),
            other => Err(TargetError(format!("agent answered state with {other:?}"))),
        }
    }

    fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
        self.pump(Instant::now() + d, false)
    }

    fn now(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Unlike a namespace, a real stack outlives the instance: connections the case left open
    /// are reset from the tester's side (at the target's RCV.NXT), the agent's sockets aborted,
    /// and what they send meanwhile dropped, so the next instance starts clean.
    fn close(&mut self) {
        let conns = std::mem::take(&mut self.conns);
        if self.endpoints.is_some() {
            for ((target, tester), rcv_nxt) in conns {
                let _ = self.inject(&rst_packet(tester, target, rcv_nxt));
            }
        }
        if self.agent.is_some() {
            let _ = self.agent_call(&Request::Reset);
        }
        if self.wire.is_some() {
            let _ = self.pump(Instant::now() + Duration::from_millis(20), false);
        }
        self.pending.clear();
        self.tester_ports.clear();
        self.conns.clear();
        self.endpoints = None;
    }
}

impl Drop for LinkTarget {
    fn drop(&mut self) {
        self.close();
    }
}

/// Connect to the agent; while it is still closing a previous harness's session it answers
/// "busy" for a moment, so that answer is retried briefly.
fn connect_agent(addr: SocketAddr, token: &str) -> Result<AgentClient, TargetError> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match AgentClient::connect(addr, token) {
            Ok(c) => return Ok(c),
            Err(e) if e.to_string().contains("busy") && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(target_error("agent", e)),
        }
    }
}

/// ARP (RFC 826) from the link: learn target MACs; answer a target's request for a tester
/// address with our MAC (the crafted address lives here, on the harness's side of the link).
fn arp_input(
    p: &[u8],
    src_mac: [u8; 6],
    own: [u8; 6],
    targets: &[IpAddr],
    locals: &[IpAddr],
    neighbors: &mut HashMap<IpAddr, [u8; 6]>,
) -> Option<Vec<u8>> {
    if p.get(..6)? != [0, 1, 0x08, 0x00, 6, 4] {
        return None;
    }
    let op = u16::from_be_bytes([*p.get(6)?, *p.get(7)?]);
    let sha: [u8; 6] = p.get(8..14)?.try_into().ok()?;
    let spa = IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(p.get(14..18)?).ok()?));
    let tpa = IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(p.get(24..28)?).ok()?));
    if !targets.contains(&spa) {
        return None;
    }
    neighbors.insert(spa, sha);
    if op == 1 && locals.contains(&tpa) {
        let (IpAddr::V4(spa4), IpAddr::V4(tpa4)) = (spa, tpa) else {
            return None;
        };
        return Some(ethernet(
            src_mac,
            own,
            ETH_P_ARP,
            &arp(2, own, tpa4, sha, spa4),
        ));
    }
    None
}

/// NDP (RFC 4861) from a target: learn its MAC from an advertisement; answer its solicitation
/// for a tester address with a solicited, override advertisement carrying our MAC.
fn ndp_input(
    p: &[u8],
    src_mac: [u8; 6],
    own: [u8; 6],
    locals: &[IpAddr],
    neighbors: &mut HashMap<IpAddr, [u8; 6]>,
) -> Option<Vec<u8>> {
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(p.get(8..24)?).ok()?);
    let kind = *p.get(40)?;
    let target = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(p.get(48..64)?).ok()?));
    match kind {
        136 => {
            neighbors.insert(IpAddr::V6(src), src_mac);
            None
        }
        135 if locals.contains(&target) => {
            neighbors.insert(IpAddr::V6(src), src_mac);
            let IpAddr::V6(t) = target else { return None };
            let na = ndp(136, 0x60, t, src, t, 2, own);
            Some(ethernet(src_mac, own, ETH_P_IPV6, &na))
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
    fn arp_answers_only_the_target_about_the_tester() {
        let target: IpAddr = "192.0.2.1".parse().expect("ip");
        let tester: IpAddr = "192.0.2.3".parse().expect("ip");
        let own = [2, 0, 0, 0, 0, 2];
        let peer = [2, 0, 0, 0, 0, 1];
        let mut n = HashMap::new();
        let req = arp(
            1,
            peer,
            Ipv4Addr::new(192, 0, 2, 1),
            [0; 6],
            Ipv4Addr::new(192, 0, 2, 3),
        );
        let reply = arp_input(&req, peer, own, &[target], &[tester], &mut n).expect("answered");
        assert_eq!(reply.get(..6), Some(&peer[..]));
        assert_eq!(reply.get(14 + 6..14 + 8), Some(&[0u8, 2][..]));
        assert_eq!(n.get(&target), Some(&peer));
        // From an address nobody named: ignored.
        let other = arp(
            1,
            peer,
            Ipv4Addr::new(192, 0, 2, 7),
            [0; 6],
            Ipv4Addr::new(192, 0, 2, 3),
        );
        assert!(arp_input(&other, peer, own, &[target], &[tester], &mut n).is_none());
        // About an address that is not the tester's: ignored.
        let kernel = arp(
            1,
            peer,
            Ipv4Addr::new(192, 0, 2, 1),
            [0; 6],
            Ipv4Addr::new(192, 0, 2, 2),
        );
        assert!(arp_input(&kernel, peer, own, &[target], &[tester], &mut n).is_none());
    }

    #[test]
    fn ndp_solicitation_checksum() {
        let t: Ipv6Addr = "2001:db8::1".parse().expect("ip");
        let l: Ipv6Addr = "2001:db8::3".parse().expect("ip");
        let (group, mac) = solicited_node(t);
        assert_eq!(group, "ff02::1:ff00:1".parse::<Ipv6Addr>().expect("ip"));
        assert_eq!(mac, [0x33, 0x33, 0xff, 0, 0, 1]);
        let ns = ndp(135, 0, l, group, t, 1, [2, 0, 0, 0, 0, 2]);
        let body = ns.get(40..).expect("body");
        // A correct checksum sums to zero with itself included.
        assert_eq!(icmpv6_checksum(l, group, body), 0);
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

    #[test]
    fn teardown_rst() {
        let tester: SocketAddr = "192.0.2.3:4000".parse().expect("addr");
        let target: SocketAddr = "192.0.2.1:8080".parse().expect("addr");
        let p = rst_packet(tester, target, 0x0102_0304);
        assert_eq!(destination_allowed(&p, &[target.ip()]), Ok(target.ip()));
        assert_eq!(checksum::finish(checksum::sum(0, &p[..20])), 0);
        assert_eq!(tcp_checksum(tester.ip(), target.ip(), &p[20..]), 0);
        let t = tcp_view(&p).expect("tcp");
        assert_eq!((t.src, t.dst, t.flags), (tester, target, 0x04));
        assert_eq!(p[24..28], [1, 2, 3, 4]);
        let tester6: SocketAddr = "[2001:db8::3]:4000".parse().expect("addr");
        let target6: SocketAddr = "[2001:db8::1]:8080".parse().expect("addr");
        let p6 = rst_packet(tester6, target6, 7);
        assert_eq!(p6.len(), 60);
        assert_eq!(tcp_checksum(tester6.ip(), target6.ip(), &p6[40..]), 0);
    }

    #[test]
    fn config_checks() {
        let mut args = LinkArgs {
            iface: Some("veth0".into()),
            target_addrs: vec!["192.0.2.1".parse().expect("ip")],
            local_addrs: vec!["192.0.2.3".parse().expect("ip")],
            ..LinkArgs::default()
        };
        assert!(LinkConfig::from_args(&args).is_ok());
        args.local_addrs.push("192.0.2.4".parse().expect("ip"));
        assert!(LinkConfig::from_args(&args).is_err());
        args.local_addrs = vec!["192.0.2.1".parse().expect("ip")];
        assert!(LinkConfig::from_args(&args).is_err());
        args.local_addrs = vec!["192.0.2.3".parse().expect("ip")];
        args.agent = Some("192.0.2.1:7100".parse().expect("addr"));
        assert!(LinkConfig::from_args(&args).is_err());
    }
}
