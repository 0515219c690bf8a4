//! Where and how to reach a stack over `--target link`, checked once before the run.

use crate::cli::{AppArg, LinkArgs};
use crate::target::AppBehaviour;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Where and how to reach the target.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub iface: String,
    pub targets: Vec<IpAddr>,
    pub locals: Vec<IpAddr>,
    /// Agent address and token.
    pub agent: Option<(SocketAddr, String)>,
    /// Without an agent: where the target's application listens, and what it does.
    pub open_port: Option<u16>,
    pub app: AppBehaviour,
    /// A port where nothing listens.
    pub closed_port: Option<u16>,
    /// The largest IP packet to send, if smaller than the interface's MTU.
    pub mtu: Option<usize>,
    /// Tester ports, shared by every worker of the run: each used once.
    pub ports: Arc<PortAllocator>,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            iface: String::new(),
            targets: Vec::new(),
            locals: Vec::new(),
            agent: None,
            open_port: None,
            app: AppBehaviour::Unknown,
            closed_port: None,
            mtu: None,
            ports: Arc::new(PortAllocator::random()),
        }
    }
}

impl PartialEq for LinkConfig {
    fn eq(&self, other: &LinkConfig) -> bool {
        (
            &self.iface,
            &self.targets,
            &self.locals,
            &self.agent,
            self.open_port,
            self.app,
            self.closed_port,
            self.mtu,
        ) == (
            &other.iface,
            &other.targets,
            &other.locals,
            &other.agent,
            other.open_port,
            other.app,
            other.closed_port,
            other.mtu,
        )
    }
}

impl LinkConfig {
    /// Checks `run --target link` arguments: an interface, at most one target and one local
    /// address per IP version, the same versions on both sides, a token with an agent; without
    /// an agent, an open or a closed port to aim the cases at.
    pub fn from_args(args: &LinkArgs) -> Result<LinkConfig, String> {
        let iface = args.iface.clone().ok_or("--target link needs --iface")?;
        if args.target_addrs.is_empty() || args.local_addrs.is_empty() {
            return Err("--target link needs --target-addr and --local-addr".into());
        }
        for list in [&args.target_addrs, &args.local_addrs] {
            for v6 in [false, true] {
                if list.iter().filter(|a| a.is_ipv6() == v6).count() > 1 {
                    return Err(
                        "at most one --target-addr and one --local-addr per IP version".into(),
                    );
                }
            }
        }
        for v6 in [false, true] {
            let t = args.target_addrs.iter().any(|a| a.is_ipv6() == v6);
            let l = args.local_addrs.iter().any(|a| a.is_ipv6() == v6);
            if t != l {
                return Err(format!(
                    "IPv{}: give both --target-addr and --local-addr, or neither",
                    if v6 { 6 } else { 4 }
                ));
            }
        }
        for a in &args.target_addrs {
            if a.is_unspecified() || a.is_multicast() || a.is_loopback() {
                return Err(format!("--target-addr {a}: must be a unicast address"));
            }
            if args.local_addrs.contains(a) {
                return Err(format!("{a} is both --target-addr and --local-addr"));
            }
        }
        let agent = match (args.agent, &args.agent_token_file) {
            (None, None) => None,
            (Some(_), None) => return Err("--agent needs --agent-token-file".into()),
            (None, Some(_)) => return Err("--agent-token-file without --agent".into()),
            (Some(addr), Some(path)) => Some((addr, crate::agent::read_token(path)?)),
        };
        if agent.is_some() && (args.open_port.is_some() || args.app.is_some()) {
            return Err(
                "--open-port and --app describe an application the harness does not control; \
                 with --agent, the agent makes the case's calls"
                    .into(),
            );
        }
        if agent.is_none() && args.open_port.is_none() && args.closed_port.is_none() {
            return Err(
                "--target link without --agent needs --open-port (where an application listens) \
                 and/or --closed-port (where nothing listens)"
                    .into(),
            );
        }
        for (name, port) in [
            ("--open-port", args.open_port),
            ("--closed-port", args.closed_port),
        ] {
            if port == Some(0) {
                return Err(format!("{name} 0 is not a port"));
            }
        }
        if args.open_port.is_some() && args.open_port == args.closed_port {
            return Err("--open-port and --closed-port are the same port".into());
        }
        if let Some(mtu) = args.mtu {
            // The smallest IPv6 MTU (RFC 8200 5); every case's handshake fits it.
            if mtu < 1280 {
                return Err(format!("--mtu {mtu}: at least 1280"));
            }
        }
        Ok(LinkConfig {
            iface,
            targets: args.target_addrs.clone(),
            locals: args.local_addrs.clone(),
            agent,
            open_port: args.open_port,
            app: args.app.map_or(AppBehaviour::Unknown, behaviour),
            closed_port: args.closed_port,
            mtu: args.mtu,
            ports: Arc::new(PortAllocator::random()),
        })
    }
}

