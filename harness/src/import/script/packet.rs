//! A packet line: `< S 0:0(0) win 65535 <mss 1460>`, its IP fields and TCP options.

use super::*;

fn ip_info(c: &mut Cursor<'_>, close: char) -> Result<IpInfo, SyntaxError> {
    let mut info = IpInfo::default();
    loop {
        match c.next() {
            Some(Tok::Word(w)) => match w.as_str() {
                "noecn" => info.ecn = Some(0),
                "ect1" => info.ecn = Some(1),
                "ect0" => info.ecn = Some(2),
                "ce" => info.ecn = Some(3),
                "ect01" => info.ect01 = true,
                "tos" => {
                    let v = c.uint("a TOS value")?;
                    info.tos = Some(u8::try_from(v).map_err(|_| err(c.line, "tos out of range"))?);
                }
                "ttl" => {
                    let v = c.uint("a TTL")?;
                    info.ttl = Some(u8::try_from(v).map_err(|_| err(c.line, "ttl out of range"))?);
                }
                "flowlabel" => info.flow_label = Some(c.uint("a flow label")?),
                other => return Err(err(c.line, format!("unknown IP field `{other}`"))),
            },
            Some(Tok::Punct(',')) => {}
            Some(Tok::Punct(p)) if *p == close => return Ok(info),
            other => {
                return Err(err(
                    c.line,
                    format!(
                        "unexpected {} in the IP fields",
                        other.map_or("the end of the line".into(), |t| format!(
                            "`{}`",
                            tok_text(t)
                        ))
                    ),
                ))
            }
        }
    }
}

pub(super) fn packet(c: &mut Cursor<'_>, direction: Direction) -> Result<Packet, SyntaxError> {
    let mut other = None;
    let mut ip = IpInfo::default();
    if c.eat('(') {
        ip = ip_info(c, ')')?;
    } else if c.eat('[') {
        ip = ip_info(c, ']')?;
    }
    if matches!(c.peek(), Some(Tok::Word(w)) if w == "encap") {
        return Err(beyond(c.line, "encapsulated packets", "`encap`"));
    }
    if let Some(Tok::Word(w)) = c.peek() {
        let feature = match w.as_str() {
            "icmp" => Some("ICMP packets"),
            "udp" => Some("UDP packets"),
            "gre" | "GREv0" => Some("GRE packets"),
            "mpls" => Some("MPLS packets"),
            _ => None,
        };
        if let Some(f) = feature {
            return Err(beyond(c.line, f, format!("`{w}`")));
        }
    }
    // Ports: `8080 > 5000`.
    if matches!(c.peek(), Some(Tok::Num(_))) && c.peek2() == Some(&Tok::Punct('>')) {
        let src = c.uint("a port")?;
        c.next();
        let dst = c.uint("a port")?;
        other = Some(format!("explicit ports {src} > {dst}"));
    }
    let mut flags = String::new();
    match c.next() {
        Some(Tok::Word(w)) => {
            flags.push_str(w);
            if c.eat('.') {
                flags.push('.');
            } else if let Some(Tok::Num(n)) = c.peek() {
                // AccECN's ACE counter written after the flags: `S.5`, `.3`.
                if n.starts_with('.') {
                    return Err(beyond(c.line, "AccECN ACE flags", format!("`{w}{n}`")));
                }
            }
        }
        Some(Tok::Num(n)) if n.starts_with('.') => {
            return Err(beyond(c.line, "AccECN ACE flags", format!("`{n}`")));
        }
        Some(Tok::Punct('.')) => flags.push('.'),
        Some(Tok::Punct('-')) => flags.push('-'),
        other => {
            return Err(err(
                c.line,
                format!(
                    "expected TCP flags, found {}",
                    other.map_or("the end of the line".into(), |t| format!(
                        "`{}`",
                        tok_text(t)
                    ))
                ),
            ))
        }
    }
    if let Some(bad) = flags.chars().find(|ch| !".FSRPEWAU-".contains(*ch)) {
        return Err(err(
            c.line,
            format!("unknown TCP flag `{bad}` in `{flags}`"),
        ));
    }
    let start = c.uint("a start sequence number")?;
    c.expect(':', "in `start:end(length)`")?;
    let end = c.uint("an end sequence number")?;
    c.expect('(', "in `start:end(length)`")?;
    let len = c.uint("a payload length")?;
    c.expect(')', "in `start:end(length)`")?;
    if end != start.wrapping_add(len) {
        return Err(err(
            c.line,
            format!("inconsistent sequence numbers {start}:{end}({len})"),
        ));
    }
    let ack = if c.word("ack") {
        Some(c.uint("an acknowledgment number")?)
    } else {
        None
    };
    let win = if c.word("win") {
        Some(c.uint("a window")?)
    } else {
        None
    };
    let urg = if c.word("urg") {
        Some(c.uint("an urgent pointer")?)
    } else {
        None
    };
    let options = if c.eat('<') {
        if c.peek() == Some(&Tok::Ellipsis) {
            c.next();
            c.expect('>', "after `<...`")?;
            None
        } else {
            Some(options(c)?)
        }
    } else {
        Some(Vec::new())
    };
    if direction == Direction::Inbound && win.is_none() {
        return Err(err(c.line, "an inbound packet needs `win`"));
    }
    Ok(Packet {
        direction,
        ip,
        flags,
        start,
        len,
        ack,
        win,
        urg,
        options,
        other,
    })
}

fn options(c: &mut Cursor<'_>) -> Result<Vec<TcpOption>, SyntaxError> {
    let mut out = Vec::new();
    loop {
        let Some(Tok::Word(name)) = c.next() else {
            return Err(err(c.line, "expected a TCP option"));
        };
        let opt = match name.as_str() {
            "nop" => TcpOption::Nop,
            "eol" => TcpOption::Eol,
            "mss" => TcpOption::Mss(c.uint("an MSS")?),
            "wscale" => TcpOption::WindowScale(c.uint("a window scale")?),
            "sackOK" => TcpOption::SackPermitted,
            "sack" => {
                let mut blocks = Vec::new();
                while matches!(c.peek(), Some(Tok::Num(_))) {
                    let l = c.uint("a SACK edge")?;
                    c.expect(':', "in a SACK block")?;
                    let r = c.uint("a SACK edge")?;
                    blocks.push((l, r));
                }
                if blocks.is_empty() {
                    return Err(err(c.line, "a SACK option without blocks"));
                }
                TcpOption::Sack(blocks)
            }
            "TS" => {
                if !c.word("val") {
                    return Err(err(c.line, "expected `TS val N ecr N`"));
                }
                let val = c.uint("a TS value")?;
                if !c.word("ecr") {
                    return Err(err(c.line, "expected `TS val N ecr N`"));
                }
                let ecr = c.uint("a TS echo reply")?;
                TcpOption::Timestamp { val, ecr }
            }
            other => {
                // Skip the option's arguments up to the next `,` or `>`.
                let mut text = other.to_string();
                while !matches!(c.peek(), Some(Tok::Punct(',' | '>')) | None) {
                    text.push(' ');
                    text.push_str(&tok_text(c.next().unwrap_or(&Tok::Ellipsis)));
                }
                TcpOption::Other(text)
            }
        };
        out.push(opt);
        if c.eat('>') {
            return Ok(out);
        }
        c.expect(',', "between TCP options")?;
    }
}
