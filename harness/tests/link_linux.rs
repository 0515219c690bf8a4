//! `--target link` across a wire: pairs of namespaces joined by a veth pair (192.0.2.0/24,
//! 2001:db8::/64), the Linux kernel and `tcpconform agent` in one, the harness in the other with
//! its crafted addresses 192.0.2.3 and 2001:db8::3 (no interface has them), and the whole corpus
//! run over Ethernet with the harness's own ARP and NDP. Every instance passes, is a known
//! Linux deviation (`cases/baselines/linux.yaml`), or is skipped with its reason. Also: packets
//! to an address nobody named are refused, and a crafted address that is local is refused.

mod link_support;
mod needs;

use link_support::{NetNs, Proc, TokenFile};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tcpconform::case::load::load_paths;
use tcpconform::case::model::Case;
use tcpconform::run::baseline::Baseline;
use tcpconform::run::event::{IpVersion, Outcome};
use tcpconform::run::executor::{execute, Instance, RunOptions};
use tcpconform::run::runner::longest_first;
use tcpconform::target::link::{LinkConfig, LinkTarget};
use tcpconform::target::{AppCall, AppResult, Endpoints, Received, Target, TargetError};

/// Wires (and so workers) the corpus is spread over: each a Linux with its own agent.
const WIRES: usize = 4;
/// As `tcpconform run`'s default `--max-case-time`.
const BUDGET: Duration = Duration::from_secs(60);
/// Fixed, so that a failure can be repeated with the same ISNs and ports.
const SEED: u64 = 0x7463_7063_6f6e_6632;
const AGENT: &str = "192.0.2.1:7100";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// `ethtool -K DEV gro off`, without needing ethtool: the ETHTOOL_SGRO ioctl (on the calling
/// thread's namespace).
fn gro_off(dev: &str) {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_SGRO: u32 = 0x2c;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    let mut value = EthtoolValue {
        cmd: ETHTOOL_SGRO,
        data: 0,
    };
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(dev.bytes()) {
        *d = s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: a plain datagram socket for the ioctl.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: SIOCETHTOOL reads `ifr` and the ethtool_value it points to, both alive.
    let r = unsafe { libc::ioctl(fd, SIOCETHTOOL, &mut ifr) };
    let e = std::io::Error::last_os_error();
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    assert_eq!(r, 0, "ETHTOOL_SGRO on {dev}: {e}");
}

/// Two namespaces joined by a veth pair: `tgt` (192.0.2.1, veth `tcpc-t`) with the kernel
/// under test and, once started, its agent; `hst` (192.0.2.2, veth `tcpc-h`) with the harness.
struct Wire {
    // Fields drop in order: the agent is killed before its namespace goes.
    agent: Option<Proc>,
    tgt: NetNs,
    hst: NetNs,
}

impl Wire {
    fn new() -> Wire {
        let tgt = NetNs::new("lt");
        let hst = NetNs::new("lh");
        // Created inside `tgt` with its peer moved to `hst`: the host namespace is never
        // touched.
        tgt.ip(&[
            "link", "add", "tcpc-t", "type", "veth", "peer", "name", "tcpc-h", "netns", &hst.name,
        ]);
        // A real wire carries one segment per frame. A veth hands the kernel's TSO
        // super-segments (up to 64 KiB) to its peer whole, and GRO on the receiving side would
        // merge the harness's segments: one segment per packet both ways, so that a case sees
        // the segmentation the stack chose.
        tgt.ip(&["link", "set", "dev", "tcpc-t", "gso_max_segs", "1"]);
        // Like the TUN device of `--target linux`, the link takes IP packets of up to 64 KiB
        // (cases send segments larger than any MSS, RFC 9293 3.7.1), while the kernel's TCP
        // sees an Ethernet path: its routes say MTU 1500, so its MSS stays 1460 (1440).
        tgt.ip(&["link", "set", "dev", "tcpc-t", "mtu", "65535"]);
        hst.ip(&["link", "set", "dev", "tcpc-h", "mtu", "65535"]);
        tgt.ip(&["addr", "add", "192.0.2.1/24", "dev", "tcpc-t"]);
        tgt.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8::1/64",
            "dev",
            "tcpc-t",
            "nodad",
        ]);
        tgt.ip(&["link", "set", "tcpc-t", "up"]);
        // The connected routes themselves (same prefix and metric), with MTU and MSS.
        for (net, metric, mss) in [
            ("192.0.2.0/24", "0", "1460"),
            ("2001:db8::/64", "256", "1440"),
        ] {
            tgt.ip(&[
                "route", "replace", net, "dev", "tcpc-t", "metric", metric, "mtu", "1500",
                "advmss", mss,
            ]);
        }
        hst.ip(&["addr", "add", "192.0.2.2/24", "dev", "tcpc-h"]);
        hst.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8::2/64",
            "dev",
            "tcpc-h",
            "nodad",
        ]);
        hst.ip(&["link", "set", "tcpc-h", "up"]);
        tgt.run(|| {
            gro_off("tcpc-t");
            // The sysctls `--target linux` pins in each case namespace: without them a case's
            // expected ACK would come or not depending on the previous case's (rate limits).
            use tcpconform::sys::netns::{sysctl_path, write_sysctl};
            use tcpconform::target::linux::{DEFAULT_SYSCTLS, OPTIONAL_SYSCTLS};
            for (key, value) in DEFAULT_SYSCTLS {
                write_sysctl(key, value).expect("pin sysctl");
            }
            for (key, value) in OPTIONAL_SYSCTLS {
                if sysctl_path(key).is_ok_and(|p| p.exists()) {
                    write_sysctl(key, value).expect("pin sysctl");
                }
            }
        });
        hst.run(|| gro_off("tcpc-h"));
        Wire {
            agent: None,
            tgt,
            hst,
        }
    }

    /// Starts the agent beside the kernel and waits until it answers.
    fn start_agent(&mut self, token: &TokenFile) {
        let mut agent = Proc::tcpconform_quiet_in(
            &self.tgt,
            &[
                "agent",
                "--listen",
                AGENT,
                "--token-file",
                token.path.to_str().expect("utf-8 path"),
                "--bind-addr",
                "192.0.2.1",
                "--bind-addr",
                "2001:db8::1",
                "--allow-port",
                "8080",
                "--allow-port",
                "49152",
                "--allow-port",
                "80",
                "--allow-peer",
                "192.0.2.3",
                "--allow-peer",
                "2001:db8::3",
            ],
        );
        let secret = token.token.clone();
        let up = self.hst.run(move || {
            link_support::eventually(Duration::from_secs(10), || {
                tcpconform::agent::client::AgentClient::connect(agent_addr(), &secret).ok()
            })
            .is_some()
        });
        agent.assert_running();
        assert!(up, "the agent in {} came up", self.tgt.name);
        self.agent = Some(agent);
    }
}

