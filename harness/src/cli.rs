//! Command-line interface (clap). Exit codes: 0 all passed, 1 some case failed, 2 usage or
//! case-file errors, 130 / 143 stopped by SIGINT / SIGTERM.

use crate::sys::tun::IfAddr;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The exit statuses and what a signal does, for `--help` (see [`crate::interrupt`]).
pub const EXIT_STATUS: &str = "Exit status: 0 all passed, 1 some case failed, 2 usage or \
case-file errors, 3 the target stopped answering (the run stopped; the rest not run), 130 \
stopped by SIGINT, 143 stopped by SIGTERM.\n\
On the first SIGINT/SIGTERM, `run` starts no more instances, ends the running ones (reported \
as skipped: interrupted), tears every target down and still writes the requested reports; \
`serve` and `agent` close their devices and sockets and exit. A second signal exits at once.";

#[derive(Debug, Parser)]
#[command(
    name = "tcpconform",
    version,
    about = "TCP conformance and fuzz testing against RFC 9293",
    after_help = EXIT_STATUS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run cases against a target (default: ./cases on the bundled reference stack).
    #[command(after_help = EXIT_STATUS)]
    Run(Box<RunArgs>),
    /// List the case instances that `run` would execute.
    List(SelectArgs),
    /// Load and validate case files only; exit 2 on any error.
    Check(SelectArgs),
    /// Print the JSON Schema of case files (for editors).
    Schema,
    /// Run the corpus on the reference stack and report, from the stack's own rule reports,
    /// the SEGMENT ARRIVES rules, state x segment cells and RFC 9293 requirements covered.
    Coverage(CoverageArgs),
    /// Run the reference stack as a real stack on a TUN device (test it over `--target link`).
    Serve(ServeArgs),
    /// Perform a case's application calls beside a target stack, for `--target link --agent`.
    Agent(crate::agent::AgentArgs),
    /// Remove named network namespaces `tcpc-<tag>-<pid>` (/run/netns) whose process `pid` is
    /// gone, and the devices in them; prints what it removed. `run --target linux|link` and
    /// `serve` do this at start.
    Sweep,
    /// Put saved runs (`run --json`) side by side: DIR/index.html (one static page with
    /// filters), DIR/matrix.json and DIR/matrix.csv, a column per run, a row per case instance.
    Matrix(MatrixArgs),
    /// The case instances whose verdict or chosen variants differ between two saved runs
    /// (`run --json`); exit 1 when a verdict regressed.
    #[command(after_help = DIFF_EXIT_STATUS)]
    Diff(DiffArgs),
    /// Convert packetdrill scripts to case files: each step names its script line; every line
    /// no case can say is reported, and the case is marked partial or not written. Exit 0
    /// when every script imported fully, 1 otherwise, 2 on usage errors.
    ImportPkt(ImportPktArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImportPktArgs {
    /// packetdrill scripts (`.pkt`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the case files under this folder (partial imports under its `_partial/`, which
    /// `run` skips); without it, one script's case goes to stdout.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

/// `diff`'s exit statuses and what counts as a regression, for `--help`.
pub const DIFF_EXIT_STATUS: &str = "Exit status: 0 no verdict regressed, 1 some verdict \
regressed, 2 usage error or a file that is not a run document.\n\
A verdict regressed when the old run passed and the new one does not (any other verdict, \
skipped included), or when its severity rose: info (a MAY not taken) < warning (a SHOULD not \
met) < failed (a MUST not met); a known deviation weighs as the failure it records. Changes to \
or from inconclusive, not applicable and skipped are listed but are not regressions, nor are \
other variants or instances only one run has.";

#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    /// Run documents written by `run --json`, one column each, in this order.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The folder to write index.html, matrix.json, matrix.csv and traces/ into.
    #[arg(short = 'o', long = "out", default_value = "reports/matrix")]
    pub out: PathBuf,
    /// Where each run wrote its captures (`run --pcap-dir`), once per run in the same order;
    /// `-` for a run without. Cells link the captures that exist.
    #[arg(long = "pcap-dir")]
    pub pcap_dirs: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The earlier run (`run --json`).
    pub old: PathBuf,
    /// The later run.
    pub new: PathBuf,
    /// Also write the differences as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// The bundled reference stack, in process, virtual clock.
    Reference,
    /// The running Linux kernel, each case instance in a fresh network namespace of its own,
    /// reached through a TUN device (needs root or CAP_NET_ADMIN).
    Linux,
    /// A stack on the other end of an interface (`--iface`, `--target-addr`, `--local-addr`,
    /// optionally `--agent`), through AF_PACKET.
    Link,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IpChoice {
    #[value(name = "4")]
    V4,
    #[value(name = "6")]
    V6,
    Both,
}

/// The reference stack's RST/SYN handling in synchronized states (RFC 9293 MAY-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RstProfile {
    Rfc5961,
    Rfc793,
}

/// What `serve`'s built-in application does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeApp {
    /// Send back what is read; close after the peer's FIN.
    Echo,
    /// Read and drop everything; close after the peer's FIN.
    Sink,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TUN device name; attached to as it is if it already exists.
    #[arg(long, default_value = "tcpc0")]
    pub iface: String,
    /// Run inside this existing named network namespace (/run/netns/NAME).
    #[arg(long)]
    pub netns: Option<String>,
    /// Address (with prefix) for the kernel's side of a created device (repeatable).
    #[arg(long = "kernel-addr", default_values = ["192.0.2.1/24", "2001:db8::1/64"])]
    pub kernel_addrs: Vec<IfAddr>,
    /// The reference stack's own addresses (repeatable).
    #[arg(long = "addr", default_values = ["192.0.2.2", "2001:db8::2"])]
    pub addrs: Vec<IpAddr>,
    /// Ports the built-in application listens on (repeatable).
    #[arg(long = "listen")]
    pub listen: Vec<u16>,
    /// What the built-in application does with a connection.
    #[arg(long, value_enum, default_value = "echo")]
    pub app: ServeApp,
    /// Also obey the agent protocol on this control address (no wildcard).
    #[arg(long, value_parser = crate::agent::address::parse_socket_addr)]
    pub agent_listen: Option<SocketAddr>,
    /// The agent token, first line of this file (else a random one is printed).
    #[arg(long)]
    pub agent_token_file: Option<PathBuf>,
    /// Ports agent requests may use (repeatable).
    #[arg(long = "allow-port")]
    pub allow_ports: Vec<u16>,
    /// Remote addresses agent connects may name (repeatable).
    #[arg(long = "allow-peer")]
    pub allow_peers: Vec<IpAddr>,
    /// The stack's MTU (its MSS follows). The device itself takes packets up to 65,535
    /// octets, so that a case may send a segment larger than the stack's MTU.
    #[arg(long, default_value_t = 1500)]
    pub mtu: usize,
    /// RST/SYN handling in synchronized states.
    #[arg(long, value_enum, default_value = "rfc5961")]
    pub reference_profile: RstProfile,
}

