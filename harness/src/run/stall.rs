//! Scheduling stalls of the harness process, for real-clock targets.
//!
//! A case on a real kernel is a race the harness must win by a wide margin: it injects a SYN and
//! reads the state before the kernel's SYN-ACK timer gives up on the request (about 63 s on
//! Linux), it expects silence for 300 ms before a delayed ACK fires. When the machine is
//! overloaded or the VM is paused, the harness thread can be off the CPU for seconds while the
//! target's timers keep running; a failure seen then is the harness's, not the target's. (Seen:
//! at load ~29 on two cores a worker took 41 s between `listen` and its first injected SYN and
//! 90 s to read the SYN-ACK; the request socket had expired before `state: SYN-RECEIVED`.)
//!
//! The monitor is one thread that sleeps [`TICK`] at a time and records every wake-up that comes
//! [`RECORD_OVER`] or more late. The kernel schedules it like the workers, so its late wake-ups
//! are when the process was starved. The executor asks [`worst_between`] after an instance on a
//! real clock fails, and runs the instance again when the harness stalled during it: a FAIL in
//! the report is then one the harness was awake for.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The monitor's sleep.
const TICK: Duration = Duration::from_millis(5);
/// Lateness worth recording, and the least stall that makes a failed instance run again. The
/// corpus's tightest real-time tolerances are a few hundred milliseconds (300 ms of expected
/// silence, 500 ms for a delayed ACK); a stall under 200 ms does not decide a verdict, while
/// CFS on an overloaded two-core machine delays a wake-up by tens of milliseconds routinely.
pub const RECORD_OVER: Duration = Duration::from_millis(200);
/// Stalls kept: the newest win; an instance lasts seconds, so this covers far more than one.
const KEEP: usize = 4096;

/// One late wake-up: the process was off the CPU from `from` for `len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    pub from: Instant,
    pub len: Duration,
}

static STALLS: OnceLock<Mutex<Vec<Stall>>> = OnceLock::new();

static STARTED: std::sync::Once = std::sync::Once::new();

/// Starts the monitor (once per process; later calls do nothing).
pub fn start() {
    STARTED.call_once(spawn);
}

fn spawn() {
    let spawned = std::thread::Builder::new()
        .name("tcpconform-stall".into())
        .spawn(|| {
            let mut last = Instant::now();
            loop {
                std::thread::sleep(TICK);
                let now = Instant::now();
                let late = now.saturating_duration_since(last).saturating_sub(TICK);
                if late >= RECORD_OVER {
                    record(Stall {
                        from: last,
                        len: late,
                    });
                }
                last = now;
            }
        });
    // Without the monitor no stall is ever seen: failures stand as they are, as before.
    if let Err(e) = spawned {
        eprintln!("tcpconform: stall monitor not started: {e}");
    }
}

/// Keeps one stall (the monitor's; tests record their own).
pub(crate) fn record(s: Stall) {
    let m = STALLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut v = m.lock().unwrap_or_else(|p| p.into_inner());
    if v.len() >= KEEP {
        v.drain(..KEEP / 2);
    }
    v.push(s);
}

/// The longest stall that overlaps `[from, to]`, if the monitor saw one.
pub fn worst_between(from: Instant, to: Instant) -> Option<Stall> {
    let m = STALLS.get()?;
    let v = m.lock().unwrap_or_else(|p| p.into_inner());
    worst_of(&v, from, to)
}

fn worst_of(stalls: &[Stall], from: Instant, to: Instant) -> Option<Stall> {
    stalls
        .iter()
        .filter(|s| s.from <= to && s.from + s.len >= from)
        .max_by_key(|s| s.len)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_overlapping_stalls_count() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let stalls = [
            Stall {
                from: t0,
                len: ms(500),
            },
            Stall {
                from: t0 + ms(1000),
                len: ms(200),
            },
            Stall {
                from: t0 + ms(3000),
                len: ms(900),
            },
        ];
        // Ends inside the first stall's window: only it overlaps.
        assert_eq!(
            worst_of(&stalls, t0 + ms(400), t0 + ms(600)),
            Some(stalls[0])
        );
        // Between the stalls: none.
        assert_eq!(worst_of(&stalls, t0 + ms(1300), t0 + ms(2900)), None);
        // Spans the last two: the longer wins.
        assert_eq!(
            worst_of(&stalls, t0 + ms(1100), t0 + ms(5000)),
            Some(stalls[2])
        );
    }
}
