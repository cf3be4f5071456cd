//! A string decoded from a request without a copy when it has no escapes.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;

/// A string borrowed from the JSON it was decoded from, or owned when its
/// escapes had to be undone. Compares, orders and looks up as its `str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(text: &'a str) -> Self {
        Text(Cow::Borrowed(text))
    }
}

impl From<String> for Text<'_> {
    fn from(text: String) -> Self {
        Text(Cow::Owned(text))
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain(r#""kube-system""#, "kube-system", true)]
    #[case::empty(r#""""#, "", true)]
    #[case::escaped(r#""kube\u002dsystem""#, "kube-system", false)]
    #[case::escaped_quote(r#""a\"b""#, "a\"b", false)]
    fn borrows_unless_escaped(#[case] json: &str, #[case] text: &str, #[case] borrowed: bool) {
        let decoded: Text = serde_json::from_str(json).unwrap();
        assert_eq!(&*decoded, text);
        assert_eq!(matches!(decoded.0, Cow::Borrowed(_)), borrowed);
    }

    fn borrowed(text: &Text) -> bool {
        matches!(text.0, Cow::Borrowed(_))
    }

    #[test]
    fn borrows_inside_options_vectors_and_maps() {
        type Fields<'a> = (
            Option<Text<'a>>,
            Vec<Text<'a>>,
            std::collections::BTreeMap<Text<'a>, Text<'a>>,
        );
        let json = r#"["a", ["b", "c\u0064"], {"e": "f"}]"#;
        let (option, vector, map): Fields = serde_json::from_str(json).unwrap();
        assert!(option.as_ref().is_some_and(borrowed));
        assert_eq!(
            vector.iter().map(borrowed).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(vector[1], "cd");
        assert!(map.iter().all(|(k, v)| borrowed(k) && borrowed(v)));
        #[derive(serde::Deserialize)]
        struct Labels<'a> {
            #[serde(borrow)]
            labels: std::collections::BTreeMap<Text<'a>, Text<'a>>,
        }
        let decoded: Labels = crate::json::from_str(r#"{"labels": {"app": "web"}}"#).unwrap();
        assert!(decoded
            .labels
            .iter()
            .all(|(k, v)| borrowed(k) && borrowed(v)));
    }
}
