//! Prints what the `linux` target costs: the per-case overhead of a fresh namespace + TUN
//! device, the latency of one injected segment to the kernel's answer, and the wall time of the
//! whole corpus at one or more concurrencies. A benchmark, not a test: it prints figures next
//! to the project's goals (5 ms a case, 10 us a step, 20 s the corpus) and asserts nothing
//! about time. Needs root (CAP_NET_ADMIN); otherwise it says so and exits 0.
//!
//! ```sh
//! cargo bench -p tcpconform --bench linux                        # all three parts
//! TCPCONFORM_BENCH=overhead,step cargo bench -p tcpconform --bench linux   # skip the corpus
//! TCPCONFORM_BENCH=corpus TCPCONFORM_BENCH_JOBS=64,16,1 cargo bench -p tcpconform --bench linux
//! ```
//!
//! `TCPCONFORM_BENCH` picks the parts (`overhead`, `step`, `corpus`; default all of them);
//! `TCPCONFORM_BENCH_JOBS` lists the corpus concurrencies, each a whole run (default 64, what
//! `run --target linux` takes without `-j`; `1` takes the sum of every instance's waits,
//! about ten minutes).
//!
//! - overhead: `LinuxTarget::open` + `close` back to back (namespace, TUN device, addresses,
//!   pinned sysctls, teardown), and the smallest real case (`closed/syn-to-closed-port`: SYN in,
//!   RST out, a sock_diag state query) through `run_instance`, end to end.
//! - step: inside one open target, `Target::inject` of a SYN to the `Target::receive` of the
//!   kernel's answer (RST from a closed port, SYN-ACK from a listener), which is what the runner
//!   pays per `send`/`expect` pair; and the same exchange on the bare TUN fd (`tun.rs`), with an
//!   ICMP echo as the floor: the least the kernel can do for a packet.
//! - corpus: every instance of `cases/` through the executor, with the linux baseline and the
//!   default 60 s `--max-case-time`, as `tcpconform run cases/ --target linux -j N` does: wall
//!   time, the instance time it packs (the sum of every instance's duration), the process's CPU
//!   time and so the share of instance time spent waiting, and whether every verdict is the
//!   first run's.

use etherparse::PacketBuilder;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tcpconform::case::load::load_paths;
use tcpconform::case::model::Case;
use tcpconform::packet::build::build;
use tcpconform::packet::observe::observe;
use tcpconform::packet::spec::{ChecksumSpec, IpFields, PacketSpec};
use tcpconform::run::baseline::Baseline;
use tcpconform::run::event::{IpVersion, Outcome, Reporter, RunEvent};
use tcpconform::run::executor::{execute, Instance, RunOptions};
use tcpconform::run::runner::run_instance;
use tcpconform::sys::netns;
use tcpconform::sys::tun::Tun;
use tcpconform::target::linux::{self, LinuxTarget, TARGET_V4, TARGET_V6, TESTER_V4, TESTER_V6};
use tcpconform::target::{AppCall, AppResult, Endpoints, Target, Unavailable};

/// Instances opened and closed, and minimal cases run, for the overhead figures.
const INSTANCES: usize = 300;
/// Exchanges timed for each step latency figure.
const STEPS: usize = 10_000;
/// Untimed exchanges first: caches, the reaper threads, the kernel's first-use paths.
const WARMUP: usize = 20;
/// How long a step waits for the kernel's answer before counting it as lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// Goals from issue 5.
const GOAL_CASE: Duration = Duration::from_millis(5);
const GOAL_STEP: Duration = Duration::from_micros(10);
/// What packetdrill needs per script, for comparison.
const PACKETDRILL_SCRIPT: Duration = Duration::from_millis(150);

const LISTEN_PORT: u16 = 8080;
const CLOSED_PORT: u16 = 8081;
/// First tester port of the step loops; each exchange uses the next one, so no answer can be
/// mistaken for one to an earlier exchange.
const FIRST_TESTER_PORT: u16 = 20_000;

const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root (CAP_NET_ADMIN)");
        return;
    }
    if let Some(why) = linux::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let parts = std::env::var("TCPCONFORM_BENCH").unwrap_or_else(|_| "overhead,step,corpus".into());
    let wanted = |part: &str| parts.split(',').any(|p| p.trim() == part);
    print_context();
    if wanted("overhead") {
        overhead();
    }
    if wanted("step") {
        step();
    }
    if wanted("corpus") {
        corpus();
    }
}

