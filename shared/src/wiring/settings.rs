//! The functions' settings, typed, from the environment: fail fast naming what is missing.

use std::path::{Path, PathBuf};

use chrono::TimeDelta;

use crate::app::pipeline::notify::RetryPolicy;
use crate::domain::cost::Prices;
use crate::domain::workflow::Location;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {0} is not a whole number: {1:?}")]
    Invalid(&'static str, String),
    #[error("environment variable {0} is out of range: {1}")]
    OutOfRange(&'static str, String),
    #[error("price file {0}: {1}")]
    Prices(String, String),
}

/// The prices jobs are costed at: AWS's list prices (see [`Prices`]), with what `source` sets
/// instead: a file (YAML or JSON; `--prices`, `MEDIAFLOW_PRICES`) or, for a function whose
/// settings are text, the JSON itself (`{"region": "eu-west-1", ...}`).
pub fn prices(source: Option<&str>) -> Result<Prices, ConfigError> {
    let Some(source) = source.map(str::trim).filter(|source| !source.is_empty()) else {
        return Ok(Prices::default());
    };
    let (name, text) = match source.starts_with('{') {
        true => ("given as JSON".to_owned(), source.to_owned()),
        false => {
            let text = std::fs::read_to_string(Path::new(source));
            (source.to_owned(), text.map_err(|e| ConfigError::Prices(source.to_owned(), e.to_string()))?)
        }
    };
    serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::Prices(name, e.to_string()))
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name))
}

fn path_or(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name).filter(|v| !v.is_empty()).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// The dispatcher's settings.
#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    /// `WORKFLOWS_TABLE`
    pub workflows_table: String,
    /// `JOBS_TABLE`
    pub jobs_table: String,
    /// `WORKER_FUNCTION`: name or ARN of the worker Lambda.
    pub worker_function: String,
    /// `EVENTS_DLQ_URL`: where events that can never be handled are kept, with the reason.
    pub events_dlq_url: String,
}

impl DispatcherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            workflows_table: required("WORKFLOWS_TABLE")?,
            jobs_table: required("JOBS_TABLE")?,
            worker_function: required("WORKER_FUNCTION")?,
            events_dlq_url: required("EVENTS_DLQ_URL")?,
        })
    }
}

/// The worker's settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// `JOBS_TABLE`
    pub jobs_table: String,
    /// `WORKER_FUNCTION`, else `AWS_LAMBDA_FUNCTION_NAME` (Lambda sets it): the worker itself,
    /// which a job's preparation invokes once per task.
    pub worker_function: String,
    /// `FFMPEG_PATH`, default `/opt/bin/ffmpeg` (the layer).
    pub ffmpeg: PathBuf,
    /// `FFPROBE_PATH`, default `/opt/bin/ffprobe`.
    pub ffprobe: PathBuf,
    /// `FONT_PATH`: TrueType font for text watermarks, default `/opt/fonts/DejaVuSans.ttf`.
    pub font: PathBuf,
    /// `SCRATCH_DIR`, default `/tmp`: each invocation works in its own directory below.
    pub scratch: PathBuf,
    /// `DEADLINE_MARGIN_SECONDS`, default 20: rendering stops this long before the invocation's
    /// deadline, leaving time to record the outcome.
    pub margin: TimeDelta,
    /// `WEBHOOK_ALLOW_PRIVATE=1` lets webhooks reach loopback, private and link-local addresses
    /// and plain http (local testing only).
    pub webhook_allow_private: bool,
    /// How event deliveries are retried.
    pub notify_retry: RetryPolicy,
    /// `WORK_BUCKET` (and `WORK_DIR`, default `parts/`): where the parts of long transcodes are
    /// kept until they are joined; without it every task runs in one piece.
    pub work: Option<Location>,
    /// `INVOCATION_SECONDS`, default 900: the worker's Lambda timeout, which decides when a
    /// transcode is split.
    pub invocation_seconds: f64,
    /// How long a claim outlives its worker's last heartbeat ([`LEASE`](super::LEASE)).
    pub lease: TimeDelta,
    /// `UPLOAD_PART_MIB`, default 16: outputs written front to back (MP4, MOV, M4A) go up in
    /// parts of this size while they are written; `0` sends them after they are written.
    pub send_while_writing: Option<u64>,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jobs_table: required("JOBS_TABLE")?,
            worker_function: required("WORKER_FUNCTION").or_else(|_| required("AWS_LAMBDA_FUNCTION_NAME"))?,
            ffmpeg: path_or("FFMPEG_PATH", "/opt/bin/ffmpeg"),
            ffprobe: path_or("FFPROBE_PATH", "/opt/bin/ffprobe"),
            font: path_or("FONT_PATH", "/opt/fonts/DejaVuSans.ttf"),
            scratch: path_or("SCRATCH_DIR", "/tmp"),
            margin: TimeDelta::seconds(number_or("DEADLINE_MARGIN_SECONDS", 20)?),
            webhook_allow_private: std::env::var("WEBHOOK_ALLOW_PRIVATE").is_ok_and(|v| v.trim() == "1"),
            notify_retry: RetryPolicy::default(),
            work: work_location(required("WORK_BUCKET").ok()),
            invocation_seconds: number_or("INVOCATION_SECONDS", 900.0)?,
            lease: TimeDelta::seconds(number_or("LEASE_SECONDS", super::LEASE.num_seconds())?),
            send_while_writing: part_size(number_or("UPLOAD_PART_MIB", 16)?)?,
        })
    }
}

