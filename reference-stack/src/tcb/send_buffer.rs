//! The send buffer: the octets from SND.UNA onward, first sent-but-unacknowledged (the
//! retransmission queue of RFC 9293 3.8.1) and then not yet sent. SEND appends, an acceptable
//! ACK consumes from the front (3.10.7.4 step 5, AK-4), output peeks at any offset.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct SendBuffer {
    data: VecDeque<u8>,
    capacity: usize,
}

impl SendBuffer {
    pub fn new(capacity: usize) -> SendBuffer {
        SendBuffer {
            data: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues as much of `data` as fits; returns how many octets.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.data.extend(&data[..n]);
        n
    }

    /// Octets held: unacknowledged plus unsent.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.data.len())
    }

    /// SND.UNA advanced by `n` data octets; more than `len()` empties the buffer.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.data.len());
        self.data.drain(..n);
    }

    /// Up to `max` octets starting `offset` octets after SND.UNA (empty past the end).
    pub fn peek(&self, offset: usize, max: usize) -> Vec<u8> {
        let mut out = vec![0; max.min(self.len().saturating_sub(offset))];
        let n = self.peek_into(offset, &mut out);
        out.truncate(n);
        out
    }

    /// Like `peek`, into `buf`; returns how many octets were copied.
    pub fn peek_into(&self, offset: usize, buf: &mut [u8]) -> usize {
        let (a, b) = self.data.as_slices();
        let mut copied = 0;
        let mut skip = offset;
        for part in [a, b] {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            let src = &part[skip..];
            skip = 0;
            let n = src.len().min(buf.len() - copied);
            buf[copied..copied + n].copy_from_slice(&src[..n]);
            copied += n;
        }
        copied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_is_bounded_by_capacity() {
        let mut s = SendBuffer::new(8);
        assert!(s.is_empty());
        assert_eq!(s.write(b"hello"), 5);
        assert_eq!(s.len(), 5);
        assert_eq!(s.free(), 3);
        assert_eq!(s.write(b"world"), 3);
        assert_eq!(s.free(), 0);
        assert_eq!(s.write(b"!"), 0);
        assert_eq!(s.peek(0, 100), b"hellowor");
    }

    #[test]
    fn consume_advances_snd_una() {
        let mut s = SendBuffer::new(16);
        s.write(b"abcdefgh");
        s.consume(3);
        assert_eq!(s.len(), 5);
        assert_eq!(s.peek(0, 2), b"de");
        // More than held: the buffer empties, no panic.
        s.consume(100);
        assert!(s.is_empty());
        assert_eq!(s.free(), 16);
        s.consume(1);
        assert!(s.is_empty());
    }

    #[test]
    fn peek_at_offsets() {
        let mut s = SendBuffer::new(16);
        s.write(b"0123456789");
        assert_eq!(s.peek(4, 3), b"456");
        assert_eq!(s.peek(8, 10), b"89");
        assert_eq!(s.peek(10, 10), b"");
        assert_eq!(s.peek(usize::MAX, usize::MAX), b"");
        assert_eq!(s.peek(0, 0), b"");
        // Peeking does not consume: retransmission reads the same octets again.
        assert_eq!(s.peek(0, 4), b"0123");
        assert_eq!(s.len(), 10);
    }

    #[test]
    fn peek_across_the_ring_wrap() {
        let mut s = SendBuffer::new(8);
        let mut next = 0u8;
        let mut una = 0u8;
        for round in 0..100 {
            let chunk: Vec<u8> = (0..(1 + round % 5)).map(|i| next.wrapping_add(i)).collect();
            let n = s.write(&chunk);
            next = next.wrapping_add(n as u8);
            // Every offset and length reads the right octets.
            for off in 0..=s.len() {
                let got = s.peek(off, 8);
                let want: Vec<u8> = (0..(s.len() - off))
                    .map(|i| una.wrapping_add((off + i) as u8))
                    .collect();
                assert_eq!(got, want);
            }
            let ack = s.len().min(3);
            s.consume(ack);
            una = una.wrapping_add(ack as u8);
        }
    }

    #[test]
    fn peek_into_a_short_buffer() {
        let mut s = SendBuffer::new(8);
        s.write(b"abcdef");
        s.consume(4);
        s.write(b"ghijkl"); // wraps in the deque
        let mut buf = [0; 3];
        assert_eq!(s.peek_into(1, &mut buf), 3);
        assert_eq!(&buf, b"fgh");
        assert_eq!(s.peek_into(7, &mut buf), 1);
        assert_eq!(buf[0], b'l');
    }

    #[test]
    fn zero_capacity() {
        let mut s = SendBuffer::new(0);
        assert_eq!(s.write(b"abc"), 0);
        assert_eq!(s.free(), 0);
        assert_eq!(s.peek(0, 10), b"");
        s.consume(5);
    }
}
