//! The console on this machine: the link `mediaflow console` prints carries a fresh random token
//! (256 bits), which the first request swaps for an HttpOnly, SameSite=Strict cookie, then
//! redirects so the token leaves the address bar. The Host header must name the loopback
//! address the console listens on (a DNS-rebinding page cannot reach it).

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};

use super::{Admission, SIGN_OUT, cookie, header_text, query_value, random_token, same};
use crate::render::refusal;

/// The cookie the local session lives in.
pub const COOKIE: &str = "mediaflow_console";

/// This run's token and the addresses it answers on.
#[derive(Clone)]
pub struct LocalAccess {
    token: String,
    hosts: Vec<String>,
}

impl std::fmt::Debug for LocalAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalAccess").field("hosts", &self.hosts).finish_non_exhaustive()
    }
}

impl LocalAccess {
    pub(super) fn new(port: u16) -> Self {
        let token = random_token();
        LocalAccess { token, hosts: vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")] }
    }

    pub(super) fn link(&self) -> String {
        format!("http://{}/?token={}", self.hosts[0], self.token)
    }

    pub(super) fn origin_allowed(&self, origin: &str) -> bool {
        self.hosts.iter().any(|host| origin == format!("http://{host}"))
    }

    /// The session a request holds, or the answer that takes the place of the page.
    pub(super) fn admit(&self, request: &Parts) -> Admission {
        let headers = &request.headers;
        let host = header_text(headers, header::HOST);
        if !self.hosts.iter().any(|allowed| allowed == host) {
            return Admission::Answer(refusal(
                StatusCode::MISDIRECTED_REQUEST,
                "This console answers only on the address it printed.",
            ));
        }
        if let Some(token) = query_value(request.uri.query(), "token") {
            if !same(&token, &self.token) {
                return Admission::Answer(refusal(
                    StatusCode::FORBIDDEN,
                    "This link is from another run of the console: open the link it printed last.",
                ));
            }
            let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", self.token);
            let mut response = Redirect::to(request.uri.path()).into_response();
            response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii"));
            return Admission::Answer(response);
        }
        if request.uri.path() == SIGN_OUT {
            let mut response = refusal(StatusCode::OK, "Signed out. Open the console again with the link it printed.");
            let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
            response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii"));
            return Admission::Answer(response);
        }
        match cookie(headers, COOKIE) {
            Some(value) if same(value, &self.token) => Admission::Session(self.token.clone()),
            _ => Admission::Answer(refusal(
                StatusCode::UNAUTHORIZED,
                "Open the console with the link `mediaflow console` (or `mediaflow dev up`) printed.",
            )),
        }
    }
}