fn agent_addr() -> SocketAddr {
    AGENT.parse().expect("addr")
}

fn config(agent: Option<(SocketAddr, String)>, local: &str) -> LinkConfig {
    LinkConfig {
        iface: "tcpc-h".into(),
        targets: vec![ip("192.0.2.1"), ip("2001:db8::1")],
        locals: vec![ip(local), ip("2001:db8::3")],
        agent,
        ..LinkConfig::default()
    }
}

/// The link target plus what the user of a real target does by hand: the target's host is
/// this test's own namespace, so a case's sysctls are set there for the instance and put back
/// after it (`--target link` itself never touches the target's knobs), and each instance starts
/// with an empty TCP metrics cache, as in the fresh namespace of `--target linux`: the kernel
/// keeps the Fast Open cookies a server gave there, per destination, and a cookie one case got
/// would make the next case's connect wait for data instead of asking for one.
struct LinuxOverLink {
    link: LinkTarget,
    tgt: String,
    restore: Vec<(String, String)>,
}

impl LinuxOverLink {
    fn sysctls(&self, set: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
        link_support::run_in(&self.tgt, move || {
            use tcpconform::sys::netns::{sysctl_path, write_sysctl};
            let mut old = Vec::new();
            for (key, value) in set {
                let path = sysctl_path(&key)?;
                let was = std::fs::read_to_string(&path).map_err(|e| format!("{key}: {e}"))?;
                write_sysctl(&key, &value)?;
                old.push((key, was.trim().to_string()));
            }
            Ok(old)
        })
    }
}

