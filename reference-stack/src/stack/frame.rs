//! The IP layer of the stack: what it accepts (the security level, valid addresses) and the IP
//! header of everything it sends.

use super::*;

impl Stack {
    /// `Config::security_level`: an IPv4 packet whose RFC 1108 Basic Security Option names
    /// another level is a mismatch. A packet without the option (and every IPv6 packet) is
    /// taken to be at our level.
    pub(super) fn security_ok(&self, ip: &IpRepr) -> bool {
        match (self.config.security_level, ip) {
            (Some(ours), IpRepr::V4(v4)) => v4.security_level().is_none_or(|l| l == ours),
            _ => true,
        }
    }

    /// An RST of the stack itself (no TCB): `ack` given means RST+ACK.
    pub(super) fn send_rst(&mut self, tuple: FourTuple, seq: SeqNumber, ack: Option<SeqNumber>) {
        let mut flags = TcpFlags::RST;
        if ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        let tcp = TcpRepr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            seq,
            ack: ack.unwrap_or_default(),
            flags,
            reserved: 0,
            window: 0,
            urgent: 0,
            options: Vec::new(),
            padding: Vec::new(),
            payload: Vec::new(),
        };
        self.stats.resets_sent += 1;
        let p = self.frame(tuple, tcp, ecn::NOT_ECT);
        self.transmit.push_back(p);
    }

    /// The IP packet around `tcp`: IPv4 with TTL from the config, DF set and a counting ident;
    /// IPv6 with that hop limit (MUST-49). `ecn`: the IP header's ECN field (RFC 3168 5).
    pub(super) fn frame(&mut self, tuple: FourTuple, tcp: TcpRepr, ecn: u8) -> Vec<u8> {
        self.stats.segments_sent += 1;
        #[cfg(feature = "planted-bug")]
        let tcp = crate::planted::corrupt_ack(tcp);
        let ip = match (tuple.local.ip(), tuple.remote.ip()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                self.ip_ident = self.ip_ident.wrapping_add(1);
                IpRepr::V4(Ipv4Repr {
                    src,
                    dst,
                    dscp_ecn: ecn,
                    ident: self.ip_ident,
                    reserved_flag: false,
                    dont_frag: true,
                    ttl: self.config.ttl,
                    options: Vec::new(),
                })
            }
            (src, dst) => IpRepr::V6(Ipv6Repr {
                src: to_v6(src),
                dst: to_v6(dst),
                traffic_class: ecn,
                flow_label: 0,
                hop_limit: self.config.ttl,
                ext_headers: Vec::new(),
            }),
        };
        Segment { ip, tcp }.emit()
    }
}

/// MUST-57: the limited broadcast and multicast addresses (a subnet broadcast needs a netmask
/// this stack does not have).
pub(super) fn is_broadcast_or_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// MUST-57, MUST-63: a source must name one host.
pub(super) fn is_valid_source(ip: IpAddr) -> bool {
    !ip.is_unspecified() && !is_broadcast_or_multicast(ip)
}

pub(super) fn to_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}
