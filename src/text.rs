//! Text from outside, rendered safely into log lines and reasons.

use std::fmt;
use std::fmt::Write as _;

/// How many characters of an untrusted value a reason shows.
const SHOWN: usize = 64;

/// An attacker-chosen value (a token's `iss` or `kid`, a request method) as a reason shows it: control
/// characters, backticks, backslashes and everything outside printable ASCII escaped (`\n`, `\u{2028}`), and at
/// most 64 characters, so a value can neither end a log line and forge the next one nor close the backticks
/// around it.
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(SHOWN) {
            match c {
                '`' => f.write_str("\\u{60}")?,
                '\\' => f.write_str("\\\\")?,
                ' '..='~' => fmt::Write::write_char(f, c)?,
                other => write!(f, "{}", other.escape_default())?,
            }
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// Operator-written text (a configuration value quoted in an error) as one log line shows it: control characters
/// and the Unicode line and paragraph separators escaped (`\r\n` as `\r\n`, NUL as `\u{0}`), everything else as
/// it is, so a value cannot split one error into lines that read like others.
#[derive(Debug, Clone, Copy)]
pub struct OneLine<'a>(pub &'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// A name (of a cookie, or a query parameter) as PHP keys `$_COOKIE` and `$_GET` with it: percent-decoded (`+` is a space), leading spaces dropped, and
/// `.`, ` ` and `[` turned into `_`; letter case folded as well, for readers that ignore it.
pub(crate) fn php_key(name: &str) -> String {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        let hex = |at: usize| tail.get(at).and_then(|digit| char::from(*digit).to_digit(16));
        match (byte, hex(0), hex(1)) {
            (b'%', Some(high), Some(low)) => {
                bytes.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                rest = tail.get(2..).unwrap_or_default();
            }
            _ => {
                bytes.push(if byte == b'+' { b' ' } else { byte });
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&bytes)
        .trim_start_matches(' ')
        .chars()
        .map(|c| if matches!(c, '.' | ' ' | '[') { '_' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_a_line_and_truncates() {
        let forged = "x\n[info] authz: 200 GET: `root` allowed\r\u{2028}\u{1b}[31m";
        let shown = Untrusted(forged).to_string();
        assert_eq!(shown, "x\\n[info] authz: 200 GET: \\u{60}root\\u{60} allowed\\r\\u{2028}\\u{1b}[31m");
        assert!(!shown.chars().any(|c| c.is_control() || c == '`'));
        let long = "a".repeat(100);
        assert_eq!(Untrusted(&long).to_string(), format!("{}…", "a".repeat(64)));
        assert_eq!(Untrusted("us-east-1_Pool.k1").to_string(), "us-east-1_Pool.k1");
    }
}
