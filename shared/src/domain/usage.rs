//! What processing used, in the units AWS bills: the worker's invocations and its memory ×
//! duration by architecture, S3's requests by price class and the bytes they moved, and the
//! minutes of video the outputs hold (what per-minute services bill). A task's usage is summed
//! over every invocation that worked on it (attempts, parts, the join); a job's over its
//! preparation and its tasks.

use std::fmt;
use std::iter::Sum;

use derive_more::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// The processor a Lambda function runs on; Lambda prices a GB-second by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// Seconds of output by the size classes per-minute services price by: the picture's short
/// side (a portrait phone video is classed as its landscape twin) up to 480, up to 719, 720, up
/// to 1080, up to 1440 and above; and sound alone. MediaConvert draws SD below 720, HD up to
/// 1080 and UHD above; MPS draws SD up to 480, HD up to 720, FHD up to 1080, 2K up to 1440 and
/// 4K above.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, Add, AddAssign)]
#[serde(default)]
pub struct OutputSeconds {
    pub up_to_480: f64,
    pub up_to_719: f64,
    pub at_720: f64,
    pub up_to_1080: f64,
    pub up_to_1440: f64,
    pub above_1440: f64,
    pub audio: f64,
}

impl OutputSeconds {
    /// Counts `seconds` of video whose picture is `width` × `height`.
    pub fn add_video(&mut self, seconds: f64, width: u32, height: u32) {
        if !(seconds.is_finite() && seconds > 0.0) {
            return;
        }
        let bucket = match width.min(height) {
            0..=480 => &mut self.up_to_480,
            481..=719 => &mut self.up_to_719,
            720 => &mut self.at_720,
            721..=1080 => &mut self.up_to_1080,
            1081..=1440 => &mut self.up_to_1440,
            _ => &mut self.above_1440,
        };
        *bucket += seconds;
    }

    /// Counts `seconds` of sound without a picture.
    pub fn add_audio(&mut self, seconds: f64) {
        if seconds.is_finite() && seconds > 0.0 {
            self.audio += seconds;
        }
    }

    /// Minutes of video, every size.
    pub fn video_minutes(&self) -> f64 {
        (self.up_to_480 + self.up_to_719 + self.at_720 + self.up_to_1080 + self.up_to_1440 + self.above_1440) / 60.0
    }

    pub fn is_empty(&self) -> bool {
        self.video_minutes() == 0.0 && self.audio == 0.0
    }
}

/// S3 requests by price class and the bytes they moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Add, AddAssign)]
#[serde(default)]
pub struct S3Usage {
    /// GET, HEAD and the other requests S3 bills at its GET rate.
    pub get_requests: u64,
    /// PUT, COPY, POST (a multipart upload's start, parts and end) and LIST.
    pub put_requests: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// What one or more worker invocations used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, Add, AddAssign)]
#[serde(default)]
pub struct Usage {
    pub invocations: u64,
    /// Memory (MB) × billed duration (ms) on x86_64.
    pub x86_64_mb_ms: u64,
    /// Memory (MB) × billed duration (ms) on arm64 (Graviton).
    pub arm64_mb_ms: u64,
    pub s3: S3Usage,
    /// What the outputs hold, by price class.
    pub output: OutputSeconds,
}

impl Usage {
    /// One invocation of a function of `memory_mb` on `architecture` that ran for `millis`
    /// (billed by the millisecond, rounded up) and made `s3`'s requests.
    pub fn invocation(architecture: Architecture, memory_mb: u32, millis: u64, s3: S3Usage) -> Self {
        let mb_ms = u64::from(memory_mb) * millis.max(1);
        let (x86_64_mb_ms, arm64_mb_ms) = match architecture {
            Architecture::X86_64 => (mb_ms, 0),
            Architecture::Arm64 => (0, mb_ms),
        };
        Self { invocations: 1, x86_64_mb_ms, arm64_mb_ms, s3, output: OutputSeconds::default() }
    }

