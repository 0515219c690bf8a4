//! Addresses on the agent's command line, read strictly and checked once normalised.
//!
//! The wildcard has many spellings: `0.0.0.0`, `::`, `[0:0::0]`, the IPv4-mapped
//! `::ffff:0.0.0.0` (for which `is_unspecified()` is false, yet a socket bound to it listens on
//! every IPv4 address), and the C library's shorthands `0`, `0x0`, `0.0`, `00.0.0.0` that
//! inet_aton(3) takes. Only the plain spellings are accepted (an IPv4-mapped address becomes
//! the IPv4 address it maps), and every check is made on the result.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An IP address in its plain spelling (dotted quad, or IPv6), IPv4-mapped IPv6 turned into
/// IPv4. Any other spelling is refused, and the message says what it would have meant.
pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(ip.to_canonical());
    }
    match inet_aton(s) {
        Some(v4) if v4.is_unspecified() => Err(format!(
            "`{s}` is 0.0.0.0, the wildcard address, in the C library's shorthand"
        )),
        Some(v4) => Err(format!(
            "`{s}` is {v4} in the C library's shorthand; write {v4}"
        )),
        None => Err(format!("`{s}` is not an IP address")),
    }
}

/// `ADDR:PORT` or `[IPV6]:PORT`, the address as [`parse_ip`] reads it.
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    let (ip, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (host, port) = rest
                .split_once("]:")
                .ok_or_else(|| format!("`{s}`: write [IPV6]:PORT"))?;
            let v6 = host
                .parse::<Ipv6Addr>()
                .map_err(|_| format!("`{host}` is not an IPv6 address"))?;
            (IpAddr::V6(v6).to_canonical(), port)
        }
        None => {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| format!("`{s}`: write ADDR:PORT"))?;
            if host.contains(':') {
                return Err(format!(
                    "`{s}`: an IPv6 address goes in brackets, [{host}]:{port}"
                ));
            }
            (parse_ip(host)?, port)
        }
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("`{port}` is not a port number"))?;
    Ok(SocketAddr::new(ip, port))
}

/// The wildcard address in any spelling [`parse_ip`] lets through (and in the IPv4-mapped
/// one, should an address come from elsewhere).
pub fn is_wildcard(ip: IpAddr) -> bool {
    ip.to_canonical().is_unspecified()
}

/// Why `ip` cannot be an address the agent's sockets are bound to or connect to, if it
/// cannot: a wildcard, a multicast or the broadcast address.
pub fn not_unicast(ip: IpAddr) -> Option<&'static str> {
    let ip = ip.to_canonical();
    if ip.is_unspecified() {
        Some("the wildcard address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
        Some("the broadcast address")
    } else {
        None
    }
}

/// The IPv4 address inet_aton(3) reads from `s`, if any: one to four parts separated by
/// dots, each decimal, octal (leading `0`) or hex (`0x`); the last part fills the octets left.
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u64> = s.split('.').map(aton_part).collect::<Option<_>>()?;
    let (last, first) = parts.split_last()?;
    if first.len() > 3 || first.iter().any(|p| *p > 0xff) {
        return None;
    }
    let room = 8 * (4 - first.len() as u32);
    if *last >= 1u64 << room {
        return None;
    }
    let high = first
        .iter()
        .enumerate()
        .fold(0u64, |acc, (i, p)| acc | p << (24 - 8 * i as u32));
    u32::try_from(high | last).ok().map(Ipv4Addr::from)
}

fn aton_part(p: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() && radix == 16 {
        return Some(0);
    }
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|v| *v <= u64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wildcard_spelling_is_refused_or_normalised_to_the_wildcard() {
        for s in [
            "0.0.0.0",
            "::",
            "0:0:0:0:0:0:0:0",
            "::0.0.0.0",
            "::ffff:0.0.0.0",
            "::ffff:0:0",
        ] {
            let ip = parse_ip(s).expect(s);
            assert!(is_wildcard(ip), "{s}");
            assert_eq!(not_unicast(ip), Some("the wildcard address"), "{s}");
        }
        for s in [
            "0",
            "0x0",
            "0.0",
            "0.0.0",
            "00.0.0.0",
            "000.000.000.000",
            "0x0.0.0.0",
            "00",
        ] {
            let e = parse_ip(s).expect_err(s);
            assert!(e.contains("wildcard"), "{s}: {e}");
        }
    }

    #[test]
    fn plain_and_mapped_addresses() {
        assert_eq!(parse_ip("192.0.2.1"), Ok(IpAddr::from([192, 0, 2, 1])));
        assert_eq!(
            parse_ip("::ffff:192.0.2.1"),
            Ok(IpAddr::from([192, 0, 2, 1]))
        );
        assert_eq!(
            parse_ip("2001:db8::1"),
            Ok(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]))
        );
        let e = parse_ip("0xc0.0.2.1").expect_err("hex");
        assert!(e.contains("192.0.2.1"), "{e}");
        let e = parse_ip("3221225985").expect_err("one number");
        assert!(e.contains("192.0.2.1"), "{e}");
        assert!(parse_ip("192.0.2.256").is_err());
        assert!(parse_ip("example.org").is_err());
        assert!(parse_ip("").is_err());
        assert_eq!(
            not_unicast(IpAddr::from([255, 255, 255, 255])),
            Some("the broadcast address")
        );
        assert_eq!(
            not_unicast(IpAddr::from([224, 0, 0, 1])),
            Some("a multicast address")
        );
        assert_eq!(not_unicast(IpAddr::from([192, 0, 2, 1])), None);
    }

    #[test]
    fn socket_addresses() {
        assert_eq!(
            parse_socket_addr("192.0.2.1:7100"),
            Ok(SocketAddr::from(([192, 0, 2, 1], 7100)))
        );
        assert_eq!(
            parse_socket_addr("[::ffff:192.0.2.1]:7100"),
            Ok(SocketAddr::from(([192, 0, 2, 1], 7100)))
        );
        let wild = parse_socket_addr("[::ffff:0.0.0.0]:7100").expect("parses");
        assert!(is_wildcard(wild.ip()));
        assert_eq!(wild, SocketAddr::from(([0, 0, 0, 0], 7100)));
        assert!(parse_socket_addr("0:7100")
            .expect_err("0")
            .contains("wildcard"));
        assert!(parse_socket_addr("::1:7100").is_err());
        assert!(parse_socket_addr("192.0.2.1:+80").is_err());
        assert!(parse_socket_addr("192.0.2.1:65536").is_err());
        assert!(parse_socket_addr("192.0.2.1").is_err());
        assert!(parse_socket_addr("[192.0.2.1]:80").is_err());
    }

    #[test]
    fn inet_aton_reads_what_the_c_library_reads() {
        assert_eq!(inet_aton("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("0177.0.0.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("1.2.65535"), Some(Ipv4Addr::new(1, 2, 255, 255)));
        assert_eq!(inet_aton("1.2.65536"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("08"), None);
        assert_eq!(inet_aton("4294967295"), Some(Ipv4Addr::BROADCAST));
        assert_eq!(inet_aton("4294967296"), None);
    }
}
