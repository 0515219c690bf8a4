//! The reference stack outside the runner: on a TUN device with a real clock (`driver`), as
//! `tcpconform serve` (`serve`), against the Linux kernel in bulk (`transfer`), and the rule
//! coverage the corpus reaches on it (`coverage`).

pub mod coverage;
pub mod driver;
pub mod serve;
pub mod transfer;

use crate::cli::RstProfile;
use crate::target::reference::ReferenceTarget;
use reference_stack::{Config, RstPolicy};

/// The reference stack as the conformance runs use it, under an RST/SYN profile (RFC 9293
/// MAY-12's choice): what `--target reference` and `serve` run.
pub fn config(profile: RstProfile) -> Config {
    Config {
        rst_policy: match profile {
            RstProfile::Rfc5961 => RstPolicy::Rfc5961,
            RstProfile::Rfc793 => RstPolicy::Rfc793,
        },
        ..ReferenceTarget::default_config()
    }
}
