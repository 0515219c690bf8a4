//! packetdrill's script syntax, read into events: options (`--tolerance_usecs=10000`), an
//! init command (a shell command in backquotes before the first event), then events, each a
//! time and an action: a packet (`<` inbound, `>` outbound), a system call, a shell command
//! or a Python snippet (`%{ ... }%`).
//!
//! Only the shape is read here, with the line of every event; what an event means for a case
//! is [`super::convert`]'s business. Where the reading stops (syntax this reader does not
//! know), the error names the line.

mod packet;

use std::fmt;

/// A packetdrill time, in microseconds from the script's start or from the previous event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// `0.100`
    Absolute(i64),
    /// `+0.100`
    Relative(i64),
    /// `0.1~0.2`
    AbsoluteRange(i64, i64),
    /// `+0.1~+0.2`
    RelativeRange(i64, i64),
    /// `*`: any time (outbound packets only).
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A TCP option as packetdrill writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOption {
    Nop,
    Eol,
    Mss(u32),
    WindowScale(u32),
    SackPermitted,
    /// Blocks as (left, right), in the script's relative numbers.
    Sack(Vec<(u32, u32)>),
    Timestamp {
        val: u32,
        ecr: u32,
    },
    /// Anything else (`FO`, `md5`, AccECN ...), by its name.
    Other(String),
}

/// `(ect0)`, `[tos 0x10]`, `(ttl 64)`, `(flowlabel 0x1)` before the flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpInfo {
    /// The ECN codepoint: 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
    pub ecn: Option<u8>,
    /// `ect01`: ECT(0) or ECT(1).
    pub ect01: bool,
    pub tos: Option<u8>,
    pub ttl: Option<u8>,
    pub flow_label: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub direction: Direction,
    pub ip: IpInfo,
    /// As written: `S.`, `P.`, `F.`, `.`, `R`, `-` (none), `SEW`...
    pub flags: String,
    pub start: u32,
    pub len: u32,
    pub ack: Option<u32>,
    pub win: Option<u32>,
    pub urg: Option<u32>,
    /// `None` for `<...>` (options not checked); `Some(empty)` when none are written.
    pub options: Option<Vec<TcpOption>>,
    /// Something this reader keeps but no case can say (`udp`, `icmp`, ports, `encap`).
    pub other: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    pub name: String,
    /// The arguments as written, spaces removed: `3`, `...`, `[1]`, `O_RDWR|O_NONBLOCK`.
    pub args: Vec<String>,
    /// The expected result as written: `0`, `-1`, `1000`, `...`.
    pub result: String,
    /// The expected errno name, when the result is an error: `EINPROGRESS`.
    pub errno: Option<String>,
    /// `...0.2` after the time: a call that blocks until then.
    pub blocks_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Packet(Packet),
    Syscall(Syscall),
    /// A shell command in backquotes.
    Command(String),
    /// A `%{ ... }%` Python snippet.
    Code(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub line: usize,
    pub time: Time,
    pub action: Action,
}

/// A whole script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// `--name=value` options, with their lines.
    pub options: Vec<(usize, String, String)>,
    /// The init command (backquotes before the first event) and its line.
    pub init: Option<(usize, String)>,
    pub events: Vec<Event>,
    /// A command after the last event.
    pub cleanup: Option<(usize, String)>,
    /// The first comment block, for the case's title.
    pub first_comment: Option<String>,
}

/// Where and why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
    /// Valid packetdrill this reader leaves to others, by name (`ICMP packets`); `None` for a
    /// script packetdrill itself would reject.
    pub feature: Option<&'static str>,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An integer or a decimal number, as written (`-1`, `0`, `.1`, `0.011`).
    Num(String),
    Hex(u64),
    Word(String),
    Str(String),
    Backquoted(String),
    Code(String),
    Ellipsis,
    /// `--name` (its `=value` follows as tokens).
    Opt(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    /// Whether the token is the first of its source line.
    first: bool,
}

fn err(line: usize, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        line,
        message: message.into(),
        feature: None,
    }
}

