//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) started on a
//! free loopback port with its storage in a temporary directory, optionally behind htpasswd
//! basic auth and/or TLS with a generated CA, killed (only the process this fixture started)
//! when dropped. Plus [`FlakyProxy`], a loopback TCP proxy that fails its first connections, to
//! exercise retries.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The registry binary (Debian package `docker-registry`).
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How to start a [`Registry`].
#[derive(Debug, Clone, Default)]
pub struct RegistryBuilder {
    tls: bool,
    credentials: Option<(String, String)>,
}

impl RegistryBuilder {
    /// Serve HTTPS with a leaf certificate signed by a fresh CA ([`Registry::ca_cert`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Require HTTP basic auth (htpasswd, bcrypt) with these credentials.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_string(), password.to_string()));
        self
    }

    /// Starts the registry and waits until it answers.
    pub fn start(self) -> Registry {
        let dir = tempfile::tempdir().expect("registry temp dir");
        let storage = dir.path().join("data");
        std::fs::create_dir_all(&storage).unwrap();
        let mut extra = String::new();
        let mut ca = None;
        if let Some((user, password)) = &self.credentials {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("run htpasswd (apache2-utils)");
            assert!(
                out.status.success(),
                "htpasswd failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, &out.stdout).unwrap();
            extra.push_str(&format!(
                "auth:\n  htpasswd: {{realm: basic-realm, path: {}}}\n",
                path.display()
            ));
        }
        let mut tls_line = String::new();
        if self.tls {
            let (ca_path, cert, key) = make_certificates(dir.path());
            tls_line = format!(
                "  tls: {{certificate: {}, key: {}}}\n",
                cert.display(),
                key.display()
            );
            ca = Some(ca_path);
        }
        let log_path = dir.path().join("registry.log");
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let config = format!(
                "version: 0.1\nlog: {{level: info, accesslog: {{disabled: false}}}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\n  cache: {{blobdescriptor: inmemory}}\nhttp:\n  addr: {addr}\n{tls_line}{extra}",
                storage.display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            let log = std::fs::File::create(&log_path).unwrap();
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {REGISTRY_BIN}: {e}"));
            let mut registry = Registry {
                child,
                host: addr,
                ca,
                credentials: self.credentials.clone(),
                log_path: log_path.clone(),
                storage: storage.clone(),
                _dir: None,
            };
            match registry.wait_ready(Duration::from_secs(10)) {
                Ok(()) => {
                    registry._dir = Some(dir);
                    return registry;
                }
                Err(log) => {
                    last_log = log;
                    ca = registry.ca.take();
                    drop(registry);
                    if !last_log.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!(
            "docker-registry did not come up; log tail:\n{}",
            tail(&last_log, 30)
        );
    }
}

/// A running `docker-registry`, stopped on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    host: String,
    ca: Option<PathBuf>,
    credentials: Option<(String, String)>,
    log_path: PathBuf,
    storage: PathBuf,
    _dir: Option<TempDir>,
}

impl Registry {
    /// A plain HTTP registry without auth.
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// Options: TLS, basic auth.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `127.0.0.1:<port>/<repo_and_tag>`.
    pub fn image(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host)
    }

    /// The CA certificate (PEM) that signed the TLS certificate, for TLS registries.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// The directory holding the CA as `ca.crt` (the layout skopeo's `--cert-dir` wants).
    pub fn cert_dir(&self) -> Option<PathBuf> {
        self.ca
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
    }

    /// The basic-auth credentials, for registries that require them.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `Basic <base64 user:pass>`, the value `CNB_REGISTRY_AUTH` maps a registry to.
    pub fn basic_header(&self) -> Option<String> {
        self.credentials()
            .map(|(u, p)| format!("Basic {}", base64_encode(format!("{u}:{p}").as_bytes())))
    }

    /// A store that talks to this registry (plain HTTP, with its credentials if it has any),
    /// to put fixtures in and read results back.
    pub fn store(&self) -> cnb_image::registry::RegistryStore {
        use cnb_image::registry::{AuthSource, RegistryOptions, RegistryStore};
        let auth = self
            .basic_header()
            .map(|h| format!(r#"{{"{}":"{h}"}}"#, self.host));
        RegistryStore::new(RegistryOptions {
            insecure_registries: vec![self.host.clone()],
            auth: AuthSource::new(auth.as_deref(), None).unwrap(),
            ..Default::default()
        })
        .unwrap()
    }

    /// The registry's storage root.
    pub fn storage_dir(&self) -> &Path {
        &self.storage
    }

    /// Everything the registry logged so far (its access log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// How many logged requests start with `method` and contain `path_part` (access log).
    pub fn count_requests(&self, method: &str, path_part: &str) -> usize {
        let needle = format!("\"{method} ");
        self.log()
            .lines()
            .filter(|l| l.contains(&needle) && l.contains(path_part) && l.contains("HTTP/1.1\""))
            .count()
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}\n{}", self.log()));
            }
            if let Ok(mut s) = TcpStream::connect(&self.host) {
                if self.ca.is_some() {
                    return Ok(()); // listening; the TLS handshake is the client's business
                }
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!(
                    "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.host
                );
                let mut answer = String::new();
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_to_string(&mut answer).is_ok()
                    && (answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.1 401"))
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer on {} within {timeout:?}\n{}",
                    self.host,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `ca.crt` (also `ca.pem`), `cert.pem`, `key.pem` into `dir/certs`; returns (ca, cert, key).
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let d = dir.join("certs");
    std::fs::create_dir_all(&d).unwrap();
    run(
        &d,
        &[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=cnb-test-ca",
        ],
    );
    run(
        &d,
        &[
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        d.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(
        &d,
        &[
            "openssl",
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    // the registry's cert dir layout wants the CA as ca.crt; keep the CA alone in its own dir
    let ca_dir = d.join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(d.join("ca.pem"), ca_dir.join("ca.crt")).unwrap();
    (ca_dir.join("ca.crt"), d.join("cert.pem"), d.join("key.pem"))
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How [`FlakyProxy`] fails a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Read the request head, then close the connection without answering.
    Drop,
    /// Answer `503 Service Unavailable` and close.
    ServiceUnavailable,
}

/// A loopback TCP proxy to `upstream` that fails its first `n` connections (each carries one
/// request, as the failure closes it) and forwards the rest.
#[derive(Debug)]
pub struct FlakyProxy {
    host: String,
    failed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FlakyProxy {
    /// Starts the proxy on a free port.
    pub fn start(upstream: &str, fail_first: usize, failure: Failure) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let failed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, failed2, stop2) = (upstream.to_string(), failed.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                if failed2.load(Ordering::SeqCst) < fail_first {
                    failed2.fetch_add(1, Ordering::SeqCst);
                    read_head(&mut conn);
                    if failure == Failure::ServiceUnavailable {
                        let _ = conn.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                    let _ = conn.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(up) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (Ok(conn2), Ok(up2)) = (conn.try_clone(), up.try_clone()) else {
                    continue;
                };
                std::thread::spawn(move || pipe(conn, up));
                std::thread::spawn(move || pipe(up2, conn2));
            }
        });
        Self { host, failed, stop }
    }

    /// `127.0.0.1:<port>` of the proxy.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// How many connections it has failed so far.
    pub fn failures(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host); // wake the accept loop
    }
}

fn read_head(conn: &mut TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
