//! Statistical and load steps: `isn_sample` (RFC 9293 3.4.1) and `syn_flood` (RFC 9293
//! 3.10.7.2, RFC 4987).
//!
//! The first half is pure math on series of ISNs ([`judge_fresh`], [`judge_clock`]), unit
//! tested with synthetic generators. The second half drives a [`Target`] for many handshakes
//! at once; the runner hands it the pieces of its state it needs ([`Io`]) and turns an `Err`
//! into a step failure.

use super::conn::ConnView;
use super::event::{Direction, TraceEntry};
use crate::case::model::{FloodSources, IsnSample, SynFlood, SynReply};
use crate::packet::build::build;
use crate::packet::observe::observe;
use crate::packet::render::render;
use crate::packet::spec::{ChecksumSpec, IpFields, Observed, OptionSpec, PacketSpec};
use crate::target::Target;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

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

// ---------------------------------------------------------------------------------------------
// Driving the target.
// ---------------------------------------------------------------------------------------------

/// The parts of the runner's state a statistical step uses.
pub struct Io<'a> {
    pub target: &'a mut dyn Target,
    pub conn: &'a mut ConnView,
    /// The case's tester address and port.
    pub tester: SocketAddr,
    /// The target's listening address and port.
    pub target_addr: SocketAddr,
    pub trace: &'a mut Vec<TraceEntry>,
    /// The IPv4 identification of the instance's next packet, counted per instance so that a
    /// seed replays a run's packets exactly.
    pub ident: &'a mut u16,
}

/// How long to wait for the SYN-ACK of one sample (doubled for each SYN sent again).
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// SYNs sent per sample before the sample fails.
const SYN_TRIES: u32 = 3;

/// Dynamic port range (RFC 6335 6): tester ports of samples and floods are drawn from it.
const DYNAMIC_FIRST: u16 = 49_152;

impl Io<'_> {
    /// One trace entry, stamped with the target's clock (the runner's notes go through here).
    pub(crate) fn note(&mut self, direction: Direction, text: String, packet: Option<Vec<u8>>) {
        let at = self.target.now();
        self.trace.push(TraceEntry {
            at,
            direction,
            text,
            packet,
        });
    }

    fn inject(&mut self, spec: &PacketSpec, record: bool) -> Result<(), String> {
        let mut spec = spec.clone();
        if spec.ip.ident.is_none() {
            spec.ip.ident = Some(*self.ident);
            *self.ident = self.ident.wrapping_add(1);
        }
        let bytes = build(&spec);
        if record {
            let text = observe(&bytes)
                .map(|o| render(&o, None))
                .unwrap_or_else(|e| format!("undecodable: {e}"));
            self.note(Direction::Sent, text, Some(bytes.clone()));
        }
        self.target
            .inject(&bytes)
            .map_err(|e| format!("target error: {e}"))
    }

    /// The next decodable packet from the target within `within` (undecodable ones skipped).
    fn receive(&mut self, within: Duration) -> Result<Option<(Duration, Observed)>, String> {
        let deadline = self.target.now() + within;
        loop {
            let left = deadline.saturating_sub(self.target.now());
            let Some(r) = self
                .target
                .receive(left)
                .map_err(|e| format!("target error: {e}"))?
            else {
                return Ok(None);
            };
            if let Ok(o) = observe(&r.packet) {
                return Ok(Some((r.at, o)));
            }
        }
    }

    fn record_received(&mut self, o: &Observed) {
        self.note(Direction::Received, render(o, None), Some(o.raw.clone()));
    }
}

fn segment(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: u16) -> PacketSpec {
    PacketSpec {
        src,
        dst,
        seq,
        ack,
        flags,
        window: 65535,
        urgent: 0,
        reserved: 0,
        // RFC 9293 3.7.1: a SYN carries MSS (MUST-14), other segments never (MUST-65); no
        // other option, to keep samples alike.
        options: if flags & SYN != 0 {
            vec![OptionSpec::Mss(1460)]
        } else {
            Vec::new()
        },
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    }
}

