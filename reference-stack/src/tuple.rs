//! Connection identity: the 4-tuple a segment is demultiplexed by.

use core::fmt;
use std::net::SocketAddr;

/// Local and remote socket address of a connection, from this stack's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourTuple {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.local, self.remote)
    }
}
