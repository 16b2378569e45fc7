//! Warnings for valid statements that can never do anything for an execute-api request (a wrong service, an
//! `ANY` method, a key no request carries): loading succeeds, and adapters log these.

use super::condition::SetQualifier;
use super::context::KeyKind;
use super::document::{Located, ResourcePattern};
use super::error::{warning, PolicyWarning};
use super::pattern::{can_match_prefix, match_tokens, ArnPattern, Tok};
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
        if !match_tokens(&field.widened(), value) {
            return Some(format!("its {what} never matches `{value}`"));
        }
    }
    let resource = pattern.resource.widened();
    let base = format!("{}/{}/", api.api_id, api.stage);
    if !can_match_prefix(&resource, &base) {
        return Some(format!("its resource part never starts `{base}` (`api-id/stage/METHOD/path`)"));
    }
    if !METHODS.iter().any(|method| can_match_prefix(&resource, &format!("{base}{method}/"))) {
        return Some(
            "no method fits: the ARN holds the request's verb in upper case (GET, POST, PUT, DELETE, PATCH, HEAD, \
             OPTIONS), never `ANY`"
                .to_owned(),
        );
    }
    None
}

/// A literal third segment of the resource part (`api/stage/METHOD/...`) that is no verb: with `*` crossing `/`
/// such a pattern can still match (a path containing `/dev/ANY/`), but never the way its author meant.
fn method_segment(pattern: &ArnPattern) -> Option<String> {
    let text: String = pattern
        .resource
        .widened()
        .into_iter()
        .map(|tok| match tok {
            Tok::Char(c) => c,
            Tok::One => '?',
            Tok::Star => '*',
        })
        .collect();
    let method = text.split('/').nth(2)?;
    if method.contains(['*', '?']) || METHODS.contains(&method) {
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

fn lint_variable(variable: &Variable, path: &str, warnings: &mut Vec<PolicyWarning>) {
    let key = variable.key.as_str();
    if MULTI_VALUED.contains(&variable.key.lower()) {
        // A default does not help: the key is present, as a list.
        warnings.push(warning(
            path,
            format!(
                "variable `${{{key}}}` names a multi-valued key, which never substitutes (nor does its default): \
                 wherever it holds a list the statement cannot be decided (an Allow does not apply, a Deny does)"
            ),
        ));
    } else if variable.default.is_none() && never_present(variable.key.kind()) {
        warnings.push(warning(path, format!("variable `${{{key}}}` is never set in this authorizer's requests and has no default, so it matches nothing")));
    }
}

/// Appends warnings for `located` statements. With an `api` (a configured store) also checks resources against
/// that API and condition keys against the keys requests carry; without (a standalone document) only the action.
pub(crate) fn lint(located: &Located<'_>, api: Option<&ApiTarget>, warnings: &mut Vec<PolicyWarning>) {
    for (statement, path) in located {
        if !statement.action.invoke {
            let element = if statement.action.negated { "NotAction" } else { "Action" };
            warnings.push(warning(
                &format!("{path}.{element}"),
                "does not apply to `execute-api:Invoke`: the statement never matches an execute-api request",
            ));
        }
        let Some(api) = api else { continue };
        let resource = &statement.resource;
        let listed = resource.patterns.len() > 1;
        for (index, (pattern, written)) in resource.patterns.iter().enumerate() {
            let item_path =
                if listed { format!("{path}.{}[{index}]", resource.element()) } else { format!("{path}.{}", resource.element()) };
            match pattern {
                ResourcePattern::Any if resource.negated => warnings.push(warning(
                    &item_path,
                    "`*` excludes every resource: the statement never matches a request",
                )),
                ResourcePattern::Any => {}
                ResourcePattern::Arn(arn) => {
                    for variable in arn.variables() {
                        lint_variable(variable, &item_path, warnings);
                    }
                    if resource.negated {
                        continue;
                    }
                    if let Some(reason) = api_mismatch(arn, api) {
                        warnings.push(warning(&item_path, format!("`{written}` never matches a request to this API: {reason}")));
                    } else if let Some(reason) = method_segment(arn) {
                        warnings.push(warning(&item_path, format!("`{written}`: {reason}")));
                    }
                }
            }
        }
        for condition in &statement.conditions {
            let condition_path = format!("{path}.Condition.{}.{}", condition.operator, condition.key.as_str());
            for variable in condition.variables() {
                lint_variable(variable, &condition_path, warnings);
            }
            if never_present(condition.key.kind()) {
                let outcome = if condition.when_absent() {
                    "always true"
                } else {
                    "always false, so the statement never applies"
                };
                warnings.push(warning(
                    &condition_path,
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
                    &condition_path,
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
