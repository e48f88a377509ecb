//! The fault proxy's token service: a bearer challenge on `/v2/`, tokens from `/token` for the
//! right basic credentials, requests bearing the current token sent upstream with the registry's
//! own credentials, and tokens that expire ([`crate::fault_proxy::Fault::ExpireToken`]).

use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::fault_proxy::{Fault, Head, Kind, State, answer, forward, header, respond};

/// Bearer-token auth in front of a basic-auth registry, as registries with a token service
/// have: `/v2/` answers a bearer challenge naming the proxy's `/token`, which hands out
/// `token` for the right basic credentials; requests bearing it go upstream with `upstream`.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// The `Authorization` value `/token` wants (`Basic <base64 user:password>`).
    pub client: String,
    /// The `Authorization` value sent upstream.
    pub upstream: String,
    /// The token handed out (with `-<generation>` appended once it has expired).
    pub token: String,
    /// How often the token expired ([`Fault::ExpireToken`]); 0 when starting.
    pub generation: u32,
}

impl Gateway {
    /// The token valid now.
    pub(crate) fn current(&self) -> String {
        match self.generation {
            0 => self.token.clone(),
            n => format!("{}-{n}", self.token),
        }
    }
}

/// A token lives this long before it can expire: tokens last minutes, and one handed out a
/// moment ago does not expire before its holders could use it.
const TOKEN_MIN_LIFE: Duration = Duration::from_secs(3);

/// Expires the current token if the request bears it and it is old enough; false (and the
/// fault not counted) when the request bears the current token but it is too young to expire.
pub(crate) fn expire_token(head: &Head, kind: Kind, state: &Mutex<State>) -> bool {
    let bearer = header(&head.lines, "authorization").map(str::to_string);
    let mut state = state.lock().unwrap();
    let now = Instant::now();
    let born = state.token_born;
    let Some(g) = state.gateway.as_mut() else {
        return true;
    };
    if bearer != Some(format!("Bearer {}", g.current())) {
        return true; // an older token: expired already
    }
    if born.is_some_and(|b| now.duration_since(b) < TOKEN_MIN_LIFE) {
        if let Some(n) = state.injected.get_mut(&(kind, Fault::ExpireToken)) {
            *n -= 1;
        }
        let entry = format!("ExpireToken {kind:?} {}", head.target);
        if let Some(i) = state.log.iter().rposition(|l| *l == entry) {
            state.log.remove(i);
        }
        return false;
    }
    g.generation += 1;
    state.token_born = Some(now);
    true
}

/// The [`Gateway`]: hands out tokens, forwards requests bearing one, challenges the rest.
pub(crate) fn guard(
    conn: TcpStream,
    mut head: Head,
    kind: Kind,
    upstream: &str,
    state: &Mutex<State>,
    g: &Gateway,
) {
    let auth = header(&head.lines, "authorization").map(str::to_string);
    if kind == Kind::Token {
        if auth.as_deref() == Some(g.client.as_str()) {
            let body = format!(
                "{{\"token\":\"{0}\",\"access_token\":\"{0}\",\"expires_in\":300}}",
                g.current()
            );
            respond(conn, "200 OK", &[], &body);
        } else {
            answer(
                conn,
                401,
                "Unauthorized",
                &["WWW-Authenticate: Basic realm=\"token\""],
            );
        }
        return;
    }
    if to_upstream(&mut head, g) {
        return forward(conn, head, kind, upstream, state);
    }
    let local = conn.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let challenge =
        format!("WWW-Authenticate: Bearer realm=\"http://{local}/token\",service=\"fault-proxy\"");
    answer(conn, 401, "Unauthorized", &[challenge.as_str()]);
}

/// Swaps a request's valid bearer token for the upstream credentials; false when it has none.
pub(crate) fn to_upstream(head: &mut Head, g: &Gateway) -> bool {
    let bearer = format!("Bearer {}", g.current());
    if header(&head.lines, "authorization") != Some(bearer.as_str()) {
        return false;
    }
    head.lines.retain(|l| {
        let name = l.split(':').next().unwrap_or("").trim();
        !name.eq_ignore_ascii_case("authorization")
    });
    head.lines.push(format!("Authorization: {}", g.upstream));
    true
}
