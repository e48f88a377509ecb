//! An HTTP-aware fault proxy in front of a plain-HTTP registry: every request is sorted by what
//! it does (blob HEAD, upload POST/PATCH/PUT, mount, manifest GET/PUT, token, ...) and, by a
//! [`FaultPlan`], either forwarded or answered with a fault: 5xx, 429 with `Retry-After`, 401, a
//! connection reset in the middle of a body, or a stall past the client's timeout. One request
//! per connection (answers carry `Connection: close`), so each fault hits exactly one request.
//!
//! A seeded plan decides from the seed, the request's identity (kind and path, without upload
//! session ids) and how often that identity was seen, not from arrival order, so a seed
//! replays the same faults even though uploads run concurrently.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::token_gateway::Gateway;
use crate::token_gateway::{expire_token, guard, to_upstream};

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `GET /v2/`.
    Ping,
    /// A token request (`/token`), served by the proxy itself in bearer mode.
    Token,
    /// `HEAD /v2/<repo>/blobs/<digest>`.
    BlobHead,
    /// `GET /v2/<repo>/blobs/<digest>`.
    BlobGet,
    /// `POST /v2/<repo>/blobs/uploads/` (no `mount=`).
    UploadPost,
    /// `PATCH` of an upload session.
    UploadPatch,
    /// `PUT` closing an upload session.
    UploadPut,
    /// `POST /v2/<repo>/blobs/uploads/?mount=...&from=...`.
    Mount,
    /// `GET` of a manifest.
    ManifestGet,
    /// `HEAD` of a manifest.
    ManifestHead,
    /// `PUT` of a manifest.
    ManifestPut,
    /// Anything else (catalog, tags list).
    Other,
}

impl Kind {
    /// Every kind a plan may fault.
    pub const FAULTABLE: [Kind; 10] = [
        Kind::Token,
        Kind::BlobHead,
        Kind::BlobGet,
        Kind::UploadPost,
        Kind::UploadPatch,
        Kind::UploadPut,
        Kind::Mount,
        Kind::ManifestGet,
        Kind::ManifestHead,
        Kind::ManifestPut,
    ];
}

/// Sorts a request by method and target.
pub fn classify(method: &str, target: &str) -> Kind {
    let path = target.split('?').next().unwrap_or(target);
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    if path == "/v2/" || path == "/v2" {
        return Kind::Ping;
    }
    if path.starts_with("/token") {
        return Kind::Token;
    }
    if path.contains("/blobs/uploads") {
        return match method {
            "POST" if query.split('&').any(|p| p.starts_with("mount=")) => Kind::Mount,
            "POST" => Kind::UploadPost,
            "PATCH" => Kind::UploadPatch,
            "PUT" => Kind::UploadPut,
            _ => Kind::Other,
        };
    }
    if path.contains("/blobs/") {
        return match method {
            "HEAD" => Kind::BlobHead,
            "GET" => Kind::BlobGet,
            _ => Kind::Other,
        };
    }
    if path.contains("/manifests/") {
        return match method {
            "GET" => Kind::ManifestGet,
            "HEAD" => Kind::ManifestHead,
            "PUT" => Kind::ManifestPut,
            _ => Kind::Other,
        };
    }
    Kind::Other
}

/// How a request is failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Answer with this 5xx status.
    Status(u16),
    /// `429 Too Many Requests` with `Retry-After: 1`.
    TooManyRequests,
    /// `401 Unauthorized` with a basic challenge.
    Unauthorized,
    /// Reset the connection in the middle of the request or response body.
    Reset,
    /// Read the request, answer nothing for [`FaultProxy::STALL`].
    Stall,
    /// Forward the request, let the registry act on it, then reset before its answer reaches
    /// the client (a write that happened although the client saw it fail).
    LoseAnswer,
    /// With a [`Gateway`]: the token the request bears expires now (a new one is handed out
    /// from here on) and the request gets the 401 a registry answers an expired token with.
    ExpireToken,
}

impl Fault {
    /// The faults a registry may throw at a client that should survive them.
    pub const TRANSIENT: [Fault; 8] = [
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::TooManyRequests,
        Fault::Reset,
        Fault::Stall,
        Fault::LoseAnswer,
        Fault::ExpireToken,
    ];
}

