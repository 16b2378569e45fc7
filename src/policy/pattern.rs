//! IAM wildcard matching: `*` any run of characters, `?` exactly one; ARN patterns matched field by field.
//!
//! A pattern is kept as its literal text plus a short list of parts (stretches of that text, wildcards,
//! variables): matching compares whole stretches at once (`starts_with`, and `find` to place the text after a
//! `*`), and a pattern costs about its own text in memory. Configuration loads compile tens of thousands of
//! these, and every request matches a few, so neither may cost per character what a character-by-character
//! token list did (8 bytes and one comparison step per character; the reference matcher kept in the tests).
//! `?` is one Unicode scalar value, as in IAM.

use super::context::ConditionContext;
use super::truth::Truth;
use super::variable::{visit_pieces, Piece, PieceRef, Resolved, Variable};
use crate::request::Partition;

/// One character of a pattern, as load-time analyses read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Char(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, also none.
    Star,
}

/// A stretch of a pattern as matching and analyses read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Text(&'a str),
    One,
    Star,
    Var(&'a Variable),
}

/// One stored stretch: text by its byte range in the pattern's text, so that parts are small and copyable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Text {
        start: u32,
        end: u32,
    },
    One,
    Star,
    /// The variable at this position of `variables`.
    Var(u32),
}

/// The length of the character starting at byte `at` of `text`, if there is one.
fn char_len_at(text: &str, at: usize) -> Option<usize> {
    let lead = *text.as_bytes().get(at)?;
    Some(match lead {
        0x00..=0x7f => 1,
        0x80..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    })
}

/// Whether `text` matches the stretches `seg(0)`, `seg(1)`, … (`None` past the last). Iterative, with one
/// backtrack point (the last `*`), so never recursive on attacker input. After a `*`, the text that follows it in
/// the pattern is searched for rather than tried at every position.
fn glob<'p>(text: &str, seg: impl Fn(usize) -> Option<Seg<'p>>) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // The stretch after the last `*` seen, and where in the text the `*`'s match now ends.
    let mut resume: Option<(usize, usize)> = None;
    loop {
        let advanced = match seg(p) {
            Some(Seg::Star | Seg::Var(_)) => {
                p += 1;
                if seg(p).is_none() {
                    return true;
                }
                resume = Some((p, t));
                continue;
            }
            Some(Seg::Text(literal)) => {
                text.get(t..).filter(|rest| rest.starts_with(literal)).map(|_| t + literal.len())
            }
            Some(Seg::One) => char_len_at(text, t).map(|len| t + len),
            None if t == text.len() => return true,
            None => None,
        };
        if let Some(next) = advanced {
            p += 1;
            t = next;
            continue;
        }
        // A mismatch: the last `*` takes one more character, and matching resumes after it.
        let Some((after, start)) = resume else { return false };
        let Some(len) = char_len_at(text, start) else { return false };
        let mut from = start + len;
        if let Some(Seg::Text(literal)) = seg(after) {
            match text.get(from..).and_then(|rest| rest.find(literal)) {
                Some(offset) => from += offset,
                None => return false,
            }
        }
        resume = Some((after, from));
        p = after;
        t = from;
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run (also empty) and `?` one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    Pattern::wildcards(pattern).matches_plain(text)
}