#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Case files or folders (default: ./cases). Links are followed but each folder is read
    /// once; only regular files of at most 1 MiB are read.
    pub paths: Vec<PathBuf>,
    /// Only cases whose id contains this substring (or matches this glob, with `*`);
    /// repeatable: a case matching any of them.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Leave out cases whose id contains this substring (or matches this glob); repeatable.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Only cases with this tag (`tags:` in the case file); repeatable: any of them.
    #[arg(long)]
    pub tag: Vec<String>,
    /// IP versions to run each case on.
    #[arg(long, value_enum, default_value = "both")]
    pub ip: IpChoice,
    /// Run shard k of n (1-based), for splitting a corpus across CI jobs: `--partition 2/4`.
    #[arg(long)]
    pub partition: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// The stack under test.
    #[arg(long, value_enum, default_value = "reference")]
    pub target: TargetKind,
    /// Case instances in flight at once, 1 to 256 (default: the cores on the reference; 64
    /// on linux, whose instances mostly wait; 8 on link; with an agent, 1; with --slow, all,
    /// at most 256). `-j 0` is an error. Never more workers than instances.
    #[arg(short = 'j', long, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Write a JUnit XML report here when the run ends. Its folder must exist.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a JSON report here when the run ends. Its folder must exist.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a JSON-lines report here as the run goes: a `started` line, one `case` line per
    /// finished instance, written at once, and a `summary` line. A killed run leaves every
    /// instance finished so far. Its folder must exist.
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
    /// Where pcaps of failing cases go [default: reports/pcap, made as needed]. A folder named
    /// here is made if missing; its parent must exist.
    #[arg(long)]
    pub pcap_dir: Option<PathBuf>,
    /// Write a pcap for every case, not only failing ones.
    #[arg(long)]
    pub pcap_all: bool,
    /// Print every case, not only failures.
    #[arg(short, long)]
    pub verbose: bool,
    /// Reference stack profile for RST/SYN in synchronized states.
    #[arg(long, value_enum, default_value = "rfc5961")]
    pub reference_profile: RstProfile,
    /// Known deviations of the target (default: `baselines/<target>.yaml` in the case tree
    /// run, beside its `_preludes.yaml`, when it exists). A failure an entry describes is
    /// reported as a known deviation, not a failure. Repeatable: the files' entries add up
    /// (Linux over a wire: `linux.yaml` and `linux-link.yaml`).
    #[arg(long)]
    pub baseline: Vec<PathBuf>,
    /// On real-time targets, skip cases that need more waiting than this (e.g. 2MSL, R2,
    /// keep-alive idle periods). The reference's virtual clock ignores it.
    #[arg(long, default_value = "60s", value_parser = parse_budget)]
    pub max_case_time: std::time::Duration,
    /// The seed of the tester's ISNs and ports (decimal or 0x-hex; default: random, printed):
    /// the same seed repeats a run, exactly on the reference stack.
    #[arg(long, value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// The slow tier: only the cases that need more real time than --max-case-time (2MSL, R2,
    /// keep-alive idle periods, persist backoff), with no time budget, all started at once so
    /// the tier lasts about as long as its longest case (some hours on a real clock).
    #[arg(long)]
    pub slow: bool,
    /// Start no instance after the first failure (those running finish; the rest are
    /// reported as skipped, not run).
    #[arg(long)]
    pub fail_fast: bool,
    /// Count a SHOULD (or recommended practice) not met as a failure, not a warning.
    #[arg(long)]
    pub strict: bool,
    /// Read connection states off the wire (the probes agentless targets rely on) even where
    /// the target can report them: checks the probes against a target whose states are known.
    #[arg(long)]
    pub wire_states: bool,
    /// Fail the run when the baseline does not match it exactly: an entry that matched no
    /// failure of the instances run, or that also covers an instance that passed, or that
    /// names no failing step.
    #[arg(long)]
    pub strict_baseline: bool,
    /// Ignore the default baseline: every deviation fails the run.
    #[arg(long, conflicts_with = "baseline")]
    pub no_baseline: bool,
    /// `--target linux`: a sysctl to set in every case namespace, `KEY=VALUE`, after the ones
    /// the target pins and before a case's own `sysctls:` (repeatable). The congestion cases
    /// run under reno, RFC 5681's algorithm; `--sysctl net.ipv4.tcp_congestion_control=bbr`
    /// runs them under another the host allows.
    #[arg(long = "sysctl", value_parser = parse_sysctl)]
    pub sysctls: Vec<(String, String)>,
    /// `--target link` settings.
    #[command(flatten)]
    pub link: LinkArgs,
}

