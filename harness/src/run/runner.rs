//! Runs one case instance (a case on one IP version) against a target, step by step, and
//! returns its [`CaseResult`]. The runner owns the tester's side of the connection: its ISN, its
//! port, and the [`ConnView`] of the target's variables learned from the wire.

use super::conn::ConnView;
use super::event::{
    CaseResult, Choice, Direction, Failure, IpVersion, Outcome, TraceEntry, Verdict,
};
use super::fit;
use super::matching::{self, resolve, Comparison};
use super::probe::{self, Expectation, Finding};
use super::stats;
use crate::app::{AppCall, AppResult, ErrorKind};
use crate::case::expr::{EvalError, Expr, Space, Var};
use crate::case::model::{
    Assumption, Branch, Call, CallError, CallKind, Case, Expect, Level, ReadExpect, Send,
    SendOption, Setup, Shutdown, Step, StepKind, Value,
};
use crate::case::needs::{Feature, Need};
use crate::packet::build::{build, icmp_error};
use crate::packet::diff::field_table_marked;
use crate::packet::observe::observe;
use crate::packet::render::{render, Relative};
use crate::packet::spec::{Observed, ObservedOption, OptionSpec, PacketSpec};
use crate::target::{Application, FixedApp, Received, Target};
use crate::tcp::{flags, TcpState};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant as WallClock};

/// How long a state probe waits for its answer.
const PROBE_WAIT: Duration = Duration::from_secs(1);
/// How long the end of a case in SYN-SENT waits for the next SYN retransmission: past the
/// initial RTO (RFC 6298 2.1: 1 s) and its first doubling.
const SYN_RETRANSMISSION_WAIT: Duration = Duration::from_secs(3);

/// Port the reference target connects from in `setup: connect` (a real kernel picks its own;
/// the runner learns it from the SYN either way).
const ACTIVE_OPEN_PORT: u16 = 49_152;

/// Per-instance randomness: the tester's ISN and port. `seed` comes from the run, so a run can
/// be repeated exactly (`--seed`).
#[derive(Debug, Clone, Copy)]
pub struct InstanceSeed(pub u64);

impl InstanceSeed {
    fn next(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.0)
    }
}

struct Run<'t> {
    target: &'t mut dyn Target,
    conn: ConnView,
    tester: SocketAddr,
    target_addr: SocketAddr,
    trace: Vec<TraceEntry>,
    variants: Vec<String>,
    choices: Vec<Choice>,
    /// A packet received while choosing a `one_of` branch that belongs to a later step.
    /// Packets received out of turn (while choosing a `one_of` branch, or while waiting for a
    /// probe's answer), for the next steps, oldest first.
    pushback: VecDeque<Received>,
    /// `setup: connect`: the target picks its own port; learn it from its first segment.
    learn_target_port: bool,
    /// Set when the instance ends without a verdict on the case: the target cannot perform a
    /// step at all ([`Target::cannot`], skipped), or did not offer an optional feature the
    /// case checks (not applicable).
    no_verdict: Option<Outcome>,
    /// The target's application when the harness does not drive it (agentless `link`).
    fixed: Option<FixedApp>,
    /// The optional features the case needs the target to offer (`needs:`), checked against
    /// the target's first SYN or SYN-ACK.
    needs_offered: Vec<Feature>,
    offered_checked: bool,
    /// An expression needed `ts.val`/`ts.ecr` before the target sent a timestamp.
    unbound_timestamps: std::cell::Cell<bool>,
    /// The last step that passed on silence (an `expect_none`) with nothing seen of the target
    /// since: a verdict resting on it needs proof that the target is alive and as expected.
    silence: Option<(Step, usize)>,
    /// The state the last `state:` step asserted, while nothing the tester did since can have
    /// moved it (no segment sent, no call that succeeded).
    asserted: Option<TcpState>,
    /// Rule reports of the reference stack taken before a probe (the probe's own are dropped).
    kept_rules: Vec<reference_stack::Rule>,
    /// The tester's last segment carried data or a FIN and nothing came back since: the
    /// target may owe an ACK.
    owed: bool,
    /// Keep-alives are on: no probe may restart their timer.
    keepalive: bool,
    /// The IPv4 identification of the next packet, per instance (from the seed).
    ident: u16,
}

type StepResult = Result<(), Failure>;

/// The failure of `step`, at the step's level (the loader gives every step one).
fn fail(step: &Step, index: usize, message: impl Into<String>) -> Failure {
    Failure {
        step: index,
        line: Some(step.loc.line),
        message: format!("{}: {}", step.loc, message.into()),
        diff: None,
        baseline: None,
        level: step.level.unwrap_or(Level::Must),
    }
}

