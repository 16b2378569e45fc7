//! IAM wildcard matching: `*` any run of characters, `?` exactly one; ARN patterns matched field by field.

use super::context::ConditionContext;
use super::truth::Truth;
use super::variable::{Piece, Resolved};
use crate::request::Partition;

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

/// Whether a substituted value is text that a normalised request path carries as itself, inside one segment:
/// every character one a path segment holds unencoded (RFC 3986 `pchar` without `;`: unreserved, sub-delimiters,
/// `:`, `@`; what `normalize_path_with` in `src/request.rs` leaves raw), and not empty, `.` or `..`.
///
/// Anything else, substituted into the path of a `Resource`, would not mean what the policy's author wrote: a
/// Cognito user name may hold `/` (`bob/docs` would reach into `users/bob/...`), `%` (`%C3%A9` would pose as the
/// user `é`, whose requests carry that escape), or characters requests never carry raw (`é`, a space), so that a
/// Deny written for the user would never apply.
pub(crate) fn segment_text(value: &str) -> bool {
    !matches!(value, "" | "." | "..")
        && value.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,=:@".contains(&byte))
}

/// A wildcard pattern that may hold policy variables; variable values are matched literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The whole pattern when it has no variables.
    toks: Vec<Tok>,
    /// The pieces, when some are variables and the pattern is built per request.
    pieces: Option<Vec<Piece>>,
    /// Whether the pattern matches a request path (the resource part of a `Resource`): a variable's value must
    /// then be [`segment_text`], or the match is undecided.
    path: bool,
}

impl Pattern {
    /// Compiles parsed pieces.
    pub(crate) fn new(pieces: Vec<Piece>) -> Self {
        if pieces.iter().any(|piece| matches!(piece, Piece::Var(_))) {
            return Self { toks: Vec::new(), pieces: Some(pieces), path: false };
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
        Self { toks, pieces: None, path: false }
    }

    /// A pattern without variables.
    #[cfg(test)]
    pub(crate) fn wildcards(pattern: &str) -> Self {
        Self { toks: compile_wildcards(pattern), pieces: None, path: false }
    }

    /// The text the pattern matches when it has no wildcard and no variable.
    pub(crate) fn literal(&self) -> Option<String> {
        if self.pieces.is_some() {
            return None;
        }
        self.toks.iter().map(|tok| if let Tok::Char(c) = tok { Some(*c) } else { None }).collect()
    }

    /// Whether some piece is a variable.
    pub(crate) fn has_variables(&self) -> bool {
        self.pieces.is_some()
    }

    /// The variables, in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &super::variable::Variable> {
        self.pieces.iter().flat_map(|pieces| super::variable::variables(pieces))
    }

