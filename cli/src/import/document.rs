//! Reading the documents an import starts from (API Gateway exports, DynamoDB scans, JWKS files) as JSON values:
//! JSON or YAML, with a member name written twice in one object refused and named by its path, as the
//! configuration loader refuses it (`authz::json::check_unique_names`). A lenient reader keeps one copy silently,
//! so `security` written twice could read as open to one tool and secured to another.

use anyhow::{anyhow, Context as _};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;
use std::path::Path;

/// Largest document read: exports of large APIs run to a few MB.
const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads `path` as JSON (when its first non-blank byte opens an object or array) or YAML.
pub fn read(path: &Path) -> anyhow::Result<Value> {
    let size = std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?.len();
    if size > MAX_DOCUMENT_BYTES {
        return Err(anyhow!("`{}` is {size} bytes, over {MAX_DOCUMENT_BYTES}", path.display()));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    parse(&bytes).with_context(|| format!("`{}`", path.display()))
}

/// Parses JSON or YAML text into a value, refusing duplicate member names.
pub fn parse(bytes: &[u8]) -> anyhow::Result<Value> {
    let walk = Walk::default();
    let json = bytes.iter().find(|byte| !byte.is_ascii_whitespace()).is_some_and(|byte| matches!(byte, b'{' | b'['));
    let result = if json {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        StrictSeed { walk: &walk }
            .deserialize(&mut de)
            .and_then(|value| de.end().map(|()| value))
            .map_err(|err| err.to_string())
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("YAML must be UTF-8"))?;
        StrictSeed { walk: &walk }.deserialize(yaml_serde::Deserializer::from_str(text)).map_err(|err| err.to_string())
    };
    match (result, walk.duplicate.into_inner()) {
        (_, Some((path, name))) => Err(anyhow!("{path}: duplicate member name `{name}`")),
        (Err(err), None) => Err(anyhow!("not valid {}: {err}", if json { "JSON" } else { "YAML" })),
        (Ok(value), None) => Ok(value),
    }
}

/// `path` followed by member `name`, in the notation of errors: `paths["/pets/{id}"].get.security[0]`.
pub fn member(path: &str, name: &str) -> String {
    format!("{path}{}", step(name)).trim_start_matches('.').to_owned()
}

/// One member step: `.name` for names of letters, digits, `_`, `-` and `:`, `["..."]` for others.
fn step(name: &str) -> String {
    let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
    if plain {
        format!(".{name}")
    } else {
        format!("[{}]", Value::from(name))
    }
}

#[derive(Default)]
struct Walk {
    path: RefCell<Vec<String>>,
    duplicate: RefCell<Option<(String, String)>>,
}

impl Walk {
    fn render(&self) -> String {
        let path = self.path.borrow();
        if path.is_empty() {
            ".".to_owned()
        } else {
            path.concat().trim_start_matches('.').to_owned()
        }
    }
}

#[derive(Clone, Copy)]
struct StrictSeed<'w> {
    walk: &'w Walk,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.walk.path.borrow_mut().push(format!("[{}]", items.len()));
            let item = seq.next_element_seed(self);
            self.walk.path.borrow_mut().pop();
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key_seed(KeySeed)? {
            if map.contains_key(&name) {
                let message = format!("duplicate member name `{name}`");
                *self.walk.duplicate.borrow_mut() = Some((self.walk.render(), name));
                return Err(de::Error::custom(message));
            }
            self.walk.path.borrow_mut().push(step(&name));
            let value = access.next_value_seed(self);
            self.walk.path.borrow_mut().pop();
            map.insert(name, value?);
        }
        Ok(Value::Object(map))
    }
}

/// A member name: YAML may write a key as a number or boolean (`200:` in `responses`); it is read as its text.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_and_yaml_read_alike() {
        let json = parse(br#"{"paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}, "n": 1.5, "l": [true, null]}"#).unwrap();
        let yaml = parse(b"paths:\n  /a:\n    get:\n      responses:\n        200:\n          description: ok\nn: 1.5\nl: [true, null]\n").unwrap();
        assert_eq!(json, yaml);
    }

    #[test]
    fn duplicate_names_are_refused_with_their_path_in_both() {
        let json = parse(br#"{"paths": {"/a": {"get": {"security": [], "security": [{"c": []}]}}}}"#).unwrap_err();
        assert_eq!(json.to_string(), r#"paths["/a"].get: duplicate member name `security`"#);
        let yaml =
            parse(b"paths:\n  /a:\n    get:\n      security: []\n      security:\n        - c: []\n").unwrap_err();
        assert_eq!(yaml.to_string(), r#"paths["/a"].get: duplicate member name `security`"#);
        let top = parse(b"a: 1\nb: [{x: 1, x: 2}]\n").unwrap_err();
        assert_eq!(top.to_string(), "b[0]: duplicate member name `x`");
        assert_eq!(parse(br#"{"a":1,"a":2}"#).unwrap_err().to_string(), ".: duplicate member name `a`");
    }

    #[test]
    fn malformed_documents_say_which_format_failed() {
        assert!(parse(b"{\"a\": ").unwrap_err().to_string().starts_with("not valid JSON"));
        assert!(parse(b"a: [").unwrap_err().to_string().starts_with("not valid YAML"));
        assert!(parse(b"a: 1\n---\nb: 2\n").is_err());
    }
}
