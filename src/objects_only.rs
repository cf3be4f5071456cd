//! JSON decoding in which structs are read from JSON objects only.
//!
//! serde's derived decoders accept a struct as an object or as an array of
//! its fields in order, and serde_json honours both, so every module carried
//! a second, positional decoder for each struct, which no Kubernetes object or
//! settings document uses (3.7-10.6% of a module). Through [`ObjectsOnly`] a
//! struct is decoded as a map: the positional decoders are never
//! instantiated, and an array where an object belongs is refused as
//! `invalid type: sequence, expected struct ...`. Everything else is passed
//! through unchanged, at every depth.

use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// Decodes `seed` from `json`, which must hold one value and nothing after it.
pub fn from_str_seed<'a, S: DeserializeSeed<'a>>(
    json: &'a str,
    seed: S,
) -> serde_json::Result<S::Value> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = seed.deserialize(ObjectsOnly(&mut de))?;
    de.end()?;
    Ok(value)
}

/// Decodes a `T` from `json`, as `serde_json::from_str` does but for arrays in place of structs.
pub fn from_str<'a, T: serde::Deserialize<'a>>(json: &'a str) -> serde_json::Result<T> {
    from_str_seed(json, std::marker::PhantomData::<T>)
}

/// A deserializer that reads structs as maps; also wraps what it hands out
/// (visitors, seeds and accesses) so that nested values are read the same way.
/// The `#[inline]` hints keep the bundle (opt-level s) 6.9 KB smaller; the
/// opt-level 3 modules are the same bytes without them.
pub struct ObjectsOnly<T>(pub T);

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(ObjectsOnly(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit
        deserialize_seq deserialize_map deserialize_identifier deserialize_ignored_any
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(ObjectsOnly(visitor))
    }

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, ObjectsOnly(visitor))
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_newtype_struct(name, ObjectsOnly(visitor))
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, ObjectsOnly(visitor))
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, ObjectsOnly(visitor))
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_enum(name, variants, ObjectsOnly(visitor))
    }

    #[inline]
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        #[inline]
        fn $method<E: serde::de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.0.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectsOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool(bool)
        visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    #[inline]
    fn visit_none<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    #[inline]
    fn visit_unit<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(ObjectsOnly(deserializer))
    }

    #[inline]
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(ObjectsOnly(deserializer))
    }

    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(ObjectsOnly(seq))
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(ObjectsOnly(map))
    }

    #[inline]
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(ObjectsOnly(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ObjectsOnly<S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(deserializer))
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for ObjectsOnly<A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(ObjectsOnly(seed))
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(ObjectsOnly(seed))
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for ObjectsOnly<A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(ObjectsOnly(seed))
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for ObjectsOnly<A> {
    type Error = A::Error;
    type Variant = ObjectsOnly<A::Variant>;

    #[inline]
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(ObjectsOnly(seed))?;
        Ok((value, ObjectsOnly(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for ObjectsOnly<A> {
    type Error = A::Error;

    #[inline]
    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(ObjectsOnly(seed))
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, ObjectsOnly(visitor))
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, ObjectsOnly(visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Doc<'a> {
        name: String,
        #[serde(borrow, default)]
        note: Cow<'a, str>,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default)]
        pair: Option<(u16, bool)>,
        #[serde(default, borrow)]
        raw: Option<Raw<'a>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(transparent)]
    struct Raw<'a>(#[serde(borrow)] &'a RawValue);

    impl PartialEq for Raw<'_> {
        fn eq(&self, other: &Self) -> bool {
            self.0.get() == other.0.get()
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Inner {
        port: i64,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    enum Mode {
        Allow,
        Deny,
    }

    fn both(json: &str) -> (Result<Doc<'_>, String>, Result<Doc<'_>, String>) {
        (
            from_str::<Doc>(json).map_err(|e| e.to_string()),
            serde_json::from_str::<Doc>(json).map_err(|e| e.to_string()),
        )
    }

    #[rstest]
    #[case::minimal(r#"{"name":"a"}"#)]
    #[case::every_field(
        r#"{"name":"a","note":"n","inner":{"port":1},"items":[{"port":2},{"port":-3}],
            "labels":{"k":"v"},"mode":"deny","pair":[7,true],"raw":{"x":[1,2]}}"#
    )]
    #[case::nulls(r#"{"name":"a","inner":null,"mode":null,"pair":null}"#)]
    #[case::escaped_strings(r#"{"name":"a\"b","note":"\u00e9\n"}"#)]
    #[case::unknown_field(r#"{"name":"a","nmae":"b"}"#)]
    #[case::missing_field(r#"{"note":"n"}"#)]
    #[case::wrong_type(r#"{"name":"a","inner":{"port":"80"}}"#)]
    #[case::unknown_variant(r#"{"name":"a","mode":"maybe"}"#)]
    #[case::trailing_characters(r#"{"name":"a"} x"#)]
    #[case::not_json(r#"{"name":"#)]
    #[case::string_for_struct(r#""a""#)]
    #[case::array_for_tuple_kept(r#"{"name":"a","pair":[1]}"#)]
    #[case::tuple_too_long(r#"{"name":"a","pair":[1,true,3]}"#)]
    #[case::tuple_trailing_comma(r#"{"name":"a","pair":[1,true,]}"#)]
    #[case::tuple_cut_short(r#"{"name":"a","pair":[1,true"#)]
    #[case::tuple_then_junk(r#"{"name":"a","pair":[1,true}"#)]
    fn decodes_objects_as_serde_json_does(#[case] json: &str) {
        let (ours, theirs) = both(json);
        assert_eq!(ours, theirs);
        let reader = crate::json::from_str::<Doc>(json).map_err(|e| e.to_string());
        assert_eq!(reader, theirs, "the reader of src/json.rs");
    }

    #[rstest]
    #[case::document(
        r#"["a"]"#,
        "invalid type: sequence, expected struct Doc at line 1 column 0"
    )]
    #[case::nested(
        r#"{"name":"a","inner":[80]}"#,
        "invalid type: sequence, expected struct Inner at line 1 column 20"
    )]
    #[case::in_a_list(
        r#"{"name":"a","items":[{"port":1},[2]]}"#,
        "invalid type: sequence, expected struct Inner at line 1 column 32"
    )]
    #[case::in_an_option(
        r#"{"name":"a","inner":[]}"#,
        "invalid type: sequence, expected struct Inner at line 1 column 20"
    )]
    fn refuses_arrays_in_place_of_structs(#[case] json: &str, #[case] expected: &str) {
        let (ours, theirs) = both(json);
        assert_eq!(ours.map(|_| ()), Err(expected.to_string()));
        let reader = crate::json::from_str::<Doc>(json).map(|_| ());
        assert_eq!(reader.map_err(|e| e.to_string()), Err(expected.to_string()));
        assert_ne!(theirs.map(|_| ()), Err(expected.to_string()));
    }

    #[rstest]
    #[case::objects_only(false)]
    #[case::json_reader(true)]
    fn borrows_from_the_input(#[case] reader: bool) {
        let json = r#"{"name":"a","note":"plain","raw":[1, 2]}"#;
        let doc = match reader {
            false => from_str::<Doc>(json),
            true => crate::json::from_str::<Doc>(json),
        };
        let doc = doc.unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(doc.note, Cow::Borrowed("plain")));
        assert_eq!(doc.raw.map(|raw| raw.0.get()), Some("[1, 2]"));
    }
}
