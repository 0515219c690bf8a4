//! The ISN statistics: pure functions over a series of initial sequence numbers (RFC 9293
//! 3.4.1, RFC 6528), no I/O, unit tested with synthetic generators. `isn_sample` feeds them
//! what it measured on a target.

use std::fmt;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Thresholds. Each must let an RFC 6528 generator (`ISN = M + F(tuple, secret)`) pass with a
// wide margin while counters, constants, time-only clocks and weak PRNGs fail.
// ---------------------------------------------------------------------------------------------

/// The increments of fresh-tuple ISNs must have no common divisor: for n independent uniform
/// 32-bit increments all are even with probability 2^-n, so any GCD > 1 over 31+ increments
/// is a regular step (a `+64000` counter has GCD 64000), never chance.
pub const MAX_GCD: u32 = 1;

/// Minimum predictability index `SP = round(8 * log2(stddev of the increments))`, in the
/// spirit of nmap's TCP sequence prediction. Increments are taken as signed 32-bit numbers.
/// Uniform increments have stddev 2^32/sqrt(12) = 2^30.2, so SP = 241; the threshold 200 asks
/// for a stddev of at least 2^25: a blind attacker aiming at a 64 KiB receive window around the
/// mean then lands in it with probability below 2^16 / 2^25 = 2^-9 per try. A time-only clock
/// gives tiny, regular increments (SP < 60), a counter none (SP 0).
pub const MIN_SP: u32 = 200;

/// Minimum entropy estimate of the ISNs in bits (sum over the 32 bit positions of the binary
/// entropy of each bit's observed frequency). A uniform generator scores 32 minus a sampling
/// bias of about 32 / (2 n ln 2) (0.02 bits for n = 1000, 0.7 for n = 32). Anything that
/// leaves 5 bits fixed, or spans fewer than 2^28 values (a clock or counter over a short run,
/// a 16-bit PRNG), falls below 28.
pub const MIN_ENTROPY_BITS: f64 = 28.0;

/// Maximum share of consecutive increments (d0, d1, d2) with d0 * d2 = d1^2 in their low 16
/// bits. A linear congruential generator `x' = a x + c mod 2^m` (m >= 16) has `d' = a d`, so
/// the relation holds for every triple, also when the state is spread over 32 bits
/// (`x * 65537`) or only its low bits are output unchanged; for independent increments it holds
/// by chance with probability of the order of 2^-14. 10% tolerates coincidences on short runs.
/// (A generator that outputs only the high bits of its state escapes this test; SP and entropy
/// still see a state smaller than 28 bits through its spread.)
pub const MAX_RECURRENCE: f64 = 0.10;

/// Slowest acceptable ISN clock for MUST-8, in ticks per second. Known clocks: RFC 793's 4 us
/// timer (250 000/s), FreeBSD (about 1 048 576/s), Linux (ns >> 6: 15 625 000/s). Below
/// 10 000/s the clock component advances less than one receive window (2^16) in 6 s, so it
/// barely separates incarnations of a connection: not the clock RFC 9293 3.4.1 describes.
pub const MIN_CLOCK_RATE: f64 = 10_000.0;

/// Fastest acceptable ISN clock: the sequence space must not wrap within one MSL (2 minutes,
/// RFC 9293 3.4.1), or the clock stops protecting old duplicates: 2^32 / 120 s.
pub const MAX_CLOCK_RATE: f64 = 4_294_967_296.0 / 120.0;

/// What [`judge_fresh`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FreshReport {
    pub samples: usize,
    /// GCD of the non-zero increments (0 if all are zero).
    pub gcd: u32,
    /// Predictability index (see [`MIN_SP`]).
    pub sp: u32,
    /// Entropy estimate in bits (see [`MIN_ENTROPY_BITS`]).
    pub entropy_bits: f64,
    /// Share of increment triples that fit an LCG (see [`MAX_RECURRENCE`]).
    pub recurrence: f64,
    /// Why the series is predictable; empty if it passed.
    pub problems: Vec<String>,
}

impl FreshReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for FreshReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ISNs from fresh tuples: increment GCD {} (max {MAX_GCD}), SP index {} (min {MIN_SP}), entropy {:.2} bits (min {MIN_ENTROPY_BITS}), LCG-fit {:.1}% (max {:.0}%)",
            self.samples,
            self.gcd,
            self.sp,
            self.entropy_bits,
            self.recurrence * 100.0,
            MAX_RECURRENCE * 100.0
        )
    }
}

