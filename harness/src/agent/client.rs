//! The harness's side of the agent protocol.

use super::protocol::{Request, Response, MAX_LINE};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long the harness waits for the agent to answer one request.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// An authenticated control connection to an agent.
pub struct AgentClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl AgentClient {
    /// Connect and authenticate; an error if the agent refuses the token.
    pub fn connect(addr: SocketAddr, token: &str) -> io::Result<AgentClient> {
        let stream = TcpStream::connect_timeout(&addr, CALL_TIMEOUT)?;
        stream.set_read_timeout(Some(CALL_TIMEOUT))?;
        stream.set_write_timeout(Some(CALL_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut client = AgentClient {
            stream,
            reader,
            addr,
        };
        match client.call(&Request::Auth {
            token: token.to_string(),
        })? {
            Response::Ok => Ok(client),
            Response::Refused { message } => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("agent {addr}: {message}"),
            )),
            other => Err(io::Error::other(format!(
                "agent {addr}: unexpected answer {other:?}"
            ))),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// One request, one response.
    pub fn call(&mut self, req: &Request) -> io::Result<Response> {
        let mut line = serde_json::to_vec(req).map_err(io::Error::other)?;
        line.push(b'\n');
        self.stream.write_all(&line)?;
        self.read_response()
    }

    /// Send raw octets as they are (tests of the agent's refusals).
    pub fn call_raw(&mut self, line: &[u8]) -> io::Result<Response> {
        self.stream.write_all(line)?;
        self.read_response()
    }

    fn read_response(&mut self) -> io::Result<Response> {
        let mut buf = Vec::new();
        let n = self
            .reader
            .by_ref()
            .take((MAX_LINE + 1) as u64)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("agent {} closed the connection", self.addr),
            ));
        }
        serde_json::from_slice(buf.strip_suffix(b"\n").unwrap_or(&buf)).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("agent {}: {e}", self.addr),
            )
        })
    }
}

/// Connect without authenticating (tests of the agent's refusals): the raw stream.
pub fn connect_unauthenticated(addr: SocketAddr) -> io::Result<AgentClient> {
    let stream = TcpStream::connect_timeout(&addr, CALL_TIMEOUT)?;
    stream.set_read_timeout(Some(CALL_TIMEOUT))?;
    let reader = BufReader::new(stream.try_clone()?);
    Ok(AgentClient {
        stream,
        reader,
        addr,
    })
}