/// Parts of `mib` MiB (`None` for 0); S3 takes 5 MiB at least.
fn part_size(mib: u64) -> Result<Option<u64>, ConfigError> {
    match mib {
        0 => Ok(None),
        1..5 => Err(ConfigError::OutOfRange("UPLOAD_PART_MIB", format!("{mib} MiB (S3's smallest part is 5 MiB)"))),
        mib => Ok(Some(mib * 1024 * 1024)),
    }
}

/// The number in variable `name`, or `default` when it is unset.
fn number_or<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().map_err(|_| ConfigError::Invalid(name, text)),
        Err(_) => Ok(default),
    }
}

/// The work location in `bucket` (`WORK_BUCKET`), under `WORK_DIR` (default `parts/`).
pub fn work_location(bucket: Option<String>) -> Option<Location> {
    let bucket = bucket.filter(|bucket| !bucket.trim().is_empty())?;
    Some(Location { bucket, dir: std::env::var("WORK_DIR").unwrap_or_else(|_| "parts/".to_owned()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_file_changes_what_it_names_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prices.yaml");
        std::fs::write(&file, "region: eu-west-1\ns3:\n  put_per_thousand: 0.0054\n").unwrap();
        let path = file.to_str().unwrap();
        let read = prices(Some(path)).unwrap();
        assert_eq!((read.region.as_str(), read.s3.put_per_thousand), ("eu-west-1", 0.0054));
        assert_eq!(read.lambda, Prices::default().lambda);
        assert_eq!(prices(None).unwrap(), Prices::default());
        assert_eq!(prices(Some(" ")).unwrap(), Prices::default());
        std::fs::write(&file, "s3:\n  put: 1\n").unwrap();
        let error = prices(Some(path)).unwrap_err().to_string();
        assert!(error.contains("prices.yaml") && error.contains("unknown field `put`"), "{error}");
        let inline = prices(Some(r#"{"region": "eu-west-1", "lambda": {"arm64_per_gb_second": 0.00002}}"#)).unwrap();
        assert_eq!((inline.region.as_str(), inline.lambda.arm64_per_gb_second), ("eu-west-1", 0.00002));
        assert!(prices(Some("/no/such/prices.yaml")).unwrap_err().to_string().contains("/no/such/prices.yaml"));
    }
}
