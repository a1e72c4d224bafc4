//! Use-case of the dispatcher: an object was created; start a job for every workflow that
//! wants it and hand each job to a worker to prepare (probe once, then start its tasks).

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use tracing::{info, warn};

use crate::domain::job::{Job, JobId};
use crate::domain::message::{PrepareMessage, WorkerMessage};
use crate::domain::object::{ObjectCreated, ObjectHead, ObjectRef};
use crate::domain::workflow::Workflow;
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
    /// A job exists for this workflow and upload, and was handed to a worker to prepare (now,
    /// or by an earlier delivery of the event when `prepare_sent` is false).
    Started { workflow: String, job_id: JobId, new: bool, prepare_sent: bool },
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
    /// mediaflow's own outputs, creates each job once and hands it to a worker to prepare.
    ///
    /// Safe to repeat: a repeated event finds the jobs it created (the job id is derived from
    /// the workflow and the upload) and sends only a preparation never sent; an event older
    /// than one already seen for the key is dropped.
    pub async fn dispatch(&self, event: &ObjectCreated) -> Result<DispatchReport, StoreError> {
        let object = &event.object;
        if event.is_folder_placeholder() {
            return Ok(DispatchReport::skipped(object, "folder placeholder"));
        }
        let workflows = self.workflows.for_key(&object.bucket, &object.key).await?;
        if workflows.is_empty() {
            return Ok(DispatchReport::skipped(object, "no workflow for this dir"));
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
        // The event carries no metadata: only a HEAD tells our outputs from uploads, and pins
        // the stored object the jobs will process.
        let head = match self.objects.head(object).await {
            Ok(None) => return Ok(DispatchReport::skipped(object, "object no longer exists")),
            Ok(Some(head)) => head,
            // A bucket this deployment may not read (outside its TriggerBuckets): the jobs are
            // recorded from the event all the same, and fail with why when their preparation
            // cannot read the upload either, where the user looks for them.
            Err(StoreError::AccessDenied(detail)) => {
                warn!(bucket = %object.bucket, key = %object.key, %detail, "cannot read the upload; its jobs will say why");
                ObjectHead::default()
            }
            Err(error) => return Err(error),
        };
        if let Some(marker) = head.output_at(object) {
            return Ok(DispatchReport::skipped(object, marker.skip_reason()));
        }
        // A server-side copy keeps the metadata of what it copies: it is a new upload.
        if let Some(marker) = &head.marker {
            info!(bucket = %object.bucket, key = %object.key, job_id = %marker.job, "a copy of an output: processed as an upload");
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
            outcomes.push(self.start(&workflow, event, &head).await?);
        }
        Ok(DispatchReport { object: object.clone(), outcomes })
    }

    /// Creates the job of `workflow` for the upload `event` (stored as `head` shows it), once,
    /// and hands it to a worker to prepare unless that was done already.
    pub(crate) async fn start(
        &self,
        workflow: &Workflow,
        event: &ObjectCreated,
        head: &ObjectHead,
    ) -> Result<Outcome, StoreError> {
        let object = &event.object;
        let (job, tasks) = Job::start(workflow, event, head, Utc::now());
        let created = self.jobs.create(&job, &tasks).await?;
        let new = created == Created::New;
        // A repeated delivery sends the preparation only if the first one did not.
        let send = match created {
            Created::New => true,
            Created::Existing => self.jobs.job(&job.id).await?.is_some_and(|stored| stored.prepare_sent_at.is_none()),
        };
        if send {
            self.queue.enqueue(&WorkerMessage::Prepare(PrepareMessage::new(job.id.clone()))).await?;
            self.jobs.mark_prepare_sent(&job.id, Utc::now()).await?;
        }
        if new {
            info!(job_id = %job.id, workflow = %workflow.name, bucket = %object.bucket, key = %object.key, tasks = tasks.len(), "job started");
        } else {
            warn!(job_id = %job.id, workflow = %workflow.name, prepare_sent = send, "job existed: event delivered again");
        }
        Ok(Outcome::Started { workflow: workflow.name.clone(), job_id: job.id, new, prepare_sent: send })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::object::{OutputMarker, parse_event_time};
    use crate::domain::task::{TaskSpec, TranscodeSpec};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, Workflow, WorkflowSpec};
    use crate::ports::JobStore;

    fn workflow(name: &str, dir: &str, enabled_at: Option<&str>) -> Workflow {
        let spec = WorkflowSpec {
            name: name.into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: dir.into() },
            output: OutputSpec::default(),
            tasks: vec![TaskSpec::Transcode(TranscodeSpec::default()), TaskSpec::Transcode(TranscodeSpec::default())],
            limits: Default::default(),
            notification: None,
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
        assert_eq!(reasons(&report), vec!["no workflow for this dir"]);
        assert!(memory.sent().is_empty());
    }

    fn prepare(job_id: &JobId) -> WorkerMessage {
        WorkerMessage::Prepare(PrepareMessage::new(job_id.clone()))
    }

    #[tokio::test]
    async fn when_workflow_matches_should_create_job_and_send_its_preparation() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &["in/a.mp4"]).await;
        let report = dispatcher(&memory).dispatch(&event("in/a.mp4")).await.unwrap();
        let job_id = report.jobs().next().unwrap().clone();
        assert_eq!(memory.sent(), vec![prepare(&job_id)]);
        assert_eq!(memory.tasks(&job_id).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn when_several_workflows_match_should_start_each() {
        let enabled = Some("2026-01-01T00:00:00Z");
        let flows = [workflow("a", "in/", enabled), workflow("b", "", enabled), workflow("c", "other/", enabled)];
        let memory = given(&flows, &["in/sub/a.mp4"]).await;
        let report = dispatcher(&memory).dispatch(&event("in/sub/a.mp4")).await.unwrap();
        assert_eq!(report.jobs().count(), 2);
        assert!(reasons(&report).is_empty(), "workflows of other dirs are not even read");
        assert_eq!(memory.sent().len(), 2);
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
    async fn when_object_is_our_output_should_skip_but_a_copy_of_it_is_an_upload() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &[]).await;
        let output = ObjectRef::new("media", "in/a_transcode_1.mp4");
        let marker = OutputMarker::new("job-1", "a", &ObjectRef::new("media", "in/a.mp4"), &output);
        memory.put_object(output, b"x".to_vec(), Some(marker.clone()));
        let report = dispatcher(&memory).dispatch(&event("in/a_transcode_1.mp4")).await.unwrap();
        assert_eq!(reasons(&report), vec!["output of mediaflow job job-1"]);
        assert!(memory.sent().is_empty());
        memory.put_object(ObjectRef::new("media", "in/copy.mp4"), b"x".to_vec(), Some(marker));
        let report = dispatcher(&memory).dispatch(&event("in/copy.mp4")).await.unwrap();
        assert_eq!(report.jobs().count(), 1, "{report:?}");
    }

    #[tokio::test]
    async fn when_the_upload_cannot_be_read_should_start_its_job_from_the_event_to_record_why() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &["in/a.mp4"]).await;
        memory.deny_reads("media");
        let report = dispatcher(&memory).dispatch(&event("in/a.mp4")).await.unwrap();
        let job_id = report.jobs().next().unwrap().clone();
        assert_eq!(memory.sent(), vec![prepare(&job_id)]);
        let job = memory.job(&job_id).await.unwrap().unwrap();
        assert_eq!((job.input_etag.as_deref(), job.input_size), (Some("e"), Some(1)), "pinned by the event");
        let again = dispatcher(&memory).dispatch(&event("in/a.mp4")).await.unwrap();
        assert_eq!(again.jobs().next(), Some(&job_id), "a redelivery finds the same job");
    }

    #[tokio::test]
    async fn when_key_is_folder_placeholder_should_skip() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &[]).await;
        let report = dispatcher(&memory).dispatch(&event("in/sub/")).await.unwrap();
        assert_eq!(reasons(&report), vec!["folder placeholder"]);
    }

    #[tokio::test]
    async fn when_event_repeats_should_send_the_preparation_only_if_never_sent() {
        let memory = given(&[workflow("a", "in/", Some("2026-01-01T00:00:00Z"))], &["in/a.mp4"]).await;
        let dispatcher = dispatcher(&memory);
        let first = dispatcher.dispatch(&event("in/a.mp4")).await.unwrap();
        let job_id = first.jobs().next().unwrap().clone();
        assert_eq!(
            dispatcher.dispatch(&event("in/a.mp4")).await.unwrap().outcomes,
            vec![Outcome::Started { workflow: "a".into(), job_id: job_id.clone(), new: false, prepare_sent: false }]
        );
        // As if the first delivery failed before recording that it sent the preparation:
        memory.change_job(&job_id, |job| job.prepare_sent_at = None);
        let again = dispatcher.dispatch(&event("in/a.mp4")).await.unwrap();
        assert_eq!(
            again.outcomes,
            vec![Outcome::Started { workflow: "a".into(), job_id: job_id.clone(), new: false, prepare_sent: true }]
        );
        assert_eq!(memory.sent(), vec![prepare(&job_id), prepare(&job_id)]);
        assert_eq!(memory.job_count(), 1);
    }

    #[tokio::test]
    async fn when_the_workflow_changed_state_a_redelivered_event_finds_its_job() {
        let enabled = workflow("a", "in/", Some("2026-01-01T00:00:00Z"));
        let memory = given(std::slice::from_ref(&enabled), &["in/a.mp4"]).await;
        let dispatcher = dispatcher(&memory);
        let first = dispatcher.dispatch(&event("in/a.mp4")).await.unwrap();
        memory.put_workflow(enabled.disable(Utc::now()).enable(parse_event_time("2026-01-01T00:00:00Z").unwrap()));
        let again = dispatcher.dispatch(&event("in/a.mp4")).await.unwrap();
        assert_eq!(first.jobs().collect::<Vec<_>>(), again.jobs().collect::<Vec<_>>());
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
