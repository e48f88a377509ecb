//! Retries of registry calls: transient faults (connection errors, timeouts, HTTP 5xx and 429)
//! are tried again with exponential backoff and jitter; a 401 gets fresh credentials and is
//! tried again, twice at most (a token that expired or failed to arrive is asked for again); answers that will not change (400, 403, 404, 405, ...)
//! are returned at once. Every attempt runs under a deadline.

use std::future::Future;
use std::time::Duration;

use oci_client::errors::{OciDistributionError as E, OciErrorCode};

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Delay before the second attempt; doubled each time.
    pub initial_backoff: Duration,
    /// Upper bound of the delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// What a failed call means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Worth another try.
    Transient,
    /// The thing asked for does not exist.
    NotFound,
    /// Credentials missing or rejected.
    Unauthorized,
    /// Anything else: final.
    Fatal,
}

fn by_status(code: u16) -> Class {
    match code {
        401 | 403 => Class::Unauthorized,
        404 => Class::NotFound,
        408 | 429 => Class::Transient,
        c if c >= 500 => Class::Transient,
        _ => Class::Fatal,
    }
}

/// Sorts an oci-client error into retryable or not.
pub(crate) fn classify(err: &E) -> Class {
    match err {
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => Class::Unauthorized,
        E::ImageManifestNotFoundError(_) => Class::NotFound,
        E::ServerError { code, .. } => by_status(*code),
        E::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                Class::Unauthorized
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                Class::NotFound
            } else if codes.iter().any(|c| match c {
                OciErrorCode::Toomanyrequests => true,
                // the status is lost with an envelope: distribution answers 5xx with UNKNOWN,
                // and proxies throttle (429) with codes of their own
                OciErrorCode::Other(code) => matches!(
                    code.to_ascii_uppercase().as_str(),
                    "UNKNOWN" | "UNAVAILABLE" | "TOO_MANY_REQUESTS" | "TOOMANYREQUESTS"
                ),
                _ => false,
            }) {
                Class::Transient
            } else {
                Class::Fatal
            }
        }
        E::RequestError(e) => {
            if let Some(status) = e.status() {
                return by_status(status.as_u16());
            }
            if super::chain(err)
                .to_ascii_lowercase()
                .contains("certificate")
            {
                // a tls trust failure does not heal by itself
                Class::Fatal
            } else if e.is_timeout()
                || e.is_connect()
                || e.is_request()
                || e.is_body()
                || e.is_decode()
            {
                Class::Transient
            } else {
                Class::Fatal
            }
        }
        E::IoError(_) => Class::Transient,
        _ => Class::Fatal,
    }
}

/// Why a call finally failed.
pub(crate) struct Failure {
    pub class: Class,
    pub reason: String,
}

impl super::RegistryStore {
    /// Runs `call` to its end on the store's runtime with the store's retries and per-attempt
    /// timeout; a 401 renews `conn`'s token for `op` on `reference` before the retry.
    pub(super) fn call<T, F, Fut>(
        &self,
        conn: &super::conn::Conn,
        reference: &oci_client::Reference,
        op: oci_client::RegistryOperation,
        call: F,
    ) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.runtime.block_on(with_retry(
            &self.options.retry,
            self.options.request_timeout,
            call,
            || conn.renew(reference, op),
        ))
    }
}

/// How often a 401 gets fresh credentials and another try.
const MAX_REAUTHS: u32 = 2;

/// Runs `call` until it succeeds, fails for good, or runs out of attempts. Each attempt is
/// bounded by `timeout`. Before the one retry after a 401, `reauth` asks for fresh credentials.
pub(crate) async fn with_retry<T, F, Fut, R, RFut>(
    policy: &RetryPolicy,
    timeout: Duration,
    mut call: F,
    reauth: R,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    R: Fn() -> RFut,
    RFut: Future<Output = ()>,
{
    let mut backoff = policy.initial_backoff;
    let attempts = policy.attempts.max(1);
    let mut attempt = 1;
    let mut reauths = 0;
    loop {
        let failure = match tokio::time::timeout(timeout, call()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => Failure {
                class: classify(&e),
                reason: super::chain(&e),
            },
            Err(_) => Failure {
                class: Class::Transient,
                reason: format!("timed out after {}s", timeout.as_secs_f32()),
            },
        };
        // after a 401, fresh credentials and another try, twice at most: a token that expired
        // (or failed to arrive) is asked for again, and may expire again while others renew
        let retry_auth = failure.class == Class::Unauthorized && reauths < MAX_REAUTHS;
        if (failure.class != Class::Transient && !retry_auth) || attempt >= attempts {
            let reason = if failure.class == Class::Transient && attempts > 1 {
                format!("{} (gave up after {attempts} attempts)", failure.reason)
            } else {
                failure.reason
            };
            return Err(Failure {
                class: failure.class,
                reason,
            });
        }
        if retry_auth {
            reauths += 1;
            reauth().await;
        }
        // oci-client drops the Retry-After header: a 429 waits at least a second, within the cap
        let wait = if failure.reason.contains("429") || failure.reason.contains("toomanyrequests") {
            backoff
                .max(Duration::from_secs(1))
                .min(policy.max_backoff.max(Duration::from_secs(1)))
        } else {
            backoff
        };
        tokio::time::sleep(wait + jitter(wait)).await;
        backoff = (backoff * 2).min(policy.max_backoff);
        attempt += 1;
    }
}

/// Up to a quarter of `wait`, so clients failed together do not retry together.
fn jitter(wait: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    wait.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[test]
    fn a_401_renews_the_credentials_twice_then_is_final() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let calls = std::sync::atomic::AtomicU32::new(0);
        let renewed = std::sync::atomic::AtomicU32::new(0);
        let result: Result<(), Failure> = rt.block_on(with_retry(
            &fast(),
            Duration::from_secs(5),
            || {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async {
                    Err(E::UnauthorizedError {
                        url: "http://r/v2/".into(),
                    })
                }
            },
            || async {
                renewed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
        ));
        assert_eq!(calls.into_inner(), 3);
        assert_eq!(
            renewed.into_inner(),
            2,
            "credentials renewed before each retry"
        );
        assert!(matches!(result, Err(f) if f.class == Class::Unauthorized));
    }

    #[test]
    fn envelopes_whose_status_is_lost_are_transient_when_their_code_says_so() {
        let envelope = |code: &str| E::RegistryError {
            envelope: serde_json::from_str(&format!(
                r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#
            ))
            .unwrap(),
            url: "http://r/v2/a/manifests/t".into(),
        };
        for code in [
            "UNKNOWN",
            "UNAVAILABLE",
            "TOOMANYREQUESTS",
            "TOO_MANY_REQUESTS",
        ] {
            assert_eq!(classify(&envelope(code)), Class::Transient, "{code}");
        }
        assert_eq!(classify(&envelope("MANIFEST_INVALID")), Class::Fatal);
        assert_eq!(classify(&envelope("MANIFEST_UNKNOWN")), Class::NotFound);
        assert_eq!(classify(&envelope("DENIED")), Class::Unauthorized);
    }

    #[test]
    fn statuses() {
        for c in [400, 401, 403, 404, 405] {
            assert_ne!(by_status(c), Class::Transient, "{c}");
        }
        for c in [429, 500, 502, 503, 504] {
            assert_eq!(by_status(c), Class::Transient, "{c}");
        }
    }
}
