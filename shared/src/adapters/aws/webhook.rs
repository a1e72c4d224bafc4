//! Webhooks: an event POSTed to the workflow's URL, signed as Standard Webhooks says
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`), never to the machine itself or a
//! private network unless the deployment allows it, and never following redirects.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client as SecretsManager;
use aws_sdk_ssm::Client as Ssm;
use chrono::Utc;
use reqwest::StatusCode;
use url::{Host, Url};

use super::sdk_error;
use crate::domain::notification::{SecretRef, is_private, sign_webhook};
use crate::ports::DeliveryError;

/// How long a secret read from SSM or Secrets Manager is used before it is read again.
const SECRET_TTL: Duration = Duration::from_secs(300);

/// Reads webhook secrets where workflows say they are.
#[derive(Debug)]
pub struct Secrets {
    ssm: Ssm,
    secrets_manager: SecretsManager,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl Secrets {
    pub fn new(ssm: Ssm, secrets_manager: SecretsManager) -> Self {
        Self { ssm, secrets_manager, cache: Mutex::new(HashMap::new()) }
    }

    pub async fn read(&self, secret: &SecretRef) -> Result<String, DeliveryError> {
        let name = String::from(secret.clone());
        if let Some((value, read_at)) = self.cache.lock().ok().and_then(|cache| cache.get(&name).cloned())
            && read_at.elapsed() < SECRET_TTL
        {
            return Ok(value);
        }
        let missing = || DeliveryError::fatal(format!("the webhook secret {name} is empty or missing"));
        let value = match secret {
            SecretRef::Ssm(parameter) => {
                let output = self
                    .ssm
                    .get_parameter()
                    .name(parameter)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| DeliveryError::from(sdk_error(e)))?;
                output.parameter.and_then(|p| p.value).ok_or_else(missing)?
            }
            SecretRef::SecretsManager(id) => {
                let output = self
                    .secrets_manager
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| DeliveryError::from(sdk_error(e)))?;
                output.secret_string.ok_or_else(missing)?
            }
            SecretRef::Env(variable) => std::env::var(variable).map_err(|_| missing())?,
            SecretRef::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| DeliveryError::fatal(format!("cannot read the webhook secret {name}: {e}")))?,
        };
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(missing());
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name, (value.clone(), Instant::now()));
        }
        Ok(value)
    }
}

/// Posts signed events to webhooks.
#[derive(Debug)]
pub struct Webhooks {
    secrets: Secrets,
    /// Loopback, private and link-local addresses (and plain http) only when allowed: local
    /// testing.
    allow_private: bool,
    timeout: Duration,
}

impl Webhooks {
    pub fn new(secrets: Secrets, allow_private: bool) -> Self {
        Self { secrets, allow_private, timeout: Duration::from_secs(10) }
    }

    /// Where `url` may be reached: its addresses, refused when one of them is private (a name
    /// could resolve to a private address on another lookup) unless allowed.
    async fn addresses(&self, url: &Url) -> Result<Vec<SocketAddr>, DeliveryError> {
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
                .await
                .map_err(|e| DeliveryError::retry(format!("cannot resolve {domain}: {e}")))?
                .collect(),
            None => Vec::new(),
        };
        if addresses.is_empty() {
            return Err(DeliveryError::fatal(format!("{url} has no address")));
        }
        if !self.allow_private
            && let Some(private) = addresses.iter().find(|address| is_private(address.ip()))
        {
            return Err(DeliveryError::fatal(format!(
                "refused to send to {}: it is a loopback, private or link-local address",
                private.ip()
            )));
        }
        Ok(addresses)
    }

    pub async fn post(&self, url: &str, secret: &SecretRef, id: &str, body: &[u8]) -> Result<(), DeliveryError> {
        let url = Url::parse(url).map_err(|e| DeliveryError::fatal(format!("{url} is not a URL: {e}")))?;
        if url.scheme() != "https" && !(self.allow_private && url.scheme() == "http") {
            return Err(DeliveryError::fatal(format!("refused to send to {url}: webhooks must use https")));
        }
        let addresses = self.addresses(&url).await?;
        let timestamp = Utc::now().timestamp();
        let signature =
            sign_webhook(&self.secrets.read(secret).await?, id, timestamp, body).map_err(DeliveryError::fatal)?;
        let mut client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(self.timeout);
        if let Some(Host::Domain(domain)) = url.host() {
            // Connect to the address that was checked, not to whatever a second lookup says.
            client = client.resolve(domain, addresses[0]);
        }
        let client = client.build().map_err(|e| DeliveryError::fatal(format!("cannot make an HTTP client: {e}")))?;
        let response = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("user-agent", concat!("mediaflow/", env!("CARGO_PKG_VERSION")))
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| DeliveryError::retry(format!("cannot reach {url}: {}", describe(e))))?;
        let status = response.status();
        match status {
            status if status.is_success() => Ok(()),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                Err(DeliveryError::retry(format!("{url} answered {status}")))
            }
            status if status.is_server_error() => Err(DeliveryError::retry(format!("{url} answered {status}"))),
            status => Err(DeliveryError::fatal(format!("{url} answered {status}"))),
        }
    }
}

/// reqwest's message without the URL it repeats, and its causes.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}
