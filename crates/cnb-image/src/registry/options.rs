//! How to reach registries: insecure ones, extra CAs, credentials, timeouts, retries. The
//! caller fills them (a phase from its resolved inputs): this crate reads no environment.

use std::path::PathBuf;
use std::time::Duration;

use super::auth::AuthSource;
use super::error::RegistryError;
use super::retry::RetryPolicy;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Prefixes of image references (`host[:port]` or `host[:port]/repo`) of insecure
    /// registries: tried over HTTPS without verifying the certificate, then over plain HTTP when
    /// HTTPS gets no answer.
    pub insecure_registries: Vec<String>,
    /// PEM files of extra CA certificates to trust.
    pub ca_certificates: Vec<PathBuf>,
    /// Where credentials come from.
    pub auth: AuthSource,
    /// Bound of the TCP/TLS connect phase.
    pub connect_timeout: Duration,
    /// Bound of the wait for any bytes of a response.
    pub read_timeout: Duration,
    /// Bound of one attempt of a small call (manifest, HEAD, mount).
    pub request_timeout: Duration,
    /// Bound of one attempt of a blob upload.
    pub transfer_timeout: Duration,
    /// Retries of transient faults.
    pub retry: RetryPolicy,
    /// How many blobs `put_blobs` uploads at once.
    pub max_concurrent_uploads: usize,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            insecure_registries: Vec::new(),
            ca_certificates: Vec::new(),
            auth: AuthSource::anonymous(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            transfer_timeout: Duration::from_secs(30 * 60),
            retry: RetryPolicy::default(),
            max_concurrent_uploads: 4,
        }
    }
}

impl RegistryOptions {
    /// `CNB_REGISTRY_TIMEOUT` (seconds, an extension; the caller reads the variable): bounds the wait for any answer and each
    /// attempt of a small call, so a stalled registry is given up on (and retried) sooner.
    pub fn set_timeout(&mut self, seconds: &str) -> Result<(), RegistryError> {
        let secs: f64 = seconds
            .trim()
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 86_400.0)
            .ok_or_else(|| {
                RegistryError::Config(format!(
                    "CNB_REGISTRY_TIMEOUT '{seconds}': expected a number of seconds"
                ))
            })?;
        let t = Duration::from_secs_f64(secs);
        self.read_timeout = t;
        self.request_timeout = t;
        self.connect_timeout = self.connect_timeout.min(t);
        Ok(())
    }

    pub(super) fn is_insecure(&self, name: &str) -> bool {
        self.insecure_registries
            .iter()
            .any(|p| !p.is_empty() && name.starts_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_bounds_every_wait() {
        let mut o = RegistryOptions::default();
        o.set_timeout("2.5").unwrap();
        assert_eq!(o.read_timeout, Duration::from_millis(2500));
        assert_eq!(o.request_timeout, Duration::from_millis(2500));
        assert_eq!(o.connect_timeout, Duration::from_millis(2500));
        for bad in ["", "x", "0", "-1", "inf"] {
            let e = o.set_timeout(bad).unwrap_err().to_string();
            assert!(e.contains("CNB_REGISTRY_TIMEOUT"), "{e}");
        }
    }
}
