//! Decoding of the `validate` payload and the admission request, in one pass.
//!
//! A rule's objects are decoded in that pass as the rule's own type when it
//! asks for them ([`Prefetch`]), and stay raw JSON otherwise.

use std::borrow::Cow;

use std::marker::PhantomData;
use std::rc::Rc;

use crate::json::{self, from_str_seed};
use crate::text::Text;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
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
    pub groups: Vec<Text<'a>>,
}

/// The fields of `AdmissionReview.request` every rule may need.
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub uid: Cow<'a, str>,
    pub kind: GroupVersionKind<'a>,
    pub name: Cow<'a, str>,
    pub namespace: Cow<'a, str>,
    pub operation: Operation,
    pub user_info: UserInfo<'a>,
    /// Raw `object`; `None` when absent, null, or decoded already in the
    /// request's pass (a rule that prefetches reads its [`Objects`]).
    pub object: Option<&'a RawValue>,
    /// Raw `oldObject`, as `object`.
    pub old_object: Option<&'a RawValue>,
    pub dry_run: bool,
    /// Set when the document is a whole AdmissionReview rather than its request.
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
        Self::decode_with::<IgnoredAny>(raw, no_prefetch).map(|(request, _)| request)
    }

    fn decode_with<T: Deserialize<'a>>(
        raw: &'a str,
        prefetch: Prefetcher,
    ) -> Result<(Self, Objects<'a, T>), DecodeError> {
        let (request, objects) = from_str_seed(raw, RequestSeed::<T>::new(prefetch))
            .or_else(|_| from_str_seed(raw, RequestSeed::<T>::new(no_prefetch)))
            .map_err(|e| path_error("the admission request", raw.as_bytes(), e))?;
        request.unwrap_review(objects, prefetch)
    }

    /// Decodes the `validate` payload: the request and the raw settings. The
    /// reference the one-pass decodings are tested against.
    #[cfg(test)]
    pub fn decode_payload(text: &'a str) -> Result<(Self, Option<&'a RawValue>), DecodeError> {
        Self::decode_payload_with::<IgnoredAny>(text, no_prefetch)
            .map(|(request, settings, _)| (request, settings))
    }

    /// Decodes the `validate` payload in one pass over the document, and in
    /// that pass decodes `object` and `oldObject` as `T` where `prefetch`
    /// asks for it, judged on `kind` and `operation` (policy-server writes
    /// them first, as Kubernetes does). When a field comes earlier than that
    /// or an object fails to decode, the objects stay raw, for the rule to
    /// decode or to report. On failure a slower pass names the offending field.
    pub fn decode_payload_with<T: Deserialize<'a>>(
        text: &'a str,
        prefetch: Prefetcher,
    ) -> Result<(Self, Option<&'a RawValue>, Objects<'a, T>), DecodeError> {
        match Self::decode_members(text, prefetch) {
            Ok((request, settings, objects)) => {
                let (request, objects) = request.unwrap_review(objects, prefetch)?;
                Ok((request, settings.flatten(), objects))
            }
            Err(_) => {
                let envelope: ValidationPayload = from_str(text, "the validate payload")?;
                let (request, objects) = Self::decode_with(envelope.request.get(), prefetch)?;
                Ok((request, envelope.settings, objects))
            }
        }
    }

    /// Decodes the `validate` payload as [`Self::decode_payload_with`] does,
    /// and its settings with `parse`, once per instance
    /// ([`crate::settings::cached`]). When the payload ends with the settings
    /// already decoded, the rest is read without them, from a copy in `head`.
    pub fn decode_payload_settled<T: Deserialize<'a>, S: 'static, E: std::fmt::Display>(
        text: &'a str,
        head: &'a mut String,
        prefetch: Prefetcher,
        parse: impl FnOnce(Option<&RawValue>) -> Result<S, E>,
    ) -> Result<(Self, Rc<S>, Objects<'a, T>), String> {
        if let Some((rest, settings)) = crate::settings::cached_last_member::<S>(text) {
            *head = [rest, "}"].concat();
            let head: &'a String = head;
            // A `settings` member in the rest is a duplicate: the full pass
            // below reports it, as it does any other fault.
            if let Ok((request, None, objects)) = Self::decode_members(head, prefetch) {
                if let Ok((request, objects)) = request.unwrap_review(objects, prefetch) {
                    return Ok((request, settings, objects));
                }
            }
        }
        let (request, settings, objects) =
            Self::decode_payload_with(text, prefetch).map_err(|e| e.to_string())?;
        let settings = crate::settings::cached(settings, parse).map_err(|e| e.to_string())?;
        Ok((request, settings, objects))
    }

    /// The one-pass decoding of the payload's members; `Some(None)` is
    /// `"settings": null`.
    fn decode_members<T: Deserialize<'a>>(
        text: &'a str,
        prefetch: Prefetcher,
    ) -> Result<Members<'a, T>, serde_json::Error> {
        from_str_seed(text, PayloadSeed::<T>::new(prefetch))
            .or_else(|_| from_str_seed(text, PayloadSeed::<T>::new(no_prefetch)))
    }

    fn unwrap_review<T: Deserialize<'a>>(
        self,
        objects: Objects<'a, T>,
        prefetch: Prefetcher,
    ) -> Result<(Self, Objects<'a, T>), DecodeError> {
        match self.request {
            Some(inner) if self.uid.is_empty() => Self::decode_with(inner.get(), prefetch),
            _ => Ok((self, objects)),
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
        let (namespace, slash) = if self.namespace.is_empty() {
            ("", "")
        } else {
            (self.namespace.as_ref(), "/")
        };
        [self.kind.kind.as_ref(), " ", namespace, slash, name].concat()
    }
}

