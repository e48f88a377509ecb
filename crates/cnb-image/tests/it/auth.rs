//! Credentials end to end: docker credential helpers (`credHelpers`, `credsStore`) against a
//! real htpasswd registry, and identity tokens exchanged at a token endpoint.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cnb_image::BlobStore;
use cnb_image::registry::{AuthSource, RegistryOptions, RegistryStore};
use cnb_test_support::registry::Registry;

use crate::registry::{TinyImage, options_for};

/// Writes `docker-credential-cnbtest` into `bin`: it knows `host` (user `user`, secret
/// `secret`), logs each call with its stdin to `<bin>/calls`, and says "credentials not found"
/// for anything else, as real helpers do.
fn helper(bin: &Path, host: &str, user: &str, secret: &str) {
    let log = bin.join("calls");
    let script = format!(
        r#"#!/bin/sh
input=$(cat)
echo "$1 $input" >> {log}
case "$1" in
  list) printf '{{"https://{host}":"{user}"}}' ;;
  get)
    case "$input" in
      {host}|https://{host}) printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{secret}"}}' "$input" ;;
      *) echo "credentials not found in native keychain"; exit 1 ;;
    esac ;;
  *) exit 1 ;;
esac
"#,
        log = log.display()
    );
    let path = bin.join("docker-credential-cnbtest");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn calls(bin: &Path) -> String {
    std::fs::read_to_string(bin.join("calls")).unwrap_or_default()
}

fn store_with(reg_host: &str, auth: AuthSource) -> RegistryStore {
    RegistryStore::new(RegistryOptions {
        auth,
        ..options_for(&[reg_host])
    })
    .unwrap()
}

#[test]
fn cred_helpers_and_creds_store_run_when_the_source_is_built() {
    let reg = Registry::builder()
        .basic_auth("helperuser", "helperpass")
        .start();
    let name = reg.image("helped:latest");
    let img = TinyImage::new("amd64", "helper");
    let bin = tempfile::tempdir().unwrap();
    helper(bin.path(), reg.host(), "helperuser", "helperpass");
    let path = std::ffi::OsString::from(format!("{}:/usr/bin:/bin", bin.path().display()));

    // credHelpers: the helper for this registry gets the registry host on stdin
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"cnbtest"}}}}"#, reg.host()),
    )
    .unwrap();
    let auth =
        AuthSource::with_helper_path(None, Some(config.path().to_path_buf()), Some(&path)).unwrap();
    assert_eq!(calls(bin.path()).trim(), format!("get {}", reg.host()));
    img.push(&store_with(reg.host(), auth), &name);

    // credsStore: listed, then asked; the helper is gone by the time the store is used (as after
    // a privilege drop), so only what was resolved up front can work
    std::fs::remove_file(bin.path().join("calls")).unwrap();
    std::fs::write(
        config.path().join("config.json"),
        r#"{"credsStore":"cnbtest"}"#,
    )
    .unwrap();
    let auth =
        AuthSource::with_helper_path(None, Some(config.path().to_path_buf()), Some(&path)).unwrap();
    std::fs::remove_file(bin.path().join("docker-credential-cnbtest")).unwrap();
    let store = store_with(reg.host(), auth);
    assert_eq!(
        store.manifest(&name).unwrap().unwrap().digest,
        img.manifest.digest
    );
    let log = calls(bin.path());
    assert!(
        log.starts_with("list") && log.contains(&format!("get https://{}", reg.host())),
        "{log}"
    );

    // a helper with the wrong secret: the registry refuses it
    helper(bin.path(), reg.host(), "helperuser", "wrong");
    let auth =
        AuthSource::with_helper_path(None, Some(config.path().to_path_buf()), Some(&path)).unwrap();
    let err = store_with(reg.host(), auth)
        .manifest(&name)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unauthorized"), "{err}");
}

