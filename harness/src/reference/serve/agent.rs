//! `serve --agent-listen`: the agent protocol's requests performed on the reference stack. The
//! agent's server runs on its own threads and hands each request to the stack loop, which owns
//! the stack.

use crate::agent::protocol::{Request, Response};
use crate::agent::server::Backend;
use crate::app::stack::{state_of, StackApp};
use crate::app::ErrorKind;
use reference_stack::stack::Stack;
use reference_stack::Instant;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

/// How long the agent session waits for the stack loop to answer.
const JOB_TIMEOUT: Duration = Duration::from_secs(5);

/// An agent request for the stack loop, with where to answer.
pub type Job = (Request, Sender<Response>);

/// The agent's backend in `serve`: forwards each request to the stack loop.
pub struct StackBackend {
    pub jobs: Sender<Job>,
}

impl Backend for StackBackend {
    fn call(&mut self, req: &Request) -> Response {
        let (tx, rx) = mpsc::channel();
        if self.jobs.send((req.clone(), tx)).is_err() {
            return Response::Error {
                kind: ErrorKind::Other,
                message: "the stack loop is gone".into(),
            };
        }
        rx.recv_timeout(JOB_TIMEOUT)
            .unwrap_or_else(|_| Response::Error {
                kind: ErrorKind::Other,
                message: "the stack loop did not answer".into(),
            })
    }

    fn reset(&mut self) {
        let _ = self.call(&Request::Reset);
    }
}

/// The agent's sockets on the stack: one listener, one connection, as on a real target.
#[derive(Default)]
pub struct AgentSockets {
    app: StackApp,
}

impl AgentSockets {
    /// One request, on the stack loop's thread.
    pub fn call(&mut self, stack: &mut Stack, now: Instant, req: &Request) -> Response {
        match req {
            Request::Auth { .. } => Response::refused("already authenticated"),
            Request::Reset => {
                self.app.reset(stack, now);
                Response::Ok
            }
            Request::State { local, remote } => Response::State {
                state: Some(state_of(stack, *local, *remote)),
            },
            _ => match req.to_call() {
                Ok(Some(call)) => Response::from_result(self.app.call(stack, now, &call)),
                Ok(None) => Response::refused("not an application call"),
                Err(e) => Response::refused(e),
            },
        }
    }
}
