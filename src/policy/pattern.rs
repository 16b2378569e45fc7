//! IAM wildcard matching: `*` any run of characters, `?` exactly one; ARN patterns matched field by field.

use super::context::ConditionContext;
use super::variable::Piece;

/// One element of a compiled wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Char(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, also none.
    Star,
}

/// Compiles a pattern in which `*` and `?` are wildcards and everything else is literal.
pub(crate) fn compile_wildcards(pattern: &str) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            other => Tok::Char(other),
        })
        .collect()
}

/// Whether `text` matches `pattern`, where `*` matches any run (also empty) and `?` one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    match_tokens(&compile_wildcards(pattern), text)
}

fn char_at(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|rest| rest.chars().next())
}

/// Iterative with one backtrack point (the last `*`), so linear in practice and never recursive on attacker input.
pub(crate) fn match_tokens(pattern: &[Tok], text: &str) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = char_at(text, t) {
        match pattern.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += c.len_utf8();
            }
            Some(Tok::Char(expected)) if *expected == c => {
                p += 1;
                t += c.len_utf8();
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    let skipped = char_at(text, star_t).map_or(1, char::len_utf8);
                    p = star_p + 1;
                    t = star_t + skipped;
                    star = Some((star_p, t));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|tok| *tok == Tok::Star))
}

/// Whether some text that starts with `prefix` matches `pattern` (load-time analysis only).
pub(crate) fn can_match_prefix(pattern: &[Tok], prefix: &str) -> bool {
    let mut states = vec![false; pattern.len() + 1];
    let close = |states: &mut Vec<bool>| {
        for p in 0..pattern.len() {
            if states.get(p) == Some(&true) && pattern.get(p) == Some(&Tok::Star) {
                if let Some(next) = states.get_mut(p + 1) {
                    *next = true;
                }
            }
        }
    };
    if let Some(first) = states.get_mut(0) {
        *first = true;
    }
    close(&mut states);
    // One buffer for the next states, cleared per character rather than allocated: configuration loads run this
    // for every resource pattern and method, and in wasm the allocations were most of its cost.
    let mut next = vec![false; pattern.len() + 1];
    for c in prefix.chars() {
        next.fill(false);
        for (p, tok) in pattern.iter().enumerate() {
            if states.get(p) != Some(&true) {
                continue;
            }
            let target = match tok {
                Tok::Star => p,
                Tok::One => p + 1,
                Tok::Char(expected) if *expected == c => p + 1,
                Tok::Char(_) => continue,
            };
            if let Some(slot) = next.get_mut(target) {
                *slot = true;
            }
        }
        close(&mut next);
        if !next.iter().any(|&on| on) {
            return false;
        }
        std::mem::swap(&mut states, &mut next);
    }
    true
}

/// A wildcard pattern that may hold policy variables; variable values are matched literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The whole pattern when it has no variables.
    toks: Vec<Tok>,
    /// The pieces, when some are variables and the pattern is built per request.
    pieces: Option<Vec<Piece>>,
}

impl Pattern {
    /// Compiles parsed pieces.
    pub(crate) fn new(pieces: Vec<Piece>) -> Self {
        if pieces.iter().any(|piece| matches!(piece, Piece::Var(_))) {
            return Self { toks: Vec::new(), pieces: Some(pieces) };
        }
        let mut toks = Vec::new();
        for piece in &pieces {
            match piece {
                Piece::Text(text) => toks.extend(text.chars().map(Tok::Char)),
                Piece::Star => toks.push(Tok::Star),
                Piece::One => toks.push(Tok::One),
                Piece::Var(_) => {}
            }
        }
        Self { toks, pieces: None }
    }

    /// A pattern without variables.
    #[cfg(test)]
    pub(crate) fn wildcards(pattern: &str) -> Self {
        Self { toks: compile_wildcards(pattern), pieces: None }
    }

    /// Whether some piece is a variable.
    pub(crate) fn has_variables(&self) -> bool {
        self.pieces.is_some()
    }

