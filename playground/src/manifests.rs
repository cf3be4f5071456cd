//! Multi-document YAML (or JSON) into objects, with errors per document.

use serde::Deserialize;
use serde_json::Value;

use crate::InputError;

pub struct Document {
    /// 1-based position in its text (a `List`'s items share their document's).
    pub index: usize,
    pub value: Value,
}

/// Parses `text`; documents that are not objects with apiVersion, kind and a
/// name become errors naming `source` and the document.
pub fn parse(text: &str, source: &str, errors: &mut Vec<InputError>) -> Vec<Document> {
    let mut documents = Vec::new();
    if text.trim().is_empty() {
        return documents;
    }
    let error = |document: usize, message: String| InputError {
        source: source.to_string(),
        document: Some(document),
        message,
    };
    for (position, deserializer) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let index = position.saturating_add(1);
        let value = match Value::deserialize(deserializer) {
            Ok(value) => value,
            Err(e) => {
                errors.push(error(index, format!("not valid YAML: {e}")));
                // The YAML stream cannot be resumed after a syntax error.
                break;
            }
        };
        let items = match value {
            Value::Null => continue,
            Value::Array(items) => items,
            Value::Object(ref map)
                if map
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List"))
                    && map.get("items").is_some_and(Value::is_array) =>
            {
                map.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            }
            other => vec![other],
        };
        for item in items {
            match check(&item) {
                Ok(()) => documents.push(Document { index, value: item }),
                Err(problem) => errors.push(error(index, problem)),
            }
        }
    }
    documents
}

fn check(object: &Value) -> Result<(), String> {
    let Some(map) = object.as_object() else {
        return Err(format!(
            "not a Kubernetes object (a mapping), but {}",
            type_name(object)
        ));
    };
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let kind = text("kind");
    if kind.is_empty() {
        return Err("no `kind`: every object needs apiVersion, kind and metadata.name".into());
    }
    if text("apiVersion").is_empty() {
        return Err(format!("{kind} has no `apiVersion`"));
    }
    let metadata = map.get("metadata");
    let named = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
    };
    if !named("name") && !named("generateName") {
        return Err(format!("{kind} has no `metadata.name`"));
    }
    Ok(())
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_json_and_lists() {
        let mut errors = Vec::new();
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"b\"}}, 7]}\n";
        let docs = parse(text, "manifests", &mut errors);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].index, 3);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("a number"));
    }
}
