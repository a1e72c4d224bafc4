//! What one job asks of DynamoDB and S3, request by request, at what time and under which key:
//! the keys from mediaflow's own functions, the requests counted from the pipeline's code
//! (`app::pipeline` over `adapters::aws::dynamodb`), the times drawn from a seeded generator.

use chrono::{DateTime, TimeDelta, Utc};
use mediaflow::adapters::aws::dynamodb::{JobPartitions, item_sizes, job_partitions, trigger_partitions, value_size};
use mediaflow::app::pipeline::chunking::part_key;
use mediaflow::app::pipeline::task::PROGRESS_INTERVAL;
use mediaflow::domain::chunk::{self, Budget};
use mediaflow::domain::job::{Job, JobStatus, OutputFile, Task};
use mediaflow::domain::media::{AudioStream, MediaInfo, VideoStream};
use mediaflow::domain::notification::{Delivery, DeliveryState};
use mediaflow::domain::object::{ObjectCreated, ObjectHead, ObjectRef};
use mediaflow::domain::task::OutputSlot;
use mediaflow::domain::workflow::{Location, Workflow, WorkflowSpec};
use mediaflow::wiring::LEASE;
use serde_json::json;

use super::rows::Row;

/// How far a job has come, which its item's size follows.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// As the dispatcher writes it.
    Created,
    /// With its source probed.
    Prepared,
    /// Finished, its finish event delivered.
    Finished,
}

/// One request: `units` of capacity at `key` of `row`, `at` seconds into the run.
#[derive(Debug)]
pub struct Request {
    pub row: Row,
    pub key: String,
    pub at: f64,
    pub units: u32,
}

/// One Lambda invocation: which function, from when to when.
#[derive(Debug)]
pub struct Invocation {
    pub worker: bool,
    pub from: f64,
    pub to: f64,
}

/// How the run lays out its keys.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Shards of the by-day and by-workflow index partitions (1: as before the shards).
    pub shards: u32,
    /// Sub-dirs of the trigger dir the uploads are spread over (1: all in the trigger dir).
    pub upload_dirs: u32,
}

/// ffprobe's reads of an upload while preparing it (headers, the index at the end, where the
/// media really ends): one GET each, as the served upload answers each of ffmpeg's requests
/// with one ranged read.
const PROBE_READS: u32 = 3;
/// ffmpeg's reads of an upload while rendering (headers, the index, then the rest).
const RENDER_READS: u32 = 3;
/// ffprobe's reads looking for keyframes at a split's borders.
const KEYFRAME_READS: u32 = 2;
/// Encoding seconds per second of 1080p source, on a 3008 MB worker (README's projection).
const ENCODE_SPEED: f64 = 0.45;

/// A small seeded generator (splitmix64): the same figures on every run.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
    }

    pub fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }
}

/// The workload: one workflow on one trigger dir, its uploads, and what its items weigh.
#[derive(Debug)]
pub struct Workload {
    pub workflow: Workflow,
    pub start: DateTime<Utc>,
    /// Where chunked tasks keep their parts (the stack's work bucket).
    pub work: Location,
    /// One upload in `long_every` lasts an hour (its transcode is split in parts).
    pub long_every: u32,
    /// Capacity units of one write of the job item at each [`Stage`] (the larger of the item
    /// before and after), of each task item, and of a part item.
    job_wcu: [u32; 3],
    task_wcu: Vec<u32>,
    part_wcu: u32,
    /// Read units of the job item, of its tasks (one Query), and of a trigger dir's workflows.
    job_rcu: [u32; 3],
    tasks_rcu: u32,
    trigger_rcu: u32,
    /// The workflows table's partition of the workflow's trigger dir.
    own_trigger: String,
    /// The sizes of the job's item at each [`Stage`], its tasks' and the workflow's, in bytes.
    pub sizes: ([usize; 3], Vec<usize>, usize),
}

fn wcu(bytes: usize) -> u32 {
    bytes.div_ceil(1024).max(1) as u32
}

fn rcu(bytes: usize) -> u32 {
    bytes.div_ceil(4096).max(1) as u32
}

