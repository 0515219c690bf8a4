//! `tcpconform agent`: performs a case's application calls (listen, accept, connect, write,
//! read, shutdown, close, abort, nodelay) and state queries beside a stack under test, on the
//! harness's request, over a small authenticated control connection.
//!
//! Secure by default: an explicit control address (no wildcard in any spelling unless
//! `--allow-wildcard`), a shared token compared in constant time, socket calls only on the
//! `--bind-addr` addresses and `--allow-port` ports (no shell, no files), one harness at a time
//! and only one that authenticated (within seconds), bounded request and I/O sizes, deadlines on
//! every stage of a connection, non-blocking calls only, and every request logged on stderr,
//! escaped. The threat model and the tests of each promise: `docs/SECURITY.md`.

pub mod address;
pub mod client;
pub mod protocol;
pub mod server;
pub mod session;

use clap::Args;
use server::{OsBackend, Policy, Server, ServerConfig};
use session::Timeouts;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// Control address to listen on, e.g. 192.0.2.1:7100 (required; no wildcard by default).
    #[arg(long, value_parser = address::parse_socket_addr)]
    pub listen: SocketAddr,
    /// Allow a wildcard control address (0.0.0.0 or ::).
    #[arg(long)]
    pub allow_wildcard: bool,
    /// Read the shared token from this file (first line); otherwise a random one is printed.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// A local address test sockets may bind to (repeatable; at least one; no wildcard).
    #[arg(long = "bind-addr", required = true, value_parser = address::parse_ip)]
    pub bind_addrs: Vec<IpAddr>,
    /// A port test sockets may use, locally or as the remote port of a connect (repeatable).
    #[arg(long = "allow-port", required = true)]
    pub ports: Vec<u16>,
    /// A remote address `connect` may name (repeatable; none: no active OPEN).
    #[arg(long = "allow-peer", value_parser = address::parse_ip)]
    pub peers: Vec<IpAddr>,
    /// A new control connection must authenticate within this long, or it is closed; until
    /// then it holds nothing.
    #[arg(long, default_value = "5s", value_parser = parse_timeout)]
    pub auth_timeout: Duration,
    /// A request line, once begun, must end within this long (and each response be taken
    /// within it), or the session ends.
    #[arg(long, default_value = "5s", value_parser = parse_timeout)]
    pub line_timeout: Duration,
    /// A session with no request for this long ends, its sockets aborted. Keep it above the
    /// harness's --max-case-time (60s by default): a case may wait that long between calls.
    #[arg(long, default_value = "120s", value_parser = parse_timeout)]
    pub idle_timeout: Duration,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match crate::case::model::parse_duration(s)? {
        d if d.is_zero() => Err(format!("{s}: a timeout must be longer than zero")),
        d => Ok(d),
    }
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
    // The parsers have normalised every address (IPv4-mapped to IPv4): the checks see
    // the address a socket would be bound to.
    if address::is_wildcard(args.listen.ip()) && !args.allow_wildcard {
        return Err(format!(
            "--listen {}: refusing a wildcard control address without --allow-wildcard",
            args.listen
        ));
    }
    for (flag, addrs) in [
        ("--bind-addr", &args.bind_addrs),
        ("--allow-peer", &args.peers),
    ] {
        for a in addrs {
            if let Some(what) = address::not_unicast(*a) {
                return Err(format!("{flag} {a}: {what}; name one unicast address"));
            }
        }
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
        timeouts: Timeouts {
            auth: args.auth_timeout,
            line: args.line_timeout,
            idle: args.idle_timeout,
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
        "agent: listening on {}; sockets on {:?} ports {:?}; peers {:?}; timeouts: auth {:?}, \
         line {:?}, idle {:?}",
        args.listen,
        args.bind_addrs,
        args.ports,
        args.peers,
        args.auth_timeout,
        args.line_timeout,
        args.idle_timeout
    );
    let stop = AtomicBool::new(false);
    server.run(&mut OsBackend::default(), &stop);
    crate::exit::PASSED
}
