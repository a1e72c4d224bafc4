//! How a task is split into parts (chunks of a long encode, or runs of pictures), where the parts
//! are kept between their render and the join, and the join itself.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::warn;

use super::workspace::{Workspace, open_upload};
use crate::domain::chunk::{self, Budget, ChunkPlan, Part};
use crate::domain::error::TaskError;
use crate::domain::job::{Job, JobId, Task};
use crate::domain::object::ObjectRef;
use crate::domain::task::Tuning;
use crate::domain::workflow::Location;
use crate::ports::{Feed, JoinRequest, MediaTool, ObjectStore, RenderRequest, Rendered, StoreError};

/// Where part `number` of task `index` of `job` is kept in the work location `work`.
pub fn part_key(work: &Location, job: &JobId, index: u32, number: u32) -> ObjectRef {
    ObjectRef::new(&work.bucket, format!("{}{job}/{index:04}/{number:04}.mp4", work.dir))
}

/// Whose part the key `key` of the work location `work` is: its job and task.
pub fn part_owner(work: &Location, key: &str) -> Option<(JobId, u32)> {
    let mut path = key.strip_prefix(work.dir.as_str())?.split('/');
    let (job, index, _number) = (path.next()?, path.next()?, path.next()?);
    Some((JobId::from(job.to_owned()), index.parse().ok()?))
}

/// Where parts are kept between their render and the join, and the time one invocation has.
#[derive(Clone, Debug)]
pub struct Chunking {
    /// A bucket (and dir) of mediaflow's own; a lifecycle rule removes what is left in it.
    pub work: Location,
    pub invocation_seconds: f64,
}

impl Chunking {
    /// How `task` of `job` is split, each border moved to just after a keyframe of the upload
    /// (where no keyframe is found, it stays), or pictures split on their grid; `None` when the
    /// task runs in one piece. Fails where its title's tuning could not go on (the upload
    /// unreadable a while): the split is planned again.
    pub async fn plan(
        &self,
        objects: &Arc<dyn ObjectStore>,
        media: &dyn MediaTool,
        job: &Job,
        task: &Task,
    ) -> Result<Option<ChunkPlan>, StoreError> {
        let Some(mut plan) = self.split(objects, media, job, task).await else { return Ok(None) };
        plan.tuning = self.tune(objects, media, job, task).await?;
        Ok(Some(plan))
    }

    /// Where `task` of `job` is split, before its title is tuned.
    async fn split(
        &self,
        objects: &Arc<dyn ObjectStore>,
        media: &dyn MediaTool,
        job: &Job,
        task: &Task,
    ) -> Option<ChunkPlan> {
        let source = job.source.as_ref()?;
        let budget = Budget { invocation_seconds: self.invocation_seconds, max_duration: job.limits.max_duration_s };
        if let Some(pictures) = task.spec.pictures() {
            let grid = pictures.grid(source, budget.max_duration).ok()?;
            return chunk::picture_plan(
                pictures.parallel,
                pictures.chunk_seconds,
                source,
                grid.interval,
                grid.count,
                budget,
            );
        }
        let encode = task.spec.encode()?;
        let plan = chunk::plan(&encode, source, budget)?;
        let keyframes = match open_upload(objects, job).await {
            Ok(upload) => media
                .keyframes(upload, source.start_time.unwrap_or(0.0), &plan.borders())
                .await
                .map_err(|failure| failure.to_string()),
            Err(error) => Err(error.message),
        };
        match keyframes {
            Ok(keyframes) => Some(chunk::at_keyframes(plan, &encode, source, &keyframes)),
            Err(error) => {
                warn!(job_id = %job.id, task = task.index, %error, "no keyframes found: the borders stay");
                Some(plan)
            }
        }
    }

    /// The title's CRF or ladder for a task that asks (`crf: auto`, `renditions: auto`), chosen
    /// once for all its chunks. An upload gone or replaced leaves it untuned (its parts fail as
    /// they read it); one that cannot be read now fails, to be tuned again.
    async fn tune(
        &self,
        objects: &Arc<dyn ObjectStore>,
        media: &dyn MediaTool,
        job: &Job,
        task: &Task,
    ) -> Result<Option<Tuning>, StoreError> {
        if !task.spec.tuned_per_title() {
            return Ok(None);
        }
        let untuned = |why: String| Ok(task.spec.untuned(job.source.as_ref(), why));
        let (source, upload) = match (job.source.as_ref(), open_upload(objects, job).await) {
            (Some(source), Ok(upload)) => (source, upload),
            (_, Err(error)) if error.code.is_retryable() => return Err(StoreError::Unavailable(error.message)),
            (_, Err(error)) => return untuned(error.message),
            (None, _) => return untuned("the job was never prepared".into()),
        };
        let scratch = tempfile::Builder::new().prefix("tune-").tempdir()?;
        let request = RenderRequest {
            spec: &task.spec,
            names: job.output_names(task),
            upload,
            part: None,
            source,
            limits: &job.limits,
            watermark_images: &[],
            workdir: scratch.path(),
            stop_by: None,
            progress: None,
            tuning: None,
            feed: None,
        };
        media
            .tune(&request)
            .await
            .map_err(|failure| StoreError::Unavailable(format!("cannot tune the title: {failure}")))
    }

