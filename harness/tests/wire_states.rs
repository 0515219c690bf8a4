//! States read off the wire (`run::probe`), as agentless targets need them, checked on the
//! reference stack, whose states are known: the whole corpus passes when every `state:` step
//! is a probe; a stack that ignores resets fails on the wire; a target whose wire goes
//! dead after the handshake passes nothing — its instances fail or are inconclusive; and a
//! stack whose resets carry the wrong number fails at the probe that drew one.

mod faulty;

use faulty::{flags_of, Fault, Faulty};
use std::path::Path;
use tcpconform::case::load::load_paths;
use tcpconform::case::model::{Case, Level, StepKind};
use tcpconform::cli::RstProfile;
use tcpconform::packet::build::build;
use tcpconform::packet::observe::observe;
use tcpconform::packet::spec::{ChecksumSpec, IpFields, PacketSpec};
use tcpconform::reference::config as reference_config;
use tcpconform::run::event::{IpVersion, Outcome, Verdict};
use tcpconform::run::runner::run_instance;
use tcpconform::target::reference::ReferenceTarget;
use tcpconform::target::{Target, WireStates};
use tcpconform::tcp::{flags, TcpState};

fn corpus() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    load_paths(&[root]).expect("the corpus loads")
}

#[test]
fn every_case_passes_with_its_states_read_off_the_wire() {
    let cases = corpus();
    let mut bad = Vec::new();
    for profile in [RstProfile::Rfc5961, RstProfile::Rfc793] {
        for case in &cases {
            for &ip in &case.ip {
                let mut t = WireStates(Box::new(ReferenceTarget::new(reference_config(profile))));
                let r = run_instance(&mut t, case, ip, 7);
                if r.verdict != Verdict::Passed {
                    bad.push(format!(
                        "{} ({profile:?}): {:?}",
                        r.display_name(),
                        r.outcome
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} instances:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The reference stack with every RST the tester sends dropped on the way in: a stack that
/// ignores resets (RFC 9293 3.10.7.4, second check).
struct IgnoresResets;

impl Fault for IgnoresResets {
    fn lets_in(&mut self, p: &[u8]) -> bool {
        flags_of(p) & flags::RST == 0
    }
}

/// The reference stack whose wire goes dead once the handshake's last ACK went in: nothing
/// more reaches it, nothing more comes out.
#[derive(Default)]
struct DeadAfterHandshake {
    dead: bool,
}

impl Fault for DeadAfterHandshake {
    fn open(&mut self, _: &mut ReferenceTarget) {
        self.dead = false;
    }
    fn lets_in(&mut self, p: &[u8]) -> bool {
        if self.dead {
            return false;
        }
        let f = flags_of(p);
        self.dead = f & flags::ACK != 0 && f & (flags::SYN | flags::RST) == 0;
        true
    }
    fn lets_out(&mut self, _: &[u8]) -> bool {
        !self.dead
    }
}

/// The reference stack (RFC 5961) with its first challenge ACK held back, as a stack past its
/// throttle's limit does (RFC 5961 7): the first pure ACK it sends after the tester's first RST
/// is dropped on the way out.
#[derive(Default)]
struct ThrottlesChallengeAcks {
    armed: bool,
    spent: bool,
}

impl Fault for ThrottlesChallengeAcks {
    fn open(&mut self, _: &mut ReferenceTarget) {
        (self.armed, self.spent) = (false, false);
    }
    fn lets_in(&mut self, p: &[u8]) -> bool {
        if flags_of(p) & flags::RST != 0 && !self.spent {
            self.armed = true;
        }
        true
    }
    fn lets_out(&mut self, p: &[u8]) -> bool {
        let pure_ack = flags_of(p) & (flags::SYN | flags::FIN | flags::RST) == 0;
        if self.armed && pure_ack {
            (self.armed, self.spent) = (false, true);
            return false;
        }
        true
    }
}

/// The instances that offer `rfc5961-throttled` for an RST inside the window.
fn throttled_rst_instances() -> Vec<Case> {
    let cases: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| {
            c.steps.iter().any(|s| match &s.kind {
                tcpconform::case::model::StepKind::OneOf(b) => {
                    b.iter().any(|b| b.name == "rfc5961-throttled")
                        && b.iter().any(|b| b.name == "rfc793")
                }
                _ => false,
            }) && c.steps.iter().any(|s| match &s.kind {
                tcpconform::case::model::StepKind::Send(x) => x.flags.0 & flags::RST != 0,
                _ => false,
            })
        })
        .collect();
    assert_eq!(cases.len(), 30, "rules/rst 16, grid 10, rst/window-edges 4");
    cases
}

/// An RST in the window met with silence is RFC 793's reset or RFC 5961's challenge ACK held
/// back by its throttle: the two variants begin alike and the state after the silence chooses
/// (asked of the stack, or read off the wire). A throttling stack passes with the throttled
/// variant; a stack that ignores the RST (neither resets nor ever answers) fails at the repeat.
#[test]
fn a_throttled_challenge_ack_is_told_from_a_reset_and_from_an_ignored_rst() {
    for case in &throttled_rst_instances() {
        let targets: [Box<dyn Target>; 2] = [
            Box::new(Faulty::new(ThrottlesChallengeAcks::default())),
            Box::new(WireStates(Box::new(Faulty::new(
                ThrottlesChallengeAcks::default(),
            )))),
        ];
        for mut t in targets {
            let r = run_instance(t.as_mut(), case, IpVersion::V4, 11);
            let Outcome::Passed { variants, .. } = &r.outcome else {
                panic!("{}: {:?}", r.display_name(), r.outcome);
            };
            assert!(
                variants.iter().any(|v| v == "rfc5961-throttled"),
                "{}: {variants:?}",
                r.display_name()
            );
        }
        for profile in [RstProfile::Rfc5961, RstProfile::Rfc793] {
            let mut t = ReferenceTarget::new(reference_config(profile));
            let r = run_instance(&mut t, case, IpVersion::V4, 11);
            let Outcome::Passed { variants, .. } = &r.outcome else {
                panic!("{} ({profile:?}): {:?}", r.display_name(), r.outcome);
            };
            assert!(
                !variants.iter().any(|v| v == "rfc5961-throttled"),
                "{} ({profile:?}): {variants:?}",
                r.display_name()
            );
        }
        for wire in [false, true] {
            let ignores = Faulty::new(IgnoresResets);
            let mut t: Box<dyn Target> = if wire {
                Box::new(WireStates(Box::new(ignores)))
            } else {
                Box::new(ignores)
            };
            let r = run_instance(t.as_mut(), case, IpVersion::V4, 11);
            let Outcome::Failed(f) = &r.outcome else {
                panic!("{} (ignores RSTs): {:?}", r.display_name(), r.outcome);
            };
            assert!(
                f.message.contains("got nothing"),
                "{} (ignores RSTs): {}",
                r.display_name(),
                f.message
            );
        }
    }
}

#[test]
fn a_stack_that_ignores_resets_fails_on_the_wire() {
    let cases: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| c.id.starts_with("grid/synchronized/rst-at-rcv-nxt["))
        .collect();
    assert_eq!(cases.len(), 16, "8 states x RST, RST-ACK");
    for case in &cases {
        let mut t = WireStates(Box::new(Faulty::new(IgnoresResets)));
        let r = run_instance(&mut t, case, IpVersion::V4, 3);
        let Outcome::Failed(f) = &r.outcome else {
            panic!("{}: {:?}", r.display_name(), r.outcome);
        };
        assert!(
            f.message.contains("expected state CLOSED; on the wire")
                && f.message.contains("a synchronized connection exists"),
            "{}: {}",
            r.display_name(),
            f.message
        );
    }
}

#[test]
fn a_target_dead_after_the_handshake_passes_nothing_on_the_wire() {
    let mut passed = Vec::new();
    let mut judged = 0;
    for case in corpus() {
        let Some(prelude) = &case.prelude else {
            continue;
        };
        if !prelude.starts_with("ESTABLISHED") {
            continue;
        }
        let mut t = WireStates(Box::new(Faulty::new(DeadAfterHandshake::default())));
        let r = run_instance(&mut t, &case, IpVersion::V4, 5);
        judged += 1;
        if r.verdict == Verdict::Passed {
            passed.push(r.display_name());
        }
    }
    assert!(
        judged > 150,
        "{judged} instances with an ESTABLISHED prelude"
    );
    assert!(
        passed.is_empty(),
        "{} instances passed against a dead wire:\n{}",
        passed.len(),
        passed.join("\n")
    );
}

/// The reference stack whose `<SEQ=SEG.ACK><CTL=RST>` (the reset of CLOSED and LISTEN for an
/// ACK, RFC 9293 3.10.7.1 and 3.10.7.2) leaves with SEQ = SEG.ACK + 1, as lwIPv6's does on a
/// listening port.
#[derive(Default)]
struct ResetsPastSegAck {
    /// SEG.ACK of the tester's last ACK-bearing segment.
    seg_ack: Option<u32>,
}

impl Fault for ResetsPastSegAck {
    fn open(&mut self, _: &mut ReferenceTarget) {
        self.seg_ack = None;
    }
    fn lets_in(&mut self, p: &[u8]) -> bool {
        if let Ok(o) = observe(p) {
            if o.flags & flags::ACK != 0 && o.flags & flags::RST == 0 {
                self.seg_ack = Some(o.ack);
            }
        }
        true
    }
    fn rewrite_out(&mut self, p: &mut Vec<u8>) {
        let Ok(o) = observe(p) else { return };
        if o.flags != flags::RST || Some(o.seq) != self.seg_ack {
            return;
        }
        *p = build(&PacketSpec {
            src: o.src,
            dst: o.dst,
            seq: o.seq.wrapping_add(1),
            ack: o.ack,
            flags: o.flags,
            window: o.window,
            urgent: o.urgent,
            reserved: o.reserved,
            options: Vec::new(),
            payload: o.payload,
            data_offset: None,
            checksum: ChecksumSpec::Correct,
            ip: IpFields::default(),
            raw: None,
        });
    }
}

/// A case opening in CLOSED or LISTEN checks that state with a probe (an ACK); a reset with
/// SEQ = SEG.ACK + 1 shows the state but breaks the reset rule, and the probe's step says so
/// (a MUST), rather than leaving the reset to confuse a later step.
#[test]
fn a_reset_with_the_wrong_seq_fails_the_state_step_on_the_reset_rule() {
    let mut judged = 0;
    for case in corpus() {
        let want = match case.prelude.as_deref() {
            Some("CLOSED") => TcpState::Closed,
            Some("LISTEN") => TcpState::Listen,
            _ => continue,
        };
        let probe_step = case
            .steps
            .iter()
            .position(|s| s.kind == StepKind::State(want))
            .expect("the prelude checks its state");
        for &ip in &case.ip {
            let mut t = WireStates(Box::new(Faulty::new(ResetsPastSegAck::default())));
            let r = run_instance(&mut t, &case, ip, 13);
            let Outcome::Failed(f) = &r.outcome else {
                panic!("{}: {:?}", r.display_name(), r.outcome);
            };
            let rule = match want {
                TcpState::Closed => "3.10.7.1 (CL-3",
                _ => "3.10.7.2 (LI-2",
            };
            assert!(
                f.step == probe_step
                    && f.level == Level::Must
                    && f.message.contains(&format!(
                        "state {want} holds, but the reset breaks RFC 9293 {rule}"
                    ))
                    && seq_past_seg_ack(&f.message) == Some(1),
                "{}: step {} ({:?}): {}",
                r.display_name(),
                f.step,
                f.level,
                f.message
            );
            judged += 1;
        }
    }
    assert!(judged > 40, "{judged} instances open in CLOSED or LISTEN");
}

/// How far the reset's SEQ is past SEG.ACK, read off the failure message.
fn seq_past_seg_ack(message: &str) -> Option<u32> {
    let number = |after: &str| -> Option<u32> {
        let rest = &message[message.find(after)? + after.len()..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    let (seg_ack, seq) = (number("SEG.ACK was ")?, number("the reset has SEQ ")?);
    Some(seq.wrapping_sub(seg_ack))
}