    /// The variables, in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &super::variable::Variable> {
        self.pieces.iter().flat_map(|pieces| super::variable::variables(pieces))
    }

    /// Whether `text` matches; a variable without a value or default makes the pattern match nothing.
    pub(crate) fn matches(&self, text: &str, ctx: &dyn ConditionContext) -> bool {
        let Some(pieces) = &self.pieces else {
            return match_tokens(&self.toks, text);
        };
        let mut toks = Vec::with_capacity(text.len());
        for piece in pieces {
            match piece {
                Piece::Text(literal) => toks.extend(literal.chars().map(Tok::Char)),
                Piece::Star => toks.push(Tok::Star),
                Piece::One => toks.push(Tok::One),
                Piece::Var(variable) => match variable.resolve(ctx) {
                    Some(value) => toks.extend(value.chars().map(Tok::Char)),
                    None => return false,
                },
            }
        }
        match_tokens(&toks, text)
    }

    /// The tokens with every variable read as `*`: what the pattern could match at most.
    pub(crate) fn widened(&self) -> Vec<Tok> {
        match &self.pieces {
            None => self.toks.clone(),
            Some(pieces) => {
                let mut toks = Vec::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(literal) => toks.extend(literal.chars().map(Tok::Char)),
                        Piece::Star | Piece::Var(_) => toks.push(Tok::Star),
                        Piece::One => toks.push(Tok::One),
                    }
                }
                toks
            }
        }
    }

    /// The maximal runs of literal characters: text any match must contain (for the index).
    pub(crate) fn literal_runs(&self) -> Vec<String> {
        let mut runs = Vec::new();
        let mut run = String::new();
        for tok in self.widened() {
            match tok {
                Tok::Char(c) => run.push(c),
                Tok::One | Tok::Star => {
                    if !run.is_empty() {
                        runs.push(std::mem::take(&mut run));
                    }
                }
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        runs
    }
}

/// A concrete ARN split into its fields; the resource part keeps any further colons.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArnFields<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Splits `arn:partition:service:region:account:resource`; `None` for anything else.
pub(crate) fn split_arn(arn: &str) -> Option<ArnFields<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    Some(ArnFields {
        partition: parts.next()?,
        service: parts.next()?,
        region: parts.next()?,
        account: parts.next()?,
        resource: parts.next()?,
    })
}

/// An ARN pattern: partition, service, region and account each match on their own; the resource part crosses
/// `/` and `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern {
    pub(crate) partition: Pattern,
    pub(crate) service: Pattern,
    pub(crate) region: Pattern,
    pub(crate) account: Pattern,
    pub(crate) resource: Pattern,
}

/// Splits pieces at the first five colons of their literal text (a variable's key is never split).
fn split_fields(pieces: Vec<Piece>) -> Option<Vec<Vec<Piece>>> {
    let mut fields: Vec<Vec<Piece>> = vec![Vec::new()];
    for piece in pieces {
        match piece {
            Piece::Text(text) if fields.len() < 6 => {
                let mut rest = text.as_str();
                while fields.len() < 6 {
                    let Some((head, tail)) = rest.split_once(':') else { break };
                    if !head.is_empty() {
                        fields.last_mut()?.push(Piece::Text(head.to_owned()));
                    }
                    fields.push(Vec::new());
                    rest = tail;
                }
                if !rest.is_empty() {
                    fields.last_mut()?.push(Piece::Text(rest.to_owned()));
                }
            }
            other => fields.last_mut()?.push(other),
        }
    }
    (fields.len() == 6).then_some(fields)
}

impl ArnPattern {
    /// Splits a pattern without variables; `None` if it has fewer than six fields or does not start `arn:`.
    pub fn parse(pattern: &str) -> Option<Self> {
        let pieces = super::variable::parse_pieces(pattern, false, true).ok()?;
        Self::from_pieces(pieces)
    }

