//! Use-case of `mediaflow audit` and the scheduled audit function: the uploads in the trigger
//! locations, the job records and the outputs read side by side, and what breaks the promise
//! reported as findings ([`crate::domain::audit`] says what counts). Reads lists, the jobs
//! table's by-day index and the tasks of each job found there; never a table scan.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::{StreamExt, TryStreamExt};
use tracing::{info, warn};

use crate::app::pipeline::chunking::part_owner;
use crate::domain::audit::{
    self, ABANDONED_AFTER, AuditReport, Checked, Finding, FindingKind, Repair, duplicates, newest_per_input,
    part_left_behind, wants,
};
use crate::domain::job::{Job, JobId, JobStatus, Task, TaskStatus};
use crate::domain::object::ObjectRef;
use crate::domain::workflow::{Location, Workflow};
use crate::ports::{JobFilter, JobQueries, JobStore, Listed, ObjectStore, StoreError, WorkflowStore};

/// Reads done at once (task records, HEADs).
const CONCURRENCY: usize = 16;

/// What to audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditOptions {
    /// Uploads made and jobs created from then on.
    pub since: DateTime<Utc>,
    /// Only these trigger buckets (and their jobs); every one when empty.
    pub buckets: Vec<String>,
    /// Uploads younger than this are not yet expected to have a job.
    pub grace: TimeDelta,
    /// An unfinished job with no sign of work for this long is stuck.
    pub deadline: TimeDelta,
}

impl AuditOptions {
    pub fn since(since: DateTime<Utc>) -> Self {
        Self { since, buckets: Vec::new(), grace: audit::DEFAULT_GRACE, deadline: audit::DEFAULT_DEADLINE }
    }

    fn covers(&self, bucket: &str) -> bool {
        self.buckets.is_empty() || self.buckets.iter().any(|b| b == bucket)
    }
}

pub struct Auditor {
    workflows: Arc<dyn WorkflowStore>,
    jobs: Arc<dyn JobStore>,
    queries: Arc<dyn JobQueries>,
    objects: Arc<dyn ObjectStore>,
    /// Where chunked tasks keep their parts, when the deployment says.
    work: Option<Location>,
}

impl fmt::Debug for Auditor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auditor").field("work", &self.work).finish_non_exhaustive()
    }
}

impl Auditor {
    pub fn new(
        workflows: Arc<dyn WorkflowStore>,
        jobs: Arc<dyn JobStore>,
        queries: Arc<dyn JobQueries>,
        objects: Arc<dyn ObjectStore>,
        work: Option<Location>,
    ) -> Self {
        Self { workflows, jobs, queries, objects, work }
    }

    /// Audits the deployment as of `now`.
    pub async fn run(&self, options: &AuditOptions, now: DateTime<Utc>) -> Result<AuditReport, StoreError> {
        let snapshot = self.workflows.snapshot().await?;
        let workflows: Vec<&Workflow> =
            snapshot.workflows.iter().filter(|workflow| options.covers(&workflow.trigger.bucket)).collect();
        let jobs: Vec<Job> =
            self.jobs_since(options.since).await?.into_iter().filter(|job| options.covers(&job.input.bucket)).collect();
        let tasks = self.tasks_of(&jobs).await?;
        let mut checked = Checked { workflows: workflows.len() as u64, jobs: jobs.len() as u64, ..Checked::default() };
        let mut findings = self.uploads_without_job(&workflows, &jobs, options, now, &mut checked).await?;
        findings.extend(duplicate_jobs(&jobs));
        findings.extend(stuck_jobs(&jobs, &tasks, options, now));
        findings.extend(self.outputs(&jobs, &tasks, &mut checked).await?);
        if let Some(work) = self.work.as_ref().filter(|work| options.covers(&work.bucket)) {
            findings.extend(self.parts(work, &tasks, options, now, &mut checked).await?);
        }
        findings.extend(self.unfinished_uploads(&workflows, now).await);
        let report = AuditReport::new(options.since, now, checked, findings);
        info!(findings = report.findings.len(), checked = ?report.checked, "audit done");
        Ok(report)
    }

