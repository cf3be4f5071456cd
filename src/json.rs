//! A faster JSON reader for serde; not yet the crate's decoder.
//!
//! It reads objects, arrays, strings, integers and literals, and scans
//! strings eight bytes at a time. It gives up (returns an error) on anything
//! else: floats, `-0`, integers of more than 18 digits, enums written as
//! objects, and every document serde_json would refuse.
//!
//! Tried in front of serde_json in [`crate::objects_only::from_str_seed`], it
//! cut warm calls by 7.7-12.7% of their instructions (BENCHMARKS-HISTORY.md,
//! session 50). It is not wired in yet. Falling back to serde_json keeps
//! serde_json's errors, but it doubles every decoder (113-132 KB more per module).
//! The reader first needs errors of its own, with serde_json's messages and
//! positions.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

type Result<T> = std::result::Result<T, serde_json::Error>;

/// serde_json's nesting limit: 127 arrays or objects deep.
const DEPTH: u32 = 127;
/// The name under which serde_json's `RawValue` asks for its text.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// Gives up: the caller decodes again with serde_json.
#[cold]
fn give_up() -> serde_json::Error {
    de::Error::custom("left to serde_json")
}

/// Decodes `seed` from `json`, which holds one value and nothing after it but
/// whitespace; an error means "decode with serde_json".
pub fn from_str_seed<'a, S: DeserializeSeed<'a>>(json: &'a str, seed: S) -> Result<S::Value> {
    let mut reader = Reader {
        text: json,
        pos: 0,
        depth: 0,
    };
    let value = seed.deserialize(&mut reader)?;
    match reader.peek() {
        None => Ok(value),
        Some(_) => Err(give_up()),
    }
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

/// A string as read: borrowed unless it held escapes.
enum Str<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl<'a> Str<'a> {
    fn visit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value>
    where
        'a: 'de,
    {
        match self {
            Str::Borrowed(text) => visitor.visit_borrowed_str(text),
            Str::Owned(text) => visitor.visit_string(text),
        }
    }
}

/// The first byte from `at` that ends a string's plain run (a quote, a
/// backslash or a control character), eight bytes at a time; `bytes.len()`
/// if none.
#[inline(always)]
fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    while let Some(word) = bytes
        .get(at..at + 8)
        .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
    {
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let stop = (w.wrapping_sub(ONES * 0x20) & !w)
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash);
        let stop = stop & (ONES << 7);
        if stop != 0 {
            return at + (stop.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            break;
        }
        at += 1;
    }
    at
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl<'a> Reader<'a> {
    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        let mut at = self.pos;
        while let Some(&b) = bytes.get(at) {
            if !is_space(b) {
                self.pos = at;
                return Some(b);
            }
            at += 1;
        }
        self.pos = at;
        None
    }

    /// Consumes `byte` after whitespace.
    #[inline]
    fn eat(&mut self, byte: u8) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(give_up())
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > DEPTH {
            return Err(give_up());
        }
        self.pos += 1;
        Ok(())
    }

    /// A string's text; `pos` is just after its opening quote.
    #[inline]
    fn string(&mut self) -> Result<Str<'a>> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let at = plain_run_end(bytes, start);
        match bytes.get(at) {
            Some(b'"') => {
                self.pos = at + 1;
                self.text
                    .get(start..at)
                    .map(Str::Borrowed)
                    .ok_or_else(give_up)
            }
            Some(b'\\') => {
                self.pos = at;
                self.escaped(start).map(Str::Owned)
            }
            _ => Err(give_up()),
        }
    }

    /// The rest of a string that holds escapes; `pos` is at the first one.
    #[cold]
    fn escaped(&mut self, start: usize) -> Result<String> {
        let bytes = self.text.as_bytes();
        let mut out = String::from(self.text.get(start..self.pos).ok_or_else(give_up)?);
        loop {
            let plain = self.pos;
            while matches!(bytes.get(self.pos), Some(&b) if b >= 0x20 && b != b'"' && b != b'\\') {
                self.pos += 1;
            }
            out.push_str(self.text.get(plain..self.pos).ok_or_else(give_up)?);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape = bytes.get(self.pos + 1).copied();
                    self.pos += 2;
                    let c = match escape {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode()?,
                        _ => return Err(give_up()),
                    };
                    out.push(c);
                }
                _ => return Err(give_up()),
            }
        }
    }

    /// A `\u` escape's character (after the `\u`), with its low surrogate.
    fn unicode(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if self.text.as_bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                return Err(give_up());
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(give_up());
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(give_up)
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or_else(give_up)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(give_up());
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| give_up())
    }

    /// Consumes `word`, a whole literal, which starts at `pos`.
    fn literal(&mut self, word: &[u8]) -> Result<()> {
        let end = self.pos + word.len();
        if self.text.as_bytes().get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(give_up())
        }
    }

    /// An integer of at most 18 digits, without leading zeros; anything
    /// else (floats, -0, longer numbers) is serde_json's.
    fn integer<'de, V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let bytes = self.text.as_bytes();
        let negative = bytes.get(self.pos) == Some(&b'-');
        let start = self.pos + usize::from(negative);
        let mut at = start;
        let mut value: u64 = 0;
        while let Some(&b) = bytes.get(at) {
            if !b.is_ascii_digit() {
                break;
            }
            value = value * 10 + u64::from(b - b'0');
            at += 1;
            if at - start > 18 {
                return Err(give_up());
            }
        }
        let digits = at - start;
        let leading_zero = digits > 1 && bytes.get(start) == Some(&b'0');
        let fraction = matches!(bytes.get(at), Some(b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || fraction || (negative && value == 0) {
            return Err(give_up());
        }
        self.pos = at;
        if negative {
            visitor.visit_i64(-(value as i64))
        } else {
            visitor.visit_u64(value)
        }
    }

    /// Skips one value, checking it as serde_json would, but stricter: where
    /// serde_json ignores a value it reads floats, long integers and lone
    /// surrogates, and any depth; this gives up on them (it recurses).
    fn skip(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.skip_string()
            }
            Some(b'{') => {
                self.enter()?;
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.eat(b'"')?;
                        self.skip_string()?;
                        self.eat(b':')?;
                        self.skip()?;
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(give_up()),
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'[') => {
                self.enter()?;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip()?;
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(give_up()),
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(de::IgnoredAny).map(|_| ()),
            _ => Err(give_up()),
        }
    }

    /// Skips a string's rest; `pos` is just after its opening quote.
    fn skip_string(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        let at = plain_run_end(bytes, self.pos);
        match bytes.get(at) {
            Some(b'"') => {
                self.pos = at + 1;
                Ok(())
            }
            Some(b'\\') => {
                self.pos = at;
                self.escaped(at).map(|_| ())
            }
            _ => Err(give_up()),
        }
    }

    /// The text of the next value, as serde_json's `RawValue` holds it.
    fn raw(&mut self) -> Result<&'a str> {
        self.peek();
        let start = self.pos;
        self.skip()?;
        self.text.get(start..self.pos).ok_or_else(give_up)
    }
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.string()?.visit(visitor)
            }
            Some(b'{') => self.deserialize_map(visitor),
            Some(b'[') => self.deserialize_seq(visitor),
            Some(b't') => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            Some(b'-' | b'0'..=b'9') => self.integer(visitor),
            _ => Err(give_up()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() != Some(b'{') {
            return Err(give_up());
        }
        self.enter()?;
        let mut map = Map {
            reader: &mut *self,
            first: true,
            done: false,
        };
        let value = visitor.visit_map(&mut map)?;
        if !map.done {
            return Err(give_up());
        }
        self.depth -= 1;
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() != Some(b'[') {
            return Err(give_up());
        }
        self.enter()?;
        let mut seq = Seq {
            reader: &mut *self,
            first: true,
            done: false,
        };
        let value = visitor.visit_seq(&mut seq)?;
        if !seq.done {
            return Err(give_up());
        }
        self.depth -= 1;
        Ok(value)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == RAW_VALUE {
            let raw = self.raw()?;
            visitor.visit_map(RawMap(Some(raw)))
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if self.peek() != Some(b'"') {
            return Err(give_up());
        }
        self.pos += 1;
        match self.string()? {
            Str::Borrowed(text) => visitor
                .visit_enum(de::value::BorrowedStrDeserializer::<serde_json::Error>::new(text)),
            Str::Owned(text) => visitor.visit_enum(de::value::StringDeserializer::<
                serde_json::Error,
            >::new(text)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct identifier
    }
}

// `Map` and `Seq` stay apart: one reader for both gave back most of the gain
// (BENCHMARKS-HISTORY.md, session 50).
struct Map<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
    done: bool,
}

impl<'de> MapAccess<'de> for Map<'_, 'de> {
    type Error = serde_json::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.done {
            return Ok(None);
        }
        let reader = &mut *self.reader;
        match reader.peek() {
            Some(b'}') => {
                reader.pos += 1;
                self.done = true;
                return Ok(None);
            }
            Some(b',') if !self.first => {
                reader.pos += 1;
                reader.eat(b'"')?;
            }
            Some(b'"') if self.first => reader.pos += 1,
            _ => return Err(give_up()),
        }
        self.first = false;
        let key = reader.string()?;
        reader.eat(b':')?;
        seed.deserialize(Key(key)).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.reader)
    }
}