/// Judges ISNs of connections on distinct 4-tuples, in the order they were opened: they must
/// not be computable from outside (MUST-9, SHLD-1). Fails on constants, counters (constant
/// or regular increments), time-only clocks, low-entropy and linear congruential generators.
pub fn judge_fresh(isns: &[u32]) -> FreshReport {
    let incs = increments(isns);
    let gcd = incs.iter().fold(0u32, |g, &d| gcd(g, d));
    let sp = sp_index(&incs);
    let entropy_bits = bit_entropy(isns);
    let recurrence = recurrence_share(&incs);
    let mut problems = Vec::new();
    if incs.is_empty() {
        problems.push(format!(
            "{} samples are too few to judge (need at least 2)",
            isns.len()
        ));
    } else if incs.iter().all(|&d| d == 0) {
        problems.push("every ISN is the same (a constant)".into());
    } else {
        if gcd > MAX_GCD {
            problems.push(format!(
                "every increment is a multiple of {gcd} (a counter or a coarse step)"
            ));
        }
        if sp < MIN_SP {
            problems.push(format!(
                "SP index {sp} < {MIN_SP}: increments are small or regular (a counter or a clock without a secret hash)"
            ));
        }
        if entropy_bits < MIN_ENTROPY_BITS {
            problems.push(format!(
                "entropy {entropy_bits:.2} bits < {MIN_ENTROPY_BITS}: the ISNs span a small part of the sequence space"
            ));
        }
        if recurrence > MAX_RECURRENCE {
            problems.push(format!(
                "{:.1}% of increment triples fit a linear congruential generator (d' = a d)",
                recurrence * 100.0
            ));
        }
    }
    FreshReport {
        samples: isns.len(),
        gcd,
        sp,
        entropy_bits,
        recurrence,
        problems,
    }
}

/// What [`judge_clock`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockReport {
    pub samples: usize,
    /// Increments that were not positive (the ISN stood still or went back).
    pub not_increasing: usize,
    /// Observed clock rate, ISN units per second (0 if no time passed).
    pub rate: f64,
    pub problems: Vec<String>,
}

impl ClockReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for ClockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ISNs on one 4-tuple: {} increments not positive, clock rate {:.0}/s (one tick per {:.3} us; accepted {MIN_CLOCK_RATE:.0}..={MAX_CLOCK_RATE:.0}/s)",
            self.samples,
            self.not_increasing,
            self.rate,
            if self.rate > 0.0 { 1e6 / self.rate } else { 0.0 }
        )
    }
}

/// Judges ISNs of successive incarnations of one 4-tuple, each with the time its SYN was sent:
/// MUST-8's clock-driven component makes them increase with time (RFC 6528: `M` is a timer;
/// `F` is the same for the same tuple). Any monotonic rate within
/// [`MIN_CLOCK_RATE`]..=[`MAX_CLOCK_RATE`] passes.
pub fn judge_clock(samples: &[(Duration, u32)]) -> ClockReport {
    let mut not_increasing = 0;
    let mut total: f64 = 0.0;
    for pair in samples.windows(2) {
        if let [(_, a), (_, b)] = pair {
            // RFC 9293 3.4: sequence numbers compare modulo 2^32.
            let d = b.wrapping_sub(*a) as i32;
            if d <= 0 {
                not_increasing += 1;
            }
            total += f64::from(d);
        }
    }
    let elapsed = match (samples.first(), samples.last()) {
        (Some((t0, _)), Some((t1, _))) => t1.saturating_sub(*t0).as_secs_f64(),
        _ => 0.0,
    };
    let rate = if elapsed > 0.0 { total / elapsed } else { 0.0 };
    let mut problems = Vec::new();
    if samples.len() < 3 {
        problems.push(format!(
            "{} samples are too few to judge (need at least 3)",
            samples.len()
        ));
    } else if elapsed <= 0.0 {
        problems.push("no time passed between the samples (give the step a `gap`)".into());
    } else {
        if not_increasing > 0 {
            problems.push(format!(
                "{not_increasing} of {} increments are not positive: the ISN does not follow a clock",
                samples.len() - 1
            ));
        }
        if !(MIN_CLOCK_RATE..=MAX_CLOCK_RATE).contains(&rate) {
            problems.push(format!(
                "clock rate {rate:.0}/s is outside {MIN_CLOCK_RATE:.0}..={MAX_CLOCK_RATE:.0}/s"
            ));
        }
    }
    ClockReport {
        samples: samples.len(),
        not_increasing,
        rate,
        problems,
    }
}

