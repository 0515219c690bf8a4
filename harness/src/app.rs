//! What each subcommand does, between the CLI and the library. Exit codes: 0 all passed,
//! 1 some case failed, 2 usage or case-file errors; 130 / 143 when SIGINT / SIGTERM stopped
//! the command (set by `main`, see [`crate::interrupt`]).

use crate::case::load::load_paths;
use crate::case::model::Case;
use crate::cli::{
    CoverageArgs, IpChoice, RstProfile, RunArgs, SelectArgs, TargetKind, DEFAULT_PCAP_DIR, MAX_JOBS,
};
use crate::report::json::JsonReporter;
use crate::report::jsonl::JsonlReporter;
use crate::report::junit::JunitReporter;
use crate::report::pcap::PcapReporter;
use crate::report::terminal::TerminalReporter;
use crate::run::baseline::Baseline;
use crate::run::event::{IpVersion, Reporter};
use crate::run::executor::{execute, Instance, RunOptions};
use crate::run::select::{filter_matches, Partition};
use crate::target::reference::ReferenceTarget;
use crate::target::Target;
use std::io::Write as _;
use std::path::PathBuf;

pub const EXIT_PASSED: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

fn paths(select: &SelectArgs) -> Vec<PathBuf> {
    if select.paths.is_empty() {
        vec![PathBuf::from("cases")]
    } else {
        select.paths.clone()
    }
}

/// Loads the cases; on error prints every diagnostic and returns the exit code.
fn load(select: &SelectArgs) -> Result<Vec<Case>, u8> {
    let paths = paths(select);
    for p in &paths {
        if !p.exists() {
            eprintln!("error: {}: no such file or directory", p.display());
            return Err(EXIT_USAGE);
        }
    }
    match load_paths(&paths) {
        Ok(cases) => Ok(cases),
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!(
                "error: {} problem(s) in case files; nothing was run",
                diags.len()
            );
            Err(EXIT_USAGE)
        }
    }
}

/// The instances a selection runs: cases x IP versions, filtered, sorted, partitioned.
fn instances<'c>(cases: &'c [Case], select: &SelectArgs) -> Result<Vec<Instance<'c>>, u8> {
    let partition = match &select.partition {
        None => None,
        Some(s) => match Partition::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(EXIT_USAGE);
            }
        },
    };
    let mut out: Vec<Instance<'c>> = Vec::new();
    for case in cases {
        if let Some(f) = &select.filter {
            if !filter_matches(f, &case.id) {
                continue;
            }
        }
        for &ip in &case.ip {
            let wanted = match select.ip {
                IpChoice::V4 => ip == IpVersion::V4,
                IpChoice::V6 => ip == IpVersion::V6,
                IpChoice::Both => true,
            };
            if wanted {
                out.push(Instance { case, ip });
            }
        }
    }
    out.sort_by(|a, b| (&a.case.id, a.ip).cmp(&(&b.case.id, b.ip)));
    if let Some(p) = partition {
        out = out
            .into_iter()
            .enumerate()
            .filter(|(i, _)| p.contains(*i))
            .map(|(_, x)| x)
            .collect();
    }
    Ok(out)
}

/// Checks every report path before anything runs (see [`crate::report::check_report_file`]):
/// a bad path is a usage error now, not after the whole run.
fn check_report_paths(args: &RunArgs) -> Result<(), u8> {
    let files = [
        ("--junit", &args.junit),
        ("--json", &args.json),
        ("--jsonl", &args.jsonl),
    ];
    let mut problems = Vec::new();
    for (flag, path) in files {
        if let Some(p) = path {
            if let Err(why) = crate::report::check_report_file(p) {
                problems.push(format!("{flag} {}: {why}", p.display()));
            }
        }
    }
    let (dir, named) = match &args.pcap_dir {
        Some(d) => (d.clone(), true),
        None => (PathBuf::from(DEFAULT_PCAP_DIR), false),
    };
    if let Err(why) = crate::report::check_report_dir(&dir, !named) {
        problems.push(format!("--pcap-dir {}: {why}", dir.display()));
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(EXIT_USAGE)
    }
}

