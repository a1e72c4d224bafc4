//! The console as a Lambda function: API Gateway (HTTP API, payload 2.0) events through the same
//! router `mediaflow console` serves on loopback, signed in through the stack's user pool.

use std::sync::Arc;

use lambda_http::{Error, run};
use mediaflow::wiring::{self, Deployment};
use mediaflow_console::{Access, CognitoSettings, router};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON or text, and the level, follow the function's logging configuration.
    lambda_http::tracing::init_default_subscriber();
    let access = Access::cognito(CognitoSettings::from_env()?);
    let clients = wiring::Clients::from_sdk(&wiring::load_aws().await);
    let mut admin = wiring::admin(&clients, &Deployment::from_env());
    admin.prices = wiring::settings::prices(std::env::var("MEDIAFLOW_PRICES").ok().as_deref())?;
    run(router(Arc::new(admin), access)).await
}
