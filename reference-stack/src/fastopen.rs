//! TCP Fast Open (RFC 7413). Server side: the cookie a server gives a client that asks for one,
//! and the check of a cookie on a later SYN that carries data. Client side: what a client keeps
//! of a server's cookie ([`ClientCookie`]); the TCB sends it (`tcb/tfo_client.rs`).
//!
//! The cookie is a MAC of the client's IP address under a server secret (RFC 7413 4.1.2): the
//! first 8 octets of SipHash-2-4 over the address octets. A valid cookie proves the client saw a
//! SYN-ACK at that address, so data on its SYN can go to the application before the handshake
//! completes (4.2.2); anything else gets the ordinary three-way handshake.

use crate::wire::{TcpOption, TcpRepr};
use core::hash::Hasher;
use siphasher::sip::SipHasher24;
use std::net::IpAddr;

/// The Fast Open option's kind (RFC 7413 4.1.1).
pub const KIND: u8 = 34;
/// The length of the cookies this server gives (RFC 7413 4.1.1: 4 to 16 octets).
pub const COOKIE_LEN: usize = 8;

/// What the server does with a passive SYN (RFC 7413 4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynFastOpen {
    /// No Fast Open option, or Fast Open off: an ordinary SYN.
    Plain,
    /// A cookie request (an empty option) or a cookie that is not valid: data on the SYN is
    /// dropped, only the SYN is acknowledged, and the SYN-ACK carries this valid cookie.
    Offer([u8; COOKIE_LEN]),
    /// A valid cookie: data on the SYN is accepted at once and acknowledged by the SYN-ACK.
    Accept,
}

/// The cookie secret of one stack.
#[derive(Clone)]
pub struct CookieJar {
    key: [u8; 16],
}

impl core::fmt::Debug for CookieJar {
    // The key is what makes cookies unforgeable: never print it.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CookieJar { key: <secret> }")
    }
}

impl CookieJar {
    /// `Some(key)` uses that key (reproducible runs); `None` draws a random one.
    pub fn new(secret: Option<[u8; 16]>) -> CookieJar {
        CookieJar {
            key: secret.unwrap_or_else(crate::isn::random_key),
        }
    }

    /// RFC 7413 4.1.2: the cookie of a client, a MAC of its IP address.
    pub fn cookie(&self, client: IpAddr) -> [u8; COOKIE_LEN] {
        let mut h = SipHasher24::new_with_key(&self.key);
        match client {
            IpAddr::V4(ip) => h.write(&ip.octets()),
            IpAddr::V6(ip) => h.write(&ip.octets()),
        }
        h.finish().to_be_bytes()
    }

    /// What to do with `syn` from `client` (RFC 7413 4.2.2).
    pub fn decide(&self, client: IpAddr, syn: &TcpRepr) -> SynFastOpen {
        match syn_cookie(syn) {
            None => SynFastOpen::Plain,
            Some(c) if c == self.cookie(client) => SynFastOpen::Accept,
            // An empty option is a request; a wrong, short or long cookie gets a fresh one.
            Some(_) => SynFastOpen::Offer(self.cookie(client)),
        }
    }
}

/// A server's cookie as a client caches it (RFC 7413 4.1.3: "The client MUST cache cookies
/// from servers for later Fast Open connections", with the MSS the server advertised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCookie {
    pub cookie: Vec<u8>,
    /// The MSS of the SYN-ACK that brought the cookie, if it had one.
    pub mss: Option<u16>,
}

/// RFC 7413 4.1.1: a cookie is 4 to 16 octets, an even number (the option's length is even).
pub fn valid_cookie_len(len: usize) -> bool {
    (4..=16).contains(&len) && len % 2 == 0
}

/// The cookie field of a SYN's Fast Open option (empty for a request), `None` without one.
pub fn syn_cookie(syn: &TcpRepr) -> Option<&[u8]> {
    syn.options.iter().find_map(|o| match o {
        TcpOption::Unknown { kind: KIND, data } => Some(data.as_slice()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_depend_on_the_address_and_the_key() {
        let jar = CookieJar::new(Some([7; 16]));
        let a: IpAddr = "192.0.2.3".parse().unwrap();
        let b: IpAddr = "192.0.2.4".parse().unwrap();
        assert_eq!(jar.cookie(a), jar.cookie(a));
        assert_ne!(jar.cookie(a), jar.cookie(b));
        assert_ne!(CookieJar::new(Some([8; 16])).cookie(a), jar.cookie(a));
        assert_eq!(format!("{jar:?}"), "CookieJar { key: <secret> }");
    }

    #[test]
    fn cookie_lengths_are_even_from_4_to_16() {
        let ok: Vec<usize> = (0..20).filter(|&n| valid_cookie_len(n)).collect();
        assert_eq!(ok, vec![4, 6, 8, 10, 12, 14, 16]);
    }
}
