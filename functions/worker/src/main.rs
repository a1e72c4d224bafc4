use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mediaflow::wiring;
use mediaflow::wiring::WorkerConfig;
use serde_json::Value;
use worker::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON or text, and the level, follow the function's logging configuration.
    lambda_runtime::tracing::init_default_subscriber();
    let settings = WorkerConfig::from_env()?;
    let clients = wiring::Clients::from_sdk(&wiring::load_aws().await);
    let worker = wiring::worker(&clients, &settings);
    run(service_fn(|event: LambdaEvent<Value>| {
        let worker = &worker;
        async move {
            let context = &event.context;
            let memory = context.env_config.memory;
            let invocation = handler::invocation(&context.request_id, context.deadline, memory, chrono::Utc::now());
            Ok::<_, Error>(handler::handle(event.payload, &invocation, worker).await?)
        }
    }))
    .await
}
