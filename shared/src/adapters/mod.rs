//! Adapters: the ports implemented over the world. [`aws`] talks to DynamoDB, S3, Lambda, SQS,
//! SNS, EventBridge and the secret stores (each adapter owns its SDK client; SDK types and errors
//! stop there); [`ffmpeg`] probes and renders media with the bundled ffmpeg; `memory` holds
//! in-memory fakes for the unit tests of the use-cases.
//!
//! Imports the domain and the ports, never the use-cases.

pub mod aws;
pub mod ffmpeg;
#[cfg(any(test, feature = "memory"))]
pub mod memory;
