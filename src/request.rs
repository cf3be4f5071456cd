//! Decoding of the admission request, reading only the envelope.
//!
//! Objects stay raw JSON until a rule decodes the few fields it reads.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

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
    #[serde(default, borrow)]
    pub object: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub old_object: Option<&'a RawValue>,
    #[serde(default)]
    pub dry_run: bool,
    /// Set when the document is a whole AdmissionReview rather than its request.
    #[serde(default, borrow)]
    request: Option<&'a RawValue>,
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

    /// Decodes the `validate` payload: the request and the raw settings, in
    /// one pass over the document. On failure a second, slower pass names the
    /// offending field.
    pub fn decode_payload(text: &'a str) -> Result<(Self, Option<&'a RawValue>), DecodeError> {
        #[derive(Deserialize)]
        struct Payload<'a> {
            #[serde(borrow)]
            request: Request<'a>,
            #[serde(default, borrow)]
            settings: Option<&'a RawValue>,
        }
        match serde_json::from_str::<Payload>(text) {
            Ok(payload) => Ok((payload.request.unwrap_review()?, payload.settings)),
            Err(_) => {
                let envelope: ValidationPayload = from_str(text, "the validate payload")?;
                Ok((Self::decode(envelope.request.get())?, envelope.settings))
            }
        }
    }

    fn unwrap_review(self) -> Result<Self, DecodeError> {
        match self.request {
            Some(inner) if self.uid.is_empty() => from_str(inner.get(), "the admission request"),
            _ => Ok(self),
        }
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
    raw: Option<&'a RawValue>,
    what: &str,
) -> Result<Option<T>, DecodeError> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => from_str(raw.get(), what).map(Some),
    }
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