/// Cores, kernel and load: the figures mean little without them.
fn print_context() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    // SAFETY: utsname is plain old data; uname fills it and cannot fail with a valid pointer.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    let kernel = if unsafe { libc::uname(&mut uts) } == 0 {
        format!(
            "{} {} {}",
            field(&uts.sysname),
            field(&uts.release),
            field(&uts.machine)
        )
    } else {
        "unknown".into()
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("machine: {cores} cores ({cpu}), {kernel}");
    println!(
        "load average (1/5/15 min): {} - figures are wall-clock and move with it",
        load.join(" ")
    );
}

/// Median and p99 (nearest rank) of a sample.
struct Stats {
    median: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(sample: &mut [Duration]) -> Stats {
        sample.sort_unstable();
        let rank = |p: usize| {
            let i = (sample.len() * p).div_ceil(100).saturating_sub(1);
            sample.get(i).copied().unwrap_or_default()
        };
        Stats {
            median: rank(50),
            p99: rank(99),
            max: sample.last().copied().unwrap_or_default(),
        }
    }
}

/// `1.234 ms` or `5.6 us`, whichever reads better.
fn show(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.3} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} us", d.as_secs_f64() * 1e6)
    }
}

fn line(what: &str, s: &Stats, goal: Option<Duration>) {
    let verdict = match goal {
        Some(g) if s.median <= g => format!("  goal <= {} median: met", show(g)),
        Some(g) => format!("  goal <= {} median: MISSED", show(g)),
        None => String::new(),
    };
    println!(
        "  {what:<34} median {:>10}  p99 {:>10}  max {:>10}{verdict}",
        show(s.median),
        show(s.p99),
        show(s.max)
    );
}

