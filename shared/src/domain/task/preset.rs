//! MPS's preset templates. A transcode whose `definition` names one (`100030`, `1010`…) gets the
//! template's parameters for whatever it does not set itself; the id stays its `{definition}`.
//! An adaptive task named by an HLS template (`100230`…) with no renditions of its own gets
//! the matching MP4 template's rendition. Time-point snapshot template `10` (JPG at the source's
//! size) is what a snapshot does anyway.

use super::adaptive::AdaptiveSpec;
use super::ladder::Rendition;
use super::transcode::{AudioCodec, AudioSpec, Container, TranscodeSpec, VideoCodec, VideoSpec};

/// One transcode template: H.264 at a height, bitrate and (for some) rate, with AAC; or audio
/// only. Audio is 44.1 kHz stereo in every template.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preset {
    pub id: &'static str,
    pub container: Container,
    pub video: Option<PresetVideo>,
    pub audio_codec: AudioCodec,
    pub audio_kbps: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PresetVideo {
    pub height: u32,
    pub kbps: u32,
    pub fps: Option<f64>,
}

const fn mp4(id: &'static str, height: u32, kbps: u32, fps: Option<f64>, audio_kbps: u32) -> Preset {
    Preset {
        id,
        container: Container::Mp4,
        video: Some(PresetVideo { height, kbps, fps }),
        audio_codec: AudioCodec::Aac,
        audio_kbps,
    }
}

const fn audio(id: &'static str, container: Container, audio_codec: AudioCodec, audio_kbps: u32) -> Preset {
    Preset { id, container, video: None, audio_codec, audio_kbps }
}

/// MPS's MP4 and audio transcode templates.
pub const PRESETS: [Preset; 13] = [
    mp4("100010", 360, 400, Some(25.0), 64),
    mp4("100020", 540, 1000, None, 64),
    mp4("100030", 720, 1800, None, 128),
    mp4("100040", 1080, 2500, None, 128),
    mp4("100070", 1440, 3000, None, 160),
    mp4("100080", 2160, 6000, None, 160),
    audio("1010", Container::Mp3, AudioCodec::Mp3, 128),
    audio("1020", Container::Mp3, AudioCodec::Mp3, 320),
    audio("1100", Container::M4a, AudioCodec::Aac, 24),
    audio("1110", Container::M4a, AudioCodec::Aac, 48),
    audio("1120", Container::M4a, AudioCodec::Aac, 96),
    audio("1130", Container::M4a, AudioCodec::Aac, 192),
    audio("1140", Container::M4a, AudioCodec::Aac, 256),
];

/// MPS's HLS templates, which need an adaptive-streaming task.
const HLS: std::ops::RangeInclusive<u32> = 100_210..=100_280;

/// The template `definition` names, if it names one.
pub fn find(definition: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.id == definition)
}

/// The MP4 template whose rendition HLS template `definition` (100210–100280) streams.
pub fn find_hls(definition: &str) -> Option<&'static Preset> {
    let id: u32 = definition.parse().ok().filter(|id| HLS.contains(id))?;
    find(&(id - 200).to_string())
}

/// MPS's HLS templates: each id and the MP4 template whose rendition it streams.
pub fn hls_templates() -> impl Iterator<Item = (String, &'static Preset)> {
    PRESETS.iter().filter(|preset| preset.video.is_some()).filter_map(|preset| {
        let id = preset.id.parse::<u32>().ok()? + 200;
        HLS.contains(&id).then(|| (id.to_string(), preset))
    })
}

/// Why `definition` cannot be used as a transcode's label, if it names an MPS template that a
/// transcode cannot follow.
pub fn refusal(definition: &str) -> Option<String> {
    let id: u32 = definition.parse().ok()?;
    HLS.contains(&id).then(|| format!("{id} is an MPS HLS template: use it in an adaptive task"))
}

impl Preset {
    /// Its video in words: `h264 480p, 600 kbps` (`none` for an audio template).
    pub fn video_summary(&self) -> String {
        self.video.map_or("none".to_owned(), |video| {
            let fps = video.fps.map_or(String::new(), |fps| format!(", {fps} fps"));
            format!("h264 {}p, {} kbps{fps}", video.height, video.kbps)
        })
    }

    /// Its audio in words: `aac 64 kbps, 44100 Hz, 2 ch`.
    pub fn audio_summary(&self) -> String {
        format!("{} {} kbps, 44100 Hz, 2 ch", self.audio_codec, self.audio_kbps)
    }

