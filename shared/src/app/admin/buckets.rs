//! Use-case of the `mediaflow bucket` commands: connect a bucket's uploads to the events queue,
//! show how it stands, disconnect it; and the check that a workflow's uploads reach mediaflow.

use std::fmt;
use std::sync::Arc;

use tracing::info;

use crate::domain::connection::{ConnectError, Connection, NotConnected};
use crate::domain::workflow::Location;
use crate::ports::{BucketEvents, Files, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    NotConnected(#[from] NotConnected),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which buckets the stack's functions may read uploads from and write outputs to, as its
/// template names them (the media bucket, `TriggerBuckets`, `OutputBuckets`). Empty lists:
/// not known here (the local stack, or a CLI that read no such list), and nothing is said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackBuckets {
    pub read: Vec<String>,
    pub write: Vec<String>,
}

impl StackBuckets {
    /// Whether the functions may read `bucket`'s uploads; `None` when not known.
    pub fn can_read(&self, bucket: &str) -> Option<bool> {
        (!self.read.is_empty()).then(|| self.read.iter().any(|b| b == bucket))
    }

    /// Whether the worker may write outputs into `bucket`; `None` when not known.
    pub fn can_write(&self, bucket: &str) -> Option<bool> {
        (!self.write.is_empty()).then(|| self.write.iter().any(|b| b == bucket))
    }

    /// Every bucket named, once, in order.
    pub fn all(&self) -> Vec<String> {
        let mut all: Vec<String> = self.read.iter().chain(&self.write).cloned().collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The buckets whose uploads reach the events queue `queue_arn`.
pub struct Buckets {
    events: Arc<dyn BucketEvents>,
    queue_arn: String,
    /// A deployed console, whose pages a connected bucket lets in (CORS).
    console: Option<(Arc<dyn Files>, String)>,
}

impl fmt::Debug for Buckets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buckets").field("queue_arn", &self.queue_arn).finish_non_exhaustive()
    }
}

impl Buckets {
    pub fn new(events: Arc<dyn BucketEvents>, queue_arn: impl Into<String>) -> Self {
        Self { events, queue_arn: queue_arn.into(), console: None }
    }

    /// Connecting a bucket also lets the pages of the console at `url` upload to it and preview
    /// its objects with signed links.
    pub fn with_console(mut self, files: Arc<dyn Files>, url: &str) -> Self {
        // The origin: scheme and authority, without the path.
        let origin = match url.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()),
            None => url.trim_end_matches('/').to_owned(),
        };
        self.console = Some((files, origin));
        self
    }

    pub async fn status(&self, bucket: &str) -> Result<Connection, BucketError> {
        Ok(Connection::of(bucket, &self.queue_arn, self.events.rules(bucket).await?))
    }

    /// Sends every object created under `prefixes` (the whole bucket when empty) to the events
    /// queue, keeping the bucket's other rules; refused where S3 would refuse the result.
    pub async fn connect(&self, bucket: &str, prefixes: &[String]) -> Result<Connection, BucketError> {
        let connection = self.status(bucket).await?;
        let added = connection.plan_connect(&self.queue_arn, prefixes)?;
        if let Some((files, origin)) = &self.console {
            files.allow_origin(bucket, origin).await?;
        }
        if added.is_empty() {
            return Ok(connection);
        }
        self.events.change(bucket, &added, &[]).await?;
        info!(bucket, prefixes = ?added.iter().map(|r| &r.prefix).collect::<Vec<_>>(), "bucket connected");
        self.status(bucket).await
    }

    /// Removes the rules `connect` added, and nothing else.
    pub async fn disconnect(&self, bucket: &str) -> Result<Connection, BucketError> {
        let ours = self.status(bucket).await?.ours();
        if !ours.is_empty() {
            self.events.change(bucket, &[], &ours).await?;
            info!(bucket, rules = ?ours, "bucket disconnected");
        }
        self.status(bucket).await
    }

    /// Whether uploads to `trigger` reach the events queue; if not, what to run.
    pub async fn check(&self, trigger: &Location) -> Result<(), BucketError> {
        Ok(NotConnected::check(trigger, &self.status(&trigger.bucket).await?)?)
    }
}
