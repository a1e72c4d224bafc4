//! The watermark task: a copy of the input with watermarks burnt in.

use serde::{Deserialize, Serialize};

use super::fields::is_false;
use super::marks::WatermarkSpec;
use super::parallel::Parallel;
use super::transcode::{Container, TranscodeSpec};

/// A copy of the input with watermarks burnt in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatermarkTaskSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default)]
    pub container: Container,
    pub watermarks: Vec<WatermarkSpec>,
    /// As for a transcode: the source's metadata is dropped unless this is set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_metadata: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
    /// As for a transcode.
    #[serde(default, skip_serializing_if = "Parallel::is_auto")]
    pub parallel: Parallel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
}

impl WatermarkTaskSpec {
    /// The equivalent transcode: container defaults, source size, these watermarks.
    pub fn as_transcode(&self) -> TranscodeSpec {
        TranscodeSpec {
            definition: self.definition.clone(),
            container: self.container,
            watermarks: self.watermarks.clone(),
            keep_metadata: self.keep_metadata,
            output_name: self.output_name.clone(),
            parallel: self.parallel,
            chunk_seconds: self.chunk_seconds,
            ..TranscodeSpec::default()
        }
    }
}
