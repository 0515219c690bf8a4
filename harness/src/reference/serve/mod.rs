//! `tcpconform serve`: the reference stack as a real stack on a TUN device, with a real clock,
//! so that it can be tested over `--target link` like any foreign stack (or talked to by any
//! TCP client in the same namespace).
//!
//! The kernel's side of the TUN device gets `--kernel-addr`; the stack answers at `--addr`.
//! Ports given with `--listen` are served by a built-in application (`app.rs`: echo or sink);
//! with `--agent-listen` the process also obeys the agent protocol ([`crate::agent`], `agent.rs`)
//! for a case's application calls, with the same checks as `tcpconform agent`. `--netns NAME`
//! runs all of it inside an existing named namespace (`ip netns add NAME`), never touching the
//! caller's. The stack runs on the one [`driver`](super::driver).

mod agent;
mod app;

use super::driver::Driver;
use crate::agent::server::{Policy, Server, ServerConfig};
use crate::cli::ServeArgs;
use crate::sys::netns;
use crate::sys::tun::Tun;
use agent::{AgentSockets, Job, StackBackend};
use app::BuiltinApp;
use reference_stack::stack::Stack;
use reference_stack::Config;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

/// Longest sleep of one turn of the loop (agent requests are answered at least this often).
const TURN: Duration = Duration::from_millis(2);

/// Move the whole (still single-threaded) process into the named namespace.
fn enter_named_netns(name: &str) -> io::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && name != "."
        && name != "..";
    if !valid {
        return Err(io::Error::other(format!("bad namespace name {name:?}")));
    }
    let ns = std::fs::File::open(format!("/run/netns/{name}"))
        .map_err(|e| io::Error::new(e.kind(), format!("namespace {name}: {e}")))?;
    netns::enter(&ns)
}

/// The device `--iface`: attached to as it is if it exists, else created with the MTU of the
/// largest IP packet (so that a case may send a segment larger than the stack's MTU) and the
/// kernel's addresses.
fn open_device(args: &ServeArgs) -> io::Result<Tun> {
    let existed = Tun::exists(&args.iface);
    let tun = Tun::open(&args.iface)?;
    if !existed {
        tun.configure(Some(super::driver::MAX_PACKET), &args.kernel_addrs)?;
    }
    Ok(tun)
}

fn agent_config(args: &ServeArgs) -> Result<Option<(SocketAddr, ServerConfig)>, String> {
    let Some(addr) = args.agent_listen else {
        return Ok(None);
    };
    if crate::agent::address::is_wildcard(addr.ip()) {
        return Err(format!(
            "--agent-listen {addr}: refusing a wildcard control address"
        ));
    }
    let token = match &args.agent_token_file {
        Some(p) => crate::agent::read_token(p)?,
        None => {
            let t = crate::agent::protocol::new_token();
            println!("token: {t}");
            t
        }
    };
    Ok(Some((
        addr,
        ServerConfig {
            token,
            policy: Policy {
                bind_addrs: args.addrs.clone(),
                ports: args.allow_ports.clone(),
                peers: args.allow_peers.clone(),
            },
            timeouts: Default::default(),
        },
    )))
}

/// `tcpconform serve`: runs until SIGINT or SIGTERM (then closes its device and exits with
/// 130 or 143, see [`crate::interrupt`]) or killed.
pub fn run(args: &ServeArgs) -> u8 {
    match serve(args) {
        Ok(()) => crate::exit::PASSED,
        Err(e) => {
            eprintln!("error: serve: {e}");
            crate::exit::USAGE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    crate::target::sweep::sweep_and_report();
    let agent = agent_config(args)?;
    // Before any thread exists, so that every thread is in the namespace.
    if let Some(ns) = &args.netns {
        enter_named_netns(ns).map_err(|e| e.to_string())?;
    }
    let tun = open_device(args).map_err(|e| format!("{}: {e}", args.iface))?;
    let config = Config {
        mtu: args.mtu,
        ..super::config(args.reference_profile)
    };
    let mut d = Driver::new(Stack::new(config), tun);
    let mut listeners = Vec::new();
    for &port in &args.listen {
        for &a in &args.addrs {
            let h = d
                .stack
                .listen(SocketAddr::new(a, port))
                .map_err(|e| format!("listen on {a} port {port}: {e}"))?;
            listeners.push(h);
        }
    }
    let mut app = BuiltinApp::new(args.app, listeners);
    let mut agent_sockets = AgentSockets::default();
    let (tx, jobs) = mpsc::channel::<Job>();
    let _agent = match agent {
        None => None,
        Some((addr, config)) => {
            let server = Server::bind(addr, config).map_err(|e| format!("agent on {addr}: {e}"))?;
            Some(
                server
                    .spawn(Box::new(StackBackend { jobs: tx }))
                    .map_err(|e| e.to_string())?,
            )
        }
    };
    eprintln!(
        "serve: reference stack at {:?} on {} ({}), listening on {:?} ({:?}){}",
        args.addrs,
        args.iface,
        args.netns
            .as_deref()
            .map_or("this namespace".to_string(), |n| format!("namespace {n}")),
        args.listen,
        args.app,
        args.agent_listen
            .map_or(String::new(), |a| format!(", agent on {a}")),
    );
    // A turn sleeps at most `TURN`, so a signal is noticed within that. Leaving drops the
    // agent (its sockets are aborted) and then the device, which vanishes if serve made it.
    while !crate::interrupt::requested() {
        d.turn(TURN).map_err(|e| format!("{}: {e}", args.iface))?;
        let now = d.now();
        app.step(&mut d.stack, now);
        while let Ok((req, reply)) = jobs.try_recv() {
            // Segments the harness injected before this request are on the device already:
            // handle them first, so that the request sees their effect (a state query right
            // after an ACK must see the ACK).
            d.receive().map_err(|e| format!("{}: {e}", args.iface))?;
            let now = d.now();
            let _ = reply.send(agent_sockets.call(&mut d.stack, now, &req));
        }
    }
    eprintln!("serve: interrupted, closing {}", args.iface);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_plain() {
        assert!(enter_named_netns("../etc").is_err());
        assert!(enter_named_netns("").is_err());
        assert!(enter_named_netns("a/b").is_err());
    }
}