/// Fields of Kubernetes' AdmissionRequest in declaration order.
const ADMISSION_REQUEST_FIELDS: [&str; 15] = [
    "uid",
    "kind",
    "resource",
    "subResource",
    "requestKind",
    "requestResource",
    "requestSubResource",
    "name",
    "namespace",
    "operation",
    "userInfo",
    "object",
    "oldObject",
    "dryRun",
    "options",
];

/// The `validate` payload as policy-server and kwctl write it: the request's
/// fields in AdmissionRequest order (they serialise a struct, not a sorted
/// map), fields it does not know after them, then the settings.
pub fn write_payload(
    request: &serde_json::Value,
    settings: &serde_json::Value,
) -> serde_json::Result<Vec<u8>> {
    let mut out = b"{\"request\":".to_vec();
    match request.as_object() {
        Some(fields) => {
            let known = ADMISSION_REQUEST_FIELDS
                .iter()
                .filter_map(|key| fields.get_key_value(*key));
            let unknown = fields
                .iter()
                .filter(|(key, _)| !ADMISSION_REQUEST_FIELDS.contains(&key.as_str()));
            out.push(b'{');
            for (index, (key, value)) in known.chain(unknown).enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, key)?;
                out.push(b':');
                serde_json::to_writer(&mut out, value)?;
            }
            out.push(b'}');
        }
        None => serde_json::to_writer(&mut out, request)?,
    }
    out.extend_from_slice(b",\"settings\":");
    serde_json::to_writer(&mut out, settings)?;
    out.push(b'}');
    Ok(out)
}

/// Leaves both objects raw.
pub fn no_prefetch(_: &GroupVersionKind, _: Operation) -> Prefetch {
    Prefetch::NONE
}

fn decode_optional<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    what: &str,
) -> Result<Option<T>, DecodeError> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => from_str_seed(raw.get(), ObjectSeed::<T>(PhantomData))
            .map_err(|e| path_error(what, raw.get().as_bytes(), e)),
    }
}

/// An object decoded as `Option<T>`. Both roads to a rule's object (in the
/// request's pass, or later from raw JSON) go through this one function, so
/// the module holds one copy of `T`'s decoder rather than one inlined into each.
struct ObjectSeed<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ObjectSeed<T> {
    type Value = Option<T>;

    #[inline(never)]
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        Option::<T>::deserialize(de)
    }
}

/// Deserialises borrowed JSON, naming the path of the offending field on error.
pub fn from_str<'a, T: Deserialize<'a>>(json: &'a str, what: &str) -> Result<T, DecodeError> {
    json::from_str(json).map_err(|e| path_error(what, json.as_bytes(), e))
}

/// Deserialises JSON from bytes, naming the path of the offending field on error.
/// Read as text, like requests, so a type decoded from both keeps one decoder.
pub fn from_slice<T: DeserializeOwned>(json: &[u8], what: &str) -> Result<T, DecodeError> {
    from_slice_seed(json, what, std::marker::PhantomData::<T>)
}

