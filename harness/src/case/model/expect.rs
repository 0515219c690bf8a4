//! What an `expect` step matches in a received segment: numbers, flags, options, timing.

use super::*;

/// The Fast Open option's kind (RFC 7413 4.1.1).
pub const FAST_OPEN_KIND: u8 = 34;
/// The User Timeout Option's kind (RFC 5482 3).
pub const USER_TIMEOUT_KIND: u8 = 28;

/// A matcher for one numeric field of a received segment.
#[derive(Debug, Clone, PartialEq)]
pub enum NumMatch {
    /// `"*"`: anything.
    Any,
    /// Exactly this value.
    Eq(Value),
    /// Inclusive bounds; `None` is open. `"> x"` is stored as `min: x + 1`, `"a..b"` as
    /// `max: b - 1`. On sequence fields the runner compares modulo 2^32 (RFC 9293 3.4).
    Range {
        min: Option<Value>,
        max: Option<Value>,
    },
}

/// What the flags of a received segment must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagMatch {
    /// Exactly one of these sets (`flags: SA` or `flags: [R, RA]`).
    OneOf(Vec<Flags>),
    /// `{ has: A, not: [S, R] }`: these bits set, those clear, the rest free.
    Mask { has: Flags, not: Flags },
}

/// A TCP option kind, for `contains` / `absent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionKind {
    Eol,
    Nop,
    Mss,
    WindowScale,
    SackPermitted,
    Sack,
    Timestamps,
    /// Any other kind number.
    Other(u8),
}

impl OptionKind {
    /// The kind octet (RFC 9293 3.2, RFC 7323, RFC 2018).
    pub fn code(self) -> u8 {
        match self {
            OptionKind::Eol => 0,
            OptionKind::Nop => 1,
            OptionKind::Mss => 2,
            OptionKind::WindowScale => 3,
            OptionKind::SackPermitted => 4,
            OptionKind::Sack => 5,
            OptionKind::Timestamps => 8,
            OptionKind::Other(k) => k,
        }
    }
}

/// One option of an `exact` option list: like [`SendOption`] with matchers for values.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionPattern {
    Eol,
    Nop,
    Mss(NumMatch),
    WindowScale(NumMatch),
    SackPermitted,
    Sack(Vec<(NumMatch, NumMatch)>),
    Timestamps {
        val: NumMatch,
        ecr: NumMatch,
    },
    /// `data: None` matches any data of that kind.
    Unknown {
        kind: u8,
        data: Option<Vec<u8>>,
    },
}

/// Matchers on the options of a received segment; all given ones must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptionsMatch {
    pub contains: Vec<OptionKind>,
    pub absent: Vec<OptionKind>,
    /// The whole option list, in order (NOP and EOL included).
    pub exact: Option<Vec<OptionPattern>>,
    /// Value of the MSS option (implies `contains: [mss]`).
    pub mss: Option<NumMatch>,
    pub wscale: Option<NumMatch>,
    pub ts: Option<TsMatch>,
    /// SACK blocks in order (edges in the tester's sequence space).
    pub sack: Option<Vec<(NumMatch, NumMatch)>>,
    /// The first SACK block only, whatever follows (RFC 2018 4: the first block MUST hold the
    /// segment that triggered the ACK; the others only SHOULD repeat earlier ones).
    pub sack_first: Option<(NumMatch, NumMatch)>,
    /// `padding: zero`: every octet after End of Option List is zero (MUST-69).
    pub padding_zero: bool,
    /// The length in octets of the Fast Open cookie (implies a Fast Open option is present).
    pub tfo_cookie: Option<NumMatch>,
    /// The Fast Open option carries exactly this cookie (empty: a cookie request).
    pub tfo: Option<Vec<u8>>,
}

impl OptionsMatch {
    pub fn is_empty(&self) -> bool {
        *self == OptionsMatch::default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TsMatch {
    pub val: NumMatch,
    pub ecr: NumMatch,
}

/// A segment the target must send. `None` / empty matchers are not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub flags: Option<FlagMatch>,
    pub seq: Option<NumMatch>,
    pub ack: Option<NumMatch>,
    /// The raw 16-bit window field (unscaled).
    pub win: Option<NumMatch>,
    pub urg: Option<NumMatch>,
    pub reserved: Option<NumMatch>,
    /// Payload length.
    pub len: Option<NumMatch>,
    /// Exact payload bytes.
    pub data: Option<Vec<u8>>,
    pub options: OptionsMatch,
    pub ttl: Option<NumMatch>,
    pub tos: Option<NumMatch>,
    /// The ECN field alone: the two low bits of `tos` (RFC 3168 5: 0 Not-ECT, 1 ECT(1),
    /// 2 ECT(0), 3 CE), whatever DSCP the target uses.
    pub ecn: Option<NumMatch>,
    /// Latest arrival, measured from the end of the previous step (default `Defaults::within`).
    pub within: Option<Duration>,
    /// Earliest arrival: a segment before this fails the step (retransmission timing).
    pub after: Option<Duration>,
    /// `interval: "1.5x..2.5x"`: the wait for this segment, as a multiple of the wait of the
    /// previous `expect` that took one (a backoff from an initial RTO the case cannot know;
    /// RFC 6298 5.5). Bounds inclusive.
    pub interval: Option<(f64, f64)>,
}
