//! Policy variables (`Version` 2012-10-17 only): `${key}`, `${key, 'default'}` and the escapes `${*}`, `${?}`,
//! `${$}`. Strings are split into pieces once, at load; a request only fills in the variables.

use super::context::{ConditionContext, KeyName, Values};
use super::truth::Truth;
use std::borrow::Cow;

/// A `${key}` or `${key, 'default'}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    pub key: KeyName,
    pub default: Option<String>,
}

/// What a variable (or a string holding variables) stands for in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved<'a> {
    Text(Cow<'a, str>),
    /// No value and no default: positive operators do not match, a `Resource` matches nothing.
    Missing,
    /// The key is present but is no single value (a list, or an unreadable claim). IAM allows only
    /// single-valued keys as variables and does not say what else happens, so nothing is substituted and the
    /// test is undecided: neither the default (the key is not absent) nor "no value" (which would skip a Deny).
    Undecided,
}

impl Variable {
    /// The value for this request: a single-valued key, else the default when the key is absent.
    pub(crate) fn resolve<'a>(&'a self, ctx: &'a dyn ConditionContext) -> Resolved<'a> {
        self.resolve_where(ctx, |_| true)
    }

    /// The same, where a request value that is not `readable` (in the place the variable stands) is undecided.
    /// The default is the policy author's own text and is taken as written.
    pub(crate) fn resolve_where<'a>(
        &'a self,
        ctx: &'a dyn ConditionContext,
        readable: fn(&str) -> bool,
    ) -> Resolved<'a> {
        match ctx.values(&self.key) {
            Some(Values::One(value)) if readable(&value) => Resolved::Text(value),
            Some(Values::One(_) | Values::Many(_) | Values::Unreadable) => Resolved::Undecided,
            None => self.default.as_deref().map_or(Resolved::Missing, |text| Resolved::Text(Cow::Borrowed(text))),
        }
    }
}

/// A parsed stretch of a policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    /// `*` where wildcards apply.
    Star,
    /// `?` where wildcards apply.
    One,
    Var(Variable),
}

impl Piece {
    /// The same stretch, borrowed.
    pub(crate) fn as_ref_piece(&self) -> PieceRef<'_> {
        match self {
            Self::Text(text) => PieceRef::Text(text),
            Self::Star => PieceRef::Star,
            Self::One => PieceRef::One,
            Self::Var(variable) => PieceRef::Var(variable.clone()),
        }
    }
}

/// A stretch as [`visit_pieces`] finds it: literal text borrowed from the string (consecutive texts belong
/// together), a wildcard, or a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PieceRef<'a> {
    Text(&'a str),
    Star,
    One,
    Var(Variable),
}

/// The end of a `${...}` starting at `open` (the index of `}`), skipping a single-quoted default.
fn variable_end(text: &str, open: usize) -> Option<usize> {
    let mut quoted = false;
    let inner = open + 2;
    for (index, c) in text.get(inner..)?.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '}' if !quoted => return Some(inner + index),
            _ => {}
        }
    }
    None
}

fn parse_variable(inner: &str) -> Result<Variable, String> {
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((key, default)) => {
            let default = default.trim();
            let value = default
                .strip_prefix('\'')
                .and_then(|rest| rest.strip_suffix('\''))
                .ok_or_else(|| format!("default of `${{{inner}}}` must be single-quoted, as in `${{key, 'value'}}`"))?;
            (key.trim(), Some(value.to_owned()))
        }
    };
    if key.is_empty() || key.contains(|c: char| c.is_whitespace() || matches!(c, '$' | '{' | '}' | '\'' | ',')) {
        return Err(format!("`${{{inner}}}` is not a policy variable"));
    }
    Ok(Variable { key: KeyName::new(key), default })
}

/// Reads `text` stretch by stretch, without copying it. With `variables` (2012-10-17) `${...}` is a variable or
/// an escape; without, it is literal text. With `wildcards`, `*` and `?` are wildcards; an escaped `${*}` or
/// `${?}` never is.
pub(crate) fn visit_pieces<'a>(
    text: &'a str,
    variables: bool,
    wildcards: bool,
    mut visit: impl FnMut(PieceRef<'a>),
) -> Result<(), String> {
    let bytes = text.as_bytes();
    // The literal stretch not yet visited starts here. Every byte looked at below is ASCII, so each index is a
    // character boundary (UTF-8 continuation bytes are never ASCII).
    let mut run = 0usize;
    let mut at = 0usize;
    while let Some(&byte) = bytes.get(at) {
        if variables && byte == b'$' && bytes.get(at + 1) == Some(&b'{') {
            visit(PieceRef::Text(text.get(run..at).unwrap_or_default()));
            let end = variable_end(text, at).ok_or("unterminated policy variable (`${` without `}`)")?;
            let inner = text.get(at + 2..end).unwrap_or_default();
            match inner {
                "*" | "?" | "$" => visit(PieceRef::Text(inner)),
                _ => visit(PieceRef::Var(parse_variable(inner)?)),
            }
            at = end + 1;
            run = at;
            continue;
        }
        let wildcard = match byte {
            b'*' if wildcards => Some(PieceRef::Star),
            b'?' if wildcards => Some(PieceRef::One),
            _ => None,
        };
        if let Some(wildcard) = wildcard {
            visit(PieceRef::Text(text.get(run..at).unwrap_or_default()));
            visit(wildcard);
            run = at + 1;
        }
        at += 1;
    }
    visit(PieceRef::Text(text.get(run..).unwrap_or_default()));
    Ok(())
}