struct Seq<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
    done: bool,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = serde_json::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.done {
            return Ok(None);
        }
        let reader = &mut *self.reader;
        match reader.peek() {
            Some(b']') => {
                reader.pos += 1;
                self.done = true;
                return Ok(None);
            }
            Some(b',') if !self.first => reader.pos += 1,
            Some(_) if self.first => {}
            _ => return Err(give_up()),
        }
        self.first = false;
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// A map key: a string, read by any visitor that takes one.
struct Key<'a>(Str<'a>);

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.0.visit(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The one-entry map through which serde_json's `RawValue` takes its text.
struct RawMap<'a>(Option<&'a str>);

impl<'de> MapAccess<'de> for RawMap<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.0.is_none() {
            return Ok(None);
        }
        seed.deserialize(de::value::BorrowedStrDeserializer::new(RAW_VALUE))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let raw = self.0.take().ok_or_else(give_up)?;
        seed.deserialize(de::value::BorrowedStrDeserializer::new(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use serde_json::Value;
    use std::borrow::Cow;
    use std::marker::PhantomData;

    fn fast(json: &str) -> Option<Value> {
        from_str_seed(json, PhantomData::<Value>).ok()
    }

    #[rstest]
    #[case::object(r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#)]
    #[case::spaced(" { \"a\" : [ 1 , -2 ] ,\n\t\"b\" : { } , \"c\" : [ ] } ")]
    #[case::escapes(r#"{"a\"b":"\\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 x"}"#)]
    #[case::unicode(r#"["gr\u00fc\u00DF", "grüß", "ein langer Text über acht Bytes"]"#)]
    #[case::integers("[0, 7, -7, 123456789012345678, -123456789012345678]")]
    #[case::nested_127(&format!("{}{}", "[".repeat(127), "]".repeat(127)))]
    fn reads_as_serde_json_does(#[case] json: &str) {
        let expected: Value = serde_json::from_str(json).unwrap();
        assert_eq!(fast(json), Some(expected));
    }

    #[rstest]
    #[case::float("1.5")]
    #[case::exponent("1e3")]
    #[case::negative_zero("-0")]
    #[case::nineteen_digits("1234567890123456789")]
    fn leaves_rarer_forms_to_serde_json(#[case] json: &str) {
        assert!(serde_json::from_str::<Value>(json).is_ok());
        assert_eq!(fast(json), None);
    }

    #[rstest]
    #[case::empty("")]
    #[case::trailing_comma_in_array("[1,]")]
    #[case::trailing_comma_in_object(r#"{"a":1,}"#)]
    #[case::leading_zero("01")]
    #[case::lone_minus("-")]
    #[case::missing_colon(r#"{"a" 1}"#)]
    #[case::missing_comma("[1 2]")]
    #[case::key_not_a_string("{1:2}")]
    #[case::trailing_characters("{} x")]
    #[case::unterminated_string(r#""abc"#)]
    #[case::unterminated_array("[1")]
    #[case::control_character("\"a\u{1}b\"")]
    #[case::unknown_escape(r#""\x""#)]
    #[case::short_unicode_escape(r#""\u12""#)]
    #[case::lone_high_surrogate(r#""\ud800""#)]
    #[case::lone_low_surrogate(r#""\udc00""#)]
    #[case::high_surrogate_then_other(r#""\ud800\u0041""#)]
    #[case::truncated_literal("tru")]
    #[case::nested_128(&format!("{}{}", "[".repeat(128), "]".repeat(128)))]
    fn gives_up_on_what_serde_json_refuses(#[case] json: &str) {
        assert!(serde_json::from_str::<Value>(json).is_err(), "{json}");
        assert_eq!(fast(json), None, "{json}");
    }

    /// A quote, backslash or control character at each offset in and around
    /// the eight-byte words, with a byte after it that looks alike to the scan.
    #[test]
    fn finds_each_string_end_and_escape_at_every_offset() {
        let mut valid = 0;
        for offset in 0..=17 {
            let specials = [
                "\", \"", "\"", "\\\\", "\\n", "\u{1}", "\u{1f}", "\u{1} ", "é\"",
            ];
            for special in specials {
                let json = format!("[\"{}{special}{}\", 1]", "a".repeat(offset), "b".repeat(9));
                let expected = serde_json::from_str::<Value>(&json).ok();
                valid += usize::from(expected.is_some());
                assert_eq!(fast(&json), expected, "{json:?}");
            }
        }
        // The string end, the escaped backslash and `\n` at each of 18 offsets.
        assert_eq!(valid, 3 * 18);
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Operation {
        Create,
        Update,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(borrow)]
        note: Cow<'a, str>,
        operation: Operation,
        #[serde(borrow)]
        raw: Option<&'a RawValue>,
        #[serde(borrow)]
        missing: Option<&'a RawValue>,
        count: i64,
    }

    #[test]
    fn decodes_structs_enums_and_raw_values_as_serde_json_does() {
        let json = r#"{"name":"web","note":"a\nb","operation":"Update","raw": {"x": [1, "y"]} ,"missing":null,"count":-3,"other":{"deep":[{}]}}"#;
        let doc: Doc = from_str_seed(json, PhantomData).unwrap();
        let reference: Doc = serde_json::from_str(json).unwrap();
        assert!(matches!(doc.name, Cow::Borrowed("web")));
        assert!(matches!(doc.note, Cow::Owned(ref note) if note == "a\nb"));
        assert_eq!(doc.operation, Operation::Update);
        assert_eq!(doc.raw.map(RawValue::get), Some(r#"{"x": [1, "y"]}"#));
        assert_eq!(doc.raw.map(RawValue::get), reference.raw.map(RawValue::get));
        assert!(doc.missing.is_none());
        assert_eq!(doc.count, -3);
    }

    #[test]
    fn leaves_an_enum_written_as_an_object_to_serde_json() {
        let json = r#"{"Create":null}"#;
        assert_eq!(
            serde_json::from_str::<Operation>(json).ok(),
            Some(Operation::Create)
        );
        assert!(from_str_seed(json, PhantomData::<Operation>).is_err());
    }

    #[test]
    fn every_large_fixture_reads_as_serde_json_does() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e-tests");
        let mut read = 0;
        for suite in std::fs::read_dir(&root).unwrap() {
            let Ok(files) = std::fs::read_dir(suite.unwrap().path().join("large")) else {
                continue;
            };
            for file in files {
                let path = file.unwrap().path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let json = std::fs::read_to_string(&path).unwrap();
                let expected: Value = serde_json::from_str(&json).unwrap();
                assert!(fast(&json) == Some(expected), "{}", path.display());
                read += 1;
            }
        }
        assert!(read >= 20, "only {read} large fixtures found");
    }
}
