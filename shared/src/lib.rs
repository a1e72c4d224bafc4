//! mediaflow: serverless media-processing workflows on S3, DynamoDB and Lambda.
//!
//! - [`domain`]: workflows, task specs, jobs and the rules between them (pure).
//! - [`ports`]: what the use-cases need from the world, as traits.
//! - Use-cases: [`dispatch`] (object created → jobs → workers), [`prepare`] (probe a job's
//!   upload once, start its tasks), [`process`] (one task on ffmpeg), [`parts`] (one part of a
//!   task encoded in chunks, and the hand-over to its join), [`catalog`] (workflow
//!   administration), [`buckets`] (which buckets' uploads reach mediaflow),
//!   [`jobs`] (find jobs and show them), [`notify`] (job events to the workflow's target),
//!   [`recover`] (record what lost worker invocations could not), [`backfill`] (run a workflow on
//!   existing objects), [`dead_letters`] (list and redrive the dead-letter queues).
//! - Adapters: [`adapters`] (DynamoDB, S3, Lambda, SQS), [`ffmpeg`] (probe and render).
//! - [`config`]: typed settings from the environment and the wiring of adapters to use-cases.//! - [`app`]: the use-cases, by who drives them: [`app::pipeline`] (the functions: dispatch,
//!   prepare, run a task or a part, recover) and [`app::admin`] (people: the [`Admin`](app::admin::Admin)
//!   facade over workflows, buckets, jobs, backfills, dead letters and explanations).
//! - [`adapters`]: the ports over AWS ([`adapters::aws`]) and ffmpeg ([`adapters::ffmpeg`]).
//! - [`wiring`]: typed settings from the environment and the one place that builds adapters
//!   and hands them to the use-cases, for the functions, the CLI and the console alike.
//!
//! Layers, lowest first: domain → ports → app → adapters → wiring; nothing imports upward.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod ports;
pub mod wiring;
