//! Decoding of the admission request, reading only the envelope.
//!
//! Objects stay raw JSON until a rule decodes the few fields it reads.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json_scan;

/// Payload of the `validate` waPC function.
#[derive(Deserialize)]
pub struct ValidationPayload<'a> {
    #[serde(borrow)]
    pub request: &'a RawValue,
    #[serde(default, borrow)]
    pub settings: Option<&'a RawValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    #[default]
    Create,
    Update,
    Delete,
    Connect,
    #[serde(other)]
    Unknown,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
            Operation::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionKind<'a> {
    #[serde(default, borrow)]
    pub group: Cow<'a, str>,
    #[serde(default, borrow)]
    pub version: Cow<'a, str>,
    #[serde(default, borrow)]
    pub kind: Cow<'a, str>,
}

impl GroupVersionKind<'_> {
    /// True for `kind` in the core group (`""`) or in `group`.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group == group && self.kind == kind
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct UserInfo<'a> {
    #[serde(default, borrow)]
    pub username: Cow<'a, str>,
    #[serde(default, borrow)]
    pub groups: Vec<Cow<'a, str>>,
}

/// The fields of `AdmissionReview.request` every rule may need.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    #[serde(default, borrow)]
    pub uid: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "kind_or_review")]
    pub kind: GroupVersionKind<'a>,
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow)]
    pub namespace: Cow<'a, str>,
    #[serde(default)]
    pub operation: Operation,
    #[serde(default, borrow)]
    pub user_info: UserInfo<'a>,
    /// Raw JSON of the object, kept undecoded until a rule reads it.
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub object: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub old_object: Option<&'a str>,
    #[serde(default)]
    pub dry_run: bool,
    /// Set when the document is a whole AdmissionReview rather than its request.
    #[serde(default, borrow, deserialize_with = "raw_text")]
    request: Option<&'a str>,
}

fn raw_text<'de: 'a, 'a, D>(deserializer: D) -> Result<Option<&'a str>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<&'a RawValue>::deserialize(deserializer)?.map(RawValue::get))
}

/// `kind` is a GroupVersionKind in a request, and the string `AdmissionReview`
/// in a whole review; anything but a map is read as an empty kind.
fn kind_or_review<'de: 'a, 'a, D>(deserializer: D) -> Result<GroupVersionKind<'a>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct KindVisitor;

    impl<'de> serde::de::Visitor<'de> for KindVisitor {
        type Value = GroupVersionKind<'de>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a group, version and kind")
        }

        fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
            GroupVersionKind::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }

        fn visit_seq<S: serde::de::SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> Result<Self::Value, S::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(GroupVersionKind::default())
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(GroupVersionKind::default())
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(GroupVersionKind::default())
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(GroupVersionKind::default())
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(GroupVersionKind::default())
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(GroupVersionKind::default())
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(GroupVersionKind::default())
        }
    }

    deserializer.deserialize_any(KindVisitor)
}

/// Why a request or one of its objects could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub what: String,
    pub detail: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot decode {}: {}", self.what, self.detail)
    }
}

impl<'a> Request<'a> {
    /// Decodes a bare `AdmissionReview.request` or a whole AdmissionReview.
    pub fn decode(raw: &'a str) -> Result<Self, DecodeError> {
        from_str::<Request<'a>>(raw, "the admission request")?.unwrap_review()
    }

    /// Decodes the `validate` payload: the request and the raw settings. The
    /// objects are only delimited, not decoded; on any problem a full serde
    /// pass decodes the payload again and names the offending field.
    pub fn decode_payload(text: &'a str) -> Result<(Self, Option<&'a RawValue>), DecodeError> {
        if let Some(decoded) = Self::split_payload(text) {
            return Ok(decoded);
        }
        let envelope: ValidationPayload = from_str(text, "the validate payload")?;
        Ok((Self::decode(envelope.request.get())?, envelope.settings))
    }