/// [`from_slice`] with a seed.
pub fn from_slice_seed<'a, S: DeserializeSeed<'a>>(
    json: &'a [u8],
    what: &str,
    seed: S,
) -> Result<S::Value, DecodeError> {
    match crate::utf8::from_utf8(json) {
        Ok(text) => from_str_seed(text, seed).map_err(|e| path_error(what, json, e)),
        Err(e) => Err(DecodeError {
            what: what.to_string(),
            detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        }),
    }
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

/// Which of a request's objects a rule wants decoded in the envelope pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefetch {
    pub object: bool,
    pub old_object: bool,
}

impl Prefetch {
    pub const NONE: Prefetch = Prefetch {
        object: false,
        old_object: false,
    };
    pub const OBJECT: Prefetch = Prefetch {
        object: true,
        old_object: false,
    };
    pub const BOTH: Prefetch = Prefetch {
        object: true,
        old_object: true,
    };
}

/// `object` or `oldObject` as a rule reads it: decoded in the envelope pass,
/// or still raw JSON.
pub enum Object<'a, T> {
    Decoded(Option<T>),
    Raw(Option<&'a RawValue>, &'static str),
}

impl<'a, T: Deserialize<'a>> Object<'a, T> {
    /// The decoded object; `None` when absent or null.
    pub fn decode(self) -> Result<Option<T>, DecodeError> {
        match self {
            Object::Decoded(object) => Ok(object),
            Object::Raw(raw, what) => decode_optional(raw, what),
        }
    }
}

impl<'a, T> Object<'a, T> {
    /// The object as `U`, a narrower type for one kind: decoded as `U` when
    /// raw, converted when decoded already.
    pub fn decode_as<U: Deserialize<'a>>(
        self,
        convert: impl FnOnce(T) -> U,
    ) -> Result<Option<U>, DecodeError> {
        match self {
            Object::Decoded(object) => Ok(object.map(convert)),
            Object::Raw(raw, what) => decode_optional(raw, what),
        }
    }
}

/// A request's `object` and `oldObject`, as rule type `T`.
pub struct Objects<'a, T> {
    pub object: Object<'a, T>,
    pub old_object: Object<'a, T>,
}

impl<'a, T> Objects<'a, T> {
    /// Both objects left raw, decoded when the rule reads them.
    pub fn raw(request: &Request<'a>) -> Self {
        Objects {
            object: Object::Raw(request.object, "object"),
            old_object: Object::Raw(request.old_object, "oldObject"),
        }
    }
}

/// Which objects of a request of a kind and operation a rule wants decoded.
pub type Prefetcher = fn(&GroupVersionKind, Operation) -> Prefetch;

/// The `validate` payload, its request read by the inner [`RequestSeed`].
struct PayloadSeed<T>(RequestSeed<T>);

impl<T> PayloadSeed<T> {
    fn new(prefetch: Prefetcher) -> Self {
        PayloadSeed(RequestSeed::new(prefetch))
    }
}

