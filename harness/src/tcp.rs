//! Plain TCP vocabulary shared by every layer: the RFC 9293 connection states and the header
//! flag bits. A leaf module: it depends on nothing else in the crate.

use core::fmt;
use core::str::FromStr;

/// The eleven connection states of RFC 9293 3.3.2 (a copy of the reference stack's names, so
/// that the harness does not depend on the stack it tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The RFC's spelling: `SYN-RECEIVED`, `FIN-WAIT-1`, ...
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TcpState {
    type Err = String;
    /// The RFC spelling, case-insensitively, with `-` or `_` (`SYN-RCVD` too), as
    /// `reference_stack::State::from_str`.
    fn from_str(s: &str) -> Result<TcpState, String> {
        let norm = s.trim().to_ascii_uppercase().replace('_', "-");
        let norm = if norm == "SYN-RCVD" {
            "SYN-RECEIVED".to_string()
        } else {
            norm
        };
        TcpState::ALL
            .iter()
            .copied()
            .find(|st| st.name() == norm)
            .ok_or_else(|| {
                format!(
                    "unknown TCP state `{s}` (expected one of {})",
                    TcpState::ALL
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

/// On the wire (the agent's protocol, reports) a state is its RFC name.
impl serde::Serialize for TcpState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for TcpState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TcpState, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// TCP header flag bits (RFC 9293 3.1; ECE and CWR RFC 3168; AE RFC 3540/accurate ECN), as
/// the 12 low bits of octets 12-13 of the header.
pub mod flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;
}
