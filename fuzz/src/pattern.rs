//! The octets the fuzz targets send and expect, as slices of one fixed pseudo-random table.
//!
//! The targets are built with SanitizerCoverage, which instruments every comparison (loop
//! bounds included): generating or checking payloads one octet at a time made a 64 KiB `send`
//! cost ~130k instrumented calls and was most of the state machine target's time. Slices of a
//! table are built with `memcpy` and compared with `memcmp` instead, which are not instrumented.
//!
//! The table repeats every [`PERIOD`] octets. The period is a power of two, so it divides 2^32
//! and a sequence number's octet stays the same across sequence-space wrap-around; it is larger
//! than any window or buffer the targets configure (at most 64 KiB), so an octet delivered at
//! the wrong place within reach of the window always shows up as a mismatch.

use std::sync::OnceLock;

/// The pattern repeats every `PERIOD` octets.
pub const PERIOD: usize = 1 << 17;

/// Two periods back to back, so any run of up to `PERIOD` octets is one contiguous slice.
fn table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // xorshift64*: no short cycles, no visible structure at any shift.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let period: Vec<u8> = (0..PERIOD)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect();
        [period.as_slice(), period.as_slice()].concat()
    })
}

/// `len` octets of the pattern starting at `position` (a sequence number, a stream offset, or
/// either plus a per-stream salt). `len` is at most [`PERIOD`].
pub fn octets(position: u64, len: usize) -> &'static [u8] {
    assert!(
        len <= PERIOD,
        "pattern run of {len} octets is longer than its period"
    );
    let start = (position % PERIOD as u64) as usize;
    &table()[start..start + len]
}

/// The first index where `got` differs from the pattern at `position`, if any.
pub fn first_mismatch(position: u64, got: &[u8]) -> Option<usize> {
    if got.len() <= PERIOD && got == octets(position, got.len()) {
        return None;
    }
    got.iter()
        .enumerate()
        .position(|(i, &b)| b != octets(position + i as u64, 1)[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_wrap_with_the_sequence_space() {
        // Octets at sequence numbers 2^32 - 2 .. 2^32 + 2 are the same whether taken as one
        // run or as the runs on either side of the wrap.
        let before = octets(u64::from(u32::MAX - 1), 2);
        let after = octets(0, 2);
        let whole = octets(u64::from(u32::MAX - 1), 4);
        assert_eq!(&whole[..2], before);
        assert_eq!(&whole[2..], after);
    }

    #[test]
    fn a_shifted_run_does_not_match() {
        for shift in [1u64, 2, 3, 1000, 65_535] {
            let run = octets(500, 64);
            assert_eq!(first_mismatch(500, run), None);
            assert!(first_mismatch(500 + shift, run).is_some(), "shift {shift}");
        }
    }
}