/// `--target link` arguments (flattened into `run`).
#[derive(Debug, Clone, Default, Args)]
pub struct LinkArgs {
    /// `--target link`: the interface the target is reached through.
    #[arg(long)]
    pub iface: Option<String>,
    /// `--target link`: the stack under test's address (one per IP version; repeatable).
    #[arg(long = "target-addr")]
    pub target_addrs: Vec<std::net::IpAddr>,
    /// `--target link`: the tester's crafted source address (one per IP version; repeatable).
    /// Must not be an address of this host's namespace.
    #[arg(long = "local-addr")]
    pub local_addrs: Vec<std::net::IpAddr>,
    /// `--target link` without an agent: a port of the target where an application listens;
    /// a case's passive OPEN (`setup: listen`) maps onto it.
    #[arg(long)]
    pub open_port: Option<u16>,
    /// `--target link`: a port of the target where nothing listens; a case's closed port
    /// (`setup: closed`) maps onto it.
    #[arg(long)]
    pub closed_port: Option<u16>,
    /// `--target link` without an agent: what the application on `--open-port` does (echo:
    /// sends back what it reads and closes after the peer's FIN; discard: reads and drops, closes
    /// after the peer's FIN; unknown: assume nothing). Cases whose exchange it would disturb
    /// are skipped with the reason.
    #[arg(long, value_enum)]
    pub app: Option<AppArg>,
    /// `--target link`: the largest IP packet to send (default: the interface's MTU). Cases
    /// that need larger ones are skipped.
    #[arg(long)]
    pub mtu: Option<usize>,
    /// `--target link`: an agent (`tcpconform agent`) beside the target for application calls.
    #[arg(long)]
    pub agent: Option<std::net::SocketAddr>,
    /// `--target link`: the agent's token, first line of this file.
    #[arg(long)]
    pub agent_token_file: Option<PathBuf>,
}

/// `--app`: what the application on `--open-port` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppArg {
    Echo,
    Discard,
    Unknown,
}

#[derive(Debug, Clone, Args)]
pub struct CoverageArgs {
    /// Case files or folders (default: ./cases). Links are followed but each folder is read
    /// once; only regular files of at most 1 MiB are read.
    pub paths: Vec<PathBuf>,
    /// Where to write the HTML picture and the text table.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a seed (a number, decimal or 0x-hex)"))
}

/// Most workers `run` starts (`-j`): each is a thread, and on `--target linux` a network
/// namespace of its own.
pub const MAX_JOBS: usize = 256;

/// Where pcaps go without `--pcap-dir`.
pub const DEFAULT_PCAP_DIR: &str = "reports/pcap";

fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("-j 0: at least one worker (without -j: one per core)".into()),
        Ok(n) if n > MAX_JOBS => Err(format!("-j {n}: at most {MAX_JOBS} workers")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("-j {s}: a number of workers, 1 to {MAX_JOBS}")),
    }
}

fn parse_sysctl(s: &str) -> Result<(String, String), String> {
    let (key, value) = s.split_once('=').ok_or_else(|| {
        format!("{s:?}: expected KEY=VALUE, e.g. net.ipv4.tcp_congestion_control=bbr")
    })?;
    let key = key.trim();
    crate::sys::netns::sysctl_path(key)?;
    Ok((key.to_string(), value.trim().to_string()))
}

fn parse_budget(s: &str) -> Result<std::time::Duration, String> {
    crate::case::model::parse_duration(s)
}
