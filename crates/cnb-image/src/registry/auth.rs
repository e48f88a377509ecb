//! Registry credentials, looked up the way the lifecycle does: the platform's
//! `CNB_REGISTRY_AUTH` map first (registry -> `Authorization` header value, or `X-Identity
//! <token>` for an identity token), then docker's `config.json` in the directory the caller
//! names (a phase: `$DOCKER_CONFIG` or `~/.docker`; `auths`, `credHelpers`, `credsStore`), else
//! anonymous access. Everything is resolved when the source is built, before a phase drops
//! privileges.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;

use super::RegistryError;
use super::docker_config::{self, DOCKER_HUB_SERVER};

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// User name and password (HTTP basic, or basic at the token endpoint).
    Basic(String, String),
    /// A registry token, sent as is.
    Bearer(String),
    /// An identity token: an OAuth2 refresh token, exchanged at the registry's token endpoint
    /// for an access token (`grant_type=refresh_token`).
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic(user, _) => write!(f, "Basic({user}, <redacted>)"),
            Credential::Bearer(_) => write!(f, "Bearer(<redacted>)"),
            Credential::IdentityToken(_) => write!(f, "IdentityToken(<redacted>)"),
        }
    }
}

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
pub struct AuthSource {
    /// Parsed `CNB_REGISTRY_AUTH`, by registry.
    registry_auth: HashMap<String, Credential>,
    /// docker's `config.json`, every registry it names resolved when the source was built
    /// (helpers included): afterwards `~/.docker` and what helpers read may be unreadable.
    docker_config: HashMap<String, Result<Credential, String>>,
}

impl AuthSource {
    /// No credentials at all: every registry is accessed anonymously.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Builds the source from the value of `CNB_REGISTRY_AUTH` (if set) and the docker config
    /// directory (if any). The JSON must be an object of registry -> header value
    /// (`"Basic <base64 user:pass>"`, `"Bearer <token>"` or `"X-Identity <token>"`). Credential
    /// helpers the docker config names run now.
    pub fn new(
        cnb_registry_auth: Option<&str>,
        docker_config_dir: Option<PathBuf>,
    ) -> Result<Self, RegistryError> {
        Self::with_helper_path(cnb_registry_auth, docker_config_dir, None)
    }

    /// [`Self::new`], with credential helpers looked up on `helper_path` (a `PATH` value)
    /// instead of the process's `PATH`.
    pub fn with_helper_path(
        cnb_registry_auth: Option<&str>,
        docker_config_dir: Option<PathBuf>,
        helper_path: Option<&std::ffi::OsStr>,
    ) -> Result<Self, RegistryError> {
        let raw = match cnb_registry_auth.map(str::trim) {
            None | Some("") => HashMap::new(),
            Some(json) => serde_json::from_str::<HashMap<String, String>>(json).map_err(|e| {
                RegistryError::AuthConfig(format!(
                    "CNB_REGISTRY_AUTH is not a json object of registry to authorization header: {e}"
                ))
            })?,
        };
        let mut registry_auth = HashMap::new();
        for (registry, header) in &raw {
            let credential = parse_header(header).map_err(|reason| {
                RegistryError::AuthConfig(format!(
                    "CNB_REGISTRY_AUTH entry for '{registry}': {reason}"
                ))
            })?;
            registry_auth.insert(registry_key(registry), credential);
        }
        let docker_config = match docker_config_dir.map(|d| d.join("config.json")) {
            Some(path) => match std::fs::read(&path) {
                Ok(bytes) => docker_config::resolve_all(&path, &bytes, helper_path)
                    .map_err(|reason| RegistryError::AuthConfig(super::one_line(&reason)))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
                Err(e) => {
                    return Err(RegistryError::AuthConfig(format!(
                        "read docker config '{}': {e}",
                        path.display()
                    )));
                }
            },
            None => HashMap::new(),
        };
        Ok(Self {
            registry_auth,
            docker_config,
        })
    }

    /// The credential for `registry` (`host[:port]`), `None` for anonymous access.
    pub fn resolve(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        let key = registry_key(registry);
        if let Some(c) = self.registry_auth.get(&key) {
            return Ok(Some(c.clone()));
        }
        match self.docker_config.get(&key) {
            None => Ok(None),
            Some(Ok(c)) => Ok(Some(c.clone())),
            Some(Err(reason)) => Err(RegistryError::AuthConfig(reason.clone())),
        }
    }
}

