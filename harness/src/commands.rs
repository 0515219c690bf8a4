//! What each subcommand does, between the CLI and the library; exit statuses in [`crate::exit`].

use crate::case::load::case_root;
use crate::case::load::load_paths;
use crate::case::model::Case;
use crate::cli::{
    CoverageArgs, IpChoice, RunArgs, SelectArgs, TargetKind, DEFAULT_PCAP_DIR, MAX_JOBS,
};
use crate::exit;
use crate::report::json::JsonReporter;
use crate::report::jsonl::JsonlReporter;
use crate::report::junit::JunitReporter;
use crate::report::pcap::PcapReporter;
use crate::report::terminal::TerminalReporter;
use crate::run::baseline::{Baseline, Entry};
use crate::run::event::{IpVersion, Reporter};
use crate::run::executor::{execute, Instance, RunOptions};
use crate::run::runner::minimum_duration;
use crate::run::select::{filter_matches, Partition};
use crate::target::reference::ReferenceTarget;
use crate::target::Target;
use std::io::Write as _;
use std::path::PathBuf;

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
            return Err(exit::USAGE);
        }
    }
    // packetdrill scripts go through the importer (`import-pkt`).
    let (pkts, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|p| crate::import::is_pkt(p));
    let mut cases = Vec::new();
    if !paths.is_empty() {
        match load_paths(&paths) {
            Ok(c) => cases = c,
            Err(diags) => {
                for d in &diags {
                    eprintln!("{d}");
                }
                eprintln!(
                    "error: {} problem(s) in case files; nothing was run",
                    diags.len()
                );
                return Err(exit::USAGE);
            }
        }
    }
    if !pkts.is_empty() {
        match crate::import::load_pkts(&pkts) {
            Ok(mut c) => cases.append(&mut c),
            Err(errors) => {
                for e in &errors {
                    eprint!("{e}");
                    if !e.ends_with('\n') {
                        eprintln!();
                    }
                }
                eprintln!("error: packetdrill scripts that do not import fully; nothing was run");
                return Err(exit::USAGE);
            }
        }
    }
    Ok(cases)
}

