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
    let bytes: Vec<u8> = php_decoded(name).collect();
    String::from_utf8_lossy(&bytes)
        .trim_start_matches(' ')
        .chars()
        .map(|c| if matches!(c, '.' | ' ' | '[') { '_' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether [`php_key`] of `name` is `wanted`, without building it (request paths call this for every query
/// parameter). `wanted` must be ASCII with no letter that is the lower case of a non-ASCII character (only `k`
/// and `å` are), so that every byte of `name` outside ASCII makes the answer no, as it does in [`php_key`].
pub(crate) fn php_key_is(name: &str, wanted: &str) -> bool {
    let folded = php_decoded(name).skip_while(|byte| *byte == b' ').map(|byte| match byte {
        b'.' | b' ' | b'[' => b'_',
        other => other.to_ascii_lowercase(),
    });
    folded.eq(wanted.bytes())
}

/// The bytes of `name` percent-decoded as PHP decodes names (`+` is a space, a `%` without two hex digits stays).
fn php_decoded(name: &str) -> impl Iterator<Item = u8> + '_ {
    let mut rest = name.as_bytes();
    std::iter::from_fn(move || {
        let (&byte, tail) = rest.split_first()?;
        let hex = |at: usize| tail.get(at).and_then(|digit| char::from(*digit).to_digit(16));
        Some(match (byte, hex(0), hex(1)) {
            (b'%', Some(high), Some(low)) => {
                rest = tail.get(2..).unwrap_or_default();
                u8::try_from(high * 16 + low).unwrap_or(b'%')
            }
            _ => {
                rest = tail;
                if byte == b'+' {
                    b' '
                } else {
                    byte
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_key_is_answers_as_php_key_does() {
        let names = [
            "_method",
            "_METHOD",
            "%5Fmethod",
            "%5fMeThOd",
            ".method",
            " method",
            "+method",
            "  _method",
            "[method",
            "_method ",
            "_metho",
            "_methods",
            "_m%65thod",
            "_m%C3%A9thod",
            "_m\u{e9}thod",
            "%",
            "%5",
            "%zz_method",
            "",
            "_me\u{212a}hod",
            "_m%00ethod",
            "x_method",
        ];
        for name in names {
            assert_eq!(php_key_is(name, "_method"), php_key(name) == "_method", "{name:?}");
        }
    }

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
