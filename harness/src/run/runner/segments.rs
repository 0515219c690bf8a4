//! The steps about segments: `send` (a case's segment built from its expressions), `expect`
//! (the next segment of the target against what the case expects, field by field),
//! `expect_none`, `one_of` (the allowed variants), and the checks on what arrives (its
//! 4-tuple; the optional features the target offered in its SYN or SYN-ACK).

use super::*;

impl Run<'_> {
    pub(super) fn eval(&self, e: &Expr) -> Result<i64, String> {
        e.eval(&|v| self.conn.var(v)).map_err(|err| {
            self.note_unbound(&err);
            format!("cannot evaluate `{e}`: {err}")
        })
    }

    pub(super) fn value(&self, v: &Value, space: Space) -> Result<u32, String> {
        resolve(v, space, &self.conn)
            .map(|x| x as u32)
            .map_err(|err| {
                self.note_unbound(&err);
                format!("cannot evaluate `{}`: {err}", v.expr())
            })
    }

    /// A case that uses the target's timestamps when the target never sent any: the
    /// instance is not applicable (RFC 7323 timestamps are optional), not failed.
    pub(super) fn note_unbound(&self, err: &EvalError) {
        if matches!(err, EvalError::Unbound(Var::TsVal | Var::TsEcr)) {
            self.unbound_timestamps.set(true);
        }
    }

    /// The optional features the target offered in its SYN or SYN-ACK `o`; the case's
    /// declared needs it did not offer make the instance not applicable.
    pub(super) fn check_offered(&mut self, o: &Observed) -> Result<(), String> {
        if self.offered_checked || o.flags & flags::SYN == 0 || o.flags & flags::RST != 0 {
            return Ok(());
        }
        self.offered_checked = true;
        let what = if o.flags & flags::ACK != 0 {
            "SYN-ACK"
        } else {
            "SYN"
        };
        let has = |f: Feature| {
            match f {
            Feature::Timestamps => o
                .options
                .iter()
                .any(|x| matches!(x, ObservedOption::Timestamps { .. })),
            Feature::WindowScale => o
                .options
                .iter()
                .any(|x| matches!(x, ObservedOption::WindowScale(_))),
            Feature::Sack => o
                .options
                .iter()
                .any(|x| matches!(x, ObservedOption::SackPermitted)),
            // RFC 3168 6.1.1: an ECN-setup SYN carries ECE and CWR, an ECN-setup SYN-ACK ECE
            // alone.
            Feature::Ecn => {
                let (ece, cwr) = (o.flags & flags::ECE != 0, o.flags & flags::CWR != 0);
                if o.flags & flags::ACK != 0 {
                    ece && !cwr
                } else {
                    ece && cwr
                }
            }
            // RFC 7413 4.1.1: a Fast Open option with a cookie (a case asking for one sends a
            // cookie request first; an empty option or none means the target gives none).
            Feature::FastOpen => o.options.iter().any(|x| {
                matches!(x, ObservedOption::Unknown { kind: FAST_OPEN_KIND, data } if !data.is_empty())
            }),
            // RFC 7413 4.1.1: the SYN of an OPEN that asked for Fast Open carries the option,
            // empty (a cookie request) or with a cookie; a stack that sends none does not do
            // Fast Open (optional: RFC 7413 is Experimental).
            Feature::FastOpenClient => {
                o.flags & flags::ACK == 0
                    && o.options
                        .iter()
                        .any(|x| matches!(x, ObservedOption::Unknown { kind: FAST_OPEN_KIND, .. }))
            }
        }
        };
        let missing: Vec<&str> = self
            .needs_offered
            .iter()
            .filter(|f| !has(**f))
            .map(|f| f.name())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let reason = format!(
            "the target's {what} does not offer {} (optional), which the case checks",
            missing.join(", ")
        );
        self.no_verdict = Some(Outcome::NotApplicable {
            reason: reason.clone(),
        });
        Err(reason)
    }

    pub(super) fn spec(&self, s: &Send) -> Result<PacketSpec, String> {
        let ack_flag = s.flags.has(flags::ACK);
        let seq = match &s.seq {
            Some(v) => self.value(v, Space::Tester)?,
            // Default: the next sequence number the tester would send.
            None => self.conn.tester_snd_nxt,
        };
        let ack = match &s.ack {
            Some(v) => self.value(v, Space::Target)?,
            None if ack_flag => self.conn.target_snd_nxt.unwrap_or(0),
            None => 0,
        };
        let u16_of = |name: &str, e: &Option<Expr>, default: u16| -> Result<u16, String> {
            match e {
                None => Ok(default),
                Some(e) => {
                    let v = self.eval(e)?;
                    u16::try_from(v).map_err(|_| format!("{name} `{e}` = {v} does not fit 16 bits"))
                }
            }
        };
        let mut options = Vec::with_capacity(s.options.len());
        for o in &s.options {
            options.push(match o {
                SendOption::Eol => OptionSpec::Eol,
                SendOption::Nop => OptionSpec::Nop,
                SendOption::Mss(m) => OptionSpec::Mss(*m),
                SendOption::WindowScale(w) => OptionSpec::WindowScale(*w),
                SendOption::SackPermitted => OptionSpec::SackPermitted,
                SendOption::Sack(blocks) => {
                    let mut edges = Vec::with_capacity(blocks.len());
                    for (l, r) in blocks {
                        edges.push((self.value(l, Space::Target)?, self.value(r, Space::Target)?));
                    }
                    OptionSpec::Sack(edges)
                }
                SendOption::Timestamps { val, ecr } => OptionSpec::Timestamps {
                    tsval: self.eval(val)? as u32,
                    tsecr: self.eval(ecr)? as u32,
                },
                SendOption::Unknown { kind, data } => OptionSpec::Unknown {
                    kind: *kind,
                    data: data.clone(),
                },
                SendOption::Raw(bytes) => OptionSpec::Raw(bytes.clone()),
                SendOption::FastOpen { cookie: false } => OptionSpec::Unknown {
                    kind: FAST_OPEN_KIND,
                    data: Vec::new(),
                },
                SendOption::FastOpen { cookie: true } => OptionSpec::Unknown {
                    kind: FAST_OPEN_KIND,
                    data: self.conn.target_fastopen_cookie.clone().ok_or(
                        "`tfo cookie`: the target has sent no Fast Open cookie on this case yet",
                    )?,
                },
            });
        }
        let address = |over: Option<std::net::IpAddr>, own: SocketAddr, what: &str| match over {
            Some(a) if a.is_ipv4() != own.is_ipv4() => Err(format!(
                "send.{what} {a} is not of this instance's IP version"
            )),
            Some(a) => Ok(SocketAddr::new(a, own.port())),
            None => Ok(own),
        };
        Ok(PacketSpec {
            src: address(s.src, self.tester, "src")?,
            dst: address(s.dst, self.target_addr, "dst")?,
            seq,
            ack,
            flags: s.flags.0,
            window: u16_of("win", &s.win, 65535)?,
            urgent: u16_of("urg", &s.urg, 0)?,
            reserved: s.reserved,
            options,
            payload: s.payload.clone(),
            data_offset: s.doff,
            checksum: s.checksum,
            ip: s.ip.clone(),
            raw: s.raw.clone(),
        })
    }

    pub(super) fn send(
        &mut self,
        step: &Step,
        index: usize,
        s: &Send,
        win_default: u16,
    ) -> StepResult {
        let mut s = s.clone();
        if s.win.is_none() {
            s.win = Some(Expr::Num(i64::from(win_default)));
        }
        let mut spec = self.spec(&s).map_err(|m| fail(step, index, m))?;
        let mut text = None;
        if let Some(icmp) = &s.icmp {
            // The target's segment, target -> tester, as the ICMP message quotes it.
            let seq = self
                .value(&icmp.seq, Space::Target)
                .map_err(|m| fail(step, index, m))?;
            let quoted = Quoted {
                src: self.target_addr,
                dst: self.tester,
                seq,
            };
            spec.raw = Some(icmp_error(
                self.tester.ip(),
                self.target_addr.ip(),
                (icmp.icmp_type, icmp.code),
                quoted,
                icmp.mtu,
            ));
            let family = if self.tester.is_ipv4() {
                "ICMP"
            } else {
                "ICMPv6"
            };
            let rel = seq.wrapping_sub(self.conn.base(Space::Target));
            let mtu = icmp.mtu.map(|m| format!(" mtu {m}")).unwrap_or_default();
            text = Some(format!(
                "{family} type {} code {}{mtu} quoting {} > {} seq {rel}",
                icmp.icmp_type, icmp.code, self.target_addr, self.tester
            ));
        }
        self.stamp(&mut spec);
        let bytes = build(&spec);
        let text = text.unwrap_or_else(|| match observe(&bytes) {
            Ok(o) => render(&o, self.rel_sent()),
            Err(_) => format!("{} raw octets (not decodable as TCP)", bytes.len()),
        });
        self.note(Direction::Sent, text, Some(bytes.clone()));
        self.target
            .inject(&bytes)
            .map_err(|e| fail(step, index, format!("target error: {e}")))?;
        self.conn.on_sent(&spec);
        self.last_sent = spec.flags;
        self.asserted = None;
        self.owed =
            spec.raw.is_none() && (!spec.payload.is_empty() || spec.flags & flags::FIN != 0);
        Ok(())
    }

    /// Receives and decodes one packet for an expect; `Ok(None)` if nothing came in time.
    pub(super) fn receive_observed(
        &mut self,
        within: Duration,
    ) -> Result<Option<(Duration, Observed)>, String> {
        let Some(r) = self.next_packet(within)? else {
            return Ok(None);
        };
        self.owed = false;
        match observe(&r.packet) {
            Ok(o) => {
                if self.learn_target_port && o.dst == self.tester {
                    self.target_addr = o.src;
                    self.learn_target_port = false;
                }
                if let Err(reason) = self.check_offered(&o) {
                    self.note(
                        Direction::Received,
                        render(&o, rel_for(&self.conn)),
                        Some(o.raw.clone()),
                    );
                    return Err(reason);
                }
                Ok(Some((r.at, o)))
            }
            Err(e) => {
                self.note(
                    Direction::Received,
                    format!("undecodable packet: {e}"),
                    Some(r.packet),
                );
                Err(format!(
                    "the target sent a packet that is not valid IP/TCP: {e}"
                ))
            }
        }
    }

    /// Checks a received packet against an expect, including arrival time.
    pub(super) fn judge(
        &self,
        e: &Expect,
        at: Duration,
        start: Duration,
        got: &Observed,
    ) -> (Comparison, ConnView) {
        let mut view = self.conn.clone();
        view.learn_isn(got);
        let mut verdict = matching::check(e, got, &view);
        // The segment must be of the instance's own connection: from the target's address and
        // port (once known) to the tester's.
        let from_target = got.src == self.target_addr
            || (self.learn_target_port && got.src.ip() == self.target_addr.ip());
        if !from_target || got.dst != self.tester {
            verdict.rows.push(matching::Row {
                field: "ports",
                expected: format!("{} > {}", self.target_addr, self.tester),
                ok: false,
            });
        }
        if let Some(after) = e.after {
            let elapsed = at.saturating_sub(start);
            verdict.rows.push(matching::Row {
                field: "time",
                expected: format!("not before {after:?} (came after {elapsed:?})"),
                ok: elapsed >= after,
            });
        }
        if let Some((lo, hi)) = e.interval {
            let elapsed = at.saturating_sub(start);
            let (ok, expected) = match self.last_wait {
                Some(prev) if !prev.is_zero() => {
                    let ratio = elapsed.as_secs_f64() / prev.as_secs_f64();
                    (
                        (lo..=hi).contains(&ratio),
                        format!(
                            "{lo}x..{hi}x the previous wait of {prev:?} (came after \
                             {elapsed:?}: {ratio:.2}x)"
                        ),
                    )
                }
                _ => (
                    false,
                    "a multiple of the previous wait, and no earlier expect waited".to_string(),
                ),
            };
            verdict.rows.push(matching::Row {
                field: "time",
                expected,
                ok,
            });
        }
        (verdict, view)
    }

    /// Expected vs received, field by field; an options mismatch adds a row per option
    /// sub-field, a data mismatch shows the received payload.
    pub(super) fn segment_diff(
        &self,
        e: &Expect,
        verdict: &Comparison,
        got: &Observed,
        view: &ConnView,
    ) -> SegmentDiff {
        let mut expected: Vec<(String, String)> = verdict.expected_pairs();
        expected.retain(|(f, _)| f != "time");
        let differing = verdict.differing();
        let rows = diff_rows(&expected, got, rel_for(view), |name, _, _| {
            differing.contains(&name)
        });
        let mut fields = Vec::with_capacity(rows.len());
        for (field, expected, received, differs) in rows {
            let options = field == "options" && differs;
            fields.push(FieldDiff {
                field,
                expected,
                received,
                differs,
            });
            if options {
                fields.extend(
                    matching::option_details(&e.options, got, view)
                        .into_iter()
                        .map(|d| FieldDiff {
                            field: d.field,
                            expected: d.expected,
                            received: d.received,
                            differs: !d.ok,
                        }),
                );
            }
        }
        let note = verdict
            .rows
            .iter()
            .find(|r| r.field == "time" && !r.ok)
            .map(|t| format!("time: expected {}", t.expected));
        SegmentDiff {
            variant: None,
            fields,
            note,
        }
    }

    pub(super) fn accept_received(&mut self, got: &Observed) {
        self.conn.on_received(got);
        let text = render(got, self.rel_received());
        self.note(Direction::Received, text, Some(got.raw.clone()));
    }

    pub(super) fn expect(
        &mut self,
        step: &Step,
        index: usize,
        e: &Expect,
        within_default: Duration,
    ) -> StepResult {
        let within = e.within.unwrap_or(within_default);
        let start = self.target.now();
        let got = self
            .receive_observed(within)
            .map_err(|m| fail(step, index, m))?;
        let Some((at, got)) = got else {
            self.note(
                Direction::Note,
                format!("nothing received within {within:?}"),
                None,
            );
            return Err(fail(
                step,
                index,
                format!(
                    "expected {} within {within:?}, got nothing",
                    matching::summary(e, &self.conn)
                ),
            ));
        };
        let (verdict, view) = self.judge(e, at, self.origin.unwrap_or(start), &got);
        if verdict.matched() {
            self.last_wait = Some(at.saturating_sub(self.origin.unwrap_or(start)));
            self.taken = Some((got.clone(), self.conn.clone()));
            self.accept_received(&got);
            self.silence = None;
            return Ok(());
        }
        let diff = self.segment_diff(e, &verdict, &got, &view);
        let got_text = render(&got, rel_for(&view));
        self.conn.on_received(&got);
        self.note(Direction::Received, got_text.clone(), Some(got.raw.clone()));
        let mut f = fail(
            step,
            index,
            format!(
                "expected {}, got {got_text} (differs in {})",
                matching::summary(e, &view),
                verdict.differing().join(", ")
            ),
        );
        f.diff = vec![diff];
        Err(f)
    }

    /// An `expect_also`: the segment the previous `expect` took, judged again by this step's
    /// matchers (and at its level), against the connection as it was before that segment.
    pub(super) fn expect_also(&mut self, step: &Step, index: usize, e: &Expect) -> StepResult {
        let Some((got, before)) = self.taken.clone() else {
            return Err(fail(
                step,
                index,
                "expect_also has no segment to look at: the previous expect took none",
            ));
        };
        let mut view = before;
        view.learn_isn(&got);
        let verdict = matching::check(e, &got, &view);
        if verdict.matched() {
            return Ok(());
        }
        let diff = self.segment_diff(e, &verdict, &got, &view);
        let got_text = render(&got, rel_for(&view));
        let wanted: Vec<String> = verdict
            .rows
            .iter()
            .filter(|r| !r.ok)
            .map(|r| format!("{} {}", r.field, r.expected))
            .collect();
        let mut f = fail(
            step,
            index,
            format!(
                "expected the same segment to have {}, got {got_text}",
                wanted.join(", ")
            ),
        );
        f.diff = vec![diff];
        Err(f)
    }

    pub(super) fn expect_none(&mut self, step: &Step, index: usize, d: Duration) -> StepResult {
        match self.receive_observed(d).map_err(|m| fail(step, index, m))? {
            None => {
                self.note(
                    Direction::Note,
                    format!("nothing received for {d:?}, as expected"),
                    None,
                );
                self.silence = Some((step.clone(), index));
                // An ACK the target owed would have come within 0.5 s (MUST-40).
                if d >= Duration::from_millis(500) {
                    self.owed = false;
                }
                Ok(())
            }
            Some((_, got)) => {
                let text = render(&got, self.rel_received());
                self.accept_received(&got);
                Err(fail(
                    step,
                    index,
                    format!("expected no segment for {d:?}, got {text}"),
                ))
            }
        }
    }
}