    /// GB-seconds on `architecture` (Lambda's GB is 1024 MB).
    pub fn gb_seconds(&self, architecture: Architecture) -> f64 {
        let mb_ms = match architecture {
            Architecture::X86_64 => self.x86_64_mb_ms,
            Architecture::Arm64 => self.arm64_mb_ms,
        };
        mb_ms as f64 / 1024.0 / 1000.0
    }

    pub fn is_empty(&self) -> bool {
        self.invocations == 0 && self.s3 == S3Usage::default()
    }
}

impl Sum for Usage {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |sum, usage| sum + usage)
    }
}

/// `12.3 GB-s arm64, 4 invocations; S3 23 GET, 9 PUT, 48.2 MB read, 12.1 MB written`.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let compute: Vec<String> = [Architecture::X86_64, Architecture::Arm64]
            .into_iter()
            .filter(|arch| self.gb_seconds(*arch) > 0.0)
            .map(|arch| format!("{:.1} GB-s {}", self.gb_seconds(arch), arch.as_str()))
            .collect();
        let compute = if compute.is_empty() { "no compute".to_owned() } else { compute.join(" + ") };
        let plural = if self.invocations == 1 { "" } else { "s" };
        let mb = |bytes: u64| bytes as f64 / 1e6;
        write!(
            f,
            "{compute}, {} invocation{plural}; S3 {} GET, {} PUT, {:.1} MB read, {:.1} MB written",
            self.invocations,
            self.s3.get_requests,
            self.s3.put_requests,
            mb(self.s3.bytes_read),
            mb(self.s3.bytes_written)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_is_billed_by_memory_and_milliseconds_on_its_architecture() {
        let s3 = S3Usage { get_requests: 3, put_requests: 2, bytes_read: 10, bytes_written: 20 };
        let usage = Usage::invocation(Architecture::Arm64, 3008, 2000, s3);
        assert_eq!(usage.arm64_mb_ms, 6_016_000);
        assert_eq!(usage.x86_64_mb_ms, 0);
        assert!((usage.gb_seconds(Architecture::Arm64) - 5.875).abs() < 1e-9);
        // A run shorter than a millisecond is billed one.
        assert_eq!(Usage::invocation(Architecture::X86_64, 128, 0, S3Usage::default()).x86_64_mb_ms, 128);
    }

    #[test]
    fn usage_adds_up() {
        let one =
            Usage::invocation(Architecture::X86_64, 1024, 1000, S3Usage { get_requests: 1, ..Default::default() });
        let total: Usage =
            [one, one, Usage::invocation(Architecture::Arm64, 1024, 500, S3Usage::default())].into_iter().sum();
        assert_eq!(total.invocations, 3);
        assert_eq!(total.x86_64_mb_ms, 2_048_000);
        assert_eq!(total.arm64_mb_ms, 512_000);
        assert_eq!(total.s3.get_requests, 2);
        assert_eq!(
            total.to_string(),
            "2.0 GB-s x86_64 + 0.5 GB-s arm64, 3 invocations; S3 2 GET, 0 PUT, 0.0 MB read, 0.0 MB written"
        );
    }

    #[test]
    fn outputs_count_by_the_class_of_their_short_side() {
        let mut seconds = OutputSeconds::default();
        seconds.add_video(60.0, 640, 480);
        seconds.add_video(10.0, 960, 540);
        seconds.add_video(30.0, 720, 1280);
        seconds.add_video(30.0, 1920, 1080);
        seconds.add_video(5.0, 2560, 1440);
        seconds.add_video(10.0, 3840, 2160);
        seconds.add_video(f64::NAN, 3840, 2160);
        seconds.add_audio(20.0);
        let expected = OutputSeconds {
            up_to_480: 60.0,
            up_to_719: 10.0,
            at_720: 30.0,
            up_to_1080: 30.0,
            up_to_1440: 5.0,
            above_1440: 10.0,
            audio: 20.0,
        };
        assert_eq!(seconds, expected);
        assert!((seconds.video_minutes() - 145.0 / 60.0).abs() < 1e-9);
    }
}
