//! The console behind an HTTP API, signed in through a Cognito user pool's hosted pages. The
//! console runs the OAuth 2.0 authorization-code flow with PKCE itself (a browser's cookie cannot
//! reach an HTTP API JWT authorizer): a request without a valid session is sent to the pool's
//! sign-in page with a fresh `state` and code challenge, both kept in a short-lived HttpOnly
//! cookie; the pool sends the browser back to `/auth/callback` with a code, which the console
//! exchanges (with the verifier) for tokens; the ID token, checked against the pool's keys,
//! becomes the session cookie (HttpOnly, Secure, `__Host-`). Every later request is checked the
//! same way; an expired session signs in again.

use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::jwks::Keys;
use super::{Admission, SIGN_OUT, cookie, header_text, query_value, random_token, same};
use crate::render::refusal;

/// The session cookie: the pool's ID token.
const SESSION: &str = "__Host-mediaflow_session";
/// The sign-in under way: `state`, code verifier and the page to return to.
const SIGN_IN: &str = "__Host-mediaflow_sign_in";
/// Where the pool sends the browser back.
const CALLBACK: &str = "/auth/callback";
/// How long a sign-in may take, in seconds.
const SIGN_IN_SECONDS: u32 = 600;

/// The user pool and the console's address, as the template passes them to the function.
#[derive(Clone, Debug)]
pub struct CognitoSettings {
    /// The pool's hosted pages, e.g. `https://PREFIX.auth.REGION.amazoncognito.com`.
    pub domain: String,
    /// The console's app client (public: no secret, PKCE instead).
    pub client_id: String,
    /// The pool's issuer, `https://cognito-idp.REGION.amazonaws.com/POOL_ID`.
    pub issuer: String,
    /// The console's own address, e.g. `https://API_ID.execute-api.REGION.amazonaws.com`.
    pub console_url: String,
}

