//! The console behind the HTTP API: sign-in through a user pool and requests as API Gateway
//! delivers them. The pool here is a loopback server that does what Cognito does at the two
//! endpoints the console calls: it publishes its keys (`/.well-known/jwks.json`) and exchanges a
//! code for tokens (`/oauth2/token`) only with the verifier of the challenge it was given. Its
//! signing key (`pool_key.pem`) is a test key, used nowhere else.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use mediaflow::adapters::memory::Memory;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use super::{admin, location, text};
use crate::access::Session;
use crate::{Access, CognitoSettings, router};

const CLIENT: &str = "console-client";
const CONSOLE: &str = "https://console.example";
const HOST: &str = "console.example";
const KEY_ID: &str = "pool-key";
/// The modulus of `pool_key.pem` (its exponent is 65537).
const MODULUS: &str = "0VrbzF_zsxz0t7-172Kg5v4noaR0iHP3M5rlrPmrxGiJSG8Ym-1NtdNoMCRR0k8bWTEa1eHk0B4KMv48DY7XmGsUh9Z-osU3po9q9dmWng2Qzlg5EhMYXZ2hQG0Qh-gSzzO8wXeEMYePT6eGFpWTLMs-iqK5dZO09plrRT8v-rk4evvGEMFBrEwouL9YqeTHvUe5RtE1MK9Vz3JVZyiK-RJUKQ9mGdhwbl1ynIOb3FFycLMDnFm19ya2W-ACffrx0eEct0Yafv9YT9WmBh-9mh0UtPkiOlpMCiu7mVexYxonQBLS-Ltmy1TI2iu2S8JIiZVYDxBER20ZrCU7GBl6nQ";

/// The pool on loopback.
struct Pool {
    url: String,
    /// The code challenge of the sign-in under way, as the authorize page would keep it.
    challenge: Arc<Mutex<String>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Pool {
    async fn start() -> Pool {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let challenge = Arc::new(Mutex::new(String::new()));
        let keys =
            json!({"keys": [{"kty": "RSA", "kid": KEY_ID, "alg": "RS256", "use": "sig", "n": MODULUS, "e": "AQAB"}]});
        let (issuer, expected) = (url.clone(), challenge.clone());
        let app = Router::new().route("/.well-known/jwks.json", get(move || async move { axum::Json(keys) })).route(
            "/oauth2/token",
            post(move |axum::Form(form): axum::Form<Vec<(String, String)>>| async move {
                let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                let verifier = field("code_verifier").unwrap_or_default();
                let proved =
                    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *expected.lock().expect("lock");
                let redirect = format!("{CONSOLE}/auth/callback");
                if field("grant_type").as_deref() != Some("authorization_code")
                    || field("client_id").as_deref() != Some(CLIENT)
                    || field("code").as_deref() != Some("the-code")
                    || field("redirect_uri") != Some(redirect)
                    || !proved
                {
                    return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"})));
                }
                let id_token = sign(&issuer, CLIENT, "id", 3600);
                (StatusCode::OK, axum::Json(json!({"id_token": id_token, "expires_in": 3600, "token_type": "Bearer"})))
            }),
        );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the pool serves");
        });
        Pool { url, challenge, server }
    }

    fn console(&self) -> Router {
        let settings = CognitoSettings {
            domain: self.url.clone(),
            client_id: CLIENT.into(),
            issuer: self.url.clone(),
            console_url: CONSOLE.into(),
        };
        router(Arc::new(admin(&Arc::new(Memory::default()))), Access::cognito(settings))
    }
}

/// A token of the pool's key: `token_use` "id" or "access", expiring `expires_in` seconds from now.
fn sign(issuer: &str, audience: &str, token_use: &str, expires_in: i64) -> String {
    let key = EncodingKey::from_rsa_pem(include_bytes!("pool_key.pem")).expect("the test key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    let claims = json!({
        "sub": "3f0c-user", "email": "admin@example.com", "iss": issuer, "aud": audience,
        "token_use": token_use, "exp": chrono::Utc::now().timestamp() + expires_in,
    });
    jsonwebtoken::encode(&header, &claims, &key).expect("signed")
}

async fn send(console: &Router, path: &str, cookie: Option<&str>) -> Response {
    let mut request = Request::get(path).header(header::HOST, HOST);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    console.clone().oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible")
}

