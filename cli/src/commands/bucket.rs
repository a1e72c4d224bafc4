//! `mediaflow bucket`: connect a bucket's uploads to mediaflow, show how it stands, disconnect it.

use clap::{Args, Subcommand};
use mediaflow::app::admin::Admin;
use mediaflow::domain::connection::Connection;

use crate::deployment::DeploymentArgs;
use crate::output::{Format, Out, json, table};

#[derive(Debug, Args)]
pub struct BucketArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    #[command(subcommand)]
    command: BucketCommand,
}

#[derive(Debug, Subcommand)]
enum BucketCommand {
    /// Send the events of objects created in the bucket (or under each --prefix) to mediaflow,
    /// keeping the bucket's other notification rules.
    Connect {
        /// The bucket's name.
        bucket: String,
        /// Connect only keys under this prefix (repeatable), where the bucket's own rules already
        /// cover other keys.
        #[arg(long)]
        prefix: Vec<String>,
    },
    /// Whether the bucket's uploads reach mediaflow, and the bucket's notification rules.
    Status {
        /// The bucket's name.
        bucket: String,
    },
    /// Remove the rules `connect` added (and nothing else).
    Disconnect {
        /// The bucket's name.
        bucket: String,
    },
}

impl BucketArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let result = execute(self.command, &target.admin).await;
        connection(out, &target.explained(result)?, format)
    }
}

async fn execute(command: BucketCommand, admin: &Admin) -> anyhow::Result<Connection> {
    Ok(match command {
        BucketCommand::Connect { bucket, prefix } => admin.connect(&bucket, &prefix).await?,
        BucketCommand::Status { bucket } => admin.bucket_status(&bucket).await?,
        BucketCommand::Disconnect { bucket } => admin.disconnect(&bucket).await?,
    })
}

/// How a bucket stands: connected prefixes, then every notification rule.
fn connection(out: Out<'_>, connection: &Connection, format: Format) -> anyhow::Result<()> {
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
