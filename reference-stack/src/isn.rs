//! RFC 6528 initial sequence numbers (RFC 9293 3.4.1, MUST-8, MUST-9, SHLD-1).
//!
//! `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)` where `M` is a timer that
//! ticks every 4 microseconds (MUST-8: a clock-driven component) and `F` is SipHash-2-4 keyed by a
//! secret (SHLD-1: a pseudorandom function; MUST-9: not computable from outside, as long as the
//! key stays secret). The clock is the `Instant` the driver passes in, so a virtual-clock run
//! with a fixed `Config::isn_secret` is reproducible.

use crate::time::Instant;
use crate::tuple::FourTuple;
use crate::wire::SeqNumber;
use core::hash::{BuildHasher, Hasher};
use siphasher::sip::SipHasher24;
use std::collections::hash_map::RandomState;
use std::net::{IpAddr, SocketAddr};

/// The ISN generator of one stack.
#[derive(Clone)]
pub struct IsnGenerator {
    key: [u8; 16],
}

impl core::fmt::Debug for IsnGenerator {
    // The key is secret (MUST-9): never print it.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IsnGenerator { key: <secret> }")
    }
}

impl IsnGenerator {
    /// `Some(key)` uses that key (reproducible runs); `None` draws a random one.
    pub fn new(secret: Option<[u8; 16]>) -> IsnGenerator {
        IsnGenerator {
            key: secret.unwrap_or_else(random_key),
        }
    }

    /// The ISN for a connection on `tuple` (local and remote from this stack's point of view)
    /// opened at `now`.
    pub fn isn(&self, now: Instant, tuple: &FourTuple) -> SeqNumber {
        // RFC 6528 3: M is a 4 microsecond timer (wraps every ~4.77 hours).
        let m = (now.total_micros() / 4) as u32;
        SeqNumber(m.wrapping_add(self.f(tuple)))
    }

    /// RFC 6528 3: F(localip, localport, remoteip, remoteport, secretkey).
    fn f(&self, tuple: &FourTuple) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.key);
        write_addr(&mut h, tuple.local);
        write_addr(&mut h, tuple.remote);
        let v = h.finish();
        (v ^ (v >> 32)) as u32
    }
}

fn write_addr(h: &mut SipHasher24, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => h.write(&ip.octets()),
        IpAddr::V6(ip) => h.write(&ip.octets()),
    }
    h.write(&addr.port().to_be_bytes());
}

/// A fresh 128-bit key. `RandomState` is seeded per process from the OS's random source (and
/// bumped per instance); the wall clock is mixed in so two keys in one process differ even if
/// the standard library's seeding changes.
pub fn random_key() -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut key = [0u8; 16];
    for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn tuple(remote_port: u16) -> FourTuple {
        FourTuple {
            local: SocketAddr::new(Ipv4Addr::new(192, 0, 2, 2).into(), 80),
            remote: SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), remote_port),
        }
    }

    #[test]
    fn m_ticks_every_four_microseconds() {
        // MUST-8: same tuple, the ISN advances with the clock at 1 per 4 us.
        let g = IsnGenerator::new(Some([7; 16]));
        let t = tuple(40000);
        let a = g.isn(Instant::from_micros(1_000), &t);
        let b = g.isn(Instant::from_micros(1_003), &t);
        let c = g.isn(Instant::from_micros(1_004), &t);
        let d = g.isn(Instant::from_micros(1_000 + 4_000_000), &t);
        assert_eq!(a, b);
        assert_eq!(c.wrapping_diff(a), 1);
        assert_eq!(d.wrapping_diff(a), 1_000_000);
    }

    #[test]
    fn f_depends_on_every_tuple_field_and_the_key() {
        // SHLD-1 / MUST-9: the offset differs per connection id and per key.
        let g = IsnGenerator::new(Some([7; 16]));
        let now = Instant::ZERO;
        let base = g.isn(now, &tuple(40000));
        assert_ne!(base, g.isn(now, &tuple(40001)));
        let mut t = tuple(40000);
        t.local.set_port(81);
        assert_ne!(base, g.isn(now, &t));
        let mut t = tuple(40000);
        t.remote.set_ip(Ipv4Addr::new(192, 0, 2, 3).into());
        assert_ne!(base, g.isn(now, &t));
        let v6 = FourTuple {
            local: SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 80),
            remote: SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 40000),
        };
        assert_ne!(base, g.isn(now, &v6));
        assert_ne!(
            base,
            IsnGenerator::new(Some([8; 16])).isn(now, &tuple(40000))
        );
        // Deterministic for a fixed key.
        assert_eq!(
            base,
            IsnGenerator::new(Some([7; 16])).isn(now, &tuple(40000))
        );
    }

    #[test]
    fn random_keys_differ() {
        assert_ne!(random_key(), random_key());
        let a = IsnGenerator::new(None).isn(Instant::ZERO, &tuple(1));
        let b = IsnGenerator::new(None).isn(Instant::ZERO, &tuple(1));
        assert_ne!(a, b);
        assert_eq!(
            format!("{:?}", IsnGenerator::new(None)),
            "IsnGenerator { key: <secret> }"
        );
    }
}
