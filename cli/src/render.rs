//! How the command prints: tables for people, JSON for programs.

use chrono::{DateTime, Utc};
use comfy_table::Table;
use comfy_table::presets::UTF8_BORDERS_ONLY;
use mediaflow::backfill::Backfilled;
use mediaflow::catalog::Applied;
use mediaflow::dead_letters::Redriven;
use mediaflow::dispatch::Match;
use mediaflow::domain::connection::Connection;
use mediaflow::domain::job::{Job, JobResult, JobStatus, TaskStatus};
use mediaflow::domain::media::MediaInfo;
use mediaflow::domain::notification::NotifyMode;
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::task::preset;
use mediaflow::domain::workflow::Workflow;
use mediaflow::jobs::JobView;
use mediaflow::ports::{DeadLetter, JobPage};
use serde::Serialize;
use std::io::Write;

use crate::commands::Format;

/// Where results go: standard output, or a buffer in tests.
pub type Out<'a> = &'a mut dyn Write;

fn json<T: Serialize + ?Sized>(out: Out<'_>, value: &T) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header(header.to_vec());
    table
}

fn state(workflow: &Workflow) -> String {
    match workflow.enabled_at {
        Some(at) if workflow.enabled => format!("enabled since {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        _ => "disabled".to_owned(),
    }
}

pub fn applied(out: Out<'_>, applied: Applied, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, workflow);
    }
    let verb = match applied {
        Applied::Created => "created (disabled: `mediaflow workflow enable` starts it)",
        Applied::Replaced => "replaced",
        Applied::Unchanged => "unchanged",
    };
    writeln!(out, "workflow {} {verb}, revision {}", workflow.name, workflow.revision)?;
    Ok(())
}

pub fn workflow(out: Out<'_>, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => json(out, workflow),
        Format::Table => {
            writeln!(out, "# {} ({}, revision {})", workflow.name, state(workflow), workflow.revision)?;
            write!(out, "{}", serde_yaml_ng::to_string(&workflow.spec())?)?;
            Ok(())
        }
    }
}

pub fn workflows(out: Out<'_>, workflows: &[Workflow], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, workflows);
    }
    let mut rows = table(&["NAME", "STATE", "TRIGGER", "OUTPUT", "TASKS", "REVISION"]);
    for w in workflows {
        let tasks: Vec<&str> = w.tasks.iter().map(|t| t.kind()).collect();
        rows.add_row(vec![
            w.name.clone(),
            state(w),
            w.trigger.to_string(),
            w.output.to_string(),
            tasks.join(", "),
            w.revision.to_string(),
        ]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}

/// MPS's transcode and HLS templates (`mediaflow preset list`).
pub fn presets(out: Out<'_>, format: Format) -> anyhow::Result<()> {
    let video = |preset: &preset::Preset| {
        preset.video.map_or("none".to_owned(), |video| {
            let fps = video.fps.map_or(String::new(), |fps| format!(", {fps} fps"));
            format!("h264 {}p, {} kbps{fps}", video.height, video.kbps)
        })
    };
    let audio = |preset: &preset::Preset| format!("{} {} kbps, 44100 Hz, 2 ch", preset.audio_codec, preset.audio_kbps);
    let transcodes = preset::PRESETS
        .iter()
        .map(|preset| [preset.id.to_owned(), preset.container.to_string(), video(preset), audio(preset)]);
    let ladders = preset::hls_templates()
        .map(|(id, preset)| [id, "hls (adaptive task)".to_owned(), video(preset), audio(preset)]);
    let rows: Vec<[String; 4]> = transcodes.chain(ladders).collect();
    if format == Format::Json {
        let list: Vec<_> = rows
            .iter()
            .map(|[id, container, video, audio]| {
                serde_json::json!({"definition": id, "container": container, "video": video, "audio": audio})
            })
            .collect();
        return json(out, &list);
    }
    let mut table = table(&["DEFINITION", "CONTAINER", "VIDEO", "AUDIO"]);
    for row in rows {
        table.add_row(row.to_vec());
    }
    writeln!(out, "{table}")?;
    writeln!(out, "Snapshot template 10 (JPG at the source's size) is a snapshot's default,")?;
    writeln!(out, "and sampled template 10 (JPG every 10 %) a sample's.")?;
    Ok(())
}

pub fn deleted(out: Out<'_>, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => json(out, workflow),
        Format::Table => {
            writeln!(out, "workflow {} deleted", workflow.name)?;
            Ok(())
        }
    }
}

/// What a job's status column says: WAITING, PROCESSING, or once finished SUCCESS or FAIL.
pub fn job_state(job: &Job) -> &'static str {
    match (job.result(), job.status) {
        (Some(JobResult::Success), _) => "SUCCESS",
        (Some(JobResult::Fail), _) => "FAIL",
        (None, JobStatus::Waiting) => "WAITING",
        (None, _) => "PROCESSING",
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!("{:.1} s", (to - from).num_milliseconds() as f64 / 1000.0)
}

