//! The retransmission timer of RFC 6298: SRTT and RTTVAR (alpha = 1/8, beta = 1/4, K = 4), a
//! clock granularity G of 1 ms, the 1 s floor (2.4), an optional ceiling (2.5) and exponential
//! backoff (5.5).
//!
//! Karn's algorithm (RFC 6298 3, MUST-18) is the caller's job: never `sample` a segment that was
//! retransmitted, unless timestamps disambiguate it.

use crate::time::Duration;

/// G: the clock granularity this stack's timers run at (microsecond `Instant`s, but timers are
/// only promised to 1 ms).
const GRANULARITY: Duration = Duration::from_millis(1);

/// K in RTO = SRTT + max(G, K*RTTVAR).
const K: u32 = 4;

/// Backoff beyond 2^31 cannot change a clamped RTO; capping the shift keeps the math in range.
const MAX_BACKOFF_SHIFT: u32 = 31;

/// RFC 6298 round-trip estimator and RTO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    /// RTO as last computed by 2.1 or 2.2/2.3, before the floor, ceiling and backoff.
    base: Duration,
    /// How many times 5.5 doubled the RTO since the last reset.
    backoff: u32,
    min: Duration,
    max: Duration,
}

impl RttEstimator {
    /// RFC 6298 2.1: until a sample is taken, RTO = `initial` (1 s by default). `min` is the
    /// floor of 2.4, `max` the ceiling of 2.5 (a `max` below `min` is raised to `min`).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            base: initial,
            backoff: 0,
            min,
            max: max.max(min),
        }
    }

    /// The current RTO, including backoff, clamped to `[min, max]`.
    pub fn rto(&self) -> Duration {
        // 2.4 rounds the computed RTO up to the floor; 5.5 doubles that; 2.5 caps the result.
        let floored = self.base.max(self.min);
        let factor = 1u32 << self.backoff.min(MAX_BACKOFF_SHIFT);
        floored
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max)
    }

    /// The smoothed round-trip time, `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The round-trip time variation (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// How many times the RTO has been doubled since the last reset.
    pub fn backoff_count(&self) -> u32 {
        self.backoff
    }

    /// Takes one RTT measurement `rtt` (never from a retransmitted segment: Karn). The new RTO
    /// replaces any backed-off value (RFC 6298 5.7 discussion: the backoff lasts until a sample).
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            // 2.2: SRTT <- R, RTTVAR <- R/2.
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            // 2.3: RTTVAR first, with the old SRTT, then SRTT. In u128 nanoseconds so that no
            // input can overflow.
            Some(srtt) => {
                let (s, r, v) = (srtt.as_nanos(), rtt.as_nanos(), self.rttvar.as_nanos());
                self.rttvar = from_nanos((3 * v + s.abs_diff(r)) / 4);
                self.srtt = Some(from_nanos((7 * s + r) / 8));
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        let var = from_nanos(self.rttvar.as_nanos() * u128::from(K));
        self.base = srtt.saturating_add(var.max(GRANULARITY));
        self.backoff = 0;
    }

    /// RFC 6298 5.5: the retransmission timer expired, RTO <- RTO * 2 (capped at `max`).
    pub fn backoff(&mut self) {
        if self.rto() < self.max {
            self.backoff = (self.backoff + 1).min(MAX_BACKOFF_SHIFT);
        }
    }

    /// Back to the computed RTO: new data was acknowledged (RFC 6298 5.3 restarts the timer with
    /// the current RTO), or a new sample was taken.
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }
}