/// Whether some text that starts with `prefix` can match `toks` (load-time analysis only). A `*` reached before the
/// prefix ends can take the rest of it, and whatever follows the `*` can then match after the prefix; so this is
/// one walk along both, never a search.
pub(crate) fn can_match_prefix(toks: impl IntoIterator<Item = Tok>, prefix: impl IntoIterator<Item = char>) -> bool {
    let mut toks = toks.into_iter();
    for c in prefix {
        match toks.next() {
            None => return false,
            Some(Tok::Star) => return true,
            Some(Tok::One) => {}
            Some(Tok::Char(expected)) if expected == c => {}
            Some(Tok::Char(_)) => return false,
        }
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

/// Builds [`Pattern`]s stretch by stretch (adjacent text is kept as one stretch), in buffers reused from one
/// pattern to the next: each pattern then takes exactly the memory it needs, in at most three allocations.
#[derive(Debug, Default)]
struct Builder {
    text: String,
    parts: Vec<Part>,
    variables: Vec<Variable>,
}

impl Builder {
    fn push(&mut self, piece: PieceRef<'_>) {
        match piece {
            PieceRef::Text("") => {}
            PieceRef::Text(text) => {
                let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
                self.text.push_str(text);
                let end = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
                match self.parts.last_mut() {
                    Some(Part::Text { end: last, .. }) if *last == start => *last = end,
                    _ => self.parts.push(Part::Text { start, end }),
                }
            }
            PieceRef::Star => self.parts.push(Part::Star),
            PieceRef::One => self.parts.push(Part::One),
            PieceRef::Var(variable) => {
                self.parts.push(Part::Var(u32::try_from(self.variables.len()).unwrap_or(u32::MAX)));
                self.variables.push(variable);
            }
        }
    }

    /// The pattern built so far; the builder is empty again.
    fn take(&mut self) -> Pattern {
        let parts = match self.parts.as_slice() {
            [one] => Parts::One(*one),
            many => Parts::Many(many.into()),
        };
        let pattern = Pattern {
            text: self.text.as_str().into(),
            parts,
            variables: std::mem::take(&mut self.variables).into_boxed_slice(),
            path: false,
        };
        self.text.clear();
        self.parts.clear();
        pattern
    }
}

/// A pattern's parts: most fields of most ARNs are one (`aws`, `*`), kept without an allocation of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parts {
    One(Part),
    /// None, or more than one.
    Many(Box<[Part]>),
}

impl Parts {
    fn as_slice(&self) -> &[Part] {
        match self {
            Self::One(part) => std::slice::from_ref(part),
            Self::Many(parts) => parts,
        }
    }
}

/// A wildcard pattern that may hold policy variables; variable values are matched literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// Every literal stretch, one after the other.
    text: Box<str>,
    parts: Parts,
    variables: Box<[Variable]>,
    /// Whether the pattern matches a request path (the resource part of a `Resource`): a variable's value must
    /// then be [`segment_text`], or the match is undecided.
    path: bool,
}

impl Pattern {
    /// Compiles parsed pieces.
    pub(crate) fn new(pieces: Vec<Piece>) -> Self {
        let mut builder = Builder::default();
        for piece in pieces {
            builder.push(piece.as_ref_piece());
        }
        builder.take()
    }

    /// A pattern in which `*` and `?` are wildcards and everything else is literal.
    pub(crate) fn wildcards(pattern: &str) -> Self {
        let mut builder = Builder::default();
        // Cannot fail: without variables no `${` is read.
        let _ = visit_pieces(pattern, false, true, |piece| builder.push(piece));
        builder.take()
    }