impl Target for LinuxOverLink {
    fn name(&self) -> &str {
        self.link.name()
    }
    fn open(
        &mut self,
        ip: IpVersion,
        sysctls: &BTreeMap<String, String>,
    ) -> Result<Endpoints, TargetError> {
        let set = sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.restore = self.sysctls(set).map_err(TargetError)?;
        link_support::ip(&["-n", &self.tgt, "tcp_metrics", "flush", "all"]);
        self.link.open(ip, sysctls)
    }
    fn inject(&mut self, packet: &[u8]) -> Result<(), TargetError> {
        self.link.inject(packet)
    }
    fn receive(&mut self, within: Duration) -> Result<Option<Received>, TargetError> {
        self.link.receive(within)
    }
    fn app(&mut self, call: &AppCall) -> Result<AppResult, TargetError> {
        self.link.app(call)
    }
    fn cannot(&self, call: &AppCall) -> Option<String> {
        self.link.cannot(call)
    }
    fn on_sockets(&self) -> bool {
        self.link.on_sockets()
    }
    fn state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<tcpconform::tcp::TcpState>, TargetError> {
        self.link.state(local, remote)
    }
    fn wait(&mut self, d: Duration) -> Result<(), TargetError> {
        self.link.wait(d)
    }
    fn now(&self) -> Duration {
        self.link.now()
    }
    fn close(&mut self) {
        self.link.close();
        let restore = std::mem::take(&mut self.restore);
        if !restore.is_empty() {
            self.sysctls(restore).expect("restore the target's sysctls");
        }
    }
}

#[test]
fn link_runs_the_corpus_against_linux_over_veth() {
    require!(needs::namespaces());
    let token = TokenFile::new();
    let mut wires: Vec<Wire> = (0..WIRES).map(|_| Wire::new()).collect();
    for w in &mut wires {
        w.start_agent(&token);
    }
    let cases: Vec<Case> = load_paths(&[link_support::repo().join("cases")]).expect("cases load");
    // Linux's baseline, and what Linux does differently only over a wire.
    let baselines = ["linux.yaml", "linux-link.yaml"]
        .map(|f| link_support::repo().join("cases/baselines").join(f));
    let baseline = Baseline::load_all(&baselines).expect("the Linux baselines load");
    let mut instances: Vec<Instance<'_>> = cases
        .iter()
        .flat_map(|case| case.ip.iter().map(move |&ip| Instance { case, ip }))
        .collect();
    // Longest first: the cases that wait for tens of seconds start at once, and the many
    // short ones fill the wires around them.
    instances.sort_by_key(|i| longest_first(&i.case.steps));

    // Each worker enters the harness namespace of a wire of its own and drives that wire's
    // kernel through that wire's agent.
    let names: Vec<(String, String)> = wires
        .iter()
        .map(|w| (w.hst.name.clone(), w.tgt.name.clone()))
        .collect();
    let next = AtomicUsize::new(0);
    let secret = token.token.clone();
    let make_target = move || -> Box<dyn Target> {
        let (hst, tgt) = &names[next.fetch_add(1, Ordering::SeqCst) % names.len()];
        link_support::enter(hst);
        Box::new(LinuxOverLink {
            link: LinkTarget::new(config(Some((agent_addr(), secret.clone())), "192.0.2.3")),
            tgt: tgt.clone(),
            restore: Vec::new(),
        })
    };
    let mut collect = link_support::Collect::default();
    let started = Instant::now();
    let summary = execute(
        &instances,
        &RunOptions {
            jobs: WIRES,
            seed: SEED,
            target_name: "link",
            baseline: Some(&baseline),
            budget: BUDGET,
            strict: false,
            fail_fast: false,
        },
        &make_target,
        &mut [&mut collect],
    )
    .expect("run");
    let wall = started.elapsed();
    for w in &mut wires {
        w.agent.as_mut().expect("agent").assert_running();
    }

    let results = collect.results;
    println!(
        "linux over link: {} instances on {WIRES} wires in {wall:.1?}: {} passed, {} known \
         deviations (baseline), {} skipped, {} failed",
        results.len(),
        summary.passed,
        summary.baseline,
        summary.skipped,
        summary.failed
    );
    for (reason, n) in link_support::skip_groups(&results) {
        println!("  skipped {n:4}: {reason}");
    }
    let mut deviations: BTreeMap<String, usize> = BTreeMap::new();
    for r in &results {
        if let Outcome::Failed(f) = &r.outcome {
            if let Some(why) = &f.baseline {
                *deviations.entry(why.clone()).or_default() += 1;
            }
        }
    }
    for (why, n) in &deviations {
        println!("  baseline {n:4}: {why}");
    }
    for e in baseline.review().stale {
        println!(
            "  note: baseline entry not seen over link: {} ({:?})",
            e.case, e.ip
        );
    }
    let mut unexpected = Vec::new();
    for r in results.iter().filter(|r| r.failed()) {
        if let Outcome::Failed(f) = &r.outcome {
            unexpected.push(format!("{}: {}", r.display_name(), f.message));
        }
    }
    unexpected.sort();
    assert_eq!(results.len(), instances.len(), "every instance ran");
    assert!(
        results.iter().any(|r| r.ip == IpVersion::V6 && r.passed()),
        "IPv6 (NDP) ran too"
    );
    assert!(
        unexpected.is_empty(),
        "{} unexpected failures over link:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

/// The same through the command line: `run --target link`, exit code 0, IPv4 and IPv6.
#[test]
fn link_run_command_line_against_linux() {
    require!(needs::namespaces());
    let token = TokenFile::new();
    let mut wire = Wire::new();
    wire.start_agent(&token);
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &wire.hst.name,
            env!("CARGO_BIN_EXE_tcpconform"),
            "run",
        ])
        .args(["--target", "link", "--iface", "tcpc-h"])
        .args(["--target-addr", "192.0.2.1", "--target-addr", "2001:db8::1"])
        .args(["--local-addr", "192.0.2.3", "--local-addr", "2001:db8::3"])
        .args(["--agent", AGENT, "--agent-token-file"])
        .arg(&token.path)
        .arg("--pcap-dir")
        .arg(token.dir.path().join("pcap"))
        .arg(link_support::repo().join("cases/handshake/passive-open.yaml"))
        .arg(link_support::repo().join("cases/closed/syn-to-closed-port.yaml"))
        .output()
        .expect("run tcpconform run --target link");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    wire.agent.as_mut().expect("agent").assert_running();
}