fn source(duration: f64) -> MediaInfo {
    MediaInfo {
        container: "mov,mp4,m4a,3gp,3g2,mj2".into(),
        duration: Some(duration),
        start_time: Some(0.0),
        size: Some((duration * 1_000_000.0) as u64),
        bit_rate: Some(8_000_000),
        stream_count: 2,
        video: Some(VideoStream {
            codec: "h264".into(),
            width: 1920,
            height: 1080,
            fps: Some(30.0),
            frames: Some((duration * 30.0) as u64),
            duration: Some(duration),
            interlaced: false,
            hdr: None,
        }),
        audio: Some(AudioStream { codec: "aac".into(), sample_rate: Some(48_000), channels: Some(2) }),
    }
}

impl Workload {
    /// The workflow `busy`: a 720p transcode, two snapshots and a GIF of each upload under
    /// `uploads/` into `processed/`, with a finish event to a queue.
    pub fn new(long_every: u32) -> anyhow::Result<Self> {
        let spec: WorkflowSpec = serde_json::from_value(json!({
            "name": "busy",
            "trigger": {"bucket": "media", "dir": "uploads/"},
            "output": {"dir": "processed/"},
            "tasks": [
                {"type": "transcode", "definition": "720p", "video": {"codec": "h264", "height": 720}},
                {"type": "snapshot", "definition": "thumb", "times": [1, "50%"]},
                {"type": "animated", "definition": "preview", "format": "gif"}
            ],
            "notification": {"target": {"type": "sqs", "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/media-events"}}
        }))?;
        let start = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")?.with_timezone(&Utc);
        let workflow = Workflow::create(spec, start)?.enable(start);
        let mut workload = Workload {
            workflow,
            start,
            work: Location { bucket: "mediaflow-work".into(), dir: "parts/".into() },
            long_every,
            job_wcu: [0; 3],
            task_wcu: Vec::new(),
            part_wcu: 1,
            job_rcu: [0; 3],
            tasks_rcu: 0,
            trigger_rcu: 0,
            own_trigger: String::new(),
            sizes: ([0; 3], Vec::new(), 0),
        };
        // The last dir on a trigger dir's own path is itself.
        let trigger = &workload.workflow.trigger;
        workload.own_trigger = trigger_partitions(&trigger.bucket, &trigger.dir).pop().unwrap_or_default();
        // The job item as created, probed, and finished with its event delivered; the task items
        // at their largest, with their outputs recorded.
        let (mut job, mut tasks) = workload.job(0, 0.0, Layout { shards: 1, upload_dirs: 1 });
        let created = item_sizes(&job, &[])?[0];
        job.source = Some(source(3600.0));
        job.prepare_sent_at = Some(start);
        job.prepare_attempts = 1;
        let prepared = item_sizes(&job, &[])?[0];
        job.status = JobStatus::Finish;
        job.finished_at = Some(start);
        job.delivery = Some(Delivery {
            state: DeliveryState::Delivered,
            attempts: 1,
            error: None,
            at: Some(start),
            lease_until: None,
        });
        for task in &mut tasks {
            task.outputs = (0..outputs_of(task))
                .map(|number| {
                    let key = job.output_key(task, OutputSlot::Main(number));
                    OutputFile {
                        bucket: key.bucket,
                        key: key.key,
                        size: 1 << 30,
                        duration: Some(60.0),
                        width: Some(1280),
                        height: Some(720),
                        quality: Vec::new(),
                        tuning: None,
                    }
                })
                .collect();
            task.started_at = Some(start);
            task.finished_at = Some(start);
        }
        let sizes = item_sizes(&job, &tasks)?;
        let job_sizes = [created, prepared, sizes[0]];
        workload.job_wcu = job_sizes.map(wcu);
        workload.job_rcu = job_sizes.map(rcu);
        workload.task_wcu = sizes[1..].iter().map(|&size| wcu(size)).collect();
        workload.tasks_rcu = rcu(sizes[1..].iter().sum());
        let workflow_size = value_size(&workload.workflow)?;
        workload.trigger_rcu = rcu(workflow_size);
        workload.sizes = (job_sizes, sizes[1..].to_vec(), workflow_size);
        Ok(workload)
    }

    /// Upload `n`, created `at` seconds into the run, and its job.
    pub fn job(&self, n: u64, at: f64, layout: Layout) -> (Job, Vec<Task>) {
        let dir = match layout.upload_dirs {
            0 | 1 => String::new(),
            dirs => format!("{:02x}/", n % u64::from(dirs)),
        };
        let created = self.start + TimeDelta::microseconds((at * 1e6) as i64);
        let event = ObjectCreated {
            object: ObjectRef::new("media", format!("uploads/{dir}clip-{n:07}.mp4")),
            size: Some(50_000_000),
            etag: Some(format!("\"{n:032x}\"")),
            version_id: None,
            sequencer: Some(format!("{n:016X}")),
            event_time: created,
        };
        let head = ObjectHead { size: 50_000_000, etag: event.etag.clone(), ..ObjectHead::default() };
        Job::start(&self.workflow, &event, &head, created)
    }