/// Which requests fail, and how.
#[derive(Debug, Clone)]
pub enum FaultPlan {
    /// Forward everything.
    None,
    /// Each identity's first request of a faultable kind fails with probability `rate`, by a
    /// fault picked from `faults`; later requests of the same identity pass, so a client
    /// that retries always gets through.
    Seeded {
        /// The seed (`CNB_FAULT_SEED`).
        seed: u64,
        /// Probability of a fault, 0.0..=1.0.
        rate: f64,
        /// Faults to pick from.
        faults: Vec<Fault>,
        /// Kinds that may fail.
        kinds: Vec<Kind>,
    },
    /// Every request of `kind` (or every faultable request) fails with `fault`.
    Always {
        /// The kind, or all of [`Kind::FAULTABLE`].
        kind: Option<Kind>,
        /// The fault.
        fault: Fault,
    },
}

/// The seed from `CNB_FAULT_SEED`, else one from the clock; printed so a failure can be
/// replayed with `CNB_FAULT_SEED=<seed>`.
pub fn seed_from_env() -> u64 {
    let seed = std::env::var("CNB_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("fault proxy: CNB_FAULT_SEED={seed} (set it to replay this run)");
    seed
}

/// How many seeded rounds a fault test runs: `CNB_FAULT_ROUNDS` (`make faults`), else 1.
pub fn rounds() -> u64 {
    std::env::var("CNB_FAULT_ROUNDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// The transient plan of the fault tests: a quarter of the requests of every faultable kind
/// fail once, by any transient fault.
pub fn transient(seed: u64) -> FaultPlan {
    FaultPlan::Seeded {
        seed,
        rate: 0.25,
        faults: Fault::TRANSIENT.to_vec(),
        kinds: Kind::FAULTABLE.to_vec(),
    }
}

/// Appends one line per injected (kind, fault) and one `run` line to the file named by
/// `CNB_FAULT_REPORT`, if set: the figures docs/reliability.md reports.
pub fn record(test: &str, stats: &FaultStats, outcome: &str) {
    let Some(path) = std::env::var_os("CNB_FAULT_REPORT") else {
        return;
    };
    let mut text = format!("run {test} {outcome} faults={}\n", stats.total());
    for ((kind, fault), n) in &stats.injected {
        text.push_str(&format!("fault {kind:?} {fault:?} {n}\n"));
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// splitmix64 of `seed` and `text`: a stable pseudo-random number.
fn mix(seed: u64, text: &str) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A request's identity: its kind and path, without upload session ids (retries of the same
/// upload get new ones) but with the digest a closing PUT names.
fn identity(kind: Kind, target: &str) -> String {
    if kind == Kind::Token {
        return format!("{kind:?} {target}"); // one per scope
    }
    let path = target.split('?').next().unwrap_or(target);
    let path = match path.find("/blobs/uploads") {
        Some(i) => &path[..i],
        None => path,
    };
    let digest = target
        .split(['?', '&'])
        .find_map(|p| {
            p.strip_prefix("digest=")
                .or_else(|| p.strip_prefix("mount="))
        })
        .unwrap_or("");
    format!("{kind:?} {path} {digest}")
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) gateway: Option<Gateway>,
    /// When the current token replaced an expired one.
    pub(crate) token_born: Option<Instant>,
    pub(crate) plan: Option<FaultPlan>,
    pub(crate) seen: HashMap<String, usize>,
    pub(crate) requests: BTreeMap<Kind, usize>,
    pub(crate) injected: BTreeMap<(Kind, Fault), usize>,
    /// Digests whose upload (closing PUT or mount) the registry acknowledged with 201.
    pub(crate) uploaded: Vec<String>,
    pub(crate) log: Vec<String>,
}

impl State {
    fn decide(&mut self, kind: Kind, target: &str) -> Option<Fault> {
        *self.requests.entry(kind).or_default() += 1;
        let id = identity(kind, target);
        let n = {
            let n = self.seen.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        let fault = match self.plan.as_ref()? {
            FaultPlan::None => None,
            FaultPlan::Always { kind: k, fault } => {
                let hit = match k {
                    Some(k) => *k == kind,
                    None => Kind::FAULTABLE.contains(&kind),
                };
                hit.then_some(*fault)
            }
            FaultPlan::Seeded {
                seed,
                rate,
                faults,
                kinds,
            } => {
                let r = mix(*seed, &id);
                let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
                (n == 1 && kinds.contains(&kind) && unit < *rate && !faults.is_empty())
                    .then(|| faults[(r % faults.len() as u64) as usize])
            }
        }?;
        *self.injected.entry((kind, fault)).or_default() += 1;
        self.log.push(format!("{fault:?} {kind:?} {target}"));
        Some(fault)
    }
}

/// Counts of one run through the proxy.
#[derive(Debug, Clone, Default)]
pub struct FaultStats {
    /// Requests seen, per kind.
    pub requests: BTreeMap<Kind, usize>,
    /// Faults injected, per kind and fault.
    pub injected: BTreeMap<(Kind, Fault), usize>,
    /// Digests of blobs uploaded or mounted (acknowledged with 201).
    pub uploaded: Vec<String>,
    /// One line per injected fault.
    pub log: Vec<String>,
}

impl FaultStats {
    /// Faults injected in all.
    pub fn total(&self) -> usize {
        self.injected.values().sum()
    }
}

/// A running fault proxy; stops accepting when dropped.
pub struct FaultProxy {
    host: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// How long a stalled request is held before the proxy closes it (past any test timeout).
    pub const STALL: Duration = Duration::from_secs(30);

    /// Starts a proxy to the plain-HTTP registry at `upstream` (`host:port`).
    pub fn start(upstream: &str, plan: FaultPlan) -> Self {
        Self::start_with(upstream, plan, None)
    }

    /// Starts a proxy that also plays a token service ([`Gateway`]).
    pub fn start_with(upstream: &str, plan: FaultPlan, gateway: Option<Gateway>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State {
            plan: Some(plan),
            gateway,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, state2, stop2) = (upstream.to_string(), state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (upstream, state, stop) = (upstream.clone(), state2.clone(), stop2.clone());
                std::thread::spawn(move || serve(conn, &upstream, &state, &stop));
            }
        });
        Self { host, state, stop }
    }

    /// `127.0.0.1:<port>` of the proxy.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Replaces the plan (e.g. [`FaultPlan::None`] for the rerun after the faults stop) and
    /// starts counting afresh; returns the counts so far.
    pub fn reset(&self, plan: FaultPlan) -> FaultStats {
        let mut state = self.state.lock().unwrap();
        let stats = snapshot(&state);
        *state = State {
            plan: Some(plan),
            gateway: state.gateway.take(),
            ..State::default()
        };
        stats
    }

    /// The counts so far.
    pub fn stats(&self) -> FaultStats {
        snapshot(&self.state.lock().unwrap())
    }
}

fn snapshot(state: &State) -> FaultStats {
    FaultStats {
        requests: state.requests.clone(),
        injected: state.injected.clone(),
        uploaded: state.uploaded.clone(),
        log: state.log.clone(),
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host); // wake the accept loop
    }
}

/// A request head: its lines, and the body bytes read with it.
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) lines: Vec<String>,
    pub(crate) rest: Vec<u8>,
}

