//! mediaflow end to end: each test starts its own local stack (moto_server on a free loopback
//! port, the dispatcher and worker handlers behind a local Lambda service), uploads real media
//! and checks the outputs with ffprobe.
//!
//! Needs moto_server, ffmpeg and ffprobe (`make setup` installs them).

mod buckets;
mod chunks;
mod cli;
mod failures;
mod hostile;
mod idempotency;
mod jobs;
mod limits;
mod load;
mod local_stack;
mod media;
mod notifications;
mod operations;
mod recovery;
mod recursion;
mod retries;
mod routing;
mod safety;
mod stills;
mod stores;
mod streaming;
mod support;
mod tasks;
mod traces;
