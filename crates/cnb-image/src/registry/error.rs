//! The registry backend's errors: one line naming the operation, the image and, when retries
//! did not cure it, what to check.

use super::retry::{Class, Failure};
use crate::ImageRef;

/// Errors of the registry backend; every message names the operation and the image.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry refused the credentials (or wanted some).
    #[error(
        "{op} '{reference}': unauthorized (credentials missing or rejected by the registry): check the credentials for {} in CNB_REGISTRY_AUTH or the docker config",
        registry_of(reference)
    )]
    Unauthorized {
        /// The operation ("pull manifest", "push blob", ...).
        op: &'static str,
        /// The image reference.
        reference: String,
    },
    /// The registry does not have what was asked for.
    #[error("{op} '{reference}': not found")]
    NotFound {
        /// The operation.
        op: &'static str,
        /// The image reference.
        reference: String,
    },
    /// Any other failure, after retries where they made sense.
    #[error("{op} '{reference}': {reason}{}", hint(reason, reference))]
    Failed {
        /// The operation.
        op: &'static str,
        /// The image reference.
        reference: String,
        /// What went wrong.
        reason: String,
    },
    /// Credentials configuration that cannot be used (`CNB_REGISTRY_AUTH`, docker config).
    #[error("registry credentials: {0}")]
    AuthConfig(String),
    /// A registry setting that cannot be used.
    #[error("registry settings: {0}")]
    Config(String),
    /// A CA certificate that cannot be read or used.
    #[error("registry tls setup: {0}")]
    Tls(String),
    /// The private runtime could not start.
    #[error("registry client runtime: {0}")]
    Runtime(String),
}

impl RegistryError {
    pub(super) fn from_failure(
        op: &'static str,
        reference: impl Into<String>,
        failure: Failure,
    ) -> Self {
        let reference = reference.into();
        match failure.class {
            Class::Unauthorized => RegistryError::Unauthorized { op, reference },
            Class::NotFound => RegistryError::NotFound { op, reference },
            Class::Transient | Class::Fatal => RegistryError::Failed {
                op,
                reference,
                reason: failure.reason,
            },
        }
    }
}

/// The registry part of a reference (`host[:port]`), for messages.
fn registry_of(reference: &str) -> String {
    match ImageRef::parse(reference.split('@').next().unwrap_or(reference)) {
        Ok(image) => image.registry,
        Err(_) => reference.split('/').next().unwrap_or(reference).to_string(),
    }
}

/// What to check after a failure that retries did not cure.
fn hint(reason: &str, reference: &str) -> String {
    let registry = registry_of(reference);
    let r = reason.to_ascii_lowercase();
    if r.contains("certificate") {
        format!(
            ": check the ca certificates trusted for {registry} (SSL_CERT_FILE) or -insecure-registry"
        )
    } else if r.contains("gave up after") || r.contains("timed out") {
        format!(": check that the registry {registry} is up and reachable from here")
    } else {
        String::new()
    }
}

/// An error and its sources as one lower-case line.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    without_queries(&one_line(&parts.join(": ")))
}

/// Cuts the query off every URL in `s`: upload states and presigned blob URLs carry signatures
/// that belong in no message or log.
pub(crate) fn without_queries(s: &str) -> String {
    s.split(' ')
        .map(|word| {
            let is_url = word.contains("http://") || word.contains("https://");
            match word.find('?') {
                Some(i) if is_url => {
                    let end = word[i..].find([',', ')']).map_or(word.len(), |j| i + j);
                    format!("{}{}", &word[..i], &word[end..])
                }
                _ => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Collapses white space and lower-cases the first letter.
pub(crate) fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_queries() {
        assert_eq!(
            without_queries(
                "server error: url http://r/v2/a/blobs/uploads/u?_state=abc&digest=sha256%3A1, code: 503"
            ),
            "server error: url http://r/v2/a/blobs/uploads/u, code: 503"
        );
        assert_eq!(
            without_queries("error sending request for url (https://s3/x?X-Amz-Signature=s)"),
            "error sending request for url (https://s3/x)"
        );
        assert_eq!(without_queries("what? no url"), "what? no url");
    }

    #[test]
    fn final_failures_name_the_registry_and_what_to_check() {
        let e = RegistryError::from_failure(
            "push manifest",
            "127.0.0.1:5000/cnb/app:latest",
            Failure {
                class: Class::Transient,
                reason: "server error 500 (gave up after 5 attempts)".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "push manifest '127.0.0.1:5000/cnb/app:latest': server error 500 (gave up after 5 attempts): check that the registry 127.0.0.1:5000 is up and reachable from here"
        );
        let e = RegistryError::from_failure(
            "pull manifest",
            "example.com/a@sha256:00",
            Failure {
                class: Class::Unauthorized,
                reason: String::new(),
            },
        );
        assert!(
            e.to_string()
                .contains("check the credentials for example.com in CNB_REGISTRY_AUTH"),
            "{e}"
        );
    }
}
