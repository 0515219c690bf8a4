//! The case language as one table: every mapping a case file may hold, each field with its
//! type and a line of documentation.
//!
//! Two readers share it so they cannot drift: the validator takes the field names from here
//! (unknown-field errors and their suggestions), and `tcpconform schema` generates the JSON
//! Schema from it (`schema.rs`). The validator stays the authority on what a value means
//! (expressions, sequence spaces, ranges that depend on other fields); the types here say what
//! people may type.

use super::expr::Var;
use super::model::{CallError, Level, SynReply, TcpState};
use super::needs::Need;

/// One field of a mapping.
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
}

/// What a field holds. Every value may also be a grid placeholder (`${axis}`), which the
/// loader substitutes before validating.
pub enum Ty {
    /// An integer literal in `min..=max` (hex text such as `"0x10"` too).
    Int(i64, i64),
    /// One of these integers.
    IntEnum(&'static [i64]),
    Bool,
    /// Any string.
    Text,
    /// Octets as hex text (`"de ad be ef"`).
    Hex,
    /// A string matching a regular expression (ECMA-262, as editors run it).
    Pattern(&'static str),
    /// One of these words in any letter case, alone (`true`) or followed by arguments.
    Keyword(&'static [&'static str], bool),
    /// One of these words.
    Enum(&'static [&'static str]),
    /// One of the names a model type knows (states, needs, rule ids...).
    Names(fn() -> Vec<&'static str>),
    /// `~` (or `true`): a call that takes no argument.
    Nothing,
    /// A string, number or boolean (the loader reads it as text).
    Scalar,
    /// Anything (a grid axis value).
    Any,
    /// A list of the type.
    List(&'static Ty),
    /// One value or a list of them.
    OneOrList(&'static Ty),
    /// A mapping from free names to the type, with at least this many entries.
    MapOf(&'static Ty, usize),
    /// A mapping with the fields of an [`Object`].
    Object(&'static Object),
    /// Any of these shapes.
    AnyOf(&'static [Ty]),
    /// A shared definition of [`DEFS`], by name.
    Def(&'static str),
}

/// A mapping: its fields, which are required, and whether exactly one of `fields` must be
/// given (a step's kind, a call's name, a setup). `extra` fields may accompany them.
pub struct Object {
    pub fields: &'static [Field],
    pub extra: &'static [Field],
    pub required: &'static [&'static str],
    pub pick_one: bool,
}

const fn f(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field { name, ty, doc }
}

const fn object(fields: &'static [Field], required: &'static [&'static str]) -> Object {
    Object {
        fields,
        extra: &[],
        required,
        pick_one: false,
    }
}

/// The names of one or more tables, as the validator's field lists
/// (`names::<{ T.len() }>(&[T])`).
pub const fn names<const N: usize>(tables: &[&[Field]]) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut t, mut n) = (0, 0);
    while t < tables.len() {
        let mut i = 0;
        while i < tables[t].len() {
            out[n] = tables[t][i].name;
            n += 1;
            i += 1;
        }
        t += 1;
    }
    out
}

const BYTE: Ty = Ty::Int(0, 255);
const PORT: Ty = Ty::Int(1, 65535);
const U16: Ty = Ty::Int(0, 65535);

/// Shared shapes, referenced by [`Ty::Def`].
pub const DEFS: &[Field] = &[
    f(
        "duration",
        Ty::Pattern(r"^\s*[0-9]+(\.[0-9]+)?\s*(us|µs|ms|s|min)\s*$"),
        "A duration with a unit: 500us, 200ms, 1.5s, 2min",
    ),
    f(
        "value",
        Ty::AnyOf(&[Ty::Int(i64::MIN, i64::MAX), Ty::Text, Ty::Object(&ABS)]),
        "An integer, an expression (+ - * parentheses and variables), abs(EXPR), or { abs: EXPR }",
    ),
    f(
        "match",
        Ty::AnyOf(&[Ty::Def("value"), Ty::Object(&RANGE_OBJECT)]),
        "Exact value or expression, \"*\", \">= x\", \"<= x\", \"> x\", \"< x\", \"a..=b\", \"a..b\", or { min, max }",
    ),
    f(
        "flags",
        Ty::Pattern(r"^(\.|[SFRPAUECN]+)$"),
        "Flag letters S F R P A U E C N in any order, or . for none",
    ),
    f(
        "option",
        Ty::AnyOf(&[
            Ty::Keyword(OPTION_WORDS, false),
            Ty::Object(&OPTION_TLV),
            Ty::Object(&OPTION_RAW),
        ]),
        "mss N, wscale N, sackOK, sack L:R ..., ts VAL ECR, tfo, tfo cookie, nop, eol, { kind: K, data: \"hex\" }, { raw: \"hex\" }",
    ),
    f(
        "optionKind",
        Ty::AnyOf(&[
            Ty::Keyword(OPTION_WORDS, true),
            BYTE,
        ]),
        "An option by name or kind number",
    ),
    f(
        "steps",
        Ty::List(&Ty::Object(&STEP_OBJECT)),
        "Steps, in order",
    ),
];

/// Option names, as the validator reads them (any letter case).
const OPTION_WORDS: &[&str] = &[
    "mss",
    "wscale",
    "sackOK",
    "sack_permitted",
    "sack",
    "ts",
    "tfo",
    "uto",
    "nop",
    "eol",
];

const ABS: Object = object(
    &[f(
        "abs",
        Ty::AnyOf(&[Ty::Int(i64::MIN, i64::MAX), Ty::Text]),
        "An absolute sequence number (not relative to an ISN)",
    )],
    &["abs"],
);
pub const RANGE: &[Field] = &[
    f("min", Ty::Def("value"), "Lowest value accepted"),
    f("max", Ty::Def("value"), "Highest value accepted"),
];
const RANGE_OBJECT: Object = object(RANGE, &[]);
const OPTION_TLV: Object = object(OPTION_FIELDS, &["kind"]);
const OPTION_RAW: Object = object(
    &[f(
        "raw",
        Ty::Hex,
        "The option's octets, kind and length included",
    )],
    &["raw"],
);
pub const OPTION_FIELDS: &[Field] = &[
    f("kind", BYTE, "Option kind"),
    f("data", Ty::Hex, "Option data after kind and length, hex"),
];

/// The top-level fields of a case.
pub const CASE: &[Field] = &[
    f("id", Ty::Text, "Unique across the corpus, path-like: rst/syn-received-returns-to-listen"),
    f("title", Ty::Text, "One line saying what the target must do"),
    f("description", Ty::Text, "Longer explanation"),
    f("rfc", Ty::OneOrList(&Ty::Text), "References; MUST-n / SHLD-n / MAY-n ids are checked"),
    f("cells", Ty::OneOrList(&Ty::Names(rule_ids)), "SEGMENT ARRIVES rule ids this case exercises"),
    f("ip", Ty::OneOrList(&Ty::IntEnum(&[4, 6])), "IP versions to run on (default both)"),
    f("tags", Ty::OneOrList(&Ty::Text), "Free labels, selected with --tag"),
    f("needs", Ty::OneOrList(&Ty::Names(need_names)), "What the target must support for the case to apply"),
    f("level", Ty::Names(level_names), "How strongly the RFC asks for what the case checks: must (a failure fails the run), should and practice (a warning), may (information). Default: the strongest level among its requirement ids, else must."),
    f("sysctls", Ty::MapOf(&Ty::Scalar, 0), "Linux sysctls set for the case (name: value)"),
    f("setup", Ty::Object(&SETUP_OBJECT), "How the target starts: listen, connect or closed on a port"),
    f("prelude", Ty::Text, "A prelude (built in, or of the case root's _preludes.yaml), e.g. ESTABLISHED, FIN-WAIT-1, SYN-RECEIVED/active"),
    f("defaults", Ty::Object(&DEFAULTS_OBJECT), "Defaults for the case's segments"),
    f("grid", Ty::MapOf(&Ty::AnyOf(&[Ty::List(&Ty::Any), Ty::MapOf(&Ty::Any, 1)]), 1), "Axes: one case per combination; ${axis} is replaced in every string"),
    f("steps", Ty::Def("steps"), "The steps, in order (may be empty only with a prelude)"),
];
pub const CASE_OBJECT: Object = object(CASE, &["id", "title", "steps"]);

pub const SETUP: &[Field] = &[
    f("listen", PORT, "Passive OPEN on this port"),
    f(
        "connect",
        PORT,
        "The target actively opens to the tester's port",
    ),
    f("closed", PORT, "Nothing listens on this port"),
];
/// What may accompany a setup.
pub const SETUP_EXTRA: &[Field] = &[f(
    "fastopen",
    Ty::Bool,
    "With connect: the active OPEN asks for TCP Fast Open (RFC 7413; TCP_FASTOPEN_CONNECT)",
)];
const SETUP_OBJECT: Object = Object {
    fields: SETUP,
    extra: SETUP_EXTRA,
    required: &[],
    pick_one: true,
};

pub const DEFAULTS: &[Field] = &[
    f("win", U16, "Window of the tester's segments"),
    f("within", Ty::Def("duration"), "How long an expect waits"),
];
const DEFAULTS_OBJECT: Object = object(DEFAULTS, &[]);

/// A step's kinds: exactly one per step.
pub const STEP: &[Field] = &[
    f("send", Ty::Object(&SEND_OBJECT), "A segment the tester injects. seq is relative to the tester's ISN, ack to the target's."),
    f("expect", Ty::Object(&EXPECT_OBJECT), "A segment the target must send. seq is relative to the target's ISN, ack to the tester's."),
    f("expect_also", Ty::Object(&EXPECT_OBJECT), "A second look, at its own level, at the segment the expect just before it took (no within/after)"),
    f("expect_none", Ty::Def("duration"), "Nothing may arrive for this long"),
    f("state", Ty::Names(state_names), "The state the target's connection must be in"),
    f("call", Ty::AnyOf(&[Ty::Names(bare_calls), Ty::Object(&CALL_OBJECT)]), "An application call on the target"),
    f("wait", Ty::Def("duration"), "A pause"),
    f("one_of", Ty::MapOf(&Ty::Def("steps"), 2), "Variants, each starting with expect or expect_none; the runner follows the one that matches"),
    f("isn_sample", Ty::Object(&ISN_SAMPLE_OBJECT), "Sample the target's ISNs over many handshakes and judge them (RFC 9293 3.4.1)"),
    f("syn_flood", Ty::Object(&SYN_FLOOD_OBJECT), "A burst of SYNs at the listening port; answers classified as syn_ack, rst or silence"),
    f("assume", Ty::Text, "A condition the rest of the case rests on, e.g. \"rcv.wnd > 0\"; where it does not hold, the instance is not applicable"),
    f("fill_window", Ty::Object(&FILL_WINDOW_OBJECT), "Send in-order data, left unread, until the target advertises a zero window"),
];
/// What may accompany a step's kind.
pub const STEP_EXTRA: &[Field] = &[
    f(
        "level",
        Ty::Names(level_names),
        "How strongly the RFC asks for what this step checks, when it differs from the case's",
    ),
    f(
        "when",
        Ty::MapOf(&Ty::OneOrList(&Ty::Scalar), 0),
        "Grid only: keep the step in these combinations (axis: label | [labels])",
    ),
    f(
        "unless",
        Ty::MapOf(&Ty::OneOrList(&Ty::Scalar), 0),
        "Grid only: drop the step in these combinations",
    ),
];
const STEP_OBJECT: Object = Object {
    fields: STEP,
    extra: STEP_EXTRA,
    required: &[],
    pick_one: true,
};

pub const SEND: &[Field] = &[
    f("flags", Ty::Def("flags"), "Flag letters, or . for none"),
    f("seq", Ty::Def("value"), "Sequence number, relative to the tester's ISN"),
    f("ack", Ty::Def("value"), "Acknowledgment number, relative to the target's ISN"),
    f("win", Ty::Def("value"), "Window"),
    f("urg", Ty::Def("value"), "Urgent pointer"),
    f("reserved", Ty::Int(0, 7), "The reserved header bits"),
    f("options", Ty::List(&Ty::Def("option")), "TCP options, in order"),
    f("data", Ty::AnyOf(&[Ty::Int(0, 1 << 20), Ty::Text]), "N pattern octets, or text"),
    f("hex", Ty::Hex, "Payload as hex"),
    f("doff", Ty::Int(0, 15), "Data offset to write instead of the true one"),
    f("checksum", Ty::AnyOf(&[Ty::Enum(&["bad", "correct"]), U16]), "bad, correct, or a 16-bit value"),
    f("ttl", BYTE, "IPv4 TTL / IPv6 hop limit"),
    f("tos", BYTE, "IPv4 TOS / IPv6 traffic class"),
    f("df", Ty::Bool, "IPv4 Don't Fragment"),
    f("ip_id", U16, "IPv4 identification"),
    f("flow_label", Ty::Int(0, 0xf_ffff), "IPv6 flow label"),
    f("ipv4_options", Ty::Hex, "IPv4 options, hex (at most 40 octets)"),
    f("src", Ty::Text, "Another source address than the tester's (same IP version)"),
    f("dst", Ty::Text, "Another destination address than the target's (same IP version), e.g. a multicast group; the segment still goes to the target"),
    f("raw", Ty::Hex, "The whole IP packet, hex"),
    f("icmp", Ty::Object(&ICMP_OBJECT), "An ICMP (ICMPv6 on IPv6) error from the tester quoting the target's segment with this seq"),
];
const SEND_OBJECT: Object = object(SEND, &[]);

pub const ICMP: &[Field] = &[
    f("type", BYTE, "ICMP type"),
    f("code", BYTE, "ICMP code"),
    f(
        "seq",
        Ty::Def("value"),
        "The quoted segment's sequence number, relative to the target's ISN",
    ),
    f(
        "mtu",
        U16,
        "Next-hop MTU: fragmentation needed (ICMP 3/4), packet too big (ICMPv6 2)",
    ),
];
const ICMP_OBJECT: Object = object(ICMP, &["type", "code", "seq"]);

pub const EXPECT: &[Field] = &[
    f(
        "flags",
        Ty::AnyOf(&[
            Ty::Def("flags"),
            Ty::List(&Ty::Def("flags")),
            Ty::Object(&FLAG_MASK_OBJECT),
        ]),
        "Exact flags, a list of allowed sets, or { has, not }",
    ),
    f(
        "seq",
        Ty::Def("match"),
        "Sequence number, relative to the target's ISN",
    ),
    f(
        "ack",
        Ty::Def("match"),
        "Acknowledgment number, relative to the tester's ISN",
    ),
    f("win", Ty::Def("match"), "Window"),
    f("urg", Ty::Def("match"), "Urgent pointer"),
    f("reserved", Ty::Def("match"), "The reserved header bits"),
    f("len", Ty::Def("match"), "Payload length"),
    f(
        "data",
        Ty::AnyOf(&[Ty::Int(0, 1 << 20), Ty::Text]),
        "The payload: N pattern octets, or text",
    ),
    f("hex", Ty::Hex, "The payload as hex"),
    f(
        "options",
        Ty::AnyOf(&[
            Ty::List(&Ty::Def("option")),
            Ty::Object(&EXPECT_OPTIONS_OBJECT),
        ]),
        "The exact option list, or checks on some options",
    ),
    f("ttl", Ty::Def("match"), "IPv4 TTL / IPv6 hop limit"),
    f("tos", Ty::Def("match"), "IPv4 TOS / IPv6 traffic class"),
    f("ecn", Ty::Def("match"), "The IP ECN bits"),
    f("within", Ty::Def("duration"), "Latest arrival"),
    f("after", Ty::Def("duration"), "Earliest arrival"),
    f(
        "interval",
        Ty::Pattern(r"^\s*[0-9.]+x\s*\.\.\s*[0-9.]+x\s*$"),
        "The wait as multiples of the previous expect's wait, e.g. 1.5x..2.5x",
    ),
];
const EXPECT_OBJECT: Object = object(EXPECT, &[]);

pub const FLAG_MASK: &[Field] = &[
    f("has", Ty::Def("flags"), "Flags that must be set"),
    f(
        "not",
        Ty::OneOrList(&Ty::Def("flags")),
        "Flags that must be clear",
    ),
];
const FLAG_MASK_OBJECT: Object = object(FLAG_MASK, &[]);

pub const EXPECT_OPTIONS: &[Field] = &[
    f(
        "contains",
        Ty::OneOrList(&Ty::Def("optionKind")),
        "Options that must be present",
    ),
    f(
        "absent",
        Ty::OneOrList(&Ty::Def("optionKind")),
        "Options that must not be present",
    ),
    f(
        "exact",
        Ty::List(&Ty::Def("option")),
        "The exact option list (`*` matches any value)",
    ),
    f("mss", Ty::Def("match"), "The MSS option's value"),
    f(
        "wscale",
        Ty::Def("match"),
        "The window scale option's shift",
    ),
    f(
        "ts",
        Ty::Object(&TS_OBJECT),
        "The timestamps option's values",
    ),
    f(
        "sack",
        Ty::Text,
        "SACK blocks LEFT:RIGHT ..., relative to the tester's ISN",
    ),
    f(
        "sack_first",
        Ty::Text,
        "The first SACK block LEFT:RIGHT; more may follow",
    ),
    f(
        "padding",
        Ty::Enum(&["zero"]),
        "every octet after End of Option List is zero (MUST-69)",
    ),
    f(
        "tfo_cookie",
        Ty::Def("match"),
        "The Fast Open cookie's length in octets (RFC 7413 4.1.1)",
    ),
    f(
        "tfo",
        Ty::Hex,
        "The Fast Open option carries exactly this cookie, hex (\"\": a cookie request, RFC 7413 4.1.1)",
    ),
];
const EXPECT_OPTIONS_OBJECT: Object = object(EXPECT_OPTIONS, &[]);

pub const TS: &[Field] = &[
    f("val", Ty::Def("match"), "TSval"),
    f("ecr", Ty::Def("match"), "TSecr"),
];
const TS_OBJECT: Object = object(TS, &[]);

/// The application calls: exactly one per `call` step.
pub const CALL: &[Field] = &[
    f("listen", Ty::Nothing, "Passive OPEN"),
    f("accept", Ty::Nothing, "Accept the pending connection"),
    f("connect", Ty::AnyOf(&[Ty::Nothing, Ty::Text]), "~ (the tester), or an IP address"),
    f("write", Ty::AnyOf(&[Ty::Int(0, 1 << 20), Ty::Text]), "N pattern octets, or text"),
    f("write_hex", Ty::Hex, "Octets to write, hex"),
    f("read", Ty::Int(1, 1 << 20), "Read at most N octets"),
    f("shutdown", Ty::AnyOf(&[Ty::Nothing, Ty::Enum(&["read", "write", "both"])]), "Shut down one or both directions (default write)"),
    f("close", Ty::Nothing, "Close"),
    f("abort", Ty::Nothing, "Abort (RST)"),
    f("user_timeout", Ty::Def("duration"), "The connection's user timeout, R2 for its data (MUST-21): whole milliseconds, at most 24 h"),
    f("release", Ty::Nothing, "Give the connection up (close(2)): RST if data is unread, else CLOSE"),
    f("nodelay", Ty::Nothing, "Turn off Nagle's algorithm"),
    f("keepalive", Ty::Object(&KEEPALIVE_OBJECT), "Keep-alives on (RFC 9293 3.8.4): first probe after idle, then every interval, dropped after count unanswered probes; whole seconds"),
];
/// What may accompany a call.
pub const CALL_EXTRA: &[Field] = &[
    f(
        "expect",
        Ty::AnyOf(&[Ty::Text, Ty::Int(0, 1 << 20)]),
        "What a read must return: text, N pattern octets (as `data: N` sends), or eof",
    ),
    f("expect_hex", Ty::Hex, "What a read must return, hex"),
    f(
        "fastopen",
        Ty::Bool,
        "With connect: the active OPEN asks for TCP Fast Open (RFC 7413; TCP_FASTOPEN_CONNECT): the SYN carries a cookie request, or the cached cookie and the first write",
    ),
    f(
        "error",
        Ty::Names(call_errors),
        "The error the call must fail with",
    ),
];
const CALL_OBJECT: Object = Object {
    fields: CALL,
    extra: CALL_EXTRA,
    required: &[],
    pick_one: true,
};

pub const KEEPALIVE: &[Field] = &[
    f(
        "idle",
        Ty::Def("duration"),
        "Idle time before the first probe",
    ),
    f("interval", Ty::Def("duration"), "Time between probes"),
    f(
        "count",
        Ty::Int(1, 127),
        "Unanswered probes before the connection is dropped",
    ),
];
const KEEPALIVE_OBJECT: Object = object(KEEPALIVE, &["idle", "interval", "count"]);

pub const FILL_WINDOW: &[Field] = &[f(
    "max",
    Ty::Int(65_536, 256 << 20),
    "Octets to send at most (default 16 MiB): a larger buffer makes the instance not applicable",
)];
const FILL_WINDOW_OBJECT: Object = object(FILL_WINDOW, &[]);

pub const ISN_SAMPLE: &[Field] = &[
    f("count", Ty::Int(3, 16000), "SYNs to send (fresh tuples: 32..=16000; same_tuple: 3..=10000)"),
    f("same_tuple", Ty::Bool, "true: one 4-tuple, ISNs must follow a clock (MUST-8); false: fresh tuples, ISNs must be unpredictable (MUST-9)"),
    f("gap", Ty::Def("duration"), "Pause between two handshakes"),
];
const ISN_SAMPLE_OBJECT: Object = object(ISN_SAMPLE, &["count"]);

pub const SYN_FLOOD: &[Field] = &[
    f("count", Ty::Int(1, 100_000), "SYNs to send"),
    f(
        "sources",
        Ty::Enum(&["spoofed", "tester"]),
        "Spoofed source addresses, or the tester's own",
    ),
    f(
        "drain",
        Ty::Def("duration"),
        "How long answers are collected after the burst",
    ),
    f(
        "answered_first",
        Ty::Int(0, 100_000),
        "The first N SYNs must each get a SYN-ACK (sources: tester)",
    ),
    f(
        "others",
        Ty::OneOrList(&Ty::Names(syn_replies)),
        "Allowed answers to the other SYNs (default [syn_ack, silence])",
    ),
    f(
        "connect_within",
        Ty::Def("duration"),
        "A fresh connection must still succeed within this time",
    ),
];
const SYN_FLOOD_OBJECT: Object = object(SYN_FLOOD, &["count", "sources"]);

/// A prelude library (`_preludes.yaml`): `preludes:` maps names to preludes.
pub const LIBRARY: &[Field] = &[f(
    "preludes",
    Ty::MapOf(&Ty::Object(&PRELUDE_OBJECT), 0),
    "Preludes by name: the steps that bring a connection to a state",
)];
pub const LIBRARY_OBJECT: Object = object(LIBRARY, &["preludes"]);

/// How a prelude starts: exactly one of these.
pub const PRELUDE_START: &[Field] = &[
    f("setup", Ty::Object(&SETUP_OBJECT), "How the target starts"),
    f(
        "after",
        Ty::Text,
        "Start from another prelude's setup and steps",
    ),
];
pub const PRELUDE_STEPS: &[Field] = &[f(
    "steps",
    Ty::Def("steps"),
    "The steps that reach the state",
)];
const PRELUDE_OBJECT: Object = Object {
    fields: PRELUDE_START,
    extra: PRELUDE_STEPS,
    required: &[],
    pick_one: true,
};

fn rule_ids() -> Vec<&'static str> {
    reference_stack::Rule::ALL
        .map(reference_stack::Rule::id)
        .to_vec()
}
fn need_names() -> Vec<&'static str> {
    Need::all().iter().map(|n| n.name()).collect()
}
fn level_names() -> Vec<&'static str> {
    Level::ALL.map(Level::name).to_vec()
}
fn state_names() -> Vec<&'static str> {
    TcpState::ALL.iter().map(|s| s.name()).collect()
}
fn call_errors() -> Vec<&'static str> {
    CallError::ALL.iter().map(|e| e.name()).collect()
}
fn syn_replies() -> Vec<&'static str> {
    SynReply::ALL.map(SynReply::name).to_vec()
}
/// Calls that take no argument may be written as a bare name: `call: close`.
fn bare_calls() -> Vec<&'static str> {
    CALL.iter()
        .filter(|c| accepts_nothing(&c.ty))
        .map(|c| c.name)
        .collect()
}

fn accepts_nothing(ty: &Ty) -> bool {
    match ty {
        Ty::Nothing => true,
        Ty::AnyOf(tys) => tys.iter().any(accepts_nothing),
        _ => false,
    }
}

/// The variables expressions may use, for the schema's description of values.
pub fn variables() -> Vec<&'static str> {
    Var::ALL.iter().map(|v| v.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_table() {
        assert_eq!(names::<3>(&[SETUP]), ["listen", "connect", "closed"]);
        assert_eq!(
            names::<3>(&[PRELUDE_START, PRELUDE_STEPS]),
            ["setup", "after", "steps"]
        );
        // A bare call is exactly one that takes no argument.
        assert_eq!(
            bare_calls(),
            ["listen", "accept", "connect", "shutdown", "close", "abort", "release", "nodelay"]
        );
    }
}
