//! Credentials from docker's `config.json`: `auths` entries, per-registry `credHelpers` and the
//! default `credsStore`, resolved all at once when the source is built.
//!
//! Resolving up front (rather than per registry on first use) matters because phases build their
//! stores as root and then drop privileges: afterwards `~/.docker` and whatever a helper reads
//! (a keychain, a cloud metadata file) may be out of reach. Upstream does the same for the images a
//! phase names; we do not know those here, so every registry the config knows is resolved.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use super::auth::{Credential, registry_key};

/// What a helper's user name is when its secret is an identity token.
const IDENTITY_TOKEN_USER: &str = "<token>";

/// docker's name for Docker Hub, which helpers and `auths` use as its key.
pub(super) const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// Per registry (normalised with [`registry_key`]): its credential, or why it could not be had.
pub(super) type Resolved = HashMap<String, Result<Credential, String>>;

/// Resolves every registry `config.json` names. `auths` entries are the fallback for a registry
/// whose helper has nothing for it, as docker's native store falls back to the file.
pub(super) fn resolve_all(
    path: &Path,
    bytes: &[u8],
    helper_path: Option<&OsStr>,
) -> Result<Resolved, String> {
    let helpers = Helpers { path: helper_path };
    let config: ConfigFile = serde_json::from_slice(bytes)
        .map_err(|e| format!("docker config '{}': {e}", path.display()))?;
    let mut resolved = Resolved::new();
    for (server, entry) in &config.auths {
        if let Some(credential) = from_entry(entry) {
            let credential = credential.map_err(|reason| {
                format!(
                    "docker config '{}' entry '{server}': {reason}",
                    path.display()
                )
            });
            resolved.insert(registry_key(server), credential);
        }
    }
    // The default store first, so a registry's own helper below replaces what the store said.
    if let Some(store) = config.creds_store.as_deref().filter(|s| !s.is_empty()) {
        // A store that cannot list (not installed, locked keychain) gives nothing, as upstream
        // falls back to anonymous access when a store fails.
        if let Ok(servers) = helpers.list(store) {
            for server in servers {
                match helpers.get(store, &server) {
                    Ok(Some(c)) => {
                        resolved.insert(registry_key(&server), Ok(c));
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        resolved.insert(registry_key(&server), Err(reason));
                    }
                }
            }
        }
    }
    for (server, helper) in config.cred_helpers.iter().filter(|(_, h)| !h.is_empty()) {
        match helpers.get(helper, server) {
            Ok(Some(c)) => {
                resolved.insert(registry_key(server), Ok(c));
            }
            Ok(None) => {}
            Err(reason) => {
                resolved.insert(registry_key(server), Err(reason));
            }
        }
    }
    Ok(resolved)
}

fn from_entry(entry: &AuthEntry) -> Option<Result<Credential, String>> {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    if let Some(token) = non_empty(&entry.registrytoken) {
        return Some(Ok(Credential::Bearer(token)));
    }
    if let Some(token) = non_empty(&entry.identitytoken) {
        return Some(Ok(Credential::IdentityToken(token)));
    }
    if let Some(auth) = non_empty(&entry.auth) {
        return Some(decode_auth(&auth));
    }
    match (non_empty(&entry.username), entry.password.clone()) {
        (Some(u), Some(p)) => Some(Ok(Credential::Basic(u, p))),
        _ => None,
    }
}

/// The `auth` field: base64 of `user:password` (padding optional, as docker accepts it).
fn decode_auth(auth: &str) -> Result<Credential, String> {
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(auth.trim().trim_end_matches('='))
        .map_err(|e| format!("auth is not base64: {e}"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| "auth is not utf-8".to_string())?;
    let (user, pass) = decoded
        .split_once(':')
        .ok_or_else(|| "auth is not base64 of 'user:password'".to_string())?;
    Ok(Credential::Basic(user.to_string(), pass.to_string()))
}

/// Runs `docker-credential-<name>` programs, found on `path` when given (else on `PATH`).
struct Helpers<'a> {
    path: Option<&'a OsStr>,
}

