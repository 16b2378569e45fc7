//! `authz import dynamodb`: the output of `aws dynamodb scan` (DynamoDB's typed JSON) as a `policies` section,
//! one document per item, as a Lambda authorizer reading policies per Cognito group from a table keeps them.

use super::document;
use crate::Finished;
use anyhow::{anyhow, bail};
use clap::{Args, ValueEnum};
use serde_json::{Map, Number, Value};
use std::io::Write as _;
use std::path::PathBuf;

const DYNAMODB_HELP: &str =
    "SCAN is what `aws dynamodb scan --table-name TABLE --output json` prints: {\"Items\": [...], \
\"Count\": N, ...}, each item in DynamoDB's typed JSON (S, N, BOOL, NULL, M, L, SS, NS). Each item gives one \
document: its --key attribute (a string) names the group, app client or user; its --policy attribute holds the IAM \
policy document, as a map (M) or as a JSON string (S), or a list of documents. Prints the `policies` section: \
{\"groups\": {NAME: DOCUMENT, ...}}; put its members under `policies` in the configuration (or pass the file to \
`authz import apigateway --policies`).

Every document is checked as the configuration loader checks it. Items that cannot be read (no key, a key that is \
not a string, a name listed twice, no policy, a policy that is not a valid document) are reported with their key \
and nothing is printed; a scan that stopped early (LastEvaluatedKey, NextToken) is refused.

Example (a table keyed by `group` with a `policy` map, as a Lambda authorizer's policy table):
  aws dynamodb scan --table-name GroupPolicies --output json > scan.json
  authz import dynamodb scan.json --as groups --key group --policy policy > policies.json";

/// Which principals the table's items are the policies of.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Principals {
    Groups,
    Clients,
    Users,
}

/// Turn a DynamoDB scan of policies per group, app client or user into a `policies` section.
#[derive(Debug, Args)]
#[command(after_help = DYNAMODB_HELP)]
pub struct DynamodbArgs {
    /// The scan output (JSON).
    #[arg(value_name = "SCAN")]
    scan: PathBuf,
    /// Whose policies the items are: Cognito groups, app clients or users (usernames).
    #[arg(long = "as", value_enum, value_name = "KIND")]
    principals: Principals,
    /// The attribute naming the group, client or user (the table's partition key), e.g. `group`.
    #[arg(long, value_name = "ATTR")]
    key: String,
    /// The attribute holding the policy document, e.g. `policy`.
    #[arg(long, value_name = "ATTR")]
    policy: String,
    /// The API's region: policy ARNs must name its partition (`aws-cn` for `cn-*` regions).
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    region: String,
}

/// Runs the command.
pub fn run(args: &DynamodbArgs) -> anyhow::Result<Finished> {
    let scan = document::read(&args.scan)?;
    let section = policies(&scan, args)?;
    let name = match args.principals {
        Principals::Groups => "groups",
        Principals::Clients => "clients",
        Principals::Users => "users",
    };
    if section.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "authz import: the scan holds no items: every principal of this kind gets no policy"
        );
    }
    let mut out = Map::new();
    out.insert(name.to_owned(), Value::Object(section));
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string_pretty(&Value::Object(out))?)?;
    Ok(Finished::Clean)
}

