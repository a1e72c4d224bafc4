//! A CloudFormation stack's outputs: where a deployment's tables, queues and functions are.

use std::collections::HashMap;

use aws_sdk_cloudformation::Client;

use super::sdk_error;
use crate::ports::StoreError;

/// The outputs of stack `name` (`OutputKey` → `OutputValue`).
pub async fn outputs(client: &Client, name: &str) -> Result<HashMap<String, String>, StoreError> {
    let described = client.describe_stacks().stack_name(name).send().await.map_err(sdk_error)?;
    let stack = described.stacks().first().ok_or_else(|| StoreError::Rejected(format!("no stack named {name}")))?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|output| Some((output.output_key()?.to_owned(), output.output_value()?.to_owned())))
        .collect())
}