fn ip_of(i: usize) -> IpVersion {
    if i % 2 == 0 {
        IpVersion::V4
    } else {
        IpVersion::V6
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases")
}

/// Per-case overhead: a bare instance, then the smallest real case, each `INSTANCES` times,
/// alternating IPv4 and IPv6. Instances follow each other with no pause, so device teardown
/// (handed to the background reaper in `tun.rs`) runs concurrently with the next opens: the
/// p99 shows that back-pressure, which a corpus run with longer cases feels less.
fn overhead() {
    println!(
        "\nper-case overhead on linux ({INSTANCES} instances each, IPv4 and IPv6 alternating)"
    );
    let mut t = LinuxTarget::new(Vec::new()).expect("a linux target on this thread");
    let none = BTreeMap::new();
    for i in 0..WARMUP {
        t.open(ip_of(i), &none).expect("open");
        t.close();
    }
    let (mut opens, mut closes, mut both) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..INSTANCES {
        let started = Instant::now();
        t.open(ip_of(i), &none).expect("open");
        let opened = Instant::now();
        t.close();
        let closed = Instant::now();
        opens.push(opened - started);
        closes.push(closed - opened);
        both.push(closed - started);
    }
    line("open", &Stats::of(&mut opens), None);
    line("close", &Stats::of(&mut closes), None);
    line("open+close", &Stats::of(&mut both), Some(GOAL_CASE));
    println!("  (back to back: devices wait for the tun.rs reaper threads, which the p99 shows)");

    let file = cases_dir().join("closed/syn-to-closed-port.yaml");
    let cases = load_paths(std::slice::from_ref(&file)).expect("the minimal case loads");
    let case = cases.first().expect("one case in the file");
    let mut total = Vec::new();
    let mut not_passed = 0usize;
    for i in 0..WARMUP + INSTANCES {
        let started = Instant::now();
        let result = run_instance(&mut t, case, ip_of(i), i as u64);
        let took = started.elapsed();
        if i < WARMUP {
            continue;
        }
        total.push(took);
        if !matches!(result.outcome, Outcome::Passed { .. }) {
            not_passed += 1;
        }
    }
    line(
        "minimal case end to end",
        &Stats::of(&mut total),
        Some(GOAL_CASE),
    );
    println!(
        "  ({}: SYN in, RST out, sock_diag state; {not_passed} of {INSTANCES} did not pass)",
        case.id
    );
    println!(
        "  packetdrill, for comparison: {} per script",
        show(PACKETDRILL_SCRIPT)
    );
}

/// A SYN (or RST, with `flags`) from the tester's `from` port to the target's `to` port.
fn segment(ep: Endpoints, from: u16, to: u16, seq: u32, flags: u16) -> Vec<u8> {
    build(&PacketSpec {
        src: SocketAddr::new(ep.tester, from),
        dst: SocketAddr::new(ep.target, to),
        seq,
        ack: 0,
        flags,
        window: 65_535,
        urgent: 0,
        reserved: 0,
        options: Vec::new(),
        payload: Vec::new(),
        data_offset: None,
        checksum: ChecksumSpec::Correct,
        ip: IpFields::default(),
        raw: None,
    })
}

fn endpoints(ip: IpVersion) -> Endpoints {
    match ip {
        IpVersion::V4 => Endpoints {
            target: IpAddr::V4(TARGET_V4),
            tester: IpAddr::V4(TESTER_V4),
        },
        IpVersion::V6 => Endpoints {
            target: IpAddr::V6(TARGET_V6),
            tester: IpAddr::V6(TESTER_V6),
        },
    }
}

/// What one timed exchange must get back: flags, and the tester port it is addressed to.
fn answers(packet: &[u8], flags: u16, tester_port: u16) -> Option<u32> {
    let o = observe(packet).ok()?;
    (o.flags & (SYN | RST | ACK) == flags && o.dst.port() == tester_port).then_some(o.seq)
}

/// Inject-to-response latency through the `Target` trait (what the runner pays per
/// send/expect pair), then on the bare TUN fd.
fn step() {
    println!("\ninject-to-response step latency ({STEPS} exchanges each, one open instance)");
    for ip in [IpVersion::V4, IpVersion::V6] {
        let mut t = LinuxTarget::new(Vec::new()).expect("a linux target on this thread");
        let ep = t.open(ip, &BTreeMap::new()).expect("open");
        let listen = AppCall::Listen {
            local: std::net::SocketAddr::new(ep.target, LISTEN_PORT),
        };
        assert_eq!(t.app(&listen).expect("listen"), AppResult::Ok);

        // SYN to a closed port: RST (RFC 9293 3.10.7.1), no state left behind.
        let mut rst = Vec::with_capacity(STEPS);
        let mut lost = 0usize;
        for i in 0..WARMUP + STEPS {
            let port = FIRST_TESTER_PORT + (i % 40_000) as u16;
            let syn = segment(ep, port, CLOSED_PORT, 1, SYN);
            let started = Instant::now();
            t.inject(&syn).expect("inject");
            let answer = t.receive(ANSWER_WITHIN).expect("receive");
            let took = started.elapsed();
            let ok = answer.is_some_and(|r| answers(&r.packet, RST | ACK, port).is_some());
            if i >= WARMUP {
                rst.push(took);
                lost += usize::from(!ok);
            }
        }
        line(
            &format!("{} SYN -> RST (Target trait)", ip.label()),
            &Stats::of(&mut rst),
            Some(GOAL_STEP),
        );
        report_lost(lost);

        // SYN to the listener: SYN-ACK (RFC 9293 3.10.7.2). An untimed RST then drops the
        // request (RFC 9293 3.10.7.4, SYN-RECEIVED), so the 16-deep backlog never fills and
        // no SYN cookies or drops skew the figures.
        let mut synack = Vec::with_capacity(STEPS);
        let mut lost = 0usize;
        for i in 0..WARMUP + STEPS {
            let port = FIRST_TESTER_PORT + (i % 40_000) as u16;
            let syn = segment(ep, port, LISTEN_PORT, 1, SYN);
            let started = Instant::now();
            t.inject(&syn).expect("inject");
            let answer = t.receive(ANSWER_WITHIN).expect("receive");
            let took = started.elapsed();
            let ok = answer.is_some_and(|r| answers(&r.packet, SYN | ACK, port).is_some());
            t.inject(&segment(ep, port, LISTEN_PORT, 2, RST))
                .expect("inject");
            if i >= WARMUP {
                synack.push(took);
                lost += usize::from(!ok);
            }
        }
        line(
            &format!("{} SYN -> SYN-ACK (Target trait)", ip.label()),
            &Stats::of(&mut synack),
            Some(GOAL_STEP),
        );
        report_lost(lost);
        t.close();
    }

    // The same on the bare device, in a namespace of a thread of its own (which ends with it).
    let bare = std::thread::spawn(bare_tun).join();
    match bare {
        Ok(Ok(())) => {}
        Ok(Err(e)) => println!("  bare TUN figures unavailable: {e}"),
        Err(_) => println!("  bare TUN figures unavailable: the thread panicked"),
    }
}

fn report_lost(lost: usize) {
    if lost > 0 {
        println!("    ({lost} exchanges got no or the wrong answer)");
    }
}

/// One write into the TUN fd, then reads (polling when nothing is there yet) until a packet
/// `wanted` accepts; the time between.
fn tun_exchange(
    tun: &Tun,
    buf: &mut [u8],
    packet: &[u8],
    wanted: impl Fn(&[u8]) -> bool,
) -> std::io::Result<(Duration, bool)> {
    let started = Instant::now();
    tun.send(packet)?;
    let deadline = started + ANSWER_WITHIN;
    loop {
        while let Some(n) = tun.recv(buf)? {
            if wanted(buf.get(..n).unwrap_or(&[])) {
                return Ok((started.elapsed(), true));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((started.elapsed(), false));
        }
        tun.poll(libc::POLLIN, left)?;
    }
}

/// Is `packet` an IPv4 ICMP echo reply (type 0)?
fn is_echo_reply(packet: &[u8]) -> bool {
    let ihl = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
    packet.first().map(|b| b >> 4) == Some(4)
        && packet.get(9) == Some(&1)
        && packet.get(ihl) == Some(&0)
}

/// The exchange without the `Target` layer: write(2) on the TUN fd, read(2) of the answer. The
/// floor is an ICMP echo, which the kernel answers from the IP layer without touching TCP.
fn bare_tun() -> Result<(), String> {
    netns::unshare().map_err(|e| e.to_string())?;
    let tun = Tun::create(TARGET_V4, 24, TARGET_V6, 64).map_err(|e| e.to_string())?;
    let ep = endpoints(IpVersion::V4);
    let mut buf = vec![0u8; 65_536];

    let mut echo = Vec::with_capacity(STEPS);
    let mut lost = 0usize;
    for i in 0..WARMUP + STEPS {
        let mut ping = Vec::new();
        PacketBuilder::ipv4(TESTER_V4.octets(), TARGET_V4.octets(), 64)
            .icmpv4_echo_request(1, i as u16)
            .write(&mut ping, &[0u8; 8])
            .map_err(|e| e.to_string())?;
        let (took, ok) =
            tun_exchange(&tun, &mut buf, &ping, is_echo_reply).map_err(|e| e.to_string())?;
        if i >= WARMUP {
            echo.push(took);
            lost += usize::from(!ok);
        }
    }
    line(
        "ipv4 ICMP echo (bare TUN, floor)",
        &Stats::of(&mut echo),
        None,
    );
    report_lost(lost);

    let mut rst = Vec::with_capacity(STEPS);
    let mut lost = 0usize;
    for i in 0..WARMUP + STEPS {
        let port = FIRST_TESTER_PORT + (i % 40_000) as u16;
        let syn = segment(ep, port, CLOSED_PORT, 1, SYN);
        let (took, ok) = tun_exchange(&tun, &mut buf, &syn, |p| {
            answers(p, RST | ACK, port).is_some()
        })
        .map_err(|e| e.to_string())?;
        if i >= WARMUP {
            rst.push(took);
            lost += usize::from(!ok);
        }
    }
    line(
        "ipv4 SYN -> RST (bare TUN)",
        &Stats::of(&mut rst),
        Some(GOAL_STEP),
    );
    report_lost(lost);
    Ok(())
}

/// Adds up how long the instances took, each on its own worker, and keeps each verdict.
#[derive(Default)]
struct InstanceTime {
    total: Duration,
    verdicts: BTreeMap<String, String>,
}

impl Reporter for InstanceTime {
    fn event(&mut self, ev: &RunEvent) -> std::io::Result<()> {
        if let RunEvent::CaseFinished(result) = ev {
            self.total += result.duration;
            self.verdicts
                .insert(result.display_name(), format!("{:?}", result.verdict));
        }
        Ok(())
    }
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The whole corpus as `tcpconform run cases/ --target linux -j N` runs it, once per N.
fn corpus() {
    let jobs_list: Vec<usize> = std::env::var("TCPCONFORM_BENCH_JOBS")
        .unwrap_or_else(|_| "64".into())
        .split(',')
        .filter_map(|j| j.trim().parse().ok())
        .filter(|&j| j > 0)
        .collect();
    let cases: Vec<Case> = load_paths(&[cases_dir()]).expect("the corpus loads");
    let mut instances: Vec<Instance<'_>> = cases
        .iter()
        .flat_map(|case| case.ip.iter().map(move |&ip| Instance { case, ip }))
        .collect();
    // The CLI's order: by id, then IP version (the executor starts the longest first).
    instances.sort_by(|a, b| (&a.case.id, a.ip).cmp(&(&b.case.id, b.ip)));
    println!(
        "\nwhole corpus on linux: {} cases, {} instances (IPv4 and IPv6), goal <= 20 s at the default",
        cases.len(),
        instances.len()
    );
    let mut first: Option<(usize, BTreeMap<String, String>)> = None;
    for jobs in jobs_list {
        let baseline = Baseline::load(&cases_dir().join("baselines/linux.yaml"))
            .expect("the linux baseline loads");
        let make = || match LinuxTarget::new(Vec::new()) {
            Ok(t) => Box::new(t) as Box<dyn Target>,
            Err(e) => Box::new(Unavailable::new("linux", e.0)) as Box<dyn Target>,
        };
        // `--max-case-time`'s default.
        let budget = Duration::from_secs(60);
        let mut time = InstanceTime::default();
        let cpu_before = cpu_time();
        let started = Instant::now();
        let summary = execute(
            &instances,
            &RunOptions {
                jobs,
                seed: 1,
                target_name: "linux",
                baseline: Some(&baseline),
                budget,
                strict: false,
                fail_fast: false,
            },
            &make,
            &mut [&mut time],
        )
        .expect("run");
        let wall = started.elapsed();
        let cpu = cpu_time().saturating_sub(cpu_before);
        let ran = instances.len().saturating_sub(summary.skipped).max(1);
        println!(
            "-j{jobs}: wall {:.1} s; {} passed, {} failed, {} known deviations, {} inconclusive, {} not applicable, {} skipped",
            wall.as_secs_f64(),
            summary.passed,
            summary.failed,
            summary.baseline,
            summary.inconclusive,
            summary.not_applicable,
            summary.skipped
        );
        let waiting = 1.0 - cpu.as_secs_f64() / time.total.as_secs_f64().max(1e-9);
        println!(
            "  {ran} instances ran: {:.1} s of instance time ({} each on average), packed {:.1}x into the wall time; \
             the harness used {:.1} s of CPU, so {:.1} % of instance time was waiting",
            time.total.as_secs_f64(),
            show(time.total / ran as u32),
            time.total.as_secs_f64() / wall.as_secs_f64().max(1e-9),
            cpu.as_secs_f64(),
            100.0 * waiting.max(0.0)
        );
        match &first {
            None => first = Some((jobs, time.verdicts)),
            Some((first_jobs, verdicts)) => {
                let differ: Vec<&String> = verdicts
                    .iter()
                    .filter(|(name, v)| time.verdicts.get(*name) != Some(v))
                    .map(|(name, _)| name)
                    .collect();
                if differ.is_empty() {
                    println!("  every verdict as at -j{first_jobs}");
                } else {
                    println!(
                        "  {} verdicts differ from -j{first_jobs}'s: {}",
                        differ.len(),
                        differ
                            .iter()
                            .take(10)
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
        if jobs == 1 {
            println!(
                "  packetdrill, for comparison: {ran} scripts x {} = {:.1} s on one worker",
                show(PACKETDRILL_SCRIPT),
                (PACKETDRILL_SCRIPT * ran as u32).as_secs_f64()
            );
        }
    }
}
