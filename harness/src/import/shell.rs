//! The shell commands packetdrill scripts run before their first event (in backquotes), read
//! for what a case can say: sysctls (`sysctl -q net.ipv4.tcp_sack=1`, `echo 1 >
//! /proc/sys/net/...`, packetdrill's `set_sysctls.py`), the shared `defaults.sh` files they call
//! (read in turn), and commands that change nothing for a case instance (flushing TCP metrics
//! of a namespace that is new anyway). Anything else is unsupported: a case cannot run shell
//! commands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the commands amount to.
#[derive(Debug, Default)]
pub struct Effect {
    pub sysctls: BTreeMap<String, String>,
    /// Commands taken as changing nothing for a case, and why.
    pub notes: Vec<String>,
    /// Commands no case can reproduce: (feature, the command).
    pub unsupported: Vec<(String, String)>,
}

/// Reads `files` the way the script's shell would find them: relative to the script's folder.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// Interprets `command` (the text between backquotes) run from `dir`.
pub fn interpret(command: &str, dir: &Path, read: ReadFile<'_>, effect: &mut Effect) {
    interpret_depth(command, dir, read, effect, 0);
}

fn interpret_depth(
    command: &str,
    dir: &Path,
    read: ReadFile<'_>,
    effect: &mut Effect,
    depth: usize,
) {
    // A backslash before a line break continues the line.
    let joined = command.replace("\\\n", " ");
    for raw in joined.split(['\n', ';']) {
        let line = strip_comment(raw).trim().to_string();
        let line = strip_redirections(&line);
        if line.is_empty() {
            continue;
        }
        let words = match split_words(&line) {
            Ok(w) => w,
            Err(e) => {
                effect
                    .unsupported
                    .push(("shell syntax".into(), format!("{line} ({e})")));
                continue;
            }
        };
        let Some(first) = words.first() else {
            continue;
        };
        let unsupported = |effect: &mut Effect, feature: &str| {
            effect.unsupported.push((feature.to_string(), line.clone()));
        };
        match first.as_str() {
            "sysctl" => {
                for w in &words[1..] {
                    if w.starts_with('-') {
                        // -q (quiet), -w (write), -e (ignore unknown keys) change nothing here.
                        if w.trim_start_matches('-').chars().all(|c| "qwe".contains(c)) {
                            continue;
                        }
                        unsupported(effect, "sysctl option");
                        break;
                    }
                    match w.split_once('=') {
                        Some((k, v)) => match value(v) {
                            Ok(v) => {
                                effect.sysctls.insert(k.replace('/', "."), v);
                            }
                            Err(e) => effect
                                .unsupported
                                .push(("shell expansion".into(), format!("{line} ({e})"))),
                        },
                        None => unsupported(effect, "sysctl read"),
                    }
                }
            }
            "echo" if words.len() == 4 && words[2] == ">" => {
                match words[3].strip_prefix("/proc/sys/") {
                    Some(path) => match value(&words[1]) {
                        Ok(v) => {
                            effect.sysctls.insert(path.replace('/', "."), v);
                        }
                        Err(e) => effect
                            .unsupported
                            .push(("shell expansion".into(), format!("{line} ({e})"))),
                    },
                    None if words[3].starts_with("/sys/module/") => {
                        unsupported(effect, "kernel module parameter (/sys/module)")
                    }
                    None => unsupported(effect, "shell command"),
                }
            }
            "ip" if words.get(1).map(String::as_str) == Some("tcp_metrics")
                && words.get(2).map(String::as_str) == Some("flush") =>
            {
                effect.notes.push(format!(
                    "`{line}`: nothing to flush, every case instance starts in a new namespace"
                ));
            }
            "tc" => {
                // Only the plain FIFO every scripted device gets, so that nothing paces: the
                // linux target's device has the host's default qdisc (net.core.default_qdisc).
                let w: Vec<&str> = words.iter().map(String::as_str).collect();
                if matches!(
                    w.as_slice(),
                    [
                        "tc",
                        "qdisc",
                        "add" | "replace",
                        "dev",
                        "tun0",
                        "root",
                        "pfifo"
                    ]
                ) {
                    effect.notes.push(format!(
                        "`{line}`: the linux target's device keeps the host's default qdisc \
                         (pfifo_fast unless net.core.default_qdisc says otherwise), which does \
                         not pace either"
                    ));
                } else {
                    unsupported(effect, "qdisc (tc)");
                }
            }
            p if p.ends_with("set_sysctls.py") => {
                for w in &words[1..] {
                    match w.strip_prefix("/proc/sys/").and_then(|s| s.split_once('=')) {
                        Some((k, v)) => match value(v) {
                            Ok(v) => {
                                effect.sysctls.insert(k.replace('/', "."), v);
                            }
                            Err(e) => effect
                                .unsupported
                                .push(("shell expansion".into(), format!("{line} ({e})"))),
                        },
                        None => unsupported(effect, "set_sysctls.py argument"),
                    }
                }
            }
            p if p.starts_with("/tmp/sysctl_restore_") => {
                effect.notes.push(format!(
                    "`{line}`: nothing to restore, every case instance starts in a new namespace"
                ));
            }
            p if p.ends_with(".sh") && words.len() == 1 && !p.starts_with('/') => {
                if depth > 4 {
                    unsupported(effect, "nested shell scripts");
                    continue;
                }
                let path: PathBuf = dir.join(p);
                match read(&path) {
                    Ok(text) => {
                        let inner = path.parent().unwrap_or(dir).to_path_buf();
                        interpret_depth(&text, &inner, read, effect, depth + 1);
                    }
                    Err(e) => effect.unsupported.push((
                        "shell script".into(),
                        format!("{line} ({}: {e})", path.display()),
                    )),
                }
            }
            _ => unsupported(effect, "shell command"),
        }
    }
}

fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    // ` # comment` after a command (a `#` inside a word is not a comment).
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The command without redirections to /dev/null (they only silence it).
fn strip_redirections(line: &str) -> String {
    let mut out = line.to_string();
    for r in [
        "2>&1",
        "2>/dev/null",
        ">/dev/null",
        "> /dev/null",
        "2> /dev/null",
    ] {
        out = out.replace(r, "");
    }
    out.trim().to_string()
}

/// Words as a shell splits them: whitespace separates, double and single quotes group.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for ch in line.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '>') => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
                words.push(">".into());
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("unclosed quote".into());
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

/// A sysctl value with `$((arithmetic))` expanded; any other `$` is beyond this reader.
fn value(v: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("$((") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let end = after.find("))").ok_or("unclosed $((")?;
        out.push_str(&arith(&after[..end])?.to_string());
        rest = &after[end + 2..];
    }
    if rest.contains('$') || rest.contains('`') {
        return Err(format!("`{v}` needs the shell"));
    }
    out.push_str(rest);
    Ok(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Integer arithmetic: `+ - * /`, parentheses, decimal numbers.
fn arith(expr: &str) -> Result<i64, String> {
    let toks: Vec<char> = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let mut at = 0;
    let v = sum(&toks, &mut at)?;
    if at != toks.len() {
        return Err(format!("cannot evaluate $(({expr}))"));
    }
    Ok(v)
}

fn sum(t: &[char], at: &mut usize) -> Result<i64, String> {
    let mut v = product(t, at)?;
    while let Some(&op) = t.get(*at).filter(|c| **c == '+' || **c == '-') {
        *at += 1;
        let r = product(t, at)?;
        v = if op == '+' {
            v.checked_add(r)
        } else {
            v.checked_sub(r)
        }
        .ok_or("overflow")?;
    }
    Ok(v)
}

fn product(t: &[char], at: &mut usize) -> Result<i64, String> {
    let mut v = atom(t, at)?;
    while let Some(&op) = t.get(*at).filter(|c| **c == '*' || **c == '/') {
        *at += 1;
        let r = atom(t, at)?;
        v = if op == '*' {
            v.checked_mul(r)
        } else {
            v.checked_div(r)
        }
        .ok_or("overflow or division by zero")?;
    }
    Ok(v)
}

fn atom(t: &[char], at: &mut usize) -> Result<i64, String> {
    if t.get(*at) == Some(&'(') {
        *at += 1;
        let v = sum(t, at)?;
        if t.get(*at) != Some(&')') {
            return Err("unbalanced parentheses".into());
        }
        *at += 1;
        return Ok(v);
    }
    let start = *at;
    while t.get(*at).is_some_and(char::is_ascii_digit) {
        *at += 1;
    }
    if start == *at {
        return Err("expected a number".into());
    }
    t[start..*at]
        .iter()
        .collect::<String>()
        .parse()
        .map_err(|_| "number out of range".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cmd: &str, files: &[(&str, &str)]) -> Effect {
        let files: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        let read = move |p: &Path| {
            files
                .iter()
                .find(|(f, _)| f == p)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        let mut e = Effect::default();
        interpret(cmd, Path::new("/s/tcp/close"), &read, &mut e);
        e
    }

    #[test]
    fn sysctls_from_commands_and_nested_files() {
        let e = run(
            "../common/defaults.sh\nsysctl -q net.ipv4.tcp_ecn=2    # agree to ECN\n\
             ../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0",
            &[(
                "/s/tcp/close/../common/defaults.sh",
                "#!/bin/bash\n# comment\nip tcp_metrics flush all > /dev/null 2>&1\n\
                 sysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"\n\
                 echo 0 > /proc/sys/net/ipv4/tcp_sack\ntc qdisc add dev tun0 root pfifo\n",
            )],
        );
        assert!(e.unsupported.is_empty(), "{:?}", e.unsupported);
        assert_eq!(e.sysctls["net.ipv4.tcp_rmem"], "4096 540000 15728640");
        assert_eq!(e.sysctls["net.ipv4.tcp_ecn"], "2");
        assert_eq!(e.sysctls["net.ipv4.tcp_sack"], "0");
        assert_eq!(e.sysctls["net.ipv4.tcp_timestamps"], "0");
        assert_eq!(e.notes.len(), 2);
    }

    #[test]
    fn what_a_case_cannot_do_is_named() {
        let e = run(
            "echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect\n\
             tc qdisc replace dev tun0 root fq\nmissing.sh\nsysctl -q x=$HOME",
            &[],
        );
        let features: Vec<&str> = e.unsupported.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            features,
            [
                "kernel module parameter (/sys/module)",
                "qdisc (tc)",
                "shell script",
                "shell expansion"
            ]
        );
    }

    #[test]
    fn arithmetic() {
        assert_eq!(arith("15*1024*1024").unwrap(), 15_728_640);
        assert_eq!(arith("(2+3)*4-6/2").unwrap(), 17);
        assert!(arith("1/0").is_err());
    }
}
