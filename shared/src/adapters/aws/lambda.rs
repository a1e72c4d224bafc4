//! Starts workers with asynchronous Lambda invocations (`InvocationType=Event`): Lambda
//! queues the event, retries failed runs and sends exhausted ones to the on-failure
//! destination.

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::sdk_error;
use crate::domain::message::WorkerMessage;
use crate::ports::{StoreError, TaskQueue};

/// [`TaskQueue`] invoking the worker function.
#[derive(Clone, Debug)]
pub struct LambdaTaskQueue {
    client: Client,
    function: String,
}

impl LambdaTaskQueue {
    pub fn new(client: Client, function: impl Into<String>) -> Self {
        Self { client, function: function.into() }
    }
}

#[async_trait]
impl TaskQueue for LambdaTaskQueue {
    async fn enqueue(&self, message: &WorkerMessage) -> Result<(), StoreError> {
        let payload = serde_json::to_vec(message).map_err(|e| StoreError::Rejected(e.to_string()))?;
        let output = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(sdk_error)?;
        // Lambda answers 202 to an asynchronous invocation; local emulators may answer 200.
        match output.status_code() {
            200..=299 => Ok(()),
            status => Err(StoreError::Unavailable(format!("worker invocation answered {status}, expected 202"))),
        }
    }
}
