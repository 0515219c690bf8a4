//! `syn_flood`: SYNs from spoofed sources, what the target answers to each, and whether a
//! legitimate client still gets in.

use super::*;
use crate::case::model::{FloodSources, SynFlood, SynReply};
use crate::rng::SplitMix64;
use crate::tcp::flags::{ACK, RST, SYN};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A random source in the documentation ranges of RFC 5737 (198.51.100.0/24) and RFC 3849
/// (2001:db8:ffff::/48, a part of 2001:db8::/32 the tester never uses), with a dynamic port.
fn spoofed_source(rng: &mut SplitMix64, v6: bool) -> SocketAddr {
    let r = rng.next_u64();
    let port = DYNAMIC_FIRST + (r >> 48) as u16 % (u16::MAX - DYNAMIC_FIRST);
    let ip = if v6 {
        let host = rng.next_u64();
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0x0db8,
            0xffff,
            (r >> 16) as u16,
            (host >> 48) as u16,
            (host >> 32) as u16,
            (host >> 16) as u16,
            host as u16,
        ))
    } else {
        // .1 to .254: never the network or broadcast address (MUST-63 drops those).
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + (r % 254) as u8))
    };
    SocketAddr::new(ip, port)
}

/// Counts of a `syn_flood`.
#[derive(Debug, Default)]
struct FloodTally {
    syn_ack: u32,
    rst: u32,
    /// SYN-ACKs seen again for a SYN already answered (the target keeps state for it).
    retransmitted: u32,
    /// Packets to nobody we sent from.
    stray: u32,
}

