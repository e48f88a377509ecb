//! Clients for registries: one [`Conn`] per registry and protocol (and repository, for an
//! identity token), created on first use with its credentials and reused after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_client::RegistryOperation;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::auth::Credential;
use super::error::{RegistryError, chain, one_line};
use super::target::Target;
use super::{RegistryStore, identity, ping};

/// A client for one registry (and one protocol), with its credentials already stored.
pub(super) struct Conn {
    pub(super) client: Client,
    /// The credentials the client was given, to ask for a fresh token with.
    auth: RegistryAuth,
    /// When its access token (from an identity token) should be replaced by a fresh one: the
    /// client sends that token as is and cannot renew it.
    renew_at: Option<Instant>,
}

impl Conn {
    /// Asks for a fresh token for `reference` and `op` in place of one the registry refused (it
    /// may have expired or been revoked early); the client would keep sending the cached one.
    pub(super) async fn renew(&self, reference: &Reference, op: RegistryOperation) {
        let _ = self.client.auth(reference, &self.auth, op).await;
    }
}

/// What a [`Conn`] is shared by: the registry and whether it is insecure, and the repository
/// too when the credential is an identity token (its access token is scoped to one repository).
pub(super) type ConnKey = (String, bool, Option<String>);

impl RegistryStore {
    pub(super) fn conn(&self, target: &Target) -> Result<Arc<Conn>, RegistryError> {
        self.runtime.block_on(self.conn_async(target))
    }

    pub(super) fn conn_key(&self, target: &Target) -> Result<ConnKey, RegistryError> {
        let identity = matches!(
            self.options.auth.resolve(&target.image.registry)?,
            Some(Credential::IdentityToken(_))
        );
        Ok((
            target.image.registry.clone(),
            target.insecure,
            identity.then(|| target.image.repository.clone()),
        ))
    }

    /// [`Self::conn`] from inside the runtime (creating a client there must not `block_on`).
    pub(super) async fn conn_async(&self, target: &Target) -> Result<Arc<Conn>, RegistryError> {
        let key = self.conn_key(target)?;
        if let Some(c) = self.cached_conn(&key) {
            return Ok(c);
        }
        let registry = &target.image.registry;
        let credential = self.options.auth.resolve(registry)?;
        let identity = matches!(credential, Some(Credential::IdentityToken(_)));
        // A registry on this machine or a private network that nobody called insecure is tried
        // over verified HTTPS, then plain HTTP, as docker and upstream's transport do.
        let probe = target.insecure || target.image.is_local_registry();
        // a plain client only for the ping of such a registry and the token exchange
        let http = if probe || identity {
            Some(
                ping::http_client(
                    target.insecure,
                    &self.certificates,
                    self.options.connect_timeout,
                    self.options.request_timeout,
                )
                .map_err(RegistryError::Tls)?,
            )
        } else {
            None
        };
        let https = match (&http, probe) {
            (Some(http), true) => self.answers_https_once(http, registry).await,
            _ => true,
        };
        let (auth, renew_at) = registry_auth(target, credential, http.as_ref(), https).await?;
        let client = Client::try_from(self.client_config(target, https))
            .map_err(|e| RegistryError::Tls(chain(&e)))?;
        client.store_auth_if_needed(registry, &auth).await;
        let conn = Arc::new(Conn {
            client,
            auth,
            renew_at,
        });
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, conn.clone());
        Ok(conn)
    }

    /// The client shared under `key`, unless its access token is due for renewal.
    fn cached_conn(&self, key: &ConnKey) -> Option<Arc<Conn>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .filter(|c| c.renew_at.is_none_or(|t| Instant::now() < t))
            .cloned()
    }

    fn client_config(&self, target: &Target, https: bool) -> ClientConfig {
        ClientConfig {
            protocol: if https {
                ClientProtocol::Https
            } else {
                ClientProtocol::Http
            },
            accept_invalid_certificates: target.insecure,
            use_monolithic_push: true,
            extra_root_certificates: self.certificates.clone(),
            platform_resolver: None,
            connect_timeout: Some(self.options.connect_timeout),
            read_timeout: Some(self.options.read_timeout),
            ..ClientConfig::default()
        }
    }

    /// Whether an insecure (unverified) or local registry speaks HTTPS, asked once per registry:
    /// HTTPS first, plain HTTP when HTTPS gets no answer at all.
    async fn answers_https_once(&self, http: &reqwest::Client, registry: &str) -> bool {
        let known = self
            .https
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(registry)
            .copied();
        if let Some(https) = known {
            return https;
        }
        let https = ping::answers_https(http, registry, self.options.connect_timeout).await;
        self.https
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(registry.to_string(), https);
        https
    }
}

/// The credentials the client is given for `target`, and when they are due for renewal (only an
/// access token from an identity token expires under us).
async fn registry_auth(
    target: &Target,
    credential: Option<Credential>,
    http: Option<&reqwest::Client>,
    https: bool,
) -> Result<(RegistryAuth, Option<Instant>), RegistryError> {
    let t = match credential {
        None => return Ok((RegistryAuth::Anonymous, None)),
        Some(Credential::Basic(u, p)) => return Ok((RegistryAuth::Basic(u, p), None)),
        Some(Credential::Bearer(t)) => return Ok((RegistryAuth::Bearer(t), None)),
        Some(Credential::IdentityToken(t)) => t,
    };
    let Some(http) = http else {
        return Err(RegistryError::Tls(
            "no http client for the token exchange".into(),
        ));
    };
    let registry = &target.image.registry;
    let base = format!("{}://{registry}", if https { "https" } else { "http" });
    let token = identity::exchange(http, &base, &target.image.repository, &t)
        .await
        .map_err(|reason| {
            RegistryError::AuthConfig(format!(
                "identity token for '{}': {}",
                target.display,
                one_line(&reason)
            ))
        })?;
    Ok(match token {
        None => (RegistryAuth::Anonymous, None),
        Some(t) => {
            // renew with a margin, so a request started near the end still gets in
            let margin = (t.lifetime / 4).min(Duration::from_secs(30));
            (
                RegistryAuth::Bearer(t.token),
                Some(Instant::now() + t.lifetime - margin),
            )
        }
    })
}
