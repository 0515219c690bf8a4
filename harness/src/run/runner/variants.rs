//! `one_of`: the allowed variants of a behaviour, chosen by what the target does.
//!
//! The runner listens once, for as long as the most patient variant head would, and keeps every
//! variant whose first step fits what arrived (they all expect that segment, or all expect
//! silence). One variant left: it runs the rest of it. Several: two allowed behaviours can begin
//! alike — an RST inside the window met with silence is RFC 793's reset (MAY-12 not taken) or
//! RFC 5961's challenge ACK held back by its throttle (RFC 5961 7) — so the runner runs the steps
//! they share once and chooses again where they first differ:
//! - by what arrives, when the differing steps are all `expect`/`expect_none` (the same rule);
//! - by the state the target is in, when they are all `state:` steps: asked of the target where it
//!   can tell, else probed on the wire, in the order the variants are written; the first state
//!   seen chooses.
//!
//! Where variants that fit differ otherwise (a `send`, a `call`), nothing observed can choose
//! between them and the first written is taken; the trace says so.

use super::*;
use crate::run::event::{Mitigation, SegmentDiff};

/// A variant still in the running: its index in the `one_of`, and its steps not yet run.
type Open<'b> = (usize, &'b [Step]);

impl Run<'_> {
    pub(super) fn one_of(
        &mut self,
        step: &Step,
        index: usize,
        branches: &[Branch],
        case: &Case,
    ) -> StepResult {
        let mut among: Vec<String> = branches.iter().map(|b| b.name.clone()).collect();
        among.sort();
        // The segment the variants answer is the one sent before the `one_of`.
        let mitigation = Mitigation::of(&among, self.last_sent);
        let open = branches.iter().enumerate().map(|(i, b)| (i, &b.steps[..]));
        let (chosen, rest) = self.choose(step, index, branches, open.collect(), case)?;
        let name = branches[chosen].name.clone();
        self.variants.push(name.clone());
        self.choices.push(Choice {
            chosen: name.clone(),
            among,
            mitigation,
        });
        self.note(
            Direction::Note,
            format!("one_of: target chose `{name}`"),
            None,
        );
        self.steps(rest, case, index)
    }

    /// Narrows the variants in `open` down to one; returns it with its steps still to run.
    fn choose<'b>(
        &mut self,
        step: &Step,
        index: usize,
        branches: &[Branch],
        mut open: Vec<Open<'b>>,
        case: &Case,
    ) -> Result<Open<'b>, Failure> {
        loop {
            open = self.by_arrival(step, index, branches, open, case)?;
            // Shared steps run once; a variant that has run out has passed all it asks.
            loop {
                if open.len() == 1 {
                    return Ok(open[0]);
                }
                if let Some(done) = open.iter().find(|(_, rest)| rest.is_empty()) {
                    return Ok(*done);
                }
                let first = &open[0].1[0];
                if !open.iter().all(|(_, rest)| same_step(&rest[0], first)) {
                    break;
                }
                self.steps(std::slice::from_ref(first), case, index)?;
                for o in &mut open {
                    o.1 = &o.1[1..];
                }
            }
            let kinds = |f: fn(&StepKind) -> bool| open.iter().all(|(_, rest)| f(&rest[0].kind));
            if kinds(|k| matches!(k, StepKind::Expect(_) | StepKind::ExpectNone(_))) {
                continue;
            }
            if kinds(|k| matches!(k, StepKind::State(_))) {
                return self.by_state(step, index, branches, open);
            }
            let names: Vec<&str> = open
                .iter()
                .map(|(i, _)| branches[*i].name.as_str())
                .collect();
            self.note(
                Direction::Note,
                format!(
                    "one_of: variants `{}` fit so far and differ where nothing observed can \
                     choose; taking `{}`",
                    names.join("`, `"),
                    names[0]
                ),
                None,
            );
            return Ok(open[0]);
        }
    }

    /// Listens once and keeps the variants whose next step fits what arrived (all of the same
    /// kind as the first that fits), with that step consumed.
    fn by_arrival<'b>(
        &mut self,
        step: &Step,
        index: usize,
        branches: &[Branch],
        open: Vec<Open<'b>>,
        case: &Case,
    ) -> Result<Vec<Open<'b>>, Failure> {
        // Listen for as long as the most patient head would.
        let window = open
            .iter()
            .map(|(_, rest)| match rest.first().map(|s| &s.kind) {
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
        // The levels of the variants a segment that fits none came close to: of the same kind
        // (its flags fit), off in a number, a length or its timing. Whichever of those the
        // target meant, it broke at least the weakest of their levels, and no more can be said
        // (a probe sent early or of the wrong segment breaks a SHOULD, not the MUST of the
        // classic variant beside it). A segment close to none is judged at the `one_of`'s level.
        let mut near: Vec<Level> = Vec::new();
        let mut fits: Vec<Open<'b>> = Vec::new();
        let mut head_kind: Option<(bool, &'b Step)> = None;
        for (i, rest) in open {
            let name = &branches[i].name;
            let Some(head) = rest.first() else {
                continue;
            };
            let fit = match (&head.kind, &got) {
                (StepKind::Expect(e), Some((at, o))) => {
                    let within = e.within.unwrap_or(case.defaults.within);
                    let origin = self.origin.unwrap_or(start);
                    let (verdict, view) = self.judge(e, *at, origin, o);
                    if verdict.matched() && at.saturating_sub(start) <= within {
                        true
                    } else {
                        let diff = SegmentDiff {
                            variant: Some(name.clone()),
                            ..self.segment_diff(e, &verdict, o, &view)
                        };
                        let kind = !diff.fields.iter().any(|x| x.field == "flags" && x.differs);
                        if let (true, Some(level)) = (kind, head.level) {
                            near.push(level);
                        }
                        reasons.push(diff);
                        false
                    }
                }
                (StepKind::Expect(e), None) => {
                    reasons.push(variant_note(
                        name,
                        format!("expected {}, got nothing", matching::summary(e, &self.conn)),
                    ));
                    false
                }
                (StepKind::ExpectNone(_), None) => true,
                (StepKind::ExpectNone(d), Some((at, _))) => {
                    if at.saturating_sub(start) > *d {
                        true
                    } else {
                        reasons.push(variant_note(name, format!("expected nothing for {d:?}")));
                        false
                    }
                }
                _ => {
                    reasons.push(variant_note(
                        name,
                        "first step is not expect/expect_none".into(),
                    ));
                    false
                }
            };
            if !fit {
                continue;
            }
            let expects = matches!(head.kind, StepKind::Expect(_));
            match head_kind {
                None => head_kind = Some((expects, head)),
                // A segment that is one variant's answer and arrived after another's quiet
                // period: the first written decides what it is.
                Some((first, _)) if first != expects => continue,
                Some(_) => {}
            }
            fits.push((i, &rest[1..]));
        }
        let Some((expects, head)) = head_kind else {
            let mut failure = match &got {
                Some((_, o)) => {
                    let text = render(o, self.rel_received());
                    self.accept_received(o);
                    let mut f = fail(step, index, format!("no allowed variant matched {text}"));
                    f.diff = reasons;
                    f
                }
                None => {
                    let mut f = fail(step, index, "no allowed variant matched (nothing received)");
                    f.diff = reasons;
                    f
                }
            };
            failure.level = near.into_iter().max().unwrap_or(failure.level);
            return Err(failure);
        };
        if expects {
            self.silence = None;
        } else {
            self.silence = Some((head.clone(), index));
        }
        match (expects, got) {
            (true, Some((at, o))) => {
                self.last_wait = Some(at.saturating_sub(self.origin.unwrap_or(start)));
                self.taken = Some((o.clone(), self.conn.clone()));
                self.accept_received(&o)
            }
            // It arrived after the quiet period: it belongs to a later step.
            (false, Some((at, o))) => self.pushback.push_back(Received { at, packet: o.raw }),
            _ => {}
        }
        // The heads are steps that ended now: the next ones are timed from here.
        self.origin = Some(self.target.now());
        Ok(fits)
    }

    /// Chooses among variants that differ first at a `state:` step: the first (in the order
    /// written) whose state the target is in.
    fn by_state<'b>(
        &mut self,
        step: &Step,
        index: usize,
        branches: &[Branch],
        open: Vec<Open<'b>>,
    ) -> Result<Open<'b>, Failure> {
        let mut reasons = Vec::new();
        for (i, rest) in open {
            let StepKind::State(want) = rest[0].kind else {
                unreachable!("by_state is called on state steps only");
            };
            match self.state_holds(&rest[0], index, want) {
                // The state holds: this variant is the target's, even where the answer that
                // showed it breaks a rule (then that is the failure).
                Ok(broken) => return broken.map(|()| (i, &rest[1..])),
                Err(f) if self.no_verdict.is_some() || crate::interrupt::requested() => {
                    return Err(f)
                }
                Err(f) => reasons.push(variant_note(&branches[i].name, f.message)),
            }
        }
        let mut f = fail(
            step,
            index,
            "no allowed variant matched: the target is in none of their states",
        );
        f.diff = reasons;
        Err(f)
    }
}

/// Whether two variants' steps are the same step (where they are written aside).
fn same_step(a: &Step, b: &Step) -> bool {
    a.kind == b.kind && a.level == b.level
}

/// A variant of a `one_of` that did not match, with why, when there is no table to show.
fn variant_note(name: &str, why: String) -> SegmentDiff {
    SegmentDiff {
        variant: Some(name.to_string()),
        fields: Vec::new(),
        note: Some(why),
    }
}
