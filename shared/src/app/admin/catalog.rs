//! Use-case of the `mediaflow workflow` commands: apply, enable, disable, show, list, delete.

use std::fmt;
use std::sync::Arc;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::Utc;
use tracing::info;

use crate::domain::workflow::{Workflow, WorkflowError, WorkflowSpec};
use crate::ports::{CatalogSnapshot, StoreError, WorkflowStore};

/// How a change is tried again when another change to the catalog came in between: with
/// jittered, growing waits (so that changes racing each other spread out), 12 times.
fn retries() -> impl Iterator<Item = std::time::Duration> {
    ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(20))
        .with_max_delay(std::time::Duration::from_secs(1))
        .with_max_times(12)
        .with_jitter()
        .build()
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Invalid(#[from] WorkflowError),
    #[error("no workflow named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `apply` created the workflow or replaced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Created,
    Replaced,
    Unchanged,
}

/// The workflows of a deployment.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn WorkflowStore>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    pub fn new(store: Arc<dyn WorkflowStore>) -> Self {
        Self { store }
    }

    /// Creates the workflow (disabled, seed rule 5) or replaces the configuration of the one
    /// with the same name, keeping its state.
    pub async fn apply(&self, spec: WorkflowSpec) -> Result<(Applied, Workflow), CatalogError> {
        let name = spec.name.trim().to_owned();
        self.change(|snapshot| {
            let now = Utc::now();
            let existing = snapshot.get(&name).cloned();
            let (applied, workflow) = match &existing {
                None => (Applied::Created, Workflow::create(spec.clone(), now)?),
                Some(current) => {
                    let replaced = current.replace(spec.clone(), now)?;
                    if replaced.spec() == current.spec() {
                        return Ok(Change::None((Applied::Unchanged, current.clone())));
                    }
                    (Applied::Replaced, replaced)
                }
            };
            workflow.conflicts(&snapshot.workflows)?;
            Ok(Change::Save {
                workflow: Box::new(workflow.clone()),
                previous: existing.map(Box::new),
                result: (applied, workflow),
            })
        })
        .await
        .inspect(|(applied, workflow)| {
            info!(workflow = %workflow.name, revision = workflow.revision, ?applied, "workflow applied");
        })
    }

    /// Enables the workflow unless it and another enabled workflow could feed each other or
    /// write the same outputs.
    pub async fn enable(&self, name: &str) -> Result<Workflow, CatalogError> {
        self.change_state(name, |current| Ok(current.enable(Utc::now()))).await
    }

    pub async fn disable(&self, name: &str) -> Result<Workflow, CatalogError> {
        self.change_state(name, |current| Ok(current.disable(Utc::now()))).await
    }

    pub async fn get(&self, name: &str) -> Result<Workflow, CatalogError> {
        self.store.get(name).await?.ok_or_else(|| CatalogError::NotFound(name.to_owned()))
    }

    pub async fn list(&self) -> Result<Vec<Workflow>, CatalogError> {
        let mut workflows = self.store.snapshot().await?.workflows;
        workflows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(workflows)
    }

    pub async fn delete(&self, name: &str) -> Result<Workflow, CatalogError> {
        let workflow = self
            .change(|snapshot| {
                let workflow = find(snapshot, name)?;
                Ok(Change::Delete { workflow: Box::new(workflow.clone()), result: workflow })
            })
            .await?;
        info!(workflow = %workflow.name, "workflow deleted");
        Ok(workflow)
    }

    /// Changes the state of workflow `name` with `change`, checking the result against the
    /// other enabled workflows.
    async fn change_state(
        &self,
        name: &str,
        change: impl Fn(&Workflow) -> Result<Workflow, CatalogError>,
    ) -> Result<Workflow, CatalogError> {
        let changed = self
            .change(|snapshot| {
                let current = find(snapshot, name)?;
                let changed = change(&current)?;
                if changed == current {
                    return Ok(Change::None(changed));
                }
                changed.conflicts(&snapshot.workflows)?;
                Ok(Change::Save {
                    workflow: Box::new(changed.clone()),
                    previous: Some(Box::new(current)),
                    result: changed,
                })
            })
            .await?;
        info!(workflow = %changed.name, enabled = changed.enabled, revision = changed.revision, "workflow state");
        Ok(changed)
    }

    /// Decides a change on a snapshot of the whole catalog and writes it only if the catalog
    /// did not change in between; otherwise decides again on a new snapshot. So two changes
    /// that are fine alone but conflict together (two workflows enabled at once that would
    /// feed each other) cannot both pass.
    async fn change<T>(
        &self,
        decide: impl Fn(&CatalogSnapshot) -> Result<Change<T>, CatalogError>,
    ) -> Result<T, CatalogError> {
        let mut retries = retries();
        loop {
            let snapshot = self.store.snapshot().await?;
            let written = match decide(&snapshot)? {
                Change::None(result) => return Ok(result),
                Change::Save { workflow, previous, result } => {
                    self.store.save(&workflow, previous.as_deref(), snapshot.version).await.map(|()| result)
                }
                Change::Delete { workflow, result } => {
                    self.store.delete(&workflow, snapshot.version).await.map(|()| result)
                }
            };
            match (written, retries.next()) {
                (Err(StoreError::Conflict(_)), Some(wait)) => tokio::time::sleep(wait).await,
                (written, _) => return Ok(written?),
            }
        }
    }
}