    /// Removes a part left behind.
    pub async fn delete_part(&self, part: &ObjectRef) -> Result<(), StoreError> {
        self.objects.delete(part).await
    }

    /// Drops an output's upload in parts that was never finished.
    pub async fn abort_upload(&self, object: &ObjectRef, id: &str) -> Result<(), StoreError> {
        self.objects.abort_parts(object, id).await
    }

    /// Uploads in parts under the workflows' output dirs begun longer ago than any worker runs.
    /// A bucket whose uploads cannot be listed (a role without the permission) is left out.
    async fn unfinished_uploads(&self, workflows: &[&Workflow], now: DateTime<Utc>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut seen = HashSet::new();
        for workflow in workflows {
            let output = &workflow.output;
            if !seen.insert((&output.bucket, &output.dir)) {
                continue;
            }
            let unfinished = match self.objects.unfinished_parts(&output.bucket, &output.dir).await {
                Ok(unfinished) => unfinished,
                Err(error) => {
                    warn!(bucket = %output.bucket, %error, "unfinished uploads not listed");
                    continue;
                }
            };
            for upload in unfinished.into_iter().filter(|u| u.begun.is_some_and(|at| at + ABANDONED_AFTER < now)) {
                let begun = upload.begun.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default();
                findings.push(Finding {
                    kind: FindingKind::UploadUnfinished,
                    detail: format!("begun {begun} and never finished: its parts are billed until it is dropped"),
                    workflow: Some(workflow.name.clone()),
                    job_id: None,
                    repair: Some(Repair::AbortUpload { object: upload.object.clone(), id: upload.id }),
                    object: upload.object,
                });
            }
        }
        findings
    }

    /// Every job created since `since`, newest first, page by page through the by-day index.
    async fn jobs_since(&self, since: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        let mut filter = JobFilter { since: Some(since), limit: 1000, ..JobFilter::default() };
        loop {
            let page = self.queries.list(&filter).await?;
            jobs.extend(page.jobs);
            match page.next_page {
                Some(next) => filter.page = Some(next),
                None => return Ok(jobs),
            }
        }
    }

    /// The tasks of the jobs whose tasks the audit looks at: the unfinished ones (stuck or not)
    /// and each upload's newest (its outputs); a part's task is read when its part is found.
    async fn tasks_of(&self, jobs: &[Job]) -> Result<HashMap<JobId, Vec<Task>>, StoreError> {
        let newest: HashSet<&JobId> = newest_per_input(jobs).into_iter().map(|job| &job.id).collect();
        let needed = jobs.iter().filter(|job| job.status != JobStatus::Finish || newest.contains(&job.id));
        futures::stream::iter(needed)
            .map(|job| async move { Ok::<_, StoreError>((job.id.clone(), self.jobs.tasks(&job.id).await?)) })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await
    }

