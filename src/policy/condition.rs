//! `Condition` blocks: every operator family with `...IfExists` and the `ForAnyValue:`/`ForAllValues:` set
//! qualifiers, compiled at load; evaluated against a request's condition keys.

use super::context::{ConditionContext, KeyName, Values};
use super::error::{error, error_at, Path, PolicyError};
use super::pattern::{split_arn, ArnPattern, Pattern};
use super::truth::Truth;
use super::value::{parse_base64, parse_bool, parse_instant, Decimal, Instant};
use super::variable::{parse_pieces, Piece, Template};
use super::Version;
use crate::request::Partition;
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;

/// How a condition treats a multi-valued key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// A plain operator: meant for single-valued keys; on a multi-valued key it is false or undecided
    /// ([`Condition::evaluate`]).
    Single,
    /// `ForAnyValue:`: some request value must match; false on an empty or absent set.
    ForAnyValue,
    /// `ForAllValues:`: every request value must match; true on an empty or absent set.
    ForAllValues,
}

/// The comparison of ordered operator families (request value on the left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: Ord>(self, request: &T, policy: &T) -> bool {
        match self {
            Self::Eq => request == policy,
            Self::Lt => request < policy,
            Self::Le => request <= policy,
            Self::Gt => request > policy,
            Self::Ge => request >= policy,
        }
    }
}

/// An operator family, in its positive form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// An `ArnLike` value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ArnValue {
    /// `*`: any value.
    Any,
    Pattern(Box<ArnPattern>),
}

/// The policy values of one condition, parsed for their family.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    StringEquals(Vec<Template>),
    StringEqualsIgnoreCase(Vec<Template>),
    StringLike(Vec<Pattern>),
    Numeric(Cmp, Vec<Decimal>),
    Date(Cmp, Vec<Instant>),
    Bool(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<IpNet>),
    Arn(Vec<ArnValue>),
    /// `true`: the key must be absent; `false`: present.
    Null(Vec<bool>),
}

/// One operator applied to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written (`ForAnyValue:StringLikeIfExists`).
    pub operator: String,
    pub key: KeyName,
    test: Test,
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
}