/// A fake registry with a token endpoint: `/v2/` asks for a bearer token from `/token`, which
/// trades the refresh token `refresh-me` (and nothing else) for `access-1`, valid 2 s; the manifest of
/// `team/app:latest` is served only with `access-1`. Every request line, auth header and token
/// form is recorded.
struct TokenRegistry {
    host: String,
    seen: Arc<Mutex<Vec<String>>>,
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

impl TokenRegistry {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (h, s) = (host.clone(), seen.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (h, s) = (h.clone(), s.clone());
                std::thread::spawn(move || serve(conn, &h, &s));
            }
        });
        Self { host, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, host: &str, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0
            || !line.starts_with(|c: char| c.is_ascii_uppercase())
        {
            return; // closed, or not http (a tls hello)
        }
        let (mut auth, mut length) = (String::new(), 0usize);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if lower.starts_with("authorization:") {
                auth = h["authorization:".len()..].trim().to_string();
            } else if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8_lossy(&body).into_owned();
        let request = line.trim_end().to_string();
        seen.lock()
            .unwrap()
            .push(format!("{request} | {auth} | {body}"));
        let challenge =
            format!("WWW-Authenticate: Bearer realm=\"http://{host}/token\",service=\"fake\"\r\n");
        let (status, headers, reply) = if request.starts_with("POST /token") {
            let ok = body.contains("grant_type=refresh_token")
                && body.contains("refresh_token=refresh-me")
                && body.contains("repository%3Ateam%2Fapp%3A");
            if ok {
                (
                    "200 OK",
                    String::new(),
                    r#"{"access_token":"access-1","expires_in":2}"#.to_string(),
                )
            } else {
                ("401 Unauthorized", String::new(), "{}".to_string())
            }
        } else if request.starts_with("GET /v2/team/app/manifests/latest")
            && auth == "Bearer access-1"
        {
            (
                "200 OK",
                "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".to_string(),
                MANIFEST.to_string(),
            )
        } else {
            ("401 Unauthorized", challenge, "{}".to_string())
        };
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
    }
}

#[test]
fn identity_tokens_are_exchanged_at_the_token_endpoint() {
    let reg = TokenRegistry::start();
    let name = format!("{}/team/app:latest", reg.host);

    // pack's X-Identity form in CNB_REGISTRY_AUTH
    let cnb = format!(r#"{{"{}": "X-Identity refresh-me"}}"#, reg.host);
    let store = store_with(&reg.host, AuthSource::new(Some(&cnb), None).unwrap());
    let manifest = store.manifest(&name).unwrap().unwrap();
    assert_eq!(manifest.bytes, MANIFEST.as_bytes());
    let seen = reg.seen();
    assert!(
        seen.iter().any(|s| s.starts_with("POST /token")
            && s.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush")),
        "{seen:#?}"
    );
    // the refresh token only ever goes to the token endpoint, never to the registry
    assert!(
        seen.iter()
            .filter(|s| s.starts_with("GET /v2/"))
            .all(|s| !s.contains("refresh-me")),
        "{seen:#?}"
    );

    // the access token is renewed when it is about to expire, not before
    let exchanges = || {
        reg.seen()
            .iter()
            .filter(|s| s.starts_with("POST /token"))
            .count()
    };
    let before = exchanges();
    assert!(store.manifest(&name).unwrap().is_some());
    assert_eq!(exchanges(), before, "a fresh token is reused");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(store.manifest(&name).unwrap().is_some());
    assert_eq!(exchanges(), before + 1, "an expiring token is renewed");

    // a helper's `<token>` user: its secret is an identity token too
    let bin = tempfile::tempdir().unwrap();
    helper(bin.path(), &reg.host, "<token>", "refresh-me");
    let path = std::ffi::OsString::from(format!("{}:/usr/bin:/bin", bin.path().display()));
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"cnbtest"}}}}"#, reg.host),
    )
    .unwrap();
    let auth =
        AuthSource::with_helper_path(None, Some(config.path().to_path_buf()), Some(&path)).unwrap();
    assert!(
        store_with(&reg.host, auth)
            .manifest(&name)
            .unwrap()
            .is_some()
    );

    // a token the endpoint refuses fails naming the image and the identity token
    let cnb = format!(r#"{{"{}": "X-Identity stale"}}"#, reg.host);
    let err = store_with(&reg.host, AuthSource::new(Some(&cnb), None).unwrap())
        .manifest(&name)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("identity token") && err.contains(&name) && !err.contains('\n'),
        "{err}"
    );
}
