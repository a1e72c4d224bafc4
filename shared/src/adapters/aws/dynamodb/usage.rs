//! What invocations used, added to a task's `usage` and its job's in one transaction: each
//! number of the map grows by the invocation's (`SET usage.s3.get_requests =
//! if_not_exists(…, 0) + :v`, so a number added later in the map's life starts at zero), and the
//! run is remembered in `usage_runs` (a string set) so that a repeat adds nothing. Items written
//! before `usage` existed get an empty map first.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde_json::Value;

use super::{Item, condition_failed, job_pk, key, n, sdk_error, task_sk, transact, value};
use crate::domain::job::JobId;
use crate::domain::usage::Usage;
use crate::ports::StoreError;

const USAGE: &str = "usage";

/// The update that adds `usage` to an item's map and `run` to its runs, if `run` is not there.
struct Addition {
    /// `SET` of every number.
    sets: String,
    names: HashMap<String, String>,
    values: Item,
    run: String,
}

impl Addition {
    fn new(usage: &Usage, run: &str) -> Result<Self, StoreError> {
        let mut leaves = Vec::new();
        let tree = serde_json::to_value(usage).map_err(|e| StoreError::Rejected(e.to_string()))?;
        collect(&tree, &mut vec![USAGE.to_owned()], &mut leaves);
        let mut names = HashMap::new();
        let mut values: Item = HashMap::new();
        let mut sets = Vec::new();
        for (i, (path, number)) in leaves.iter().enumerate() {
            let path: Vec<String> = path
                .iter()
                .map(|segment| {
                    let name = format!("#{segment}");
                    names.insert(name.clone(), segment.clone());
                    name
                })
                .collect();
            let path = path.join(".");
            sets.push(format!("{path} = if_not_exists({path}, :zero) + :v{i}"));
            values.insert(format!(":v{i}"), AttributeValue::N(number.clone()));
        }
        values.insert(":zero".into(), n(0));
        Ok(Self { sets: format!("SET {}", sets.join(", ")), names, values, run: run.to_owned() })
    }

    /// The update of the item at `pk`/`sk`, if it exists; when `once`, only if it has not
    /// counted the run yet, which it then remembers.
    fn update(&self, table: &str, pk: String, sk: String, once: bool) -> Result<Update, StoreError> {
        let mut values = self.values.clone();
        let (expression, condition) = match once {
            true => {
                values.insert(":run".into(), AttributeValue::Ss(vec![self.run.clone()]));
                values.insert(":run_id".into(), AttributeValue::S(self.run.clone()));
                let condition = "attribute_exists(pk) AND NOT contains(usage_runs, :run_id)";
                (format!("{} ADD usage_runs :run", self.sets), condition)
            }
            false => (self.sets.clone(), "attribute_exists(pk)"),
        };
        Update::builder()
            .table_name(table)
            .set_key(Some(key(pk, sk)))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))
    }
}

/// Every number of `tree` with its path.
fn collect(tree: &Value, path: &mut Vec<String>, leaves: &mut Vec<(Vec<String>, String)>) {
    match tree {
        Value::Object(fields) => {
            for (name, field) in fields {
                path.push(name.clone());
                collect(field, path, leaves);
                path.pop();
            }
        }
        Value::Number(number) => leaves.push((path.clone(), number.to_string())),
        _ => {}
    }
}

/// Adds `usage` to task `task` of job `id` and to the job, or to the job alone (`None`); once
/// per `run`. Nothing when the items are gone.
pub(super) async fn add(
    client: &Client,
    table: &str,
    id: &JobId,
    task: Option<u32>,
    run: &str,
    usage: &Usage,
) -> Result<(), StoreError> {
    let addition = Addition::new(usage, run)?;
    let job = addition.update(table, job_pk(id), "job".into(), task.is_none())?;
    let mut items = vec![TransactWriteItem::builder().update(job).build()];
    if let Some(index) = task {
        let task = addition.update(table, job_pk(id), task_sk(index), true)?;
        items.push(TransactWriteItem::builder().update(task).build());
    }
    let result = match transact(client, items.clone()).await {
        Err(error) if missing_map(&error) => {
            give_map(client, table, job_pk(id), "job".into()).await?;
            if let Some(index) = task {
                give_map(client, table, job_pk(id), task_sk(index)).await?;
            }
            transact(client, items).await
        }
        result => result,
    };
    match result {
        Ok(_) => Ok(()),
        Err(error) if condition_failed(&error) => Ok(()),
        Err(error) => Err(sdk_error(error)),
    }
}

/// Whether DynamoDB refused a path into a map the item does not have.
fn missing_map<E: ProvideErrorMetadata>(error: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> bool {
    let service = error.as_service_error();
    let (code, message) = (service.and_then(|e| e.code()), service.and_then(|e| e.message()).unwrap_or_default());
    matches!(code, Some("ValidationException" | "TransactionCanceledException"))
        && (message.contains("document path") || message.contains("ValidationError"))
}

/// An empty `usage` map on an item that has none.
async fn give_map(client: &Client, table: &str, pk: String, sk: String) -> Result<(), StoreError> {
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .update_expression("SET #usage = if_not_exists(#usage, :empty)")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_names("#usage", USAGE)
        .expression_attribute_values(":empty", value(&Usage::default())?)
        .send()
        .await;
    match result {
        Err(error) if !condition_failed(&error) => Err(sdk_error(error)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::usage::{Architecture, S3Usage};

    #[test]
    fn every_number_of_the_usage_is_added_where_it_lives() {
        let usage = Usage::invocation(Architecture::Arm64, 1024, 10, S3Usage { get_requests: 2, ..Default::default() });
        let addition = Addition::new(&usage, "req@1").unwrap();
        let sets = &addition.sets;
        assert!(sets.starts_with("SET #usage."), "{sets}");
        assert!(sets.contains("#usage.#invocations = if_not_exists(#usage.#invocations, :zero) + :v"), "{sets}");
        assert!(sets.contains("#usage.#s3.#get_requests = if_not_exists(#usage.#s3.#get_requests, :zero)"));
        assert!(sets.contains("#usage.#output.#up_to_1080 = "));
        let once = addition.update("jobs", "job#j".into(), "task#0000".into(), true).unwrap();
        assert!(once.update_expression().ends_with(" ADD usage_runs :run"));
        let total = addition.update("jobs", "job#j".into(), "job".into(), false).unwrap();
        assert!(!total.update_expression().contains("usage_runs"));
        let values: Vec<&AttributeValue> = addition.values.values().collect();
        assert!(values.contains(&&AttributeValue::N("10240".into())), "{values:?}");
    }
}