fn beyond(line: usize, feature: &'static str, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        line,
        message: message.into(),
        feature: Some(feature),
    }
}

/// The tokens of `text`, and the text of the comments before the first token.
fn lex(text: &str) -> Result<(Vec<Token>, Option<String>), SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1;
    let mut last_line = 0;
    let mut out: Vec<Token> = Vec::new();
    let mut comment = String::new();
    let until = |i: usize, end: &str| -> Option<usize> {
        let end: Vec<char> = end.chars().collect();
        (i..chars.len()).find(|&j| chars[j..].starts_with(&end))
    };
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        let mut push = |tok: Tok, out: &mut Vec<Token>| {
            out.push(Token {
                tok,
                line: start_line,
                first: start_line != last_line,
            });
            last_line = start_line;
        };
        if c == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        if rest.starts_with("//") {
            let end = until(i, "\n").unwrap_or(chars.len());
            if out.is_empty() {
                let text: String = chars[i + 2..end].iter().collect();
                comment.push_str(text.trim());
                comment.push('\n');
            }
            i = end;
            continue;
        }
        if rest.starts_with("/*") {
            let end = until(i + 2, "*/").ok_or_else(|| err(line, "unterminated /* comment"))?;
            let body: String = chars[i + 2..end].iter().collect();
            if out.is_empty() {
                comment.push_str(body.trim());
                comment.push('\n');
            }
            line += body.matches('\n').count();
            i = end + 2;
            continue;
        }
        if rest.starts_with("%{") {
            let end = until(i + 2, "}%").ok_or_else(|| err(line, "unterminated %{ code }%"))?;
            let body: String = chars[i + 2..end].iter().collect();
            push(Tok::Code(body.trim().to_string()), &mut out);
            line += body.matches('\n').count();
            i = end + 2;
            continue;
        }
        if c == '`' || c == '"' {
            let mut j = i + 1;
            let mut body = String::new();
            while j < chars.len() && chars[j] != c {
                if chars[j] == '\\' && j + 1 < chars.len() {
                    body.push(chars[j]);
                    j += 1;
                }
                body.push(chars[j]);
                j += 1;
            }
            if j >= chars.len() {
                return Err(err(line, format!("unterminated {c}")));
            }
            line += body.matches('\n').count();
            let tok = if c == '`' {
                Tok::Backquoted(body)
            } else {
                Tok::Str(body)
            };
            push(tok, &mut out);
            i = j + 1;
            continue;
        }
        if rest == "..." {
            push(Tok::Ellipsis, &mut out);
            i += 3;
            continue;
        }
        if rest.starts_with("--") && chars.get(i + 2).is_some_and(|c| c.is_ascii_alphanumeric()) {
            let mut j = i + 2;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            push(Tok::Opt(chars[i + 2..j].iter().collect()), &mut out);
            i = j;
            continue;
        }
        if c == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
            let mut j = i + 2;
            while j < chars.len() && chars[j].is_ascii_hexdigit() {
                j += 1;
            }
            let digits: String = chars[i + 2..j].iter().collect();
            let v = u64::from_str_radix(&digits, 16)
                .map_err(|_| err(line, format!("bad hex number 0x{digits}")))?;
            push(Tok::Hex(v), &mut out);
            i = j;
            continue;
        }
        // Numbers: `[-]?[0-9]*[.][0-9]+` or `[-]?[0-9]+`, longest match (flex's rule).
        let num_start = if c == '-' { i + 1 } else { i };
        let digits_end = |from: usize| {
            let mut j = from;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            j
        };
        let int_end = digits_end(num_start);
        let float_end = if chars.get(int_end) == Some(&'.')
            && chars.get(int_end + 1).is_some_and(char::is_ascii_digit)
        {
            digits_end(int_end + 1)
        } else {
            num_start
        };
        let end = int_end.max(float_end);
        if end > num_start && (int_end > num_start || float_end > num_start) {
            // A word that starts with digits (`6ms`) is a word to packetdrill too.
            let next = chars.get(end).copied().unwrap_or(' ');
            if !(next.is_ascii_alphabetic() || next == '_') || c == '-' {
                push(Tok::Num(chars[i..end].iter().collect()), &mut out);
                i = end;
                continue;
            }
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            push(Tok::Word(chars[i..j].iter().collect()), &mut out);
            i = j;
            continue;
        }
        push(Tok::Punct(c), &mut out);
        i += 1;
    }
    let comment = comment.trim().to_string();
    Ok((out, (!comment.is_empty()).then_some(comment)))
}

