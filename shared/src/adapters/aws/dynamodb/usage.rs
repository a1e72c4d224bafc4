//! What invocations used. A task's usage is the `usage` map on its own item: each number grows
//! by the invocation's (`SET usage.s3.get_requests = if_not_exists(…, 0) + :v`, so a number
//! added later in the map's life starts at zero), and the run is remembered in `usage_runs` (a
//! string set) so that a repeat adds nothing; items written before `usage` existed get an empty
//! map first. A job's total lives on an item of its own, `sk = usage`, outside the table's
//! indexes (the job's item is copied to three of them at every write): one number per leaf of
//! the usage, named by its path (`s3.get_requests`), grown with `ADD`, in the same transaction
//! as the task's. The preparation's runs are remembered there.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use serde_json::Value;

use super::{Item, condition_failed, job_pk, key, n, sdk_error, task_sk, transact, value};
use crate::domain::job::JobId;
use crate::domain::usage::Usage;
use crate::ports::StoreError;

const USAGE: &str = "usage";
/// The sort key of a job's total.
const TOTAL_SK: &str = "usage";
const RUNS: &str = "usage_runs";

/// Every number of `usage` with its path (without the map's own name).
fn leaves(usage: &Usage) -> Result<Vec<(Vec<String>, String)>, StoreError> {
    fn walk(tree: &Value, path: &mut Vec<String>, leaves: &mut Vec<(Vec<String>, String)>) {
        match tree {
            Value::Object(fields) => {
                for (name, field) in fields {
                    path.push(name.clone());
                    walk(field, path, leaves);
                    path.pop();
                }
            }
            Value::Number(number) => leaves.push((path.clone(), number.to_string())),
            _ => {}
        }
    }
    let tree = serde_json::to_value(usage).map_err(|e| StoreError::Rejected(e.to_string()))?;
    let mut found = Vec::new();
    walk(&tree, &mut Vec::new(), &mut found);
    Ok(found)
}

/// An update: its expression, names and values.
#[derive(Default)]
struct Expression {
    text: String,
    names: HashMap<String, String>,
    values: Item,
}

impl Expression {
    fn update(self, table: &str, pk: String, sk: String, condition: Option<&str>) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(table)
            .set_key(Some(key(pk, sk)))
            .update_expression(self.text)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))
    }
}

/// `SET usage.a.b = if_not_exists(usage.a.b, :zero) + :vN, …` on a task's map, and its run
/// added to the task's runs.
fn task_addition(usage: &Usage, run: &str) -> Result<Expression, StoreError> {
    let mut expression = Expression::default();
    let mut sets = Vec::new();
    for (i, (path, number)) in leaves(usage)?.into_iter().enumerate() {
        let path: Vec<String> = std::iter::once(USAGE.to_owned())
            .chain(path)
            .map(|segment| {
                let name = format!("#{segment}");
                expression.names.insert(name.clone(), segment);
                name
            })
            .collect();
        let path = path.join(".");
        sets.push(format!("{path} = if_not_exists({path}, :zero) + :v{i}"));
        expression.values.insert(format!(":v{i}"), AttributeValue::N(number));
    }
    expression.values.insert(":zero".into(), n(0));
    expression.text = format!("SET {} ADD {RUNS} :run", sets.join(", "));
    expression.values.insert(":run".into(), AttributeValue::Ss(vec![run.to_owned()]));
    expression.values.insert(":run_id".into(), AttributeValue::S(run.to_owned()));
    Ok(expression)
}

/// `ADD #n0 :v0, …` on a job's total: one number per leaf, named by its path (and, for the
/// preparation's runs, the run added to the total's runs).
fn total_addition(usage: &Usage, run: Option<&str>) -> Result<Expression, StoreError> {
    let mut expression = Expression::default();
    let mut adds = Vec::new();
    for (i, (path, number)) in leaves(usage)?.into_iter().enumerate() {
        expression.names.insert(format!("#n{i}"), path.join("."));
        expression.values.insert(format!(":v{i}"), AttributeValue::N(number));
        adds.push(format!("#n{i} :v{i}"));
    }
    if let Some(run) = run {
        adds.push(format!("{RUNS} :run"));
        expression.values.insert(":run".into(), AttributeValue::Ss(vec![run.to_owned()]));
        expression.values.insert(":run_id".into(), AttributeValue::S(run.to_owned()));
    }
    expression.text = format!("ADD {}", adds.join(", "));
    Ok(expression)
}

