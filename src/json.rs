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

/// The path of the value a typed read of `bytes` failed at (`issuers[0].jwks.keys[2].kty`; `.` for the document
/// itself), found from the position serde_json gives the error.
///
/// This is what `serde_path_to_error` did, without wrapping every deserializer and visitor of every configuration
/// type in a second, path-tracking copy (about 90 KB of the filter's code): serde_json places each error at the
/// last byte it read, so one scan of the text up to that byte knows where it was. Type errors end on the value
/// (its path), unknown fields on the member name (the path with that name), missing fields on the object's `}`
/// (the object's path). Only called for a document that failed, so its cost is no load's.
pub fn path_of(bytes: &[u8], err: &serde_json::Error) -> String {
    if err.line() == 0 {
        return ".".to_owned();
    }
    // The line's first byte, then the last byte read on it (column 0: none yet).
    let line_start = if err.line() == 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'\n')
            .nth(err.line() - 2)
            .map_or(bytes.len(), |(at, _)| at + 1)
    };
    render_path(&steps_at(bytes, line_start + err.column().saturating_sub(1), !err.is_data()))
}

/// [`path_of`] and the error, as a message: `keys[0].kty: invalid type: ...` (the error alone at the top level).
pub fn describe(bytes: &[u8], err: &serde_json::Error) -> String {
    match path_of(bytes, err) {
        path if path == "." => err.to_string(),
        path => format!("{path}: {err}"),
    }
}

/// For an error in a document embedded in a larger one at `outer` (a policy document under
/// `policies.groups.NAME`, read from its own text): the whole path, `outer` joined with the error's path inside
/// the document, and the error without serde_json's line and column, which count from the document's own start
/// and would point to the wrong place in the file.
pub fn describe_within(outer: &str, bytes: &[u8], err: &serde_json::Error) -> (String, String) {
    let inner = path_of(bytes, err);
    let path = match inner.as_str() {
        "." => outer.to_owned(),
        _ if inner.starts_with('[') => format!("{outer}{inner}"),
        _ => format!("{outer}.{inner}"),
    };
    let text = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = text.strip_suffix(position.as_str()).unwrap_or(&text).to_owned();
    (path, message)
}

