//! Registry credentials, looked up the way the lifecycle does: the platform's
//! `CNB_REGISTRY_AUTH` map first (registry -> ready-made `Authorization` header value), then the
//! docker `config.json` (`$DOCKER_CONFIG` or `~/.docker`, credential helpers included), else
//! anonymous access.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;

use super::RegistryError;

/// The docker config.json key docker uses for Docker Hub.
const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
pub struct AuthSource {
    /// Parsed `CNB_REGISTRY_AUTH`: registry -> `Authorization` header value.
    registry_auth: HashMap<String, String>,
    /// docker's `config.json` (path and content), read when the source is built: phases build
    /// it before dropping privileges, after which `~/.docker` may be unreadable.
    docker_config: Option<(PathBuf, Vec<u8>)>,
}

impl AuthSource {
    /// No credentials at all: every registry is accessed anonymously.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Builds the source from the value of `CNB_REGISTRY_AUTH` (if set) and the docker config
    /// directory (if any). The JSON must be an object of registry -> header value
    /// (`"Basic <base64 user:pass>"` or `"Bearer <token>"`).
    pub fn new(
        cnb_registry_auth: Option<&str>,
        docker_config_dir: Option<PathBuf>,
    ) -> Result<Self, RegistryError> {
        let registry_auth = match cnb_registry_auth.map(str::trim) {
            None | Some("") => HashMap::new(),
            Some(json) => serde_json::from_str::<HashMap<String, String>>(json).map_err(|e| {
                RegistryError::AuthConfig(format!(
                    "CNB_REGISTRY_AUTH is not a json object of registry to authorization header: {e}"
                ))
            })?,
        };
        for (registry, header) in &registry_auth {
            parse_header(header).map_err(|reason| {
                RegistryError::AuthConfig(format!(
                    "CNB_REGISTRY_AUTH entry for '{registry}': {reason}"
                ))
            })?;
        }
        let docker_config = match docker_config_dir.map(|d| d.join("config.json")) {
            Some(path) => match std::fs::read(&path) {
                Ok(bytes) => Some((path, bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(RegistryError::AuthConfig(format!(
                        "read docker config '{}': {e}",
                        path.display()
                    )));
                }
            },
            None => None,
        };
        Ok(Self {
            registry_auth,
            docker_config,
        })
    }

    /// Reads `CNB_REGISTRY_AUTH` and `DOCKER_CONFIG` (else `$HOME/.docker`) from the process
    /// environment.
    pub fn from_process_env() -> Result<Self, RegistryError> {
        let cnb = std::env::var("CNB_REGISTRY_AUTH").ok();
        let dir = std::env::var_os("DOCKER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
        Self::new(cnb.as_deref(), dir)
    }

    /// The credentials for `registry` (`host[:port]`).
    pub fn resolve(&self, registry: &str) -> Result<RegistryAuth, RegistryError> {
        if let Some(header) = self.registry_auth.get(registry).or_else(|| {
            is_docker_hub(registry)
                .then(|| {
                    ["index.docker.io", "docker.io", DOCKER_HUB_CONFIG_KEY]
                        .iter()
                        .find_map(|k| self.registry_auth.get(*k))
                })
                .flatten()
        }) {
            return parse_header(header).map_err(|reason| {
                RegistryError::AuthConfig(format!(
                    "CNB_REGISTRY_AUTH entry for '{registry}': {reason}"
                ))
            });
        }
        let Some((path, bytes)) = &self.docker_config else {
            return Ok(RegistryAuth::Anonymous);
        };
        let keys: Vec<&str> = if is_docker_hub(registry) {
            vec![DOCKER_HUB_CONFIG_KEY, "index.docker.io", "docker.io"]
        } else {
            vec![registry]
        };
        for key in keys {
            let file = std::io::Cursor::new(bytes.as_slice());
            use docker_credential::{CredentialRetrievalError as E, DockerCredential};
            match docker_credential::get_credential_from_reader(std::io::BufReader::new(file), key)
            {
                Ok(DockerCredential::UsernamePassword(u, p)) => {
                    return Ok(RegistryAuth::Basic(u, p));
                }
                Ok(DockerCredential::IdentityToken(t)) => return Ok(RegistryAuth::Bearer(t)),
                Err(E::NoCredentialConfigured | E::ConfigNotFound) => continue,
                Err(e) => {
                    return Err(RegistryError::AuthConfig(format!(
                        "credentials for '{registry}' from docker config '{}': {}",
                        path.display(),
                        super::one_line(&e.to_string())
                    )));
                }
            }
        }
        Ok(RegistryAuth::Anonymous)
    }
}

fn is_docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        "index.docker.io" | "docker.io" | "registry-1.docker.io"
    )
}

/// Turns an `Authorization` header value into oci-client credentials.
fn parse_header(header: &str) -> Result<RegistryAuth, String> {
    let header = header.trim();
    let (scheme, value) = header
        .split_once(' ')
        .ok_or_else(|| "expected 'Basic <base64>' or 'Bearer <token>'".to_string())?;
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
            Ok(RegistryAuth::Basic(user.to_string(), pass.to_string()))
        }
        "bearer" => Ok(RegistryAuth::Bearer(value.to_string())),
        other => Err(format!(
            "unsupported authorization scheme '{other}' (expected basic or bearer)"
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
        assert!(
            matches!(src.resolve("reg.io:5000").unwrap(), RegistryAuth::Basic(u, p) if u == "user" && p == "pass")
        );
        assert!(matches!(src.resolve("other.io").unwrap(), RegistryAuth::Bearer(t) if t == "tok"));
        assert!(matches!(
            src.resolve("none.io").unwrap(),
            RegistryAuth::Anonymous
        ));
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
        assert!(
            matches!(src.resolve("127.0.0.1:5001").unwrap(), RegistryAuth::Basic(u, p) if u == "u" && p == "p")
        );
        assert!(matches!(
            src.resolve("127.0.0.1:5002").unwrap(),
            RegistryAuth::Anonymous
        ));
    }
}