impl Run<'_> {
    /// What the statistical steps (`isn_sample`, `syn_flood`) drive the target through.
    fn stats_io(&mut self) -> stats::Io<'_> {
        stats::Io {
            target: &mut *self.target,
            conn: &mut self.conn,
            tester: self.tester,
            target_addr: self.target_addr,
            trace: &mut self.trace,
            ident: &mut self.ident,
        }
    }

    /// The IPv4 identification for the instance's next packet that names none.
    fn stamp(&mut self, spec: &mut PacketSpec) {
        if spec.ip.ident.is_none() {
            spec.ip.ident = Some(self.ident);
            self.ident = self.ident.wrapping_add(1);
        }
    }

    fn note(&mut self, direction: Direction, text: String, packet: Option<Vec<u8>>) {
        self.stats_io().note(direction, text, packet);
    }

    /// Bases to show a packet from the target relative to both ISNs.
    fn rel_received(&self) -> Option<Relative> {
        rel_for(&self.conn)
    }

    fn rel_sent(&self) -> Option<Relative> {
        Some(Relative {
            seq_base: self.conn.tester_isn,
            ack_base: self.conn.base(Space::Target),
        })
    }

    fn next_packet(&mut self, within: Duration) -> Result<Option<Received>, String> {
        if let Some(p) = self.pushback.pop_front() {
            return Ok(Some(p));
        }
        self.target
            .receive(within)
            .map_err(|e| format!("target error: {e}"))
    }

    fn eval(&self, e: &Expr) -> Result<i64, String> {
        e.eval(&|v| self.conn.var(v)).map_err(|err| {
            self.note_unbound(&err);
            format!("cannot evaluate `{e}`: {err}")
        })
    }

    fn value(&self, v: &Value, space: Space) -> Result<u32, String> {
        resolve(v, space, &self.conn)
            .map(|x| x as u32)
            .map_err(|err| {
                self.note_unbound(&err);
                format!("cannot evaluate `{}`: {err}", v.expr())
            })
    }

    /// A case that uses the target's timestamps when the target never sent any: the
    /// instance is not applicable (RFC 7323 timestamps are optional), not failed.
    fn note_unbound(&self, err: &EvalError) {
        if matches!(err, EvalError::Unbound(Var::TsVal | Var::TsEcr)) {
            self.unbound_timestamps.set(true);
        }
    }

    /// The optional features the target offered in its SYN or SYN-ACK `o`; the case's
    /// declared needs it did not offer make the instance not applicable.
    fn check_offered(&mut self, o: &Observed) -> Result<(), String> {
        if self.offered_checked || o.flags & flags::SYN == 0 || o.flags & flags::RST != 0 {
            return Ok(());
        }
        self.offered_checked = true;
        let what = if o.flags & flags::ACK != 0 {
            "SYN-ACK"
        } else {
            "SYN"
        };
        let has = |f: Feature| match f {
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

    fn spec(&self, s: &Send) -> Result<PacketSpec, String> {
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
            });
        }
        Ok(PacketSpec {
            src: self.tester,
            dst: self.target_addr,
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

    fn send(&mut self, step: &Step, index: usize, s: &Send, win_default: u16) -> StepResult {
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
            spec.raw = Some(icmp_error(
                self.tester.ip(),
                self.target_addr.ip(),
                icmp.icmp_type,
                icmp.code,
                self.target_addr,
                self.tester,
                seq,
            ));
            let family = if self.tester.is_ipv4() {
                "ICMP"
            } else {
                "ICMPv6"
            };
            let rel = seq.wrapping_sub(self.conn.base(Space::Target));
            text = Some(format!(
                "{family} type {} code {} quoting {} > {} seq {rel}",
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
        self.asserted = None;
        self.owed =
            spec.raw.is_none() && (!spec.payload.is_empty() || spec.flags & flags::FIN != 0);
        Ok(())
    }

    /// Receives and decodes one packet for an expect; `Ok(None)` if nothing came in time.
    fn receive_observed(
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
    fn judge(
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
        (verdict, view)
    }

    fn diff_text(&self, verdict: &Comparison, got: &Observed, view: &ConnView) -> String {
        let rel = rel_for(view);
        let mut rows: Vec<(String, String)> = verdict.expected_pairs();
        rows.retain(|(f, _)| f != "time");
        let differing = verdict.differing();
        let mut text = field_table_marked(&rows, got, rel, &differing);
        if let Some(t) = verdict.rows.iter().find(|r| r.field == "time" && !r.ok) {
            text.push_str(&format!("\n  time: expected {}", t.expected));
        }
        text
    }

    fn accept_received(&mut self, got: &Observed) {
        self.conn.on_received(got);
        let text = render(got, self.rel_received());
        self.note(Direction::Received, text, Some(got.raw.clone()));
    }

    fn expect(
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
        let (verdict, view) = self.judge(e, at, start, &got);
        if verdict.matched() {
            self.accept_received(&got);
            self.silence = None;
            return Ok(());
        }
        let diff = self.diff_text(&verdict, &got, &view);
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
        f.diff = Some(diff);
        Err(f)
    }

    fn expect_none(&mut self, step: &Step, index: usize, d: Duration) -> StepResult {
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

    /// An `assume:` step: where the condition does not hold for this target, the rest of the
    /// case has nothing to check here, and the instance is not applicable.
    fn assume(&mut self, step: &Step, index: usize, a: &Assumption) -> StepResult {
        let left = self.eval(&a.left).map_err(|m| fail(step, index, m))?;
        let right = self.eval(&a.right).map_err(|m| fail(step, index, m))?;
        if a.op.holds(left, right) {
            self.note(Direction::Note, format!("assume {}: holds", a.text), None);
            return Ok(());
        }
        let reason = format!(
            "the case assumes {}, which does not hold for this target ({left} against {right})",
            a.text
        );
        self.note(Direction::Note, reason.clone(), None);
        self.no_verdict = Some(Outcome::NotApplicable {
            reason: reason.clone(),
        });
        Err(fail(step, index, reason))
    }

    /// A case whose steps all passed, the last of them on silence: before it passes, the
    /// target must show on the wire that it is alive and in the state the case left it in (the
    /// last state asserted after the silence, else the one the exchange implies). If it cannot,
    /// the instance is inconclusive — a dead target would have passed too.
    fn after_silence(&mut self) -> StepResult {
        let Some((step, index)) = self.silence.take() else {
            return Ok(());
        };
        let exp = self
            .asserted
            .map(Expectation::of)
            .or_else(|| self.conn.presumed());
        let Some(exp) = exp else {
            let reason = format!(
                "the verdict rests on the silence at line {}: nothing the target sent after it \
                 shows it alive, and the exchange leaves its state open to a probe",
                step.loc.line
            );
            self.no_verdict = Some(Outcome::Inconclusive {
                reason: reason.clone(),
            });
            return Err(fail(&step, index, reason));
        };
        match self.probe(&step, index, exp, true)? {
            Finding::Confirmed(shows) => {
                self.note(Direction::Note, format!("after the silence: {shows}"), None);
                Ok(())
            }
            Finding::Contradicted(shows) => Err(fail(
                &step,
                index,
                format!("after this silence, on the wire, {shows}"),
            )),
            Finding::Unchecked(why) => {
                let reason = format!(
                    "the verdict rests on the silence at line {}: {why}",
                    step.loc.line
                );
                self.no_verdict = Some(Outcome::Inconclusive {
                    reason: reason.clone(),
                });
                Err(fail(&step, index, reason))
            }
        }
    }

    /// Reads a state off the wire ([`probe`]): sends the probe for `exp` and judges the
    /// answer. Segments that are no answer stay for the next steps; the reference stack's rule
    /// reports caused by the probe are dropped (they are the harness's, not the case's).
    /// At the end of a case (`at_end`) nothing is left that a probe could disturb.
    fn probe(
        &mut self,
        step: &Step,
        index: usize,
        exp: Expectation,
        at_end: bool,
    ) -> Result<Finding, Failure> {
        if self.keepalive {
            // Any segment from the peer restarts the keep-alive idle timer (RFC 9293 3.8.4).
            return Ok(Finding::Unchecked(
                "a probe would restart the keep-alive timer the case is timing".into(),
            ));
        }
        if self.owed && !at_end && matches!(exp, Expectation::Synchronized { .. }) {
            return Ok(Finding::Unchecked(
                "the target may still owe an ACK for the tester's last segment, which a probe \
                 would draw early"
                    .into(),
            ));
        }
        if exp == Expectation::SynSent {
            // Its only answer to a probe is silence, which proves nothing; at the end of a case
            // its next SYN retransmission (RFC 6298 5) shows it instead.
            return if at_end {
                self.await_syn_retransmission(step, index)
            } else {
                Ok(Finding::Unchecked(
                    "SYN-SENT answers an ACK of its SYN with silence, which proves nothing".into(),
                ))
            };
        }
        self.kept_rules.extend(self.target.take_rules());
        let spec = probe::segment(exp, &self.conn, self.tester, self.target_addr);
        let finding = self.probe_exchange(step, index, exp, &spec, |run, reply| {
            probe::judge(exp, &run.conn, &spec, reply)
        })?;
        let finding = match (exp, finding) {
            (Expectation::NoConnection { listening: true }, Finding::Confirmed(shows)) => {
                match self.probe_listening(step, index)? {
                    Finding::Confirmed(more) => Finding::Confirmed(format!("{shows}; {more}")),
                    other => other,
                }
            }
            (_, f) => f,
        };
        self.target.discard_reports();
        Ok(finding)
    }

    /// SYN-SENT shown by its next SYN retransmission, awaited [`SYN_RETRANSMISSION_WAIT`].
    fn await_syn_retransmission(&mut self, step: &Step, index: usize) -> Result<Finding, Failure> {
        let until = self.target.now() + SYN_RETRANSMISSION_WAIT;
        let isn = self.conn.target_isn;
        while let Some(left) = until
            .checked_sub(self.target.now())
            .filter(|l| !l.is_zero())
        {
            let got = self
                .target
                .receive(left)
                .map_err(|e| fail(step, index, format!("target error: {e}")))?;
            let Some(r) = got else { break };
            let Ok(o) = observe(&r.packet) else { continue };
            let own = o.src == self.target_addr && o.dst == self.tester;
            let syn = o.flags & (flags::SYN | flags::ACK | flags::RST) == flags::SYN;
            if own && syn && Some(o.seq) == isn {
                let text = render(&o, self.rel_received());
                self.note(Direction::Received, text, Some(o.raw.clone()));
                return Ok(Finding::Confirmed(
                    "it retransmitted its SYN: still SYN-SENT".into(),
                ));
            }
            self.pushback.push_back(r);
        }
        Ok(Finding::Unchecked(format!(
            "no SYN retransmission within {SYN_RETRANSMISSION_WAIT:?}"
        )))
    }

    /// Sends `spec` and hands the first answer on the instance's tuple (or none, after
    /// [`PROBE_WAIT`]) to `judge`.
    fn probe_exchange(
        &mut self,
        step: &Step,
        index: usize,
        exp: Expectation,
        spec: &PacketSpec,
        judge: impl FnOnce(&Self, Option<&Observed>) -> Finding,
    ) -> Result<Finding, Failure> {
        let mut stamped = spec.clone();
        self.stamp(&mut stamped);
        let bytes = build(&stamped);
        let text = match observe(&bytes) {
            Ok(o) => format!("probe: {}", render(&o, self.rel_sent())),
            Err(_) => "probe".into(),
        };
        self.note(Direction::Sent, text, Some(bytes.clone()));
        self.target
            .inject(&bytes)
            .map_err(|e| fail(step, index, format!("target error: {e}")))?;
        let until = self.target.now() + PROBE_WAIT;
        let mut held = Vec::new();
        let mut answer = None;
        while answer.is_none() {
            let left = until.saturating_sub(self.target.now());
            if left.is_zero() {
                break;
            }
            let got = self
                .target
                .receive(left)
                .map_err(|e| fail(step, index, format!("target error: {e}")))?;
            let Some(r) = got else { break };
            match observe(&r.packet) {
                Ok(o) if probe::is_answer(exp, &o, spec) => answer = Some(o),
                _ => held.push(r),
            }
        }
        self.pushback.extend(held);
        if let Some(o) = &answer {
            self.conn.on_received(o);
            let text = format!("probe answer: {}", render(o, self.rel_received()));
            self.note(Direction::Received, text, Some(o.raw.clone()));
        }
        Ok(judge(self, answer.as_ref()))
    }

    /// LISTEN holds no TCB for the tuple (checked already) and listens: a SYN from another
    /// tester port draws a SYN-ACK, which is then reset.
    fn probe_listening(&mut self, step: &Step, index: usize) -> Result<Finding, Failure> {
        let port = self
            .target
            .fresh_port()
            .unwrap_or_else(|| 49_152 + (self.tester.port().wrapping_add(8_191) % 16_000));
        let from = SocketAddr::new(self.tester.ip(), port);
        let isn = self.conn.tester_isn.wrapping_add(0x4000_0000);
        let syn = PacketSpec {
            src: from,
            seq: isn,
            ack: 0,
            flags: flags::SYN,
            options: vec![OptionSpec::Mss(536)],
            ..probe::segment(
                Expectation::NoConnection { listening: true },
                &self.conn,
                from,
                self.target_addr,
            )
        };
        let target = self.target_addr;
        let listen = Expectation::NoConnection { listening: true };
        let finding = self.probe_exchange(step, index, listen, &syn, |_, reply| match reply {
            Some(r) if r.flags & (flags::SYN | flags::ACK) == flags::SYN | flags::ACK => {
                Finding::Confirmed(format!(
                    "a SYN to port {} drew a SYN-ACK: it listens",
                    target.port()
                ))
            }
            Some(_) => Finding::Contradicted(format!(
                "a SYN to port {} drew no SYN-ACK: it does not listen",
                target.port()
            )),
            None => Finding::Unchecked("no answer to a SYN from another port".into()),
        })?;
        if matches!(finding, Finding::Confirmed(_)) {
            let rst = PacketSpec {
                seq: isn.wrapping_add(1),
                flags: flags::RST,
                options: Vec::new(),
                ..syn
            };
            let bytes = build(&rst);
            self.note(
                Direction::Sent,
                "probe: R (the SYN-ACK reset)".into(),
                Some(bytes.clone()),
            );
            self.target
                .inject(&bytes)
                .map_err(|e| fail(step, index, format!("target error: {e}")))?;
        }
        Ok(finding)
    }

    fn state(&mut self, step: &Step, index: usize, want: TcpState) -> StepResult {
        self.asserted = Some(want);
        let got = self
            .target
            .state(self.target_addr, self.tester)
            .map_err(|e| fail(step, index, format!("target error: {e}")))?;
        match got {
            None => match self.probe(step, index, Expectation::of(want), false)? {
                Finding::Confirmed(shows) => {
                    self.note(Direction::Note, format!("state {want}: {shows}"), None);
                    self.silence = None;
                    Ok(())
                }
                Finding::Contradicted(shows) => {
                    self.note(Direction::Note, format!("state {want}? {shows}"), None);
                    Err(fail(
                        step,
                        index,
                        format!("expected state {want}; on the wire, {shows}"),
                    ))
                }
                Finding::Unchecked(why) => {
                    self.note(
                        Direction::Note,
                        format!("state {want}: not checked ({why})"),
                        None,
                    );
                    Ok(())
                }
            },
            Some(s) if s == want => {
                self.note(Direction::Note, format!("state is {s}"), None);
                self.silence = None;
                Ok(())
            }
            // A connection from a passive OPEN that was deleted (reset, closed) is CLOSED, while
            // its listener stays in LISTEN: the 4-tuple then finds only the listener. CLOSED
            // means "no TCB for this connection", which that is (RFC 9293 3.10.7.4 RS-4).
            Some(TcpState::Listen) if want == TcpState::Closed => {
                self.note(
                    Direction::Note,
                    "state is CLOSED (no TCB; the listener is in LISTEN)".into(),
                    None,
                );
                self.silence = None;
                Ok(())
            }
            Some(s) => {
                self.note(
                    Direction::Note,
                    format!("state is {s}, expected {want}"),
                    None,
                );
                Err(fail(
                    step,
                    index,
                    format!("expected state {want}, target is in {s}"),
                ))
            }
        }
    }

    fn call(&mut self, step: &Step, index: usize, c: &Call) -> StepResult {
        let app = match &c.kind {
            CallKind::Listen => AppCall::Listen {
                local: self.target_addr,
            },
            CallKind::Accept => AppCall::Accept,
            CallKind::Connect => AppCall::Connect {
                local: self.target_addr,
                remote: self.tester,
            },
            CallKind::ConnectTo(ip) => {
                if ip.is_ipv4() != self.tester.is_ipv4() {
                    return Err(fail(
                        step,
                        index,
                        format!("connect to {ip}: not of this instance's IP version"),
                    ));
                }
                AppCall::Connect {
                    local: self.target_addr,
                    remote: SocketAddr::new(*ip, self.tester.port()),
                }
            }
            CallKind::Write(data) => AppCall::Write(data.clone()),
            CallKind::Read { max, .. } => AppCall::Read { max: *max },
            CallKind::Shutdown(Shutdown::Write | Shutdown::Both) => AppCall::ShutdownWrite,
            CallKind::Shutdown(Shutdown::Read) => {
                self.note(
                    Direction::App,
                    "shutdown(SHUT_RD): no effect on the wire".into(),
                    None,
                );
                return Ok(());
            }
            CallKind::Close => AppCall::Close,
            CallKind::Abort => AppCall::Abort,
            CallKind::NoDelay => AppCall::NoDelay(true),
            CallKind::Keepalive {
                idle,
                interval,
                count,
            } => AppCall::Keepalive(crate::app::Keepalive {
                idle: *idle,
                interval: *interval,
                count: *count,
            }),
        };
        if let (Some(fixed), AppCall::Accept, None) = (self.fixed, &app, c.error) {
            self.note(
                Direction::App,
                format!(
                    "accept(): the application on port {} accepts by itself (--app {})",
                    self.target_addr.port(),
                    fixed.behaviour.name()
                ),
                None,
            );
            return Ok(());
        }
        if let Some(reason) = self.target.cannot(&app) {
            self.no_verdict = Some(Outcome::Skipped {
                reason: format!("{app}: {reason}"),
            });
            return Err(fail(step, index, reason));
        }
        let result = self
            .target
            .app(&app)
            .map_err(|e| fail(step, index, format!("target error: {e}")))?;
        self.note(Direction::App, format!("{app} = {result}"), None);
        self.keepalive |= matches!(app, AppCall::Keepalive(_)) && result == AppResult::Ok;
        // A call that did something may have moved the state (a CLOSE sends a FIN); reading,
        // writing and a failed call leave the asserted state as it was.
        if result == AppResult::Ok
            && !matches!(
                app,
                AppCall::NoDelay(_) | AppCall::Keepalive(_) | AppCall::Accept
            )
        {
            self.asserted = None;
        }
        match (&c.error, &result) {
            (Some(want), AppResult::Failed(got)) => {
                if error_matches(*want, got.kind) {
                    Ok(())
                } else {
                    Err(fail(
                        step,
                        index,
                        format!("{app}: expected {}, got error {got}", want.name()),
                    ))
                }
            }
            (Some(CallError::WouldBlock), AppResult::WouldBlock) => Ok(()),
            (Some(want), other) => Err(fail(
                step,
                index,
                format!("{app}: expected error {}, got {other}", want.name()),
            )),
            (None, AppResult::Failed(e)) => Err(fail(step, index, format!("{app} failed: {e}"))),
            (None, AppResult::WouldBlock) if !matches!(c.kind, CallKind::Read { .. }) => {
                Err(fail(step, index, format!("{app} would block")))
            }
            (None, _) => match &c.kind {
                CallKind::Read {
                    expect: Some(want), ..
                } => {
                    let got: &[u8] = match &result {
                        AppResult::Read(d) => d,
                        _ => &[],
                    };
                    let ok = match want {
                        ReadExpect::Eof => matches!(result, AppResult::Read(ref d) if d.is_empty()),
                        ReadExpect::Data(d) => got == d.as_slice(),
                    };
                    if ok {
                        Ok(())
                    } else {
                        let want_text = match want {
                            ReadExpect::Eof => "end of stream".to_string(),
                            ReadExpect::Data(d) => format!("{:?}", String::from_utf8_lossy(d)),
                        };
                        Err(fail(
                            step,
                            index,
                            format!(
                                "{app}: expected {want_text}, got {result} {:?}",
                                String::from_utf8_lossy(got)
                            ),
                        ))
                    }
                }
                _ => Ok(()),
            },
        }
    }

    fn one_of(
        &mut self,
        step: &Step,
        index: usize,
        branches: &[Branch],
        case: &Case,
    ) -> StepResult {
        // Listen for as long as the most patient branch head would.
        let window = branches
            .iter()
            .map(|b| match b.steps.first().map(|s| &s.kind) {
                Some(StepKind::Expect(e)) => e.within.unwrap_or(case.defaults.within),
                Some(StepKind::ExpectNone(d)) => *d,
                _ => Duration::ZERO,
            })
            .max()
            .unwrap_or(Duration::ZERO);
        let start = self.target.now();
        let got = self
            .receive_observed(window)
            .map_err(|m| fail(step, index, m))?;
        let mut reasons = Vec::new();
        for b in branches {
            let Some(head) = b.steps.first() else {
                continue;
            };
            let chosen = match (&head.kind, &got) {
                (StepKind::Expect(e), Some((at, o))) => {
                    let within = e.within.unwrap_or(case.defaults.within);
                    let (verdict, view) = self.judge(e, *at, start, o);
                    if verdict.matched() && at.saturating_sub(start) <= within {
                        true
                    } else {
                        reasons.push(format!(
                            "{}: {}",
                            b.name,
                            self.diff_text(&verdict, o, &view)
                        ));
                        false
                    }
                }
                (StepKind::Expect(e), None) => {
                    reasons.push(format!(
                        "{}: expected {}, got nothing",
                        b.name,
                        matching::summary(e, &self.conn)
                    ));
                    false
                }
                (StepKind::ExpectNone(d), None) => {
                    let _ = d;
                    true
                }
                (StepKind::ExpectNone(d), Some((at, _))) => {
                    if at.saturating_sub(start) > *d {
                        true
                    } else {
                        reasons.push(format!("{}: expected nothing for {d:?}", b.name));
                        false
                    }
                }
                _ => {
                    reasons.push(format!("{}: first step is not expect/expect_none", b.name));
                    false
                }
            };
            if !chosen {
                continue;
            }
            self.variants.push(b.name.clone());
            let mut among: Vec<String> = branches.iter().map(|x| x.name.clone()).collect();
            among.sort();
            self.choices.push(Choice {
                chosen: b.name.clone(),
                among,
            });
            self.note(
                Direction::Note,
                format!("one_of: target chose `{}`", b.name),
                None,
            );
            match (&head.kind, &got) {
                (StepKind::Expect(_), Some(_)) => self.silence = None,
                (StepKind::ExpectNone(_), _) => self.silence = Some((head.clone(), index)),
                _ => {}
            }
            match (&head.kind, got) {
                (StepKind::Expect(_), Some((_, o))) => self.accept_received(&o),
                (StepKind::ExpectNone(_), Some((at, o))) => {
                    // It arrived after the quiet period: it belongs to a later step.
                    self.pushback.push_back(Received { at, packet: o.raw });
                }
                _ => {}
            }
            return self.steps(&b.steps[1..], case, index);
        }
        if let Some((_, o)) = &got {
            let text = render(o, self.rel_received());
            self.accept_received(o);
            let mut f = fail(step, index, format!("no allowed variant matched {text}"));
            f.diff = Some(reasons.join("\n"));
            Err(f)
        } else {
            let mut f = fail(step, index, "no allowed variant matched (nothing received)");
            f.diff = Some(reasons.join("\n"));
            Err(f)
        }
    }

    fn steps(&mut self, steps: &[Step], case: &Case, base_index: usize) -> StepResult {
        let result = self.steps_inner(steps, case, base_index);
        if result.is_err()
            && self.no_verdict.is_none()
            && self.unbound_timestamps.get()
            && self.conn.target_tsval.is_none()
        {
            self.no_verdict = Some(Outcome::NotApplicable {
                reason: "the case uses the target's timestamps (ts.val/ts.ecr), and the target \
                         sent none: RFC 7323 timestamps are optional"
                    .into(),
            });
        }
        result
    }

    fn steps_inner(&mut self, steps: &[Step], case: &Case, base_index: usize) -> StepResult {
        for (i, step) in steps.iter().enumerate() {
            let index = base_index + i;
            if crate::interrupt::requested() {
                return Err(fail(step, index, crate::interrupt::REASON));
            }
            match &step.kind {
                StepKind::Send(s) => self.send(step, index, s, case.defaults.win)?,
                StepKind::Expect(e) => self.expect(step, index, e, case.defaults.within)?,
                StepKind::ExpectNone(d) => self.expect_none(step, index, *d)?,
                StepKind::State(s) => self.state(step, index, *s)?,
                StepKind::Call(c) => self.call(step, index, c)?,
                StepKind::Assume(a) => self.assume(step, index, a)?,
                StepKind::Wait(d) => {
                    self.note(Direction::Note, format!("wait {d:?}"), None);
                    self.target
                        .wait(*d)
                        .map_err(|e| fail(step, index, format!("target error: {e}")))?;
                }
                StepKind::OneOf(branches) => self.one_of(step, index, branches, case)?,
                StepKind::IsnSample(s) => {
                    stats::isn_sample(&mut self.stats_io(), s).map_err(|m| fail(step, index, m))?
                }
                StepKind::SynFlood(f) => {
                    stats::syn_flood(&mut self.stats_io(), f).map_err(|m| fail(step, index, m))?
                }
            }
        }
        Ok(())
    }
}

/// Bases to show a packet from the target: its ISN (0 until its SYN is seen, i.e. absolute)
/// for seq, the tester's ISN for ack.
fn rel_for(view: &ConnView) -> Option<Relative> {
    Some(Relative {
        seq_base: view.base(Space::Target),
        ack_base: view.tester_isn,
    })
}

/// Whether a failed call's kind is the error a case expects (errno names in the case language,
/// RFC 9293 3.10 error responses on the target).
fn error_matches(want: CallError, got: ErrorKind) -> bool {
    match want {
        CallError::Any => true,
        CallError::ConnReset => got == ErrorKind::Reset,
        CallError::ConnRefused => got == ErrorKind::Refused,
        CallError::TimedOut => got == ErrorKind::TimedOut,
        CallError::NotConn => got == ErrorKind::NotConnected,
        CallError::Pipe => got == ErrorKind::Closing,
        // A pending call is `AppResult::WouldBlock`, never a failure.
        CallError::WouldBlock => false,
    }
}

/// The least real time a case needs: its waits, quiet periods and earliest-arrival bounds
/// (a `one_of` counts its longest branch).
pub fn minimum_duration(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Wait(d) | StepKind::ExpectNone(d) => *d,
            StepKind::Expect(e) => e.after.unwrap_or(Duration::ZERO),
            StepKind::OneOf(branches) => branches
                .iter()
                .map(|b| minimum_duration(&b.steps))
                .max()
                .unwrap_or_default(),
            _ => Duration::ZERO,
        })
        .sum()
}

/// The result of an instance that did not run on this target, and why.
fn not_run(target: &dyn Target, case: &Case, ip: IpVersion, reason: String) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        ip,
        file: case.loc.file.as_ref().clone(),
        target: target.name().to_string(),
        rfc: case.rfc.clone(),
        cells: case.cells.clone(),
        rules_observed: Vec::new(),
        duration: Duration::ZERO,
        outcome: Outcome::Skipped { reason },
        verdict: Verdict::Skipped,
        choices: Vec::new(),
        trace: Vec::new(),
    }
}

/// Runs `case` on `ip` against `target`. On a real-time target, a case that needs more than
/// `budget` of waiting is skipped (and says so) rather than run for hours.
pub fn run_instance_within(
    target: &mut dyn Target,
    case: &Case,
    ip: IpVersion,
    seed: u64,
    budget: Duration,
) -> CaseResult {
    let needed = minimum_duration(&case.steps);
    if !target.virtual_clock() && needed > budget {
        let reason = format!(
            "needs at least {needed:?} of real time, over the budget of {budget:?} (--max-case-time)"
        );
        return not_run(target, case, ip, reason);
    }
    run_instance(target, case, ip, seed)
}

/// Runs `case` on `ip` against `target`. A case that needs what the target cannot give
/// ([`fit::unmet`]) is skipped with the reason.
pub fn run_instance(target: &mut dyn Target, case: &Case, ip: IpVersion, seed: u64) -> CaseResult {
    let caps = target.capabilities();
    if let Some(reason) = fit::unmet(case, ip, &caps) {
        return not_run(target, case, ip, reason);
    }
    let fixed = match caps.application {
        Application::Fixed(app) => Some(app),
        Application::Driven => None,
    };
    let started = WallClock::now();
    let mut rng = InstanceSeed(seed);
    let tester_isn = rng.next() as u32;
    let outcome_and_trace = (|| {
        let ep = target
            .open(ip, &case.sysctls)
            .map_err(|e| (format!("cannot open target: {e}"), Vec::new()))?;
        let setup = case.setup;
        // The tester's port: a fresh one from a target whose stack outlives instances, else
        // random in the dynamic range; `setup: connect` names the port the target connects to,
        // which is the tester's. An application the harness does not drive has ports of its
        // own: the case's listening and closed ports map onto them.
        let own_port = target.fresh_port();
        let mut random_port = || 49_152 + (rng.next() % 16_000) as u16;
        let (tester_port, target_port) = match setup {
            Setup::Connect { port } => (own_port.unwrap_or(port), ACTIVE_OPEN_PORT),
            Setup::Listen { port } => (
                own_port.unwrap_or_else(&mut random_port),
                fixed.and_then(|a| a.open_port).unwrap_or(port),
            ),
            Setup::Closed { port } => (
                own_port.unwrap_or_else(&mut random_port),
                fixed.and_then(|a| a.closed_port).unwrap_or(port),
            ),
        };
        let mut run = Run {
            conn: ConnView::new(tester_isn, ip == IpVersion::V6),
            tester: SocketAddr::new(ep.tester, tester_port),
            target_addr: SocketAddr::new(ep.target, target_port),
            trace: Vec::new(),
            variants: Vec::new(),
            choices: Vec::new(),
            pushback: VecDeque::new(),
            learn_target_port: matches!(setup, Setup::Connect { .. }),
            no_verdict: None,
            fixed,
            needs_offered: case
                .needs
                .iter()
                .filter_map(|n| match n {
                    Need::Offers(f) => Some(*f),
                    Need::Unread => None,
                })
                .collect(),
            offered_checked: false,
            unbound_timestamps: std::cell::Cell::new(false),
            silence: None,
            asserted: None,
            kept_rules: Vec::new(),
            owed: false,
            keepalive: false,
            ident: rng.next() as u16,
            target,
        };
        run.note(
            Direction::Note,
            match setup {
                Setup::Connect { .. } => format!(
                    "tester {}, target {} (its port chosen by the target)",
                    run.tester,
                    run.target_addr.ip()
                ),
                _ => format!("tester {}, target {}", run.tester, run.target_addr),
            },
            None,
        );
        let setup_call = match setup {
            Setup::Closed { .. } => None,
            Setup::Listen { .. } if fixed.is_some() => {
                run.note(
                    Direction::App,
                    format!(
                        "setup: an application listens on port {} (--open-port, --app {})",
                        target_port,
                        fixed.map_or("", |a| a.behaviour.name())
                    ),
                    None,
                );
                None
            }
            Setup::Listen { .. } => Some(AppCall::Listen {
                local: run.target_addr,
            }),
            Setup::Connect { .. } => Some(AppCall::Connect {
                local: SocketAddr::new(ep.target, ACTIVE_OPEN_PORT),
                remote: run.tester,
            }),
        };
        if let Some(call) = setup_call {
            match run.target.app(&call) {
                Ok(AppResult::Ok) => run.note(Direction::App, format!("setup: {call} = ok"), None),
                Ok(other) => return Err((format!("setup {call} failed: {other}"), run.trace)),
                Err(e) => return Err((format!("setup {call}: target error: {e}"), run.trace)),
            }
        }
        let result = run
            .steps(&case.steps, case, 0)
            .and_then(|()| run.after_silence());
        let Run {
            trace,
            variants,
            choices,
            no_verdict,
            kept_rules,
            ..
        } = run;
        Ok((result, trace, (variants, choices), no_verdict, kept_rules))
    })();
    let mut rules = match &outcome_and_trace {
        Ok((.., kept)) => kept.clone(),
        Err(_) => Vec::new(),
    };
    rules.extend(target.take_rules());
    let rules = dedup(rules);
    target.close();
    let teardown_notes = target.take_notes();
    // Once the run is interrupted, waits end early and steps stop: a failure may be the
    // interruption's doing rather than the target's, so it is no verdict. A pass stands (a
    // cut-short wait fails, so it never passes for silence).
    let interrupted = crate::interrupt::requested();
    let mut chosen = Vec::new();
    let (outcome, trace) = match outcome_and_trace {
        Ok((Err(_), trace, _, _, _)) | Err((_, trace)) if interrupted => (
            Outcome::Skipped {
                reason: crate::interrupt::REASON.into(),
            },
            trace,
        ),
        Ok((Ok(()), trace, (variants, choices), _, _)) => {
            chosen = choices;
            (Outcome::Passed { variants }, trace)
        }
        Ok((Err(_), trace, _, Some(outcome), _)) => (outcome, trace),
        Ok((Err(f), trace, _, None, _)) => (Outcome::Failed(f), trace),
        Err((message, trace)) => (
            Outcome::Failed(Failure {
                step: 0,
                line: Some(case.loc.line),
                message,
                diff: None,
                baseline: None,
                level: Level::Must,
            }),
            trace,
        ),
    };
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        ip,
        file: case.loc.file.as_ref().clone(),
        target: target.name().to_string(),
        rfc: case.rfc.clone(),
        cells: case.cells.clone(),
        rules_observed: rules,
        duration: started.elapsed(),
        verdict: Verdict::of(&outcome, false),
        choices: chosen,
        outcome,
        trace: with_notes(trace, teardown_notes),
    }
}

/// `trace` with the target's teardown notes at its end.
fn with_notes(mut trace: Vec<TraceEntry>, notes: Vec<String>) -> Vec<TraceEntry> {
    let at = trace.last().map_or(Duration::ZERO, |e| e.at);
    trace.extend(notes.into_iter().map(|text| TraceEntry {
        at,
        direction: Direction::Note,
        text,
        packet: None,
    }));
    trace
}

fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for r in v {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}
