//! The rows of the table: kinds of partition keys, each with what one partition serves.

/// Where a request lands: a kind of partition key, with its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Row {
    JobWrites,
    JobReads,
    ByDay,
    ByWorkflow,
    ByInput,
    Sequencer,
    Triggers,
    UploadWrites,
    UploadReads,
    OutputWrites,
    OutputReads,
    PartWrites,
    PartReads,
}

impl Row {
    pub const ALL: [Row; 13] = [
        Row::JobWrites,
        Row::JobReads,
        Row::ByDay,
        Row::ByWorkflow,
        Row::ByInput,
        Row::Sequencer,
        Row::Triggers,
        Row::UploadWrites,
        Row::UploadReads,
        Row::OutputWrites,
        Row::OutputReads,
        Row::PartWrites,
        Row::PartReads,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Row::JobWrites => "jobs table, a job's items (writes)",
            Row::JobReads => "jobs table, a job's items (reads)",
            Row::ByDay => "jobs index by-day",
            Row::ByWorkflow => "jobs index by-workflow",
            Row::ByInput => "jobs index by-input",
            Row::Sequencer => "jobs table, sequencer items",
            Row::Triggers => "workflows table, trigger dirs (reads)",
            Row::UploadWrites => "S3 uploads' prefix, PUT",
            Row::UploadReads => "S3 uploads' prefix, GET/HEAD",
            Row::OutputWrites => "S3 outputs' prefix, PUT",
            Row::OutputReads => "S3 outputs' prefix, HEAD",
            Row::PartWrites => "S3 work bucket parts, PUT/DELETE",
            Row::PartReads => "S3 work bucket parts, GET",
        }
    }

    /// Units a second one partition (or S3 prefix) serves.
    pub fn limit(self) -> u32 {
        match self {
            Row::JobReads | Row::Triggers => 3_000,
            Row::UploadWrites | Row::OutputWrites | Row::PartWrites => 3_500,
            Row::UploadReads | Row::OutputReads | Row::PartReads => 5_500,
            _ => 1_000,
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Row::JobReads | Row::Triggers => "RCU",
            Row::UploadWrites | Row::OutputWrites | Row::PartWrites => "PUT",
            Row::UploadReads | Row::OutputReads | Row::PartReads => "GET",
            _ => "WCU",
        }
    }
}
