//! IAM wildcard matching: `*` any run of characters, `?` exactly one.

/// Whether `text` matches `pattern`, where `*` matches any run (also empty) and `?` one character.
///
/// Iterative with one backtrack point, so linear in practice and never recursive on attacker input.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// A resource pattern: `*`, or an ARN whose first five fields and resource part each match on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern {
    /// `arn`, partition, service, region, account: wildcards stay inside one field.
    fields: [String; 5],
    /// Everything after the fifth colon: `*` crosses `/` and `:`.
    resource: String,
}

impl ArnPattern {
    /// Splits an ARN pattern; `None` if it has fewer than six colon-separated fields or does not start `arn:`.
    pub fn parse(pattern: &str) -> Option<Self> {
        let mut parts = pattern.splitn(6, ':');
        let fields = [
            parts.next()?.to_owned(),
            parts.next()?.to_owned(),
            parts.next()?.to_owned(),
            parts.next()?.to_owned(),
            parts.next()?.to_owned(),
        ];
        let resource = parts.next()?.to_owned();
        if fields[0] != "arn" {
            return None;
        }
        Some(Self { fields, resource })
    }

    /// Whether the concrete `arn` matches, field by field (case-sensitive).
    pub fn matches(&self, arn: &str) -> bool {
        let mut parts = arn.splitn(6, ':');
        for field in &self.fields {
            match parts.next() {
                Some(actual) if wildcard_match(field, actual) => {}
                _ => return false,
            }
        }
        parts.next().is_some_and(|resource| wildcard_match(&self.resource, resource))
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
    }
}
