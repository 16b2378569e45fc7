//! Policy documents as written, read straight from their JSON text: each element in the shape the validation in
//! [`super::document`] reads, strings borrowed from the text unless they hold escapes.
//!
//! A load used to build a `serde_json::Value` per document (a map per statement, a `String` per element) only to
//! read it once: reading the text straight into these shapes took 3 % off the wasm load of 1,000 groups × 10
//! statements and 7 % off the native one (BENCHMARKS.md). These seeds keep what validation needs and nothing else:
//! any JSON is accepted here
//! (an element of the wrong type is kept as [`Text::Other`], for the validation to name with its path), so that
//! every error but malformed JSON is reported by the same code, in the same order, as before.
//!
//! Member names are checked here too: an element named twice is kept as a duplicate (the configuration's own
//! check refuses duplicates before, but a `RawPolicies` may be built by other means), and of the names that are
//! no element of the document or statement, the first in byte order is kept, the one the validation reports (as
//! it did when it read the names of a `Value`'s sorted map).

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A string, or anything else.
#[derive(Debug)]
pub(crate) enum Text<'de> {
    Text(Cow<'de, str>),
    Other,
}

/// One string, a list (each item a string or not), or anything else.
#[derive(Debug)]
pub(crate) enum Texts<'de> {
    One(Cow<'de, str>),
    List(Vec<Text<'de>>),
    Other,
}

/// A statement as written; `None` for an absent element.
#[derive(Debug, Default)]
pub(crate) struct RawStatement<'de> {
    pub sid: Option<Text<'de>>,
    pub effect: Option<Text<'de>>,
    pub action: Option<Texts<'de>>,
    pub not_action: Option<Texts<'de>>,
    pub resource: Option<Texts<'de>>,
    pub not_resource: Option<Texts<'de>>,
    pub condition: Option<Value>,
    /// The first name in byte order that is no statement element (`Principal` included).
    pub refused: Option<Cow<'de, str>>,
    /// The first element named twice.
    pub duplicate: Option<&'static str>,
}

/// A list item or a whole element that should be an object: the object, or anything else.
#[derive(Debug)]
pub(crate) enum Object<T> {
    Object(T),
    Other,
}

/// `Statement` as written.
#[derive(Debug)]
pub(crate) enum RawStatements<'de> {
    List(Vec<Object<RawStatement<'de>>>),
    One(Box<RawStatement<'de>>),
    Other,
}

/// A policy document as written.
#[derive(Debug, Default)]
pub(crate) struct RawDocument<'de> {
    pub version: Option<Text<'de>>,
    pub id: Option<Text<'de>>,
    pub statement: Option<RawStatements<'de>>,
    /// The first name in byte order that is no document element.
    pub refused: Option<Cow<'de, str>>,
    pub duplicate: Option<&'static str>,
}

/// What a group, client or user holds: one document, or a list of them.
#[derive(Debug)]
pub(crate) enum RawDocuments<'de> {
    One(Box<Object<RawDocument<'de>>>),
    List(Vec<Object<RawDocument<'de>>>),
}

/// Reads the documents of one group, client or user from `deserializer` (its JSON text, or a `Value`).
pub(crate) fn read_documents<'de, D: Deserializer<'de>>(deserializer: D) -> Result<RawDocuments<'de>, D::Error> {
    deserializer.deserialize_any(DocumentsVisitor)
}

/// Consumes the rest of a sequence or map whose shape is wrong, so that reading goes on after it.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Keeps the smaller of the refused names (byte order, as a sorted map lists them).
fn keep_first<'de>(refused: &mut Option<Cow<'de, str>>, name: Cow<'de, str>) {
    if refused.as_ref().is_none_or(|kept| name < *kept) {
        *refused = Some(name);
    }
}

/// Fills `slot` with the next value, or notes that `name` was given twice (its second value is skipped).
fn fill<'de, A: MapAccess<'de>, T, S: DeserializeSeed<'de, Value = T>>(
    map: &mut A,
    slot: &mut Option<T>,
    seed: S,
    name: &'static str,
    duplicate: &mut Option<&'static str>,
) -> Result<(), A::Error> {
    if slot.is_some() {
        map.next_value::<IgnoredAny>()?;
        duplicate.get_or_insert(name);
        return Ok(());
    }
    *slot = Some(map.next_value_seed(seed)?);
    Ok(())
}

