//! Typed parse errors: every way a packet can be malformed has its own variant.

use core::fmt;

/// Placeholder variant set; the wire module owner expands this to one variant per malformation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    Truncated,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for WireError {}
