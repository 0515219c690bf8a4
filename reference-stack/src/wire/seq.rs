//! Sequence numbers are a type: comparison is modulo 2^32 (RFC 9293 3.4), implemented once here
//! so the state machine never does raw `u32` arithmetic.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence or acknowledgment number.
///
/// Ordering is the RFC's "=<" over the sequence space: `a < b` iff `(b - a) mod 2^32` is in
/// `1..2^31`. It is therefore not a total order over all of `u32` (which is why this type
/// implements `PartialOrd` but not `Ord`); it is a total order over any window smaller than 2^31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self` (positive when `self` is after `other`).
    pub fn wrapping_diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `lo <= self < hi` in sequence space (the RFC's "left edge =< x < right edge").
    pub fn in_window(self, lo: SeqNumber, len: u32) -> bool {
        self.0.wrapping_sub(lo.0) < len
    }

    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self >= other {
            self
        } else {
            other
        }
    }

    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self <= other {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.wrapping_diff(*other).cmp(&0))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: usize) -> SeqNumber {
        // Lengths added to sequence numbers are always < 2^31 in TCP; truncation is the intent.
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, rhs: u32) {
        *self = *self + rhs;
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

/// The number of octets from `rhs` up to `self`. Panics in debug builds if `rhs` is after
/// `self`; callers compare first.
impl Sub<SeqNumber> for SeqNumber {
    type Output = usize;
    fn sub(self, rhs: SeqNumber) -> usize {
        let d = self.wrapping_diff(rhs);
        debug_assert!(
            d >= 0,
            "sequence subtraction underflow: {} - {}",
            self.0,
            rhs.0
        );
        d.max(0) as usize
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_wrap() {
        let a = SeqNumber(u32::MAX - 1);
        let b = a + 4u32;
        assert_eq!(b.0, 2);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 4);
        assert_eq!(a.wrapping_diff(b), -4);
        assert!(SeqNumber(1).in_window(a, 5));
        assert!(!SeqNumber(3).in_window(a, 5));
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }
}
