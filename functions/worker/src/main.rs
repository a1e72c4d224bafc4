use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mediaflow::config::{self, WorkerConfig};
use serde_json::Value;
use worker::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON or text, and the level, follow the function's logging configuration.
    lambda_runtime::tracing::init_default_subscriber();
    let settings = WorkerConfig::from_env()?;
    let clients = config::Clients::from_sdk(&config::load_aws().await);
    let runner = config::task_runner(&clients, &settings);
    run(service_fn(|event: LambdaEvent<Value>| {
        let runner = &runner;
        async move {
            let invocation = handler::invocation(&event.context.request_id, event.context.deadline);
            Ok::<_, Error>(handler::handle(event.payload, &invocation, runner).await?)
        }
    }))
    .await
}
