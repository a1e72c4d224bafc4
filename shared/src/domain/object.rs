//! Objects in buckets and the "object created" fact the dispatcher acts on.

use chrono::{DateTime, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A bucket and a key, the key already decoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
}

impl ObjectRef {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self { bucket: bucket.into(), key: key.into() }
    }
}

impl ObjectRef {
    /// A folder placeholder ("dir/", made by consoles), not media.
    pub fn is_folder_placeholder(&self) -> bool {
        self.key.ends_with('/')
    }

    /// `s3://bucket/key` as people write it (the key as it is, not URL-encoded); `None` for
    /// anything else.
    pub fn parse_url(url: &str) -> Option<ObjectRef> {
        let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then(|| ObjectRef::new(bucket, key))
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// An object was created: what S3 (directly, through SQS or through EventBridge) tells us.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectCreated {
    pub object: ObjectRef,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// Orders events for one key; absent in some emulators, so never required.
    pub sequencer: Option<String>,
    pub event_time: DateTime<Utc>,
}

impl ObjectCreated {
    /// Folder placeholders ("dir/") created by consoles are not media.
    pub fn is_folder_placeholder(&self) -> bool {
        self.object.is_folder_placeholder()
    }

    /// What tells two uploads of the same key apart: the version id, else S3's sequencer, else
    /// the stored object's entity tag and modification time. The last one makes every event of
    /// one stored object (a redelivery, an emulator's second event for a multipart upload) the
    /// same upload, and a new upload of the same bytes a new one.
    pub fn upload_identity(&self, head: &ObjectHead) -> String {
        let version = self.version_id.as_deref().or(head.version_id.as_deref());
        match (version, &self.sequencer) {
            (Some(version), _) if !version.is_empty() && version != "null" => format!("v:{version}"),
            (_, Some(sequencer)) if !sequencer.is_empty() => format!("s:{sequencer}"),
            _ => format!(
                "h:{}@{}",
                head.etag.as_deref().or(self.etag.as_deref()).unwrap_or_default(),
                head.last_modified.unwrap_or(self.event_time).timestamp_micros()
            ),
        }
    }
}

/// What a HEAD of an object tells: enough to skip our own outputs, to pin the upload a job
/// processes, and to size the work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub content_type: Option<String>,
    /// Present when mediaflow wrote this object (or it is a copy of such an object).
    pub marker: Option<OutputMarker>,
}

impl ObjectHead {
    /// The marker of mediaflow's own output stored at `object` (a copy made elsewhere carries a
    /// marker bound to another key, and is an upload).
    pub fn output_at(&self, object: &ObjectRef) -> Option<&OutputMarker> {
        self.marker.as_ref().filter(|marker| marker.is_at(object))
    }
}

/// Written into the metadata of every object mediaflow writes: which job and workflow wrote it,
/// for which input, and where. A server-side copy keeps the metadata but not the place, so
/// [`OutputMarker::is_at`] tells an output from a user's copy of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputMarker {
    pub job: String,
    pub workflow: String,
    /// [`object_digest`] of the input.
    pub input: String,
    /// [`object_digest`] of the bucket and key the object was written to.
    pub target: String,
}

impl OutputMarker {
    /// Why the object it marks is not processed.
    pub fn skip_reason(&self) -> String {
        format!("output of mediaflow job {}", self.job)
    }

    /// Metadata names (`x-amz-meta-…`) of the marker's fields.
    pub const JOB: &'static str = "mediaflow-job";
    pub const WORKFLOW: &'static str = "mediaflow-workflow";
    pub const INPUT: &'static str = "mediaflow-input";
    pub const TARGET: &'static str = "mediaflow-target";

    pub fn new(job: &str, workflow: &str, input: &ObjectRef, target: &ObjectRef) -> Self {
        Self {
            job: job.to_owned(),
            workflow: workflow.to_owned(),
            input: object_digest(input),
            target: object_digest(target),
        }
    }

    /// The marker as metadata entries.
    pub fn to_metadata(&self) -> [(&'static str, String); 4] {
        [
            (Self::JOB, self.job.clone()),
            (Self::WORKFLOW, self.workflow.clone()),
            (Self::INPUT, self.input.clone()),
            (Self::TARGET, self.target.clone()),
        ]
    }

    /// The marker in an object's metadata; `None` unless every field is there.
    pub fn from_metadata<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        Some(Self {
            job: get(Self::JOB)?.to_owned(),
            workflow: get(Self::WORKFLOW)?.to_owned(),
            input: get(Self::INPUT)?.to_owned(),
            target: get(Self::TARGET)?.to_owned(),
        })
    }

