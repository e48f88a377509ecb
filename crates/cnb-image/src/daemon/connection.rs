//! One connection to the Docker daemon, opened when the store is built and reused for every
//! request. A phase opens it as root and then drops privileges; the socket is usually root's, so
//! connecting per request (as HTTP clients normally do) would fail after the drop.

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bollard::{BollardRequest, Docker};
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{Either, Full, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::DaemonError;

/// The request body type bollard hands to a custom transport.
type Body = Either<
    Full<Bytes>,
    StreamBody<Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, io::Error>> + Send>>>,
>;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///path/to/docker.sock`
    Unix(std::path::PathBuf),
    /// `tcp://host:port` (plain HTTP)
    Tcp(String),
}

impl Endpoint {
    /// Where the docker CLI looks when `DOCKER_HOST` is unset or empty.
    pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

    /// Parses a `DOCKER_HOST` value.
    pub fn parse(host: &str) -> Result<Self, DaemonError> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Ok(Endpoint::Unix(path.into()));
        }
        if let Some(addr) = host.strip_prefix("tcp://") {
            return Ok(Endpoint::Tcp(addr.trim_end_matches('/').into()));
        }
        Err(DaemonError::Host {
            host: host.into(),
            reason: "expected unix://<socket> or tcp://<host>:<port>".into(),
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

struct Shared {
    endpoint: Endpoint,
    sender: tokio::sync::Mutex<Option<SendRequest<Body>>>,
}

/// Connects (inside the store's runtime) and returns a bollard client that sends every request
/// over that connection, one at a time.
pub async fn connect(endpoint: Endpoint, timeout_secs: u64) -> Result<Docker, DaemonError> {
    let sender = handshake(&endpoint)
        .await
        .map_err(|e| DaemonError::Connect {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })?;
    let shared = Arc::new(Shared {
        endpoint,
        sender: tokio::sync::Mutex::new(Some(sender)),
    });
    let transport = move |req: BollardRequest| {
        let shared = Arc::clone(&shared);
        async move { send(&shared, req).await }
    };
    Docker::connect_with_custom_transport(
        transport,
        Some("http://docker"),
        timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| DaemonError::Connect {
        endpoint: "docker".into(),
        reason: e.to_string(),
    })
}

/// Pings the daemon every `every` for as long as the runtime runs (the store's lifetime).
///
/// After a phase drops privileges the root-owned socket cannot be connected to again, so the one
/// connection must not be closed for being idle while buildpacks run for minutes: a proxy in
/// front of the daemon (a socket proxy, `docker context` over ssh) may close idle connections,
/// and the next request would find nothing to reconnect to. A ping that finds the connection
/// closed reconnects while that is still possible. Failed pings are left for the next real
/// request to report.
pub async fn keep_alive(docker: Docker, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; connect has just pinged
    loop {
        ticks.tick().await;
        let _ = docker.ping().await;
    }
}

async fn send(
    shared: &Shared,
    req: BollardRequest,
) -> Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error> {
    let (mut parts, body) = req.into_parts();
    // Origin-form target and a Host header: the request goes straight onto the connection.
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri = target.parse().map_err(http::Error::from)?;
    parts
        .headers
        .insert(http::header::HOST, http::HeaderValue::from_static("docker"));
    let response = {
        let mut guard = shared.sender.lock().await;
        // The daemon may close an idle connection; reconnecting works while the socket is
        // still reachable (before a privilege drop, or when it is world-accessible).
        if guard.as_ref().is_none_or(SendRequest::is_closed) {
            *guard = Some(handshake(&shared.endpoint).await?);
        }
        let Some(sender) = guard.as_mut() else {
            return Err(io::Error::other("no connection to the docker daemon").into());
        };
        sender.ready().await?;
        sender.send_request(hyper::Request::from_parts(parts, body))
    };
    Ok(response.await?)
}

async fn handshake(endpoint: &Endpoint) -> io::Result<SendRequest<Body>> {
    match endpoint {
        #[cfg(unix)]
        Endpoint::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await?;
            start(TokioIo::new(stream)).await
        }
        #[cfg(not(unix))]
        Endpoint::Unix(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "unix sockets are not available on this OS; set DOCKER_HOST=tcp://...",
        )),
        Endpoint::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            start(TokioIo::new(stream)).await
        }
    }
}

async fn start<S>(io: TokioIo<S>) -> io::Result<SendRequest<Body>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(async move {
        // Ends when the daemon closes the connection; the next request reconnects.
        let _ = conn.await;
    });
    Ok(sender)
}