/// Consecutive differences modulo 2^32.
fn increments(isns: &[u32]) -> Vec<u32> {
    isns.windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(b.wrapping_sub(*a)),
            _ => None,
        })
        .collect()
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `round(8 * log2(stddev))` of the increments as signed 32-bit values; 0 when the stddev is
/// below 1 (a counter).
fn sp_index(incs: &[u32]) -> u32 {
    if incs.is_empty() {
        return 0;
    }
    let n = incs.len() as f64;
    let vals = incs.iter().map(|&d| f64::from(d as i32));
    let mean = vals.clone().sum::<f64>() / n;
    let var = vals.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let sd = var.sqrt();
    if sd < 1.0 {
        0
    } else {
        (8.0 * sd.log2()).round() as u32
    }
}

/// Sum over the 32 bit positions of the binary entropy of the bit's frequency.
fn bit_entropy(isns: &[u32]) -> f64 {
    if isns.is_empty() {
        return 0.0;
    }
    let n = isns.len() as f64;
    (0..32)
        .map(|bit| {
            let ones = isns.iter().filter(|&&x| x >> bit & 1 == 1).count() as f64;
            let p = ones / n;
            let h = |q: f64| if q > 0.0 { -q * q.log2() } else { 0.0 };
            h(p) + h(1.0 - p)
        })
        .sum()
}

