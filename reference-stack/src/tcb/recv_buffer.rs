//! The receive buffer: in-order octets waiting for RECEIVE, and octets that arrived out of order
//! held in place until the gap before them fills (RFC 9293 3.10.7.4 step 7, SHLD-31), with the
//! SACK blocks that describe them (RFC 2018 4).
//!
//! One contiguous ring of `capacity` octets. From the read position on it holds the `readable`
//! in-order octets, then the receive window (RCV.NXT onward). Out-of-order octets are written at
//! their place in the window, and a small sorted list of ranges (offsets from RCV.NXT) says which
//! places hold data. When a segment fills the gap at RCV.NXT, the ranges it joins become readable
//! without copying.

use crate::wire::{SackBlock, SeqNumber};

/// Octets `start..end` after RCV.NXT are held; `stamp` orders blocks by when they last received
/// a segment (RFC 2018 4: the most recent first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
    stamp: u64,
}

#[derive(Debug, Clone)]
pub struct RecvBuffer {
    /// Allocated (to `capacity` zeroed octets) by the first write: most connections in a
    /// conformance run or a fuzz input never receive data, and zeroing 64 KiB per TCB was the
    /// largest single cost of opening one.
    ring: Vec<u8>,
    capacity: usize,
    /// Ring index of the first readable octet.
    head: usize,
    /// In-order octets not yet read.
    readable: usize,
    /// Out-of-order ranges, sorted, disjoint and not adjacent (adjacent ones are merged).
    ooo: Vec<Range>,
    /// Incremented for every segment stored out of order.
    clock: u64,
}

