//! Strict JSON for bytes from outside (tokens, configuration, keys): duplicate object keys are an error at every
//! depth.
//!
//! serde_json keeps the last of two equal keys without a word, so `{"token_use":"id","token_use":"access"}`
//! would read as whichever copy comes last while another verifier reads the first, and a statement written
//! `{"Effect": "Deny", ..., "Effect": "Allow"}` would load as an Allow. No maintained crate offers a
//! duplicate-rejecting `Value` or check, so these small seeds do it by hand.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

/// Nesting deeper than this is refused before serde_json's own recursion limit is reached.
const MAX_DEPTH: usize = 32;

/// Parses `bytes` as one JSON object, refusing duplicate keys, deep nesting and trailing bytes.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed { depth: 0 }.deserialize(&mut de)?;
    de.end()?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(de::Error::custom("expected a JSON object")),
    }
}

struct StrictSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor { depth: self.depth })
    }
}

struct StrictVisitor {
    depth: usize,
}

impl StrictVisitor {
    fn child<E: de::Error>(&self) -> Result<StrictSeed, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("JSON nested too deeply"));
        }
        Ok(StrictSeed { depth: self.depth + 1 })
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
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
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("non-finite number"))
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

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child()?)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(self.child()?)?;
            if map.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
        }
        Ok(Value::Object(map))
    }
}

/// A member name that appears twice in one object, with the path of the object (`.` for the document itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateName {
    /// Path of the object holding the name twice, in the configuration's notation: `policies.groups.a[0]`.
    pub path: String,
    pub name: String,
}

/// Why a document failed the name check: malformed JSON, or a duplicate name.
#[derive(Debug)]
pub enum NameCheckError {
    Syntax(serde_json::Error),
    Duplicate(DuplicateName),
}

/// One step of a path: an object member or an array index. Member names are borrowed from the document unless
/// they hold escapes, so that walking a large configuration copies no names.
#[derive(Debug, Clone)]
enum Step<'de> {
    Member(Cow<'de, str>),
    Index(usize),
}

fn render_path(steps: &[Step<'_>]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Member(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
            }
            Step::Index(index) => path.push_str(&format!("[{index}]")),
        }
    }
    if path.is_empty() {
        path.push('.');
    }
    path
}

/// Walks a whole JSON document and refuses any object that names a member twice, saying where. Values are
/// skipped, not built, so the walk costs a parse; the document is then read as usual (serde keeps no copy).
pub fn check_unique_names(bytes: &[u8]) -> Result<(), NameCheckError> {
    let walk = Walk { steps: RefCell::new(Vec::new()), duplicate: RefCell::new(None) };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = NameSeed { walk: &walk }.deserialize(&mut de).and_then(|()| de.end());
    match (result, walk.duplicate.into_inner()) {
        (_, Some(duplicate)) => Err(NameCheckError::Duplicate(duplicate)),
        (Err(err), None) => Err(NameCheckError::Syntax(err)),
        (Ok(()), None) => Ok(()),
    }
}

/// The walk's state, shared by every nested seed: the current path and the first duplicate found.
struct Walk<'de> {
    steps: RefCell<Vec<Step<'de>>>,
    duplicate: RefCell<Option<DuplicateName>>,
}

#[derive(Clone, Copy)]
struct NameSeed<'w, 'de> {
    walk: &'w Walk<'de>,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A member name, borrowed when the document spells it without escapes.
struct NameKey;

impl<'de> DeserializeSeed<'de> for NameKey {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameKey {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The names one object has used so far: a list while it is short (most objects), a set beyond.
#[derive(Default)]
struct Seen<'de> {
    few: Vec<Cow<'de, str>>,
    many: BTreeSet<Cow<'de, str>>,
}

impl<'de> Seen<'de> {
    const FEW: usize = 16;