    fn seg(&self, part: &Part) -> Seg<'_> {
        match *part {
            Part::Text { start, end } => Seg::Text(self.text.get(start as usize..end as usize).unwrap_or_default()),
            Part::One => Seg::One,
            Part::Star => Seg::Star,
            Part::Var(index) => match self.variables.get(index as usize) {
                Some(variable) => Seg::Var(variable),
                None => Seg::Star,
            },
        }
    }

    /// The stretches as written.
    pub(crate) fn segs(&self) -> impl Iterator<Item = Seg<'_>> + Clone + '_ {
        self.parts.as_slice().iter().map(|part| self.seg(part))
    }

    /// The text the pattern matches when it has no wildcard and no variable.
    pub(crate) fn literal(&self) -> Option<&str> {
        match *self.parts.as_slice() {
            [] => Some(""),
            [Part::Text { .. }] => Some(&self.text),
            _ => None,
        }
    }

    /// Whether some piece is a variable.
    pub(crate) fn has_variables(&self) -> bool {
        !self.variables.is_empty()
    }

    /// The variables, in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.variables.iter()
    }

    /// Whether `text` matches, every variable read as `*` (a pattern without variables: exactly whether it matches).
    pub(crate) fn matches_plain(&self, text: &str) -> bool {
        glob(text, |index| self.parts.as_slice().get(index).map(|part| self.seg(part)))
    }

    /// Whether `text` matches; a variable without a value or default makes the pattern match nothing. A variable
    /// that cannot be decided (a list; in a path, a value that is not [`segment_text`]) makes the match undecided,
    /// unless no value in its place could match.
    pub(crate) fn matches(&self, text: &str, ctx: &dyn ConditionContext) -> Truth {
        if self.variables.is_empty() {
            return Truth::from(self.matches_plain(text));
        }
        let readable: fn(&str) -> bool = if self.path { segment_text } else { |_| true };
        let mut values = Vec::with_capacity(self.variables.len());
        let mut undecided = false;
        for variable in self.variables.iter() {
            match variable.resolve_where(ctx, readable) {
                Resolved::Text(value) => values.push(Some(value)),
                Resolved::Missing => return Truth::False,
                Resolved::Undecided => {
                    undecided = true;
                    values.push(None);
                }
            }
        }
        // A value is matched as literal text; an undecided one as `*`, what it could match at most.
        let matched = glob(text, |index| {
            self.parts.as_slice().get(index).map(|part| match *part {
                Part::Var(variable) => match values.get(variable as usize) {
                    Some(Some(value)) => Seg::Text(value),
                    _ => Seg::Star,
                },
                _ => self.seg(part),
            })
        });
        match (matched, undecided) {
            (false, _) => Truth::False,
            (true, false) => Truth::True,
            (true, true) => Truth::Undecided,
        }
    }

    /// The characters with every variable read as `*`: what the pattern could match at most.
    pub(crate) fn widened(&self) -> impl Iterator<Item = Tok> + Clone + '_ {
        self.shape().map(|tok| tok.unwrap_or(Tok::Star))
    }

    /// The characters as written, with `None` for each variable: a variable stands for one value (in a path, one
    /// segment's text), never for a wildcard (load-time analysis only).
    pub(crate) fn shape(&self) -> impl Iterator<Item = Option<Tok>> + Clone + '_ {
        self.segs().flat_map(|seg| {
            let (text, tok) = match seg {
                Seg::Text(text) => (text, None),
                Seg::One => ("", Some(Some(Tok::One))),
                Seg::Star => ("", Some(Some(Tok::Star))),
                Seg::Var(_) => ("", Some(None)),
            };
            text.chars().map(|c| Some(Tok::Char(c))).chain(tok)
        })
    }

    /// The maximal runs of literal characters: text any match must contain (for the index).
    pub(crate) fn literal_runs(&self) -> impl Iterator<Item = &str> + '_ {
        self.segs().filter_map(|seg| if let Seg::Text(text) = seg { Some(text) } else { None })
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

/// Builds the six fields of an ARN pattern, splitting literal text at its first five colons (a variable's key is
/// never split).
#[derive(Default)]
struct ArnBuilder {
    /// The fields finished so far.
    done: [Option<Pattern>; 5],
    fields: usize,
    current: Builder,
}

impl ArnBuilder {
    fn push(&mut self, piece: PieceRef<'_>) {
        let PieceRef::Text(mut rest) = piece else { return self.current.push(piece) };
        while self.fields < 5 {
            let Some((head, tail)) = rest.split_once(':') else { break };
            self.current.push(PieceRef::Text(head));
            if let Some(slot) = self.done.get_mut(self.fields) {
                *slot = Some(self.current.take());
            }
            self.fields += 1;
            rest = tail;
        }
        self.current.push(PieceRef::Text(rest));
    }

    fn finish(mut self) -> Option<ArnPattern> {
        if self.fields != 5 {
            return None;
        }
        let [arn, partition, service, region, account] = self.done;
        if arn?.literal() != Some("arn") {
            return None;
        }
        let resource = self.current.take();
        Some(ArnPattern { partition: partition?, service: service?, region: region?, account: account?, resource })
    }
}

impl ArnPattern {
    /// Splits a pattern without variables; `None` if it has fewer than six fields or does not start `arn:`.
    pub fn parse(pattern: &str) -> Option<Self> {
        Self::parse_with(pattern, false).ok().flatten()
    }