/// The instances a selection runs: cases x IP versions, filtered, sorted, partitioned.
fn instances<'c>(cases: &'c [Case], select: &SelectArgs) -> Result<Vec<Instance<'c>>, u8> {
    let partition = match &select.partition {
        None => None,
        Some(s) => match Partition::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(exit::USAGE);
            }
        },
    };
    let mut out: Vec<Instance<'c>> = Vec::new();
    for case in cases {
        let wanted =
            select.filter.is_empty() || select.filter.iter().any(|f| filter_matches(f, &case.id));
        let excluded = select.exclude.iter().any(|f| filter_matches(f, &case.id));
        let tagged = select.tag.is_empty() || select.tag.iter().any(|t| case.tags.contains(t));
        if !wanted || excluded || !tagged {
            continue;
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
        Err(exit::USAGE)
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
    // The slow tier: what the time budget leaves out, with no budget, every instance at once.
    let (instances, budget) = if args.slow && args.target != TargetKind::Reference {
        let slow: Vec<Instance<'_>> = instances
            .into_iter()
            .filter(|i| minimum_duration(&i.case.steps) > args.max_case_time)
            .collect();
        (slow, std::time::Duration::MAX)
    } else {
        (instances, args.max_case_time)
    };
    if instances.is_empty() {
        // A typo in --filter must not pass CI as a clean run.
        eprintln!(
            "error: no case instance selected ({} case(s) loaded; check --filter, --exclude, \
             --tag, --ip, --partition)",
            cases.len()
        );
        return exit::USAGE;
    }
    // Instances in flight. The reference computes: one per core. A real clock mostly
    // waits, so many instances share the cores: on Linux, 64 namespaces at once; a foreign
    // stack over `link` gets fewer (a small stack may not keep up with more); the slow tier
    // starts all of its instances at once.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut jobs = args.jobs.unwrap_or(match args.target {
        TargetKind::Reference => cores,
        _ if args.slow => instances.len().min(MAX_JOBS),
        TargetKind::Linux => 64,
        TargetKind::Link => 8,
    });
    // Printed in every run and written to the reports: `--seed` repeats the run's ISNs and
    // ports, so a run on the reference replays exactly.
    let seed: u64 = args.seed.unwrap_or_else(rand::random);
    eprintln!("seed: {seed:#018x} (--seed {seed:#x} repeats this run)");
    if !args.sysctls.is_empty() && args.target != TargetKind::Linux {
        eprintln!(
            "error: --sysctl sets sysctls in the case namespaces of --target linux; {:?} has none",
            args.target
        );
        return exit::USAGE;
    }
    let make_target: Box<dyn Fn() -> Box<dyn Target> + Sync> = match args.target {
        TargetKind::Reference => {
            // The reference's own ISN key from the run's seed too: a replay is exact.
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&seed.to_le_bytes());
            key[8..].copy_from_slice(&(!seed).rotate_left(17).to_le_bytes());
            let mut config = reference_stack::Config {
                isn_secret: Some(key),
                ..crate::reference::config(args.reference_profile)
            };
            if let Some(f) = &mut config.fastopen {
                // The Fast Open cookie key from the seed too, distinct from the ISN key.
                let mut cookie_key = key;
                cookie_key.reverse();
                f.secret = Some(cookie_key);
            }
            Box::new(move || Box::new(ReferenceTarget::new(config.clone())) as Box<dyn Target>)
        }
        TargetKind::Linux => {
            if let Some(why) = crate::target::linux::unavailable() {
                eprintln!("error: --target linux is not available here: {why}");
                return exit::USAGE;
            }
            crate::target::sweep::sweep_and_report();
            let sysctls = args.sysctls.clone();
            Box::new(
                move || match crate::target::linux::LinuxTarget::new(sysctls.clone()) {
                    Ok(t) => Box::new(t) as Box<dyn Target>,
                    Err(e) => {
                        Box::new(crate::target::Unavailable::new("linux", e.0)) as Box<dyn Target>
                    }
                },
            )
        }
        TargetKind::Link => {
            let config = match crate::target::link::LinkConfig::from_args(&args.link) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::USAGE;
                }
            };
            crate::target::sweep::sweep_and_report();
            // The agent serves one harness session at a time: its instances run one after the
            // other. Without it, workers share the wire (each its own tester ports).
            if config.agent.is_some() {
                jobs = 1;
            }
            Box::new(move || {
                Box::new(crate::target::link::LinkTarget::new(config.clone())) as Box<dyn Target>
            })
        }
    };
    let make_target: Box<dyn Fn() -> Box<dyn Target> + Sync> = if args.wire_states {
        Box::new(move || Box::new(crate::target::WireStates(make_target())) as Box<dyn Target>)
    } else {
        make_target
    };
    let target_name = match args.target {
        TargetKind::Reference => "reference",
        TargetKind::Link => "link",
        TargetKind::Linux => "linux",
    };
    let baseline = match load_baseline(args, target_name, &paths(&args.select)) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let mut terminal = TerminalReporter::stdout(args.verbose);
    let mut junit = args
        .junit
        .as_ref()
        .map(|p| JunitReporter::new(p).seed(seed));
    let mut json = args.json.as_ref().map(|p| JsonReporter::new(p).seed(seed));
    let mut jsonl = match args.jsonl.as_deref().map(JsonlReporter::create).transpose() {
        Ok(j) => j.map(|j| j.seed(seed)),
        Err(e) => {
            let path = args.jsonl.as_deref().unwrap_or(std::path::Path::new(""));
            eprintln!("error: --jsonl {}: {e}", path.display());
            return exit::USAGE;
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
        budget,
        strict: args.strict,
        fail_fast: args.fail_fast,
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
        return exit::FAILED;
    }
    let baseline_clean = baseline.as_ref().is_none_or(review_baseline);
    match result {
        Ok(summary) if summary.not_run > 0 => exit::TARGET_UNUSABLE,
        Ok(_) if args.strict_baseline && !baseline_clean => {
            eprintln!("error: --strict-baseline: the baseline does not match this run (above)");
            exit::FAILED
        }
        Ok(summary) if summary.failed == 0 && summary.inconsistent == 0 => exit::PASSED,
        Ok(_) => exit::FAILED,
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
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
        exit::PASSED
    } else {
        exit::FAILED
    }
}