/// Implements the visitor methods of a value that is not the expected shape: every one gives `$other`.
macro_rules! other_shapes {
    ($value:ty, $other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_unit<E: de::Error>(self) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_none<E: de::Error>(self) -> Result<$value, E> {
            Ok($other)
        }
    };
}

/// A member name, borrowed when written without escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Text<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextSeed {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text::Text(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Text::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Text::Other)
    }
    other_shapes!(Text<'de>, Text::Other);
}

struct TextsSeed;

impl<'de> DeserializeSeed<'de> for TextsSeed {
    type Value = Texts<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextsSeed {
    type Value = Texts<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Texts::One(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Texts::One(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Texts::One(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(2));
        while let Some(item) = seq.next_element_seed(TextSeed)? {
            items.push(item);
        }
        Ok(Texts::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Texts::Other)
    }
    other_shapes!(Texts<'de>, Texts::Other);
}

/// A `Condition` block, kept as a `Value`: the block's conditions are compiled in the order of its sorted map, and
/// blocks are small and rare next to the rest of a statement.
struct ConditionSeed;

impl<'de> DeserializeSeed<'de> for ConditionSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(deserializer)
    }
}

/// A statement: an object, or anything else.
struct StatementSeed;

impl<'de> DeserializeSeed<'de> for StatementSeed {
    type Value = Object<RawStatement<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StatementSeed {
    type Value = Object<RawStatement<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Object::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = RawStatement::default();
        while let Some(name) = map.next_key_seed(Name)? {
            let duplicate = &mut raw.duplicate;
            match &*name {
                "Sid" => fill(&mut map, &mut raw.sid, TextSeed, "Sid", duplicate)?,
                "Effect" => fill(&mut map, &mut raw.effect, TextSeed, "Effect", duplicate)?,
                "Action" => fill(&mut map, &mut raw.action, TextsSeed, "Action", duplicate)?,
                "NotAction" => fill(&mut map, &mut raw.not_action, TextsSeed, "NotAction", duplicate)?,
                "Resource" => fill(&mut map, &mut raw.resource, TextsSeed, "Resource", duplicate)?,
                "NotResource" => fill(&mut map, &mut raw.not_resource, TextsSeed, "NotResource", duplicate)?,
                "Condition" => fill(&mut map, &mut raw.condition, ConditionSeed, "Condition", duplicate)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    keep_first(&mut raw.refused, name);
                }
            }
        }
        Ok(Object::Object(raw))
    }
    other_shapes!(Object<RawStatement<'de>>, Object::Other);
}

/// `Statement`: a list of statements, one statement, or anything else.
struct StatementsSeed;

impl<'de> DeserializeSeed<'de> for StatementsSeed {
    type Value = RawStatements<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StatementsSeed {
    type Value = RawStatements<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawStatements::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(item) = seq.next_element_seed(StatementSeed)? {
            items.push(item);
        }
        Ok(RawStatements::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(match StatementSeed.visit_map(map)? {
            Object::Object(statement) => RawStatements::One(Box::new(statement)),
            Object::Other => RawStatements::Other,
        })
    }
    other_shapes!(RawStatements<'de>, RawStatements::Other);
}

/// A document: an object, or anything else.
struct DocumentSeed;

impl<'de> DeserializeSeed<'de> for DocumentSeed {
    type Value = Object<RawDocument<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed {
    type Value = Object<RawDocument<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Object::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = RawDocument::default();
        while let Some(name) = map.next_key_seed(Name)? {
            let duplicate = &mut raw.duplicate;
            match &*name {
                "Version" => fill(&mut map, &mut raw.version, TextSeed, "Version", duplicate)?,
                "Id" => fill(&mut map, &mut raw.id, TextSeed, "Id", duplicate)?,
                "Statement" => fill(&mut map, &mut raw.statement, StatementsSeed, "Statement", duplicate)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    keep_first(&mut raw.refused, name);
                }
            }
        }
        Ok(Object::Object(raw))
    }
    other_shapes!(Object<RawDocument<'de>>, Object::Other);
}

/// One document or a list of documents.
struct DocumentsVisitor;

impl<'de> Visitor<'de> for DocumentsVisitor {
    type Value = RawDocuments<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawDocuments::One(Box::new(Object::Other)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(2));
        while let Some(item) = seq.next_element_seed(DocumentSeed)? {
            items.push(item);
        }
        Ok(RawDocuments::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        DocumentSeed.visit_map(map).map(|document| RawDocuments::One(Box::new(document)))
    }
    other_shapes!(RawDocuments<'de>, RawDocuments::One(Box::new(Object::Other)));
}