fn read_head(conn: &mut TcpStream) -> Option<Head> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if seen.first() == Some(&0x16) {
            return None; // a TLS hello: this is plain HTTP, as a registry would tell the client
        }
    };
    let text = String::from_utf8_lossy(&seen[..end]).to_string();
    let lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let mut parts = lines.first()?.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    Some(Head {
        method,
        target,
        lines,
        rest: seen[end + 4..].to_vec(),
    })
}

pub(crate) fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with `Connection: close` in place of any connection header.
fn closing(lines: &[String]) -> Vec<u8> {
    let mut out = String::new();
    for l in lines {
        let name = l.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn serve(mut conn: TcpStream, upstream: &str, state: &Mutex<State>, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let Some(head) = read_head(&mut conn) else {
        return;
    };
    let kind = classify(&head.method, &head.target);
    let (fault, gateway) = {
        let mut state = state.lock().unwrap();
        (state.decide(kind, &head.target), state.gateway.clone())
    };
    match fault {
        None => match gateway {
            Some(g) => guard(conn, head, kind, upstream, state, &g),
            None => forward(conn, head, kind, upstream, state),
        },
        Some(Fault::Status(code)) => answer(conn, code, "Injected Fault", &[]),
        Some(Fault::TooManyRequests) => answer(conn, 429, "Too Many Requests", &["Retry-After: 1"]),
        Some(Fault::ExpireToken) if !expire_token(&head, kind, state) => match gateway {
            Some(g) => guard(conn, head, kind, upstream, state, &g),
            None => forward(conn, head, kind, upstream, state),
        },
        Some(Fault::ExpireToken) => {
            let local = conn.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let challenge = format!(
                "WWW-Authenticate: Bearer realm=\"http://{local}/token\",service=\"fault-proxy\",error=\"invalid_token\""
            );
            answer(conn, 401, "Unauthorized", &[challenge.as_str()]);
        }
        Some(Fault::Unauthorized) => answer(
            conn,
            401,
            "Unauthorized",
            &["WWW-Authenticate: Basic realm=\"fault-proxy\""],
        ),
        Some(Fault::Stall) => {
            let until = Instant::now() + FaultProxy::STALL;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Some(Fault::LoseAnswer) => {
            let mut head = head;
            if let Some(g) = &gateway {
                to_upstream(&mut head, g);
            }
            if let Some(mut up) = open_upstream(&conn, &head, upstream) {
                let _ = read_head(&mut up);
                let _ = up.shutdown(Shutdown::Both);
            }
            reset(&conn);
        }
        Some(Fault::Reset) => {
            let has_body = header(&head.lines, "content-length").is_some_and(|v| v != "0")
                || header(&head.lines, "transfer-encoding").is_some();
            if has_body || head.method == "HEAD" {
                // some of the request body is in; then the connection dies
                let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                reset(&conn);
            } else {
                forward_then_reset(conn, head, upstream);
            }
        }
    }
}

/// Closes with RST instead of FIN.
fn reset(conn: &TcpStream) {
    let _ = socket2::SockRef::from(conn).set_linger(Some(Duration::ZERO));
    let _ = conn.shutdown(Shutdown::Both);
}

pub(crate) fn answer(conn: TcpStream, code: u16, reason: &str, extra: &[&str]) {
    let body = format!(
        "{{\"errors\":[{{\"code\":\"UNKNOWN\",\"message\":\"fault proxy: {code} {reason}\"}}]}}"
    );
    respond(conn, &format!("{code} {reason}"), extra, &body);
}

pub(crate) fn respond(mut conn: TcpStream, status: &str, extra: &[&str], body: &str) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
    let _ = conn.shutdown(Shutdown::Write);
    // drain what the client still sends, so closing does not reset the answer away
    let _ = conn.set_read_timeout(Some(Duration::from_millis(300)));
    let mut buf = [0u8; 65536];
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Sends the request upstream and copies the body the client still sends, in the background.
fn open_upstream(conn: &TcpStream, head: &Head, upstream: &str) -> Option<TcpStream> {
    let mut up = TcpStream::connect(upstream).ok()?;
    up.write_all(&closing(&head.lines)).ok()?;
    up.write_all(&head.rest).ok()?;
    let (mut from, mut to) = (conn.try_clone().ok()?, up.try_clone().ok()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
    });
    Some(up)
}

/// Sends the request upstream and reads the head of its answer.
fn upstream_answer(conn: &TcpStream, head: &Head, upstream: &str) -> Option<(TcpStream, Head)> {
    let mut up = open_upstream(conn, head, upstream)?;
    let answer = read_head(&mut up)?;
    Some((up, answer))
}

pub(crate) fn forward(
    mut conn: TcpStream,
    head: Head,
    kind: Kind,
    upstream: &str,
    state: &Mutex<State>,
) {
    let Some((mut up, answer)) = upstream_answer(&conn, &head, upstream) else {
        reset(&conn);
        return;
    };
    let status = answer
        .lines
        .first()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("");
    if status == "201" && matches!(kind, Kind::UploadPut | Kind::Mount) {
        let digest = head
            .target
            .split(['?', '&'])
            .find_map(|p| {
                p.strip_prefix("digest=")
                    .or_else(|| p.strip_prefix("mount="))
            })
            .unwrap_or("")
            .replace("%3A", ":");
        state.lock().unwrap().uploaded.push(digest);
    }
    if conn.write_all(&closing(&answer.lines)).is_err() || conn.write_all(&answer.rest).is_err() {
        return;
    }
    let _ = std::io::copy(&mut up, &mut conn);
    let _ = conn.shutdown(Shutdown::Both);
    let _ = up.shutdown(Shutdown::Both);
}

/// Forwards the answer's head and part of its body, then resets.
fn forward_then_reset(mut conn: TcpStream, head: Head, upstream: &str) {
    let Some((mut up, answer)) = upstream_answer(&conn, &head, upstream) else {
        reset(&conn);
        return;
    };
    let length: usize = header(&answer.lines, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = conn.write_all(&closing(&answer.lines));
    let mut body = answer.rest;
    let mut buf = [0u8; 8192];
    while body.len() < length / 2 {
        match up.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    let _ = conn.write_all(&body[..body.len().min(length / 2)]);
    let _ = conn.flush();
    std::thread::sleep(Duration::from_millis(20));
    reset(&conn);
    let _ = up.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let d = "sha256:abc";
        assert_eq!(classify("GET", "/v2/"), Kind::Ping);
        assert_eq!(
            classify("HEAD", &format!("/v2/a/b/blobs/{d}")),
            Kind::BlobHead
        );
        assert_eq!(classify("GET", &format!("/v2/a/blobs/{d}")), Kind::BlobGet);
        assert_eq!(classify("POST", "/v2/a/blobs/uploads/"), Kind::UploadPost);
        assert_eq!(
            classify("POST", &format!("/v2/a/blobs/uploads/?mount={d}&from=b")),
            Kind::Mount
        );
        assert_eq!(
            classify("PATCH", "/v2/a/blobs/uploads/u-1"),
            Kind::UploadPatch
        );
        assert_eq!(
            classify("PUT", &format!("/v2/a/blobs/uploads/u-1?digest={d}")),
            Kind::UploadPut
        );
        assert_eq!(classify("PUT", "/v2/a/manifests/latest"), Kind::ManifestPut);
        assert_eq!(classify("GET", "/v2/a/manifests/latest"), Kind::ManifestGet);
        assert_eq!(classify("GET", "/token?scope=x"), Kind::Token);
        assert_eq!(classify("GET", "/v2/_catalog"), Kind::Other);
    }

    #[test]
    fn identities_ignore_upload_sessions() {
        assert_eq!(
            identity(Kind::UploadPut, "/v2/a/blobs/uploads/u-1?digest=sha256:1"),
            identity(
                Kind::UploadPut,
                "/v2/a/blobs/uploads/u-2?_state=x&digest=sha256:1"
            )
        );
    }

    #[test]
    fn a_seeded_plan_faults_each_identity_once_and_replays() {
        let plan = FaultPlan::Seeded {
            seed: 7,
            rate: 1.0,
            faults: vec![Fault::Status(503)],
            kinds: vec![Kind::ManifestPut],
        };
        let mut a = State {
            plan: Some(plan.clone()),
            ..State::default()
        };
        assert_eq!(
            a.decide(Kind::ManifestPut, "/v2/a/manifests/t"),
            Some(Fault::Status(503))
        );
        assert_eq!(a.decide(Kind::ManifestPut, "/v2/a/manifests/t"), None);
        assert_eq!(a.decide(Kind::BlobHead, "/v2/a/blobs/x"), None);
        let rate_half = |seed| FaultPlan::Seeded {
            seed,
            rate: 0.5,
            faults: Fault::TRANSIENT.to_vec(),
            kinds: Kind::FAULTABLE.to_vec(),
        };
        let run = |seed| {
            let mut s = State {
                plan: Some(rate_half(seed)),
                ..State::default()
            };
            (0..50)
                .map(|i| s.decide(Kind::BlobHead, &format!("/v2/a/blobs/{i}")))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
