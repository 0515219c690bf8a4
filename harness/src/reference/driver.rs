//! The one driver of the sans-IO reference stack on a real device: a TUN device
//! ([`crate::sys::tun`]) and the system clock. `serve`, the `tun_serve` example, the Linux
//! interoperation test and the TUN benchmark all drive the stack through it.
//!
//! One turn: send what is due, wait for a packet or the next timer, take every packet waiting
//! (what the stack answers to one goes out before the next is read, as in a kernel, so that ACKs
//! are not coalesced over a whole burst), fire the timers that are due.

use crate::sys::tun::Tun;
use reference_stack::stack::Stack;
use reference_stack::Instant;
use std::io;
use std::time::Duration;

/// The largest IP packet a TUN device hands over (an IPv4 or IPv6 length field's limit).
pub const MAX_PACKET: usize = 65_535;

/// Why the driver cannot run on this machine, if it cannot ([`crate::sys::tun::unavailable`]).
pub fn unavailable() -> Option<String> {
    crate::sys::tun::unavailable().map(|why| format!("the TUN driver {why}"))
}

/// The reference stack on a TUN device with a real clock.
pub struct Driver {
    pub stack: Stack,
    pub tun: Tun,
    start: std::time::Instant,
    buf: Vec<u8>,
    /// Packets read from the device, and written to it.
    pub packets_in: u64,
    pub packets_out: u64,
}

impl Driver {
    pub fn new(stack: Stack, tun: Tun) -> Driver {
        Driver {
            stack,
            tun,
            start: std::time::Instant::now(),
            // A little over the largest packet, so that no packet is ever cut short.
            buf: vec![0; MAX_PACKET + 64],
            packets_in: 0,
            packets_out: 0,
        }
    }

    /// The stack's clock: time since the driver started.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// One round: send what is due, wait for a packet or the next timer (at most `max_wait`),
    /// take every packet waiting, fire the timers that are due.
    pub fn turn(&mut self, max_wait: Duration) -> io::Result<()> {
        self.flush()?;
        let now = self.now();
        let wait = match self.stack.poll_timeout() {
            Some(t) => Duration::from_micros(t.total_micros().saturating_sub(now.total_micros())),
            None => max_wait,
        };
        if !self.receive()? {
            self.tun.poll(libc::POLLIN, wait.min(max_wait))?;
            self.receive()?;
        }
        let now = self.now();
        if self.stack.poll_timeout().is_some_and(|t| t <= now) {
            self.stack.handle_timeout(now);
        }
        self.flush()
    }

    /// Every packet waiting on the device; false if there was none. What the stack answers to
    /// one goes out before the next is read.
    pub fn receive(&mut self) -> io::Result<bool> {
        let mut got = false;
        while let Some(n) = self.tun.recv(&mut self.buf)? {
            got = true;
            self.packets_in += 1;
            let now = self.now();
            // Not TCP, not for us, or malformed (the kernel's MLD and router solicitations):
            // dropped, as the stack says.
            let _ = self
                .stack
                .handle_packet(now, self.buf.get(..n).unwrap_or(&[]));
            self.flush()?;
        }
        Ok(got)
    }

    /// Everything the stack has to send, onto the device.
    pub fn flush(&mut self) -> io::Result<()> {
        let now = self.now();
        while let Some(p) = self.stack.poll_transmit(now) {
            match self.tun.send(&p) {
                Ok(()) => self.packets_out += 1,
                // A device queue full for a whole second drops the packet, as a link would.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