pub fn run(args: &RunArgs) -> u8 {
    if let Err(code) = check_report_paths(args) {
        return code;
    }
    let cases = match load(&args.select) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let instances = match instances(&cases, &args.select) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let mut jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS))
    });
    let seed: u64 = rand::random();
    let make_target: Box<dyn Fn() -> Box<dyn Target> + Sync> = match args.target {
        TargetKind::Reference => {
            let config = reference_config(args.reference_profile);
            Box::new(move || Box::new(ReferenceTarget::new(config.clone())) as Box<dyn Target>)
        }
        TargetKind::Linux => {
            if let Some(why) = crate::target::linux::unavailable() {
                eprintln!("error: --target linux is not available here: {why}");
                return EXIT_USAGE;
            }
            crate::target::sweep::sweep_and_report();
            Box::new(|| match crate::target::linux::LinuxTarget::new() {
                Ok(t) => Box::new(t) as Box<dyn Target>,
                Err(e) => {
                    Box::new(crate::target::Unavailable::new("linux", e.0)) as Box<dyn Target>
                }
            })
        }
        TargetKind::Link => {
            let config = match crate::target::link::LinkConfig::from_args(&args.link) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            };
            crate::target::sweep::sweep_and_report();
            // One wire, one agent session: instances run one after the other.
            jobs = 1;
            Box::new(move || {
                Box::new(crate::target::link::LinkTarget::new(config.clone())) as Box<dyn Target>
            })
        }
    };
    let target_name = match args.target {
        TargetKind::Reference => "reference",
        TargetKind::Link => "link",
        TargetKind::Linux => "linux",
    };
    let baseline = match load_baseline(args, target_name) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let mut terminal = TerminalReporter::stdout(args.verbose);
    let mut junit = args.junit.as_ref().map(JunitReporter::new);
    let mut json = args.json.as_ref().map(JsonReporter::new);
    let mut jsonl = match args.jsonl.as_deref().map(JsonlReporter::create).transpose() {
        Ok(j) => j,
        Err(e) => {
            let path = args.jsonl.as_deref().unwrap_or(std::path::Path::new(""));
            eprintln!("error: --jsonl {}: {e}", path.display());
            return EXIT_USAGE;
        }
    };
    let mut pcap = match &args.pcap_dir {
        Some(dir) => PcapReporter::new(dir.clone()),
        None => PcapReporter::new(DEFAULT_PCAP_DIR).create_parents(true),
    }
    .all(args.pcap_all);
    let mut reporters: Vec<&mut dyn Reporter> = Vec::new();
    if let Some(j) = junit.as_mut() {
        reporters.push(j);
    }
    if let Some(j) = json.as_mut() {
        reporters.push(j);
    }
    if let Some(j) = jsonl.as_mut() {
        reporters.push(j);
    }
    reporters.push(&mut pcap);
    // The terminal goes last so that its closing line is the last thing printed.
    reporters.push(&mut terminal);
    let opts = RunOptions {
        jobs,
        seed,
        target_name,
        baseline: baseline.as_ref(),
        budget: args.max_case_time,
    };
    let result = execute(&instances, &opts, make_target.as_ref(), &mut reporters);
    if let Some(sig) = crate::interrupt::signal() {
        // The exit status (128 + sig) is `main`'s; here only what was left undone.
        let done = result
            .as_ref()
            .map_or(0, |s| s.passed + s.failed + s.skipped + s.baseline);
        eprintln!(
            "interrupted by {}: {} of {} instance(s) not run",
            signal_name(sig),
            instances.len().saturating_sub(done),
            instances.len()
        );
        if let Err(e) = result {
            eprintln!("error: {e}");
        }
        return EXIT_FAILED;
    }
    // Stale entries are only meaningful when everything ran.
    let complete = args.select.filter.is_none() && args.select.partition.is_none();
    if let (Some(b), true) = (&baseline, complete) {
        let stale = b.stale();
        if !stale.is_empty() {
            eprintln!(
                "note: {} baseline entries matched no failure (fixed, or the case changed):",
                stale.len()
            );
            for e in stale {
                eprintln!("  {} ({:?}): {}", e.case, e.ip, e.reason);
            }
        }
    }
    match result {
        Ok(summary) if summary.failed == 0 => EXIT_PASSED,
        Ok(_) => EXIT_FAILED,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

fn signal_name(sig: libc::c_int) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        other => format!("signal {other}"),
    }
}

