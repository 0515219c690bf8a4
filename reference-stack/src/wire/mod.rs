//! IPv4, IPv6 and TCP on the wire: parse and emit, with every TCP option and checksums.
//!
//! Two views, as in smoltcp: bytes, and plain `*Repr` structs that `parse` from bytes and `emit`
//! back. `emit(parse(x)) == x` for every valid segment (the option list, padding after EOL,
//! reserved bits and IP header fields are all kept). Malformed input is a typed [`WireError`],
//! never a panic and never a silent guess.

pub mod checksum;
mod error;
mod ip;
mod seq;
mod tcp;

pub use error::WireError;
pub use ip::{IpRepr, Ipv4Repr, Ipv6ExtHeader, Ipv6Repr, Segment, PROTO_TCP};
pub use seq::SeqNumber;
pub use tcp::{ChecksumCheck, SackBlock, TcpFlags, TcpOption, TcpRepr};