/// A setting the console function was started without.
#[derive(Debug, thiserror::Error)]
#[error("{0} is not set: the console function reads its user pool from the template's environment")]
pub struct SettingsError(&'static str);

impl CognitoSettings {
    /// From `COGNITO_DOMAIN`, `COGNITO_CLIENT_ID`, `COGNITO_ISSUER` and `CONSOLE_URL`.
    pub fn from_env() -> Result<Self, SettingsError> {
        let var =
            |name: &'static str| std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or(SettingsError(name));
        Ok(CognitoSettings {
            domain: var("COGNITO_DOMAIN")?,
            client_id: var("COGNITO_CLIENT_ID")?,
            issuer: var("COGNITO_ISSUER")?,
            console_url: var("CONSOLE_URL")?,
        })
    }
}

/// Sign-in through the pool, and the checks of every request.
#[derive(Debug)]
pub struct CognitoAccess {
    settings: CognitoSettings,
    /// What the Host header of a request to the console says.
    host: String,
    keys: Keys,
    http: reqwest::Client,
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct Tokens {
    id_token: String,
    #[serde(default)]
    expires_in: Option<u32>,
}

impl CognitoAccess {
    pub(super) fn new(mut settings: CognitoSettings) -> Self {
        for url in [&mut settings.domain, &mut settings.console_url, &mut settings.issuer] {
            *url = url.trim_end_matches('/').to_owned();
        }
        let host = settings.console_url.split_once("://").map_or("", |(_, rest)| rest).to_owned();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("a client with rustls and the bundled roots");
        let keys = Keys::new(&settings.issuer, &settings.client_id, http.clone());
        CognitoAccess { settings, host, keys, http }
    }

    pub(super) fn link(&self) -> String {
        format!("{}/", self.settings.console_url)
    }

    pub(super) fn origin_allowed(&self, origin: &str) -> bool {
        origin == self.settings.console_url
    }

    pub(super) async fn admit(&self, request: &Parts) -> Admission {
        let headers = &request.headers;
        let host = header_text(headers, header::HOST);
        if host != self.host {
            return Admission::Answer(refusal(
                StatusCode::MISDIRECTED_REQUEST,
                "This console answers only on its own address.",
            ));
        }
        match request.uri.path() {
            CALLBACK => return Admission::Answer(self.callback(request).await),
            SIGN_OUT => return Admission::Answer(self.sign_out()),
            _ => {}
        }
        if let Some(token) = cookie(headers, SESSION) {
            match self.keys.verify(token).await {
                Ok(claims) => {
                    tracing::debug!(user = %claims.sub, email = claims.email.as_deref().unwrap_or_default(), "signed in");
                    return Admission::Session(token.to_owned());
                }
                Err(error) => tracing::info!(%error, "session not accepted; signing in again"),
            }
        }
        if request.method != Method::GET {
            return Admission::Answer(refusal(
                StatusCode::UNAUTHORIZED,
                "Your session has ended: reload the page to sign in again.",
            ));
        }
        let back = request.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        Admission::Answer(self.sign_in(&back))
    }

    /// To the pool's sign-in page, remembering `state`, the verifier and the page `back`.
    fn sign_in(&self, back: &str) -> Response {
        let (state, verifier) = (random_token(), random_token());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("scope", "openid email")
            .append_pair("state", &state)
            .append_pair("code_challenge_method", "S256")
            .append_pair("code_challenge", &challenge)
            .finish();
        let pending = format!("{state}.{verifier}.{}", URL_SAFE_NO_PAD.encode(back));
        let mut response = Redirect::to(&format!("{}/oauth2/authorize?{query}", self.settings.domain)).into_response();
        set_cookie(&mut response, SIGN_IN, &pending, SIGN_IN_SECONDS);
        response
    }

    /// The pool sent the browser back: the code becomes the session.
    async fn callback(&self, request: &Parts) -> Response {
        let query = request.uri.query();
        if let Some(error) = query_value(query, "error") {
            let description = query_value(query, "error_description").unwrap_or_default();
            return refusal(StatusCode::UNAUTHORIZED, &format!("Sign-in was refused: {error} {description}"));
        }
        let pending = cookie(&request.headers, SIGN_IN).and_then(|value| {
            let mut parts = value.splitn(3, '.');
            let (state, verifier, back) = (parts.next()?, parts.next()?, parts.next()?);
            let back = String::from_utf8(URL_SAFE_NO_PAD.decode(back).ok()?).ok()?;
            Some((state.to_owned(), verifier.to_owned(), back))
        });
        let (Some((state, verifier, back)), Some(code), Some(returned)) =
            (pending, query_value(query, "code"), query_value(query, "state"))
        else {
            return refusal(
                StatusCode::BAD_REQUEST,
                "This sign-in has expired or was not started here: open the console again.",
            );
        };
        if !same(&returned, &state) {
            return refusal(StatusCode::BAD_REQUEST, "This sign-in was not started here: open the console again.");
        }
        let tokens = match self.exchange(&code, &verifier).await {
            Ok(tokens) => tokens,
            Err(message) => {
                tracing::warn!(%message, "the code exchange failed");
                return refusal(StatusCode::BAD_GATEWAY, &format!("Sign-in could not be completed: {message}"));
            }
        };
        if let Err(error) = self.keys.verify(&tokens.id_token).await {
            tracing::warn!(%error, "the pool's ID token was not accepted");
            return refusal(StatusCode::UNAUTHORIZED, &format!("Sign-in could not be completed: {error}"));
        }
        // Only a path of this console: never a redirect elsewhere.
        let back = if back.starts_with('/') && !back.starts_with("//") { back } else { "/".to_owned() };
        let mut response = Redirect::to(&back).into_response();
        set_cookie(&mut response, SESSION, &tokens.id_token, tokens.expires_in.unwrap_or(3600));
        set_cookie(&mut response, SIGN_IN, "", 0);
        response
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<Tokens, String> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("code_verifier", verifier)
            .finish();
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.settings.domain))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| error.to_string())?;
        if !status.is_success() {
            return Err(format!("the user pool answered {status}: {}", String::from_utf8_lossy(&body)));
        }
        serde_json::from_slice(&body).map_err(|error| format!("the user pool's answer is not tokens: {error}"))
    }

    /// Ends the session here and at the pool, then back to the console (and its sign-in).
    fn sign_out(&self) -> Response {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("logout_uri", &self.link())
            .finish();
        let mut response = Redirect::to(&format!("{}/logout?{query}", self.settings.domain)).into_response();
        set_cookie(&mut response, SESSION, "", 0);
        response
    }

    fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK}", self.settings.console_url)
    }
}

fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: u32) {
    let cookie = format!("{name}={value}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={max_age}");
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("cookie-safe value"));
}
