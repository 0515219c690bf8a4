//! `serve`'s built-in application on the ports given with `--listen`: accept every connection,
//! echo or drop what it reads, CLOSE after the peer's FIN.

use crate::cli::ServeApp;
use reference_stack::stack::{SocketHandle, Stack, StackError};
use reference_stack::tcb::ConnError;
use reference_stack::Instant;

/// One connection of the built-in application.
struct Conn {
    handle: SocketHandle,
    /// Read, not yet sent back (echo).
    pending: Vec<u8>,
}

/// The built-in application: its listeners and their connections.
pub struct BuiltinApp {
    kind: ServeApp,
    listeners: Vec<SocketHandle>,
    conns: Vec<Conn>,
}

impl BuiltinApp {
    pub fn new(kind: ServeApp, listeners: Vec<SocketHandle>) -> BuiltinApp {
        BuiltinApp {
            kind,
            listeners,
            conns: Vec::new(),
        }
    }

    /// Accept what is waiting, move data as far as the stack lets it, CLOSE finished
    /// connections.
    pub fn step(&mut self, stack: &mut Stack, now: Instant) {
        for &l in &self.listeners {
            while let Ok(Some(h)) = stack.accept(l) {
                self.conns.push(Conn {
                    handle: h,
                    pending: Vec::new(),
                });
            }
        }
        let mut buf = [0u8; 16 * 1024];
        let kind = self.kind;
        self.conns.retain_mut(|c| {
            loop {
                match stack.recv(c.handle, &mut buf) {
                    Ok(0) => {
                        // End of stream: finish what is owed, then CLOSE.
                        if c.pending.is_empty() || kind == ServeApp::Sink {
                            let _ = stack.close(now, c.handle);
                            return false;
                        }
                        break;
                    }
                    Ok(n) => {
                        if kind == ServeApp::Echo {
                            c.pending.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                        }
                    }
                    Err(StackError::Conn(ConnError::WouldBlock)) => break,
                    Err(_) => {
                        let _ = stack.close(now, c.handle);
                        return false;
                    }
                }
            }
            while !c.pending.is_empty() {
                match stack.send(now, c.handle, &c.pending) {
                    Ok(0) | Err(StackError::Conn(ConnError::WouldBlock)) => break,
                    Ok(n) => {
                        c.pending.drain(..n.min(c.pending.len()));
                    }
                    Err(_) => {
                        let _ = stack.close(now, c.handle);
                        return false;
                    }
                }
            }
            true
        });
        // Events are read from the sockets' states; drop them so they do not pile up.
        while stack.poll_event().is_some() {}
    }
}