/// The target's baseline of known deviations: `--baseline FILE`, else
/// `cases/baselines/<target>.yaml` if present, unless `--no-baseline`.
fn load_baseline(args: &RunArgs, target: &str, paths: &[PathBuf]) -> Result<Option<Baseline>, u8> {
    if args.no_baseline {
        eprintln!("baseline: none (--no-baseline): every deviation fails");
        return Ok(None);
    }
    let files: Vec<PathBuf> = if args.baseline.is_empty() {
        // Beside the cases run, wherever the command is run from.
        let roots: Vec<PathBuf> = paths.iter().filter_map(|p| case_root(p)).collect();
        let found = roots
            .iter()
            .map(|r| r.join("baselines").join(format!("{target}.yaml")))
            .find(|p| p.is_file());
        match found {
            Some(p) => vec![p],
            None => {
                eprintln!(
                    "baseline: none for target {target} (no baselines/{target}.yaml beside \
                     the cases; --baseline FILE names one)"
                );
                return Ok(None);
            }
        }
    } else {
        args.baseline.clone()
    };
    match Baseline::load_all(&files) {
        Ok(b) => {
            let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            eprintln!(
                "baseline: {} ({} known deviation{})",
                names.join(" + "),
                b.entries().len(),
                if b.entries().len() == 1 { "" } else { "s" }
            );
            Ok(Some(b))
        }
        Err(e) => {
            eprintln!("error: baseline {e}");
            Err(exit::USAGE)
        }
    }
}

/// Says, in plain words, what the baseline no longer describes after the run: entries that
/// matched no failure among the instances run, entries that also cover instances that passed,
/// entries that name no failing step. True if there is nothing to say.
fn review_baseline(b: &Baseline) -> bool {
    let r = b.review();
    let entry = |e: &Entry| match (e.step, &e.failure) {
        (Some(line), Some(_)) => format!("{} ({}, line {line})", e.case, e.ip.name()),
        _ => format!("{} ({})", e.case, e.ip.name()),
    };
    if !r.stale.is_empty() {
        eprintln!(
            "baseline: {} entr{} matched no failure of the instances run (the deviation is \
             gone, or the case changed); remove or update:",
            r.stale.len(),
            if r.stale.len() == 1 { "y" } else { "ies" }
        );
        for e in &r.stale {
            eprintln!("  {}", entry(e));
        }
    }
    if !r.too_broad.is_empty() {
        eprintln!(
            "baseline: {} entr{} also cover instances that passed (a failure there would be \
             taken for the known deviation); narrow them:",
            r.too_broad.len(),
            if r.too_broad.len() == 1 { "y" } else { "ies" }
        );
        for (e, passing) in &r.too_broad {
            let shown: Vec<&str> = passing.iter().take(4).map(String::as_str).collect();
            let more = passing.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            eprintln!("  {} covers {}{more}", entry(e), shown.join(", "));
        }
    }
    if !r.imprecise.is_empty() {
        eprintln!(
            "baseline: {} entr{} name no failing step (`step`, `failure`), so any failure of \
             those cases passes for the known one",
            r.imprecise.len(),
            if r.imprecise.len() == 1 { "y" } else { "ies" }
        );
    }
    for c in &r.stale_choices {
        eprintln!(
            "baseline: choice {} was taken one way only in this run (the inconsistency is \
             gone); remove the entry",
            c.mitigation.key()
        );
    }
    r.is_clean()
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
        let (id, title) = (one_line(&i.case.id), one_line(&i.case.title));
        if writeln!(out, "{id} [{}]  {title}", i.ip.label()).is_err() {
            return exit::PASSED;
        }
    }
    let _ = writeln!(out, "{} case instance(s)", instances.len());
    exit::PASSED
}

/// Text from a case file on one terminal line: control characters (escape sequences, line
/// breaks, tabs) are shown as `\u{1b}` and the like instead of acting on the terminal.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\t' | '\n' | '\r' => out.push_str(&format!("\\u{{{:x}}}", u32::from(ch))),
            _ => out.push(ch),
        }
    }
    crate::report::escape_controls(&out)
}

pub fn check(select: &SelectArgs) -> u8 {
    match load(select) {
        Ok(cases) => {
            println!("{} case(s) OK", cases.len());
            exit::PASSED
        }
        Err(code) => code,
    }
}

pub fn schema() -> u8 {
    // A closed pipe (`tcpconform schema | head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{}", crate::case::schema::json_schema());
    exit::PASSED
}

