//! The `/v2/` ping: which scheme an insecure registry speaks, and what auth it asks for.
//!
//! An insecure registry (`-insecure-registry`) is tried over HTTPS without certificate
//! verification first and over plain HTTP only when HTTPS gets no answer, as upstream's
//! transport does; so is a local one (localhost, loopback, RFC 1918: what go-containerregistry
//! reaches over HTTP by default), with verification; any other registry is always HTTPS, verified.

use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding};

/// A plain HTTP client for the ping and the token endpoint, with the store's TLS settings.
pub(super) fn http_client(
    insecure: bool,
    certificates: &[Certificate],
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let mut roots = Vec::new();
    for c in certificates {
        let cert = match c.encoding {
            CertificateEncoding::Pem => reqwest::Certificate::from_pem(&c.data),
            CertificateEncoding::Der => reqwest::Certificate::from_der(&c.data),
        };
        roots.push(cert.map_err(|e| super::chain(&e))?);
    }
    reqwest::Client::builder()
        .danger_accept_invalid_certs(insecure)
        .tls_certs_merge(roots)
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| super::chain(&e))
}

/// Whether `registry` answers HTTPS at all (any HTTP status counts: 401 is the usual answer). A
/// server whose certificate the client refuses does speak HTTPS: it counts, so that the request
/// fails on the certificate, naming it, rather than on plain HTTP sent to a TLS port.
pub(super) async fn answers_https(
    http: &reqwest::Client,
    registry: &str,
    timeout: Duration,
) -> bool {
    match http
        .get(format!("https://{registry}/v2/"))
        .timeout(timeout)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) => super::chain(&e)
            .to_ascii_lowercase()
            .contains("certificate"),
    }
}

/// What a registry's `/v2/` says about auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Challenge {
    /// No auth needed.
    None,
    /// HTTP basic against the registry itself.
    Basic,
    /// A token endpoint.
    Bearer {
        /// Where to ask for tokens.
        realm: String,
        /// The service to name in the request.
        service: Option<String>,
    },
}

/// Pings `<base>/v2/` and reads its `WWW-Authenticate`.
pub(super) async fn challenge(http: &reqwest::Client, base: &str) -> Result<Challenge, String> {
    let response = http
        .get(format!("{base}/v2/"))
        .send()
        .await
        .map_err(|e| format!("ping {base}/v2/: {}", super::chain(&e)))?;
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(Challenge::None);
    }
    let header = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(parse_challenge(header))
}

/// Parses `Bearer realm="...",service="..."` (quoted values may hold commas).
fn parse_challenge(header: &str) -> Challenge {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::Basic;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, r)) => (v, r),
                None => (quoted, ""),
            }
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        match key.as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            _ => {}
        }
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    match realm {
        Some(realm) => Challenge::Bearer { realm, service },
        None => Challenge::Basic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
        assert_eq!(
            parse_challenge("bearer realm=http://127.0.0.1:1/token"),
            Challenge::Bearer {
                realm: "http://127.0.0.1:1/token".into(),
                service: None
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Challenge::Basic
        );
    }
}