impl RecvBuffer {
    pub fn new(capacity: usize) -> RecvBuffer {
        RecvBuffer {
            ring: Vec::new(),
            capacity,
            head: 0,
            readable: 0,
            ooo: Vec::new(),
            clock: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// In-order octets not yet read.
    pub fn readable(&self) -> usize {
        self.readable
    }

    /// Octets held out of order.
    pub fn ooo_len(&self) -> usize {
        self.ooo.iter().map(|r| r.end - r.start).sum()
    }

    /// Capacity minus readable: the window that can be offered (out-of-order octets sit inside it).
    pub fn free(&self) -> usize {
        self.capacity() - self.readable
    }

    /// Store `data` whose first octet is `offset` octets after RCV.NXT (0 = in order). Octets past
    /// the free space are dropped. Overlaps with already-held out-of-order octets are fine.
    /// Returns how many octets became readable in order (by how much RCV.NXT advances).
    pub fn insert(&mut self, offset: usize, data: &[u8]) -> usize {
        let free = self.free();
        let end = offset.saturating_add(data.len()).min(free);
        if offset >= end {
            return 0;
        }
        let data = data.get(..end - offset).unwrap_or(data);
        self.write_at(offset, data);
        self.clock += 1;
        self.add_range(offset, end);

        // The gap at RCV.NXT is filled: the first range becomes readable.
        let advance = match self.ooo.first() {
            Some(first) if first.start == 0 => first.end,
            _ => return 0,
        };
        self.ooo.remove(0);
        for r in &mut self.ooo {
            r.start -= advance;
            r.end -= advance;
        }
        self.readable += advance;
        advance
    }

    /// The first part of `offset..offset + len` (offsets after RCV.NXT) already held out of
    /// order, as offsets: octets that arrived twice (RFC 2883 4).
    pub fn held_overlap(&self, offset: usize, len: usize) -> Option<(usize, usize)> {
        let end = offset.saturating_add(len);
        self.ooo
            .iter()
            .find(|r| r.start < end && offset < r.end)
            .map(|r| (r.start.max(offset), r.end.min(end)))
    }

    /// Copies in-order octets into `buf` and frees their space. Returns how many.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable);
        if n == 0 {
            return 0;
        }
        let cap = self.capacity();
        let first = n.min(cap - self.head);
        buf[..first].copy_from_slice(&self.ring[self.head..self.head + first]);
        buf[first..n].copy_from_slice(&self.ring[..n - first]);
        self.head = (self.head + n) % cap;
        self.readable -= n;
        n
    }

    /// Up to `max` SACK blocks as absolute edges given RCV.NXT. RFC 2018 4: the first block holds
    /// the most recently received segment; the rest repeat the most recently reported blocks.
    pub fn sack_blocks(&self, rcv_nxt: SeqNumber, max: usize) -> Vec<SackBlock> {
        let mut ranges = self.ooo.clone();
        ranges.sort_by_key(|r| core::cmp::Reverse(r.stamp));
        ranges
            .iter()
            .take(max)
            .map(|r| SackBlock {
                left: rcv_nxt + r.start,
                right: rcv_nxt + r.end,
            })
            .collect()
    }

    /// Copies `data` into the window at `offset` after RCV.NXT; the caller has bounded it by
    /// `free()`, so the copy wraps at most once and never reaches the readable octets.
    fn write_at(&mut self, offset: usize, data: &[u8]) {
        let cap = self.capacity();
        if cap == 0 {
            return;
        }
        if self.ring.is_empty() {
            self.ring = vec![0; cap];
        }
        let pos = (self.head + self.readable + offset) % cap;
        let first = data.len().min(cap - pos);
        self.ring[pos..pos + first].copy_from_slice(&data[..first]);
        self.ring[..data.len() - first].copy_from_slice(&data[first..]);
    }

    /// Adds `start..end` to the sorted range list, merging every range it overlaps or touches.
    /// The merged range takes the newest stamp: it now contains the latest segment.
    fn add_range(&mut self, start: usize, end: usize) {
        let stamp = self.clock;
        // First range that ends at or after `start` (could merge), first that starts after `end`.
        let lo = self.ooo.partition_point(|r| r.end < start);
        let hi = self.ooo.partition_point(|r| r.start <= end);
        let mut merged = Range { start, end, stamp };
        for r in self.ooo.get(lo..hi).unwrap_or(&[]) {
            merged.start = merged.start.min(r.start);
            merged.end = merged.end.max(r.end);
        }
        self.ooo.splice(lo..hi.max(lo), [merged]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    fn block(l: u32, r: u32) -> SackBlock {
        SackBlock {
            left: SeqNumber(l),
            right: SeqNumber(r),
        }
    }

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0; b.readable()];
        let n = b.read(&mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn in_order_data_is_readable_at_once() {
        let mut b = RecvBuffer::new(16);
        assert_eq!(b.capacity(), 16);
        assert_eq!(b.insert(0, b"hello"), 5);
        assert_eq!(b.readable(), 5);
        assert_eq!(b.free(), 11);
        assert_eq!(b.ooo_len(), 0);
        let mut buf = [0; 3];
        assert_eq!(b.read(&mut buf), 3);
        assert_eq!(&buf, b"hel");
        assert_eq!(b.free(), 14);
        assert_eq!(read_all(&mut b), b"lo");
        assert_eq!(b.read(&mut buf), 0);
    }

    #[test]
    fn out_of_order_segment_is_held_until_the_gap_fills() {
        // SHLD-31: queue segments that arrive ahead of RCV.NXT.
        let mut b = RecvBuffer::new(32);
        assert_eq!(b.insert(3, b"def"), 0);
        assert_eq!(b.readable(), 0);
        assert_eq!(b.ooo_len(), 3);
        // Out-of-order octets sit inside the offered window: it does not shrink.
        assert_eq!(b.free(), 32);
        assert_eq!(b.insert(0, b"abc"), 6);
        assert_eq!(b.ooo_len(), 0);
        assert_eq!(read_all(&mut b), b"abcdef");
    }

    #[test]
    fn several_gaps_fill_in_any_order() {
        let mut b = RecvBuffer::new(64);
        assert_eq!(b.insert(10, b"KLM"), 0);
        assert_eq!(b.insert(4, b"EF"), 0);
        assert_eq!(b.insert(20, b"UV"), 0);
        assert_eq!(b.ooo_len(), 7);
        assert_eq!(b.insert(0, b"ABCD"), 6); // joins EF
        assert_eq!(read_all(&mut b), b"ABCDEF");
        // RCV.NXT moved by 6: KLM is now at offset 4, UV at 14.
        assert_eq!(b.insert(0, b"GHIJ"), 7);
        assert_eq!(read_all(&mut b), b"GHIJKLM");
        assert_eq!(b.ooo_len(), 2);
        assert_eq!(b.insert(0, b"NOPQRST"), 9);
        assert_eq!(read_all(&mut b), b"NOPQRSTUV");
    }

    #[test]
    fn overlapping_and_duplicate_segments() {
        let mut b = RecvBuffer::new(64);
        assert_eq!(b.insert(5, b"fgh"), 0);
        assert_eq!(b.insert(5, b"fgh"), 0); // exact duplicate
        assert_eq!(b.ooo_len(), 3);
        assert_eq!(b.insert(7, b"hijk"), 0); // overlaps the right edge
        assert_eq!(b.insert(3, b"def"), 0); // overlaps the left edge
        assert_eq!(b.ooo_len(), 8);
        assert_eq!(b.insert(4, b"ef"), 0); // inside an existing range
        assert_eq!(b.ooo_len(), 8);
        assert_eq!(b.insert(0, b"abcdefghijklm"), 13); // covers everything held and more
        assert_eq!(read_all(&mut b), b"abcdefghijklm");
        assert_eq!(b.ooo_len(), 0);
    }

    #[test]
    fn one_segment_bridging_two_ranges_merges_them() {
        let mut b = RecvBuffer::new(64);
        b.insert(2, b"c");
        b.insert(6, b"g");
        b.insert(10, b"k");
        assert_eq!(b.ooo_len(), 3);
        assert_eq!(b.insert(3, b"def"), 0); // touches c and g: 2..7
        assert_eq!(
            b.sack_blocks(seq(100), 4),
            vec![block(102, 107), block(110, 111)]
        );
        assert_eq!(b.insert(0, b"ab"), 7);
        assert_eq!(read_all(&mut b), b"abcdefg");
    }

    #[test]
    fn octets_past_the_free_space_are_dropped() {
        let mut b = RecvBuffer::new(8);
        assert_eq!(b.insert(0, b"0123456789"), 8);
        assert_eq!(b.free(), 0);
        assert_eq!(b.insert(0, b"x"), 0);
        assert_eq!(b.insert(100, b"x"), 0);
        assert_eq!(read_all(&mut b), b"01234567");
        // Out of order: only the part inside the window is kept.
        assert_eq!(b.insert(6, b"ghij"), 0);
        assert_eq!(b.ooo_len(), 2);
        assert_eq!(b.insert(0, b"abcdef"), 8);
        assert_eq!(read_all(&mut b), b"abcdefgh");
    }

    #[test]
    fn offsets_at_or_past_capacity_are_ignored() {
        let mut b = RecvBuffer::new(8);
        assert_eq!(b.insert(8, b"x"), 0);
        assert_eq!(b.insert(usize::MAX, b"xyz"), 0);
        assert_eq!(b.insert(usize::MAX - 1, &[0; 16]), 0);
        assert_eq!(b.insert(3, b""), 0);
        assert_eq!(b.ooo_len(), 0);
        assert_eq!(b.readable(), 0);
    }

    #[test]
    fn zero_capacity_never_panics() {
        let mut b = RecvBuffer::new(0);
        assert_eq!(b.insert(0, b"abc"), 0);
        assert_eq!(b.insert(1, b"abc"), 0);
        assert_eq!(b.read(&mut [0; 4]), 0);
        assert_eq!(b.free(), 0);
        assert!(b.sack_blocks(seq(0), 4).is_empty());
    }

    #[test]
    fn wraps_around_the_ring() {
        let mut b = RecvBuffer::new(10);
        let mut next = 0u8;
        let mut expect = 0u8;
        // Stream 1000 octets through a 10-octet ring in uneven steps, some out of order.
        for round in 0..200 {
            let n = 1 + round % 4;
            let chunk: Vec<u8> = (0..n).map(|i| next.wrapping_add(i as u8)).collect();
            if b.free() < chunk.len() {
                for o in read_all(&mut b) {
                    assert_eq!(o, expect);
                    expect = expect.wrapping_add(1);
                }
            }
            if chunk.len() >= 2 {
                // Second half first, then the first half.
                let half = chunk.len() / 2;
                assert_eq!(b.insert(half, &chunk[half..]), 0);
                assert_eq!(b.insert(0, &chunk[..half]), chunk.len());
            } else {
                assert_eq!(b.insert(0, &chunk), 1);
            }
            next = next.wrapping_add(n as u8);
        }
        for o in read_all(&mut b) {
            assert_eq!(o, expect);
            expect = expect.wrapping_add(1);
        }
        assert_eq!(expect, next);
    }

    #[test]
    fn out_of_order_data_across_the_wrap_point() {
        let mut b = RecvBuffer::new(8);
        b.insert(0, b"123456");
        assert_eq!(read_all(&mut b), b"123456"); // head is now at ring index 6
        assert_eq!(b.insert(3, b"defgh"), 0); // ring indices 1..6, after wrapping
        assert_eq!(b.insert(0, b"abc"), 8); // ring indices 6, 7, 0
        assert_eq!(read_all(&mut b), b"abcdefgh");
    }

    #[test]
    fn sack_first_block_is_the_most_recent_segment() {
        // RFC 2018 4: the first block contains the segment that triggered the ACK, the others
        // repeat the most recently reported blocks.
        let mut b = RecvBuffer::new(1000);
        let nxt = seq(5000);
        b.insert(100, &[0; 100]);
        assert_eq!(b.sack_blocks(nxt, 4), vec![block(5100, 5200)]);
        b.insert(300, &[0; 100]);
        assert_eq!(
            b.sack_blocks(nxt, 4),
            vec![block(5300, 5400), block(5100, 5200)]
        );
        b.insert(500, &[0; 100]);
        assert_eq!(
            b.sack_blocks(nxt, 4),
            vec![block(5500, 5600), block(5300, 5400), block(5100, 5200)]
        );
        // A segment extending the oldest block makes that block first.
        b.insert(200, &[0; 50]);
        assert_eq!(
            b.sack_blocks(nxt, 4),
            vec![block(5100, 5250), block(5500, 5600), block(5300, 5400)]
        );
        // `max` limits the count (3 with timestamps in the 40-octet option space).
        assert_eq!(
            b.sack_blocks(nxt, 2),
            vec![block(5100, 5250), block(5500, 5600)]
        );
        assert!(b.sack_blocks(nxt, 0).is_empty());
        // Blocks that became in order are no longer reported.
        b.insert(0, &[0; 100]);
        assert_eq!(b.readable(), 250);
        let nxt = nxt + 250u32;
        assert_eq!(
            b.sack_blocks(nxt, 4),
            vec![block(5500, 5600), block(5300, 5400)]
        );
    }

    #[test]
    fn held_overlap_finds_octets_received_twice() {
        // RFC 2883 4: the duplicate part of a segment, for the D-SACK block.
        let mut b = RecvBuffer::new(1000);
        assert_eq!(b.held_overlap(0, 100), None);
        b.insert(100, &[0; 100]);
        b.insert(300, &[0; 100]);
        assert_eq!(b.held_overlap(100, 100), Some((100, 200)));
        assert_eq!(b.held_overlap(150, 10), Some((150, 160)));
        assert_eq!(b.held_overlap(50, 100), Some((100, 150)));
        assert_eq!(b.held_overlap(180, 200), Some((180, 200)));
        assert_eq!(b.held_overlap(200, 100), None);
        assert_eq!(b.held_overlap(0, 100), None);
        assert_eq!(b.held_overlap(399, 5), Some((399, 400)));
        assert_eq!(b.held_overlap(usize::MAX - 1, 5), None);
    }

    #[test]
    fn sack_edges_wrap_the_sequence_space() {
        let mut b = RecvBuffer::new(100);
        b.insert(10, &[1; 20]);
        let nxt = seq(u32::MAX - 14);
        assert_eq!(b.sack_blocks(nxt, 4), vec![block(u32::MAX - 4, 15)]);
    }

    #[test]
    fn bulk_throughput_is_linear() {
        // 64 MiB through a 64 KiB buffer in 1448-octet segments, every other pair swapped.
        let mut b = RecvBuffer::new(64 * 1024);
        let seg = [7u8; 1448];
        let mut out = vec![0; 64 * 1024];
        let mut total = 0usize;
        while total < 64 << 20 {
            assert_eq!(b.insert(seg.len(), &seg), 0);
            assert_eq!(b.insert(0, &seg), 2 * seg.len());
            total += 2 * seg.len();
            if b.free() < 2 * seg.len() {
                b.read(&mut out);
            }
        }
        assert!(total >= 64 << 20);
    }
}