    fn split_payload(text: &'a str) -> Option<(Self, Option<&'a RawValue>)> {
        let (mut request, mut settings) = (None, None);
        for (key, value) in json_scan::members(text)? {
            let slot = match key {
                "request" => &mut request,
                "settings" => &mut settings,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        let settings = match settings {
            Some(raw) if raw != "null" => Some(serde_json::from_str::<&RawValue>(raw).ok()?),
            _ => None,
        };
        let mut request = Self::split(request?)?;
        if request.uid.is_empty() {
            if let Some(inner) = request.request {
                request = Self::split(inner)?;
            }
        }
        Some((request, settings))
    }

    fn unwrap_review(self) -> Result<Self, DecodeError> {
        match self.request {
            Some(inner) if self.uid.is_empty() => from_str(inner, "the admission request"),
            _ => Ok(self),
        }
    }

    /// The request's members, decoded one by one; what rules never read is skipped.
    fn split(text: &'a str) -> Option<Self> {
        let mut request = Request::default();
        let mut seen = 0u16;
        for (key, value) in json_scan::members(text)? {
            let field = match key {
                "uid" => 0,
                "kind" => 1,
                "name" => 2,
                "namespace" => 3,
                "operation" => 4,
                "userInfo" => 5,
                "object" => 6,
                "oldObject" => 7,
                "dryRun" => 8,
                "request" => 9,
                _ => continue,
            };
            if seen & (1 << field) != 0 {
                return None;
            }
            seen |= 1 << field;
            let raw = (value != "null").then_some(value);
            match field {
                0 => request.uid = text_of(value)?,
                1 => {
                    request.kind =
                        kind_or_review(&mut serde_json::Deserializer::from_str(value)).ok()?
                }
                2 => request.name = text_of(value)?,
                3 => request.namespace = text_of(value)?,
                4 => request.operation = serde_json::from_str(value).ok()?,
                5 => request.user_info = serde_json::from_str(value).ok()?,
                6 => request.object = raw,
                7 => request.old_object = raw,
                8 => request.dry_run = serde_json::from_str(value).ok()?,
                _ => request.request = raw,
            }
        }
        Some(request)
    }

    /// Decodes the fields a rule reads from `object`; `None` when absent or null.
    pub fn object<T: Deserialize<'a>>(&self) -> Result<Option<T>, DecodeError> {
        decode_optional(self.object, "object")
    }

    /// Decodes the fields a rule reads from `oldObject`; `None` when absent or null.
    pub fn old_object<T: Deserialize<'a>>(&self) -> Result<Option<T>, DecodeError> {
        decode_optional(self.old_object, "oldObject")
    }

    /// `Kind namespace/name`, naming the object in messages.
    pub fn object_ref(&self) -> String {
        let name = if self.name.is_empty() {
            "(generated name)"
        } else {
            &self.name
        };
        if self.namespace.is_empty() {
            format!("{} {}", self.kind.kind, name)
        } else {
            format!("{} {}/{}", self.kind.kind, self.namespace, name)
        }
    }
}

fn decode_optional<'a, T: Deserialize<'a>>(
    raw: Option<&'a str>,
    what: &str,
) -> Result<Option<T>, DecodeError> {
    match raw {
        None | Some("null") => Ok(None),
        Some(raw) => from_str(raw, what).map(Some),
    }
}

/// A JSON string, borrowed unless it holds escapes.
fn text_of(json: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<&str>(json)
        .map(Cow::Borrowed)
        .or_else(|_| serde_json::from_str::<String>(json).map(Cow::Owned))
        .ok()
}

/// Deserialises borrowed JSON, naming the path of the offending field on error.
pub fn from_str<'a, T: Deserialize<'a>>(json: &'a str, what: &str) -> Result<T, DecodeError> {
    serde_json::from_str(json).map_err(|e| path_error(what, json.as_bytes(), e))
}