    /// Every request upload `n` (arriving `at`) leads to, and the worker and dispatcher time it
    /// takes.
    pub fn requests(&self, n: u64, at: f64, layout: Layout, rng: &mut Rng) -> (Vec<Request>, Vec<Invocation>) {
        let (job, tasks) = self.job(n, at, layout);
        let long = self.long_every > 0 && n.is_multiple_of(u64::from(self.long_every));
        let duration = if long { 3600.0 } else { rng.between(10.0, 120.0) };
        let mut run = Run {
            workload: self,
            keys: job_partitions(&job, layout.shards),
            job: &job,
            processing: false,
            requests: Vec::new(),
            invocations: Vec::new(),
        };
        run.dispatch(at, at + rng.between(1.0, 2.0), rng);
        let prepared = run.prepare(at + rng.between(2.5, 3.5), duration, long, &tasks, rng);
        let finishes: Vec<f64> = tasks
            .iter()
            .map(|task| match prepared.plans.get(task.index as usize).copied().flatten() {
                Some(parts) => run.parts(task, parts, prepared.at, rng),
                None => {
                    let start = prepared.at + rng.between(0.2, 1.0);
                    let took = match task.spec.kind() {
                        "transcode" => duration * ENCODE_SPEED,
                        "snapshot" => rng.between(2.0, 6.0),
                        _ => rng.between(3.0, 10.0),
                    };
                    run.task(task, start, took, false)
                }
            })
            .collect();
        run.finish(&finishes);
        (run.requests, run.invocations)
    }
}

/// How many outputs a task of the workload writes.
fn outputs_of(task: &Task) -> usize {
    match &task.spec {
        mediaflow::domain::task::TaskSpec::Snapshot(snapshot) => snapshot.times.len(),
        _ => 1,
    }
}

/// The key prefix S3 partitions a key's requests by, at its most: its dir.
fn prefix(key: &str) -> String {
    format!("s3://{}", &key[..key.rfind('/').map_or(0, |slash| slash + 1)])
}

/// What a preparation decided: when it sent the tasks, and which were split in how many parts.
struct Prepared {
    at: f64,
    plans: Vec<Option<u32>>,
}

/// One job's requests as they are made.
struct Run<'a> {
    workload: &'a Workload,
    job: &'a Job,
    keys: JobPartitions,
    /// Whether a claim moved the job to PROCESSING already.
    processing: bool,
    requests: Vec<Request>,
    invocations: Vec<Invocation>,
}