/// Share of triples (d0, d1, d2) of non-zero increments with d0 * d2 = d1^2 (mod 2^16).
fn recurrence_share(incs: &[u32]) -> f64 {
    const LOW16: u32 = 0xffff;
    let mut triples = 0usize;
    let mut fits = 0usize;
    for w in incs.windows(3) {
        if let [d0, d1, d2] = w {
            if *d0 == 0 && *d1 == 0 {
                continue;
            }
            triples += 1;
            if d0.wrapping_mul(*d2) & LOW16 == d1.wrapping_mul(*d1) & LOW16 {
                fits += 1;
            }
        }
    }
    if triples == 0 {
        0.0
    } else {
        fits as f64 / triples as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// A deterministic uniform 32-bit source.
    fn uniform(seed: u64, n: usize) -> Vec<u32> {
        let mut r = SplitMix64(seed);
        (0..n).map(|_| r.next_u64() as u32).collect()
    }

    /// RFC 6528: `M + F(tuple)`, M a 4 us clock, F a keyed hash of the tuple (here the
    /// source port), connections opened ~100 us apart.
    fn rfc6528(n: usize) -> Vec<u32> {
        let mut r = SplitMix64(99);
        let mut t_us = 5_000_000u64;
        (0..n)
            .map(|i| {
                t_us += 50 + r.next_u64() % 100;
                let mut f = SplitMix64(0xfeed ^ (49_152 + i as u64));
                ((t_us / 4) as u32).wrapping_add(f.next_u64() as u32)
            })
            .collect()
    }

    /// ISN = t / 4us, no hash, connections opened 50..150 us apart.
    fn time_only(n: usize) -> Vec<u32> {
        let mut r = SplitMix64(5);
        let mut t_us = 1_000_000u64;
        (0..n)
            .map(|_| {
                t_us += 50 + r.next_u64() % 100;
                (t_us / 4) as u32
            })
            .collect()
    }

    fn lcg16(n: usize, scale: u32) -> Vec<u32> {
        // 16-bit state (old rand() style); output the state, optionally spread by `scale`.
        let mut x: u32 = 12_345;
        (0..n)
            .map(|_| {
                x = (x.wrapping_mul(25_173).wrapping_add(13_849)) & 0xffff;
                x.wrapping_mul(scale)
            })
            .collect()
    }

    fn lcg32(n: usize) -> Vec<u32> {
        // ANSI C constants, full 32-bit state, output = state.
        let mut x: u32 = 1;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                x
            })
            .collect()
    }

    #[test]
    fn good_generators_pass() {
        for n in [32, 1000] {
            // No false alarm over many independent runs.
            for seed in 1..=50 {
                let r = judge_fresh(&uniform(seed, n));
                assert!(r.passed(), "uniform n={n}: {r} {:?}", r.problems);
                assert!(r.sp >= 225, "{r}");
            }
            let r = judge_fresh(&rfc6528(n));
            assert!(r.passed(), "rfc6528 n={n}: {r} {:?}", r.problems);
        }
        let r = judge_fresh(&uniform(2, 1000));
        assert!(r.entropy_bits > 31.9, "{r}");
    }

    #[test]
    fn constant_fails() {
        let r = judge_fresh(&[0xdead_beef; 100]);
        assert!(!r.passed());
        assert!(r.problems[0].contains("constant"), "{:?}", r.problems);
    }

    #[test]
    fn counter_fails_on_gcd_and_sp() {
        let isns: Vec<u32> = (0..1000u32)
            .map(|i| 7u32.wrapping_add(i * 64_000))
            .collect();
        let r = judge_fresh(&isns);
        assert_eq!(r.gcd, 64_000);
        assert_eq!(r.sp, 0);
        assert!(!r.passed());
        // A +1 counter has GCD 1 but no spread at all.
        let isns: Vec<u32> = (0..1000u32).collect();
        let r = judge_fresh(&isns);
        assert_eq!(r.gcd, 1);
        assert!(!r.passed());
        assert!(r.problems.iter().any(|p| p.contains("SP index")));
    }

    #[test]
    fn time_only_clock_fails() {
        let r = judge_fresh(&time_only(1000));
        assert!(r.sp < 60, "{r}");
        assert!(r.entropy_bits < MIN_ENTROPY_BITS, "{r}");
        assert!(!r.passed());
    }

    #[test]
    fn weak_prngs_fail() {
        let r = judge_fresh(&lcg16(1000, 1));
        assert!(!r.passed(), "{r}");
        assert!(r.entropy_bits <= 16.01, "{r}");
        // The same 16-bit state spread over 32 bits: every bit looks fair, the low half is
        // still the LCG.
        let r = judge_fresh(&lcg16(1000, 65_537));
        assert!(r.entropy_bits > 31.0, "{r}");
        assert!(r.recurrence > 0.99, "{r}");
        assert!(!r.passed(), "{r}");
        // Full 32-bit state: uniform-looking bits and spread, but d' = a d exactly.
        let r = judge_fresh(&lcg32(1000));
        assert!(r.sp >= MIN_SP, "{r}");
        assert!(r.recurrence > 0.99, "{r}");
        assert!(!r.passed());
    }

    #[test]
    fn clock_judgement() {
        // RFC 6528 on one tuple, 10 ms apart: +2500 per sample, 250 000/s.
        let f = 0x1234_5678u32;
        let s: Vec<(Duration, u32)> = (0..50u32)
            .map(|i| {
                let t = Duration::from_millis(10 * u64::from(i) + 3);
                (t, f.wrapping_add((t.as_micros() / 4) as u32))
            })
            .collect();
        let r = judge_clock(&s);
        assert!(r.passed(), "{r}");
        assert!((r.rate - 250_000.0).abs() < 1.0, "{r}");
        // Wrapping through 2^32 is still increasing.
        let s: Vec<(Duration, u32)> = (0..5u32)
            .map(|i| {
                (
                    Duration::from_millis(u64::from(i)),
                    (u32::MAX - 100).wrapping_add(i * 1000),
                )
            })
            .collect();
        assert!(judge_clock(&s).passed());
        // Random ISNs on one tuple: not a clock.
        let s: Vec<(Duration, u32)> = uniform(3, 50)
            .into_iter()
            .enumerate()
            .map(|(i, x)| (Duration::from_millis(10 * i as u64), x))
            .collect();
        assert!(!judge_clock(&s).passed());
        // A constant, and no time passing.
        let s: Vec<(Duration, u32)> = (0..10).map(|i| (Duration::from_millis(i), 42)).collect();
        assert_eq!(judge_clock(&s).not_increasing, 9);
        let s: Vec<(Duration, u32)> = (0..10u32).map(|i| (Duration::ZERO, i * 100)).collect();
        assert!(judge_clock(&s).problems[0].contains("no time"));
        // Too slow: 1 unit per 10 ms = 100/s.
        let s: Vec<(Duration, u32)> = (0..10u32)
            .map(|i| (Duration::from_millis(10 * u64::from(i)), i))
            .collect();
        let r = judge_clock(&s);
        assert!(!r.passed() && r.problems[0].contains("outside"), "{r}");
    }
}