    /// Whether the object carrying this marker is where mediaflow wrote it (not a copy).
    pub fn is_at(&self, object: &ObjectRef) -> bool {
        self.target == object_digest(object)
    }

    /// Whether `workflow` wrote this for `input`: only then may it be replaced by a new output.
    pub fn belongs_to(&self, workflow: &str, input: &ObjectRef) -> bool {
        self.workflow == workflow && self.input == object_digest(input)
    }
}

/// A short fixed-width digest of some strings (length-prefixed, so that no two different lists
/// hash alike): 32 hex digits of SHA-256.
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()[..16].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An object's bucket and key as a metadata-safe digest (keys may be 1,024 bytes of any UTF-8).
pub fn object_digest(object: &ObjectRef) -> String {
    digest(&[&object.bucket, &object.key])
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("object key is not valid UTF-8 once decoded: {0:?}")]
    KeyNotUtf8(String),
    #[error("event time {0:?} is not an ISO 8601 timestamp")]
    BadEventTime(String),
}

/// Decodes an object key as S3 event notifications carry it: form-encoded, so `+` is a space
/// and a literal `+` arrives as `%2B`. Real S3 leaves `/` alone while some emulators send
/// `%2F`; both decode to `/`.
pub fn decode_event_key(raw: &str) -> Result<String, EventError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| EventError::KeyNotUtf8(raw.to_owned()))
}

/// Parses an event time leniently: RFC 3339 as AWS sends it, or a timestamp without a zone
/// (as moto sends it), read as UTC.
pub fn parse_event_time(raw: &str) -> Result<DateTime<Utc>, EventError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc())
        .map_err(|_| EventError::BadEventTime(raw.to_owned()))
}

/// A sequencer as a fixed-width string, so that string order is S3's order: S3 says to compare
/// sequencers of one key as hexadecimal numbers, padding the shorter with leading zeros.
pub fn sequencer_order(sequencer: &str) -> String {
    let digits = sequencer.trim().to_ascii_uppercase();
    format!("{digits:0>64}")
}

/// The last extension of a key's file name, without its dot: MPS's `{inputFormat}` (empty
/// without one).
pub fn input_format(key: &str) -> &str {
    let file = key.rsplit('/').next().unwrap_or(key);
    match file.rfind('.') {
        Some(dot) if dot > 0 => &file[dot + 1..],
        _ => "",
    }
}

/// The file name of a key without its last extension: MPS's `{inputName}`.
pub fn input_name(key: &str) -> &str {
    let file = key.rsplit('/').next().unwrap_or(key);
    match file.rfind('.') {
        Some(dot) if dot > 0 => &file[..dot],
        _ => file,
    }
}