    /// Where part `number` of task `index` is kept.
    pub fn part_key(&self, job: &JobId, index: u32, number: u32) -> ObjectRef {
        part_key(&self.work, job, index, number)
    }

    /// Removes the parts of the ended chunked `task`: nothing joins them any more. What cannot be
    /// removed now is left to the work bucket's lifecycle rule (and `mediaflow audit --fix`).
    pub(crate) async fn remove_parts(&self, objects: &dyn ObjectStore, task: &Task) {
        let Some(plan) = &task.chunks else { return };
        for number in 0..plan.parts() {
            let key = self.part_key(&task.job_id, task.index, number);
            if let Err(error) = objects.delete(&key).await {
                warn!(job_id = %task.job_id, task = task.index, part = number, %error, "part not removed");
            }
        }
    }

    /// Downloads the parts of the chunked `task` into `workdir` and joins them into its output.
    pub(crate) async fn join(
        &self,
        work: &Workspace,
        job: &Job,
        task: &Task,
        workdir: &Path,
        stop_by: Option<DateTime<Utc>>,
        feed: Option<Feed>,
    ) -> Result<Rendered, TaskError> {
        let (objects, media) = (&work.objects, work.media.as_ref());
        // The joined outputs are scored against the upload, when the task asks.
        let upload = match task.spec.quality() {
            Some(_) => Some(open_upload(objects, job).await?),
            None => None,
        };
        let plan = task.chunks.as_ref().ok_or_else(|| TaskError::internal("the task was never split"))?;
        let source =
            job.source.as_ref().ok_or_else(|| TaskError::internal("the job was never prepared: no source probe"))?;
        let mut chunks = Vec::with_capacity(plan.chunks.len());
        let mut audio = None;
        for number in 0..plan.parts() {
            let video = matches!(plan.part(number), Some(Part::Video(_)));
            let path = match video {
                true => workdir.join(format!("chunk-{number:04}.mp4")),
                false => workdir.join("audio.mp4"),
            };
            let key = self.part_key(&job.id, task.index, number);
            match objects.download(&key, None, &path).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(TaskError::internal(format!("part {number} of the task is missing from {key}")));
                }
                Err(e) => return Err(e.task_error(&format!("read part {number} from {key}"))),
            }
            match video {
                true => chunks.push(path),
                false => audio = Some(path),
            }
        }
        let request = JoinRequest {
            spec: &task.spec,
            names: job.output_names(task),
            source,
            upload,
            chunks: &chunks,
            audio: audio.as_deref(),
            limits: &job.limits,
            workdir,
            stop_by,
            tuning: plan.tuning.as_ref(),
            feed,
        };
        Ok(media.join(&request).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::app::pipeline::fixtures;
    use crate::domain::task::{Crf, TranscodeSpec, VideoSpec};

    #[tokio::test]
    async fn a_chunked_title_whose_tuning_cannot_read_the_upload_is_split_only_once_it_is_tuned() {
        // GIVEN a prepared job of one `crf: auto` transcode in two chunks
        let memory = Memory::default();
        let video = VideoSpec { crf: Some(Crf::Auto), ..VideoSpec::default() };
        let transcode = TranscodeSpec { video: Some(video), ..TranscodeSpec::default() };
        let (job, task, chunking) = fixtures::chunked_job(&memory, transcode).await;
        let objects: Arc<dyn ObjectStore> = Arc::new(memory.clone());
        // WHEN its title's tuning cannot read the upload
        memory.fail_tunes(1);
        let failed = chunking.plan(&objects, &memory, &job, &task).await;
        // THEN no split is planned: the preparation fails, to be tried again, never split untuned
        assert!(matches!(&failed, Err(error) if error.is_retryable()), "{failed:?}");
        // AND the next preparation splits it with its title's tuning
        let plan = chunking.plan(&objects, &memory, &job, &task).await.unwrap().expect("split");
        assert_eq!(plan.chunks.len(), 2, "{plan:?}");
        assert!(plan.tuning.is_some(), "{plan:?}");
    }
}