    /// Builds the pattern from parsed pieces.
    pub(crate) fn from_pieces(pieces: Vec<Piece>) -> Option<Self> {
        let mut fields = split_fields(pieces)?.into_iter();
        let arn = fields.next()?;
        if arn != [Piece::Text("arn".to_owned())] {
            return None;
        }
        let mut next = || fields.next().map(Pattern::new);
        Some(Self { partition: next()?, service: next()?, region: next()?, account: next()?, resource: next()? })
    }

    /// Whether a variable appears before the resource part (not allowed in `Resource`).
    pub(crate) fn variables_outside_resource(&self) -> bool {
        [&self.partition, &self.service, &self.region, &self.account].iter().any(|field| field.has_variables())
    }

    /// Every variable, field by field.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &super::variable::Variable> {
        [&self.partition, &self.service, &self.region, &self.account, &self.resource].into_iter().flat_map(Pattern::variables)
    }

    /// Whether the concrete `arn` matches (no variables are resolved: any makes the pattern match nothing).
    pub fn matches(&self, arn: &str) -> bool {
        split_arn(arn).is_some_and(|fields| self.matches_fields(&fields, &super::context::NoContext))
    }

    /// Whether a split ARN matches, field by field, case-sensitively.
    pub(crate) fn matches_fields(&self, arn: &ArnFields<'_>, ctx: &dyn ConditionContext) -> bool {
        self.resource.matches(arn.resource, ctx)
            && self.service.matches(arn.service, ctx)
            && self.partition.matches(arn.partition, ctx)
            && self.region.matches(arn.region, ctx)
            && self.account.matches(arn.account, ctx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn star_and_question_mark() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a*c", "ac"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*/GET/*", "dev/GET/pets/1"));
        assert!(!wildcard_match("*/GET/*", "dev/POST/pets/1"));
        assert!(wildcard_match("a*b*c", "a-b-b-c"));
        assert!(!wildcard_match("a*b*c", "a-b-b-"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match("ab**", "ab"));
        assert!(wildcard_match("caf?", "café"));
        assert!(wildcard_match("*é*", "xxéyy"));
    }

    #[test]
    fn arn_fields_match_separately_and_the_resource_crosses_slashes() {
        let pattern = ArnPattern::parse("arn:aws:execute-api:*:*:*/*/*/petstore/v1/*").unwrap();
        assert!(pattern.matches("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/petstore/v1/pets/1"));
        assert!(!pattern.matches("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/petstore/v2/pets"));
        let region = ArnPattern::parse("arn:aws:execute-api:us-*:*:*").unwrap();
        assert!(!region.matches("arn:aws:execute-api:eu-west-1:123456789012:a/dev/GET/"));
        assert!(ArnPattern::parse("arn:aws:execute-api:*").is_none());
        assert!(ArnPattern::parse("aws:execute-api:a:b:c:d").is_none());
        let case = ArnPattern::parse("arn:aws:execute-api:*:*:*/dev/GET/Pets").unwrap();
        assert!(!case.matches("arn:aws:execute-api:r:1:a/dev/GET/pets"));
        let colon = ArnPattern::parse("arn:aws:execute-api:*:*:a/x:y*").unwrap();
        assert!(colon.matches("arn:aws:execute-api:r:1:a/x:y:z"));
    }

    #[test]
    fn prefix_analysis() {
        let toks = compile_wildcards("*/*/GET/pets/*");
        assert!(can_match_prefix(&toks, "api/dev/GET/"));
        assert!(can_match_prefix(&toks, "api/dev/POST/"));
        let toks = compile_wildcards("api/dev/ANY/*");
        assert!(!can_match_prefix(&toks, "api/dev/GET/"));
        assert!(can_match_prefix(&compile_wildcards("api/d?v/G*"), "api/dev/GET/"));
        assert!(!can_match_prefix(&compile_wildcards("api/d?v/G"), "api/dev/GET/"));
        assert_eq!(Pattern::wildcards("*/*/GET/pets/1*").literal_runs(), vec!["/", "/GET/pets/1"]);
    }
}
