//! Warnings for valid statements that can never do anything for an execute-api request (a wrong service, an
//! `ANY` method, a key no request carries), or that do more than they seem to (a verb after a wildcard stage, a
//! `ForAllValues:` Allow that holds for tokens without its key): loading succeeds, and adapters log these.

use super::condition::{Condition, SetQualifier};
use super::context::{KeyKind, KeyName, CLAIM_PREFIX};
use super::document::{Effect, Located, ResourcePattern, Statement};
use super::error::{warning, PolicyWarning};
use super::pattern::{can_match_prefix, ArnPattern, Seg, Tok};
use super::variable::Variable;
use crate::request::ApiTarget;

/// The verbs API Gateway writes into method ARNs.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// Claims Cognito writes as lists (or, for `scope`, this authorizer splits).
const MULTI_VALUED: [&str; 4] = ["claim:cognito:groups", "claim:cognito:roles", "claim:scope", "claim:amr"];

/// Why `pattern` can match no method ARN of `api`, if it cannot.
fn api_mismatch(pattern: &ArnPattern, api: &ApiTarget) -> Option<String> {
    let fields = [
        (&pattern.partition, api.partition.as_str(), "partition"),
        (&pattern.service, "execute-api", "service"),
        (&pattern.region, api.region.as_str(), "region"),
        (&pattern.account, api.account_id.as_str(), "account"),
    ];
    for (field, value, what) in fields {
        if !field.matches_plain(value) {
            return Some(format!("its {what} never matches `{value}`"));
        }
    }
    // `can_match_prefix` of `api/stage/` and then of `api/stage/METHOD/` for each verb, the shared part walked once.
    let base = api.api_id.chars().chain(['/']).chain(api.stage.chars()).chain(['/']);
    let rest = match walk_prefix(pattern.resource.widened(), base) {
        Prefix::Mismatch => {
            return Some(format!(
                "its resource part never starts `{}/{}/` (`api-id/stage/METHOD/path`)",
                api.api_id, api.stage
            ))
        }
        Prefix::Star => return None,
        Prefix::Rest(rest) => rest,
    };
    if !METHODS.iter().any(|method| can_match_prefix(rest.clone(), method.chars().chain(['/']))) {
        return Some(
            "no method fits: the ARN holds the request's verb in upper case (GET, POST, PUT, DELETE, PATCH, HEAD, \
             OPTIONS), never `ANY`"
                .to_owned(),
        );
    }
    None
}

/// Where a pattern stands after some text that starts with a prefix (see [`can_match_prefix`]).
enum Prefix<I> {
    /// No text that starts with the prefix can match.
    Mismatch,
    /// A `*` takes the rest of the prefix, so any text that starts with it may match, whatever follows.
    Star,
    /// The prefix matched this far; the pattern's characters after it.
    Rest(I),
}

/// [`can_match_prefix`], keeping the pattern's remaining characters so that several continuations of one prefix
/// are checked without walking it again.
fn walk_prefix<I: Iterator<Item = Tok>>(mut toks: I, prefix: impl IntoIterator<Item = char>) -> Prefix<I> {
    for c in prefix {
        match toks.next() {
            None => return Prefix::Mismatch,
            Some(Tok::Star) => return Prefix::Star,
            Some(Tok::One) => {}
            Some(Tok::Char(expected)) if expected == c => {}
            Some(Tok::Char(_)) => return Prefix::Mismatch,
        }
    }
    Prefix::Rest(toks)
}

/// The third segment of the resource part (`api/stage/METHOD/...`) with wildcards written as `*` and `?`, if the
/// part has one.
fn third_segment(pattern: &ArnPattern) -> Option<String> {
    let mut slashes = 0;
    let mut segment = String::new();
    for tok in pattern.resource.widened() {
        let c = match tok {
            Tok::Char(c) => c,
            Tok::One => '?',
            Tok::Star => '*',
        };
        if c == '/' {
            slashes += 1;
            if slashes > 2 {
                break;
            }
        } else if slashes == 2 {
            segment.push(c);
        }
    }
    (slashes >= 2).then_some(segment)
}

