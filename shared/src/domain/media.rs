//! What a probe says about a media file, and the geometry decisions made from it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The facts about a media file that tasks depend on (from ffprobe).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Container as the demuxer names it (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`, `gif`…).
    pub container: String,
    /// Seconds; absent for streams without a known length.
    pub duration: Option<f64>,
    /// The first timestamp, in seconds: what times within the file count from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    pub size: Option<u64>,
    pub bit_rate: Option<u64>,
    pub stream_count: u32,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    pub codec: String,
    /// Display size: rotation already applied, as ffmpeg's autorotate will show it.
    pub width: u32,
    pub height: u32,
    pub fps: Option<f64>,
    pub frames: Option<u64>,
    /// Seconds of pictures, when the file says: its sound may run on past them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Pictures made of two fields (broadcast, DV, older cameras), each shown apart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interlaced: bool,
    /// The high dynamic range the pictures are coded in (a phone's HDR video), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr: Option<Hdr>,
}

/// A high dynamic range transfer: how brightness is coded beyond SDR's 100 nits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hdr {
    /// Perceptual quantizer (SMPTE ST 2084): HDR10, Dolby Vision's base layer.
    Pq,
    /// Hybrid log-gamma (ARIB STD-B67): broadcast HDR, and phones' HDR video.
    Hlg,
}

impl fmt::Display for Hdr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hdr::Pq => "HDR (PQ)",
            Hdr::Hlg => "HDR (HLG)",
        })
    }
}

/// How a source's pictures are coded, where outputs need them otherwise: progressive, in SDR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signal {
    pub interlaced: bool,
    pub hdr: Option<Hdr>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    pub codec: String,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
}

/// Width and height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    /// Fits this (source) size into a requested box, keeping the aspect ratio.
    ///
    /// `0` leaves a dimension free: `(640, 0)` is "640 wide", `(0, 0)` keeps the source size.
    /// With both given the result fits inside the box. Unless `allow_upscale`, the result is
    /// never larger than the source. With `even` both sides are rounded down to even numbers,
    /// as 4:2:0 encoders require.
    pub fn fit(self, width: u32, height: u32, allow_upscale: bool, even: bool) -> Size {
        let (sw, sh) = (f64::from(self.width.max(1)), f64::from(self.height.max(1)));
        let scale = match (width, height) {
            (0, 0) => 1.0,
            (w, 0) => f64::from(w) / sw,
            (0, h) => f64::from(h) / sh,
            (w, h) => (f64::from(w) / sw).min(f64::from(h) / sh),
        };
        let scale = if allow_upscale { scale } else { scale.min(1.0) };
        let round = |value: f64| {
            let pixels = value.round().max(1.0) as u32;
            if even { (pixels & !1).max(2) } else { pixels }
        };
        Size::new(round(sw * scale), round(sh * scale))
    }
}

impl MediaInfo {
    /// Seconds of pictures: the video's own length where the file gives one, never past the
    /// file's; the file's otherwise.
    pub fn picture_duration(&self) -> Option<f64> {
        let pictures = self.video.as_ref().and_then(|video| video.duration);
        match (pictures, self.duration) {
            (Some(pictures), Some(file)) => Some(pictures.min(file)),
            (pictures, file) => pictures.or(file),
        }
    }

    /// How long sound runs on past the pictures, in seconds, where it does by half a second or
    /// more (a recording whose camera stopped first, a song behind one picture).
    pub fn sound_past_pictures(&self) -> Option<f64> {
        self.audio.as_ref()?;
        let gap = self.duration? - self.video.as_ref()?.duration?;
        (gap >= 0.5).then_some(gap)
    }

    /// How the pictures are coded: interlaced, in HDR.
    pub fn signal(&self) -> Signal {
        self.video
            .as_ref()
            .map_or_else(Signal::default, |video| Signal { interlaced: video.interlaced, hdr: video.hdr })
    }

    /// In words: `mp4: 5.00 s, h264 1280x720 25 fps interlaced, aac 48000 Hz 2 ch`, or
    /// `… hevc 1920x1080 30 fps HDR (HLG), …`.
    pub fn summary(&self) -> String {
        let mut facts = vec![self.container.clone()];
        if let Some(duration) = self.duration {
            facts.push(format!("{duration:.2} s"));
        }
        if let Some(video) = &self.video {
            let fps = video.fps.map(|fps| format!(" {fps:.3} fps").replace(".000 fps", " fps")).unwrap_or_default();
            let scan = if video.interlaced { " interlaced" } else { "" };
            let hdr = video.hdr.map(|hdr| format!(" {hdr}")).unwrap_or_default();
            facts.push(format!("{} {}x{}{fps}{scan}{hdr}", video.codec, video.width, video.height));
        }
        if let Some(audio) = &self.audio {
            let rate = audio.sample_rate.map(|r| format!(" {r} Hz")).unwrap_or_default();
            let channels = audio.channels.map(|c| format!(" {c} ch")).unwrap_or_default();
            facts.push(format!("{}{rate}{channels}", audio.codec));
        }
        facts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HD: Size = Size { width: 1920, height: 1080 };

    #[test]
    fn sound_runs_past_the_pictures_only_where_both_lengths_say_so_by_half_a_second() {
        let video = |seconds: Option<f64>| VideoStream { duration: seconds, ..VideoStream::default() };
        let file = |video: VideoStream, sound: bool| MediaInfo {
            duration: Some(6.0),
            video: Some(video),
            audio: sound.then(AudioStream::default),
            ..MediaInfo::default()
        };
        assert_eq!(file(video(Some(1.0)), true).sound_past_pictures(), Some(5.0));
        assert_eq!(file(video(Some(5.8)), true).sound_past_pictures(), None, "a phone's few frames");
        assert_eq!(file(video(Some(1.0)), false).sound_past_pictures(), None, "no sound");
        assert_eq!(file(video(None), true).sound_past_pictures(), None, "the pictures' length unknown");
        assert_eq!(file(video(Some(1.0)), true).picture_duration(), Some(1.0));
    }

    #[test]
    fn when_only_width_given_should_keep_aspect() {
        assert_eq!(HD.fit(640, 0, false, true), Size::new(640, 360));
    }

    #[test]
    fn when_only_height_given_should_keep_aspect() {
        assert_eq!(HD.fit(0, 720, false, true), Size::new(1280, 720));
    }

    #[test]
    fn when_both_given_should_fit_inside_box() {
        assert_eq!(HD.fit(640, 640, false, true), Size::new(640, 360));
        assert_eq!(Size::new(1080, 1920).fit(640, 640, false, true), Size::new(360, 640));
    }

    #[test]
    fn when_nothing_given_should_keep_source_size() {
        assert_eq!(HD.fit(0, 0, false, true), HD);
    }

    #[test]
    fn when_target_is_larger_should_not_upscale_by_default() {
        assert_eq!(Size::new(640, 272).fit(1280, 0, false, true), Size::new(640, 272));
        assert_eq!(Size::new(640, 272).fit(1280, 0, true, true), Size::new(1280, 544));
    }

    #[test]
    fn when_even_required_should_round_down_to_even() {
        assert_eq!(Size::new(136, 123).fit(0, 0, false, true), Size::new(136, 122));
        assert_eq!(Size::new(136, 123).fit(0, 0, false, false), Size::new(136, 123));
    }

    #[test]
    fn when_scaling_tiny_should_never_reach_zero() {
        assert_eq!(Size::new(4000, 2).fit(100, 0, false, true), Size::new(100, 2));
    }
}
