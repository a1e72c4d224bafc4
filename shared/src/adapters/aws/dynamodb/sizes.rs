//! What the jobs table's items weigh, as DynamoDB counts them for its capacity units (for the
//! write-path simulation, `make partitions`).

use serde::Serialize;

use super::jobs::job_items;
use super::*;
use crate::domain::job::{Job, Task};

/// The sizes in bytes of the items `job` and `tasks` are stored as (the job's first), as
/// DynamoDB counts them for its capacity units.
pub fn item_sizes(job: &Job, tasks: &[Task]) -> Result<Vec<usize>, StoreError> {
    Ok(job_items(job, tasks)?.iter().map(item_size).collect())
}

/// The size in bytes of `value` stored as an item, without its keys.
pub fn value_size<T: Serialize>(value: &T) -> Result<usize, StoreError> {
    Ok(item_size(&dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?))
}

/// An item's size: its attribute names and values (numbers and containers counted by their
/// text and a few bytes of overhead, a little above what DynamoDB counts).
fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + attribute_size(value)).sum()
}

fn attribute_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Ss(texts) | AttributeValue::Ns(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|value| 1 + attribute_size(value)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map.iter().map(|(name, value)| 1 + name.len() + attribute_size(value)).sum::<usize>()
        }
        _ => 1,
    }
}
