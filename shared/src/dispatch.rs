//! Use-case of the dispatcher: an object was created; start a job for every workflow that
//! wants it and a worker for every task of each job.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use tracing::{info, warn};

use crate::domain::job::{Job, JobId, TaskMessage, TaskStatus};
use crate::domain::object::{ObjectCreated, ObjectRef};
use crate::ports::{Created, Freshness, JobStore, ObjectStore, StoreError, TaskQueue, WorkflowStore};

/// What became of one created object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DispatchReport {
    pub object: ObjectRef,
    pub outcomes: Vec<Outcome>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A job exists for this workflow and object, and its waiting tasks were sent to workers.
    Started { workflow: String, job_id: JobId, new: bool, tasks_sent: u32 },
    /// Not processed; `workflow` is absent when the reason concerns every workflow.
    Skipped {
        #[serde(skip_serializing_if = "Option::is_none")]
        workflow: Option<String>,
        reason: String,
    },
}

impl DispatchReport {
    pub fn jobs(&self) -> impl Iterator<Item = &JobId> {
        self.outcomes.iter().filter_map(|outcome| match outcome {
            Outcome::Started { job_id, .. } => Some(job_id),
            Outcome::Skipped { .. } => None,
        })
    }

    fn skipped(object: &ObjectRef, reason: impl fmt::Display) -> Self {
        info!(bucket = %object.bucket, key = %object.key, %reason, "object skipped");
        DispatchReport {
            object: object.clone(),
            outcomes: vec![Outcome::Skipped { workflow: None, reason: reason.to_string() }],
        }
    }
}

/// Turns created objects into jobs and worker invocations.
pub struct Dispatcher {
    workflows: Arc<dyn WorkflowStore>,
    jobs: Arc<dyn JobStore>,
    objects: Arc<dyn ObjectStore>,
    queue: Arc<dyn TaskQueue>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(
        workflows: Arc<dyn WorkflowStore>,
        jobs: Arc<dyn JobStore>,
        objects: Arc<dyn ObjectStore>,
        queue: Arc<dyn TaskQueue>,
    ) -> Self {
        Self { workflows, jobs, objects, queue }
    }