/// A literal third segment of the resource part (`api/stage/METHOD/...`) that is no verb: with `*` crossing `/`
/// such a pattern can still match (a path containing `/dev/ANY/`), but never the way its author meant.
fn method_segment(pattern: &ArnPattern) -> Option<String> {
    // Nearly every resource has a wildcard or a verb there: found without building the segment's text.
    let mut slashes = 0;
    let mut word = Word::default();
    let mut wildcard = false;
    'scan: for seg in pattern.resource.segs() {
        match seg {
            Seg::Text(text) => {
                for &byte in text.as_bytes() {
                    if byte == b'/' {
                        slashes += 1;
                        if slashes > 2 {
                            break 'scan;
                        }
                    } else if slashes == 2 {
                        word.push(byte);
                    }
                }
            }
            Seg::One | Seg::Star | Seg::Var(_) => wildcard |= slashes == 2,
        }
    }
    if slashes < 2 || wildcard || word.verb().is_some() {
        return None;
    }
    let method = third_segment(pattern)?;
    if method.contains(['*', '?']) || METHODS.contains(&method.as_str()) {
        return None;
    }
    Some(format!(
        "its method segment `{method}` is not a verb API Gateway writes (the request's own, in upper case: GET, POST, \
         PUT, DELETE, PATCH, HEAD, OPTIONS; never `ANY`): it only matches paths that happen to contain it"
    ))
}

/// Whether a request to this authorizer can ever carry `key`.
fn never_present(kind: KeyKind) -> bool {
    kind == KeyKind::Other
}

fn lint_variable(variable: &Variable, path: &dyn Fn() -> String, warnings: &mut Vec<PolicyWarning>) {
    let key = variable.key.as_str();
    if MULTI_VALUED.contains(&variable.key.lower()) {
        // A default does not help: the key is present, as a list.
        warnings.push(warning(
            &path(),
            format!(
                "variable `${{{key}}}` names a multi-valued key, which never substitutes (nor does its default): \
                 wherever it holds a list the statement cannot be decided (an Allow does not apply, a Deny does)"
            ),
        ));
    } else if variable.default.is_none() && never_present(variable.key.kind()) {
        warnings.push(warning(&path(), format!("variable `${{{key}}}` is never set in this authorizer's requests and has no default, so it matches nothing")));
    }
}

/// Claims Cognito user pools write into access and ID tokens
/// (<https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-with-identity-providers.html>),
/// and the OpenID Connect standard claims an ID token carries as user attributes. `custom:` attributes and claims
/// a pre-token-generation trigger adds are anyone's to name.
const COGNITO_CLAIMS: [&str; 40] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "jti",
    "auth_time",
    "token_use",
    "client_id",
    "scope",
    "username",
    "version",
    "origin_jti",
    "event_id",
    "nonce",
    "at_hash",
    "amr",
    "identities",
    "cognito:groups",
    "cognito:username",
    "cognito:roles",
    "cognito:preferred_role",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
];

/// Edit distance, for "did you mean" (load time only, short names).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let left = row.get(j).copied().unwrap_or(usize::MAX);
            let next = (diagonal + usize::from(ca != *cb)).min(above.saturating_add(1)).min(left.saturating_add(1));
            diagonal = above;
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = next;
            }
        }
    }
    row.last().copied().unwrap_or_default()
}

/// For a `claim:` key naming no claim Cognito writes: a note saying so, with the nearest one that it does.
fn unknown_claim(key: &KeyName) -> Option<String> {
    let claim = key.lower().strip_prefix(CLAIM_PREFIX)?;
    if claim.starts_with("custom:") || COGNITO_CLAIMS.contains(&claim) {
        return None;
    }
    let nearest = COGNITO_CLAIMS.iter().map(|known| (distance(claim, known), *known)).min();
    Some(match nearest {
        Some((near, known)) if near <= 2 => format!(" (`{claim}` is no claim Cognito writes; `{known}` is)"),
        _ => format!(" (`{claim}` is no claim Cognito writes: only a pre-token-generation trigger can add it)"),
    })
}

