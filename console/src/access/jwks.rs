//! The user pool's ID tokens, checked against the pool's published keys (its JWKS): signature
//! (RS256 only), issuer, audience (the console's app client), expiry and `token_use`. The keys
//! are fetched on first use and again when a token names a key not seen yet (a rotation), at
//! most once a minute.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::RwLock;

/// How often an unknown key may make the console fetch the key set again.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed or fails its checks: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("the token is signed with {0:?}, not RS256")]
    Algorithm(Algorithm),
    #[error("the token names no key of the user pool")]
    UnknownKey,
    #[error("the token is a {0} token, not an ID token")]
    Use(String),
    #[error("the user pool's keys could not be read: {0}")]
    Keys(String),
}

/// What the console reads from an ID token.
#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    pub token_use: String,
}

/// The pool's keys and what its tokens must say.
#[derive(Debug)]
pub(super) struct Keys {
    url: String,
    validation: Validation,
    http: reqwest::Client,
    cached: RwLock<Option<(JwkSet, Instant)>>,
}

impl Keys {
    pub(super) fn new(issuer: &str, client_id: &str, http: reqwest::Client) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Keys {
            url: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            validation,
            http,
            cached: RwLock::new(None),
        }
    }

    /// The claims of `token` if it is a valid ID token of the pool for this console.
    pub(super) async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Algorithm(header.alg));
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.key(&kid).await?;
        let claims = decode::<Claims>(token, &key, &self.validation)?.claims;
        if claims.token_use != "id" {
            return Err(TokenError::Use(claims.token_use));
        }
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        let stale = {
            let cached = self.cached.read().await;
            if let Some(jwk) = cached.as_ref().and_then(|(set, _)| set.find(kid)) {
                return Ok(DecodingKey::from_jwk(jwk)?);
            }
            cached.as_ref().is_none_or(|(_, at)| at.elapsed() > REFETCH_AFTER)
        };
        if !stale {
            return Err(TokenError::UnknownKey);
        }
        let set = self.fetch().await?;
        let key = set.find(kid).map(DecodingKey::from_jwk).transpose()?;
        *self.cached.write().await = Some((set, Instant::now()));
        key.ok_or(TokenError::UnknownKey)
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let keys = |error: reqwest::Error| TokenError::Keys(error.to_string());
        let response = self.http.get(&self.url).send().await.map_err(keys)?.error_for_status().map_err(keys)?;
        let body = response.bytes().await.map_err(keys)?;
        serde_json::from_slice(&body).map_err(|error| TokenError::Keys(error.to_string()))
    }
}
