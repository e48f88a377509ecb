//! Identity tokens: an OAuth2 refresh token (docker's `identitytoken`, a helper's `<token>`
//! secret, pack's `X-Identity` entry in `CNB_REGISTRY_AUTH`) is never sent to the registry. It is
//! exchanged at the registry's token endpoint (`grant_type=refresh_token`) for an access token
//! scoped to one repository, which is then used as the registry token, as upstream does.

use super::ping::{self, Challenge};

/// The `client_id` sent with the exchange (token servers only log it).
const CLIENT_ID: &str = "cnb-lifecycle";

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// How long a token lives when the endpoint does not say (the distribution token spec's default).
const DEFAULT_EXPIRES_IN: u64 = 60;

/// An access token and how long it may be used.
#[derive(Debug)]
pub(super) struct AccessToken {
    /// The token.
    pub(super) token: String,
    /// Its lifetime from when it was issued.
    pub(super) lifetime: std::time::Duration,
}

/// An access token for `repository` at the registry at `base` (`scheme://host`), or `None` when
/// the registry asks for no auth. Push access is asked for first; a token server that refuses
/// it still gives pull access.
pub(super) async fn exchange(
    http: &reqwest::Client,
    base: &str,
    repository: &str,
    identity_token: &str,
) -> Result<Option<AccessToken>, String> {
    let (realm, service) = match ping::challenge(http, base).await? {
        Challenge::None => return Ok(None),
        Challenge::Basic => {
            return Err(format!(
                "{base} asks for basic auth: an identity token needs a registry with a token endpoint"
            ));
        }
        Challenge::Bearer { realm, service } => (realm, service),
    };
    let mut last = String::new();
    for actions in ["pull,push", "pull"] {
        let scope = format!("repository:{repository}:{actions}");
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", identity_token),
            ("client_id", CLIENT_ID),
            ("scope", scope.as_str()),
        ];
        if let Some(s) = &service {
            form.push(("service", s.as_str()));
        }
        let response = http
            .post(&realm)
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("token endpoint {realm}: {}", super::chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            last = format!("token endpoint {realm} refused the identity token: {status}");
            continue;
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| format!("token endpoint {realm}: {}", super::chain(&e)))?;
        let lifetime = std::time::Duration::from_secs(
            answer
                .expires_in
                .filter(|s| *s > 0)
                .unwrap_or(DEFAULT_EXPIRES_IN),
        );
        return answer
            .access_token
            .or(answer.token)
            .filter(|t| !t.is_empty())
            .map(|token| Some(AccessToken { token, lifetime }))
            .ok_or_else(|| format!("token endpoint {realm} answered without a token"));
    }
    Err(last)
}
