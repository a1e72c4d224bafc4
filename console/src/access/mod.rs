//! Who may use the console and how a request proves it. Locally ([`local`]): a token the printed
//! link carries, swapped for a cookie. On Lambda ([`cognito`]): the user pool's hosted sign-in
//! (code flow with PKCE), its ID token kept in an HttpOnly Secure cookie and verified against the
//! pool's keys on every request. Either way every state-changing request also needs the form
//! token of its session (derived from the session, so another origin can neither read nor guess
//! it) and an Origin of the console's own.

mod cognito;
mod jwks;
mod local;

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use self::cognito::{CognitoAccess, CognitoSettings, SettingsError};
#[cfg(test)]
pub(crate) use self::local::COOKIE;
pub use self::local::LocalAccess;
use crate::Console;
use crate::render::refusal;

/// The hidden field every form carries.
pub const FORM_TOKEN: &str = "form_token";
/// The address that ends a session.
pub const SIGN_OUT: &str = "/sign-out";
/// The largest form the console reads.
const MAX_FORM: usize = 1024 * 1024;

/// How users reach this console.
#[derive(Clone, Debug)]
pub enum Access {
    /// On loopback, opened with the link it prints.
    Local(LocalAccess),
    /// Behind an HTTP API, signed in through a Cognito user pool.
    Cognito(Arc<CognitoAccess>),
}

impl Access {
    /// A fresh random token for a console listening on `127.0.0.1:port`.
    pub fn local(port: u16) -> Self {
        Access::Local(LocalAccess::new(port))
    }

    /// Sign-in through the user pool `settings` name.
    pub fn cognito(settings: CognitoSettings) -> Self {
        Access::Cognito(Arc::new(CognitoAccess::new(settings)))
    }

    /// The link that opens the console.
    pub fn link(&self) -> String {
        match self {
            Access::Local(local) => local.link(),
            Access::Cognito(cognito) => cognito.link(),
        }
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let origin = header_text(headers, header::ORIGIN);
        match self {
            Access::Local(local) => local.origin_allowed(origin),
            Access::Cognito(cognito) => cognito.origin_allowed(origin),
        }
    }
}

/// What a request's credentials came to: the session's secret, or the answer given instead of
/// the page (a refusal, a redirect to sign in, the cookie of a new session).
pub(crate) enum Admission {
    Session(String),
    Answer(Response),
}

/// The signed-in session a page is rendered for: what its forms carry.
#[derive(Clone, Debug)]
pub struct Session {
    form_token: String,
}

impl Session {
    /// The session whose secret (the cookie's value) is `secret`.
    pub fn of(secret: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(b"form");
        Session { form_token: hex(&mac.finalize().into_bytes()) }
    }

    /// The value of the hidden [`FORM_TOKEN`] field.
    pub fn form_token(&self) -> String {
        self.form_token.clone()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Lets a request through only as this module's header describes.
pub async fn guard(State(console): State<Console>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let admission = match &console.access {
        Access::Local(local) => local.admit(&parts),
        Access::Cognito(cognito) => cognito.admit(&parts).await,
    };
    let session = match admission {
        Admission::Session(secret) => Session::of(&secret),
        Admission::Answer(response) => return response,
    };
    parts.extensions.insert(session.clone());
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    if !console.access.origin_allowed(&parts.headers) {
        return refusal(StatusCode::FORBIDDEN, "Refused: the request did not come from a page of this console.");
    }
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "The form is larger than the console reads.");
    };
    let presented = form_urlencoded_value(&bytes, FORM_TOKEN);
    if !presented.is_some_and(|token| same(&token, &session.form_token)) {
        return refusal(
            StatusCode::FORBIDDEN,
            "Refused: the form's token is missing or from another session; reload the page.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// 256 bits from the operating system's generator, as 64 hex digits.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex(&bytes)
}

/// Compares digests: the time taken says nothing about the secret.
fn same(presented: &str, expected: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes())
}

/// The text of header `name` ("" when absent or not text): what the Host and Origin checks read.
fn header_text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded_value(query?.as_bytes(), name)
}

fn form_urlencoded_value(bytes: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(bytes).find_map(|(key, value)| (key == name).then(|| value.into_owned()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