/// Adds `usage` to task `task` of job `id` and to the job's total, or to the total alone
/// (`None`: the preparation); once per `run`. Nothing when the job or task is gone.
pub(super) async fn add(
    client: &Client,
    table: &str,
    id: &JobId,
    task: Option<u32>,
    run: &str,
    usage: &Usage,
) -> Result<(), StoreError> {
    let items = match task {
        Some(index) => {
            let counted = "attribute_exists(pk) AND NOT contains(usage_runs, :run_id)";
            let task = task_addition(usage, run)?.update(table, job_pk(id), task_sk(index), Some(counted))?;
            let total = total_addition(usage, None)?.update(table, job_pk(id), TOTAL_SK.into(), None)?;
            vec![TransactWriteItem::builder().update(task).build(), TransactWriteItem::builder().update(total).build()]
        }
        None => {
            let job = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key(job_pk(id), "job".into())))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))?;
            let counted = "NOT contains(usage_runs, :run_id)";
            let total = total_addition(usage, Some(run))?.update(table, job_pk(id), TOTAL_SK.into(), Some(counted))?;
            vec![
                TransactWriteItem::builder().condition_check(job).build(),
                TransactWriteItem::builder().update(total).build(),
            ]
        }
    };
    let result = match transact(client, items.clone()).await {
        Err(error) if missing_map(&error) => {
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

/// The job's total: what its preparation and every task used (nothing yet: zero).
pub(super) async fn total(client: &Client, table: &str, id: &JobId) -> Result<Usage, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(job_pk(id), TOTAL_SK.into())))
        .consistent_read(true)
        .send()
        .await
        .map_err(sdk_error)?;
    read_total(output.item.unwrap_or_default())
}

/// The usage a total's item holds: its numbers put back in their places by their names.
fn read_total(item: Item) -> Result<Usage, StoreError> {
    let mut tree = Value::Object(serde_json::Map::new());
    for (name, attribute) in item {
        let AttributeValue::N(number) = attribute else { continue };
        let Ok(number) = serde_json::from_str::<serde_json::Number>(&number) else { continue };
        let mut at = &mut tree;
        let mut segments = name.split('.').peekable();
        while let Some(segment) = segments.next() {
            let Value::Object(fields) = at else { break };
            if segments.peek().is_none() {
                fields.insert(segment.to_owned(), Value::Number(number));
                break;
            }
            at = fields.entry(segment.to_owned()).or_insert_with(|| Value::Object(serde_json::Map::new()));
        }
    }
    serde_json::from_value(tree).map_err(|e| StoreError::Rejected(format!("a job's usage: {e}")))
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

    fn usage() -> Usage {
        let mut usage =
            Usage::invocation(Architecture::Arm64, 1024, 10, S3Usage { get_requests: 2, ..Default::default() });
        usage.output.add_video(12.5, 1280, 720);
        usage
    }

    #[test]
    fn a_tasks_usage_grows_where_each_number_lives_once_per_run() {
        let addition = task_addition(&usage(), "req#1").unwrap();
        let text = &addition.text;
        assert!(text.starts_with("SET #usage."), "{text}");
        assert!(text.contains("#usage.#invocations = if_not_exists(#usage.#invocations, :zero) + :v"), "{text}");
        assert!(text.contains("#usage.#s3.#get_requests = if_not_exists(#usage.#s3.#get_requests, :zero)"));
        assert!(text.ends_with(" ADD usage_runs :run"), "{text}");
        let values: Vec<&AttributeValue> = addition.values.values().collect();
        assert!(values.contains(&&AttributeValue::N("10240".into())), "{values:?}");
    }

    #[test]
    fn a_jobs_total_is_one_number_per_path_read_back_as_the_usage_it_adds_up() {
        let addition = total_addition(&usage(), None).unwrap();
        assert!(addition.text.starts_with("ADD #n0 :v0, ") && !addition.text.contains(RUNS), "{}", addition.text);
        let names: Vec<&String> = addition.names.values().collect();
        assert!(names.contains(&&"s3.get_requests".to_owned()) && names.contains(&&"output.at_720".to_owned()));
        assert!(total_addition(&usage(), Some("req#1")).unwrap().text.ends_with(", usage_runs :run"));
        // What the item holds after two additions reads back as their sum.
        let mut item: Item = HashMap::new();
        for (name, value) in &addition.names {
            let n: f64 = match &addition.values[&name.replace("#n", ":v")] {
                AttributeValue::N(n) => n.parse().unwrap(),
                other => panic!("{other:?}"),
            };
            item.insert(value.clone(), AttributeValue::N((2.0 * n).to_string()));
        }
        item.insert("pk".into(), AttributeValue::S("job#j".into()));
        item.insert(RUNS.into(), AttributeValue::Ss(vec!["req#1".into()]));
        assert_eq!(read_total(item).unwrap(), usage() + usage());
        assert_eq!(read_total(HashMap::new()).unwrap(), Usage::default());
    }
}