/// Microseconds of a decimal number of seconds (`.1`, `0.011`, `2`), exactly.
fn micros(num: &str, line: usize) -> Result<i64, SyntaxError> {
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.starts_with('-') {
        return Err(err(line, "negative time"));
    }
    if frac.len() > 6 {
        return Err(err(line, format!("time {num}: finer than a microsecond")));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| err(line, format!("bad time {num}")))?
    };
    let frac_us: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}")
            .parse()
            .map_err(|_| err(line, format!("bad time {num}")))?
    };
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac_us))
        .ok_or_else(|| err(line, format!("time {num} out of range")))
}

/// A cursor over one event's tokens.
struct Cursor<'a> {
    toks: &'a [Token],
    at: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.at).map(|t| &t.tok)
    }
    fn peek2(&self) -> Option<&'a Tok> {
        self.toks.get(self.at + 1).map(|t| &t.tok)
    }
    fn next(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.at).map(|t| &t.tok);
        self.at += 1;
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: char, what: &str) -> Result<(), SyntaxError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(err(
                self.line,
                format!("expected `{c}` {what}, found {}", self.describe()),
            ))
        }
    }
    fn describe(&self) -> String {
        match self.peek() {
            None => "the end of the line".into(),
            Some(t) => format!("`{}`", tok_text(t)),
        }
    }
    fn word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(x)) if x == w) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn uint(&mut self, what: &str) -> Result<u32, SyntaxError> {
        match self.next() {
            Some(Tok::Num(n)) if !n.contains('.') && !n.starts_with('-') => n
                .parse()
                .map_err(|_| err(self.line, format!("{what} {n} out of range"))),
            Some(Tok::Hex(v)) => {
                u32::try_from(*v).map_err(|_| err(self.line, format!("{what} out of range")))
            }
            other => Err(err(
                self.line,
                format!(
                    "expected {what}, found {}",
                    other.map_or("the end of the line".into(), |t| format!(
                        "`{}`",
                        tok_text(t)
                    ))
                ),
            )),
        }
    }
    fn done(&self) -> bool {
        self.at >= self.toks.len()
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Num(n) => n.clone(),
        Tok::Hex(v) => format!("{v:#x}"),
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Backquoted(s) => format!("`{s}`"),
        Tok::Code(s) => format!("%{{{s}}}%"),
        Tok::Ellipsis => "...".into(),
        Tok::Opt(o) => format!("--{o}"),
        Tok::Punct(c) => c.to_string(),
    }
}

/// Reads a script.
pub fn parse(text: &str) -> Result<Script, SyntaxError> {
    let (tokens, first_comment) = lex(text)?;
    // Split into logical lines: a token that starts a source line starts a new one unless
    // brackets are open (a system call's arguments may span lines).
    let mut lines: Vec<&[Token]> = Vec::new();
    let mut depth: i32 = 0;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.first && depth == 0 && i > start {
            lines.push(&tokens[start..i]);
            start = i;
        }
        match t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    if start < tokens.len() {
        lines.push(&tokens[start..]);
    }
    let mut script = Script {
        first_comment,
        ..Script::default()
    };
    for toks in lines {
        let line = toks[0].line;
        let mut c = Cursor { toks, at: 0, line };
        match c.peek() {
            Some(Tok::Opt(name)) => {
                if !script.events.is_empty() {
                    return Err(err(line, format!("option --{name} after the first event")));
                }
                c.next();
                let mut value = String::new();
                if c.eat('=') {
                    while let Some(t) = c.next() {
                        value.push_str(&tok_text(t));
                    }
                }
                script.options.push((line, name.clone(), value));
            }
            Some(Tok::Backquoted(cmd)) if toks.len() == 1 => {
                if script.events.is_empty() && script.init.is_none() {
                    script.init = Some((line, cmd.clone()));
                } else if script.cleanup.is_none() {
                    script.cleanup = Some((line, cmd.clone()));
                } else {
                    return Err(err(line, "a second command without a time"));
                }
            }
            _ => {
                if script.cleanup.is_some() {
                    return Err(err(line, "an event after the cleanup command"));
                }
                let time = time(&mut c)?;
                let action = action(&mut c)?;
                if !c.done() {
                    return Err(err(
                        line,
                        format!("unexpected {} at the end of the event", c.describe()),
                    ));
                }
                script.events.push(Event { line, time, action });
            }
        }
    }
    Ok(script)
}