/// FG3: an Allow's `ForAllValues:` condition holds when its key is absent or empty, so without another condition
/// that fails on an absent key (`Null: false`, `ForAnyValue:`, a plain operator) the Allow applies to every token
/// without the key, and a misspelt key (`claim:cognito:group`) is absent from every token.
fn unguarded_for_all_values(statement: &Statement, condition: &Condition) -> Option<String> {
    if statement.effect != Effect::Allow || condition.set_qualifier() != SetQualifier::ForAllValues {
        return None;
    }
    let key = &condition.key;
    let guarded = statement.conditions.iter().any(|other| other.key.lower() == key.lower() && !other.when_absent());
    if guarded {
        return None;
    }
    let unknown = unknown_claim(key).unwrap_or_default();
    Some(format!(
        "`ForAllValues:` holds when `{}` is absent or empty, so this Allow applies to every token without it{unknown}; \
         add `\"Null\": {{\"{}\": \"false\"}}` to the block",
        key.as_str(),
        key.as_str()
    ))
}

/// The verb of the resource part's third segment when a `*` before it (in the api id or the stage) can stand for
/// several segments: `*/*/GET/pets/*` also matches `a1b2c3d4e5/dev/POST/x/GET/pets/1`, a POST. IAM matches so
/// (`*` crosses `/`); API Gateway writes the request's own stage and api id, so a literal stage anchors the verb.
fn unanchored_method(pattern: &ArnPattern) -> Option<String> {
    let mut segment = 0;
    let mut star_before = false;
    // The third segment's text while it is all literal; `None` once a wildcard or variable is in it.
    let mut method = Some(Word::default());
    'scan: for seg in pattern.resource.segs() {
        match seg {
            Seg::Text(text) => {
                for &byte in text.as_bytes() {
                    if byte == b'/' {
                        segment += 1;
                        if segment > 2 {
                            break 'scan;
                        }
                    } else if segment == 2 {
                        method.iter_mut().for_each(|word| word.push(byte));
                    }
                }
            }
            Seg::Star if segment < 2 => star_before = true,
            _ if segment < 2 => {}
            Seg::One | Seg::Star | Seg::Var(_) => method = None,
        }
    }
    if !star_before || segment < 2 {
        return None;
    }
    method?.verb().map(str::to_owned)
}

/// Up to eight bytes of a segment, compared with the verbs without allocating (longer text is no verb).
#[derive(Default)]
struct Word {
    bytes: [u8; 8],
    len: usize,
}

impl Word {
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
        }
        self.len = self.len.saturating_add(1);
    }

    /// The verb these bytes spell, if they spell one.
    fn verb(&self) -> Option<&'static str> {
        let text = self.bytes.get(..self.len)?;
        METHODS.into_iter().find(|method| method.as_bytes() == text)
    }
}

/// The `execute-api:/` spelling of `written` with a literal stage, for the warning.
fn anchored(written: &str, method: &str, stage: &str) -> String {
    let rest = written.splitn(6, ':').nth(5).and_then(|resource| resource.splitn(4, '/').nth(3)).unwrap_or("*");
    format!("execute-api:/{stage}/{method}/{rest}")
}

/// A `?` wildcard followed, in the same segment, by `=`: written as a query string, which method ARNs never hold;
/// `?` there matches any one character.
fn query_shaped(pattern: &ArnPattern) -> bool {
    let mut one = false;
    for seg in pattern.resource.segs() {
        match seg {
            Seg::One => one = true,
            Seg::Text(text) => {
                for &byte in text.as_bytes() {
                    match byte {
                        b'/' => one = false,
                        b'=' if one => return true,
                        _ => {}
                    }
                }
            }
            Seg::Star | Seg::Var(_) => {}
        }
    }
    false
}

