//! A workflow's life: created disabled from its spec, replaced, enabled and disabled, with the
//! spans it was enabled in remembered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::location::Location;
use super::spec::{Config, OutputSpec, TriggerSpec, WorkflowError, WorkflowSpec};
use crate::domain::limits::Limits;
use crate::domain::notification::spec::NotificationSpec;
use crate::domain::task::TaskSpec;

/// A validated workflow with its state. Created disabled; its name is its identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub name: String,
    pub trigger: Location,
    pub output: Location,
    pub tasks: Vec<TaskSpec>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationSpec>,
    pub enabled: bool,
    /// When the workflow was last enabled; only objects created from then on are processed.
    pub enabled_at: Option<DateTime<Utc>>,
    /// The latest times it was enabled (the newest last): an upload made in any of them is
    /// processed, even when its event arrives after a disable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<EnabledSpan>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1, grows by one with every change; writes are conditional on it.
    pub revision: u64,
}

/// A stretch of time a workflow was enabled; open (`until` absent) while it still is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnabledSpan {
    pub from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl EnabledSpan {
    pub(super) fn covers(&self, time: DateTime<Utc>) -> bool {
        self.from <= time && self.until.is_none_or(|until| time < until)
    }
}

/// How many enabled spans a workflow remembers.
pub(super) const MAX_HISTORY: usize = 32;

impl Workflow {
    /// A new workflow from its spec: disabled, revision 1.
    pub fn create(spec: WorkflowSpec, now: DateTime<Utc>) -> Result<Workflow, WorkflowError> {
        let Config { name, trigger, output, tasks, limits, notification } = spec.validate()?;
        Ok(Workflow {
            name,
            trigger,
            output,
            tasks,
            limits,
            notification,
            enabled: false,
            enabled_at: None,
            history: Vec::new(),
            created_at: now,
            updated_at: now,
            revision: 1,
        })
    }

    /// This workflow with its configuration replaced by `spec`; state (enabled, enabled_at,
    /// created_at) is kept and the revision grows.
    pub fn replace(&self, spec: WorkflowSpec, now: DateTime<Utc>) -> Result<Workflow, WorkflowError> {
        let Config { name, trigger, output, tasks, limits, notification } = spec.validate()?;
        if name != self.name {
            return Err(WorkflowError::NameMismatch { expected: self.name.clone(), found: name });
        }
        Ok(Workflow {
            trigger,
            output,
            tasks,
            limits,
            notification,
            updated_at: now,
            revision: self.revision + 1,
            ..self.clone()
        })
    }

    /// The spec that produces this workflow (defaults filled in).
    pub fn spec(&self) -> WorkflowSpec {
        WorkflowSpec {
            name: self.name.clone(),
            trigger: TriggerSpec { bucket: self.trigger.bucket.clone(), dir: self.trigger.dir.clone() },
            output: OutputSpec { bucket: Some(self.output.bucket.clone()), dir: Some(self.output.dir.clone()) },
            tasks: self.tasks.clone(),
            limits: self.limits,
            notification: self.notification.clone(),
        }
    }

    /// Enabled from `now` on; enabling an enabled workflow changes nothing.
    pub fn enable(&self, now: DateTime<Utc>) -> Workflow {
        if self.enabled {
            return self.clone();
        }
        let mut history = self.history.clone();
        history.push(EnabledSpan { from: now, until: None });
        let excess = history.len().saturating_sub(MAX_HISTORY);
        history.drain(..excess);
        Workflow {
            enabled: true,
            enabled_at: Some(now),
            history,
            updated_at: now,
            revision: self.revision + 1,
            ..self.clone()
        }
    }

    /// Disabled from `now` on: uploads made while it was enabled are still processed.
    pub fn disable(&self, now: DateTime<Utc>) -> Workflow {
        if !self.enabled {
            return self.clone();
        }
        let mut history = self.spans();
        if let Some(open) = history.last_mut().filter(|span| span.until.is_none()) {
            open.until = Some(now);
        }
        Workflow {
            enabled: false,
            enabled_at: None,
            history,
            updated_at: now,
            revision: self.revision + 1,
            ..self.clone()
        }
    }

    /// The enabled spans, including the current one of a workflow stored before spans were
    /// recorded.
    pub(super) fn spans(&self) -> Vec<EnabledSpan> {
        match (self.history.is_empty(), self.enabled, self.enabled_at) {
            (true, true, Some(from)) => vec![EnabledSpan { from, until: None }],
            _ => self.history.clone(),
        }
    }
}
