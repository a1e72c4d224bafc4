//! Per-workflow limits on what an upload may be: checked before any encoding, so that an
//! oversized or hostile file fails fast with an `InvalidInput.*` code.

use serde::{Deserialize, Serialize};

use super::media::MediaInfo;
use super::validation::Violations;
use crate::domain::error::{ErrorCode, TaskError};

/// What a workflow accepts. Every field has a default; a workflow file may set any of them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest upload, in MiB. The worker keeps the input and its outputs in its 10 GiB /tmp.
    pub max_size_mb: u64,
    /// Longest upload, in seconds.
    pub max_duration_s: f64,
    /// Largest picture, width × height (8K UHD by default).
    pub max_pixels: u64,
    /// Most streams (video, audio, subtitles, data) in one upload.
    pub max_streams: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_size_mb: 4096, max_duration_s: 4.0 * 3600.0, max_pixels: 7680 * 4320, max_streams: 16 }
    }
}

const MIB: u64 = 1024 * 1024;

fn too(code: ErrorCode, message: String) -> TaskError {
    TaskError { code, message }
}

impl Limits {
    pub(crate) fn validate(&self, errors: &mut Violations) {
        errors.check((1..=10 * 1024).contains(&self.max_size_mb), "limits.max_size_mb", "must be 1–10240");
        errors.check(
            self.max_duration_s.is_finite() && self.max_duration_s > 0.0,
            "limits.max_duration_s",
            "must be above 0",
        );
        errors.check(self.max_pixels > 0, "limits.max_pixels", "must be above 0");
        errors.check(self.max_streams > 0, "limits.max_streams", "must be above 0");
    }

    /// Checks the size an upload announces, before it is downloaded.
    pub fn check_size(&self, bytes: u64) -> Result<(), TaskError> {
        if bytes > self.max_size_mb * MIB {
            return Err(too(
                ErrorCode::FileTooLarge,
                format!("the file has {bytes} bytes; this workflow accepts at most {} MiB", self.max_size_mb),
            ));
        }
        Ok(())
    }

    /// Checks what a probe found, before anything is encoded.
    pub fn check(&self, media: &MediaInfo) -> Result<(), TaskError> {
        if let Some(size) = media.size {
            self.check_size(size)?;
        }
        if let Some(duration) = media.duration.filter(|d| *d > self.max_duration_s) {
            return Err(too(
                ErrorCode::DurationTooLong,
                format!("the file lasts {duration:.2}s; this workflow accepts at most {}s", self.max_duration_s),
            ));
        }
        if let Some(video) = media.video.as_ref().filter(|v| u64::from(v.width) * u64::from(v.height) > self.max_pixels)
        {
            return Err(too(
                ErrorCode::ResolutionTooHigh,
                format!(
                    "the picture is {}x{}; this workflow accepts at most {} pixels",
                    video.width, video.height, self.max_pixels
                ),
            ));
        }
        if media.stream_count > self.max_streams {
            return Err(too(
                ErrorCode::TooManyStreams,
                format!(
                    "the file has {} streams; this workflow accepts at most {}",
                    media.stream_count, self.max_streams
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::media::VideoStream;

    fn media(size: u64, duration: f64, width: u32, height: u32, streams: u32) -> MediaInfo {
        MediaInfo {
            container: "mov".into(),
            duration: Some(duration),
            size: Some(size),
            bit_rate: None,
            start_time: None,
            stream_count: streams,
            video: Some(VideoStream {
                codec: "h264".into(),
                width,
                height,
                fps: None,
                frames: None,
                duration: None,
                interlaced: false,
                hdr: None,
            }),
            audio: None,
        }
    }

    fn code(result: Result<(), TaskError>) -> Option<ErrorCode> {
        result.err().map(|e| e.code)
    }

    #[test]
    fn defaults_accept_ordinary_uploads() {
        assert_eq!(Limits::default().check(&media(50 * MIB, 600.0, 3840, 2160, 3)), Ok(()));
    }

    #[test]
    fn each_limit_names_its_own_code() {
        let limits = Limits { max_size_mb: 10, max_duration_s: 60.0, max_pixels: 1920 * 1080, max_streams: 2 };
        assert_eq!(code(limits.check_size(11 * MIB)), Some(ErrorCode::FileTooLarge));
        assert_eq!(code(limits.check(&media(MIB, 61.0, 640, 360, 1))), Some(ErrorCode::DurationTooLong));
        assert_eq!(code(limits.check(&media(MIB, 1.0, 2560, 1440, 1))), Some(ErrorCode::ResolutionTooHigh));
        assert_eq!(code(limits.check(&media(MIB, 1.0, 640, 360, 3))), Some(ErrorCode::TooManyStreams));
        assert_eq!(limits.check(&media(10 * MIB, 60.0, 1920, 1080, 2)), Ok(()), "limits are inclusive");
    }

    #[test]
    fn messages_say_what_was_found_and_what_is_allowed() {
        let limits = Limits { max_duration_s: 0.5, ..Limits::default() };
        let error = limits.check(&media(MIB, 0.98, 640, 360, 1)).unwrap_err();
        assert_eq!(error.message, "the file lasts 0.98s; this workflow accepts at most 0.5s");
        assert!(ErrorCode::DurationTooLong.as_str().starts_with("InvalidInput."));
    }

    #[test]
    fn files_may_set_some_limits_and_keep_the_other_defaults() {
        let limits: Limits = serde_json::from_str(r#"{"max_streams": 4}"#).unwrap();
        assert_eq!(limits, Limits { max_streams: 4, ..Limits::default() });
        assert!(serde_json::from_str::<Limits>(r#"{"max_bytes": 4}"#).is_err());
    }
}
