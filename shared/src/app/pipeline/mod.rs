//! The pipeline: what the functions run. [`dispatch`] turns a created object into jobs and
//! sends their preparations; [`prepare`] probes a job's upload once and starts its tasks;
//! [`task`] runs one task (or joins a chunked one's parts); [`parts`] runs one part of a chunked
//! task; [`recover`] records what lost worker invocations could not.
//!
//! Below them: [`attempt`] (what an invocation is, how often a task is tried), [`chunking`] (how
//! a task is split, where its parts are kept, the join), [`workspace`] (scratch directory,
//! upload, watermark images), [`publish`] (outputs written under their conditions) and
//! [`notify`] (job events to the workflow's target).
//!
//! Imports the domain and the ports; never an adapter, and never `admin`.

pub mod attempt;
pub mod chunking;
pub mod dispatch;
mod growing;
pub mod notify;
pub mod parts;
pub mod prepare;
pub mod publish;
pub mod recover;
pub mod task;
pub mod workspace;

/// What the pipeline's unit tests stand on: the use-cases over the in-memory adapters.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::Path;
    use std::sync::Arc;

    use chrono::TimeDelta;

    use chrono::Utc;

    use super::chunking::Chunking;
    use super::notify::{Notifier, RetryPolicy};
    use super::workspace::Workspace;
    use crate::adapters::memory::Memory;
    use crate::domain::job::{Job, Task};
    use crate::domain::media::{AudioStream, MediaInfo, VideoStream};
    use crate::domain::task::{Parallel, TaskSpec, TranscodeSpec};
    use crate::domain::workflow::{Location, OutputSpec, TriggerSpec, Workflow, WorkflowSpec};
    use crate::ports::JobStore;

    /// A notifier whose events land in [`Memory::notified`], tried once.
    pub(crate) fn notifier(memory: &Memory) -> Arc<Notifier> {
        let shared = Arc::new(memory.clone());
        let once = RetryPolicy { attempts: 1, first_delay: std::time::Duration::ZERO };
        Arc::new(Notifier::new(shared.clone(), shared, once))
    }

    /// A job on `memory`, prepared, of one `transcode` in two chunks of a 60 s upload (64x48 at
    /// 25 fps, with sound), its one task, and where chunks are kept.
    pub(crate) async fn chunked_job(memory: &Memory, transcode: TranscodeSpec) -> (Job, Task, Chunking) {
        let spec = WorkflowSpec {
            name: "flow".into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: "in/".into() },
            output: OutputSpec { bucket: None, dir: Some("out/".into()) },
            tasks: vec![TaskSpec::Transcode(TranscodeSpec { parallel: Parallel::Chunks(2), ..transcode })],
            limits: Default::default(),
            notification: None,
        };
        let workflow = Workflow::create(spec, Utc::now()).unwrap().enable(Utc::now());
        let id = memory.job_for_upload(&workflow, "in/clip.mp4", b"video").await;
        let video =
            VideoStream { codec: "h264".into(), width: 64, height: 48, fps: Some(25.0), ..VideoStream::default() };
        let source = MediaInfo {
            duration: Some(60.0),
            video: Some(video),
            audio: Some(AudioStream::default()),
            ..MediaInfo::default()
        };
        memory.record_source(&id, &source).await.unwrap();
        let (job, task) = (memory.job(&id).await.unwrap().unwrap(), memory.tasks(&id).await.unwrap().remove(0));
        let chunking =
            Chunking { work: Location { bucket: "work".into(), dir: "parts/".into() }, invocation_seconds: 900.0 };
        (job, task, chunking)
    }

    /// Tasks and parts run on `memory`, in scratch directories under `scratch`, with a lease of 15
    /// minutes and a margin of a second.
    pub(crate) fn workspace(memory: &Memory, scratch: &Path) -> Workspace {
        let shared = Arc::new(memory.clone());
        Workspace {
            jobs: shared.clone(),
            objects: shared.clone(),
            media: shared,
            notifier: notifier(memory),
            scratch: scratch.to_owned(),
            lease: TimeDelta::minutes(15),
            margin: TimeDelta::seconds(1),
            send_while_writing: Some(5 * 1024 * 1024),
        }
    }
}
