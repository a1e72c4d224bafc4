//! mediaflow end to end: tests run on a local stack (moto_server on a free loopback port, the
//! dispatcher and worker handlers behind a local Lambda service) — one shared by every test of
//! the process that can share it, or one of a test's own — upload real media and check the
//! outputs with ffprobe.
//!
//! Needs moto_server, ffmpeg and ffprobe (`make setup` installs them).

mod audit;
mod browser;
mod buckets;
mod chaos;
mod chunks;
mod cli;
mod console;
mod cost;
mod failures;
mod hostile;
mod iam;
mod idempotency;
mod jobs;
mod kills;
mod limits;
mod load;
mod local_stack;
mod media;
mod notifications;
mod operations;
mod quality;
mod recovery;
mod recursion;
mod retries;
mod routing;
mod safety;
mod stacks;
mod stills;
mod stores;
mod streaming;
mod support;
mod tasks;
mod traces;
mod tuning;
mod uploads;
