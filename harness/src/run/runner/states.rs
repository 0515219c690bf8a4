//! The steps about states: `state` (asked of the target where it can tell, else read off the
//! wire by a probe, [`crate::run::probe`]), `assume`, and the rule that no instance passes on
//! silence alone.

use super::*;

impl Run<'_> {
    /// An `assume:` step: where the condition does not hold for this target, the rest of the
    /// case has nothing to check here, and the instance is not applicable.
    pub(super) fn assume(&mut self, step: &Step, index: usize, a: &Assumption) -> StepResult {
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
    pub(super) fn after_silence(&mut self) -> StepResult {
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
            Finding::Breaks { shows, rule } => {
                self.note(Direction::Note, format!("after the silence: {shows}"), None);
                Err(rule_broken(
                    &step,
                    index,
                    format!("after this silence, {rule}"),
                ))
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
    pub(super) fn probe(
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
            probe::judge(exp, &run.conn, run.port_listens, &spec, reply)
        })?;
        let finding = match (exp, finding) {
            (Expectation::NoConnection { listening: true }, Finding::Confirmed(shows)) => {
                match self.probe_listening(step, index)? {
                    Finding::Confirmed(more) => Finding::Confirmed(format!("{shows}; {more}")),
                    other => other,
                }
            }
            // The reset's number breaks a rule, but whether the port listens is still asked.
            (Expectation::NoConnection { listening: true }, Finding::Breaks { shows, rule }) => {
                match self.probe_listening(step, index)? {
                    Finding::Confirmed(more) => Finding::Breaks {
                        shows: format!("{shows}; {more}"),
                        rule,
                    },
                    other => other,
                }
            }
            (_, f) => f,
        };
        self.target.discard_reports();
        Ok(finding)
    }

    /// SYN-SENT shown by its next SYN retransmission, awaited [`SYN_RETRANSMISSION_WAIT`].
    pub(super) fn await_syn_retransmission(
        &mut self,
        step: &Step,
        index: usize,
    ) -> Result<Finding, Failure> {
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
    pub(super) fn probe_exchange(
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
                Ok(o) if probe::is_answer(exp, &self.conn, &o, spec) => answer = Some(o),
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
    pub(super) fn probe_listening(
        &mut self,
        step: &Step,
        index: usize,
    ) -> Result<Finding, Failure> {
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

    pub(super) fn state(&mut self, step: &Step, index: usize, want: TcpState) -> StepResult {
        self.state_holds(step, index, want)?
    }

    /// A `state:` step: `Err` when the target is not in `want` (or the check failed), else
    /// whether the answer that showed it broke a rule of its own ([`Finding::Breaks`]), which
    /// fails the step though the state holds (a `one_of` chooses the variant all the same).
    pub(super) fn state_holds(
        &mut self,
        step: &Step,
        index: usize,
        want: TcpState,
    ) -> Result<StepResult, Failure> {
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
                    Ok(Ok(()))
                }
                Finding::Breaks { shows, rule } => {
                    self.note(Direction::Note, format!("state {want}: {shows}"), None);
                    self.silence = None;
                    Ok(Err(rule_broken(
                        step,
                        index,
                        format!("state {want} holds, but {rule}"),
                    )))
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
                    Ok(Ok(()))
                }
            },
            Some(s) if s == want => {
                self.note(Direction::Note, format!("state is {s}"), None);
                self.silence = None;
                Ok(Ok(()))
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
                Ok(Ok(()))
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
}

/// The failure of a probe's answer that breaks a rule of its own: a MUST of RFC 9293 whatever
/// level the step checks its state at.
fn rule_broken(step: &Step, index: usize, message: String) -> Failure {
    Failure {
        level: Level::Must,
        ..fail(step, index, message)
    }
}