/// Deserialises owned JSON from bytes, naming the path of the offending field on error.
pub fn from_slice<T: DeserializeOwned>(json: &[u8], what: &str) -> Result<T, DecodeError> {
    serde_json::from_slice(json).map_err(|e| path_error(what, json, e))
}

fn path_error(what: &str, json: &[u8], error: serde_json::Error) -> DecodeError {
    let path = crate::json_path::error_path(json, &error);
    let detail = if path.is_empty() {
        error.to_string()
    } else {
        format!("{path}: {error}")
    };
    DecodeError {
        what: what.to_string(),
        detail,
    }
}

/// `metadata` fields rules commonly read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow)]
    pub namespace: Cow<'a, str>,
    #[serde(default, borrow)]
    pub labels: std::collections::BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::bare_request(
        r#"{"uid":"u1","operation":"UPDATE","kind":{"kind":"Secret"},"namespace":"ns","name":"n"}"#
    )]
    #[case::whole_review(r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"UPDATE","kind":{"kind":"Secret"},"namespace":"ns","name":"n"}}"#)]
    fn decodes_request_or_review(#[case] json: &str) {
        let request = Request::decode(json).expect("decodes");
        assert_eq!(request.uid, "u1");
        assert_eq!(request.operation, Operation::Update);
        assert_eq!(request.object_ref(), "Secret ns/n");
    }

    #[rstest]
    #[case::absent(r#"{"uid":"u"}"#)]
    #[case::null(r#"{"uid":"u","object":null}"#)]
    fn missing_object_is_none(#[case] json: &str) {
        let request = Request::decode(json).expect("decodes");
        let object: Option<ObjectMeta> = request.object().expect("no error");
        assert!(object.is_none());
    }

    #[rstest]
    #[case::bare(
        r#"{"request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"DaemonSet"},"name":"n","namespace":"ns","operation":"CREATE","userInfo":{"username":"a\u0062","groups":["g"]},"object":{"a":[1,"}"]},"oldObject":null,"dryRun":true,"options":{"x":1}},"settings":{"k":1}}"#
    )]
    #[case::whole_review(
        r#"{"settings":null,"request":{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Secret"},"object":{}}}}"#
    )]
    #[case::escaped_name(r#"{"request":{"uid":"u","name":"a\"b","object":null}}"#)]
    #[case::spaced("{ \"request\" : { \"uid\" : \"u\" , \"operation\" : \"DELETE\" } }")]
    fn splitting_agrees_with_serde(#[case] payload: &str) {
        let (split, split_settings) = Request::split_payload(payload).expect("splits");
        let envelope: ValidationPayload = from_str(payload, "payload").expect("decodes");
        let decoded = Request::decode(envelope.request.get()).expect("decodes");
        assert_eq!(format!("{split:?}"), format!("{decoded:?}"));
        assert_eq!(
            split_settings.map(RawValue::get),
            envelope.settings.map(RawValue::get)
        );
    }

    #[rstest]
    #[case::duplicate_uid(r#"{"request":{"uid":"a","uid":"b"}}"#)]
    #[case::wrong_type(r#"{"request":{"uid":7}}"#)]
    #[case::duplicate_request(r#"{"request":{},"request":{}}"#)]
    #[case::escaped_key(r#"{"request":{"\u0075id":"a"}}"#)]
    #[case::not_json("not json")]
    fn what_cannot_be_split_goes_to_serde(#[case] payload: &str) {
        assert!(Request::split_payload(payload).is_none());
    }

    #[test]
    fn unknown_operation_is_tolerated() {
        let request = Request::decode(r#"{"uid":"u","operation":"PATCH"}"#).expect("decodes");
        assert_eq!(request.operation, Operation::Unknown);
    }

    #[test]
    fn wrong_type_names_the_field() {
        let error = Request::decode(r#"{"uid":"u","userInfo":{"username":7}}"#).unwrap_err();
        assert!(error.detail.contains("userInfo.username"), "{error}");
    }
}
