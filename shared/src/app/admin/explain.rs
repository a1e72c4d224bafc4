//! Why an upload would or would not run: which workflows an upload of an object would start
//! and the keys each would write, decided as the dispatcher decides; changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::job::Job;
use crate::domain::object::{ObjectCreated, ObjectRef};
use crate::domain::task::OutputSlot;
use crate::ports::{ObjectStore, StoreError, WorkflowStore};

/// What `mediaflow match` says of one workflow of the object's bucket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Match {
    pub workflow: String,
    /// Whether an upload of the object would start a job of this workflow.
    pub fires: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The keys its job would write.
    pub outputs: Vec<ObjectRef>,
}

/// Which workflows an upload of `object` would start, and what each would write, decided as
/// [`Dispatcher::dispatch`](crate::app::pipeline::dispatch::Dispatcher::dispatch) decides; changes nothing. An existing object is judged as uploaded
/// when it was; a missing one as uploaded `now`.
pub async fn explain(
    workflows: &dyn WorkflowStore,
    objects: &dyn ObjectStore,
    object: &ObjectRef,
    now: DateTime<Utc>,
) -> Result<Vec<Match>, StoreError> {
    let head = objects.head(object).await?;
    let event = ObjectCreated {
        object: object.clone(),
        size: head.as_ref().map(|h| h.size),
        etag: head.as_ref().and_then(|h| h.etag.clone()),
        version_id: None,
        sequencer: None,
        event_time: head.as_ref().and_then(|h| h.last_modified).unwrap_or(now),
    };
    let ours = head.as_ref().and_then(|h| h.output_at(object));
    let head = head.clone().unwrap_or_default();
    let mut matches = Vec::new();
    let of_bucket = workflows.snapshot().await?.workflows.into_iter().filter(|w| w.trigger.bucket == object.bucket);
    for workflow in of_bucket {
        let decided = match ours {
            Some(marker) => Err(format!("{}: never processed", marker.skip_reason())),
            None if event.is_folder_placeholder() => Err("folder placeholder".to_owned()),
            None => workflow.decide(&event).map_err(|skip| skip.to_string()),
        };
        let outputs = match &decided {
            Ok(()) => {
                let (job, tasks) = Job::start(&workflow, &event, &head, now);
                tasks
                    .iter()
                    .flat_map(|task| {
                        (0..task.spec.output_count()).map(|number| job.output_key(task, OutputSlot::Main(number)))
                    })
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        matches.push(Match { workflow: workflow.name, fires: decided.is_ok(), reason: decided.err(), outputs });
    }
    Ok(matches)
}

/// [`explain`] over a deployment's workflows and objects.
pub struct Explainer {
    pub workflows: std::sync::Arc<dyn WorkflowStore>,
    pub objects: std::sync::Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Explainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explainer").finish_non_exhaustive()
    }
}

impl Explainer {
    pub async fn explain(&self, object: &ObjectRef, now: DateTime<Utc>) -> Result<Vec<Match>, StoreError> {
        explain(self.workflows.as_ref(), self.objects.as_ref(), object, now).await
    }
}