    /// Fills what `spec` leaves unset from this template. An audio template sets the container
    /// (an audio-only one); explicit codecs, sizes, bitrates, CRF, rates and channels stay.
    pub fn apply(&self, spec: &mut TranscodeSpec) {
        if self.video.is_none() {
            spec.container = self.container;
        }
        if let Some(template) = self.video {
            let video = spec.video.get_or_insert_with(VideoSpec::default);
            video.codec.get_or_insert(VideoCodec::H264);
            if video.width == 0 && video.height == 0 {
                video.height = template.height;
            }
            if video.crf.is_none() && video.bitrate_kbps.is_none() {
                video.bitrate_kbps = Some(template.kbps);
            }
            if video.fps.is_none() {
                video.fps = template.fps;
            }
        }
        let audio = spec.audio.get_or_insert_with(AudioSpec::default);
        audio.codec.get_or_insert(self.audio_codec);
        audio.bitrate_kbps.get_or_insert(self.audio_kbps);
        audio.sample_rate.get_or_insert(44_100);
        audio.channels.get_or_insert(2);
    }
}

impl Preset {
    /// Gives an adaptive task with no renditions this template's one, and its sound.
    pub fn apply_adaptive(&self, spec: &mut AdaptiveSpec) {
        let Some(template) = self.video else { return };
        if spec.renditions.is_none() {
            spec.renditions =
                vec![Rendition { height: template.height, bitrate_kbps: Some(template.kbps), ..Rendition::default() }]
                    .into();
        }
        spec.fps = spec.fps.or(template.fps);
        let audio = spec.audio.get_or_insert_with(AudioSpec::default);
        audio.bitrate_kbps.get_or_insert(self.audio_kbps);
        audio.sample_rate.get_or_insert(44_100);
        audio.channels.get_or_insert(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::Crf;

    #[test]
    fn a_template_fills_what_the_task_leaves_unset() {
        let mut spec = TranscodeSpec { definition: Some("100030".into()), ..TranscodeSpec::default() };
        find("100030").unwrap().apply(&mut spec);
        let video = spec.video.as_ref().unwrap();
        assert_eq!(
            (video.codec, video.height, video.bitrate_kbps, video.fps),
            (Some(VideoCodec::H264), 720, Some(1800), None)
        );
        let audio = spec.audio.as_ref().unwrap();
        assert_eq!(
            (audio.codec, audio.bitrate_kbps, audio.sample_rate, audio.channels),
            (Some(AudioCodec::Aac), Some(128), Some(44_100), Some(2))
        );
        assert_eq!(spec.container, Container::Mp4);
        assert_eq!(find("100010").unwrap().video.unwrap().fps, Some(25.0), "360p at 25 fps");
    }

    #[test]
    fn explicit_fields_override_the_template() {
        let mut spec = TranscodeSpec {
            video: Some(VideoSpec { width: 1000, crf: Some(Crf::Fixed(20)), ..VideoSpec::default() }),
            audio: Some(AudioSpec { bitrate_kbps: Some(96), channels: Some(1), ..AudioSpec::default() }),
            ..TranscodeSpec::default()
        };
        find("100040").unwrap().apply(&mut spec);
        let video = spec.video.as_ref().unwrap();
        assert_eq!((video.width, video.height, video.crf, video.bitrate_kbps), (1000, 0, Some(Crf::Fixed(20)), None));
        let audio = spec.audio.as_ref().unwrap();
        assert_eq!((audio.bitrate_kbps, audio.channels, audio.sample_rate), (Some(96), Some(1), Some(44_100)));
    }

    #[test]
    fn audio_templates_write_audio_only_containers() {
        let mut mp3 = TranscodeSpec::default();
        find("1020").unwrap().apply(&mut mp3);
        assert_eq!((mp3.container, mp3.audio_codec()), (Container::Mp3, Some(AudioCodec::Mp3)));
        assert_eq!(mp3.video, None);
        assert_eq!(mp3.audio.unwrap().bitrate_kbps, Some(320));
        let mut m4a = TranscodeSpec::default();
        find("1140").unwrap().apply(&mut m4a);
        assert_eq!((m4a.container, m4a.audio.unwrap().bitrate_kbps), (Container::M4a, Some(256)));
        assert_eq!(find("720p"), None);
        assert_eq!(find_hls("100230").map(|p| p.id), Some("100030"));
        assert_eq!(find_hls("100030"), None);
        let ids: Vec<String> = hls_templates().map(|(id, _)| id).collect();
        assert_eq!(ids, ["100210", "100220", "100230", "100240", "100270", "100280"]);
        let mut hls = AdaptiveSpec::default();
        find_hls("100210").unwrap().apply_adaptive(&mut hls);
        assert_eq!(
            hls.renditions.listed(),
            [Rendition { height: 360, bitrate_kbps: Some(400), ..Rendition::default() }]
        );
        assert_eq!((hls.fps, hls.audio.unwrap().bitrate_kbps), (Some(25.0), Some(64)));
        assert!(refusal("100230").unwrap().contains("HLS"));
        assert_eq!(refusal("100030"), None);
        assert_eq!(refusal("thumb"), None);
    }
}