    /// Matches the object against the workflows of its bucket (seed rules 5 and 7), skips
    /// mediaflow's own outputs, creates each job once and sends its waiting tasks to workers.
    ///
    /// Safe to repeat: a repeated event finds the jobs it created and sends only tasks that were
    /// never sent; an event older than one already seen for the key is dropped.
    pub async fn dispatch(&self, event: &ObjectCreated) -> Result<DispatchReport, StoreError> {
        let object = &event.object;
        if event.is_folder_placeholder() {
            return Ok(DispatchReport::skipped(object, "folder placeholder"));
        }
        let workflows = self.workflows.for_bucket(&object.bucket).await?;
        if workflows.is_empty() {
            return Ok(DispatchReport::skipped(object, "no workflow for bucket"));
        }
        let mut outcomes = Vec::new();
        let mut matched = Vec::new();
        for workflow in workflows {
            match workflow.decide(event) {
                Ok(()) => matched.push(workflow),
                Err(skip) => {
                    info!(bucket = %object.bucket, key = %object.key, workflow = %workflow.name, reason = %skip, "workflow skips object");
                    outcomes.push(Outcome::Skipped { workflow: Some(workflow.name), reason: skip.to_string() });
                }
            }
        }
        if matched.is_empty() {
            return Ok(DispatchReport { object: object.clone(), outcomes });
        }
        // The event carries no metadata: only a HEAD tells our outputs from uploads.
        match self.objects.head(object).await? {
            None => return Ok(DispatchReport::skipped(object, "object no longer exists")),
            Some(head) if head.produced_by_job.is_some() => {
                let job = head.produced_by_job.unwrap_or_default();
                return Ok(DispatchReport::skipped(object, format_args!("output of mediaflow job {job}")));
            }
            Some(_) => {}
        }
        // S3 may deliver events out of order: an older upload of the key must not win.
        if let Some(sequencer) = event.sequencer.as_deref().filter(|s| !s.is_empty())
            && let Freshness::Stale { newest } = self.jobs.record_sequencer(object, sequencer).await?
        {
            return Ok(DispatchReport::skipped(
                object,
                format_args!("stale event: sequencer {sequencer} is older than {newest}, seen already"),
            ));
        }
        for workflow in matched {
            let (job, tasks) = Job::start(&workflow, event, Utc::now());
            let created = self.jobs.create(&job, &tasks).await?;
            let waiting: Vec<u32> = match created {
                Created::New => tasks.iter().map(|task| task.index).collect(),
                // A retried delivery sends only what the failed one did not.
                Created::Existing => self
                    .jobs
                    .tasks(&job.id)
                    .await?
                    .iter()
                    .filter(|task| task.status == TaskStatus::Waiting && task.sent_at.is_none())
                    .map(|task| task.index)
                    .collect(),
            };
            for &index in &waiting {
                self.queue.enqueue(&TaskMessage { job_id: job.id.clone(), task: index }).await?;
                self.jobs.mark_sent(&job.id, index, Utc::now()).await?;
            }
            let new = created == Created::New;
            if new {
                info!(job_id = %job.id, workflow = %workflow.name, bucket = %object.bucket, key = %object.key, tasks = waiting.len(), "job started");
            } else {
                warn!(job_id = %job.id, workflow = %workflow.name, resent = waiting.len(), "job existed: event delivered again");
            }
            outcomes.push(Outcome::Started {
                workflow: workflow.name,
                job_id: job.id,
                new,
                tasks_sent: waiting.len() as u32,
            });
        }
        Ok(DispatchReport { object: object.clone(), outcomes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::object::parse_event_time;
    use crate::domain::task::{TaskSpec, TranscodeSpec};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, Workflow, WorkflowSpec};

    fn workflow(name: &str, dir: &str, enabled_at: Option<&str>) -> Workflow {
        let spec = WorkflowSpec {
            name: name.into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: dir.into() },
            output: OutputSpec::default(),
            tasks: vec![TaskSpec::Transcode(TranscodeSpec::default()), TaskSpec::Transcode(TranscodeSpec::default())],
            limits: Default::default(),
        };
        let created = Workflow::create(spec, parse_event_time("2026-01-01T00:00:00Z").unwrap()).unwrap();
        match enabled_at {
            Some(at) => created.enable(parse_event_time(at).unwrap()),
            None => created,
        }
    }

    fn event(key: &str) -> ObjectCreated {
        ObjectCreated {
            object: ObjectRef::new("media", key),
            size: Some(1),
            etag: Some("e".into()),
            version_id: None,
            sequencer: Some("0001".into()),
            event_time: parse_event_time("2026-06-01T00:00:00Z").unwrap(),
        }
    }

    async fn given(workflows: &[Workflow], objects: &[&str]) -> Memory {
        let memory = Memory::default();
        for workflow in workflows {
            memory.put_workflow(workflow.clone());
        }
        for key in objects {
            memory.put_object(ObjectRef::new("media", *key), b"data".to_vec(), None);
        }
        memory
    }

    fn dispatcher(memory: &Memory) -> Dispatcher {
        let shared = Arc::new(memory.clone());
        Dispatcher::new(shared.clone(), shared.clone(), shared.clone(), shared)
    }

    fn reasons(report: &DispatchReport) -> Vec<String> {
        report
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Skipped { reason, .. } => Some(reason.clone()),
                Outcome::Started { .. } => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn when_no_workflow_for_bucket_should_skip_with_reason() {
        let memory = given(&[], &["in/a.mp4"]).await;
        let report = dispatcher(&memory).dispatch(&event("in/a.mp4")).await.unwrap();
        assert_eq!(reasons(&report), vec!["no workflow for bucket"]);
        assert!(memory.sent().is_empty());
    }

    #[tokio::test]
    async fn when_workflow_matches_should_create_job_and_send_each_task() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &["in/a.mp4"]).await;
        let report = dispatcher(&memory).dispatch(&event("in/a.mp4")).await.unwrap();
        let job_id = report.jobs().next().unwrap().clone();
        assert_eq!(
            memory.sent(),
            vec![TaskMessage { job_id: job_id.clone(), task: 0 }, TaskMessage { job_id, task: 1 }]
        );
    }