/// The key a registry is known by: scheme and path stripped (as upstream converts
/// `CNB_REGISTRY_AUTH` and docker config keys), Docker Hub's aliases made one.
pub(super) fn registry_key(server: &str) -> String {
    if server == DOCKER_HUB_SERVER {
        return "index.docker.io".into();
    }
    let host = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".into(),
        other => other.to_string(),
    }
}

/// Turns an `Authorization` header value (or the `X-Identity` form pack writes for identity
/// tokens) into a credential.
fn parse_header(header: &str) -> Result<Credential, String> {
    let header = header.trim();
    let (scheme, value) = header.split_once(' ').ok_or_else(|| {
        "expected 'Basic <base64>', 'Bearer <token>' or 'X-Identity <token>'".to_string()
    })?;
    let value = value.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|e| format!("basic credentials are not base64: {e}"))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| "basic credentials are not utf-8".to_string())?;
            let (user, pass) = decoded
                .split_once(':')
                .ok_or_else(|| "basic credentials are not 'user:password'".to_string())?;
            Ok(Credential::Basic(user.to_string(), pass.to_string()))
        }
        "bearer" => Ok(Credential::Bearer(value.to_string())),
        "x-identity" => Ok(Credential::IdentityToken(value.to_string())),
        other => Err(format!(
            "unsupported authorization scheme '{other}' (expected basic, bearer or x-identity)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnb_registry_auth_basic_and_bearer() {
        let json = r#"{"reg.io:5000": "Basic dXNlcjpwYXNz", "other.io": "Bearer tok"}"#;
        let src = AuthSource::new(Some(json), None).unwrap();
        assert_eq!(
            src.resolve("reg.io:5000").unwrap(),
            Some(Credential::Basic("user".into(), "pass".into()))
        );
        assert_eq!(
            src.resolve("other.io").unwrap(),
            Some(Credential::Bearer("tok".into()))
        );
        assert_eq!(src.resolve("none.io").unwrap(), None);
    }

    #[test]
    fn bad_json_names_the_variable() {
        let err = AuthSource::new(Some("{nope"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CNB_REGISTRY_AUTH"), "{err}");
        assert!(!err.contains('\n'));
        let err = AuthSource::new(Some(r#"{"r": "Digest x"}"#), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CNB_REGISTRY_AUTH") && err.contains("'r'"),
            "{err}"
        );
    }

    #[test]
    fn docker_config_auths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"127.0.0.1:5001":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        let src = AuthSource::new(None, Some(dir.path().to_path_buf())).unwrap();
        assert_eq!(
            src.resolve("127.0.0.1:5001").unwrap(),
            Some(Credential::Basic("u".into(), "p".into()))
        );
        assert_eq!(src.resolve("127.0.0.1:5002").unwrap(), None);
    }

    /// pack writes `X-Identity <token>` for an identity token; keys may be urls, as upstream
    /// strips scheme and path from them.
    #[test]
    fn cnb_registry_auth_identity_token_and_url_keys() {
        let json =
            r#"{"https://id.io:5000/v2/": "X-Identity refresh-me", "docker.io": "Bearer hub"}"#;
        let src = AuthSource::new(Some(json), None).unwrap();
        assert_eq!(
            src.resolve("id.io:5000").unwrap(),
            Some(Credential::IdentityToken("refresh-me".into()))
        );
        assert_eq!(
            src.resolve("index.docker.io").unwrap(),
            Some(Credential::Bearer("hub".into()))
        );
        let lower = AuthSource::new(Some(r#"{"r.io": "x-identity t"}"#), None).unwrap();
        assert_eq!(
            lower.resolve("r.io").unwrap(),
            Some(Credential::IdentityToken("t".into()))
        );
        // the token never shows in debug output
        assert!(!format!("{src:?}").contains("refresh-me"));
    }

    #[test]
    fn cnb_registry_auth_wins_over_docker_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"r.io":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        let src = AuthSource::new(
            Some(r#"{"r.io": "Bearer env"}"#),
            Some(dir.path().to_path_buf()),
        )
        .unwrap();
        assert_eq!(
            src.resolve("r.io").unwrap(),
            Some(Credential::Bearer("env".into()))
        );
    }
}