pub fn coverage(args: &CoverageArgs) -> u8 {
    let select = SelectArgs {
        paths: args.paths.clone(),
        filter: Vec::new(),
        exclude: Vec::new(),
        tag: Vec::new(),
        ip: IpChoice::Both,
        partition: None,
    };
    let cases = match load(&select) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cov = crate::reference::coverage::measure(&cases);
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
            exit::PASSED
        }
        Err(e) => {
            eprintln!("error: writing coverage under {}: {e}", args.out.display());
            exit::USAGE
        }
    }
}

/// `tcpconform matrix`: saved runs side by side, written under `--out`.
pub fn matrix(args: &crate::cli::MatrixArgs) -> u8 {
    use crate::compare::{matrix::Matrix, page, SavedRun};
    if !args.pcap_dirs.is_empty() && args.pcap_dirs.len() != args.runs.len() {
        eprintln!(
            "error: {} --pcap-dir for {} run(s): give one per run, in the same order (`-` for a \
             run without captures)",
            args.pcap_dirs.len(),
            args.runs.len()
        );
        return exit::USAGE;
    }
    let mut runs = Vec::new();
    for path in &args.runs {
        match SavedRun::load(path) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    }
    let pcap_dirs: Vec<Option<PathBuf>> = args
        .pcap_dirs
        .iter()
        .map(|d| (d != "-").then(|| PathBuf::from(d)))
        .collect();
    let m = Matrix::build(runs, &pcap_dirs);
    let written = page::write(&m, &args.out)
        .and_then(|_| std::fs::write(args.out.join("matrix.json"), m.to_json(&args.out)))
        .and_then(|()| std::fs::write(args.out.join("matrix.csv"), m.to_csv()));
    match written {
        Ok(()) => {
            println!(
                "{} run(s), {} instance(s), {} differ: wrote {} (and matrix.json, matrix.csv, \
                 traces/)",
                m.columns.len(),
                m.rows.len(),
                m.rows.iter().filter(|r| r.differs).count(),
                args.out.join("index.html").display()
            );
            exit::PASSED
        }
        Err(e) => {
            eprintln!(
                "error: writing the matrix under {}: {e}",
                args.out.display()
            );
            exit::USAGE
        }
    }
}

/// `tcpconform diff`: exit 1 when a verdict regressed (see `cli::DIFF_EXIT_STATUS`).
pub fn diff(args: &crate::cli::DiffArgs) -> u8 {
    use crate::compare::SavedRun;
    let (old, new) = match (SavedRun::load(&args.old), SavedRun::load(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let d = crate::compare::diff::diff(&old, &new);
    let _ = write!(std::io::stdout(), "{}", d.table());
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, d.to_json()) {
            eprintln!("error: writing {}: {e}", path.display());
            return exit::USAGE;
        }
    }
    if d.regressions() > 0 {
        exit::FAILED
    } else {
        exit::PASSED
    }
}

/// `tcpconform import-pkt`: packetdrill scripts to case files.
pub fn import_pkt(args: &crate::cli::ImportPktArgs) -> u8 {
    use crate::import::{self, Status};
    if let Some(missing) = args.files.iter().find(|f| !f.is_file()) {
        eprintln!("error: {}: no such file", missing.display());
        return exit::USAGE;
    }
    if args.out.is_none() && args.files.len() > 1 {
        eprintln!(
            "error: {} scripts: give -o DIR to write their cases",
            args.files.len()
        );
        return exit::USAGE;
    }
    let ids = import::ids(&args.files);
    let all: Vec<import::Imported> = args
        .files
        .iter()
        .zip(&ids)
        .map(|(f, id)| import::import_file(f, id))
        .collect();
    for imp in &all {
        let Some(yaml) = &imp.yaml else {
            eprint!("{}", import::report(imp, None));
            continue;
        };
        match &args.out {
            Some(dir) => {
                let path = import::output_path(dir, imp);
                let written = path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&path, yaml));
                if let Err(e) = written {
                    eprintln!("error: writing {}: {e}", path.display());
                    return exit::USAGE;
                }
                print!("{}", import::report(imp, Some(&path)));
            }
            None => {
                eprint!("{}", import::report(imp, None));
                print!("{yaml}");
            }
        }
    }
    if args.out.is_some() {
        print!("{}", import::summary(&all));
    } else {
        eprint!("{}", import::summary(&all));
    }
    if all.iter().all(|i| i.status == Status::Full) {
        exit::PASSED
    } else {
        exit::FAILED
    }
}