/// `(family, negated, if_exists, set)` for an operator name, `None` if it is not one.
fn parse_operator(name: &str) -> Option<(Family, bool, bool, SetQualifier)> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (SetQualifier::ForAnyValue, rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (SetQualifier::ForAllValues, rest)
    } else {
        (SetQualifier::Single, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let (family, negated) = match base {
        "StringEquals" => (Family::StringEquals, false),
        "StringNotEquals" => (Family::StringEquals, true),
        "StringEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, true),
        "StringLike" => (Family::StringLike, false),
        "StringNotLike" => (Family::StringLike, true),
        "NumericEquals" => (Family::Numeric(Cmp::Eq), false),
        "NumericNotEquals" => (Family::Numeric(Cmp::Eq), true),
        "NumericLessThan" => (Family::Numeric(Cmp::Lt), false),
        "NumericLessThanEquals" => (Family::Numeric(Cmp::Le), false),
        "NumericGreaterThan" => (Family::Numeric(Cmp::Gt), false),
        "NumericGreaterThanEquals" => (Family::Numeric(Cmp::Ge), false),
        "DateEquals" => (Family::Date(Cmp::Eq), false),
        "DateNotEquals" => (Family::Date(Cmp::Eq), true),
        "DateLessThan" => (Family::Date(Cmp::Lt), false),
        "DateLessThanEquals" => (Family::Date(Cmp::Le), false),
        "DateGreaterThan" => (Family::Date(Cmp::Gt), false),
        "DateGreaterThanEquals" => (Family::Date(Cmp::Ge), false),
        "Bool" => (Family::Bool, false),
        "BinaryEquals" => (Family::Binary, false),
        "IpAddress" => (Family::Ip, false),
        "NotIpAddress" => (Family::Ip, true),
        "ArnEquals" | "ArnLike" => (Family::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
        "Null" if !if_exists && set == SetQualifier::Single => (Family::Null, false),
        _ => return None,
    };
    Some((family, negated, if_exists, set))
}

/// Condition values as text: strings, numbers and booleans (IAM reads JSON numbers and booleans as text).
fn value_texts(value: &Value, path: &Path<'_>) -> Result<Vec<String>, PolicyError> {
    let one = |value: &Value, path: &Path<'_>| match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(error_at(path, "expected a string, number or boolean")),
    };
    match value {
        Value::Array(items) if items.is_empty() => Err(error_at(path, "expected at least one value")),
        Value::Array(items) => {
            items.iter().enumerate().map(|(index, item)| one(item, &Path::Index(path, index))).collect()
        }
        other => Ok(vec![one(other, path)?]),
    }
}

fn parse_ip(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn parse_test(
    family: Family,
    texts: &[String],
    version: Version,
    partition: Partition,
    path: &Path<'_>,
) -> Result<Test, PolicyError> {
    let variables = version == Version::V2012_10_17;
    let item_path =
        |index: usize| if texts.len() == 1 { path.to_string() } else { Path::Index(path, index).to_string() };
    let pieces = |index: usize, text: &str, wildcards: bool| -> Result<Vec<Piece>, PolicyError> {
        parse_pieces(text, variables, wildcards).map_err(|message| error(&item_path(index), message))
    };
    let typed = |what: &str, parse: &dyn Fn(&str) -> bool| -> Result<(), PolicyError> {
        for (index, text) in texts.iter().enumerate() {
            if variables && text.contains("${") {
                return Err(error(&item_path(index), "policy variables are allowed only in string and ARN conditions"));
            }
            if !parse(text) {
                return Err(error(&item_path(index), format!("`{text}` is not {what}")));
            }
        }
        Ok(())
    };
    let test = match family {
        Family::StringEquals | Family::StringEqualsIgnoreCase => {
            let templates = texts
                .iter()
                .enumerate()
                .map(|(index, text)| Ok(Template::new(pieces(index, text, false)?)))
                .collect::<Result<Vec<_>, PolicyError>>()?;
            if family == Family::StringEquals {
                Test::StringEquals(templates)
            } else {
                Test::StringEqualsIgnoreCase(templates)
            }
        }
        Family::StringLike => Test::StringLike(
            texts
                .iter()
                .enumerate()
                .map(|(index, text)| Ok(Pattern::new(pieces(index, text, true)?)))
                .collect::<Result<_, PolicyError>>()?,
        ),
        Family::Arn => Test::Arn(
            texts
                .iter()
                .enumerate()
                .map(|(index, text)| {
                    if text == "*" {
                        return Ok(ArnValue::Any);
                    }
                    let pattern = ArnPattern::from_pieces(pieces(index, text, true)?).ok_or_else(|| {
                        error(
                            &item_path(index),
                            format!("`{text}` is not an ARN (`arn:partition:service:region:account:resource`)"),
                        )
                    })?;
                    // Keys that hold ARNs here name resources of the API's own partition (no account spans two).
                    pattern
                        .check_partition(partition)
                        .map_err(|message| error(&item_path(index), format!("`{text}` {message}")))?;
                    Ok(ArnValue::Pattern(Box::new(pattern)))
                })
                .collect::<Result<_, PolicyError>>()?,
        ),
        Family::Numeric(cmp) => {
            typed("a number", &|text| Decimal::parse(text).is_some())?;
            Test::Numeric(cmp, texts.iter().filter_map(|text| Decimal::parse(text)).collect())
        }
        Family::Date(cmp) => {
            typed("an ISO 8601 date or epoch seconds", &|text| parse_instant(text).is_some())?;
            Test::Date(cmp, texts.iter().filter_map(|text| parse_instant(text)).collect())
        }
        Family::Bool => {
            typed("`true` or `false`", &|text| parse_bool(text).is_some())?;
            Test::Bool(texts.iter().filter_map(|text| parse_bool(text)).collect())
        }
        Family::Null => {
            typed("`true` or `false`", &|text| parse_bool(text).is_some())?;
            Test::Null(texts.iter().filter_map(|text| parse_bool(text)).collect())
        }
        Family::Binary => {
            typed("base64", &|text| parse_base64(text).is_some())?;
            Test::Binary(texts.iter().filter_map(|text| parse_base64(text)).collect())
        }
        Family::Ip => {
            typed("an IPv4 or IPv6 address or CIDR block", &|text| parse_ip(text).is_some())?;
            Test::Ip(texts.iter().filter_map(|text| parse_ip(text)).collect())
        }
    };
    Ok(test)
}

/// Unicode case-insensitive equality without allocating.
fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

impl Condition {
    /// [`Self::parse_block_at`] with the path as text (the tests' spelling).
    #[cfg(test)]
    pub(crate) fn parse_block(
        value: &Value,
        version: Version,
        partition: Partition,
        path: &str,
    ) -> Result<Vec<Self>, PolicyError> {
        Self::parse_block_at(value, version, partition, &Path::Root(path))
    }

    /// Parses a whole `Condition` block found at `path` (written out only for an error).
    /// ARN values must name the API's `partition` (or a wildcard).
    pub(crate) fn parse_block_at(
        value: &Value,
        version: Version,
        partition: Partition,
        path: &Path<'_>,
    ) -> Result<Vec<Self>, PolicyError> {
        let block = value.as_object().ok_or_else(|| error_at(path, "expected an object of condition operators"))?;
        let mut conditions = Vec::new();
        for (operator, keys) in block {
            let operator_path = Path::Key(path, operator);
            let (family, negated, if_exists, set) =
                parse_operator(operator).ok_or_else(|| error_at(&operator_path, "unknown operator"))?;
            let keys =
                keys.as_object().ok_or_else(|| error_at(&operator_path, "expected an object of condition keys"))?;
            if keys.is_empty() {
                return Err(error_at(&operator_path, "expected at least one condition key"));
            }
            for (key, values) in keys {
                let key_path = Path::Key(&operator_path, key);
                if key.is_empty() || key.contains("${") {
                    return Err(error_at(&key_path, "not a condition key name"));
                }
                let texts = value_texts(values, &key_path)?;
                let test = parse_test(family, &texts, version, partition, &key_path)?;
                conditions.push(Self {
                    operator: operator.clone(),
                    key: KeyName::new(key),
                    test,
                    negated,
                    if_exists,
                    set,
                });
            }
        }
        Ok(conditions)
    }

    /// The qualifier this condition uses.
    pub fn set_qualifier(&self) -> SetQualifier {
        self.set
    }

    /// Whether it is a `Null` test.
    pub fn is_null_test(&self) -> bool {
        matches!(self.test, Test::Null(_))
    }

    /// The policy variables in its values.
    pub(crate) fn variables(&self) -> Vec<&super::variable::Variable> {
        let mut found = Vec::new();
        match &self.test {
            Test::StringEquals(templates) | Test::StringEqualsIgnoreCase(templates) => {
                for template in templates {
                    if let Template::Variables(pieces) = template {
                        found.extend(super::variable::variables(pieces));
                    }
                }
            }
            Test::StringLike(patterns) => found.extend(patterns.iter().flat_map(Pattern::variables)),
            Test::Arn(values) => {
                for value in values {
                    if let ArnValue::Pattern(arn) = value {
                        found.extend(arn.variables());
                    }
                }
            }
            _ => {}
        }
        found
    }

    /// What the condition holds to for one absent key (for warnings about keys no request carries).
    pub fn when_absent(&self) -> bool {
        match (&self.test, self.set) {
            (Test::Null(expected), _) => expected.iter().any(|absent| *absent),
            (_, SetQualifier::ForAllValues) => true,
            (_, SetQualifier::ForAnyValue) => self.if_exists,
            (_, SetQualifier::Single) => self.if_exists || self.negated,
        }
    }

    /// Whether the condition holds for this request; undecided when the request's values cannot decide it.
    ///
    /// A plain operator meeting a multi-valued key: IAM requires a set operator for such keys and does not say
    /// what a plain one does. Read as `ForAnyValue:`, as `ForAllValues:` or as never matching, the condition is
    /// false whenever no value meets the operator (in its negated form for negated operators), so then it is
    /// false; otherwise the readings disagree and it is undecided (a Deny applies, an Allow does not).
    pub fn evaluate(&self, ctx: &dyn ConditionContext) -> Truth {
        let values = ctx.values(&self.key);
        if let Test::Null(expected) = &self.test {
            return match values {
                None => Truth::from(expected.contains(&true)),
                // Present in some form, but whether as "null" no one can say.
                Some(Values::Unreadable) if !(expected.contains(&true) && expected.contains(&false)) => {
                    Truth::Undecided
                }
                Some(Values::Unreadable) => Truth::True,
                Some(_) => Truth::from(expected.contains(&false)),
            };
        }
        let each = |value: &std::borrow::Cow<'_, str>| {
            let matched = self.matches_any(value, ctx);
            if self.negated {
                !matched
            } else {
                matched
            }
        };
        match (self.set, values) {
            (_, Some(Values::Unreadable)) => Truth::Undecided,
            (SetQualifier::Single, None) => Truth::from(self.if_exists || self.negated),
            (SetQualifier::Single, Some(Values::One(value))) => each(&value),
            (SetQualifier::Single, Some(Values::Many(values))) => {
                if values.iter().all(|value| each(value) == Truth::False) {
                    Truth::False
                } else {
                    Truth::Undecided
                }
            }
            (SetQualifier::ForAnyValue, None) => Truth::from(self.if_exists),
            (SetQualifier::ForAllValues, None) => Truth::True,
            (SetQualifier::ForAnyValue, Some(values)) => Truth::any(values.as_slice().iter().map(each)),
            (SetQualifier::ForAllValues, Some(values)) => Truth::all(values.as_slice().iter().map(each)),
        }
    }

    /// Whether one request value matches any policy value (the positive form of the operator); undecided when the
    /// value cannot be read for the operator's family (`" 9"` for `Numeric*`, `"1"` for `Bool`, a millisecond
    /// timestamp for `Date*`). IAM reads such a value as matching nothing, which makes a negated operator hold and
    /// a positive one fail: either way a Deny whose author expected another shape would not apply.
    fn matches_any(&self, value: &str, ctx: &dyn ConditionContext) -> Truth {
        /// Some policy value compares with the request value, if it can be read.
        fn typed<T>(value: Option<T>, holds: impl Fn(&T) -> bool) -> Truth {
            value.map_or(Truth::Undecided, |value| Truth::from(holds(&value)))
        }
        match &self.test {
            Test::StringEquals(templates) => {
                Truth::any(templates.iter().map(|template| template.test(ctx, |expected| expected == value)))
            }
            Test::StringEqualsIgnoreCase(templates) => Truth::any(
                templates.iter().map(|template| template.test(ctx, |expected| eq_ignore_case(expected, value))),
            ),
            Test::StringLike(patterns) => Truth::any(patterns.iter().map(|pattern| pattern.matches(value, ctx))),
            Test::Numeric(cmp, expected) => {
                typed(Decimal::parse(value), |actual| expected.iter().any(|policy| cmp.holds(actual, policy)))
            }
            Test::Date(cmp, expected) => {
                typed(parse_instant(value), |actual| expected.iter().any(|policy| cmp.holds(actual, policy)))
            }
            Test::Bool(expected) => typed(parse_bool(value), |actual| expected.contains(actual)),
            Test::Binary(expected) => typed(parse_base64(value), |actual| expected.contains(actual)),
            Test::Ip(networks) => typed(value.parse::<IpAddr>().ok(), |ip| {
                networks.iter().any(|network| network.contains(&ip.to_canonical()) || network.contains(ip))
            }),
            Test::Arn(patterns) => {
                let fields = split_arn(value);
                Truth::any(patterns.iter().map(|pattern| match (pattern, fields) {
                    (ArnValue::Any, _) => Truth::True,
                    (ArnValue::Pattern(pattern), Some(fields)) => pattern.matches_fields(&fields, ctx),
                    (ArnValue::Pattern(_), None) => Truth::Undecided,
                }))
            }
            Test::Null(_) => Truth::False,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::policy::context::MapContext;
    use serde_json::json;

    fn holds(block: Value, ctx: &MapContext) -> bool {
        let conditions = Condition::parse_block(&block, Version::V2012_10_17, Partition::Aws, "Condition").unwrap();
        Truth::all(conditions.iter().map(|condition| condition.evaluate(ctx))) == Truth::True
    }

    fn truth(block: &Value, ctx: &dyn ConditionContext) -> Truth {
        let conditions = Condition::parse_block(block, Version::V2012_10_17, Partition::Aws, "Condition").unwrap();
        Truth::all(conditions.iter().map(|condition| condition.evaluate(ctx)))
    }

    fn err(block: Value) -> String {
        Condition::parse_block(&block, Version::V2012_10_17, Partition::Aws, "Condition").unwrap_err().to_string()
    }

    #[test]
    fn missing_keys_negation_and_if_exists() {
        let empty = MapContext::new();
        assert!(!holds(json!({"StringEquals": {"k": "a"}}), &empty));
        assert!(holds(json!({"StringNotEquals": {"k": "a"}}), &empty));
        assert!(holds(json!({"StringEqualsIfExists": {"k": "a"}}), &empty));
        assert!(holds(json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), &empty));
        assert!(!holds(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), &empty));
        assert!(holds(json!({"Null": {"k": "true"}}), &empty));
        assert!(!holds(json!({"Null": {"k": "false"}}), &empty));
        let present = MapContext::new().with("K", "b");
        assert!(holds(json!({"Null": {"k": "false"}}), &present));
        assert!(holds(json!({"StringNotEquals": {"k": ["a", "c"]}}), &present));
        assert!(!holds(json!({"StringNotEquals": {"k": ["a", "b"]}}), &present));
        assert!(holds(json!({"StringEquals": {"k": ["a", "b"]}}), &present));
    }

    #[test]
    fn set_qualifiers() {
        let groups = MapContext::new().with_list("g", &["a", "b"]);
        let empty = MapContext::new();
        assert!(!holds(json!({"StringEquals": {"g": "a"}}), &groups));
        assert!(!holds(json!({"StringNotEquals": {"g": "z"}}), &groups));
        assert!(holds(json!({"ForAnyValue:StringEquals": {"g": "a"}}), &groups));
        assert!(!holds(json!({"ForAllValues:StringEquals": {"g": "a"}}), &groups));
        assert!(holds(json!({"ForAllValues:StringEquals": {"g": ["a", "b", "c"]}}), &groups));
        assert!(!holds(json!({"ForAnyValue:StringEquals": {"g": "a"}}), &empty));
        assert!(holds(json!({"ForAllValues:StringEquals": {"g": "a"}}), &empty));
        assert!(holds(json!({"ForAnyValue:StringEqualsIfExists": {"g": "a"}}), &empty));
        assert!(holds(json!({"ForAnyValue:StringNotEquals": {"g": "a"}}), &groups));
        assert!(!holds(json!({"ForAllValues:StringNotEquals": {"g": "a"}}), &groups));
        assert!(holds(json!({"ForAllValues:StringNotLike": {"g": "x*"}}), &groups));
    }

    /// IAM requires a set operator for multi-valued keys and leaves a plain one undefined: it is false when no
    /// value meets it (under every reading), else undecided. Unreadable values decide nothing.
    #[test]
    fn plain_operators_on_lists_unreadable_values_and_variables() {
        use Truth::{False, True, Undecided};
        let groups = MapContext::new().with_list("g", &["a", "b"]).with("u", "a");
        assert_eq!(truth(&json!({"StringEquals": {"g": "a"}}), &groups), Undecided);
        assert_eq!(truth(&json!({"StringEquals": {"g": "z"}}), &groups), False);
        assert_eq!(truth(&json!({"StringNotEquals": {"g": "z"}}), &groups), Undecided);
        assert_eq!(truth(&json!({"StringNotEquals": {"g": ["a", "b"]}}), &groups), False);
        assert_eq!(truth(&json!({"StringLikeIfExists": {"g": "?"}}), &groups), Undecided);
        // `a` and `b` are no numbers: which values meet the operator cannot be told.
        assert_eq!(truth(&json!({"NumericLessThan": {"g": "5"}}), &groups), Undecided);
        assert_eq!(
            truth(&json!({"NumericLessThan": {"g": "5"}}), &MapContext::new().with_list("g", &["7", "9"])),
            False
        );
        assert_eq!(truth(&json!({"NumericNotEquals": {"g": "5"}}), &groups), Undecided);
        assert_eq!(truth(&json!({"Null": {"g": "false"}}), &groups), True);
        assert_eq!(truth(&json!({"Null": {"g": "true"}}), &groups), False);
        assert_eq!(truth(&json!({"ForAnyValue:StringEquals": {"g": "a"}}), &groups), True);
        assert_eq!(truth(&json!({"ForAllValues:StringEquals": {"g": "a"}}), &groups), False);
        // One element is still a list.
        assert_eq!(truth(&json!({"StringEquals": {"g": "a"}}), &MapContext::new().with_list("g", &["a"])), Undecided);
        // Kleene AND across keys and operators: a false condition rules the block out.
        assert_eq!(truth(&json!({"StringEquals": {"g": "a", "u": "z"}}), &groups), False);
        assert_eq!(truth(&json!({"StringEquals": {"g": "a", "u": "a"}}), &groups), Undecided);
        assert_eq!(truth(&json!({"StringEquals": {"g": "a"}, "Null": {"missing": "false"}}), &groups), False);
        // Variables naming a list: no text, no default, undecided; a pattern no text could make match is false.
        assert_eq!(truth(&json!({"StringEquals": {"u": "${g}"}}), &groups), Undecided);
        assert_eq!(truth(&json!({"StringNotEquals": {"u": "${g, 'x'}"}}), &groups), Undecided);
        assert_eq!(truth(&json!({"StringLike": {"u": "x-${g}"}}), &groups), False);
        assert_eq!(truth(&json!({"StringLike": {"u": "${g}"}}), &groups), Undecided);
        assert_eq!(truth(&json!({"StringEquals": {"u": "${missing}${g}"}}), &groups), False);
        assert_eq!(
            truth(&json!({"ArnLike": {"arn": "arn:aws:s3:::${g}"}}), &groups.clone().with("arn", "arn:aws:s3:::a")),
            Undecided
        );

        struct Unreadable;
        impl ConditionContext for Unreadable {
            fn values(&self, _key: &KeyName) -> Option<Values<'_>> {
                Some(Values::Unreadable)
            }
        }
        for block in [
            json!({"StringEquals": {"k": "a"}}),
            json!({"StringNotEquals": {"k": "a"}}),
            json!({"StringNotEqualsIfExists": {"k": "a"}}),
            json!({"ForAnyValue:StringEquals": {"k": "a"}}),
            json!({"ForAllValues:StringEquals": {"k": "a"}}),
            json!({"ForAllValues:StringNotLike": {"k": "*"}}),
            json!({"Null": {"k": "true"}}),
            json!({"Null": {"k": "false"}}),
            json!({"StringEquals": {"x": "${k, 'a'}"}}),
        ] {
            assert_eq!(truth(&block, &Unreadable), Undecided, "{block}");
        }
        assert_eq!(truth(&json!({"Null": {"k": ["true", "false"]}}), &Unreadable), True);
    }

    #[test]
    fn typed_families() {
        let ctx = MapContext::new()
            .with("n", "10.50")
            .with("t", "2025-06-01T12:00:00Z")
            .with("b", "TRUE")
            .with("ip", "2001:db8::1")
            .with("ip4", "::ffff:192.0.2.7")
            .with("bin", "aGVsbG8=")
            .with("arn", "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/x");
        assert!(holds(json!({"NumericEquals": {"n": "10.5"}}), &ctx));
        assert!(holds(json!({"NumericLessThan": {"n": 11}}), &ctx));
        assert!(!holds(json!({"NumericGreaterThan": {"n": 10.5}}), &ctx));
        assert!(holds(json!({"NumericGreaterThanEquals": {"n": "10.5"}, "NumericNotEquals": {"n": "3"}}), &ctx));
        assert!(holds(json!({"DateGreaterThan": {"t": "2025-01-01"}}), &ctx));
        assert!(holds(json!({"DateLessThan": {"t": 1767225600}}), &ctx));
        assert!(holds(json!({"DateEquals": {"t": "2025-06-01T14:00:00+02:00"}}), &ctx));
        assert!(holds(json!({"Bool": {"b": true}}), &ctx));
        assert!(holds(json!({"IpAddress": {"ip": "2001:db8::/32", "ip4": "192.0.2.0/24"}}), &ctx));
        assert!(holds(json!({"NotIpAddress": {"ip": "2001:db9::/32"}}), &ctx));
        assert!(holds(json!({"IpAddress": {"ip": "2001:db8::1"}}), &ctx));
        assert!(holds(json!({"BinaryEquals": {"bin": "aGVsbG8="}}), &ctx));
        assert!(holds(json!({"ArnLike": {"arn": "arn:aws:execute-api:*:*:api/*/GET/*"}}), &ctx));
        assert!(holds(json!({"ArnEquals": {"arn": "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/x"}}), &ctx));
        assert!(!holds(json!({"ArnLike": {"arn": "arn:aws:execute-api:*:*:api/*/POST/*"}}), &ctx));
        assert!(holds(json!({"ArnNotLike": {"arn": "arn:aws:s3:::*"}}), &ctx));
        assert!(holds(json!({"NumericEquals": {"n": "1.05e1"}}), &ctx));
        assert!(holds(json!({"NumericLessThan": {"n": 1e3}}), &ctx));
    }

    /// SECURITY.md, "Policies on doubtful input": a present value that cannot be read for the operator's family
    /// decides nothing, for negated operators too, so a Deny applies and an Allow does not. IAM would read it as
    /// matching no policy value (and a negated operator as holding).
    #[test]
    fn values_unreadable_for_the_family_are_undecided() {
        use Truth::{False, True, Undecided};
        let one = |key: &str, value: &str| MapContext::new().with(key, value);
        let cases: [(Value, &str, Truth); 40] = [
            (json!({"NumericGreaterThan": {"k": "5"}}), "9", True),
            (json!({"NumericGreaterThan": {"k": "5"}}), "1E+21", True),
            (json!({"NumericGreaterThan": {"k": "5"}}), "1e21", True),
            (json!({"NumericGreaterThan": {"k": "5"}}), "9.0e0", True),
            (json!({"NumericGreaterThan": {"k": "5"}}), "+9", True),
            (json!({"NumericGreaterThan": {"k": "5"}}), "-0.0", False),
            (json!({"NumericGreaterThan": {"k": "5"}}), " 9", Undecided),
            (json!({"NumericGreaterThan": {"k": "5"}}), "0x10", Undecided),
            (json!({"NumericGreaterThan": {"k": "5"}}), "NaN", Undecided),
            (json!({"NumericGreaterThan": {"k": "5"}}), "", Undecided),
            (json!({"NumericNotEquals": {"k": "5"}}), "five", Undecided),
            (json!({"NumericNotEqualsIfExists": {"k": "5"}}), "five", Undecided),
            (json!({"NumericLessThan": {"k": "5"}}), "1e9999", Undecided),
            (json!({"Bool": {"k": "true"}}), "TRUE", True),
            (json!({"Bool": {"k": "true"}}), "false", False),
            (json!({"Bool": {"k": "true"}}), "1", Undecided),
            (json!({"Bool": {"k": "true"}}), "yes", Undecided),
            (json!({"BoolIfExists": {"k": "false"}}), "0", Undecided),
            (json!({"DateLessThan": {"k": "2020-01-01T00:00:00Z"}}), "2001-01-01", True),
            (json!({"DateLessThan": {"k": "2020-01-01T00:00:00Z"}}), "978307200", True),
            (json!({"DateLessThan": {"k": "2020-01-01T00:00:00Z"}}), "9.783072E8", True),
            (json!({"DateLessThan": {"k": "2020-01-01T00:00:00Z"}}), "978307200000", Undecided),
            (json!({"DateLessThan": {"k": "2020-01-01T00:00:00Z"}}), "2001-01-01 00:00:00", Undecided),
            (json!({"DateLessThan": {"k": "2020-01-01T00:00:00Z"}}), "01/01/2001", Undecided),
            (json!({"DateNotEquals": {"k": "2020-01-01T00:00:00Z"}}), "tomorrow", Undecided),
            (json!({"BinaryEquals": {"k": "aGVsbG8="}}), "aGVsbG8", True),
            (json!({"BinaryEquals": {"k": "aGVsbG8="}}), "not base64!", Undecided),
            (json!({"IpAddress": {"k": "10.0.0.0/8"}}), "10.1.2.3", True),
            (json!({"IpAddress": {"k": "10.0.0.0/8"}}), "10.1.2.3:80", Undecided),
            (json!({"NotIpAddress": {"k": "10.0.0.0/8"}}), "10.1", Undecided),
            (json!({"NotIpAddress": {"k": "10.0.0.0/8"}}), "192.0.2.1", True),
            (json!({"ArnLike": {"k": "arn:aws:iam::*:role/x"}}), "arn:aws:iam::123456789012:role/x", True),
            (json!({"ArnLike": {"k": "arn:aws:iam::*:role/x"}}), "not-an-arn", Undecided),
            (json!({"ArnNotLike": {"k": "arn:aws:iam::*:role/x"}}), "role/x", Undecided),
            // `*` takes any value, an ARN or not.
            (json!({"ArnLike": {"k": ["arn:aws:iam::*:role/x", "*"]}}), "not-an-arn", True),
            (json!({"ArnNotLike": {"k": "*"}}), "not-an-arn", False),
            // A certainly false condition still rules the block out.
            (json!({"NumericGreaterThan": {"k": "5"}, "StringEquals": {"k": "x"}}), " 9", False),
            // Strings read everything.
            (json!({"StringNotEquals": {"k": "5"}}), " 9", True),
            (json!({"NullIfExists": {"k": "true"}}), "", Undecided),
            (json!({"Null": {"k": "false"}}), "0x10", True),
        ];
        for (block, value, expected) in cases {
            let conditions = match Condition::parse_block(&block, Version::V2012_10_17, Partition::Aws, "C") {
                Ok(conditions) => conditions,
                // `NullIfExists` is no operator: the case only keeps the table honest about `Null`.
                Err(_) => continue,
            };
            let actual = Truth::all(conditions.iter().map(|condition| condition.evaluate(&one("k", value))));
            assert_eq!(actual, expected, "{block} on {value:?}");
        }
        // Lists: some value unreadable, none meeting the operator, under every qualifier.
        let list = MapContext::new().with_list("k", &["1", "abc"]);
        assert_eq!(truth(&json!({"NumericGreaterThan": {"k": "5"}}), &list), Undecided);
        assert_eq!(truth(&json!({"ForAnyValue:NumericGreaterThan": {"k": "5"}}), &list), Undecided);
        assert_eq!(truth(&json!({"ForAnyValue:NumericLessThan": {"k": "5"}}), &list), True);
        assert_eq!(truth(&json!({"ForAllValues:NumericLessThan": {"k": "5"}}), &list), Undecided);
        assert_eq!(truth(&json!({"ForAllValues:NumericGreaterThan": {"k": "5"}}), &list), False);
    }

    #[test]
    fn string_families_and_variables() {
        let ctx = MapContext::new().with("aws:username", "Alice").with("p", "home/Alice/docs").with("star", "a*b");
        assert!(holds(json!({"StringEqualsIgnoreCase": {"aws:username": "alice"}}), &ctx));
        assert!(!holds(json!({"StringEquals": {"aws:username": "alice"}}), &ctx));
        assert!(holds(json!({"StringLike": {"p": "home/${aws:username}/*"}}), &ctx));
        assert!(!holds(json!({"StringLike": {"p": "home/${aws:nobody}/*"}}), &ctx));
        assert!(holds(json!({"StringNotLike": {"p": "home/${aws:nobody}/*"}}), &ctx));
        assert!(holds(json!({"StringLike": {"p": "home/${aws:nobody, 'Alice'}/*"}}), &ctx));
        assert!(holds(json!({"StringEquals": {"star": "a${*}b"}}), &ctx));
        assert!(holds(json!({"StringLike": {"star": "a${*}b"}}), &ctx));
        assert!(!holds(json!({"StringLike": {"star": "a${*}c"}}), &MapContext::new().with("star", "abbc")));
        let legacy = Condition::parse_block(
            &json!({"StringEquals": {"p": "${aws:username}"}}),
            Version::V2008_10_17,
            Partition::Aws,
            "C",
        )
        .unwrap();
        assert_eq!(legacy[0].evaluate(&MapContext::new().with("p", "${aws:username}")), Truth::True);
    }

    #[test]
    fn validation_names_the_path() {
        assert_eq!(err(json!({"IpAdress": {"aws:SourceIp": "1.2.3.4"}})), "Condition.IpAdress: unknown operator");
        assert_eq!(err(json!({"NullIfExists": {"k": "true"}})), "Condition.NullIfExists: unknown operator");
        assert_eq!(
            err(json!({"IpAddress": {"aws:SourceIp": ["1.2.3.4", "1.2.3.400"]}})),
            "Condition.IpAddress.aws:SourceIp[1]: `1.2.3.400` is not an IPv4 or IPv6 address or CIDR block"
        );
        assert_eq!(
            err(json!({"NumericLessThan": {"n": "${aws:EpochTime}"}})),
            "Condition.NumericLessThan.n: policy variables are allowed only in string and ARN conditions"
        );
        assert_eq!(err(json!({"StringEquals": {"k": []}})), "Condition.StringEquals.k: expected at least one value");
        assert_eq!(
            err(json!({"StringEquals": {"k": {"a": 1}}})),
            "Condition.StringEquals.k: expected a string, number or boolean"
        );
        assert_eq!(err(json!({"StringEquals": []})), "Condition.StringEquals: expected an object of condition keys");
        assert_eq!(
            err(json!({"ArnLike": {"k": "arn:aws:s3"}})),
            "Condition.ArnLike.k: `arn:aws:s3` is not an ARN (`arn:partition:service:region:account:resource`)"
        );
        assert_eq!(
            err(json!({"DateLessThan": {"k": "tomorrow"}})),
            "Condition.DateLessThan.k: `tomorrow` is not an ISO 8601 date or epoch seconds"
        );
        assert_eq!(err(json!({"Bool": {"k": "yes"}})), "Condition.Bool.k: `yes` is not `true` or `false`");
        assert_eq!(
            err(json!({"StringLike": {"k": "${oops"}})),
            "Condition.StringLike.k: unterminated policy variable (`${` without `}`)"
        );
    }
}