impl Run<'_> {
    fn add(&mut self, row: Row, key: &str, at: f64, units: u32) {
        self.requests.push(Request { row, key: key.to_owned(), at, units });
    }

    /// A write of the job item that changes it: the table, and each index (all three project
    /// every attribute). `transaction`: twice the units (prepare and commit), counted so on the
    /// indexes too.
    fn job_write(&mut self, at: f64, stage: Stage, transaction: bool) {
        let units = self.workload.job_wcu[stage as usize] * if transaction { 2 } else { 1 };
        let keys = self.keys.clone();
        for (row, key) in [
            (Row::JobWrites, &keys.job),
            (Row::ByDay, &keys.by_day),
            (Row::ByWorkflow, &keys.by_workflow),
            (Row::ByInput, &keys.by_input),
        ] {
            self.add(row, key, at, units);
        }
    }

    /// A conditional write of the job item whose condition fails: units on the table only.
    fn job_write_refused(&mut self, at: f64, stage: Stage) {
        let (key, units) = (self.keys.job.clone(), self.workload.job_wcu[stage as usize]);
        self.add(Row::JobWrites, &key, at, units);
    }

    /// A claim's move of the job to PROCESSING (`mark_processing`): applied by the first only.
    fn mark_processing(&mut self, at: f64) {
        match std::mem::replace(&mut self.processing, true) {
            false => self.job_write(at, Stage::Prepared, false),
            true => self.job_write_refused(at, Stage::Prepared),
        }
    }

    fn task_write(&mut self, index: u32, at: f64, factor: u32) {
        let (key, units) = (self.keys.job.clone(), self.workload.task_wcu[index as usize] * factor);
        self.add(Row::JobWrites, &key, at, units);
    }

    fn job_read(&mut self, at: f64, stage: Stage) {
        let (key, units) = (self.keys.job.clone(), self.workload.job_rcu[stage as usize]);
        self.add(Row::JobReads, &key, at, units);
    }

    fn tasks_read(&mut self, at: f64) {
        let (key, units) = (self.keys.job.clone(), self.workload.tasks_rcu);
        self.add(Row::JobReads, &key, at, units);
    }

    fn upload_reads(&mut self, at: f64, count: u32) {
        let key = prefix(&self.job.input.key);
        self.add(Row::UploadReads, &key, at, count);
    }

    /// The upload itself, and the dispatcher: the trigger dirs on the key's path (one strongly
    /// consistent Query each), the HEAD, the sequencer, the job and its tasks in one transaction,
    /// the preparation sent and marked sent (`Dispatcher::dispatch`, `start`).
    fn dispatch(&mut self, uploaded: f64, at: f64, rng: &mut Rng) {
        self.upload_writes(uploaded);
        for partition in trigger_partitions(&self.job.input.bucket, &self.job.input.key) {
            // Only the workflow's own dir holds items; a Query of an empty partition costs one unit.
            let units = if partition == self.workload.own_trigger { self.workload.trigger_rcu } else { 1 };
            self.add(Row::Triggers, &partition, at, units);
        }
        self.upload_reads(at, 1);
        let sequencer = self.keys.sequencer.clone();
        self.add(Row::Sequencer, &sequencer, at, 1);
        self.job_write(at, Stage::Created, true);
        for index in 0..self.workload.task_wcu.len() as u32 {
            self.task_write(index, at, 2);
        }
        self.job_write(at + 0.05, Stage::Created, false);
        // Batches of 10 events (the event source's BatchSize) handled one event after another.
        let took = rng.between(0.03, 0.06);
        self.invocations.push(Invocation { worker: false, from: at, to: at + took });
    }

    fn upload_writes(&mut self, at: f64) {
        let key = prefix(&self.job.input.key);
        self.add(Row::UploadWrites, &key, at, 1);
    }

    /// `Preparer::prepare`: the job read, `begin_prepare`, the probe (HEAD, the sniffed head,
    /// ffprobe's reads), `record_source`, then `send_tasks` (the job read again for planning
    /// splits, the tasks read; a long transcode split: its keyframes looked up and its parts
    /// written with the task in one transaction) and each task marked sent.
    fn prepare(&mut self, start: f64, duration: f64, long: bool, tasks: &[Task], rng: &mut Rng) -> Prepared {
        let end = start + rng.between(1.0, 3.0);
        self.job_read(start, Stage::Created);
        self.job_write(start, Stage::Created, false);
        self.upload_reads(start, 2 + PROBE_READS);
        self.job_write(end, Stage::Prepared, false);
        self.job_read(end, Stage::Prepared);
        self.tasks_read(end);
        let budget = Budget { invocation_seconds: 900.0, max_duration: self.job.limits.max_duration_s };
        let source = source(if long { duration } else { duration.min(120.0) });
        let mut plans = Vec::new();
        for task in tasks {
            let plan = task.spec.encode().and_then(|encode| chunk::plan(&encode, &source, budget));
            if let Some(plan) = &plan {
                self.upload_reads(end, 1 + KEYFRAME_READS);
                self.task_write(task.index, end, 2);
                for _ in 0..plan.parts() {
                    let (key, units) = (self.keys.job.clone(), 2 * self.workload.part_wcu);
                    self.add(Row::JobWrites, &key, end, units);
                }
            }
            self.task_write(task.index, end, 1);
            plans.push(plan.map(|plan| plan.parts()));
        }
        self.invocations.push(Invocation { worker: true, from: start, to: end });
        Prepared { at: end, plans }
    }

    /// Renewals of a hold every quarter of the lease from `start` to `end` (`Workspace::heartbeat`).
    fn renewals(&mut self, index: u32, start: f64, end: f64, part: bool) {
        let every = (LEASE / 4).as_seconds_f64();
        let mut at = start + every;
        while at < end {
            match part {
                true => {
                    let (key, units) = (self.keys.job.clone(), self.workload.part_wcu);
                    self.add(Row::JobWrites, &key, at, units);
                }
                false => self.task_write(index, at, 1),
            }
            at += every;
        }
    }

    /// `TaskRunner::run` of a task in one piece (or of a join, `joined`: it reads the parts, not
    /// the upload, and records no progress): the job read, the claim (the task, and the job's
    /// move to PROCESSING), renewals, the upload's HEAD and ffmpeg's reads, progress every 2 s,
    /// the outputs checked and written (`publish`), the task ended with the job's count in one
    /// transaction (the job's close follows in [`Run::finish`]). When the task ends.
    fn task(&mut self, task: &Task, start: f64, took: f64, joined: bool) -> f64 {
        let end = start + took;
        self.job_read(start, Stage::Prepared);
        self.task_write(task.index, start, 1);
        self.mark_processing(start);
        self.renewals(task.index, start, end, false);
        if !joined {
            self.upload_reads(start, 1 + RENDER_READS);
            let every = PROGRESS_INTERVAL.as_secs_f64();
            let mut at = start + every;
            while at < end - 1.0 {
                self.task_write(task.index, at, 1);
                at += every;
            }
        }
        self.publish(task, end);
        self.task_write(task.index, end, 2);
        self.job_write(end, Stage::Prepared, true);
        self.invocations.push(Invocation { worker: true, from: start, to: end + 0.3 });
        end + 0.3
    }

    /// `publish`: the upload's HEAD, each output's key HEADed, then written.
    fn publish(&mut self, task: &Task, at: f64) {
        self.upload_reads(at, 1);
        for number in 0..outputs_of(task) {
            let key = prefix(&self.job.output_key(task, OutputSlot::Main(number)).key);
            self.add(Row::OutputReads, &key, at, 1);
            self.add(Row::OutputWrites, &key, at + 0.1, 1);
        }
    }

    /// A task split in `parts` (`PartRunner::run`), all sent at `sent`: each part reads the job
    /// and its tasks, claims its item (and tries the job's move to PROCESSING), starts the task
    /// (the first), renews, reads the upload, writes its file to the work bucket and ends with
    /// the task's count in one transaction, then reads the task back; the last one hands on the
    /// join (marked on the task), which runs as a task reading the parts, and removes them.
    fn parts(&mut self, task: &Task, parts: u32, sent: f64, rng: &mut Rng) -> f64 {
        let mut last = sent;
        for number in 0..parts {
            let start = sent + rng.between(0.2, 1.0);
            let end = start + rng.between(0.8, 1.1) * 120.0 * ENCODE_SPEED;
            self.job_read(start, Stage::Prepared);
            self.tasks_read(start);
            let (key, units) = (self.keys.job.clone(), self.workload.part_wcu);
            self.add(Row::JobWrites, &key, start, units);
            self.mark_processing(start);
            self.task_write(task.index, start, 1);
            self.renewals(task.index, start, end, true);
            self.upload_reads(start, 1 + RENDER_READS);
            let part = prefix(&part_key(&self.workload.work, &self.job.id, task.index, number).key);
            self.add(Row::PartWrites, &part, end, 1);
            self.add(Row::JobWrites, &key, end, 2 * units);
            self.task_write(task.index, end, 2);
            self.tasks_read(end);
            self.invocations.push(Invocation { worker: true, from: start, to: end + 0.2 });
            last = last.max(end + 0.2);
        }
        self.task_write(task.index, last, 1);
        let start = last + rng.between(0.2, 1.0);
        let took = rng.between(20.0, 40.0);
        for number in 0..parts {
            let part = prefix(&part_key(&self.workload.work, &self.job.id, task.index, number).key);
            self.add(Row::PartReads, &part, start + took * f64::from(number) / f64::from(parts) / 2.0, 1);
            self.add(Row::PartWrites, &part, start + took + 0.5, 1);
        }
        self.task(task, start, took, true)
    }

    /// Each task's end closes the job if it was the last (`close`: applied once); the last one
    /// sends the finish event (`Notifier::job_finished`: the job read, the delivery claimed, the
    /// tasks read, the delivery recorded).
    fn finish(&mut self, finishes: &[f64]) {
        let last = finishes.iter().copied().fold(0.0, f64::max);
        for &end in finishes {
            match end == last {
                true => self.job_write(end, Stage::Finished, false),
                false => self.job_write_refused(end, Stage::Prepared),
            }
        }
        if self.job.notification.is_some() {
            self.job_read(last, Stage::Finished);
            self.job_write(last, Stage::Finished, false);
            self.tasks_read(last);
            self.job_write(last + 0.1, Stage::Finished, false);
        }
    }
}
