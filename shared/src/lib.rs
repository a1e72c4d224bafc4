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
//! - [`config`]: typed settings from the environment and the wiring of adapters to use-cases.

pub mod adapters;
pub mod backfill;
pub mod buckets;
pub mod catalog;
pub mod config;
pub mod dead_letters;
pub mod dispatch;
pub mod domain;
pub mod ffmpeg;
pub mod jobs;
pub mod notify;
pub mod parts;
pub mod ports;
pub mod prepare;
pub mod process;
pub mod recover;
mod workspace;
