//! Located errors in case files: `path:line:col: message`, then the line and a caret.

use core::fmt;
use std::path::PathBuf;

/// One error in a case file. The loader collects all of them before giving up, so a user fixes
/// a whole corpus in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the error concerns no particular line (an unreadable file).
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    pub message: String,
    /// The source line the error points at, if known.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `line:col` of `file`, taking the snippet from `src`.
    pub fn at(
        file: PathBuf,
        src: &str,
        line: usize,
        col: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let source_line = line
            .checked_sub(1)
            .and_then(|i| src.lines().nth(i))
            .map(str::to_string);
        Diagnostic {
            file,
            line,
            col,
            message: message.into(),
            source_line,
        }
    }

    /// A diagnostic about a whole file (unreadable, ...).
    pub fn file(file: PathBuf, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file,
            line: 0,
            col: 0,
            message: message.into(),
            source_line: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file.display(), self.message);
        }
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            // Keep tabs as tabs so the caret lines up under them.
            let lead: String = src
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} |")?;
            writeln!(f, "{gutter} | {src}")?;
            write!(f, "{pad} | {lead}^")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_snippet_with_caret() {
        let d = Diagnostic::at(
            "c.yaml".into(),
            "a: 1\nflags: X\n",
            2,
            8,
            "bad flag letter `X`",
        );
        assert_eq!(
            d.to_string(),
            "c.yaml:2:8: bad flag letter `X`\n  |\n2 | flags: X\n  |        ^"
        );
        let d = Diagnostic::file("c.yaml".into(), "cannot read");
        assert_eq!(d.to_string(), "c.yaml: cannot read");
    }
}