/// First port the allocator hands out ports from: below it are the well-known ports a target
/// may listen on.
const FIRST_PORT: u32 = 1024;
const PORTS: u32 = 65_536 - FIRST_PORT;

/// Tester ports for a run against a stack that outlives its instances: each port once, in
/// order from a random first one (a rerun does not meet the connections of the last run), over
/// 1024..=65535. A run of the corpus takes about 4,300 (1,000-SYN samples included); past
/// 64,512 the ports come round again, the oldest first.
#[derive(Debug)]
pub struct PortAllocator {
    first: u32,
    next: AtomicU32,
}

impl PortAllocator {
    /// Ports from the `offset`-th of the range on.
    pub fn with_offset(offset: u32) -> PortAllocator {
        PortAllocator {
            first: offset % PORTS,
            next: AtomicU32::new(0),
        }
    }

    pub fn random() -> PortAllocator {
        PortAllocator::with_offset(rand::random::<u32>())
    }

    pub fn next(&self) -> u16 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (FIRST_PORT + (self.first + n) % PORTS) as u16
    }
}

/// `--app`'s value as the target's capability (the clap type stays in `cli.rs`, which then
/// needs nothing of the targets).
fn behaviour(arg: AppArg) -> AppBehaviour {
    match arg {
        AppArg::Echo => AppBehaviour::Echo,
        AppArg::Discard => AppBehaviour::Discard,
        AppArg::Unknown => AppBehaviour::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> LinkArgs {
        LinkArgs {
            iface: Some("veth0".into()),
            target_addrs: vec!["192.0.2.1".parse().expect("ip")],
            local_addrs: vec!["192.0.2.3".parse().expect("ip")],
            open_port: Some(7),
            ..LinkArgs::default()
        }
    }

    #[test]
    fn config_checks() {
        let mut a = args();
        let c = LinkConfig::from_args(&a).expect("valid");
        assert_eq!(c.open_port, Some(7));
        assert_eq!(c.app, AppBehaviour::Unknown);
        a.local_addrs.push("192.0.2.4".parse().expect("ip"));
        assert!(LinkConfig::from_args(&a).is_err());
        a.local_addrs = vec!["192.0.2.1".parse().expect("ip")];
        assert!(LinkConfig::from_args(&a).is_err());
        a.local_addrs = vec!["192.0.2.3".parse().expect("ip")];
        a.agent = Some("192.0.2.1:7100".parse().expect("addr"));
        assert!(LinkConfig::from_args(&a).is_err(), "agent without token");
        a.agent = None;
        a.local_addrs.push("2001:db8::3".parse().expect("ip"));
        assert!(
            LinkConfig::from_args(&a).is_err(),
            "IPv6 local without target"
        );
    }

    #[test]
    fn agentless_needs_a_port() {
        let mut a = args();
        a.open_port = None;
        assert!(LinkConfig::from_args(&a).is_err());
        a.closed_port = Some(1);
        assert!(LinkConfig::from_args(&a).is_ok());
        a.open_port = Some(1);
        assert!(
            LinkConfig::from_args(&a).is_err(),
            "same port open and closed"
        );
        a.open_port = Some(7);
        a.mtu = Some(576);
        assert!(LinkConfig::from_args(&a).is_err());
    }

    #[test]
    fn ports_are_each_used_once_from_the_first() {
        let p = PortAllocator::with_offset(PORTS - 2);
        assert_eq!((p.next(), p.next(), p.next()), (65_534, 65_535, 1024));
        let p = PortAllocator::with_offset(80);
        assert_eq!(p.next(), 1024 + 80);
        let p = PortAllocator::random();
        let ports: std::collections::BTreeSet<u16> = (0..PORTS).map(|_| p.next()).collect();
        assert_eq!(ports.len(), PORTS as usize);
        assert!(ports.iter().all(|&x| x >= 1024));
    }
}
