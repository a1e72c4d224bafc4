//! `mediaflow dlq`: the dead-letter queues listed, and their messages sent back.

use clap::{Args, Subcommand, ValueEnum};
use mediaflow::app::admin::dead_letters::{Redriven, Which};
use mediaflow::ports::DeadLetter;

use crate::deployment::DeploymentArgs;
use crate::output::{Format, Out, json, table, time};

#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// The messages a dead-letter queue holds (left in it), with why they are there.
    List {
        /// Which queue.
        #[arg(value_enum)]
        queue: QueueArg,
        /// How many messages at most.
        #[arg(long, default_value_t = 50)]
        max: usize,
    },
    /// Sends messages back: events to the dispatcher's queue, worker invocations to the worker.
    Redrive {
        /// Which queue.
        #[arg(value_enum)]
        queue: QueueArg,
        /// How many messages at most.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum QueueArg {
    /// Events the dispatcher could not handle.
    Events,
    /// Worker invocations Lambda gave up on.
    Worker,
}

impl From<QueueArg> for Which {
    fn from(queue: QueueArg) -> Self {
        match queue {
            QueueArg::Events => Which::Events,
            QueueArg::Worker => Which::Worker,
        }
    }
}

impl DlqArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let admin = &target.admin;
        match self.command {
            DlqCommand::List { queue, max } => {
                let letters = target.explained(admin.dead_letters(queue.into(), max).await.map_err(Into::into))?;
                dead_letters(out, &letters, format)
            }
            DlqCommand::Redrive { queue, max } => {
                let done = target.explained(admin.redrive(queue.into(), max).await.map_err(Into::into))?;
                redriven(out, &done, format)
            }
        }
    }
}

/// `mediaflow dlq list`: each message with when and why it was kept.
fn dead_letters(out: Out<'_>, letters: &[DeadLetter], format: Format) -> anyhow::Result<()> {
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
fn redriven(out: Out<'_>, redriven: &Redriven, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, redriven);
    }
    writeln!(out, "{} messages sent back, {} kept", redriven.sent, redriven.kept.len())?;
    for (id, reason) in &redriven.kept {
        writeln!(out, "  kept {id}: {reason}")?;
    }
    Ok(())
}