    /// Every object of `location`, page by page.
    async fn list(&self, location: &Location) -> Result<Vec<Listed>, StoreError> {
        let mut objects = Vec::new();
        let mut token = None;
        loop {
            let page = self.objects.list(&location.bucket, &location.dir, token.take()).await?;
            objects.extend(page.objects);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(objects),
            }
        }
    }

    /// Uploads an enabled workflow wants (made in the window, older than the grace) that none of
    /// its jobs processed: no job for the same key and entity tag.
    async fn uploads_without_job(
        &self,
        workflows: &[&Workflow],
        jobs: &[Job],
        options: &AuditOptions,
        now: DateTime<Utc>,
        checked: &mut Checked,
    ) -> Result<Vec<Finding>, StoreError> {
        let processed: HashSet<(&str, &ObjectRef, Option<&str>)> =
            jobs.iter().map(|job| (job.workflow.as_str(), &job.input, job.input_etag.as_deref())).collect();
        let mut listings: HashMap<&Location, Vec<Listed>> = HashMap::new();
        let mut missing = Vec::new();
        for workflow in workflows {
            if !listings.contains_key(&workflow.trigger) {
                listings.insert(&workflow.trigger, self.list(&workflow.trigger).await?);
            }
            for listed in &listings[&workflow.trigger] {
                let Some(modified) = listed.last_modified else { continue };
                let object = ObjectRef::new(&workflow.trigger.bucket, &listed.key);
                if modified < options.since || modified + options.grace > now || !wants(workflow, &object, modified) {
                    continue;
                }
                checked.uploads += 1;
                if !processed.contains(&(workflow.name.as_str(), &object, listed.etag.as_deref())) {
                    missing.push((*workflow, object, listed.etag.clone()));
                }
            }
        }
        // Only a HEAD tells our own outputs (a trigger may hold a disabled workflow's) from uploads.
        let found: Vec<Option<Finding>> = futures::stream::iter(missing)
            .map(|(workflow, object, etag)| async move {
                let head = self.objects.head(&object).await?;
                Ok::<_, StoreError>(match head {
                    Some(head) if head.output_at(&object).is_none() && head.etag == etag => Some(Finding {
                        kind: FindingKind::UploadWithoutJob,
                        detail: format!(
                            "uploaded while workflow {} was enabled, and no job processed it",
                            workflow.name
                        ),
                        workflow: Some(workflow.name.clone()),
                        job_id: None,
                        repair: Some(Repair::Process { workflow: workflow.name.clone(), object: object.clone() }),
                        object,
                    }),
                    // Gone, replaced since (the newer upload is audited in its turn), or ours.
                    _ => None,
                })
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// The outputs of the succeeded tasks of each upload's newest job, HEAD by HEAD: stored, with
    /// the recorded size (unless another job's output has taken the key since).
    async fn outputs(
        &self,
        jobs: &[Job],
        tasks: &HashMap<JobId, Vec<Task>>,
        checked: &mut Checked,
    ) -> Result<Vec<Finding>, StoreError> {
        let expected: Vec<(&Job, &Task, ObjectRef, u64)> = newest_per_input(jobs)
            .into_iter()
            .flat_map(|job| tasks.get(&job.id).into_iter().flatten().map(move |task| (job, task)))
            .filter(|(_, task)| task.status == TaskStatus::Success)
            .flat_map(|(job, task)| {
                task.outputs
                    .iter()
                    .map(move |output| (job, task, ObjectRef::new(&output.bucket, &output.key), output.size))
            })
            .collect();
        checked.outputs = expected.len() as u64;
        let found: Vec<Option<Finding>> = futures::stream::iter(expected)
            .map(|(job, task, object, size)| async move {
                let finding = |kind: FindingKind, detail: String| Finding {
                    kind,
                    object: object.clone(),
                    workflow: Some(job.workflow.clone()),
                    job_id: Some(job.id.clone()),
                    detail,
                    repair: Some(Repair::Redo { job_id: job.id.clone(), task: Some(task.index) }),
                };
                Ok::<_, StoreError>(match self.objects.head(&object).await? {
                    None => Some(finding(
                        FindingKind::OutputMissing,
                        format!("task {} succeeded, but its output is not stored", task.index),
                    )),
                    Some(head) if head.marker.as_ref().is_some_and(|marker| marker.job != job.id.as_str()) => None,
                    Some(head) if head.size != size => Some(finding(
                        FindingKind::OutputSizeDiffers,
                        format!("task {} recorded {size} bytes; {} are stored", task.index, head.size),
                    )),
                    Some(_) => None,
                })
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Parts in the work location whose task ended (or whose job is gone), older than the grace.
    async fn parts(
        &self,
        work: &Location,
        tasks: &HashMap<JobId, Vec<Task>>,
        options: &AuditOptions,
        now: DateTime<Utc>,
        checked: &mut Checked,
    ) -> Result<Vec<Finding>, StoreError> {
        let mut older: HashMap<JobId, Vec<Task>> = HashMap::new();
        let mut findings = Vec::new();
        for listed in self.list(work).await? {
            let Some((job_id, index)) = part_owner(work, &listed.key) else { continue };
            if listed.last_modified.is_some_and(|modified| modified + options.grace > now) {
                continue;
            }
            checked.parts += 1;
            let job_tasks = match tasks.get(&job_id) {
                Some(found) => found,
                None => {
                    if !older.contains_key(&job_id) {
                        older.insert(job_id.clone(), self.jobs.tasks(&job_id).await?);
                    }
                    &older[&job_id]
                }
            };
            if part_left_behind(job_tasks.iter().find(|task| task.index == index)) {
                let object = ObjectRef::new(&work.bucket, &listed.key);
                findings.push(Finding {
                    kind: FindingKind::PartLeftBehind,
                    detail: format!("a part of task {index}, which has ended"),
                    workflow: None,
                    job_id: Some(job_id),
                    repair: Some(Repair::DeletePart { object: object.clone() }),
                    object,
                });
            }
        }
        Ok(findings)
    }
}

/// A finding per job recorded for an upload that had a job already.
fn duplicate_jobs(jobs: &[Job]) -> Vec<Finding> {
    duplicates(jobs)
        .into_iter()
        .flat_map(|group| {
            let first = group[group.len() - 1].id.clone();
            group.into_iter().rev().skip(1).map(move |job| Finding {
                kind: FindingKind::DuplicateJob,
                object: job.input.clone(),
                workflow: Some(job.workflow.clone()),
                job_id: Some(job.id.clone()),
                detail: format!("a second job for the upload that job {first} processed"),
                repair: None,
            })
        })
        .collect()
}

fn stuck_jobs(
    jobs: &[Job],
    tasks: &HashMap<JobId, Vec<Task>>,
    options: &AuditOptions,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    jobs.iter()
        .filter_map(|job| {
            let job_tasks = tasks.get(&job.id).map(Vec::as_slice).unwrap_or_default();
            audit::is_stuck(job, job_tasks, now, options.deadline).then(|| Finding {
                kind: FindingKind::JobNotFinished,
                object: job.input.clone(),
                workflow: Some(job.workflow.clone()),
                job_id: Some(job.id.clone()),
                detail: format!(
                    "not finished, and no sign of work since {}",
                    audit::last_activity(job, job_tasks).to_rfc3339()
                ),
                repair: Some(Repair::Redo { job_id: job.id.clone(), task: None }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::job::OutputFile;
    use crate::domain::object::OutputMarker;
    use crate::domain::task::{TaskSpec, TranscodeSpec};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, WorkflowSpec};
    use crate::ports::{Progress, TaskOutcome};

    fn workflow() -> Workflow {
        let spec = WorkflowSpec {
            name: "clips".into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: "in/".into() },
            output: OutputSpec { bucket: None, dir: Some("out/".into()) },
            tasks: vec![TaskSpec::Transcode(TranscodeSpec::default())],
            limits: Default::default(),
            notification: None,
        };
        let now = Utc::now() - TimeDelta::hours(3);
        Workflow::create(spec, now).expect("valid").enable(now)
    }

    fn setup() -> (Memory, Auditor, Workflow) {
        let memory = Memory::default();
        let workflow = workflow();
        memory.put_workflow(workflow.clone());
        let auditor = Auditor::new(
            Arc::new(memory.clone()),
            Arc::new(memory.clone()),
            Arc::new(memory.clone()),
            Arc::new(memory.clone()),
            Some(Location { bucket: "work".into(), dir: "parts/".into() }),
        );
        (memory, auditor, workflow)
    }

    fn options() -> AuditOptions {
        AuditOptions { grace: TimeDelta::zero(), ..AuditOptions::since(Utc::now() - TimeDelta::hours(1)) }
    }

    async fn audit(auditor: &Auditor) -> AuditReport {
        auditor.run(&options(), Utc::now() + TimeDelta::seconds(1)).await.expect("audit")
    }

    fn kinds(report: &AuditReport) -> Vec<FindingKind> {
        report.findings.iter().map(|finding| finding.kind).collect()
    }

    /// Runs task 0 of `id` to success with one output of `size` bytes at `out/clip.mp4`.
    async fn succeed(memory: &Memory, workflow: &Workflow, id: &JobId, size: usize) -> ObjectRef {
        let output = ObjectRef::new("media", "out/clip.mp4");
        let marker = OutputMarker::new(id.as_str(), &workflow.name, &ObjectRef::new("media", "in/clip.mp4"), &output);
        memory.put_object(output.clone(), vec![0; size], Some(marker));
        let mut task = memory.tasks(id).await.expect("tasks").remove(0);
        task.hold.attempts = 1;
        let file = OutputFile {
            bucket: output.bucket.clone(),
            key: output.key.clone(),
            size: size as u64,
            duration: None,
            width: None,
            height: None,
            quality: Vec::new(),
            tuning: None,
        };
        let outcome = TaskOutcome::Success { outputs: vec![file], warnings: vec![], timings: Default::default() };
        let claimed = crate::domain::attempt::Lease {
            holder: "r".into(),
            now: Utc::now(),
            until: Utc::now() + TimeDelta::minutes(5),
        };
        memory.claim(id, 0, &claimed).await.expect("claim");
        assert_eq!(memory.finish(&task, &outcome, Utc::now()).await.expect("finish"), Progress::JobFinished);
        output
    }

    #[tokio::test]
    async fn a_healthy_deployment_has_no_findings_and_says_what_it_looked_at() {
        let (memory, auditor, workflow) = setup();
        let id = memory.job_for_upload(&workflow, "in/clip.mp4", b"video").await;
        succeed(&memory, &workflow, &id, 10).await;
        memory.put_object(ObjectRef::new("media", "in/sub/"), vec![], None);
        memory.put_object(ObjectRef::new("media", "elsewhere/x.mp4"), b"x".to_vec(), None);
        let report = audit(&auditor).await;
        assert!(report.is_clean(), "{:?}", report.findings);
        assert_eq!((report.checked.uploads, report.checked.jobs, report.checked.outputs), (1, 1, 1));
    }

    #[tokio::test]
    async fn an_upload_without_a_job_is_found_and_processing_it_repairs_it() {
        let (memory, auditor, workflow) = setup();
        memory.put_object(ObjectRef::new("media", "in/lost.mp4"), b"video".to_vec(), None);
        let report = audit(&auditor).await;
        assert_eq!(kinds(&report), vec![FindingKind::UploadWithoutJob]);
        let finding = &report.findings[0];
        assert_eq!(finding.object, ObjectRef::new("media", "in/lost.mp4"));
        assert_eq!(
            finding.repair.as_ref().map(ToString::to_string).as_deref(),
            Some("mediaflow process --workflow clips s3://media/in/lost.mp4")
        );
        // What the repair does: a job for that upload, and then nothing to find.
        memory.job_for_upload(&workflow, "in/lost.mp4", b"video").await;
        let report = audit(&auditor).await;
        assert!(!kinds(&report).contains(&FindingKind::UploadWithoutJob), "{:?}", report.findings);
    }

    #[tokio::test]
    async fn our_own_outputs_in_a_trigger_and_uploads_within_the_grace_are_not_findings() {
        let (memory, auditor, workflow) = setup();
        let object = ObjectRef::new("media", "in/ours.mp4");
        let marker = OutputMarker::new("job-x", "other", &ObjectRef::new("media", "src.mp4"), &object);
        memory.put_object(object, b"out".to_vec(), Some(marker));
        memory.put_object(ObjectRef::new("media", "in/new.mp4"), b"video".to_vec(), None);
        let patient = AuditOptions { grace: TimeDelta::minutes(5), ..options() };
        let report = auditor.run(&patient, Utc::now()).await.expect("audit");
        assert!(report.is_clean(), "{:?}", report.findings);
        assert_eq!(workflow.name, "clips");
    }

    #[tokio::test]
    async fn a_job_nobody_works_on_past_its_deadline_is_stuck_until_redone() {
        let (memory, auditor, workflow) = setup();
        let id = memory.job_for_upload(&workflow, "in/clip.mp4", b"video").await;
        let late = Utc::now() + TimeDelta::hours(2);
        let report = auditor.run(&options(), late).await.expect("audit");
        assert_eq!(kinds(&report), vec![FindingKind::JobNotFinished]);
        assert_eq!(report.findings[0].repair, Some(Repair::Redo { job_id: id.clone(), task: None }));
        let report = auditor.run(&options(), Utc::now() + TimeDelta::minutes(30)).await.expect("audit");
        assert!(report.is_clean(), "within the deadline: {:?}", report.findings);
    }

    #[tokio::test]
    async fn a_succeeded_tasks_output_deleted_or_changed_is_found_unless_a_later_job_owns_it() {
        let (memory, auditor, workflow) = setup();
        let id = memory.job_for_upload(&workflow, "in/clip.mp4", b"video").await;
        let output = succeed(&memory, &workflow, &id, 10).await;
        memory.put_object(output.clone(), vec![0; 7], None);
        let report = audit(&auditor).await;
        assert_eq!(kinds(&report), vec![FindingKind::OutputSizeDiffers]);
        assert_eq!(report.findings[0].repair, Some(Repair::Redo { job_id: id.clone(), task: Some(0) }));
        ObjectStore::delete(&memory, &output).await.expect("delete");
        let report = audit(&auditor).await;
        assert_eq!(kinds(&report), vec![FindingKind::OutputMissing]);
        let marker = OutputMarker::new("job-later", &workflow.name, &ObjectRef::new("media", "in/clip.mp4"), &output);
        memory.put_object(output, vec![0; 3], Some(marker));
        assert!(audit(&auditor).await.is_clean());
    }

    #[tokio::test]
    async fn a_part_whose_task_ended_is_left_behind_and_one_still_waiting_for_its_join_is_not() {
        let (memory, auditor, workflow) = setup();
        let id = memory.job_for_upload(&workflow, "in/clip.mp4", b"video").await;
        let part = ObjectRef::new("work", format!("parts/{id}/0000/0001.mp4"));
        memory.put_object(part.clone(), b"part".to_vec(), None);
        assert!(audit(&auditor).await.is_clean(), "the task is still open");
        succeed(&memory, &workflow, &id, 10).await;
        let report = audit(&auditor).await;
        assert_eq!(kinds(&report), vec![FindingKind::PartLeftBehind]);
        assert_eq!(report.findings[0].repair, Some(Repair::DeletePart { object: part.clone() }));
        auditor.delete_part(&part).await.expect("delete");
        assert!(audit(&auditor).await.is_clean());
    }

    #[tokio::test]
    async fn an_output_upload_in_parts_older_than_any_worker_runs_is_unfinished_until_dropped() {
        let (memory, auditor, workflow) = setup();
        let output = ObjectRef::new("media", "out/clip_transcode_1.mp4");
        let marker = OutputMarker::new("job-1", &workflow.name, &ObjectRef::new("media", "in/clip.mp4"), &output);
        let id = memory.begin_parts(&output, "video/mp4", &marker).await.expect("begun");
        let elsewhere = ObjectRef::new("media", "other/clip.mp4");
        memory.begin_parts(&elsewhere, "video/mp4", &marker).await.expect("begun");
        assert!(audit(&auditor).await.is_clean(), "a worker may still be sending it");
        let later = Utc::now() + ABANDONED_AFTER + TimeDelta::minutes(1);
        let report = auditor.run(&options(), later).await.expect("audit");
        assert_eq!(kinds(&report), vec![FindingKind::UploadUnfinished], "only under the workflow's output dir");
        let repair = Repair::AbortUpload { object: output.clone(), id: id.clone() };
        assert_eq!(report.findings[0].repair, Some(repair));
        assert_eq!(report.findings[0].workflow.as_deref(), Some(workflow.name.as_str()));
        auditor.abort_upload(&output, &id).await.expect("dropped");
        assert!(auditor.run(&options(), later).await.expect("audit").is_clean());
    }
}