fn bytes(size: u64) -> String {
    match size {
        0..1_000 => format!("{size} B"),
        1_000..1_000_000 => format!("{:.1} kB", size as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", size as f64 / 1e6),
        _ => format!("{:.2} GB", size as f64 / 1e9),
    }
}

/// A page of jobs, and how to get the next.
pub fn job_page(out: Out<'_>, page: &JobPage, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        #[derive(Serialize)]
        struct Page<'a> {
            jobs: Vec<serde_json::Value>,
            next_page: &'a Option<String>,
        }
        let jobs = page
            .jobs
            .iter()
            .map(|job| {
                let mut value = serde_json::to_value(job)?;
                value["result"] = serde_json::to_value(job.result())?;
                Ok(value)
            })
            .collect::<anyhow::Result<_>>()?;
        return json(out, &Page { jobs, next_page: &page.next_page });
    }
    let mut rows = table(&["JOB", "WORKFLOW", "INPUT", "STATUS", "CREATED", "TOOK", "ERROR"]);
    for job in &page.jobs {
        rows.add_row(vec![
            job.id.to_string(),
            job.workflow.clone(),
            job.input.to_string(),
            job_state(job).to_owned(),
            time(job.created_at),
            job.finished_at.map(|at| seconds(job.created_at, at)).unwrap_or_default(),
            job.error.as_ref().map(|e| e.code.to_string()).unwrap_or_default(),
        ]);
    }
    writeln!(out, "{rows}")?;
    if let Some(next) = &page.next_page {
        writeln!(out, "more: --page {next}")?;
    }
    Ok(())
}

/// Jobs with their tasks: JSON, or for each a summary, its tasks and its outputs.
pub fn job_views(out: Out<'_>, views: &[JobView], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return match views {
            [one] => json(out, one),
            many => json(out, many),
        };
    }
    for (i, view) in views.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        job_view(out, view)?;
    }
    Ok(())
}