/// A `Duration` from a nanosecond count, saturating at `Duration::MAX`.
fn from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below 10^9 and so fits a u32.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    fn default_estimator() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn initial_rto_before_any_sample() {
        // RFC 6298 2.1: RTO = 1 s until a measurement is made.
        let r = default_estimator();
        assert_eq!(r.rto(), Duration::from_secs(1));
        assert_eq!(r.srtt(), None);
        assert_eq!(r.rttvar(), Duration::ZERO);
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        // 2.2 with R = 100 ms: SRTT = 100 ms, RTTVAR = 50 ms, RTO = 100 + max(1, 200) = 300 ms.
        let mut r = RttEstimator::new(
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::from_secs(60),
        );
        r.sample(ms(100));
        assert_eq!(r.srtt(), Some(ms(100)));
        assert_eq!(r.rttvar(), ms(50));
        assert_eq!(r.rto(), ms(300));
    }

    #[test]
    fn first_sample_rto_is_floored_to_one_second() {
        // 2.4: a computed RTO below 1 s is rounded up to 1 s.
        let mut r = default_estimator();
        r.sample(ms(100));
        assert_eq!(r.srtt(), Some(ms(100)));
        assert_eq!(r.rto(), Duration::from_secs(1));
    }

    #[test]
    fn later_samples_follow_alpha_and_beta() {
        // 2.3 with alpha = 1/8, beta = 1/4, second sample R' = 200 ms after R = 100 ms:
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms (computed with the OLD SRTT),
        // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms, RTO = 112.5 + 4 * 62.5 = 362.5 ms.
        let mut r = RttEstimator::new(
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::from_secs(60),
        );
        r.sample(ms(100));
        r.sample(ms(200));
        assert_eq!(r.rttvar(), us(62_500));
        assert_eq!(r.srtt(), Some(us(112_500)));
        assert_eq!(r.rto(), us(362_500));
        // Third sample R'' = 50 ms: |112.5 - 50| = 62.5, RTTVAR = 3/4 * 62.5 + 62.5/4 = 62.5 ms;
        // SRTT = 7/8 * 112.5 + 50/8 = 104.6875 ms; RTO = 104.6875 + 250 = 354.6875 ms.
        r.sample(ms(50));
        assert_eq!(r.rttvar(), us(62_500));
        assert_eq!(r.srtt(), Some(Duration::from_nanos(104_687_500)));
        assert_eq!(r.rto(), Duration::from_nanos(354_687_500));
    }

    #[test]
    fn granularity_bounds_the_variance_term() {
        // RTO = SRTT + max(G, K*RTTVAR): with a zero RTT, RTTVAR = 0 and the G = 1 ms term wins.
        let mut r = RttEstimator::new(
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::from_secs(60),
        );
        r.sample(Duration::ZERO);
        assert_eq!(r.rto(), ms(1));
        // Identical samples shrink RTTVAR geometrically until G dominates: RTO -> SRTT + 1 ms.
        for _ in 0..200 {
            r.sample(ms(10));
        }
        assert!(r.rttvar() < us(250));
        let rto = r.rto();
        assert!(rto >= r.srtt().unwrap_or_default() + ms(1));
    }

    #[test]
    fn ceiling_caps_a_large_sample() {
        // 2.5: a maximum may be placed on RTO provided it is at least 60 s.
        let mut r = default_estimator();
        r.sample(Duration::from_secs(100));
        assert_eq!(r.srtt(), Some(Duration::from_secs(100)));
        assert_eq!(r.rto(), Duration::from_secs(60));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        // 5.5: RTO <- RTO * 2 on each expiry, bounded by the 2.5 maximum.
        let mut r = default_estimator();
        let expected = [1u64, 2, 4, 8, 16, 32, 60, 60, 60];
        for secs in expected {
            assert_eq!(r.rto(), Duration::from_secs(secs));
            r.backoff();
        }
        // Many more expiries neither overflow nor move past the ceiling.
        for _ in 0..100 {
            r.backoff();
        }
        assert_eq!(r.rto(), Duration::from_secs(60));
        r.reset_backoff();
        assert_eq!(r.rto(), Duration::from_secs(1));
        assert_eq!(r.backoff_count(), 0);
    }

    #[test]
    fn backoff_applies_to_the_floored_value() {
        // A 300 ms computed RTO is floored to 1 s (2.4) before 5.5 doubles it.
        let mut r = default_estimator();
        r.sample(ms(100));
        r.backoff();
        assert_eq!(r.rto(), Duration::from_secs(2));
    }

    #[test]
    fn a_new_sample_replaces_the_backed_off_rto() {
        let mut r = RttEstimator::new(Duration::from_secs(1), ms(200), Duration::from_secs(60));
        r.backoff();
        r.backoff();
        assert_eq!(r.rto(), Duration::from_secs(4));
        r.sample(ms(100));
        assert_eq!(r.backoff_count(), 0);
        assert_eq!(r.rto(), ms(300));
    }

    #[test]
    fn max_below_min_is_raised() {
        let mut r = RttEstimator::new(ms(500), Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(r.rto(), Duration::from_secs(2));
        r.backoff();
        assert_eq!(r.rto(), Duration::from_secs(2));
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let mut r = RttEstimator::new(Duration::MAX, Duration::ZERO, Duration::MAX);
        assert_eq!(r.rto(), Duration::MAX);
        r.backoff();
        assert_eq!(r.rto(), Duration::MAX);
        r.sample(Duration::MAX);
        r.sample(Duration::ZERO);
        r.sample(Duration::MAX);
        let _ = r.rto();
        for _ in 0..64 {
            r.backoff();
        }
        assert_eq!(r.rto(), Duration::MAX);
    }
}
