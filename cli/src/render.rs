//! How the command prints: tables for people, JSON for programs.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use mediaflow::catalog::Applied;
use mediaflow::domain::job::{Job, Task};
use mediaflow::domain::workflow::Workflow;
use serde::Serialize;

use crate::commands::Format;

fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
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

pub fn applied(applied: Applied, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(workflow);
    }
    let verb = match applied {
        Applied::Created => "created (disabled: `mediaflow workflow enable` starts it)",
        Applied::Replaced => "replaced",
        Applied::Unchanged => "unchanged",
    };
    println!("workflow {} {verb}, revision {}", workflow.name, workflow.revision);
    Ok(())
}

pub fn workflow(workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => json(workflow),
        Format::Table => {
            println!("# {} ({}, revision {})", workflow.name, state(workflow), workflow.revision);
            print!("{}", serde_yaml_ng::to_string(&workflow.spec())?);
            Ok(())
        }
    }
}

pub fn workflows(workflows: &[Workflow], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(workflows);
    }
    let mut out = table(&["NAME", "STATE", "TRIGGER", "OUTPUT", "TASKS", "REVISION"]);
    for w in workflows {
        let tasks: Vec<&str> = w.tasks.iter().map(|t| t.kind()).collect();
        out.add_row(vec![
            w.name.clone(),
            state(w),
            w.trigger.to_string(),
            w.output.to_string(),
            tasks.join(", "),
            w.revision.to_string(),
        ]);
    }
    println!("{out}");
    Ok(())
}

pub fn deleted(workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => json(workflow),
        Format::Table => {
            println!("workflow {} deleted", workflow.name);
            Ok(())
        }
    }
}

/// A finished job: one row per output, one per failed task.
pub fn job(job: &Job, tasks: &[Task], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        #[derive(Serialize)]
        struct JobWithTasks<'a> {
            #[serde(flatten)]
            job: &'a Job,
            tasks: &'a [Task],
        }
        return json(&JobWithTasks { job, tasks });
    }
    println!("job {} of workflow {} for {}: {:?}", job.id, job.workflow, job.input, job.status);
    let mut out = table(&["TASK", "STATUS", "OUTPUT", "SIZE", "DURATION", "SIZE (PX)"]);
    for task in tasks {
        let name = format!("{} {}", task.index, task.spec.kind());
        if let Some(error) = &task.error.as_ref().filter(|_| task.outputs.is_empty()) {
            out.add_row(vec![
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
            out.add_row(vec![
                name.clone(),
                task.status.as_str().to_owned(),
                format!("s3://{}/{}", output.bucket, output.key),
                format!("{} B", output.size),
                output.duration.map(|d| format!("{d:.2} s")).unwrap_or_default(),
                pixels,
            ]);
        }
    }
    println!("{out}");
    Ok(())
}
