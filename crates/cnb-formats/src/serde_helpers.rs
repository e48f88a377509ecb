//! Shapes that changed across API versions, accepted in every form.

use serde::{Deserialize, Deserializer};

/// A command given as a string (older APIs) or an array of strings.
pub(crate) fn string_or_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Form>::deserialize(d)? {
        None => Vec::new(),
        Some(Form::One(s)) => vec![s],
        Some(Form::Many(v)) => v,
    })
}

/// `exec-env = ["a"]` (lifecycle) or `[[exec-env]] name = "a"` (spec).
pub(crate) fn exec_env<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Name(String),
        Table { name: String },
    }
    let items = Option::<Vec<Item>>::deserialize(d)?.unwrap_or_default();
    Ok(items
        .into_iter()
        .map(|i| match i {
            Item::Name(n) | Item::Table { name: n } => n,
        })
        .collect())
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
