use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mediaflow::wiring;
use mediaflow::wiring::DispatcherConfig;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON or text, and the level, follow the function's logging configuration.
    lambda_runtime::tracing::init_default_subscriber();
    let settings = DispatcherConfig::from_env()?;
    let clients = wiring::Clients::from_sdk(&wiring::load_aws().await);
    let (dispatcher, dead_letters) = wiring::dispatcher(&clients, &settings);
    run(service_fn(|event: LambdaEvent<Value>| {
        let (dispatcher, dead_letters) = (&dispatcher, &dead_letters);
        async move { Ok::<_, Error>(dispatcher::handler::handle(event.payload, dispatcher, dead_letters).await?.response) }
    }))
    .await
}
