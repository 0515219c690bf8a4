//! IPv4, IPv6 and TCP on the wire: parse and emit, with every TCP option and checksums.
//!
//! Two views, as in smoltcp: bytes, and plain `*Repr` structs that `parse` from bytes and `emit`
//! back. `emit(parse(x)) == x` for every valid segment (the option list, padding after EOL,
//! reserved bits and IP header fields are all kept). Malformed input is a typed [`WireError`],
//! never a panic and never a silent guess.
//!
//! Parser facts that RFC 9293 states as requirements: options may appear in any segment (MUST-5)
//! and at any alignment (MUST-64); every option but EOL and NOP has a length octet (MUST-68), so
//! a missing or too-small one is an error and `emit` always writes it; padding is zeros
//! (MUST-69) when we send, and kept verbatim in [`TcpRepr::padding`] when we parse. An illegal
//! option length is a [`WireError`], so the stack can drop the segment rather than crash
//! (MUST-7). End of Option List ends the list (RFC 9293 3.2).
//!
//! Canonical form, for `parse(emit(r)) == r`: `emit` writes options, then `padding`, then zeros
//! up to a 4-octet boundary, so a repr whose option area is not 4-aligned reads back with one
//! more `EndOfList` (if it had none) and the fill in `padding`; options after an EOL read back
//! as padding octets. Everything else (reserved bits, AE, IP identification, DSCP/ECN, IPv4
//! options, IPv6 extension headers) survives unchanged.

pub mod checksum;
mod error;
pub mod icmp;
mod ip;
mod seq;
mod tcp;

pub use error::WireError;
pub use icmp::{IcmpClass, IcmpError};
pub use ip::{
    ecn, IpRepr, Ipv4Repr, Ipv6ExtHeader, Ipv6Repr, Segment, IPV4_HEADER_LEN, IPV4_MAX_OPTIONS_LEN,
    IPV6_HEADER_LEN, PROTO_TCP,
};
pub use seq::SeqNumber;
pub use tcp::{
    ChecksumCheck, SackBlock, TcpFlags, TcpOption, TcpRepr, TCP_HEADER_LEN, TCP_MAX_OPTIONS_LEN,
};