impl Helpers<'_> {
    /// `docker-credential-<helper> list`: the servers the helper holds credentials for.
    fn list(&self, helper: &str) -> Result<Vec<String>, String> {
        let out = self.run(helper, "list", "")?;
        let servers: BTreeMap<String, String> = serde_json::from_slice(&out)
            .map_err(|e| format!("docker-credential-{helper} list: unexpected answer: {e}"))?;
        Ok(servers.into_keys().collect())
    }

    /// `docker-credential-<helper> get` with the server on stdin; `None` when the helper has
    /// nothing for it.
    fn get(&self, helper: &str, server: &str) -> Result<Option<Credential>, String> {
        let out = match self.run(helper, "get", server) {
            Ok(out) => out,
            // the helpers' protocol says so on stdout and exits 1
            Err(reason) if reason.contains("credentials not found") => return Ok(None),
            Err(reason) => return Err(format!("credentials for '{server}': {reason}")),
        };
        let answer: HelperAnswer = serde_json::from_slice(&out).map_err(|e| {
            format!(
                "credentials for '{server}': docker-credential-{helper} get: unexpected answer: {e}"
            )
        })?;
        if answer.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(if answer.username == IDENTITY_TOKEN_USER {
            Credential::IdentityToken(answer.secret)
        } else {
            Credential::Basic(answer.username, answer.secret)
        }))
    }

    fn run(&self, helper: &str, action: &str, input: &str) -> Result<Vec<u8>, String> {
        let program = format!("docker-credential-{helper}");
        let failed = |reason: String| format!("{program} {action}: {reason}");
        let mut command = Command::new(&program);
        if let Some(path) = self.path {
            // std looks the program up on the child's PATH when it is set
            command.env("PATH", path);
        }
        let mut child = command
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(super::one_line(&e.to_string())))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that does not read its input (list) may already be gone: not an error.
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| failed(super::one_line(&e.to_string())))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(if out.stdout.is_empty() {
                &out.stderr
            } else {
                &out.stdout
            })
            .into_owned();
            return Err(failed(format!(
                "exited with {}: {}",
                out.status,
                super::one_line(&said)
            )));
        }
        Ok(out.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(json: &str) -> Resolved {
        resolve_all(Path::new("config.json"), json.as_bytes(), None).unwrap()
    }

    #[test]
    fn auths_entries_of_every_kind() {
        let r = resolve(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dTpw"},
                "a.io":{"username":"x","password":"y"},
                "b.io":{"identitytoken":"refresh"},
                "c.io":{"registrytoken":"access"},
                "http://d.io:5000/v2/":{"auth":"dTpwOnE="},
                "e.io":{}
            }}"#,
        );
        assert_eq!(
            r["index.docker.io"],
            Ok(Credential::Basic("u".into(), "p".into()))
        );
        assert_eq!(r["a.io"], Ok(Credential::Basic("x".into(), "y".into())));
        assert_eq!(r["b.io"], Ok(Credential::IdentityToken("refresh".into())));
        assert_eq!(r["c.io"], Ok(Credential::Bearer("access".into())));
        // padding optional, password may hold ':'
        assert_eq!(
            r["d.io:5000"],
            Ok(Credential::Basic("u".into(), "p:q".into()))
        );
        assert!(!r.contains_key("e.io"));
    }

    #[test]
    fn missing_helpers_and_store() {
        // a store that is not installed gives nothing; a named helper that is missing is an
        // error for its registry only
        let r = resolve(
            r#"{"credsStore":"cnb-test-absent","credHelpers":{"f.io":"cnb-test-absent"},
                "auths":{"g.io":{"auth":"dTpw"}}}"#,
        );
        let err = r["f.io"].clone().unwrap_err();
        assert!(
            err.contains("docker-credential-cnb-test-absent") && err.contains("'f.io'"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        assert_eq!(r["g.io"], Ok(Credential::Basic("u".into(), "p".into())));
    }

    #[test]
    fn bad_json_names_the_file() {
        let err = resolve_all(Path::new("/x/config.json"), b"{", None).unwrap_err();
        assert!(err.contains("/x/config.json"), "{err}");
    }
}