    /// Whether `text` matches; a variable without a value or default makes the pattern match nothing. A variable
    /// that cannot be decided (a list; in a path, a value that is not [`segment_text`]) makes the match undecided,
    /// unless no value in its place could match.
    pub(crate) fn matches(&self, text: &str, ctx: &dyn ConditionContext) -> Truth {
        let Some(pieces) = &self.pieces else {
            return Truth::from(match_tokens(&self.toks, text));
        };
        let readable: fn(&str) -> bool = if self.path { segment_text } else { |_| true };
        let mut toks = Vec::with_capacity(text.len());
        let mut undecided = false;
        for piece in pieces {
            match piece {
                Piece::Text(literal) => toks.extend(literal.chars().map(Tok::Char)),
                Piece::Star => toks.push(Tok::Star),
                Piece::One => toks.push(Tok::One),
                Piece::Var(variable) => match variable.resolve_where(ctx, readable) {
                    Resolved::Text(value) => toks.extend(value.chars().map(Tok::Char)),
                    Resolved::Missing => return Truth::False,
                    Resolved::Undecided => {
                        undecided = true;
                        toks.push(Tok::Star);
                    }
                },
            }
        }
        match (match_tokens(&toks, text), undecided) {
            (false, _) => Truth::False,
            (true, false) => Truth::True,
            (true, true) => Truth::Undecided,
        }
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

    /// The tokens as written, with `None` for each variable: a variable stands for one value (in a path, one
    /// segment's text), never for a wildcard (load-time analysis only).
    pub(crate) fn shape(&self) -> Vec<Option<Tok>> {
        match &self.pieces {
            None => self.toks.iter().copied().map(Some).collect(),
            Some(pieces) => pieces
                .iter()
                .flat_map(|piece| -> Vec<Option<Tok>> {
                    match piece {
                        Piece::Text(literal) => literal.chars().map(|c| Some(Tok::Char(c))).collect(),
                        Piece::Star => vec![Some(Tok::Star)],
                        Piece::One => vec![Some(Tok::One)],
                        Piece::Var(_) => vec![None],
                    }
                })
                .collect(),
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

    /// The same pattern as the `Resource` or `NotResource` of a statement: its resource part matches request
    /// paths, so variables there take only [`segment_text`].
    pub(crate) fn for_resource(mut self) -> Self {
        self.resource.path = true;
        self
    }

    /// Refuses a literal partition (no wildcard, no variable) other than `partition`: such an ARN can never name
    /// anything of this API, so a `Deny` written with it would never apply.
    pub(crate) fn check_partition(&self, partition: Partition) -> Result<(), String> {
        let Some(literal) = self.partition.literal() else { return Ok(()) };
        if literal == partition.as_str() {
            return Ok(());
        }
        Err(format!(
            "names partition `{literal}`, but this API is in `{}`: it could never match (write `{}`, or `*` for any partition)",
            partition.as_str(),
            partition.as_str()
        ))
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
        split_arn(arn).is_some_and(|fields| self.matches_fields(&fields, &super::context::NoContext) == Truth::True)
    }

    /// Whether a split ARN matches, field by field, case-sensitively (the resource part first: it differs most).
    pub(crate) fn matches_fields(&self, arn: &ArnFields<'_>, ctx: &dyn ConditionContext) -> Truth {
        let fields = [
            (&self.resource, arn.resource),
            (&self.service, arn.service),
            (&self.partition, arn.partition),
            (&self.region, arn.region),
            (&self.account, arn.account),
        ];
        Truth::all(fields.into_iter().map(|(pattern, text)| pattern.matches(text, ctx)))
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

    /// `segment_text` is what the request normaliser leaves as it is inside a segment, character for character.
    #[test]
    fn segment_text_is_what_a_normalised_path_carries_raw() {
        use crate::request::{normalize_path_with, RequestOptions};
        let options = RequestOptions { allow_utf8_paths: true, ..RequestOptions::default() };
        for c in (0u8..0x80).map(char::from).chain(['é', '\u{3000}', '\u{ff0e}']) {
            let value = format!("a{c}b");
            let target = format!("/{value}");
            let unchanged = normalize_path_with(&target, &options).is_ok_and(|normal| normal.path == target && normal.query.is_none());
            // `/` is normal, but it is no part of one segment.
            assert_eq!(segment_text(&value), unchanged && c != '/', "{}", value.escape_debug());
        }
        for value in ["", ".", "..", "%41", "%C3%A9", "bob/docs", "a b"] {
            assert!(!segment_text(value), "{value}");
        }
        for value in ["...", ".a", "bob", "me@example.com", "urn:x", "$metadata", "a*", "a?"] {
            assert_eq!(segment_text(value), !value.contains('?'), "{value}");
        }
    }

    /// F2: a variable in the path of a `Resource` stands for one segment's text; a value that would reach
    /// another segment, or be spelled otherwise in a request, cannot be decided (a Deny applies, an Allow not).
    #[test]
    fn resource_variables_take_only_segment_text() {
        use crate::policy::context::MapContext;
        use crate::policy::variable::parse_pieces;
        let resource = |text: &str| ArnPattern::from_pieces(parse_pieces(text, true, true).unwrap()).unwrap().for_resource();
        let own = resource("arn:aws:execute-api:*:*:api/dev/GET/users/${aws:username}/*");
        let arn = |path: &str| format!("arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/{path}");
        let decide = |pattern: &ArnPattern, user: &str, path: &str| {
            pattern.matches_fields(&split_arn(&arn(path)).unwrap(), &MapContext::new().with("aws:username", user))
        };
        assert_eq!(decide(&own, "bob", "users/bob/docs/1"), Truth::True);
        assert_eq!(decide(&own, "eve", "users/bob/docs/1"), Truth::False);
        assert_eq!(decide(&own, "bob/docs", "users/bob/docs/1"), Truth::Undecided);
        assert_eq!(decide(&own, "bob/docs", "pets/1"), Truth::False);
        for user in ["..", ".", "", "%C3%A9", "jos\u{e9}", "a b", "a?b", "a#b", "a;b", "a\\b"] {
            assert_eq!(decide(&own, user, &format!("users/{user}/x")), Truth::Undecided, "{user}");
        }
        for user in ["a*", "me@example.com", "urn:x:y", "$meta", "a.b", "..."] {
            assert_eq!(decide(&own, user, &format!("users/{user}/x")), Truth::True, "{user}");
        }
        // The author's own default is taken as written, `/` and all.
        let shared = resource("arn:aws:execute-api:*:*:api/dev/GET/${claim:custom:home, 'public/shared'}/*");
        assert_eq!(shared.matches_fields(&split_arn(&arn("public/shared/x")).unwrap(), &MapContext::new()), Truth::True);
        // An `ArnLike` condition is no request path: its values are substituted as they are.
        let condition = ArnPattern::from_pieces(parse_pieces("arn:aws:s3:::${aws:username}/*", true, true).unwrap()).unwrap();
        let object = split_arn("arn:aws:s3:::bob/docs/1").unwrap();
        assert_eq!(condition.matches_fields(&object, &MapContext::new().with("aws:username", "bob/docs")), Truth::True);
    }
}