fn set_cookies(response: &Response) -> Vec<String> {
    let values = response.headers().get_all(header::SET_COOKIE).iter();
    values.filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
}

/// `name=value` of the cookie `name` a response sets.
fn cookie_pair(response: &Response, name: &str) -> Option<String> {
    let cookies = set_cookies(response);
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

fn query_value(url: &str, name: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_visitor_signs_in_at_the_pool_and_comes_back_to_the_page_asked_for() {
    let pool = Pool::start().await;
    let console = pool.console();
    let asked = send(&console, "/jobs?status=failed", None).await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let authorize = location(&asked).to_owned();
    assert!(authorize.starts_with(&format!("{}/oauth2/authorize?", pool.url)), "{authorize}");
    assert_eq!(query_value(&authorize, "client_id"), CLIENT);
    assert_eq!(query_value(&authorize, "redirect_uri"), format!("{CONSOLE}/auth/callback"));
    assert_eq!(query_value(&authorize, "code_challenge_method"), "S256");
    let pending = cookie_pair(&asked, "__Host-mediaflow_sign_in").expect("the sign-in under way");
    assert!(set_cookies(&asked)[0].contains("HttpOnly; Secure"), "{:?}", set_cookies(&asked));
    // The pool's sign-in page keeps the challenge and sends the browser back with a code.
    *pool.challenge.lock().expect("lock") = query_value(&authorize, "code_challenge");
    let state = query_value(&authorize, "state");
    let back = send(&console, &format!("/auth/callback?code=the-code&state={state}"), Some(&pending)).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "{:?}", text(back).await);
    assert_eq!(location(&back), "/jobs?status=failed");
    let session = cookie_pair(&back, "__Host-mediaflow_session").expect("a session");
    let cookies = set_cookies(&back);
    assert!(cookies.iter().all(|c| c.contains("HttpOnly; Secure; SameSite=Lax")), "{cookies:?}");
    let (status, page) = text(send(&console, "/workflows", Some(&session)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Create workflow") && page.contains("Sign out"), "{page}");
    // Sign out ends the session here and at the pool.
    let out = send(&console, "/sign-out", Some(&session)).await;
    assert!(location(&out).starts_with(&format!("{}/logout?client_id={CLIENT}", pool.url)), "{}", location(&out));
    assert!(set_cookies(&out)[0].contains("Max-Age=0"), "{:?}", set_cookies(&out));
}

#[tokio::test]
async fn a_callback_that_was_not_started_here_or_without_the_verifier_signs_no_one_in() {
    let pool = Pool::start().await;
    let console = pool.console();
    let asked = send(&console, "/workflows", None).await;
    let pending = cookie_pair(&asked, "__Host-mediaflow_sign_in").expect("the sign-in under way");
    let authorize = location(&asked).to_owned();
    *pool.challenge.lock().expect("lock") = query_value(&authorize, "code_challenge");
    let state = query_value(&authorize, "state");
    // A code planted by another site's link: no sign-in of this browser, or another state.
    for (path, cookie) in [
        (format!("/auth/callback?code=the-code&state={state}"), None),
        ("/auth/callback?code=the-code&state=forged".to_owned(), Some(pending.as_str())),
    ] {
        let response = send(&console, &path, cookie).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(cookie_pair(&response, "__Host-mediaflow_session").is_none());
    }
    // A code stolen on its way back is worth nothing without this browser's verifier.
    *pool.challenge.lock().expect("lock") = "another-challenge".into();
    let stolen = send(&console, &format!("/auth/callback?code=the-code&state={state}"), Some(&pending)).await;
    assert_eq!(stolen.status(), StatusCode::BAD_GATEWAY);
    assert!(cookie_pair(&stolen, "__Host-mediaflow_session").is_none());
    let (status, page) = text(send(&console, "/auth/callback?error=access_denied", None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Sign-in was refused: access_denied"), "{page}");
}

#[tokio::test]
async fn tokens_the_pool_did_not_issue_to_this_console_are_no_session() {
    let pool = Pool::start().await;
    let console = pool.console();
    let valid = sign(&pool.url, CLIENT, "id", 600);
    let (head, rest) = valid.split_once('.').expect("a JWT");
    let (payload, _) = rest.split_once('.').expect("a JWT");
    let unsigned = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#));
    let tampered = format!("{head}.{payload}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]));
    for (why, token) in [
        ("another app client", sign(&pool.url, "other-client", "id", 600)),
        ("another issuer", sign("https://cognito-idp.example/other-pool", CLIENT, "id", 600)),
        ("an access token", sign(&pool.url, CLIENT, "access", 600)),
        ("expired", sign(&pool.url, CLIENT, "id", -600)),
        ("unsigned", unsigned),
        ("a forged signature", tampered),
    ] {
        let response = send(&console, "/workflows", Some(&format!("__Host-mediaflow_session={token}"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{why}");
        assert!(location(&response).contains("/oauth2/authorize?"), "{why}");
    }
    let response = send(&console, "/workflows", Some(&format!("__Host-mediaflow_session={valid}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Another Host (DNS rebinding, a copied cookie on another name) is not served.
    let request = Request::get("/workflows").header(header::HOST, "evil.example").body(Body::empty()).expect("request");
    assert_eq!(console.clone().oneshot(request).await.expect("infallible").status(), StatusCode::MISDIRECTED_REQUEST);
}

/// An HTTP API (payload 2.0) event as API Gateway hands it to the function.
fn api_event(method: &str, path: &str, cookies: &[&str], headers: Value, body: Option<String>) -> Value {
    let mut all_headers = json!({"host": HOST, "x-forwarded-proto": "https", "user-agent": "Mozilla/5.0"});
    all_headers.as_object_mut().expect("an object").extend(headers.as_object().cloned().unwrap_or_default());
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "cookies": cookies,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "console", "domainName": HOST, "domainPrefix": "console",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "Mozilla/5.0"},
            "requestId": "id", "routeKey": "$default", "stage": "$default", "time": "06/Dec/2026:10:00:00 +0000", "timeEpoch": 0
        },
        "body": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        "isBase64Encoded": true,
    })
}

/// The event through the function's own adapter and the console's router, as `lambda_http::run`
/// does; the answer as API Gateway receives it.
async fn through_lambda(console: &Router, event: Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event).expect("an HTTP API event");
    let adapter = lambda_http::Adapter::from(console.clone());
    let answer = adapter.oneshot(LambdaEvent::new(request, Context::default())).await.expect("infallible");
    serde_json::to_value(answer).expect("an HTTP API response")
}

#[tokio::test]
async fn api_gateway_events_are_served_by_the_same_router() {
    let pool = Pool::start().await;
    let console = pool.console();
    let token = sign(&pool.url, CLIENT, "id", 600);
    let session = format!("__Host-mediaflow_session={token}");
    // HTTP APIs pass cookies apart from the headers; the page is served.
    let page = through_lambda(&console, api_event("GET", "/workflows", &[&session], json!({}), None)).await;
    assert_eq!(page["statusCode"], 200, "{page}");
    assert!(page["body"].as_str().unwrap_or_default().contains("Create workflow"), "{page}");
    // A signed-out visitor gets the sign-in redirect, its cookie in the response's `cookies`.
    let signed_out = through_lambda(&console, api_event("GET", "/jobs", &[], json!({}), None)).await;
    assert_eq!(signed_out["statusCode"], 303);
    let cookies = signed_out["cookies"].as_array().cloned().unwrap_or_default();
    assert!(
        cookies.iter().any(|c| c.as_str().is_some_and(|c| c.starts_with("__Host-mediaflow_sign_in="))),
        "{signed_out}"
    );
    // A form (base64 body, as API Gateway sends it) with the session's token and the console's
    // Origin changes something; from another Origin it is refused.
    let form = format!(
        "form_token={}&name=clips&trigger.bucket=media&trigger.dir=in%2F&output.bucket=&output.dir=out%2F&tasks%5B0%5D.type=snapshot&tasks%5B0%5D.snapshot.times=1&action=save",
        Session::of(&token).form_token()
    );
    let form_headers = |origin: &str| json!({"origin": origin, "content-type": "application/x-www-form-urlencoded"});
    let foreign = through_lambda(
        &console,
        api_event("POST", "/workflows/new", &[&session], form_headers("https://evil.example"), Some(form.clone())),
    )
    .await;
    assert_eq!(foreign["statusCode"], 403, "{foreign}");
    let saved =
        through_lambda(&console, api_event("POST", "/workflows/new", &[&session], form_headers(CONSOLE), Some(form)))
            .await;
    assert_eq!(saved["statusCode"], 303, "{saved}");
    assert_eq!(saved["headers"]["location"], "/workflows/clips?saved=created", "{saved}");
}
