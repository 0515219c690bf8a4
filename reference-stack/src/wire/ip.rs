//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers carrying TCP, and the whole [`Segment`].

use super::{TcpRepr, WireError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const PROTO_TCP: u8 = 6;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// DSCP (6 bits) and ECN (2 bits): the old TOS octet.
    pub dscp_ecn: u8,
    pub ident: u16,
    /// The reserved ("evil") flag bit, kept for round-trips.
    pub reserved_flag: bool,
    pub dont_frag: bool,
    pub ttl: u8,
    /// Raw IP options (IHL > 5), kept verbatim, including padding.
    pub options: Vec<u8>,
}

/// An IPv6 extension header before TCP (hop-by-hop, routing, destination options), kept raw.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv6ExtHeader {
    /// The header type (the Next Header value that announced it): 0, 43 or 60.
    pub kind: u8,
    /// The whole extension header, including its own next-header and length octets.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub hop_limit: u8,
    pub ext_headers: Vec<Ipv6ExtHeader>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IpRepr {
    V4(Ipv4Repr),
    V6(Ipv6Repr),
}

/// One IP packet carrying one TCP segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    pub ip: IpRepr,
    pub tcp: TcpRepr,
}

#[allow(unused_variables)]
impl Segment {
    /// Parse one IP packet (version from the first nibble) carrying TCP; checksums verified.
    pub fn parse(bytes: &[u8]) -> Result<Segment, WireError> {
        todo!()
    }

    /// Emit the whole packet: lengths and both checksums computed.
    pub fn emit(&self) -> Vec<u8> {
        todo!()
    }

    pub fn src(&self) -> SocketAddr {
        SocketAddr::new(self.ip.src(), self.tcp.src_port)
    }

    pub fn dst(&self) -> SocketAddr {
        SocketAddr::new(self.ip.dst(), self.tcp.dst_port)
    }
}

impl IpRepr {
    pub fn src(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.src),
            IpRepr::V6(r) => IpAddr::V6(r.src),
        }
    }

    pub fn dst(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.dst),
            IpRepr::V6(r) => IpAddr::V6(r.dst),
        }
    }
}