fn find(snapshot: &CatalogSnapshot, name: &str) -> Result<Workflow, CatalogError> {
    snapshot.get(name).cloned().ok_or_else(|| CatalogError::NotFound(name.to_owned()))
}

/// What a catalog change writes.
enum Change<T> {
    None(T),
    Save { workflow: Box<Workflow>, previous: Option<Box<Workflow>>, result: T },
    Delete { workflow: Box<Workflow>, result: T },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::workflow::WorkflowError;

    fn spec(dir: &str) -> WorkflowSpec {
        serde_json::from_value(serde_json::json!({
            "name": "flow", "trigger": {"bucket": "media", "dir": dir}, "tasks": [{"type": "transcode"}]
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn apply_creates_disabled_then_replaces_keeping_state() {
        let catalog = Catalog::new(Arc::new(Memory::default()));
        let (applied, created) = catalog.apply(spec("in/")).await.unwrap();
        assert_eq!((applied, created.enabled, created.revision), (Applied::Created, false, 1));
        let enabled = catalog.enable("flow").await.unwrap();
        assert!(enabled.enabled && enabled.enabled_at.is_some());
        let (applied, unchanged) = catalog.apply(spec("in/")).await.unwrap();
        assert_eq!((applied, unchanged.revision), (Applied::Unchanged, 2));
        let (applied, replaced) = catalog.apply(spec("other/")).await.unwrap();
        assert_eq!((applied, replaced.revision, replaced.enabled), (Applied::Replaced, 3, true));
        assert_eq!(replaced.enabled_at, enabled.enabled_at);
    }

    #[tokio::test]
    async fn invalid_spec_names_field_and_stores_nothing() {
        let catalog = Catalog::new(Arc::new(Memory::default()));
        let error = catalog.apply(spec("in")).await.unwrap_err();
        assert_eq!(error.to_string(), "invalid workflow: trigger.dir: must end with '/'");
        assert!(catalog.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn unknown_names_are_reported() {
        let catalog = Catalog::new(Arc::new(Memory::default()));
        assert_eq!(catalog.enable("nope").await.unwrap_err().to_string(), "no workflow named \"nope\"");
        assert!(matches!(catalog.delete("nope").await, Err(CatalogError::NotFound(_))));
    }

    fn flow(name: &str, trigger: &str, output: &str) -> WorkflowSpec {
        serde_json::from_value(serde_json::json!({"name": name, "trigger": {"bucket": "media", "dir": trigger},
            "output": {"dir": output}, "tasks": [{"type": "transcode"}]}))
        .unwrap()
    }

    #[tokio::test]
    async fn workflows_that_could_feed_each_other_are_refused_on_apply_and_enable() {
        let catalog = Catalog::new(Arc::new(Memory::default()));
        catalog.apply(flow("a", "a/", "b/")).await.unwrap();
        catalog.enable("a").await.unwrap();
        // b's output lands in a's trigger: refused when applied
        let error = catalog.apply(flow("b", "b/", "a/")).await.unwrap_err();
        assert!(matches!(error, CatalogError::Invalid(WorkflowError::Conflict { .. })), "{error}");
        assert!(error.to_string().contains("its output s3://media/a/ overlaps the trigger s3://media/a/"), "{error}");
        // c is harmless while disabled, but its trigger would take a's outputs once enabled
        catalog.apply(flow("c", "b/", "c/")).await.unwrap();
        let error = catalog.enable("c").await.unwrap_err();
        assert!(error.to_string().contains("its trigger s3://media/b/ overlaps the output s3://media/b/"), "{error}");
        assert!(!catalog.get("c").await.unwrap().enabled);
        catalog.disable("a").await.unwrap();
        assert!(catalog.enable("c").await.unwrap().enabled, "no loop once a is disabled");
    }

    #[tokio::test]
    async fn concurrent_enables_of_workflows_that_feed_each_other_let_one_pass() {
        for _ in 0..10 {
            let catalog = Catalog::new(Arc::new(Memory::default()));
            catalog.apply(flow("a", "a/", "b/")).await.unwrap();
            catalog.apply(flow("b", "b/", "a/")).await.unwrap();
            let (a, b) = tokio::join!(catalog.enable("a"), catalog.enable("b"));
            assert!(a.is_ok() != b.is_ok(), "exactly one enable passes: {a:?} {b:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_unrelated_changes_at_once_all_pass() {
        // Operators (or a console and a script) changing different workflows at the same time.
        let catalog = Catalog::new(Arc::new(Memory::default()));
        let changes = (0..16).map(|i| {
            let catalog = catalog.clone();
            tokio::spawn(async move {
                let name = format!("w{i}");
                catalog.apply(flow(&name, &format!("in{i}/"), &format!("out{i}/"))).await?;
                catalog.enable(&name).await
            })
        });
        for change in futures::future::join_all(changes).await {
            assert!(change.unwrap().unwrap().enabled);
        }
    }

    #[tokio::test]
    async fn disable_then_delete() {
        let catalog = Catalog::new(Arc::new(Memory::default()));
        catalog.apply(spec("in/")).await.unwrap();
        catalog.enable("flow").await.unwrap();
        let disabled = catalog.disable("flow").await.unwrap();
        assert!(!disabled.enabled && disabled.enabled_at.is_none());
        catalog.delete("flow").await.unwrap();
        assert!(matches!(catalog.get("flow").await, Err(CatalogError::NotFound(_))));
    }
}
