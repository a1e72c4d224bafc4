//! How the command prints: tables for people, JSON for programs.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use mediaflow::catalog::Applied;
use mediaflow::domain::connection::Connection;
use mediaflow::domain::job::{Job, Task};
use mediaflow::domain::workflow::Workflow;
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

pub fn deleted(out: Out<'_>, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => json(out, workflow),
        Format::Table => {
            writeln!(out, "workflow {} deleted", workflow.name)?;
            Ok(())
        }
    }
}

/// A finished job: one row per output, one per failed task.
pub fn job(out: Out<'_>, job: &Job, tasks: &[Task], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        #[derive(Serialize)]
        struct JobWithTasks<'a> {
            #[serde(flatten)]
            job: &'a Job,
            tasks: &'a [Task],
        }
        return json(out, &JobWithTasks { job, tasks });
    }
    writeln!(out, "job {} of workflow {} for {}: {:?}", job.id, job.workflow, job.input, job.status)?;
    let mut rows = table(&["TASK", "STATUS", "OUTPUT", "SIZE", "DURATION", "SIZE (PX)"]);
    for task in tasks {
        let name = format!("{} {}", task.index, task.spec.kind());
        if let Some(error) = &task.error.as_ref().filter(|_| task.outputs.is_empty()) {
            rows.add_row(vec![
                name.clone(),
                task.status.as_str().to_owned(),
                format!("{}: {}", error.code, error.message),
            ]);
        }
        for output in &task.outputs {
            let pixels = match (output.width, output.height) {
                (Some(w), Some(h)) => format!("{w}x{h}"),
                _ => String::new(),
            };
            rows.add_row(vec![
                name.clone(),
                task.status.as_str().to_owned(),
                format!("s3://{}/{}", output.bucket, output.key),
                format!("{} B", output.size),
                output.duration.map(|d| format!("{d:.2} s")).unwrap_or_default(),
                pixels,
            ]);
        }
    }
    writeln!(out, "{rows}")?;
    Ok(())
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
