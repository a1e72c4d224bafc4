//! Ports: what the use-cases need from the world, in the domain's words, one file per
//! counterpart: the records ([`stores`]), objects in S3 ([`objects`]), buckets as people browse
//! them ([`files`]), queues ([`queues`]), event
//! targets and bucket notifications ([`events`]) and the media tool ([`media`]). Adapters
//! implement them over AWS and ffmpeg (and in memory for unit tests); no SDK type crosses these
//! traits.
//!
//! Imports only the domain.

pub mod error;
pub mod events;
pub mod files;
pub mod media;
pub mod objects;
pub mod queues;
pub mod stores;

pub use error::StoreError;
pub use events::{BucketEvents, DeliveryError, Notifications};
pub use files::{FileEntry, Files, Folder, LinkFor, UploadedPart};
pub use media::{
    Feed, JoinRequest, MediaFailure, MediaTool, MovedIndex, OutputFeed, ProbeFailure, Probed, ProgressMeter,
    RenderRequest, Rendered, RenderedFile, WatermarkImage,
};
pub use objects::{ByteStream, KeyPage, Listed, ObjectStore, PutCondition, RequestCounter, StoredObject, Unfinished};
pub use queues::{DeadLetter, DeadLetterQueue, DeadLetters, EventQueue, TaskQueue};
pub use stores::{
    CatalogSnapshot, Claim, Created, Freshness, Held, JobFilter, JobPage, JobQueries, JobStore, JobTally, PartClaim,
    PartStore, Progress, TaskOutcome, WorkflowStore,
};