/// Runs a `syn_flood` step.
pub fn syn_flood(io: &mut Io<'_>, f: &SynFlood) -> Result<(), String> {
    let v6 = io.tester.is_ipv6();
    let mut rng = SplitMix64(u64::from(io.conn.tester_isn) ^ 0x5f3c_0d1e_a5e5_0000);
    // Each SYN's source and sequence number, in order, and the first answer to it.
    let mut sources: Vec<(SocketAddr, u32)> = Vec::with_capacity(f.count as usize);
    let mut index: BTreeMap<SocketAddr, usize> = BTreeMap::new();
    let mut answers: Vec<Option<Observed>> = Vec::with_capacity(f.count as usize);
    let mut tally = FloodTally::default();
    for i in 0..f.count {
        // A repeated source would be a retransmission, not a new SYN: draw again (the IPv4
        // range holds 254 x 16383 sources, so a few draws always suffice).
        let mut src = io.tester;
        for _ in 0..16 {
            src = match f.sources {
                FloodSources::Spoofed => spoofed_source(&mut rng, v6),
                FloodSources::Tester => SocketAddr::new(
                    io.tester.ip(),
                    io.target
                        .fresh_port()
                        .unwrap_or_else(|| nth_port(io.tester.port(), i)),
                ),
            };
            if src != io.tester && !index.contains_key(&src) {
                break;
            }
        }
        if src == io.tester || index.contains_key(&src) {
            continue;
        }
        let seq = rng.next_u64() as u32;
        index.insert(src, sources.len());
        sources.push((src, seq));
        answers.push(None);
        io.inject(&segment(src, io.target_addr, seq, 0, SYN), i < 2)?;
        // Read as we go: a real interface's queue towards the tester is short.
        while let Some((_, o)) = io.receive(Duration::ZERO)? {
            classify(&o, &index, &sources, &mut answers, &mut tally);
        }
    }
    while let Some((_, o)) = io.receive(f.drain)? {
        classify(&o, &index, &sources, &mut answers, &mut tally);
    }
    let sent = sources.len();
    let silent = answers.iter().filter(|a| a.is_none()).count();
    let cookies = if silent == 0 && sent > 1024 && tally.retransmitted == 0 {
        "likely SYN cookies or an unusually large backlog: every SYN answered, no SYN-ACK retransmitted"
    } else if silent > 0 {
        "no SYN cookies: SYNs beyond the backlog were dropped"
    } else {
        "every SYN answered (too few SYNs to tell SYN cookies from a backlog)"
    };
    let summary = format!(
        "syn_flood: {sent} SYNs from {}: {} SYN-ACK, {} RST, {silent} unanswered, {} SYN-ACK retransmissions, {} other packets; {cookies}",
        match f.sources {
            FloodSources::Spoofed => "spoofed sources",
            FloodSources::Tester => "tester ports",
        },
        tally.syn_ack,
        tally.rst,
        tally.retransmitted,
        tally.stray
    );
    io.note(Direction::Note, summary, None);

    // The verdict on each SYN: answered_first, then `others`.
    for (i, answer) in answers.iter().enumerate() {
        let reply = match answer {
            None => SynReply::Silence,
            Some(o) if o.flags & RST != 0 => SynReply::Rst,
            Some(_) => SynReply::SynAck,
        };
        let must_answer = i < f.answered_first as usize;
        let ok = if must_answer {
            reply == SynReply::SynAck
        } else {
            f.others.contains(&reply)
        };
        if !ok {
            let allowed = if must_answer {
                "syn_ack (answered_first)".to_string()
            } else {
                f.others
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            let got = match answer {
                Some(o) => render(o, None),
                None => "nothing".into(),
            };
            let src = sources
                .get(i)
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            return Err(format!(
                "syn_flood SYN {} of {sent} (from {src}): expected {allowed}, got {got} (RFC 9293 3.10.7.2: a SYN to a listening port is answered with a SYN-ACK; when out of resources it may be dropped, never refused with RST)",
                i + 1
            ));
        }
    }

    if let Some(limit) = f.connect_within {
        legit_handshake(io, limit, &index)?;
    }

    // Clean up: reset every half-open connection the flood created (RS-2: <SEQ=ISS+1><RST>),
    // so that the following steps meet a quiet target. With SYN cookies there is nothing to
    // reset and the RST meets the listener, which ignores it (LI-1).
    for ((src, seq), answer) in sources.iter().zip(&answers) {
        if matches!(answer, Some(o) if o.flags & RST == 0) {
            io.inject(
                &segment(*src, io.target_addr, seq.wrapping_add(1), 0, RST),
                false,
            )?;
        }
    }
    // Flush what the target queued towards the flood sources before the resets.
    while let Some((_, o)) = io.receive(Duration::ZERO)? {
        if o.dst == io.tester {
            io.record_received(&o);
            io.note(
                Direction::Note,
                "syn_flood: duplicate segment to the tester discarded".into(),
                None,
            );
        }
    }
    Ok(())
}

fn classify(
    o: &Observed,
    index: &BTreeMap<SocketAddr, usize>,
    sources: &[(SocketAddr, u32)],
    answers: &mut [Option<Observed>],
    tally: &mut FloodTally,
) {
    let Some(&i) = index.get(&o.dst) else {
        tally.stray += 1;
        return;
    };
    let Some((_, seq)) = sources.get(i) else {
        tally.stray += 1;
        return;
    };
    let for_syn = o.ack == seq.wrapping_add(1) && o.flags & ACK != 0;
    let Some(slot) = answers.get_mut(i) else {
        return;
    };
    match slot {
        Some(_) => tally.retransmitted += u32::from(o.flags & SYN != 0),
        None if for_syn || o.flags & RST != 0 => {
            if o.flags & RST != 0 {
                tally.rst += 1;
            } else {
                tally.syn_ack += 1;
            }
            *slot = Some(o.clone());
        }
        None => tally.stray += 1,
    }
}

/// After a flood: the tester's own SYN, retransmitted with RFC 6298 backoff (1 s initial RTO,
/// doubling, at most 60 s, RFC 6298 2.1 and 2.5), must get a SYN-ACK within `limit`. Packets
/// to the flood's sources are discarded meanwhile. The SYN and SYN-ACK go into the trace and
/// the connection view, so the case continues with `send: { flags: A, ack: 1 }`.
fn legit_handshake(
    io: &mut Io<'_>,
    limit: Duration,
    flood: &BTreeMap<SocketAddr, usize>,
) -> Result<(), String> {
    let start = io.target.now();
    let isn = io.conn.tester_isn;
    let syn = segment(io.tester, io.target_addr, isn, 0, SYN);
    let mut rto = Duration::from_secs(1);
    let mut tries = 0u32;
    loop {
        let elapsed = io.target.now().saturating_sub(start);
        if elapsed >= limit {
            return Err(format!(
                "after the flood, {tries} SYNs from the tester got no SYN-ACK within {limit:?} (the target never recovered from the flood; RFC 4987)"
            ));
        }
        io.inject(&syn, true)?;
        io.conn.on_sent(&syn);
        tries += 1;
        let deadline = io.target.now() + rto.min(limit - elapsed);
        while let Some(left) = deadline
            .checked_sub(io.target.now())
            .filter(|d| !d.is_zero())
        {
            let Some((_, o)) = io.receive(left)? else {
                break;
            };
            if o.dst != io.tester {
                if !flood.contains_key(&o.dst) {
                    io.record_received(&o);
                }
                continue;
            }
            io.record_received(&o);
            if o.flags & (SYN | ACK | RST) == SYN | ACK && o.ack == isn.wrapping_add(1) {
                io.conn.on_received(&o);
                io.note(
                    Direction::Note,
                    format!(
                        "syn_flood: the tester's SYN was answered after {:?} ({tries} SYNs sent)",
                        io.target.now().saturating_sub(start)
                    ),
                    None,
                );
                return Ok(());
            }
            return Err(format!(
                "after the flood, the tester's SYN was answered with {} instead of a SYN-ACK with ack {}",
                render(&o, None),
                isn.wrapping_add(1)
            ));
        }
        rto = (rto * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoofed_sources_stay_in_the_documentation_ranges() {
        let mut r = SplitMix64(1);
        for _ in 0..1000 {
            match spoofed_source(&mut r, false).ip() {
                IpAddr::V4(a) => {
                    assert_eq!(&a.octets()[..3], &[198, 51, 100]);
                    assert!(a.octets()[3] != 0 && a.octets()[3] != 255);
                }
                IpAddr::V6(_) => panic!("v4 expected"),
            }
            match spoofed_source(&mut r, true).ip() {
                IpAddr::V6(a) => assert_eq!(&a.segments()[..3], &[0x2001, 0xdb8, 0xffff]),
                IpAddr::V4(_) => panic!("v6 expected"),
            }
        }
    }
}