/// Splits `text` into pieces (see [`visit_pieces`]); consecutive literal text is one piece.
pub(crate) fn parse_pieces(text: &str, variables: bool, wildcards: bool) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    visit_pieces(text, variables, wildcards, |piece| match piece {
        PieceRef::Text(text) => literal.push_str(text),
        other => {
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(match other {
                PieceRef::Star => Piece::Star,
                PieceRef::One => Piece::One,
                PieceRef::Var(variable) => Piece::Var(variable),
                PieceRef::Text(_) => return,
            });
        }
    })?;
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// A literal string that may hold variables (`StringEquals` values and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Template {
    Fixed(String),
    Variables(Vec<Piece>),
}

impl Template {
    /// Compiles pieces parsed without wildcards.
    pub(crate) fn new(pieces: Vec<Piece>) -> Self {
        if pieces.iter().any(|piece| matches!(piece, Piece::Var(_))) {
            return Self::Variables(pieces);
        }
        let mut text = String::new();
        for piece in &pieces {
            match piece {
                Piece::Text(literal) => text.push_str(literal),
                Piece::Star => text.push('*'),
                Piece::One => text.push('?'),
                Piece::Var(_) => {}
            }
        }
        Self::Fixed(text)
    }

    /// The text for this request: missing when some variable has no value and no default, else undecided when
    /// some variable cannot be decided.
    pub(crate) fn resolve<'a>(&'a self, ctx: &'a dyn ConditionContext) -> Resolved<'a> {
        match self {
            Self::Fixed(text) => Resolved::Text(Cow::Borrowed(text)),
            Self::Variables(pieces) => {
                let mut text = String::new();
                let mut undecided = false;
                for piece in pieces {
                    match piece {
                        Piece::Text(literal) => text.push_str(literal),
                        Piece::Star => text.push('*'),
                        Piece::One => text.push('?'),
                        Piece::Var(variable) => match variable.resolve(ctx) {
                            Resolved::Text(value) => text.push_str(&value),
                            Resolved::Missing => return Resolved::Missing,
                            Resolved::Undecided => undecided = true,
                        },
                    }
                }
                if undecided {
                    Resolved::Undecided
                } else {
                    Resolved::Text(Cow::Owned(text))
                }
            }
        }
    }

    /// Whether `test` holds for the text in this request (false when it is missing).
    pub(crate) fn test(&self, ctx: &dyn ConditionContext, test: impl Fn(&str) -> bool) -> Truth {
        match self.resolve(ctx) {
            Resolved::Text(text) => Truth::from(test(&text)),
            Resolved::Missing => Truth::False,
            Resolved::Undecided => Truth::Undecided,
        }
    }
}

/// Every variable in `pieces`.
pub(crate) fn variables(pieces: &[Piece]) -> impl Iterator<Item = &Variable> {
    pieces.iter().filter_map(|piece| match piece {
        Piece::Var(variable) => Some(variable),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn text(s: &str) -> Piece {
        Piece::Text(s.to_owned())
    }

    #[test]
    fn variables_defaults_and_escapes() {
        let pieces = parse_pieces("home/${aws:username}/*", true, true).unwrap();
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0], text("home/"));
        assert!(matches!(&pieces[1], Piece::Var(v) if v.key.lower() == "aws:username" && v.default.is_none()));
        assert_eq!(pieces[3], Piece::Star);
        let pieces = parse_pieces("${claim:custom:team, 'company-wide'}", true, true).unwrap();
        assert!(matches!(&pieces[0], Piece::Var(v) if v.default.as_deref() == Some("company-wide")));
        let pieces = parse_pieces("${x, 'a}b'}", true, true).unwrap();
        assert!(matches!(&pieces[0], Piece::Var(v) if v.default.as_deref() == Some("a}b")));
        assert_eq!(parse_pieces("a${*}b${?}${$}", true, true).unwrap(), vec![text("a*b?$")]);
        assert_eq!(parse_pieces("${aws:username}", false, false).unwrap(), vec![text("${aws:username}")]);
        assert_eq!(parse_pieces("a${*}", false, true).unwrap(), vec![text("a${"), Piece::Star, text("}")]);
        assert!(parse_pieces("a${b", true, true).is_err());
        assert!(parse_pieces("${}", true, true).is_err());
        assert!(parse_pieces("${a, b}", true, true).is_err());
    }
}