/// The path at byte `offset`: a scan of the tokens before it that keeps a step per open container (the member
/// being read, or the index of the element). A token that holds `offset` ends the scan with its own path: a
/// member name's path includes the name, a closing bracket's is its container's. A `syntax` error between a name
/// and its `:`, between an array's `[` or `,` and the next element, or after a whole value, is the container's
/// (serde_json reads those outside the member or element). The text may be malformed: the scan then stops wherever the text stops
/// making sense.
fn steps_at(bytes: &[u8], offset: usize, syntax: bool) -> Vec<Step<'_>> {
    /// What the innermost open object expects next.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Expect {
        Name,
        Value,
    }
    let mut steps: Vec<Step<'_>> = Vec::new();
    // Per open container: `Some(expect)` for an object, `None` for an array.
    let mut open: Vec<Option<Expect>> = Vec::new();
    // A member name was read and its `:` not yet.
    let mut before_colon = false;
    // An array was opened or a `,` read in one, and no element has started since: serde_json reads the next
    // element's first byte (or the end of the text) as the array's own.
    let mut before_element = false;
    // A member's or element's value was read whole: serde_json reads what follows (`,` or a closing bracket, or
    // the end of the text) as its container's.
    let mut after_value = false;
    let mut at = 0;
    loop {
        while bytes.get(at).is_some_and(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r')) {
            at += 1;
        }
        let Some(&byte) = bytes.get(at) else { break };
        if at > offset {
            break;
        }
        let in_object = open.last().copied().flatten();
        before_element = false;
        after_value = false;
        match byte {
            b'{' => {
                if at == offset {
                    break;
                }
                open.push(Some(Expect::Name));
                at += 1;
            }
            b'[' => {
                // An error that ends on `[` is about the first element, which serde_json looked at without reading
                // it (a value of the wrong type is refused when it starts with `[` or `{`).
                open.push(None);
                steps.push(Step::Index(0));
                before_element = true;
                if at == offset {
                    break;
                }
                at += 1;
            }
            b'}' | b']' => {
                // A bracket that closes nothing open is where a syntax error is.
                if (byte == b'}') != in_object.is_some() || open.is_empty() {
                    break;
                }
                // The member or element being read is over: the bracket belongs to its container.
                if in_object == Some(Expect::Value) || byte == b']' {
                    steps.pop();
                }
                open.pop();
                if at == offset {
                    break;
                }
                after_value = true;
                at += 1;
            }
            b',' => {
                match (in_object, open.last()) {
                    (Some(_), _) => {
                        if in_object == Some(Expect::Value) {
                            steps.pop();
                        }
                        if let Some(last) = open.last_mut() {
                            *last = Some(Expect::Name);
                        }
                    }
                    (None, Some(None)) => {
                        if let Some(Step::Index(index)) = steps.last_mut() {
                            *index += 1;
                        }
                        before_element = true;
                    }
                    _ => {}
                }
                if at == offset {
                    break;
                }
                at += 1;
            }
            b':' => {
                // Read: what ends on it (the text cut short) is the member's value's.
                before_colon = false;
                if at == offset {
                    break;
                }
                at += 1;
            }
            b'"' => {
                let end = string_end(bytes, at);
                if in_object == Some(Expect::Name) {
                    let raw = bytes.get(at..end).unwrap_or_default();
                    // A name with escapes is shown decoded, as serde reads it; one that cannot be read (cut short,
                    // a bad escape) as `?`, as `serde_path_to_error` showed it.
                    let name = serde_json::from_slice::<Cow<'_, str>>(raw);
                    let read = name.is_ok();
                    steps.push(Step::Member(name.unwrap_or(Cow::Borrowed("?"))));
                    if let Some(last) = open.last_mut() {
                        *last = Some(Expect::Value);
                    }
                    // Inside the name: its own error. On its closing quote: an unknown name (a data error), or
                    // the end of the text (a syntax error, the object's).
                    before_colon = read && offset + 1 >= end;
                    if offset < end {
                        break;
                    }
                    before_colon = true;
                } else if offset < end {
                    break;
                } else {
                    after_value = true;
                }
                at = end;
            }
            _ => {
                // A number or literal: up to the next delimiter.
                let end = bytes
                    .iter()
                    .skip(at)
                    .position(|byte| matches!(byte, b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r' | b'"'))
                    .map_or(bytes.len(), |length| at + length.max(1));
                if offset < end {
                    break;
                }
                after_value = true;
                at = end;
            }
        }
    }
    if syntax && (before_colon || before_element || after_value) {
        steps.pop();
    }
    steps
}

/// The byte after the string starting at `start` (its closing quote's successor), or the end of `bytes`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
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

    /// The path of a typed read's error, and `describe`'s message: the path first, none at the top level.
    #[test]
    fn typed_read_errors_are_named_by_their_path() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Key {
            kty: String,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Set {
            keys: Vec<Key>,
        }
        let fail = |text: &str| {
            let err = serde_json::from_str::<Set>(text).unwrap_err();
            (path_of(text.as_bytes(), &err), describe(text.as_bytes(), &err))
        };
        let (path, message) = fail("{\n  \"keys\": [\n    {\"kty\": \"RSA\"},\n    {\"kty\": 7}\n  ]\n}");
        assert_eq!(path, "keys[1].kty");
        assert!(message.starts_with("keys[1].kty: invalid type: integer `7`"), "{message}");
        assert_eq!(fail(r#"{"keys": [{"kty": "EC", "k\u0069d": "a"}]}"#).0, "keys[0].kid");
        assert_eq!(fail(r#"{"keys": [{}]}"#).0, "keys[0]");
        assert_eq!(fail(r#"{"keys": [[]]}"#).0, "keys[0]");
        let (path, message) = fail(r#"{}"#);
        assert_eq!(path, ".");
        assert!(message.starts_with("missing field `keys`"), "{message}");
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
