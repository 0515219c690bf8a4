//! Neighbour resolution on an Ethernet link, done by the harness itself because the tester's
//! crafted address exists nowhere else: ARP (RFC 826) for IPv4, NDP (RFC 4861) for IPv6. The
//! harness learns the target's MAC and answers the target's queries for the tester's address,
//! and nothing else: only about, or to, the addresses the user named.

use super::wire::{ethernet, ETH_P_ARP, ETH_P_IPV6};
use crate::packet::checksum;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const BROADCAST: [u8; 6] = [0xff; 6];

/// An ARP packet for Ethernet/IPv4 (RFC 826).
pub fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
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
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, body: &[u8]) -> u16 {
    let len = (body.len() as u32).to_be_bytes();
    let mut acc = checksum::sum(0, &src.octets());
    acc = checksum::sum(acc, &dst.octets());
    acc = checksum::sum(acc, &len);
    acc = checksum::sum(acc, &[0, 0, 0, 58]);
    checksum::finish(checksum::sum(acc, body))
}

/// An IPv6 NDP message (RFC 4861 4.3/4.4) with one link-layer address option.
pub fn ndp(
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

pub fn solicited_node(a: Ipv6Addr) -> (Ipv6Addr, [u8; 6]) {
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

/// ARP (RFC 826) from the link: learn target MACs; answer a target's request for a tester
/// address with our MAC (the crafted address lives here, on the harness's side of the link).
pub fn arp_input(
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
pub fn ndp_input(
    p: &[u8],
    src_mac: [u8; 6],
    own: [u8; 6],
    targets: &[IpAddr],
    locals: &[IpAddr],
    neighbors: &mut HashMap<IpAddr, [u8; 6]>,
) -> Option<Vec<u8>> {
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(p.get(8..24)?).ok()?);
    let kind = *p.get(40)?;
    let target = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(p.get(48..64)?).ok()?));
    match kind {
        // A neighbour advertisement is about its target address, whatever its source (a
        // stack may answer from its link-local address); the MAC is in its Target Link-Layer
        // Address option, else the frame's source (RFC 4861 4.4, 7.2.5).
        136 if targets.contains(&target) => {
            let mac = link_layer_option(p.get(64..).unwrap_or(&[]), 2).unwrap_or(src_mac);
            neighbors.insert(target, mac);
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

/// The link-layer address in the NDP option of `kind` (1 source, 2 target) among `options`.
fn link_layer_option(mut options: &[u8], kind: u8) -> Option<[u8; 6]> {
    while let [k, len, ..] = *options {
        let n = usize::from(len) * 8;
        if n == 0 || n > options.len() {
            return None;
        }
        if k == kind && n >= 8 {
            return options.get(2..8).and_then(|m| m.try_into().ok());
        }
        options = &options[n..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_advertisement_resolves_its_target_whatever_its_source() {
        let t: Ipv6Addr = "2001:db8::1".parse().expect("ip");
        let l: Ipv6Addr = "2001:db8::3".parse().expect("ip");
        let link_local: Ipv6Addr = "fe80::1".parse().expect("ip");
        let stack_mac = [2, 0, 0, 0, 0, 9];
        // Solicited, from the link-local address, carrying the target's MAC in its option.
        let na = ndp(136, 0x60, link_local, l, t, 2, stack_mac);
        let mut n = HashMap::new();
        let targets = [IpAddr::V6(t)];
        let locals = [IpAddr::V6(l)];
        assert!(ndp_input(&na, [2, 0, 0, 0, 0, 7], [2; 6], &targets, &locals, &mut n).is_none());
        assert_eq!(n.get(&IpAddr::V6(t)), Some(&stack_mac));
        assert_eq!(n.get(&IpAddr::V6(link_local)), None);
        // About an address nobody named: ignored.
        let other = ndp(
            136,
            0x60,
            link_local,
            l,
            "2001:db8::9".parse().expect("ip"),
            2,
            [9; 6],
        );
        let mut n = HashMap::new();
        ndp_input(&other, [9; 6], [2; 6], &targets, &locals, &mut n);
        assert!(n.is_empty());
    }
}