type Members<'a, T> = (Request<'a>, Option<Option<&'a RawValue>>, Objects<'a, T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for PayloadSeed<T> {
    type Value = Members<'de, T>;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for PayloadSeed<T> {
    type Value = Members<'de, T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a validate payload")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        use serde::de::Error;
        let mut request = None;
        let mut settings = None;
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum PayloadField {
            Request,
            Settings,
            #[serde(other)]
            Other,
        }
        while let Some(key) = map.next_key::<PayloadField>()? {
            match key {
                PayloadField::Request if request.is_none() => {
                    request = Some(map.next_value_seed(RequestSeed::<T>::new(self.0.prefetch))?)
                }
                PayloadField::Settings if settings.is_none() => settings = Some(map.next_value()?),
                PayloadField::Request => return Err(M::Error::duplicate_field("request")),
                PayloadField::Settings => return Err(M::Error::duplicate_field("settings")),
                PayloadField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (request, objects) = request.ok_or_else(|| M::Error::missing_field("request"))?;
        Ok((request, settings, objects))
    }
}

struct RequestSeed<T> {
    prefetch: Prefetcher,
    wanted: PhantomData<T>,
}

impl<T> RequestSeed<T> {
    fn new(prefetch: Prefetcher) -> Self {
        RequestSeed {
            prefetch,
            wanted: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for RequestSeed<T> {
    type Value = (Request<'de>, Objects<'de, T>);

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

/// `kind`, read as [`kind_or_review`] reads it.
struct KindSeed;

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = GroupVersionKind<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        kind_or_review(de)
    }
}

/// A string borrowed from the document where it has no escapes, as
/// `#[serde(borrow)]` reads a `Cow<str>`.
pub(crate) struct BorrowedStr;

impl<'de> DeserializeSeed<'de> for BorrowedStr {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for BorrowedStr {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_owned()))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum RequestField {
    Uid,
    Kind,
    Name,
    Namespace,
    Operation,
    UserInfo,
    Object,
    OldObject,
    DryRun,
    Request,
    #[serde(other)]
    Other,
}

impl RequestField {
    fn name(self) -> &'static str {
        match self {
            RequestField::Uid => "uid",
            RequestField::Kind => "kind",
            RequestField::Name => "name",
            RequestField::Namespace => "namespace",
            RequestField::Operation => "operation",
            RequestField::UserInfo => "userInfo",
            RequestField::Object => "object",
            RequestField::OldObject => "oldObject",
            RequestField::DryRun => "dryRun",
            RequestField::Request => "request",
            RequestField::Other => "",
        }
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for RequestSeed<T> {
    type Value = (Request<'de>, Objects<'de, T>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an admission request")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        use serde::de::Error;
        let mut request = Request::default();
        let mut object = None;
        let mut old_object = None;
        // Bit per field seen, so a duplicate is refused as the derived decoder refuses it.
        let mut seen = 0u16;
        while let Some(field) = map.next_key::<RequestField>()? {
            let bit = 1u16 << (field as u16);
            if field != RequestField::Other && seen & bit != 0 {
                return Err(M::Error::duplicate_field(field.name()));
            }
            seen |= bit;
            let judged = 1 << (RequestField::Kind as u16) | 1 << (RequestField::Operation as u16);
            let prefetch = match field {
                RequestField::Object | RequestField::OldObject if seen & judged == judged => {
                    (self.prefetch)(&request.kind, request.operation)
                }
                _ => Prefetch::NONE,
            };
            match field {
                RequestField::Uid => request.uid = map.next_value_seed(BorrowedStr)?,
                RequestField::Kind => request.kind = map.next_value_seed(KindSeed)?,
                RequestField::Name => request.name = map.next_value_seed(BorrowedStr)?,
                RequestField::Namespace => request.namespace = map.next_value_seed(BorrowedStr)?,
                RequestField::Operation => request.operation = map.next_value()?,
                RequestField::UserInfo => request.user_info = map.next_value()?,
                RequestField::Object if prefetch.object => {
                    object = Some(map.next_value_seed(ObjectSeed::<T>(PhantomData))?)
                }
                RequestField::OldObject if prefetch.old_object => {
                    old_object = Some(map.next_value_seed(ObjectSeed::<T>(PhantomData))?)
                }
                RequestField::Object => request.object = map.next_value()?,
                RequestField::OldObject => request.old_object = map.next_value()?,
                RequestField::DryRun => request.dry_run = map.next_value()?,
                RequestField::Request => request.request = map.next_value()?,
                RequestField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let objects = Objects {
            object: match object {
                Some(decoded) => Object::Decoded(decoded),
                None => Object::Raw(request.object, "object"),
            },
            old_object: match old_object {
                Some(decoded) => Object::Decoded(decoded),
                None => Object::Raw(request.old_object, "oldObject"),
            },
        };
        Ok((request, objects))
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
    pub labels: std::collections::BTreeMap<Text<'a>, Text<'a>>,
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

    fn judged(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        match operation {
            Operation::Update if kind.kind == "Secret" => Prefetch::BOTH,
            Operation::Create if kind.kind == "Secret" => Prefetch::OBJECT,
            _ => Prefetch::NONE,
        }
    }

    fn names(objects: Objects<ObjectMeta>) -> (Option<String>, Option<String>) {
        let name = |o: Object<ObjectMeta>| o.decode().expect("decodes").map(|m| m.name.into());
        (name(objects.object), name(objects.old_object))
    }

    #[rstest]
    #[case::update_both_decoded(
        r#"{"request":{"uid":"u","kind":{"kind":"Secret"},"operation":"UPDATE","object":{"name":"new"},"oldObject":{"name":"old"}},"settings":{"a":1}}"#,
        (true, true)
    )]
    #[case::create_object_decoded(
        r#"{"request":{"uid":"u","kind":{"kind":"Secret"},"operation":"CREATE","object":{"name":"new"},"oldObject":{"name":"old"}},"settings":{"a":1}}"#,
        (true, false)
    )]
    #[case::other_kind_raw(
        r#"{"request":{"uid":"u","kind":{"kind":"Pod"},"operation":"UPDATE","object":{"name":"new"},"oldObject":{"name":"old"}},"settings":{"a":1}}"#,
        (false, false)
    )]
    #[case::object_before_kind_raw(
        r#"{"settings":{"a":1},"request":{"uid":"u","object":{"name":"new"},"oldObject":{"name":"old"},"kind":{"kind":"Secret"},"operation":"UPDATE"}}"#,
        (false, false)
    )]
    #[case::whole_review_decoded_too(
        r#"{"request":{"kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Secret"},"operation":"UPDATE","object":{"name":"new"},"oldObject":{"name":"old"}}},"settings":{"a":1}}"#,
        (true, true)
    )]
    #[case::malformed_object_left_to_the_rule(
        r#"{"request":{"uid":"u","kind":{"kind":"Secret"},"operation":"UPDATE","object":{"name":"new"},"oldObject":{"name":7}},"settings":{"a":1}}"#,
        (false, false)
    )]
    fn one_pass_decodes_what_the_rule_asks_for(
        #[case] payload: &str,
        #[case] decoded: (bool, bool),
    ) {
        let (request, settings, objects) =
            Request::decode_payload_with::<ObjectMeta>(payload, judged).expect("decodes");
        let (two_pass, two_pass_settings) = Request::decode_payload(payload).expect("decodes");
        assert_eq!(
            (
                request.uid.as_ref(),
                request.operation,
                request.kind.kind.as_ref()
            ),
            (
                two_pass.uid.as_ref(),
                two_pass.operation,
                two_pass.kind.kind.as_ref()
            )
        );
        assert_eq!(
            settings.map(RawValue::get),
            two_pass_settings.map(RawValue::get)
        );
        assert_eq!(
            (
                matches!(objects.object, Object::Decoded(_)),
                matches!(objects.old_object, Object::Decoded(_))
            ),
            decoded
        );
        if decoded.1 {
            assert_eq!(names(objects), (Some("new".into()), Some("old".into())));
        } else if payload.contains(r#""name":7"#) {
            let error = objects.old_object.decode().map(|_| ()).unwrap_err();
            assert!(error.detail.contains("name"), "{error}");
        }
    }

    #[rstest]
    #[case::duplicate_request_field(
        r#"{"request":{"uid":"u","uid":"v","kind":{"kind":"Secret"},"operation":"CREATE"}}"#
    )]
    #[case::duplicate_payload_field(r#"{"request":{"uid":"u"},"request":{"uid":"v"}}"#)]
    #[case::trailing_garbage(r#"{"request":{"uid":"u"}} x"#)]
    #[case::no_request(r#"{"settings":{}}"#)]
    fn one_pass_fails_as_two_passes_fail(#[case] payload: &str) {
        let one = Request::decode_payload_with::<ObjectMeta>(payload, judged).map(|_| ());
        let two = Request::decode_payload(payload).map(|_| ());
        assert!(two.is_err());
        assert_eq!(one, two);
    }

    #[rstest]
    #[case::decoded(b"{\"a\":[\"x\",\"y\"]}", Ok(vec!["x", "y"]))]
    #[case::names_the_field(b"{\"a\":[\"x\",1]}", Err("cannot decode the answer: a[1]: invalid type: integer `1`, expected a string at line 1 column 11"))]
    #[case::not_utf8(
        b"{\"a\":[\"\xff\"]}",
        Err("cannot decode the answer: invalid UTF-8 at byte 7")
    )]
    fn bytes_are_read_as_text(#[case] json: &[u8], #[case] expected: Result<Vec<&str>, &str>) {
        #[derive(Deserialize)]
        struct Answer {
            a: Vec<String>,
        }
        let decoded = from_slice::<Answer>(json, "the answer").map_err(|e| e.to_string());
        let expected = expected
            .map(|a| a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map_err(str::to_string);
        assert_eq!(decoded.map(|answer| answer.a), expected);
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        a: i64,
    }

    const SAMPLE_REQUEST: &str = r#"{"uid":"u","kind":{"kind":"Secret"},"operation":"UPDATE","object":{"name":"new"},"oldObject":{"name":"old"}}"#;

    /// Decodes as `validate` does, counting how often settings are parsed.
    fn settled(
        payload: &str,
        parses: &std::cell::Cell<u32>,
    ) -> (Result<(String, i64), String>, bool) {
        let mut head = String::new();
        let decoded = Request::decode_payload_settled::<ObjectMeta, _, _>(
            payload,
            &mut head,
            judged,
            |raw: Option<&RawValue>| {
                parses.set(parses.get() + 1);
                serde_json::from_str::<Sample>(raw.map_or("null", RawValue::get))
            },
        )
        .map(|(request, settings, objects)| {
            assert!(matches!(objects.object, Object::Decoded(_)));
            (request.uid.to_string(), settings.a)
        });
        (decoded, !head.is_empty())
    }

    #[rstest]
    #[case::same_settings_last(r#"{"request":REQUEST,"settings":{"a":1}}"#, Ok(("u", 1)), (true, 0))]
    #[case::other_settings(r#"{"request":REQUEST,"settings":{"a":2}}"#, Ok(("u", 2)), (false, 1))]
    #[case::same_settings_first(r#"{"settings":{"a":1},"request":REQUEST}"#, Ok(("u", 1)), (false, 0))]
    #[case::same_settings_spaced(r#"{"request":REQUEST, "settings": {"a":1}}"#, Ok(("u", 1)), (false, 0))]
    #[case::duplicate_after_null(
        r#"{"request":REQUEST,"settings":null,"settings":{"a":1}}"#,
        Err("duplicate field `settings`"),
        (true, 0)
    )]
    #[case::duplicate_after_other(
        r#"{"settings":{"a":2},"request":REQUEST,"settings":{"a":1}}"#,
        Err("duplicate field `settings`"),
        (true, 0)
    )]
    #[case::request_left_open(
        r#"{"request":{"uid":"u","settings":{"a":1}}"#,
        Err("EOF while parsing an object"),
        (true, 0)
    )]
    fn known_settings_last_are_not_read_again(
        #[case] payload: &str,
        #[case] expected: Result<(&str, i64), &str>,
        #[case] (read_without_settings, parses_after_the_first): (bool, u32),
    ) {
        let parses = std::cell::Cell::new(0);
        let first = format!(r#"{{"request":{SAMPLE_REQUEST},"settings":{{"a":1}}}}"#);
        assert_eq!(settled(&first, &parses), (Ok(("u".to_string(), 1)), false));
        assert_eq!(parses.get(), 1);
        let payload = payload.replace("REQUEST", SAMPLE_REQUEST);
        let (decoded, read_head) = settled(&payload, &parses);
        match (decoded, expected) {
            (Ok(found), Ok((uid, a))) => assert_eq!(found, (uid.to_string(), a)),
            (Err(found), Err(problem)) => assert!(found.contains(problem), "{found}"),
            (found, expected) => panic!("{payload}: {found:?}, expected {expected:?}"),
        }
        assert_eq!(
            (read_head, parses.get() - 1),
            (read_without_settings, parses_after_the_first),
            "{payload}"
        );
    }

    #[test]
    fn payload_is_written_in_admission_request_order() {
        let request = serde_json::json!({
            "zeta": 1, "userInfo": {}, "uid": "u", "oldObject": null, "operation": "UPDATE",
            "object": {}, "namespace": "ns", "name": "n", "kind": {"kind": "Secret"},
        });
        let payload = write_payload(&request, &serde_json::json!({"a": 1})).expect("writes");
        assert_eq!(
            String::from_utf8(payload).expect("UTF-8"),
            r#"{"request":{"uid":"u","kind":{"kind":"Secret"},"name":"n","namespace":"ns","operation":"UPDATE","userInfo":{},"object":{},"oldObject":null,"zeta":1},"settings":{"a":1}}"#
        );
    }

    #[test]
    fn wrong_type_names_the_field() {
        let error = Request::decode(r#"{"uid":"u","userInfo":{"username":7}}"#).unwrap_err();
        assert!(error.detail.contains("userInfo.username"), "{error}");
    }
}