fn number(c: &mut Cursor<'_>) -> Result<i64, SyntaxError> {
    match c.next() {
        Some(Tok::Num(n)) => micros(n, c.line),
        other => Err(err(
            c.line,
            format!(
                "expected a time, found {}",
                other.map_or("the end of the line".into(), |t| format!(
                    "`{}`",
                    tok_text(t)
                ))
            ),
        )),
    }
}

fn time(c: &mut Cursor<'_>) -> Result<Time, SyntaxError> {
    if c.eat('*') {
        return Ok(Time::Any);
    }
    if c.eat('+') {
        let a = number(c)?;
        if c.eat('~') {
            c.expect('+', "in a relative time range")?;
            let b = number(c)?;
            return Ok(Time::RelativeRange(a, b));
        }
        return Ok(Time::Relative(a));
    }
    let a = number(c)?;
    if c.eat('~') {
        let b = number(c)?;
        return Ok(Time::AbsoluteRange(a, b));
    }
    Ok(Time::Absolute(a))
}

fn action(c: &mut Cursor<'_>) -> Result<Action, SyntaxError> {
    match c.peek() {
        Some(Tok::Punct('<')) => {
            c.next();
            packet::packet(c, Direction::Inbound).map(Action::Packet)
        }
        Some(Tok::Punct('>')) => {
            c.next();
            packet::packet(c, Direction::Outbound).map(Action::Packet)
        }
        Some(Tok::Backquoted(cmd)) => {
            c.next();
            Ok(Action::Command(cmd.clone()))
        }
        Some(Tok::Code(code)) => {
            c.next();
            Ok(Action::Code(code.clone()))
        }
        Some(Tok::Ellipsis) => {
            c.next();
            let until = number(c)?;
            let mut s = syscall(c)?;
            s.blocks_until = Some(until);
            Ok(Action::Syscall(s))
        }
        Some(Tok::Word(_)) if c.peek2() == Some(&Tok::Punct('(')) => {
            syscall(c).map(Action::Syscall)
        }
        _ => Err(err(
            c.line,
            format!(
                "expected a packet, a system call or a command, found {}",
                c.describe()
            ),
        )),
    }
}