/// Every item's document by name, or every problem found.
fn policies(scan: &Value, args: &DynamodbArgs) -> anyhow::Result<Map<String, Value>> {
    let Some(scan) = scan.as_object() else { bail!("the scan is not a JSON object ({{\"Items\": [...]}})") };
    for unfinished in ["LastEvaluatedKey", "NextToken"] {
        if scan.get(unfinished).is_some_and(|value| !value.is_null()) {
            bail!("the scan stopped early (`{unfinished}`): scan the whole table, without --max-items or --limit");
        }
    }
    let Some(Value::Array(items)) = scan.get("Items") else { bail!("the scan has no `Items` list") };
    if let Some(count) = scan.get("Count").and_then(Value::as_u64) {
        if usize::try_from(count).ok() != Some(items.len()) {
            bail!("the scan says `Count` {count} but holds {} items: the file is cut short", items.len());
        }
    }
    let api = authz::request::ApiTarget {
        partition: authz::request::Partition::of_region(&args.region)
            .ok_or_else(|| anyhow!("`{}` is in no partition this authorizer knows", args.region))?,
        region: args.region.clone(),
        account_id: String::new(),
        api_id: String::new(),
        stage: String::new(),
    };
    let mut problems = Vec::new();
    let mut found: Map<String, Value> = Map::new();
    let mut first_index: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        let at = format!("Items[{index}]");
        let Some(item) = item.as_object() else {
            problems.push(format!("{at}: not an item (a map of attributes)"));
            continue;
        };
        let name = match item.get(&args.key).map(|value| typed(value, &format!("{at}.{}", args.key))) {
            None => {
                problems.push(format!("{at}: no `{}` attribute", args.key));
                continue;
            }
            Some(Err(err)) => {
                problems.push(err);
                continue;
            }
            Some(Ok(Value::String(name))) => name,
            Some(Ok(_)) => {
                problems.push(format!("{at}.{}: not a string (S)", args.key));
                continue;
            }
        };
        let who = format!("item `{name}` ({at})");
        if let Some(earlier) = first_index.get(&name) {
            problems.push(format!("{who}: `{name}` is also the key of Items[{earlier}]"));
            continue;
        }
        first_index.insert(name.clone(), index);
        let document = match item.get(&args.policy).map(|value| typed(value, &format!("{at}.{}", args.policy))) {
            None => {
                problems.push(format!("{who}: no `{}` attribute", args.policy));
                continue;
            }
            Some(Err(err)) => {
                problems.push(format!("{who}: {err}"));
                continue;
            }
            Some(Ok(Value::String(text))) => {
                // A JSON string, as a Lambda authorizer would `JSON.parse` it: strictly, duplicate names refused.
                let json = text.trim_start().starts_with(['{', '[']);
                match document::parse(text.as_bytes()) {
                    Ok(value) if json => value,
                    Ok(_) => {
                        problems.push(format!("{who}: `{}` is a string that is not a JSON document", args.policy));
                        continue;
                    }
                    Err(err) => {
                        problems.push(format!("{who}: `{}`: {err}", args.policy));
                        continue;
                    }
                }
            }
            Some(Ok(value @ (Value::Object(_) | Value::Array(_)))) => value,
            Some(Ok(_)) => {
                problems.push(format!("{who}: `{}` is not a map, a list or a JSON string", args.policy));
                continue;
            }
        };
        match authz::policy::StandalonePolicy::compile(&document, &api) {
            Ok(compiled) => {
                for warning in compiled.warnings() {
                    let _ = writeln!(std::io::stderr(), "authz import: warning: {who}: {warning}");
                }
                found.insert(name, document);
            }
            Err(err) => problems.push(format!("{who}: {err}")),
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} of {} items cannot be imported, nothing printed:\n  {}",
            problems.len(),
            items.len(),
            problems.join("\n  ")
        );
    }
    Ok(found)
}

