//! Use-case of the `mediaflow workflow` commands: apply, enable, disable, show, list, delete.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use tracing::info;

use crate::domain::workflow::{Workflow, WorkflowError, WorkflowSpec};
use crate::ports::{StoreError, WorkflowStore};

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
        let now = Utc::now();
        let existing = self.store.get(spec.name.trim()).await?;
        let (applied, workflow) = match &existing {
            None => (Applied::Created, Workflow::create(spec, now)?),
            Some(current) => {
                let replaced = current.replace(spec, now)?;
                if replaced.spec() == current.spec() {
                    return Ok((Applied::Unchanged, current.clone()));
                }
                (Applied::Replaced, replaced)
            }
        };
        workflow.feedback_loops(&self.store.list().await?)?;
        self.store.save(&workflow, existing.as_ref()).await?;
        info!(workflow = %workflow.name, revision = workflow.revision, ?applied, "workflow applied");
        Ok((applied, workflow))
    }

    /// Enables the workflow unless it and another enabled workflow could feed each other.
    pub async fn enable(&self, name: &str) -> Result<Workflow, CatalogError> {
        let current = self.get(name).await?;
        let enabled = current.enable(Utc::now());
        enabled.feedback_loops(&self.store.list().await?)?;
        self.save(enabled, &current).await
    }

    pub async fn disable(&self, name: &str) -> Result<Workflow, CatalogError> {
        let current = self.get(name).await?;
        self.save(current.disable(Utc::now()), &current).await
    }

    pub async fn get(&self, name: &str) -> Result<Workflow, CatalogError> {
        self.store.get(name).await?.ok_or_else(|| CatalogError::NotFound(name.to_owned()))
    }

    pub async fn list(&self) -> Result<Vec<Workflow>, CatalogError> {
        let mut workflows = self.store.list().await?;
        workflows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(workflows)
    }

    pub async fn delete(&self, name: &str) -> Result<Workflow, CatalogError> {
        let workflow = self.get(name).await?;
        self.store.delete(&workflow).await?;
        info!(workflow = %workflow.name, "workflow deleted");
        Ok(workflow)
    }

    async fn save(&self, changed: Workflow, current: &Workflow) -> Result<Workflow, CatalogError> {
        if &changed != current {
            self.store.save(&changed, Some(current)).await?;
            info!(workflow = %changed.name, enabled = changed.enabled, revision = changed.revision, "workflow state changed");
        }
        Ok(changed)
    }
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
        assert!(matches!(error, CatalogError::Invalid(WorkflowError::FeedbackLoop { .. })), "{error}");
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