/// `tcpconform sweep`: remove the named namespaces of tcpconform processes that are gone.
pub fn sweep() -> u8 {
    let swept = crate::target::sweep::sweep();
    for name in &swept.removed {
        println!("removed {}/{name}", crate::target::sweep::NETNS_DIR);
    }
    for (name, why) in &swept.failed {
        eprintln!("error: cannot remove {name}: {why}");
    }
    println!("{} stale namespace(s) removed", swept.removed.len());
    if swept.failed.is_empty() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    }
}

/// The target's baseline of known deviations: `--baseline FILE`, else
/// `cases/baselines/<target>.yaml` if present, unless `--no-baseline`.
fn load_baseline(args: &RunArgs, target: &str) -> Result<Option<Baseline>, u8> {
    if args.no_baseline {
        return Ok(None);
    }
    let path = match &args.baseline {
        Some(p) => p.clone(),
        None => {
            let default = PathBuf::from("cases/baselines").join(format!("{target}.yaml"));
            if !default.exists() {
                return Ok(None);
            }
            default
        }
    };
    match Baseline::load(&path) {
        Ok(b) => {
            eprintln!(
                "baseline: {} ({} known deviations)",
                path.display(),
                b.entries().len()
            );
            Ok(Some(b))
        }
        Err(e) => {
            eprintln!("error: baseline {}: {e}", path.display());
            Err(EXIT_USAGE)
        }
    }
}

/// The reference stack as the conformance runs use it.
pub fn reference_config(profile: RstProfile) -> reference_stack::Config {
    reference_stack::Config {
        rst_policy: match profile {
            RstProfile::Rfc5961 => reference_stack::RstPolicy::Rfc5961,
            RstProfile::Rfc793 => reference_stack::RstPolicy::Rfc793,
        },
        ..ReferenceTarget::default_config()
    }
}

pub fn list(select: &SelectArgs) -> u8 {
    let cases = match load(select) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let instances = match instances(&cases, select) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    for i in &instances {
        if writeln!(out, "{} [{}]  {}", i.case.id, i.ip.label(), i.case.title).is_err() {
            return EXIT_PASSED;
        }
    }
    let _ = writeln!(out, "{} case instance(s)", instances.len());
    EXIT_PASSED
}

pub fn check(select: &SelectArgs) -> u8 {
    match load(select) {
        Ok(cases) => {
            println!("{} case(s) OK", cases.len());
            EXIT_PASSED
        }
        Err(code) => code,
    }
}

pub fn schema() -> u8 {
    // A closed pipe (`tcpconform schema | head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{}", crate::case::schema::json_schema());
    EXIT_PASSED
}

pub fn coverage(args: &CoverageArgs) -> u8 {
    let select = SelectArgs {
        paths: args.paths.clone(),
        filter: None,
        ip: IpChoice::Both,
        partition: None,
    };
    let cases = match load(&select) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cov = crate::coverage::measure(&cases);
    let table = cov.table();
    print!("{table}");
    let written = std::fs::create_dir_all(&args.out)
        .and_then(|()| std::fs::write(args.out.join("coverage.html"), cov.html()))
        .and_then(|()| std::fs::write(args.out.join("coverage.txt"), &table));
    match written {
        Ok(()) => {
            println!(
                "wrote {} and coverage.txt",
                args.out.join("coverage.html").display()
            );
            EXIT_PASSED
        }
        Err(e) => {
            eprintln!("error: writing coverage under {}: {e}", args.out.display());
            EXIT_USAGE
        }
    }
}