fn syscall(c: &mut Cursor<'_>) -> Result<Syscall, SyntaxError> {
    let Some(Tok::Word(name)) = c.next() else {
        return Err(err(c.line, "expected a system call name"));
    };
    c.expect('(', "after the system call's name")?;
    let mut args = Vec::new();
    let mut arg = String::new();
    let mut depth = 0;
    loop {
        let Some(t) = c.next() else {
            return Err(err(c.line, format!("unclosed arguments of {name}()")));
        };
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')') if depth == 0 => {
                if !arg.is_empty() || !args.is_empty() {
                    args.push(std::mem::take(&mut arg));
                }
                break;
            }
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                args.push(std::mem::take(&mut arg));
                continue;
            }
            _ => {}
        }
        arg.push_str(&tok_text(t));
    }
    c.expect('=', &format!("after {name}(...)"))?;
    let result = match c.next() {
        Some(t @ (Tok::Num(_) | Tok::Hex(_) | Tok::Word(_) | Tok::Ellipsis)) => tok_text(t),
        other => {
            return Err(err(
                c.line,
                format!(
                    "expected the result of {name}(), found {}",
                    other.map_or("the end of the line".into(), |t| format!(
                        "`{}`",
                        tok_text(t)
                    ))
                ),
            ))
        }
    };
    let errno = match c.peek() {
        Some(Tok::Word(w)) => {
            c.next();
            Some(w.clone())
        }
        _ => None,
    };
    // An optional note in parentheses: `(Broken pipe)`.
    if c.eat('(') {
        let mut depth = 1;
        while depth > 0 {
            match c.next() {
                Some(Tok::Punct('(')) => depth += 1,
                Some(Tok::Punct(')')) => depth -= 1,
                Some(_) => {}
                None => return Err(err(c.line, "unclosed note after the result")),
            }
        }
    }
    Ok(Syscall {
        name: name.clone(),
        args,
        result,
        errno,
        blocks_until: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_exact_microseconds() {
        assert_eq!(micros(".1", 1).unwrap(), 100_000);
        assert_eq!(micros("0.011", 1).unwrap(), 11_000);
        assert_eq!(micros("2", 1).unwrap(), 2_000_000);
        assert!(micros("0.0000001", 1).is_err());
    }

    #[test]
    fn events_options_and_commands() {
        let s = parse(
            "// A first comment\n// on two lines\n--tolerance_usecs=10000\n`echo a\necho b`\n\
             0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +.1 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,TS val 100 ecr 0>\n\
             +0~+0.01 > S. 0:0(0) ack 1 <...>\n\
             +.01...0.2 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n\
             * > [ect0] P. 1:1001(1000) ack 1 win 5\n\
             +0 %{ assert tcpi_snd_cwnd == 10 }%\n\
             +0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1,\n   linger=0}, 8) = 0\n",
        )
        .unwrap();
        assert_eq!(
            s.first_comment.as_deref(),
            Some("A first comment\non two lines")
        );
        assert_eq!(s.options, [(3, "tolerance_usecs".into(), "10000".into())]);
        assert_eq!(s.init, Some((4, "echo a\necho b".into())));
        assert_eq!(s.events.len(), 7);
        assert_eq!(s.events[0].line, 6);
        let Action::Packet(p) = &s.events[1].action else {
            panic!()
        };
        assert_eq!(s.events[1].time, Time::Relative(100_000));
        assert_eq!(
            (p.flags.as_str(), p.start, p.len, p.win),
            ("S", 0, 0, Some(32792))
        );
        assert_eq!(
            p.options.as_ref().unwrap()[4],
            TcpOption::Timestamp { val: 100, ecr: 0 }
        );
        let Action::Packet(p) = &s.events[2].action else {
            panic!()
        };
        assert_eq!(s.events[2].time, Time::RelativeRange(0, 10_000));
        assert_eq!(
            (p.flags.as_str(), p.ack, p.options.clone()),
            ("S.", Some(1), None)
        );
        let Action::Syscall(c) = &s.events[3].action else {
            panic!()
        };
        assert_eq!(c.name, "connect");
        assert_eq!(c.args, ["3", "...", "..."]);
        assert_eq!(
            (c.result.as_str(), c.errno.as_deref()),
            ("-1", Some("EINPROGRESS"))
        );
        assert_eq!(c.blocks_until, Some(200_000));
        let Action::Packet(p) = &s.events[4].action else {
            panic!()
        };
        assert_eq!(s.events[4].time, Time::Any);
        assert_eq!((p.ip.ecn, p.len), (Some(2), 1000));
        assert!(matches!(s.events[5].action, Action::Code(_)));
        let Action::Syscall(c) = &s.events[6].action else {
            panic!()
        };
        assert_eq!(c.args[3], "{onoff=1,linger=0}");
        assert_eq!(s.events[6].line, 12);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0)\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("needs `win`"), "{e}");
        let e = parse("0 > S 0:5(0)\n").unwrap_err();
        assert!(e.message.contains("inconsistent"), "{e}");
        let e = parse("+0 > S.4 0:0(0)\n").unwrap_err();
        assert_eq!(e.feature, Some("AccECN ACE flags"), "{e}");
    }
}
