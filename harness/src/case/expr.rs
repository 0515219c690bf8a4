//! Integer expressions in case files: `rcv.nxt + rcv.wnd`, `snd.una - 1`, `(mss * 2) + 1`.
//!
//! Grammar (whitespace is free):
//!
//! ```text
//! expr   = term (("+" | "-") term)*
//! term   = unary ("*" unary)*
//! unary  = "-" unary | atom
//! atom   = integer | variable | "(" expr ")"
//! integer = decimal digits | "0x" hex digits
//! variable = one of VARIABLES (`rcv.nxt`, `snd.una`, ...)
//! ```
//!
//! The parser never panics: every input yields an [`Expr`] or an [`ExprError`] with the byte
//! offset of the problem. Evaluation uses checked arithmetic.

use core::fmt;

/// A connection variable, named from the TARGET's TCB point of view (RFC 9293 3.3.1) as
/// observed on the wire. The runner supplies their values; see `cases/README.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    /// `rcv.nxt`: the next sequence number the target expects from the tester (the ACK field of
    /// its latest segment). Tester sequence space.
    RcvNxt,
    /// `rcv.wnd`: the target's last advertised window, scaled by its window scale.
    RcvWnd,
    /// `snd.nxt`: the sequence number after the last octet (or SYN/FIN) the target has sent.
    /// Target sequence space.
    SndNxt,
    /// `snd.una`: the highest acknowledgment the tester has sent. Target sequence space.
    SndUna,
    /// `snd.wnd`: the window the tester last advertised, as the target scales it.
    SndWnd,
    /// `iss`: the target's initial sequence number. Target sequence space (relative value 0).
    Iss,
    /// `irs`: the tester's initial sequence number. Tester sequence space (relative value 0).
    Irs,
    /// `mss`: the MSS the target announced in its SYN (536 if it announced none, RFC 9293 3.7.1).
    Mss,
    /// `tester.nxt`: the end of the furthest segment the tester has sent (its own SND.NXT when
    /// it sends in order). Unlike `rcv.nxt` it does not wait for the target to acknowledge.
    TesterNxt,
    /// `ts.val`: the TSval of the target's latest segment carrying timestamps (RFC 7323).
    TsVal,
    /// `ts.ecr`: the TSecr of the target's latest segment carrying timestamps.
    TsEcr,
}

/// Which sequence space a variable (or a header field) lives in. Relative values are offsets
/// from that side's ISN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// The tester's sequence numbers (its ISN is random per run).
    Tester,
    /// The target's sequence numbers.
    Target,
    /// Not a sequence number (windows, lengths, MSS, timestamps).
    None,
}

impl Var {
    /// Every variable, in the order the documentation lists them.
    pub const ALL: [Var; 11] = [
        Var::RcvNxt,
        Var::RcvWnd,
        Var::SndNxt,
        Var::SndUna,
        Var::SndWnd,
        Var::Iss,
        Var::Irs,
        Var::TesterNxt,
        Var::Mss,
        Var::TsVal,
        Var::TsEcr,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Var::RcvNxt => "rcv.nxt",
            Var::RcvWnd => "rcv.wnd",
            Var::SndNxt => "snd.nxt",
            Var::SndUna => "snd.una",
            Var::SndWnd => "snd.wnd",
            Var::Iss => "iss",
            Var::Irs => "irs",
            Var::TesterNxt => "tester.nxt",
            Var::Mss => "mss",
            Var::TsVal => "ts.val",
            Var::TsEcr => "ts.ecr",
        }
    }

    /// Case-insensitive lookup by name (`RCV.NXT` works too).
    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL
            .iter()
            .copied()
            .find(|v| v.name().eq_ignore_ascii_case(name))
    }

    /// The sequence space the variable's relative value lives in.
    pub fn space(self) -> Space {
        match self {
            Var::RcvNxt | Var::Irs | Var::TesterNxt => Space::Tester,
            Var::SndNxt | Var::SndUna | Var::Iss => Space::Target,
            Var::RcvWnd | Var::SndWnd | Var::Mss | Var::TsVal | Var::TsEcr => Space::None,
        }
    }

    /// `rcv.nxt, rcv.wnd, ...` for error messages.
    pub fn list() -> String {
        Var::ALL
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
}

/// An integer expression, kept as a tree so that the runner evaluates it when the variables
/// are known (after the target's SYN-ACK, for instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Num(i64),
    Var(Var),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// The runner has no value for this variable yet (e.g. `ts.val` before any timestamp).
    Unbound(Var),
    Overflow,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Unbound(v) => write!(f, "`{v}` has no value yet at this point of the case"),
            EvalError::Overflow => f.write_str("arithmetic overflow"),
        }
    }
}

impl std::error::Error for EvalError {}

