//! The packets of a script as `send` and `expect` steps.

use super::*;

impl Conv<'_> {
    pub(super) fn inbound(&mut self, e: &Event, p: &Packet) -> Result<(), Why> {
        if self.out.setup.is_none() {
            if self.fds.values().any(|f| *f != Fd::Fresh) {
                return Err(why("inbound packet", "before any setup".to_string()));
            }
            self.out.setup = Some(format!("{{ closed: {PORT} }}"));
        }
        self.wire = true;
        let syn = p.flags.contains('S');
        let ack = p.flags.contains('.');
        let mut fields = vec![
            format!("flags: {}", flags(&p.flags)),
            format!("seq: {}", p.start),
        ];
        if ack {
            fields.push(format!("ack: {}", p.ack.unwrap_or(0)));
        } else if p.ack.is_some_and(|a| a != 0) {
            return Err(why(
                "packet fields",
                "an acknowledgment number without ACK".to_string(),
            ));
        }
        if let Some(w) = p.win {
            fields.push(format!("win: {w}"));
        }
        if let Some(u) = p.urg.filter(|u| *u != 0) {
            fields.push(format!("urg: {u}"));
        }
        ip_send(&p.ip, &mut fields);
        if let Some(opts) = &p.options {
            let mut list = Vec::new();
            for o in opts {
                if let TcpOption::Mss(m) = o {
                    if syn {
                        self.peer_mss = Some(*m);
                    }
                }
                if let Some(text) = plain_option(o) {
                    list.push(text);
                    continue;
                }
                list.push(match o {
                    TcpOption::Timestamp { val, ecr } => {
                        if syn {
                            self.ts_in = true;
                        }
                        // packetdrill maps an echo to the live TSval of the outbound packet
                        // the script gave that value; only the latest one is known here.
                        let ecr = if !ack || *ecr == 0 && self.last_out_ts_val != Some(0) {
                            ecr.to_string()
                        } else if self.last_out_ts_val == Some(*ecr) {
                            "ts.val".to_string()
                        } else {
                            return Err(why(
                                "TS echo of an earlier segment",
                                format!("ecr {ecr} is not the latest outbound TS val"),
                            ));
                        };
                        format!("ts {val} {ecr}")
                    }
                    TcpOption::Other(o) => return Err(why("TCP option", o.clone())),
                    _ => unreachable!("spelled by plain_option"),
                });
            }
            if !list.is_empty() {
                fields.push(format!("options: [{}]", list.join(", ")));
            }
        } else {
            return Err(why(
                "packet fields",
                "`<...>` on an inbound packet".to_string(),
            ));
        }
        if p.len > 0 {
            // The stream offset of the first octet: the SYN takes sequence number 0.
            let first = u64::from(p.start) + u64::from(syn);
            let offset = first.saturating_sub(1);
            if u64::from(p.len) > MAX_CALL_BYTES {
                return Err(why("payload", format!("{} octets", p.len)));
            }
            if offset % 26 == 0 {
                fields.push(format!("data: {}", p.len));
            } else {
                fields.push(format!(
                    "data: {}",
                    quoted(&String::from_utf8_lossy(&pattern(
                        offset as usize,
                        p.len as usize
                    )))
                ));
            }
            if self.closed && !self.released {
                return Err(why("close(2) before data arrives", String::new()));
            }
            self.in_data_end = self.in_data_end.max(offset + u64::from(p.len));
        }
        self.wait_for(e)?;
        self.step(e.line, format!("send: {{ {} }}", fields.join(", ")));
        Ok(())
    }

    /// The segment size the target sends with: the MSS the handshake agreed, less the
    /// timestamp option when both sides use it (RFC 7323 3.2 puts it in every segment).
    pub(super) fn segment_size(&self) -> u32 {
        let cap = self
            .own_mss
            .unwrap_or(if self.out.ip == Some(6) { 1440 } else { 1460 });
        let mss = self.peer_mss.unwrap_or(536).min(cap);
        mss.saturating_sub(if self.ts_in && self.ts_out { 12 } else { 0 })
    }

    pub(super) fn outbound(&mut self, e: &Event, p: &Packet) -> Result<(), Why> {
        if self.out.setup.is_none() {
            return Err(why("outbound packet", "before any setup".to_string()));
        }
        if u64::from(p.len) > MAX_CALL_BYTES {
            return Err(why("payload", format!("{} octets", p.len)));
        }
        self.wire = true;
        let syn = p.flags.contains('S');
        let mut opts_yaml = None;
        if let Some(opts) = &p.options {
            let mut list = Vec::new();
            for o in opts {
                if let TcpOption::Mss(m) = o {
                    if syn {
                        self.own_mss = Some(*m);
                    }
                }
                if let Some(text) = plain_option(o) {
                    list.push(text);
                    continue;
                }
                list.push(match o {
                    TcpOption::Timestamp { val, .. } => {
                        if syn {
                            self.ts_out = true;
                        }
                        self.last_out_ts_val = Some(*val);
                        // Neither value is compared by default (`--tcp_ts_tick_usecs=0`).
                        "\"ts * *\"".to_string()
                    }
                    TcpOption::Other(o) => return Err(why("TCP option", o.clone())),
                    _ => unreachable!("spelled by plain_option"),
                });
            }
            opts_yaml = Some(format!("options: [{}]", list.join(", ")));
        } else if syn {
            // `<...>` on the target's SYN: its options are unknown, as are timestamps.
            self.ts_out = false;
        }
        let timing = self.timing(e)?;
        let tolerance = |gap: i64| {
            let dynamic = (TOLERANCE_PERCENT / 100.0 * gap as f64) as i64;
            self.tolerance.max(dynamic)
        };
        let waited = std::mem::take(&mut self.pending);
        let (after, within) = match timing {
            None => (0, waited + ANY_TIME_WITHIN_US),
            Some((lo, hi)) => {
                let tol = tolerance(lo);
                ((waited + lo - tol).max(0), waited + hi + tol)
            }
        };
        let size = self.segment_size();
        let pieces: Vec<(u32, u32)> = if p.len > size && size > 0 && !self.strict_segments {
            let mut v = Vec::new();
            let mut off = 0;
            while off < p.len {
                let n = size.min(p.len - off);
                v.push((p.start.wrapping_add(off), n));
                off += n;
            }
            v
        } else {
            vec![(p.start, p.len)]
        };
        let letters = flags(&p.flags);
        let n = pieces.len();
        for (i, (seq, len)) in pieces.into_iter().enumerate() {
            let last = i + 1 == n;
            let mut fields = Vec::new();
            // The reassembled segment has the last piece's flags and the first one's CWR;
            // pieces before the last may carry PSH and FIN or not (packetdrill's
            // verify_packet_fragments).
            let flags_yaml = if n == 1 {
                letters.clone()
            } else {
                let free: &[char] = match (i == 0, last) {
                    (true, _) => &['P', 'F'],
                    (false, true) => &['C'],
                    (false, false) => &['P', 'F', 'C'],
                };
                let has: String = letters.chars().filter(|c| !free.contains(c)).collect();
                let not: Vec<String> = ['S', 'F', 'R', 'P', 'A', 'U', 'E', 'C', 'N']
                    .iter()
                    .filter(|c| !letters.contains(**c) && !free.contains(c))
                    .map(|c| c.to_string())
                    .collect();
                let has = if has.is_empty() { ".".to_string() } else { has };
                format!("{{ has: {has}, not: [{}] }}", not.join(", "))
            };
            fields.push(format!("flags: {flags_yaml}"));
            fields.push(format!("seq: {seq}"));
            if p.flags.contains('.') {
                fields.push(format!("ack: {}", p.ack.unwrap_or(0)));
            }
            fields.push(format!("len: {len}"));
            if let Some(w) = p.win {
                fields.push(format!("win: {w}"));
            }
            if let Some(u) = p.urg.filter(|u| *u != 0) {
                fields.push(format!("urg: {u}"));
            }
            ip_expect(&p.ip, &mut fields);
            if last {
                if let Some(o) = &opts_yaml {
                    fields.push(o.clone());
                }
            }
            if i == 0 {
                if after > 0 {
                    fields.push(format!("after: {}", duration(after)));
                }
                fields.push(format!("within: {}", duration(within.max(1))));
            } else {
                // Back to back after the first piece.
                fields.push(format!("within: {}", duration(self.tolerance.max(1))));
            }
            self.step(e.line, format!("expect: {{ {} }}", fields.join(", ")));
        }
        if n > 1 {
            self.note(
                e.line,
                format!(
                    "{} octets expected as {n} segments of at most {size}",
                    p.len
                ),
            );
        }
        Ok(())
    }
}