/// The `i`-th port after `own` in the dynamic range, never `own` itself.
fn nth_port(own: u16, i: u32) -> u16 {
    let span = u32::from(u16::MAX - DYNAMIC_FIRST); // 16383 ports other than `own`
    let base = u32::from(own.max(DYNAMIC_FIRST) - DYNAMIC_FIRST);
    let off = (base + 1 + i % span) % (span + 1);
    DYNAMIC_FIRST + off as u16
}

/// Runs an `isn_sample` step.
pub fn isn_sample(io: &mut Io<'_>, s: &IsnSample) -> Result<(), String> {
    let tester_isn = io.conn.tester_isn;
    let mut samples: Vec<(Duration, u32)> = Vec::with_capacity(s.count as usize);
    for i in 0..s.count {
        if i > 0 && !s.gap.is_zero() {
            io.target
                .wait(s.gap)
                .map_err(|e| format!("target error: {e}"))?;
        }
        let port = if s.same_tuple {
            io.tester.port()
        } else {
            io.target
                .fresh_port()
                .unwrap_or_else(|| nth_port(io.tester.port(), i))
        };
        let src = SocketAddr::new(io.tester.ip(), port);
        // A distinct sequence number per sample tells this sample's SYN-ACK from a late
        // retransmission for an earlier one on the same tuple.
        let seq = tester_isn.wrapping_add(i.wrapping_mul(0x0101_0101));
        let record = i < 2;
        // A SYN lost on the way (a busy link, a full device queue) is resent, as TCP resends
        // an unanswered SYN (RFC 6298 5): up to SYN_TRIES, each wait twice the last.
        let mut answer = None;
        // Segments on this sample's tuple that did not answer its SYN (an ACK from a
        // connection the target still holds there, say): the failure shows the last one.
        let mut unanswering = (0usize, None);
        let mut sent_at = io.target.now();
        let mut wait = ANSWER_WITHIN;
        for attempt in 0..SYN_TRIES {
            if attempt > 0 {
                io.note(
                    Direction::Note,
                    format!(
                        "isn_sample {}: no answer within {:?}, SYN sent again",
                        i + 1,
                        wait / 2
                    ),
                    None,
                );
            }
            sent_at = io.target.now();
            io.inject(&segment(src, io.target_addr, seq, 0, SYN), record)?;
            answer = loop {
                match io.receive(wait)? {
                    None => break None,
                    Some((_, o))
                        if o.dst == src
                            && o.src == io.target_addr
                            && (o.flags & RST != 0
                                || (o.flags & SYN != 0 && o.ack == seq.wrapping_add(1))) =>
                    {
                        break Some(o)
                    }
                    // Answers to earlier samples (SYN-ACK retransmissions) are skipped, and so
                    // is an ACK of this sample's SYN sent again (RFC 5961 4.2's challenge ACK
                    // from SYN-RECEIVED: the SYN-ACK was lost; its retransmission follows).
                    Some((_, o)) => {
                        if o.dst == src && o.src == io.target_addr {
                            unanswering = (unanswering.0 + 1, Some(render(&o, None)));
                        }
                        continue;
                    }
                }
            };
            if answer.is_some() {
                break;
            }
            wait *= 2;
        }
        let Some(o) = answer else {
            let seen = match unanswering {
                (0, _) => "nothing came back on its 4-tuple".to_string(),
                (n, Some(last)) => {
                    format!(
                        "on its 4-tuple came {n} segment(s) that do not answer it, the last {last}"
                    )
                }
                (n, None) => format!("on its 4-tuple came {n} segment(s) that do not answer it"),
            };
            return Err(format!(
                "isn_sample {}: no SYN-ACK acknowledging the SYN from port {port} and no reset, \
                 SYN sent {SYN_TRIES} times; {seen}",
                i + 1
            ));
        };
        if record {
            io.record_received(&o);
        }
        if o.flags & (SYN | ACK | RST) != SYN | ACK {
            io.record_received(&o);
            return Err(format!(
                "isn_sample {}: expected a SYN-ACK with ack {} (RFC 9293 3.10.7.2, LI-4), got {}",
                i + 1,
                seq.wrapping_add(1),
                render(&o, None)
            ));
        }
        samples.push((sent_at, o.seq));
        // RS-2: in SYN-RECEIVED an RST is acceptable if its sequence number is in the window,
        // i.e. RCV.NXT = ISS_tester + 1; a passively opened connection returns to LISTEN.
        io.inject(
            &segment(src, io.target_addr, seq.wrapping_add(1), 0, RST),
            record,
        )?;
    }
    if s.same_tuple {
        let report = judge_clock(&samples);
        io.note(Direction::Note, format!("isn_sample: {report}"), None);
        if report.passed() {
            Ok(())
        } else {
            Err(format!(
                "ISNs do not follow a clock (RFC 9293 3.4.1, MUST-8): {}; {report}",
                report.problems.join("; ")
            ))
        }
    } else {
        let isns: Vec<u32> = samples.iter().map(|(_, isn)| *isn).collect();
        let report = judge_fresh(&isns);
        io.note(Direction::Note, format!("isn_sample: {report}"), None);
        if report.passed() {
            Ok(())
        } else {
            Err(format!(
                "ISNs are predictable (RFC 9293 3.4.1, MUST-9, SHLD-1): {}; {report}",
                report.problems.join("; ")
            ))
        }
    }
}