impl Expr {
    /// Evaluates with `lookup` giving each variable's value (or `None` if unknown so far).
    pub fn eval(&self, lookup: &dyn Fn(Var) -> Option<i64>) -> Result<i64, EvalError> {
        match self {
            Expr::Num(n) => Ok(*n),
            Expr::Var(v) => lookup(*v).ok_or(EvalError::Unbound(*v)),
            Expr::Neg(e) => e.eval(lookup)?.checked_neg().ok_or(EvalError::Overflow),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(lookup)?, b.eval(lookup)?);
                match op {
                    BinOp::Add => a.checked_add(b),
                    BinOp::Sub => a.checked_sub(b),
                    BinOp::Mul => a.checked_mul(b),
                }
                .ok_or(EvalError::Overflow)
            }
        }
    }

    /// Every variable the expression mentions, in order of appearance.
    pub fn vars(&self) -> Vec<Var> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars(&self, out: &mut Vec<Var>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var(v) => out.push(*v),
            Expr::Neg(e) => e.collect_vars(out),
            Expr::Bin(_, a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
        }
    }

    /// `self + n`, folding constants (used to turn `> x` into `>= x + 1`).
    pub fn plus(self, n: i64) -> Expr {
        match self {
            Expr::Num(m) => match m.checked_add(n) {
                Some(s) => Expr::Num(s),
                None => Expr::Bin(BinOp::Add, Box::new(Expr::Num(m)), Box::new(Expr::Num(n))),
            },
            e => Expr::Bin(BinOp::Add, Box::new(e), Box::new(Expr::Num(n))),
        }
    }

    /// Parses an expression (see the module grammar).
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        let mut p = Parser {
            src,
            pos: 0,
            depth: 0,
        };
        p.skip_ws();
        if p.pos >= src.len() {
            return Err(ExprError::new(0, "empty expression"));
        }
        let e = p.expr()?;
        p.skip_ws();
        if p.pos < src.len() {
            return Err(ExprError::new(
                p.pos,
                format!("unexpected `{}` (expected + - * or the end)", p.rest_char()),
            ));
        }
        Ok(e)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Num(n) => write!(f, "{n}"),
            Expr::Var(v) => write!(f, "{v}"),
            Expr::Neg(e) => write!(f, "-({e})"),
            Expr::Bin(op, a, b) => {
                let op = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                };
                write!(f, "({a} {op} {b})")
            }
        }
    }
}

/// A parse error: byte offset into the expression text and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

impl ExprError {
    fn new(offset: usize, message: impl Into<String>) -> ExprError {
        ExprError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

/// Nesting limit for parentheses and unary minus, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn rest_char(&self) -> char {
        self.src
            .get(self.pos..)
            .and_then(|s| s.chars().next())
            .unwrap_or(' ')
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.term()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some(b'+') => BinOp::Add,
                Some(b'-') => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.term()?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        loop {
            self.skip_ws();
            if self.peek() != Some(b'*') {
                return Ok(lhs);
            }
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = Expr::Bin(BinOp::Mul, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        self.skip_ws();
        if self.peek() == Some(b'-') {
            self.pos += 1;
            self.nest()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(match e {
                Expr::Num(n) => Expr::Num(-n),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.atom()
    }

    fn nest(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(self.pos, "expression nested too deeply"));
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(ExprError::new(
                start,
                "expression ends early (expected a number or a variable)",
            )),
            Some(b'(') => {
                self.pos += 1;
                self.nest()?;
                let e = self.expr()?;
                self.depth -= 1;
                self.skip_ws();
                if self.peek() != Some(b')') {
                    return Err(ExprError::new(self.pos, "missing `)`"));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(c) if c.is_ascii_digit() => {
                let (radix, digits_start) =
                    if self.src[start..].starts_with("0x") || self.src[start..].starts_with("0X") {
                        (16, start + 2)
                    } else {
                        (10, start)
                    };
                self.pos = digits_start;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                let text: String = self.src[digits_start..self.pos]
                    .chars()
                    .filter(|&c| c != '_')
                    .collect();
                i64::from_str_radix(&text, radix)
                    .map(Expr::Num)
                    .map_err(|_| {
                        ExprError::new(
                            start,
                            format!("bad number `{}`", &self.src[start..self.pos]),
                        )
                    })
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
                {
                    self.pos += 1;
                }
                let name = &self.src[start..self.pos];
                Var::from_name(name).map(Expr::Var).ok_or_else(|| {
                    ExprError::new(
                        start,
                        format!(
                            "unknown variable `{name}` (expected one of {})",
                            Var::list()
                        ),
                    )
                })
            }
            Some(_) => Err(ExprError::new(
                start,
                format!(
                    "unexpected `{}` (expected a number, a variable or `(`)",
                    self.rest_char()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Result<i64, EvalError> {
        Expr::parse(s).expect("parses").eval(&|v| match v {
            Var::RcvNxt => Some(100),
            Var::RcvWnd => Some(65535),
            _ => None,
        })
    }

    #[test]
    fn precedence_and_variables() {
        assert_eq!(ev("rcv.nxt + rcv.wnd"), Ok(65635));
        assert_eq!(ev("1 + 2 * 3"), Ok(7));
        assert_eq!(ev("(1 + 2) * 3"), Ok(9));
        assert_eq!(ev("rcv.nxt - -1"), Ok(101));
        assert_eq!(ev("0x10 - 1"), Ok(15));
        assert_eq!(ev("RCV.NXT"), Ok(100));
        assert_eq!(ev("snd.nxt"), Err(EvalError::Unbound(Var::SndNxt)));
        assert_eq!(ev("9223372036854775807 + 1"), Err(EvalError::Overflow));
    }

    #[test]
    fn errors_are_located() {
        let e = Expr::parse("rcv.nxt + foo").unwrap_err();
        assert_eq!(e.offset, 10);
        assert!(e.message.contains("unknown variable `foo`"));
        assert_eq!(
            Expr::parse("1 +").unwrap_err().message,
            "expression ends early (expected a number or a variable)"
        );
        assert_eq!(Expr::parse("(1").unwrap_err().offset, 2);
        assert_eq!(Expr::parse("1 2").unwrap_err().offset, 2);
        assert!(Expr::parse("").is_err());
        assert!(Expr::parse("99999999999999999999").is_err());
        assert!(Expr::parse(&"(".repeat(10_000)).is_err());
        assert!(Expr::parse(&"-".repeat(10_000)).is_err());
        assert!(Expr::parse("é").is_err());
    }
}