#[test]
fn link_refuses_unnamed_destinations_and_local_sources() {
    require!(needs::namespaces());
    let wire = Wire::new();
    wire.hst.run(|| {
        // The crafted source is the harness's own address: its kernel would answer; refused.
        let mut t = LinkTarget::new(config(None, "192.0.2.2"));
        let e = t
            .open(IpVersion::V4, &BTreeMap::new())
            .expect_err("refused");
        assert!(e.0.contains("is an address of this namespace"), "{e}");

        // A packet to an address the user did not name is never sent.
        let mut t = LinkTarget::new(config(None, "192.0.2.3"));
        t.open(IpVersion::V4, &BTreeMap::new())
            .expect("open: ARP for 192.0.2.1 answered");
        let mut packet = vec![0u8; 40];
        packet[0] = 0x45;
        packet[9] = 6;
        packet[12..16].copy_from_slice(&[192, 0, 2, 3]);
        packet[16..20].copy_from_slice(&[192, 0, 2, 2]);
        let e = t.inject(&packet).expect_err("refused");
        assert!(e.0.contains("not a --target-addr"), "{e}");
        packet[16..20].copy_from_slice(&[198, 51, 100, 1]);
        assert!(t.inject(&packet).is_err());
        // Without an agent, application calls are refused and state is unobservable.
        assert!(t
            .app(&tcpconform::target::AppCall::Listen {
                local: "192.0.2.1:8080".parse().expect("addr"),
            })
            .is_err());
        let a: SocketAddr = "192.0.2.1:8080".parse().expect("addr");
        let b: SocketAddr = "192.0.2.3:4000".parse().expect("addr");
        assert_eq!(t.state(a, b).expect("state"), None);
    });
}