    /// Parses `pattern`, reading `${...}` as variables when `variables` (2012-10-17); `Ok(None)` when it is no
    /// ARN pattern, `Err` when a variable is malformed.
    pub(crate) fn parse_with(pattern: &str, variables: bool) -> Result<Option<Self>, String> {
        let mut builder = ArnBuilder::default();
        visit_pieces(pattern, variables, true, |piece| builder.push(piece))?;
        Ok(builder.finish())
    }

    /// Builds the pattern from parsed pieces.
    pub(crate) fn from_pieces(pieces: Vec<Piece>) -> Option<Self> {
        let mut builder = ArnBuilder::default();
        for piece in &pieces {
            builder.push(piece.as_ref_piece());
        }
        builder.finish()
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
        [&self.partition, &self.service, &self.region, &self.account, &self.resource]
            .into_iter()
            .flat_map(Pattern::variables)
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

    fn prefix(pattern: &str, prefix: &str) -> bool {
        can_match_prefix(Pattern::wildcards(pattern).widened(), prefix.chars())
    }

    #[test]
    fn prefix_analysis() {
        assert!(prefix("*/*/GET/pets/*", "api/dev/GET/"));
        assert!(prefix("*/*/GET/pets/*", "api/dev/POST/"));
        assert!(!prefix("api/dev/ANY/*", "api/dev/GET/"));
        assert!(prefix("api/d?v/G*", "api/dev/GET/"));
        assert!(!prefix("api/d?v/G", "api/dev/GET/"));
        assert!(prefix("api/d?v/GET/", "api/dev/GET/"));
        assert!(prefix("api/dev/GET/pets", "api/dev/GET/"));
        assert_eq!(Pattern::wildcards("*/*/GET/pets/1*").literal_runs().collect::<Vec<_>>(), vec!["/", "/GET/pets/1"]);
    }

    /// The matcher and the prefix analysis as they were, one character at a time: the references the compact
    /// pattern is held to.
    mod reference {
        use super::super::Tok;

        pub fn compile(pattern: &str) -> Vec<Tok> {
            pattern
                .chars()
                .map(|c| match c {
                    '*' => Tok::Star,
                    '?' => Tok::One,
                    other => Tok::Char(other),
                })
                .collect()
        }

        fn char_at(text: &str, at: usize) -> Option<char> {
            text.get(at..).and_then(|rest| rest.chars().next())
        }

        pub fn matches(pattern: &[Tok], text: &str) -> bool {
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

        /// Every state of the pattern's automaton after the prefix.
        pub fn can_match_prefix(pattern: &[Tok], prefix: &str) -> bool {
            let mut states = vec![false; pattern.len() + 1];
            let close = |states: &mut Vec<bool>| {
                for p in 0..pattern.len() {
                    if states[p] && pattern[p] == Tok::Star {
                        states[p + 1] = true;
                    }
                }
            };
            states[0] = true;
            close(&mut states);
            for c in prefix.chars() {
                let mut next = vec![false; pattern.len() + 1];
                for (p, tok) in pattern.iter().enumerate() {
                    if !states[p] {
                        continue;
                    }
                    match tok {
                        Tok::Star => next[p] = true,
                        Tok::One => next[p + 1] = true,
                        Tok::Char(expected) if *expected == c => next[p + 1] = true,
                        Tok::Char(_) => {}
                    }
                }
                close(&mut next);
                if !next.iter().any(|&on| on) {
                    return false;
                }
                states = next;
            }
            true
        }
    }

    fn random_text(rng: &mut rand::rngs::StdRng, alphabet: &[char], max: usize) -> String {
        use rand::Rng;
        (0..rng.gen_range(0..=max)).map(|_| alphabet[rng.gen_range(0..alphabet.len())]).collect()
    }

    /// The compact matcher decides exactly as the character-by-character one, on random patterns and texts over an
    /// alphabet small enough that stars must backtrack, with a character of two bytes and one of three.
    #[test]
    fn the_compact_matcher_agrees_with_the_reference() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let texts = ['a', 'b', '/', 'é', '€'];
        let patterns = ['a', 'b', '/', 'é', '€', '*', '?', '*'];
        for _ in 0..20_000 {
            let pattern = random_text(&mut rng, &patterns, 8);
            let text = random_text(&mut rng, &texts, 10);
            let expected = reference::matches(&reference::compile(&pattern), &text);
            assert_eq!(wildcard_match(&pattern, &text), expected, "`{pattern}` on `{text}`");
            let prefix = random_text(&mut rng, &texts, 5);
            let compact = can_match_prefix(Pattern::wildcards(&pattern).widened(), prefix.chars());
            assert_eq!(
                compact,
                reference::can_match_prefix(&reference::compile(&pattern), &prefix),
                "`{pattern}` after `{prefix}`"
            );
        }
    }

    /// Variables match their value as literal text (wildcards in it included), an undecided one as `*`.
    #[test]
    fn variables_match_their_values_literally() {
        use crate::policy::context::MapContext;
        use crate::policy::variable::parse_pieces;
        let pattern = Pattern::new(parse_pieces("home/${aws:username}/*", true, true).unwrap());
        let as_user = |user: &str, text: &str| pattern.matches(text, &MapContext::new().with("aws:username", user));
        assert_eq!(as_user("bob", "home/bob/x"), Truth::True);
        assert_eq!(as_user("b*", "home/bob/x"), Truth::False);
        assert_eq!(as_user("b*", "home/b*/x"), Truth::True);
        assert_eq!(as_user("", "home//x"), Truth::True);
        assert_eq!(pattern.matches("home/bob/x", &MapContext::new()), Truth::False);
        let listed = MapContext::new().with_list("aws:username", &["a", "b"]);
        assert_eq!(pattern.matches("home/a/x", &listed), Truth::Undecided);
        assert_eq!(pattern.matches("work/a/x", &listed), Truth::False);
    }

    /// Fields split at the first five colons of literal text, not inside a variable, and adjacent text is one
    /// stretch whether or not it was escaped.
    #[test]
    fn arn_patterns_are_built_without_copying_pieces() {
        let pattern = ArnPattern::parse_with("arn:aws:execute-api:${aws:r, 'x:y'}:1:a${*}b:c*", true).unwrap().unwrap();
        assert_eq!(pattern.partition.literal(), Some("aws"));
        assert_eq!(pattern.region.variables().count(), 1);
        assert_eq!(pattern.resource.segs().collect::<Vec<_>>(), vec![Seg::Text("a*b:c"), Seg::Star]);
        assert_eq!(ArnPattern::parse_with("arn:aws:execute-api:r:1", true).unwrap(), None);
        assert_eq!(ArnPattern::parse_with("ar${?}n:aws:s:r:1:x", true).unwrap(), None);
        assert!(ArnPattern::parse_with("arn:aws:s:r:1:${x", true).is_err());
        assert_eq!(
            ArnPattern::parse("arn:aws:s:r:1:x"),
            ArnPattern::from_pieces(crate::policy::variable::parse_pieces("arn:aws:s:r:1:x", false, true).unwrap())
        );
    }

    /// `segment_text` is what the request normaliser leaves as it is inside a segment, character for character.
    #[test]
    fn segment_text_is_what_a_normalised_path_carries_raw() {
        use crate::request::{normalize_path_with, RequestOptions};
        let options = RequestOptions { allow_utf8_paths: true, ..RequestOptions::default() };
        for c in (0u8..0x80).map(char::from).chain(['é', '\u{3000}', '\u{ff0e}']) {
            let value = format!("a{c}b");
            let target = format!("/{value}");
            let unchanged = normalize_path_with(&target, &options)
                .is_ok_and(|normal| normal.path == target && normal.query.is_none());
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
        let resource =
            |text: &str| ArnPattern::from_pieces(parse_pieces(text, true, true).unwrap()).unwrap().for_resource();
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
        assert_eq!(
            shared.matches_fields(&split_arn(&arn("public/shared/x")).unwrap(), &MapContext::new()),
            Truth::True
        );
        // An `ArnLike` condition is no request path: its values are substituted as they are.
        let condition =
            ArnPattern::from_pieces(parse_pieces("arn:aws:s3:::${aws:username}/*", true, true).unwrap()).unwrap();
        let object = split_arn("arn:aws:s3:::bob/docs/1").unwrap();
        assert_eq!(condition.matches_fields(&object, &MapContext::new().with("aws:username", "bob/docs")), Truth::True);
    }
}
