//! `tcpconform agent`: performs a case's application calls (listen, accept, connect, write,
//! read, shutdown, close, abort, nodelay) and state queries beside a stack under test, on the
//! harness's request, over a small authenticated control connection.
//!
//! Secure by default: an explicit control address (no wildcard unless `--allow-wildcard`), a
//! shared token compared in constant time, socket calls only on the `--bind-addr` addresses and
//! `--allow-port` ports (no shell, no files), one harness at a time, bounded request and I/O
//! sizes, non-blocking calls only, and every request logged on stderr.

pub mod client;
pub mod protocol;
pub mod server;

use clap::Args;
use server::{OsBackend, Policy, Server, ServerConfig};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// Control address to listen on, e.g. 192.0.2.1:7100 (required; no wildcard by default).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Allow a wildcard control address (0.0.0.0 or ::).
    #[arg(long)]
    pub allow_wildcard: bool,
    /// Read the shared token from this file (first line); otherwise a random one is printed.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// A local address test sockets may bind to (repeatable; at least one).
    #[arg(long = "bind-addr", required = true)]
    pub bind_addrs: Vec<IpAddr>,
    /// A port test sockets may use, locally or as the remote port of a connect (repeatable).
    #[arg(long = "allow-port", required = true)]
    pub ports: Vec<u16>,
    /// A remote address `connect` may name (repeatable; none: no active OPEN).
    #[arg(long = "allow-peer")]
    pub peers: Vec<IpAddr>,
}

/// The token from `--token-file`: its first line, at least [`protocol::MIN_TOKEN_LEN`] long.
pub fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < protocol::MIN_TOKEN_LEN {
        return Err(format!(
            "{}: token shorter than {} characters",
            path.display(),
            protocol::MIN_TOKEN_LEN
        ));
    }
    Ok(token)
}

/// Checks the arguments and builds the server configuration (no socket yet).
pub fn config(args: &AgentArgs) -> Result<ServerConfig, String> {
    if args.listen.ip().is_unspecified() && !args.allow_wildcard {
        return Err(format!(
            "--listen {}: refusing a wildcard control address without --allow-wildcard",
            args.listen
        ));
    }
    if let Some(a) = args
        .bind_addrs
        .iter()
        .find(|a| a.is_unspecified() || a.is_multicast())
    {
        return Err(format!("--bind-addr {a}: must be one unicast address"));
    }
    if args.ports.contains(&0) {
        return Err("--allow-port 0: name real ports".into());
    }
    let token = match &args.token_file {
        Some(p) => read_token(p)?,
        None => protocol::new_token(),
    };
    Ok(ServerConfig {
        token,
        policy: Policy {
            bind_addrs: args.bind_addrs.clone(),
            ports: args.ports.clone(),
            peers: args.peers.clone(),
        },
    })
}

/// `tcpconform agent`: serves until killed.
pub fn run(args: &AgentArgs) -> u8 {
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::USAGE;
        }
    };
    if args.token_file.is_none() {
        println!("token: {}", config.token);
    }
    let server = match Server::bind(args.listen, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: binding {}: {e}", args.listen);
            return crate::exit::USAGE;
        }
    };
    eprintln!(
        "agent: listening on {}; sockets on {:?} ports {:?}; peers {:?}",
        args.listen, args.bind_addrs, args.ports, args.peers
    );
    let stop = AtomicBool::new(false);
    server.run(&mut OsBackend::default(), &stop);
    crate::exit::PASSED
}