/// One attribute value in DynamoDB's typed JSON as plain JSON.
fn typed(value: &Value, at: &str) -> Result<Value, String> {
    let members = value.as_object().filter(|members| members.len() == 1);
    let Some((kind, inner)) = members.and_then(|members| members.iter().next()) else {
        return Err(format!("{at}: not a typed value (one of S, N, BOOL, NULL, M, L, SS, NS)"));
    };
    let wrong = || format!("{at}.{kind}: not a valid `{kind}` value");
    match (kind.as_str(), inner) {
        ("S", Value::String(text)) => Ok(Value::String(text.clone())),
        ("N", Value::String(text)) => number(text).ok_or_else(wrong),
        ("BOOL", Value::Bool(flag)) => Ok(Value::Bool(*flag)),
        ("NULL", Value::Bool(true)) => Ok(Value::Null),
        ("M", Value::Object(members)) => members
            .iter()
            .map(|(name, item)| Ok((name.clone(), typed(item, &document::member(&format!("{at}.M"), name))?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        ("L", Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| typed(item, &format!("{at}.L[{index}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        ("SS", Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(Value::from).ok_or_else(wrong))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        ("NS", Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().and_then(number).ok_or_else(wrong))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        ("B" | "BS", _) => Err(format!("{at}.{kind}: binary values hold no policy text")),
        _ => Err(wrong()),
    }
}

/// A DynamoDB number (a decimal string) as a JSON number.
fn number(text: &str) -> Option<Value> {
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Value::from(integer));
    }
    if let Ok(integer) = text.parse::<u64>() {
        return Some(Value::from(integer));
    }
    text.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn args() -> DynamodbArgs {
        DynamodbArgs {
            scan: PathBuf::new(),
            principals: Principals::Groups,
            key: "group".into(),
            policy: "policy".into(),
            region: "us-east-1".into(),
        }
    }

    fn statement(sid: &str) -> Value {
        json!({"M": {"Sid": {"S": sid}, "Effect": {"S": "Allow"}, "Action": {"S": "execute-api:Invoke"},
                     "Resource": {"L": [{"S": "arn:aws:execute-api:*:*:*/*/GET/pets/*"}]}}})
    }

    #[test]
    fn typed_values_read_as_plain_json() {
        let value = json!({"M": {"s": {"S": "x"}, "n": {"N": "1.5"}, "i": {"N": "-7"}, "b": {"BOOL": true}, "z": {"NULL": true},
            "l": {"L": [{"S": "a"}, {"N": "2"}]}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}}});
        assert_eq!(
            typed(&value, "v").unwrap(),
            json!({"s": "x", "n": 1.5, "i": -7, "b": true, "z": null, "l": ["a", 2], "ss": ["a", "b"], "ns": [1, 2.5]})
        );
        for bad in [
            json!({"S": 1}),
            json!({"N": "x"}),
            json!({"S": "a", "N": "1"}),
            json!({"B": "AA=="}),
            json!({"NULL": false}),
            json!("a"),
        ] {
            assert!(typed(&bad, "v").is_err(), "{bad}");
        }
    }

    #[test]
    fn maps_and_json_strings_become_documents() {
        let scan = json!({"Items": [
            {"group": {"S": "vets"}, "policy": {"M": {"Version": {"S": "2012-10-17"}, "Statement": {"L": [statement("Vets")]}}}},
            {"group": {"S": "staff"}, "policy": {"S": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Deny\", \"Action\": \"execute-api:Invoke\", \"Resource\": \"*\"}]}"}}
        ], "Count": 2, "ScannedCount": 2, "ConsumedCapacity": null});
        let section = policies(&scan, &args()).unwrap();
        assert_eq!(section["vets"]["Statement"][0]["Sid"], "Vets");
        assert_eq!(section["staff"]["Statement"][0]["Effect"], "Deny");
    }

    #[test]
    fn every_bad_item_is_reported_with_its_key() {
        let scan = json!({"Items": [
            {"group": {"S": "ok"}, "policy": {"M": {"Version": {"S": "2012-10-17"}, "Statement": {"L": [statement("Ok")]}}}},
            {"policy": {"M": {}}},
            {"group": {"N": "1"}, "policy": {"M": {}}},
            {"group": {"S": "nopolicy"}},
            {"group": {"S": "bad-effect"}, "policy": {"M": {"Version": {"S": "2012-10-17"}, "Statement": {"L": [
                {"M": {"Effect": {"S": "Allw"}, "Action": {"S": "execute-api:Invoke"}, "Resource": {"S": "*"}}}]}}}},
            {"group": {"S": "dup-json"}, "policy": {"S": "{\"Version\": \"2012-10-17\", \"Statement\": [], \"Statement\": []}"}},
            {"group": {"S": "ok"}, "policy": {"M": {}}}
        ]});
        let err = policies(&scan, &args()).unwrap_err().to_string();
        assert!(err.starts_with("6 of 7 items cannot be imported"), "{err}");
        for expected in [
            "Items[1]: no `group` attribute",
            "Items[2].group: not a string (S)",
            "item `nopolicy` (Items[3]): no `policy` attribute",
            "item `bad-effect` (Items[4]): policy.Statement[0].Effect",
            "item `dup-json` (Items[5]): `policy`: .: duplicate member name `Statement`",
            "item `ok` (Items[6]): `ok` is also the key of Items[0]",
        ] {
            assert!(err.contains(expected), "{expected}\n{err}");
        }
    }

    #[test]
    fn an_unfinished_or_cut_scan_is_refused() {
        let err = policies(&json!({"Items": [], "LastEvaluatedKey": {"group": {"S": "x"}}}), &args()).unwrap_err();
        assert!(err.to_string().contains("stopped early"), "{err}");
        let err = policies(&json!({"Items": [], "Count": 3}), &args()).unwrap_err();
        assert!(err.to_string().contains("cut short"), "{err}");
    }
}