/// Warnings about resources that need no API to find: the verb is not anchored, a query where none can be.
fn lint_resource_shape(
    statement: &Statement,
    arn: &ArnPattern,
    written: &str,
    item_path: &dyn Fn() -> String,
    api: Option<&ApiTarget>,
    warnings: &mut Vec<PolicyWarning>,
) {
    // Only where matching more is granting more: an Allow's Resource, a Deny's NotResource (excluding more).
    let widens = (statement.effect == Effect::Allow) != statement.resource.negated;
    if widens {
        if let Some(method) = unanchored_method(arn) {
            let stage = api.map_or("STAGE", |api| api.stage.as_str());
            let other = if method == "POST" { "DELETE" } else { "POST" };
            warnings.push(warning(
                &item_path(),
                format!(
                    "`{written}`: the `*` before `{method}` can stand for several segments, so this also matches other \
                     methods on paths holding `/{method}/` (`{other} /x/{method}/...`); write the stage literally, as in `{}`",
                    anchored(written, &method, stage)
                ),
            ));
        }
    }
    if query_shaped(arn) {
        warnings.push(warning(
            &item_path(),
            format!("`{written}`: `?` is a one-character wildcard here, not a query: a method ARN never holds the query string"),
        ));
    }
}

/// Appends warnings for `located` statements. With an `api` (a configured store) also checks resources against
/// that API and condition keys against the keys requests carry; without (a standalone document, whose context
/// may set any key) only what needs neither.
pub(crate) fn lint(located: &Located<'_>, api: Option<&ApiTarget>, warnings: &mut Vec<PolicyWarning>) {
    for (statement, path) in located {
        if !statement.action.invoke {
            let element = if statement.action.negated { "NotAction" } else { "Action" };
            warnings.push(warning(
                &format!("{path}.{element}"),
                "does not apply to `execute-api:Invoke`: the statement never matches an execute-api request",
            ));
        }
        let resource = &statement.resource;
        let listed = resource.patterns.len() > 1;
        for (index, (pattern, written)) in resource.patterns.iter().enumerate() {
            // Written out only for a warning: most resources have none.
            let item_path = || {
                if listed {
                    format!("{path}.{}[{index}]", resource.element())
                } else {
                    format!("{path}.{}", resource.element())
                }
            };
            match pattern {
                ResourcePattern::Any if resource.negated => warnings
                    .push(warning(&item_path(), "`*` excludes every resource: the statement never matches a request")),
                ResourcePattern::Any => {}
                ResourcePattern::Arn(arn) => {
                    let Some(api) = api else {
                        lint_resource_shape(statement, arn, written, &item_path, None, warnings);
                        continue;
                    };
                    for variable in arn.variables() {
                        lint_variable(variable, &item_path, warnings);
                    }
                    if let Some(reason) = api_mismatch(arn, api).filter(|_| !resource.negated) {
                        warnings.push(warning(
                            &item_path(),
                            format!("`{written}` never matches a request to this API: {reason}"),
                        ));
                    } else if let Some(reason) = method_segment(arn).filter(|_| !resource.negated) {
                        warnings.push(warning(&item_path(), format!("`{written}`: {reason}")));
                    } else {
                        lint_resource_shape(statement, arn, written, &item_path, Some(api), warnings);
                    }
                }
            }
        }
        for condition in &statement.conditions {
            // Written out only for a warning, as above.
            let condition_path = || format!("{path}.Condition.{}.{}", condition.operator, condition.key.as_str());
            let never = api.is_some() && never_present(condition.key.kind());
            if let Some(message) = unguarded_for_all_values(statement, condition).filter(|_| !never) {
                warnings.push(warning(&condition_path(), message));
            }
            if api.is_none() {
                continue;
            }
            for variable in condition.variables() {
                lint_variable(variable, &condition_path, warnings);
            }
            if never {
                let outcome = if condition.when_absent() {
                    "always true"
                } else {
                    "always false, so the statement never applies"
                };
                warnings.push(warning(
                    &condition_path(),
                    format!(
                        "`{}` is never present in this authorizer's requests (see docs/condition-keys.md): the condition is {outcome}",
                        condition.key.as_str()
                    ),
                ));
            } else if condition.set_qualifier() == SetQualifier::Single
                && !condition.is_null_test()
                && MULTI_VALUED.contains(&condition.key.lower())
            {
                warnings.push(warning(
                    &condition_path(),
                    format!(
                        "`{}` is multi-valued: a plain operator cannot be decided on a list (an Allow never applies through \
                         it, a Deny applies when some value meets it); use `ForAnyValue:` or `ForAllValues:`",
                        condition.key.as_str()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::super::pattern::Pattern;
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The shape checks as they were, one character at a time through `shape()`: the references for the
    /// byte-wise ones.
    fn unanchored_reference(pattern: &ArnPattern) -> Option<String> {
        let mut segment = 0;
        let mut star_before = false;
        let mut method = Some(String::new());
        for tok in pattern.resource.shape() {
            match tok {
                Some(Tok::Char('/')) => {
                    segment += 1;
                    if segment > 2 {
                        break;
                    }
                }
                Some(Tok::Star) if segment < 2 => star_before = true,
                _ if segment < 2 => {}
                Some(Tok::Char(c)) => method.iter_mut().for_each(|text| text.push(c)),
                Some(Tok::One | Tok::Star) | None => method = None,
            }
        }
        let method = method.filter(|method| segment >= 2 && METHODS.contains(&method.as_str()))?;
        star_before.then_some(method)
    }

    fn query_reference(pattern: &ArnPattern) -> bool {
        let mut one = false;
        for tok in pattern.resource.shape() {
            match tok {
                Some(Tok::One) => one = true,
                Some(Tok::Char('/')) => one = false,
                Some(Tok::Char('=')) if one => return true,
                _ => {}
            }
        }
        false
    }

    fn method_segment_reference(pattern: &ArnPattern) -> Option<String> {
        let method = third_segment(pattern)?;
        if method.contains(['*', '?']) || METHODS.contains(&method.as_str()) {
            return None;
        }
        Some(method)
    }

    #[test]
    fn byte_wise_shape_checks_answer_as_the_character_walks() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(10);
        let pieces = [
            "/",
            "/",
            "/",
            "GET",
            "POST",
            "OPTIONSX",
            "G",
            "ET",
            "*",
            "?",
            "=",
            "x",
            "\u{e9}",
            "${aws:username}",
            "${*}",
            "${?}",
        ];
        let mut checked = [0usize; 3];
        for _ in 0..20_000 {
            // Often with a wildcard before the verb, where `unanchored_method` has something to find.
            let start = ["", "*/*/", "*/dev/", "a/*/", "a/${aws:username}/"][rng.gen_range(0..5)];
            let resource: String = std::iter::once(start)
                .chain((0..rng.gen_range(0..9)).map(|_| pieces[rng.gen_range(0..pieces.len())]))
                .collect();
            let Ok(Some(pattern)) = ArnPattern::parse_with(&format!("arn:aws:execute-api:*:*:{resource}"), true) else {
                continue;
            };
            let unanchored = unanchored_method(&pattern);
            assert_eq!(unanchored, unanchored_reference(&pattern), "{resource}");
            assert_eq!(query_shaped(&pattern), query_reference(&pattern), "{resource}");
            let segment = method_segment(&pattern);
            assert_eq!(segment.is_some(), method_segment_reference(&pattern).is_some(), "{resource}");
            checked[0] += usize::from(unanchored.is_some());
            checked[1] += usize::from(query_shaped(&pattern));
            checked[2] += usize::from(segment.is_some());
        }
        assert!(checked.iter().all(|&count| count > 100), "{checked:?}");
    }

    /// Walking a shared prefix once and then each continuation answers as `can_match_prefix` on the whole.
    #[test]
    fn a_prefix_walked_once_answers_as_the_whole_prefix() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let text = |rng: &mut rand::rngs::StdRng, alphabet: &[char], max: usize| -> String {
            (0..rng.gen_range(0..=max)).map(|_| alphabet[rng.gen_range(0..alphabet.len())]).collect()
        };
        for _ in 0..5_000 {
            let pattern = Pattern::wildcards(&text(&mut rng, &['a', 'b', '/', '*', '?'], 10));
            let prefix = text(&mut rng, &['a', 'b', '/'], 5);
            let continuation = text(&mut rng, &['a', 'b', '/'], 4);
            let whole = can_match_prefix(pattern.widened(), prefix.chars().chain(continuation.chars()));
            let walked = match walk_prefix(pattern.widened(), prefix.chars()) {
                Prefix::Mismatch => false,
                Prefix::Star => true,
                Prefix::Rest(rest) => can_match_prefix(rest, continuation.chars()),
            };
            assert_eq!(walked, whole, "{pattern:?} after {prefix:?} then {continuation:?}");
        }
    }
}
