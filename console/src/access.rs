//! Who may use the console and how a request proves it. Locally: the link `mediaflow console`
//! prints carries a fresh random token, which the first request swaps for an HttpOnly,
//! SameSite=Strict cookie (then redirects, so the token leaves the address bar); the Host
//! header must name the loopback address the console listens on. Every state-changing request
//! also needs the form token of its session and an Origin of the console's own.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::Console;
use crate::render::refusal;

/// The cookie the session lives in.
pub const COOKIE: &str = "mediaflow_console";
/// The hidden field every form carries.
pub const FORM_TOKEN: &str = "form_token";
/// The largest form the console reads.
const MAX_FORM: usize = 1024 * 1024;

/// The console's secret for one run and the addresses it answers on.
#[derive(Clone)]
pub struct Access {
    token: String,
    hosts: Vec<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("hosts", &self.hosts).finish_non_exhaustive()
    }
}

impl Access {
    /// A fresh random token (256 bits) for a console listening on `127.0.0.1:port`.
    pub fn local(port: u16) -> Self {
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        Access { token, hosts: vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")] }
    }

    /// The link that opens the console.
    pub fn link(&self) -> String {
        format!("http://{}/?token={}", self.hosts[0], self.token)
    }

    /// The form token of this run's session: derived from the session, so a page of another
    /// origin can neither read nor guess it.
    pub fn form_token(&self) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.token.as_bytes()).expect("any key length");
        mac.update(b"form");
        hex(&mac.finalize().into_bytes())
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        self.hosts.iter().any(|allowed| allowed == host)
    }

    fn same(&self, presented: &str, expected: &str) -> bool {
        // Compares digests: the time taken says nothing about the secret.
        Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes())
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        cookie(headers, COOKIE).is_some_and(|value| self.same(value, &self.token))
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or_default();
        self.hosts.iter().any(|host| origin == format!("http://{host}"))
    }
}

/// Lets a request through only as this module's header describes.
pub async fn guard(State(console): State<Console>, request: Request, next: Next) -> Response {
    let access = &console.access;
    let headers = request.headers();
    if !access.host_allowed(headers) {
        return refusal(StatusCode::MISDIRECTED_REQUEST, "This console answers only on the address it printed.");
    }
    if let Some(token) = query_value(request.uri().query(), "token") {
        if !access.same(&token, &access.token) {
            return refusal(
                StatusCode::FORBIDDEN,
                "This link is from another run of the console: open the link it printed last.",
            );
        }
        let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", access.token);
        let mut response = Redirect::to(request.uri().path()).into_response();
        response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii"));
        return response;
    }
    if !access.has_session(headers) {
        return refusal(
            StatusCode::UNAUTHORIZED,
            "Open the console with the link `mediaflow console` (or `mediaflow dev up`) printed.",
        );
    }
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    if !access.origin_allowed(request.headers()) {
        return refusal(StatusCode::FORBIDDEN, "Refused: the request did not come from a page of this console.");
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "The form is larger than the console reads.");
    };
    let presented = form_urlencoded_value(&bytes, FORM_TOKEN);
    if !presented.is_some_and(|token| access.same(&token, &access.form_token())) {
        return refusal(
            StatusCode::FORBIDDEN,
            "Refused: the form's token is missing or from another session; reload the page.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
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