fn job_view(out: Out<'_>, view: &JobView) -> anyhow::Result<()> {
    let job = &view.job;
    writeln!(
        out,
        "job {} (workflow {}, revision {}): {}",
        job.id,
        job.workflow,
        job.workflow_revision,
        job_state(job)
    )?;
    let size = job.input_size.map(|size| format!(" ({})", bytes(size))).unwrap_or_default();
    writeln!(out, "  input    {}{size}", job.input)?;
    if let Some(source) = &job.source {
        writeln!(out, "  source   {}", source_facts(source))?;
    }
    let took =
        job.finished_at.map(|at| format!(", finished {} later", seconds(job.created_at, at))).unwrap_or_default();
    writeln!(out, "  created  {}{took}", time(job.created_at))?;
    if let Some(error) = &job.error {
        writeln!(out, "  error    {}: {}", error.code, error.message)?;
    }
    if let Some(notification) = &job.notification {
        let finish = match &job.delivery {
            None => "finish event not sent yet".to_owned(),
            Some(d) => {
                let tries = if d.attempts == 1 { "1 attempt".to_owned() } else { format!("{} attempts", d.attempts) };
                let error = d.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                let state = format!("{:?}", d.state).to_lowercase();
                format!("finish event {state} after {tries}{error}")
            }
        };
        let changes = match notification.mode {
            NotifyMode::Change => format!("; {} change events sent, {} not", job.changes_delivered, job.changes_failed),
            NotifyMode::Finish => String::new(),
        };
        writeln!(out, "  notify   {finish}{changes}")?;
    }
    let mut tasks = table(&["TASK", "STATUS", "PROGRESS", "ATTEMPTS", "OPEN / RENDER / UPLOAD", "NOTES"]);
    for task in &view.tasks {
        let timings = task
            .timings
            .map(|t| {
                format!(
                    "{:.1} / {:.1} / {:.1} s",
                    t.download_ms as f64 / 1e3,
                    t.render_ms as f64 / 1e3,
                    t.upload_ms as f64 / 1e3
                )
            })
            .unwrap_or_default();
        let mut notes: Vec<String> = task.error.iter().map(|e| format!("{}: {}", e.code, e.message)).collect();
        notes.extend(task.warnings.iter().map(|w| format!("warning: {w}")));
        tasks.add_row(vec![
            format!("{} {}", task.index, task.spec.kind()),
            task.status.as_str().to_owned(),
            task.progress.filter(|_| task.status != TaskStatus::Fail).map(|p| format!("{p}%")).unwrap_or_default(),
            task.hold.attempts.to_string(),
            timings,
            notes.join("\n"),
        ]);
    }
    writeln!(out, "{tasks}")?;
    let outputs: Vec<_> = view.tasks.iter().flat_map(|t| t.outputs.iter().map(move |o| (t, o))).collect();
    if outputs.is_empty() {
        return Ok(());
    }
    let mut rows = table(&["TASK", "OUTPUT", "SIZE", "DURATION", "SIZE (PX)"]);
    for (task, output) in outputs {
        let pixels = match (output.width, output.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => String::new(),
        };
        rows.add_row(vec![
            format!("{} {}", task.index, task.spec.kind()),
            format!("s3://{}/{}", output.bucket, output.key),
            bytes(output.size),
            output.duration.map(|d| format!("{d:.2} s")).unwrap_or_default(),
            pixels,
        ]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}

/// `mp4: 5.00 s, h264 1280x720 25 fps, aac 48000 Hz 2 ch`
fn source_facts(source: &MediaInfo) -> String {
    let mut facts = vec![source.container.clone()];
    if let Some(duration) = source.duration {
        facts.push(format!("{duration:.2} s"));
    }
    if let Some(video) = &source.video {
        let fps = video.fps.map(|fps| format!(" {fps:.3} fps").replace(".000 fps", " fps")).unwrap_or_default();
        facts.push(format!("{} {}x{}{fps}", video.codec, video.width, video.height));
    }
    if let Some(audio) = &source.audio {
        let rate = audio.sample_rate.map(|r| format!(" {r} Hz")).unwrap_or_default();
        let channels = audio.channels.map(|c| format!(" {c} ch")).unwrap_or_default();
        facts.push(format!("{}{rate}{channels}", audio.codec));
    }
    facts.join(", ")
}

/// How a bucket stands: connected prefixes, then every notification rule.
pub fn connection(out: Out<'_>, connection: &Connection, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, connection);
    }
    let bucket = &connection.bucket;
    match connection.prefixes.as_slice() {
        [] => writeln!(out, "bucket {bucket}: not connected (mediaflow bucket connect {bucket})")?,
        [whole] if whole.is_empty() => writeln!(out, "bucket {bucket}: connected (every key)")?,
        prefixes => writeln!(out, "bucket {bucket}: connected for keys under {}", prefixes.join(", "))?,
    }
    if connection.rules.is_empty() {
        return Ok(());
    }
    let mut rows = table(&["RULE", "EVENTS", "PREFIX", "SUFFIX", "DESTINATION"]);
    for rule in &connection.rules {
        rows.add_row(vec![
            rule.id.clone().unwrap_or_default(),
            rule.events.join(", "),
            rule.prefix.clone(),
            rule.suffix.clone(),
            rule.destination.arn().to_owned(),
        ]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}

/// `mediaflow match`: per workflow of the bucket, whether it fires and what it would write.
pub fn matches(out: Out<'_>, object: &ObjectRef, matches: &[Match], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, matches);
    }
    let firing = matches.iter().filter(|m| m.fires).count();
    writeln!(out, "{object}: {firing} of {} workflows of bucket {} would start a job", matches.len(), object.bucket)?;
    if matches.is_empty() {
        return Ok(());
    }
    let mut rows = table(&["WORKFLOW", "FIRES", "OUTPUTS OR REASON"]);
    for m in matches {
        let detail = match &m.reason {
            Some(reason) => reason.clone(),
            None => m.outputs.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        };
        rows.add_row(vec![m.workflow.clone(), if m.fires { "yes" } else { "no" }.to_owned(), detail]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}

/// `mediaflow process`: counts, then the jobs started and the objects skipped.
pub fn backfilled(out: Out<'_>, done: &[Backfilled], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, done);
    }
    let count = |f: fn(&Backfilled) -> bool| done.iter().filter(|b| f(b)).count();
    writeln!(
        out,
        "{} objects: {} jobs started, {} processed already, {} skipped",
        done.len(),
        count(|b| matches!(b, Backfilled::Started { .. })),
        count(|b| matches!(b, Backfilled::Done { .. })),
        count(|b| matches!(b, Backfilled::Skipped { .. })),
    )?;
    let mut rows = table(&["OBJECT", "JOB OR REASON"]);
    for item in done {
        let (object, detail) = match item {
            Backfilled::Started { object, job_id } => (object, format!("{job_id} (started)")),
            Backfilled::Done { object, job_id } => (object, format!("{job_id} (processed already)")),
            Backfilled::Skipped { object, reason } => (object, reason.clone()),
        };
        rows.add_row(vec![object.to_string(), detail]);
    }
    if !done.is_empty() {
        writeln!(out, "{rows}")?;
    }
    Ok(())
}

/// `mediaflow dlq list`: each message with when and why it was kept.
pub fn dead_letters(out: Out<'_>, letters: &[DeadLetter], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, letters);
    }
    writeln!(out, "{} messages", letters.len())?;
    if letters.is_empty() {
        return Ok(());
    }
    let mut rows = table(&["MESSAGE", "SENT", "RECEIVED", "REASON", "BODY"]);
    for letter in letters {
        let body: String = letter.body.chars().take(120).collect();
        rows.add_row(vec![
            letter.id.clone(),
            letter.sent_at.map(time).unwrap_or_default(),
            letter.receive_count.to_string(),
            letter.reason.clone().unwrap_or_default(),
            body,
        ]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}

/// `mediaflow dlq redrive`: how many went back, and what stayed.
pub fn redriven(out: Out<'_>, redriven: &Redriven, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, redriven);
    }
    writeln!(out, "{} messages sent back, {} kept", redriven.sent, redriven.kept.len())?;
    for (id, reason) in &redriven.kept {
        writeln!(out, "  kept {id}: {reason}")?;
    }
    Ok(())
}
