//! A deliberate bug for `fuzz/planted-bug.sh`, compiled only with the `planted-bug` feature
//! (never on otherwise): one ACK in 4096 acknowledges an octet that never arrived. The fuzzer's
//! "never ACK data that did not arrive" invariant must find it.
//!
//! It lives apart from the engine (`tcb/`, `stack.rs`) so that cargo-mutants, which examines
//! only the engine files, does not mutate code that the tested build never compiles.

use crate::wire::TcpRepr;

/// The outgoing segment `tcp`, with the planted bug applied.
pub fn corrupt_ack(mut tcp: TcpRepr) -> TcpRepr {
    if tcp.flags.ack() && !tcp.flags.rst() && tcp.ack.0 & 0xfff == 0xabc {
        tcp.ack += 1u32;
    }
    tcp
}