pub(super) fn ip_send(ip: &IpInfo, fields: &mut Vec<String>) {
    if let Some(tos) = ip.tos {
        fields.push(format!("tos: {tos}"));
    } else if let Some(ecn) = ip.ecn {
        fields.push(format!("tos: {ecn}"));
    }
    if let Some(ttl) = ip.ttl {
        fields.push(format!("ttl: {ttl}"));
    }
    if let Some(fl) = ip.flow_label {
        fields.push(format!("flow_label: {fl}"));
    }
}

pub(super) fn ip_expect(ip: &IpInfo, fields: &mut Vec<String>) {
    if let Some(tos) = ip.tos {
        fields.push(format!("tos: {tos}"));
    }
    if let Some(ecn) = ip.ecn {
        fields.push(format!("ecn: {ecn}"));
    } else if ip.ect01 {
        fields.push("ecn: \"1..=2\"".into());
    }
    if let Some(ttl) = ip.ttl {
        fields.push(format!("ttl: {ttl}"));
    }
}

/// The case language's spelling of an option that reads the same in both directions; `None`
/// for timestamps (each direction has its own rule) and unknown options.
fn plain_option(o: &TcpOption) -> Option<String> {
    Some(match o {
        TcpOption::Nop => "nop".to_string(),
        TcpOption::Eol => "eol".to_string(),
        TcpOption::Mss(m) => format!("mss {m}"),
        TcpOption::WindowScale(w) => format!("wscale {w}"),
        TcpOption::SackPermitted => "sackOK".to_string(),
        TcpOption::Sack(blocks) => format!(
            "sack {}",
            blocks
                .iter()
                .map(|(l, r)| format!("{l}:{r}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        TcpOption::Timestamp { .. } | TcpOption::Other(_) => return None,
    })
}