/// splitmix64, seeded per instance so a run is repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A random source in the documentation ranges of RFC 5737 (198.51.100.0/24) and RFC 3849
/// (2001:db8:ffff::/48, a part of 2001:db8::/32 the tester never uses), with a dynamic port.
fn spoofed_source(rng: &mut Rng, v6: bool) -> SocketAddr {
    let r = rng.next();
    let port = DYNAMIC_FIRST + (r >> 48) as u16 % (u16::MAX - DYNAMIC_FIRST);
    let ip = if v6 {
        let host = rng.next();
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0x0db8,
            0xffff,
            (r >> 16) as u16,
            (host >> 48) as u16,
            (host >> 32) as u16,
            (host >> 16) as u16,
            host as u16,
        ))
    } else {
        // .1 to .254: never the network or broadcast address (MUST-63 drops those).
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + (r % 254) as u8))
    };
    SocketAddr::new(ip, port)
}

/// Counts of a `syn_flood`.
#[derive(Debug, Default)]
struct FloodTally {
    syn_ack: u32,
    rst: u32,
    /// SYN-ACKs seen again for a SYN already answered (the target keeps state for it).
    retransmitted: u32,
    /// Packets to nobody we sent from.
    stray: u32,
}

/// Runs a `syn_flood` step.
pub fn syn_flood(io: &mut Io<'_>, f: &SynFlood) -> Result<(), String> {
    let v6 = io.tester.is_ipv6();
    let mut rng = Rng(u64::from(io.conn.tester_isn) ^ 0x5f3c_0d1e_a5e5_0000);
    // Each SYN's source and sequence number, in order, and the first answer to it.
    let mut sources: Vec<(SocketAddr, u32)> = Vec::with_capacity(f.count as usize);
    let mut index: BTreeMap<SocketAddr, usize> = BTreeMap::new();
    let mut answers: Vec<Option<Observed>> = Vec::with_capacity(f.count as usize);
    let mut tally = FloodTally::default();
    for i in 0..f.count {
        // A repeated source would be a retransmission, not a new SYN: draw again (the IPv4
        // range holds 254 x 16383 sources, so a few draws always suffice).
        let mut src = io.tester;
        for _ in 0..16 {
            src = match f.sources {
                FloodSources::Spoofed => spoofed_source(&mut rng, v6),
                FloodSources::Tester => SocketAddr::new(
                    io.tester.ip(),
                    io.target
                        .fresh_port()
                        .unwrap_or_else(|| nth_port(io.tester.port(), i)),
                ),
            };
            if src != io.tester && !index.contains_key(&src) {
                break;
            }
        }
        if src == io.tester || index.contains_key(&src) {
            continue;
        }
        let seq = rng.next() as u32;
        index.insert(src, sources.len());
        sources.push((src, seq));
        answers.push(None);
        io.inject(&segment(src, io.target_addr, seq, 0, SYN), i < 2)?;
        // Read as we go: a real interface's queue towards the tester is short.
        while let Some((_, o)) = io.receive(Duration::ZERO)? {
            classify(&o, &index, &sources, &mut answers, &mut tally);
        }
    }
    while let Some((_, o)) = io.receive(f.drain)? {
        classify(&o, &index, &sources, &mut answers, &mut tally);
    }
    let sent = sources.len();
    let silent = answers.iter().filter(|a| a.is_none()).count();
    let cookies = if silent == 0 && sent > 1024 && tally.retransmitted == 0 {
        "likely SYN cookies or an unusually large backlog: every SYN answered, no SYN-ACK retransmitted"
    } else if silent > 0 {
        "no SYN cookies: SYNs beyond the backlog were dropped"
    } else {
        "every SYN answered (too few SYNs to tell SYN cookies from a backlog)"
    };
    let summary = format!(
        "syn_flood: {sent} SYNs from {}: {} SYN-ACK, {} RST, {silent} unanswered, {} SYN-ACK retransmissions, {} other packets; {cookies}",
        match f.sources {
            FloodSources::Spoofed => "spoofed sources",
            FloodSources::Tester => "tester ports",
        },
        tally.syn_ack,
        tally.rst,
        tally.retransmitted,
        tally.stray
    );
    io.note(Direction::Note, summary, None);

    // The verdict on each SYN: answered_first, then `others`.
    for (i, answer) in answers.iter().enumerate() {
        let reply = match answer {
            None => SynReply::Silence,
            Some(o) if o.flags & RST != 0 => SynReply::Rst,
            Some(_) => SynReply::SynAck,
        };
        let must_answer = i < f.answered_first as usize;
        let ok = if must_answer {
            reply == SynReply::SynAck
        } else {
            f.others.contains(&reply)
        };
        if !ok {
            let allowed = if must_answer {
                "syn_ack (answered_first)".to_string()
            } else {
                f.others
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            let got = match answer {
                Some(o) => render(o, None),
                None => "nothing".into(),
            };
            let src = sources
                .get(i)
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            return Err(format!(
                "syn_flood SYN {} of {sent} (from {src}): expected {allowed}, got {got} (RFC 9293 3.10.7.2: a SYN to a listening port is answered with a SYN-ACK; when out of resources it may be dropped, never refused with RST)",
                i + 1
            ));
        }
    }

    if let Some(limit) = f.connect_within {
        legit_handshake(io, limit, &index)?;
    }

    // Clean up: reset every half-open connection the flood created (RS-2: <SEQ=ISS+1><RST>),
    // so that the following steps meet a quiet target. With SYN cookies there is nothing to
    // reset and the RST meets the listener, which ignores it (LI-1).
    for ((src, seq), answer) in sources.iter().zip(&answers) {
        if matches!(answer, Some(o) if o.flags & RST == 0) {
            io.inject(
                &segment(*src, io.target_addr, seq.wrapping_add(1), 0, RST),
                false,
            )?;
        }
    }
    // Flush what the target queued towards the flood sources before the resets.
    while let Some((_, o)) = io.receive(Duration::ZERO)? {
        if o.dst == io.tester {
            io.record_received(&o);
            io.note(
                Direction::Note,
                "syn_flood: duplicate segment to the tester discarded".into(),
                None,
            );
        }
    }
    Ok(())
}

fn classify(
    o: &Observed,
    index: &BTreeMap<SocketAddr, usize>,
    sources: &[(SocketAddr, u32)],
    answers: &mut [Option<Observed>],
    tally: &mut FloodTally,
) {
    let Some(&i) = index.get(&o.dst) else {
        tally.stray += 1;
        return;
    };
    let Some((_, seq)) = sources.get(i) else {
        tally.stray += 1;
        return;
    };
    let for_syn = o.ack == seq.wrapping_add(1) && o.flags & ACK != 0;
    let Some(slot) = answers.get_mut(i) else {
        return;
    };
    match slot {
        Some(_) => tally.retransmitted += u32::from(o.flags & SYN != 0),
        None if for_syn || o.flags & RST != 0 => {
            if o.flags & RST != 0 {
                tally.rst += 1;
            } else {
                tally.syn_ack += 1;
            }
            *slot = Some(o.clone());
        }
        None => tally.stray += 1,
    }
}

/// After a flood: the tester's own SYN, retransmitted with RFC 6298 backoff (1 s initial RTO,
/// doubling, at most 60 s, RFC 6298 2.1 and 2.5), must get a SYN-ACK within `limit`. Packets
/// to the flood's sources are discarded meanwhile. The SYN and SYN-ACK go into the trace and
/// the connection view, so the case continues with `send: { flags: A, ack: 1 }`.
fn legit_handshake(
    io: &mut Io<'_>,
    limit: Duration,
    flood: &BTreeMap<SocketAddr, usize>,
) -> Result<(), String> {
    let start = io.target.now();
    let isn = io.conn.tester_isn;
    let syn = segment(io.tester, io.target_addr, isn, 0, SYN);
    let mut rto = Duration::from_secs(1);
    let mut tries = 0u32;
    loop {
        let elapsed = io.target.now().saturating_sub(start);
        if elapsed >= limit {
            return Err(format!(
                "after the flood, {tries} SYNs from the tester got no SYN-ACK within {limit:?} (the target never recovered from the flood; RFC 4987)"
            ));
        }
        io.inject(&syn, true)?;
        io.conn.on_sent(&syn);
        tries += 1;
        let deadline = io.target.now() + rto.min(limit - elapsed);
        while let Some(left) = deadline
            .checked_sub(io.target.now())
            .filter(|d| !d.is_zero())
        {
            let Some((_, o)) = io.receive(left)? else {
                break;
            };
            if o.dst != io.tester {
                if !flood.contains_key(&o.dst) {
                    io.record_received(&o);
                }
                continue;
            }
            io.record_received(&o);
            if o.flags & (SYN | ACK | RST) == SYN | ACK && o.ack == isn.wrapping_add(1) {
                io.conn.on_received(&o);
                io.note(
                    Direction::Note,
                    format!(
                        "syn_flood: the tester's SYN was answered after {:?} ({tries} SYNs sent)",
                        io.target.now().saturating_sub(start)
                    ),
                    None,
                );
                return Ok(());
            }
            return Err(format!(
                "after the flood, the tester's SYN was answered with {} instead of a SYN-ACK with ack {}",
                render(&o, None),
                isn.wrapping_add(1)
            ));
        }
        rto = (rto * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic uniform 32-bit source.
    fn uniform(seed: u64, n: usize) -> Vec<u32> {
        let mut r = Rng(seed);
        (0..n).map(|_| r.next() as u32).collect()
    }

    /// RFC 6528: `M + F(tuple)`, M a 4 us clock, F a keyed hash of the tuple (here the
    /// source port), connections opened ~100 us apart.
    fn rfc6528(n: usize) -> Vec<u32> {
        let mut r = Rng(99);
        let mut t_us = 5_000_000u64;
        (0..n)
            .map(|i| {
                t_us += 50 + r.next() % 100;
                let mut f = Rng(0xfeed ^ (49_152 + i as u64));
                ((t_us / 4) as u32).wrapping_add(f.next() as u32)
            })
            .collect()
    }

    /// ISN = t / 4us, no hash, connections opened 50..150 us apart.
    fn time_only(n: usize) -> Vec<u32> {
        let mut r = Rng(5);
        let mut t_us = 1_000_000u64;
        (0..n)
            .map(|_| {
                t_us += 50 + r.next() % 100;
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

    #[test]
    fn ports_stay_in_range_and_skip_own() {
        for own in [49_152u16, 50_000, 65_535] {
            for i in [0u32, 1, 16_382, 16_383, 40_000] {
                let p = nth_port(own, i);
                assert!(p >= DYNAMIC_FIRST && p != own, "own {own} i {i} -> {p}");
            }
        }
        assert_ne!(nth_port(50_000, 0), nth_port(50_000, 1));
        let mut r = Rng(1);
        for _ in 0..1000 {
            match spoofed_source(&mut r, false).ip() {
                IpAddr::V4(a) => {
                    assert_eq!(&a.octets()[..3], &[198, 51, 100]);
                    assert!(a.octets()[3] != 0 && a.octets()[3] != 255);
                }
                IpAddr::V6(_) => panic!("v4 expected"),
            }
            match spoofed_source(&mut r, true).ip() {
                IpAddr::V6(a) => assert_eq!(&a.segments()[..3], &[0x2001, 0xdb8, 0xffff]),
                IpAddr::V4(_) => panic!("v6 expected"),
            }
        }
    }
}