    /// Adds `name`; false if it was there already.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if self.few.len() < Self::FEW {
            if self.few.contains(&name) {
                return false;
            }
            self.few.push(name);
            return true;
        }
        if self.many.is_empty() {
            self.many.extend(self.few.iter().cloned());
        }
        self.many.insert(name)
    }
}

impl<'de> Visitor<'de> for NameSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            self.walk.steps.borrow_mut().push(Step::Index(index));
            let more = seq.next_element_seed(self)?;
            self.walk.steps.borrow_mut().pop();
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(name) = access.next_key_seed(NameKey)? {
            if !seen.insert(name.clone()) {
                let path = render_path(&self.walk.steps.borrow());
                let message = format!("duplicate member name `{name}`");
                *self.walk.duplicate.borrow_mut() = Some(DuplicateName { path, name: name.into_owned() });
                return Err(de::Error::custom(message));
            }
            self.walk.steps.borrow_mut().push(Step::Member(name));
            access.next_value_seed(self)?;
            self.walk.steps.borrow_mut().pop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn duplicate(bytes: &str) -> DuplicateName {
        match check_unique_names(bytes.as_bytes()) {
            Err(NameCheckError::Duplicate(duplicate)) => duplicate,
            other => panic!("{bytes}: {other:?}"),
        }
    }

    #[test]
    fn names_the_path_of_a_duplicate_member() {
        let found = duplicate(r#"{"a":{"b":[1,{"c":1}],"d":[{"Effect":"Deny","x":[],"Effect":"Allow"}]}}"#);
        assert_eq!(found, DuplicateName { path: "a.d[0]".into(), name: "Effect".into() });
        assert_eq!(duplicate(r#"{"a":1,"a":1}"#).path, ".");
        assert_eq!(duplicate(r#"{"x":[[{}],[{"k":1,"k":2}]]}"#).path, "x[1][0]");
        // An escaped spelling is the same name once decoded.
        assert_eq!(duplicate(r#"{"Effect":"Deny","Eff\u0065ct":"Allow"}"#).name, "Effect");
        // Past the first names of an object too, and the first repeat is the one named.
        let members: Vec<String> = (0..40).map(|i| format!(r#""m{i}":{{"x":[{{"y":1}}]}}"#)).collect();
        let many = format!(r#"{{"a":{{{},"m7":1,"m39":2}}}}"#, members.join(","));
        assert_eq!(duplicate(&many), DuplicateName { path: "a".into(), name: "m7".into() });
        let late = format!(r#"{{"a":{{{},"m39":2}}}}"#, members.join(","));
        assert_eq!(duplicate(&late).name, "m39");
        assert!(check_unique_names(format!(r#"{{"a":{{{}}}}}"#, members.join(",")).as_bytes()).is_ok());
    }

    #[test]
    fn unique_names_pass_and_syntax_errors_are_not_duplicates() {
        assert!(check_unique_names(br#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#).is_ok());
        assert!(matches!(check_unique_names(br#"{"a":1"#), Err(NameCheckError::Syntax(_))));
        assert!(matches!(check_unique_names(br#"{"a":1} x"#), Err(NameCheckError::Syntax(_))));
    }

    #[test]
    fn accepts_a_plain_object() {
        let map = parse_object(br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#).unwrap();
        assert_eq!(map["b"][2], "x");
        assert_eq!(map["c"]["d"], 1.5);
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        let top = parse_object(br#"{"token_use":"id","token_use":"access"}"#).unwrap_err();
        assert!(top.to_string().contains("duplicate key `token_use`"), "{top}");
        assert!(parse_object(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert!(parse_object(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
    }

    #[test]
    fn refuses_trailing_bytes_non_objects_and_deep_nesting() {
        assert!(parse_object(br#"{"a":1} x"#).is_err());
        assert!(parse_object(br#"[1]"#).is_err());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(parse_object(deep.as_bytes()).is_err());
        let fine = format!("{{\"a\":{}1{}}}", "[".repeat(20), "]".repeat(20));
        assert!(parse_object(fine.as_bytes()).is_ok());
    }
}