/// A size as people read it: `433 B`, `1.7 MB`, `1.12 GB`.
pub fn readable_size(size: u64) -> String {
    match size {
        0..1_000 => format!("{size} B"),
        1_000..1_000_000 => format!("{:.1} kB", size as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", size as f64 / 1e6),
        _ => format!("{:.2} GB", size as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_key_has_plus_should_decode_to_space() {
        assert_eq!(decode_event_key("my+video.mp4").unwrap(), "my video.mp4");
    }

    #[test]
    fn when_key_has_encoded_plus_should_keep_plus() {
        assert_eq!(decode_event_key("a%2Bb.mp4").unwrap(), "a+b.mp4");
    }

    #[test]
    fn when_key_has_encoded_percent_should_decode_once() {
        assert_eq!(decode_event_key("100%25+done%2525.mp4").unwrap(), "100% done%25.mp4");
    }

    #[test]
    fn when_key_has_unicode_should_decode_utf8() {
        let raw = "vid%C3%A9o/%C3%A9t%C3%A9+2024.mov";
        assert_eq!(decode_event_key(raw).unwrap(), "vidéo/été 2024.mov");
    }

    #[test]
    fn when_key_has_encoded_slash_should_decode_like_real_s3() {
        assert_eq!(decode_event_key("in%2Fsub%2Fa.mp4").unwrap(), "in/sub/a.mp4");
        assert_eq!(decode_event_key("in/sub/a.mp4").unwrap(), "in/sub/a.mp4");
    }

    #[test]
    fn when_key_is_mps_example_should_decode_exactly() {
        let raw = "My+Video+%281%29%2Bfinal%25.mp4";
        assert_eq!(decode_event_key(raw).unwrap(), "My Video (1)+final%.mp4");
    }

    #[test]
    fn when_key_decodes_to_invalid_utf8_should_fail() {
        assert!(matches!(decode_event_key("bad%FF.mp4"), Err(EventError::KeyNotUtf8(_))));
    }

    #[test]
    fn when_event_time_has_zone_should_parse_rfc3339() {
        let time = parse_event_time("2026-11-24T13:46:33.635Z").unwrap();
        assert_eq!(time.timestamp_millis(), 1_795_527_993_635);
    }

    #[test]
    fn when_event_time_has_no_zone_should_read_as_utc() {
        let time = parse_event_time("2026-11-24T13:46:33.635833").unwrap();
        assert_eq!(time.timestamp_micros(), 1_795_527_993_635_833);
    }

    #[test]
    fn when_event_time_is_garbage_should_fail() {
        assert!(parse_event_time("yesterday").is_err());
    }

    #[test]
    fn sequencers_of_different_lengths_order_as_hex_numbers() {
        assert!(sequencer_order("0055AED6DCD90281E6") > sequencer_order("0055AED6DCD90281E5"));
        assert!(sequencer_order("1000") > sequencer_order("FFF"), "longer is larger");
        assert_eq!(sequencer_order("00ab"), sequencer_order("00AB"));
    }

    #[test]
    fn input_name_should_drop_dirs_and_last_extension() {
        assert_eq!(input_name("a/b/clip.final.mp4"), "clip.final");
        assert_eq!(input_name("clip"), "clip");
        assert_eq!(input_name("dir/.hidden"), ".hidden");
        assert_eq!(input_format("a/b/clip.final.MOV"), "MOV");
        assert_eq!((input_format("clip"), input_format("dir/.hidden"), input_format("a.b/clip")), ("", "", ""));
    }

    #[test]
    fn upload_identity_should_prefer_version_then_sequencer_then_stored_object() {
        let mut event = ObjectCreated {
            object: ObjectRef::new("b", "k"),
            size: None,
            etag: Some("e".into()),
            version_id: Some("v1".into()),
            sequencer: Some("s1".into()),
            event_time: parse_event_time("2026-01-01T00:00:00Z").unwrap(),
        };
        let head = ObjectHead {
            etag: Some("stored".into()),
            last_modified: Some(parse_event_time("2026-01-01T00:00:01Z").unwrap()),
            ..ObjectHead::default()
        };
        assert_eq!(event.upload_identity(&head), "v:v1");
        event.version_id = Some("null".into());
        assert_eq!(event.upload_identity(&head), "s:s1");
        event.sequencer = None;
        assert_eq!(event.upload_identity(&head), "h:stored@1767225601000000");
        let later = ObjectCreated { event_time: parse_event_time("2026-01-01T00:00:05Z").unwrap(), ..event.clone() };
        assert_eq!(later.upload_identity(&head), event.upload_identity(&head), "a second event of one stored object");
    }

    #[test]
    fn marker_tells_the_output_from_a_copy_and_names_its_owner() {
        let input = ObjectRef::new("b", "in/clip.mp4");
        let written = ObjectRef::new("b", "out/clip_transcode_1.mp4");
        let marker = OutputMarker::new("job-1", "flow", &input, &written);
        assert!(marker.is_at(&written));
        assert!(!marker.is_at(&ObjectRef::new("b", "in/copy.mp4")), "a server-side copy is an upload");
        assert!(marker.belongs_to("flow", &input));
        assert!(!marker.belongs_to("other", &input) && !marker.belongs_to("flow", &written));
        let metadata = marker.to_metadata();
        let read =
            OutputMarker::from_metadata(|name| metadata.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()));
        assert_eq!(read, Some(marker));
        assert_eq!(OutputMarker::from_metadata(|name| (name == OutputMarker::JOB).then_some("job-1")), None);
    }
}