    #[tokio::test]
    async fn when_several_workflows_match_should_start_each() {
        let enabled = Some("2026-01-01T00:00:00Z");
        let flows = [workflow("a", "in/", enabled), workflow("b", "", enabled), workflow("c", "other/", enabled)];
        let memory = given(&flows, &["in/sub/a.mp4"]).await;
        let report = dispatcher(&memory).dispatch(&event("in/sub/a.mp4")).await.unwrap();
        assert_eq!(report.jobs().count(), 2);
        assert_eq!(reasons(&report), vec!["outside trigger dir \"other/\""]);
        assert_eq!(memory.sent().len(), 4);
    }

    #[tokio::test]
    async fn when_disabled_or_uploaded_before_enabled_should_skip_with_reasons() {
        let flows = [workflow("off", "in/", None), workflow("late", "in/", Some("2026-07-01T00:00:00Z"))];
        let memory = given(&flows, &["in/a.mp4"]).await;
        let report = dispatcher(&memory).dispatch(&event("in/a.mp4")).await.unwrap();
        assert_eq!(
            reasons(&report),
            vec!["uploaded before enabled (enabled at 2026-07-01T00:00:00+00:00)".to_owned(), "disabled".to_owned()]
        );
        assert!(memory.sent().is_empty());
    }

    #[tokio::test]
    async fn when_object_is_our_output_should_skip() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &[]).await;
        memory.put_object(ObjectRef::new("media", "in/a_transcode_1.mp4"), b"x".to_vec(), Some("job-1".into()));
        let report = dispatcher(&memory).dispatch(&event("in/a_transcode_1.mp4")).await.unwrap();
        assert_eq!(reasons(&report), vec!["output of mediaflow job job-1"]);
        assert!(memory.sent().is_empty());
    }

    #[tokio::test]
    async fn when_key_is_folder_placeholder_should_skip() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &[]).await;
        let report = dispatcher(&memory).dispatch(&event("in/sub/")).await.unwrap();
        assert_eq!(reasons(&report), vec!["folder placeholder"]);
    }

    #[tokio::test]
    async fn when_event_repeats_should_send_only_tasks_never_sent() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &["in/a.mp4"]).await;
        let dispatcher = dispatcher(&memory);
        let first = dispatcher.dispatch(&event("in/a.mp4")).await.unwrap();
        let job_id = first.jobs().next().unwrap().clone();
        assert_eq!(
            dispatcher.dispatch(&event("in/a.mp4")).await.unwrap().outcomes,
            vec![Outcome::Started { workflow: "a".into(), job_id: job_id.clone(), new: false, tasks_sent: 0 }]
        );
        // As if the first delivery failed after sending task 0 only:
        memory.forget_sent(&job_id, 1);
        let again = dispatcher.dispatch(&event("in/a.mp4")).await.unwrap();
        assert_eq!(
            again.outcomes,
            vec![Outcome::Started { workflow: "a".into(), job_id: job_id.clone(), new: false, tasks_sent: 1 }]
        );
        assert_eq!(memory.sent().last(), Some(&TaskMessage { job_id, task: 1 }));
        assert_eq!(memory.job_count(), 1);
    }

    #[tokio::test]
    async fn when_older_sequencer_arrives_after_newer_should_drop_it() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &["in/a.mp4"]).await;
        let dispatcher = dispatcher(&memory);
        let newer = ObjectCreated { sequencer: Some("0055AED6DCD90281E6".into()), ..event("in/a.mp4") };
        let older = ObjectCreated { sequencer: Some("55AED6DCD90281E5".into()), ..event("in/a.mp4") };
        assert_eq!(dispatcher.dispatch(&newer).await.unwrap().jobs().count(), 1);
        let report = dispatcher.dispatch(&older).await.unwrap();
        assert_eq!(
            reasons(&report),
            vec!["stale event: sequencer 55AED6DCD90281E5 is older than 0055AED6DCD90281E6, seen already"]
        );
        assert_eq!(dispatcher.dispatch(&newer).await.unwrap().jobs().count(), 1, "the newest again is a duplicate");
        assert_eq!(memory.job_count(), 1);
    }

    #[tokio::test]
    async fn when_object_vanished_should_skip() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &[]).await;
        let report = dispatcher(&memory).dispatch(&event("in/gone.mp4")).await.unwrap();
        assert_eq!(reasons(&report), vec!["object no longer exists"]);
    }
}
