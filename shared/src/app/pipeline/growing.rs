//! Outputs sent while they are written. A file the media tool writes front to back goes up in
//! parts as it grows, its first part held back: a muxer rewrites its header when it ends, and an
//! index moved to the front lands there. Publishing sends the rest and finishes the upload
//! under the output's condition. Every part sent early is checked against the finished file
//! and sent again where it changed (a run started over, a muxer that went back), so what is
//! stored is the finished file whatever happened while it was written.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::domain::job::{Job, Task};
use crate::domain::object::{ObjectRef, OutputMarker};
use crate::domain::task::OutputSlot;
use crate::ports::{MovedIndex, ObjectStore, OutputFeed, PutCondition, RenderedFile, StoreError, UploadedPart};

/// How often a growing file is looked at.
const POLL: Duration = Duration::from_millis(250);
/// S3's most parts per upload: a file that would need more goes up after it is written.
const MAX_PARTS: u64 = 10_000;

/// The outputs of one task that are sent while they are written, by path.
pub(super) struct GrowingOutputs {
    objects: Arc<dyn ObjectStore>,
    job: Job,
    task: Task,
    /// Bytes per part (S3 takes 5 MiB at least, except for the last).
    part: u64,
    files: Mutex<HashMap<PathBuf, Follower>>,
}

/// A file being followed: where it goes, how to tell it to stop, and what it sent.
struct Follower {
    target: ObjectRef,
    done: watch::Sender<bool>,
    handle: JoinHandle<Sent>,
}

/// What a follower sent of one file.
#[derive(Default)]
struct Sent {
    upload: Option<String>,
    parts: Vec<SentPart>,
    error: Option<StoreError>,
}

/// A part sent: which bytes of the file, their checksum, and S3's receipt.
#[derive(Clone, Debug)]
struct SentPart {
    from: u64,
    to: u64,
    crc: u32,
    receipt: UploadedPart,
}

impl GrowingOutputs {
    pub(super) fn new(objects: Arc<dyn ObjectStore>, job: &Job, task: &Task, part: u64) -> Self {
        Self { objects, job: job.clone(), task: task.clone(), part, files: Mutex::default() }
    }

    fn followers(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Follower>> {
        self.files.lock().expect("followers poisoned")
    }

    /// Writes `file` to `target` under `condition` in parts, finishing what was sent while it
    /// was written (after a failed part, all of it again in a new upload); `None` for a file
    /// that was not followed or fits in two parts: the caller writes it whole. Its size as
    /// stored.
    pub(super) async fn finish(
        &self,
        file: &RenderedFile,
        target: &ObjectRef,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Option<Result<u64, StoreError>> {
        let follower = self.followers().remove(&file.path)?;
        let Sent { upload, mut parts, error } = stop(follower).await;
        let length = tokio::fs::metadata(&file.path).await.map_or(0, |m| m.len());
        let id = match (upload, error) {
            (Some(id), None) if length >= 2 * self.part => id,
            (upload, error) => {
                if let Some(id) = upload {
                    let _ = self.objects.abort_parts(target, &id).await;
                }
                if length < 2 * self.part {
                    return None;
                }
                if let Some(error) = error {
                    warn!(%target, %error, "a part sent while the file was written failed: sending it all again");
                }
                parts.clear();
                match self.objects.begin_parts(target, file.content_type, marker).await {
                    Ok(id) => id,
                    Err(error) => return Some(Err(error)),
                }
            }
        };
        let finished = self.complete(file, target, &id, parts, condition).await;
        if finished.is_err() {
            let _ = self.objects.abort_parts(target, &id).await;
        }
        Some(finished)
    }

    /// Sends what is missing or changed, then makes the parts the object.
    async fn complete(
        &self,
        file: &RenderedFile,
        target: &ObjectRef,
        id: &str,
        early: Vec<SentPart>,
        condition: &PutCondition,
    ) -> Result<u64, StoreError> {
        let length = tokio::fs::metadata(&file.path).await?.len();
        let (end, index) = match &file.index {
            Some(moved) if moved.at <= self.part && moved.end <= length => (moved.end, Some(moved)),
            Some(_) => return Err(StoreError::Rejected("the file's index cannot be moved into its first part".into())),
            None => (length, None),
        };
        let mut reader = tokio::fs::File::open(&file.path).await?;
        let mut parts = vec![
            self.objects.put_part(target, id, 1, first_part(&mut reader, index, self.part.min(end)).await?).await?,
        ];
        let (mut kept, mut resent) = (0, 0);
        for (from, to) in part_ranges(self.part, end) {
            let number = parts.len() as u32 + 1;
            let earlier = early.iter().find(|p| p.receipt.number == number && p.from == from && p.to == to);
            let body = read(&mut reader, from, to).await?;
            match earlier {
                Some(sent) if sent.crc == crc32fast::hash(&body) => {
                    kept += 1;
                    parts.push(sent.receipt.clone());
                }
                _ => {
                    resent += usize::from(earlier.is_some());
                    parts.push(self.objects.put_part(target, id, number, body.freeze()).await?);
                }
            }
        }
        self.objects.finish_parts(target, id, &parts, condition).await?;
        info!(%target, parts = parts.len(), sent_early = kept, sent_again = resent, "output sent while it was written");
        Ok(end + index.map_or(0, |moved| moved.index.len() as u64))
    }

    /// Stops following every file and drops what was sent of the files not finished (a
    /// failed render, a failed write).
    pub(super) async fn close(&self) {
        let followers: Vec<Follower> = self.followers().drain().map(|(_, follower)| follower).collect();
        for follower in followers {
            let target = follower.target.clone();
            if let Some(id) = stop(follower).await.upload {
                debug!(%target, "dropping an output sent while it was written, not finished");
                let _ = self.objects.abort_parts(&target, &id).await;
            }
        }
    }
}

impl OutputFeed for GrowingOutputs {
    fn writing(&self, path: &Path, slot: OutputSlot, content_type: &'static str) {
        let mut followers = self.followers();
        if followers.contains_key(path) {
            return;
        }
        let target = self.job.output_key(&self.task, slot);
        let (done, stopped) = watch::channel(false);
        let growing = Growing {
            objects: self.objects.clone(),
            path: path.to_owned(),
            target: target.clone(),
            content_type,
            marker: self.job.output_marker(&target),
            part: self.part,
        };
        let handle = tokio::spawn(growing.follow(stopped));
        followers.insert(path.to_owned(), Follower { target, done, handle });
    }
}

async fn stop(follower: Follower) -> Sent {
    let _ = follower.done.send(true);
    follower
        .handle
        .await
        .unwrap_or_else(|error| Sent { error: Some(StoreError::Io(std::io::Error::other(error))), ..Sent::default() })
}

/// One file followed as it grows.
struct Growing {
    objects: Arc<dyn ObjectStore>,
    path: PathBuf,
    target: ObjectRef,
    content_type: &'static str,
    marker: OutputMarker,
    part: u64,
}

impl Growing {
    /// Sends each whole part past the first as soon as the file has grown past it, until told
    /// to stop or a part fails.
    async fn follow(self, mut stopped: watch::Receiver<bool>) -> Sent {
        let mut sent = Sent::default();
        let mut reader = None;
        loop {
            let done = *stopped.borrow_and_update();
            let length = tokio::fs::metadata(&self.path).await.map_or(0, |m| m.len());
            while sent.error.is_none() && (sent.parts.len() as u64 + 2) * self.part <= length {
                if let Err(error) = self.send_next(&mut sent, &mut reader).await {
                    debug!(target = %self.target, %error, "part not sent while the file was written");
                    sent.error = Some(error);
                }
            }
            if done || sent.error.is_some() {
                return sent;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    async fn send_next(&self, sent: &mut Sent, reader: &mut Option<tokio::fs::File>) -> Result<(), StoreError> {
        let number = sent.parts.len() as u64 + 2;
        if number > MAX_PARTS {
            return Err(StoreError::Rejected("more parts than S3 takes".into()));
        }
        let id = match &sent.upload {
            Some(id) => id.clone(),
            None => {
                let id = self.objects.begin_parts(&self.target, self.content_type, &self.marker).await?;
                sent.upload.insert(id).clone()
            }
        };
        let file = match reader {
            Some(file) => file,
            None => reader.insert(tokio::fs::File::open(&self.path).await?),
        };
        let (from, to) = ((number - 1) * self.part, number * self.part);
        let body = read(file, from, to).await?;
        let crc = crc32fast::hash(&body);
        let receipt = self.objects.put_part(&self.target, &id, number as u32, body.freeze()).await?;
        sent.parts.push(SentPart { from, to, crc, receipt });
        Ok(())
    }
}

/// The file's parts after the first, up to `end`: the last may be short.
fn part_ranges(part: u64, end: u64) -> impl Iterator<Item = (u64, u64)> {
    (1..end.div_ceil(part)).map(move |index| (index * part, ((index + 1) * part).min(end)))
}

/// The first part as stored: the file's bytes up to `end`, with the moved index in place.
async fn first_part(reader: &mut tokio::fs::File, index: Option<&MovedIndex>, end: u64) -> Result<Bytes, StoreError> {
    let Some(moved) = index else {
        return Ok(read(reader, 0, end).await?.freeze());
    };
    let mut body = read(reader, 0, moved.at).await?;
    body.extend_from_slice(&moved.index);
    body.extend_from_slice(&read(reader, moved.at, end).await?);
    Ok(body.freeze())
}

async fn read(reader: &mut tokio::fs::File, from: u64, to: u64) -> std::io::Result<BytesMut> {
    let mut body = BytesMut::zeroed((to - from) as usize);
    reader.seek(SeekFrom::Start(from)).await?;
    reader.read_exact(&mut body).await?;
    Ok(body)
}

/// A file with its index moved to the front, written beside it, for a file that goes up
/// whole: the file itself when it has no index to move.
pub(super) async fn with_index_in_front(file: &RenderedFile) -> Result<PathBuf, StoreError> {
    let Some(moved) = &file.index else {
        return Ok(file.path.clone());
    };
    let path = file.path.with_extension("front");
    let mut reader = tokio::fs::File::open(&file.path).await?;
    let mut writer = tokio::fs::File::create(&path).await?;
    let head = read(&mut reader, 0, moved.at).await?;
    writer.write_all(&head).await?;
    writer.write_all(&moved.index).await?;
    reader.seek(SeekFrom::Start(moved.at)).await?;
    tokio::io::copy(&mut (&mut reader).take(moved.end - moved.at), &mut writer).await?;
    writer.flush().await?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::task::{TaskSpec, TranscodeSpec};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, Workflow, WorkflowSpec};
    use crate::ports::JobStore;
    use chrono::Utc;

    /// Parts of 16 bytes, so that a test file of a few hundred bytes has many.
    const PART: u64 = 16;

    async fn outputs() -> (Memory, GrowingOutputs, ObjectRef, tempfile::TempDir) {
        let memory = Memory::default();
        let spec = WorkflowSpec {
            name: "flow".into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: "in/".into() },
            output: OutputSpec { bucket: None, dir: Some("out/".into()) },
            tasks: vec![TaskSpec::Transcode(TranscodeSpec::default())],
            limits: Default::default(),
            notification: None,
        };
        let workflow = Workflow::create(spec, Utc::now()).unwrap().enable(Utc::now());
        let id = memory.job_for_upload(&workflow, "in/clip.mp4", b"video").await;
        let job = memory.job(&id).await.unwrap().unwrap();
        let task = memory.tasks(&id).await.unwrap().remove(0);
        let target = job.output_key(&task, OutputSlot::Main(0));
        let growing = GrowingOutputs::new(Arc::new(memory.clone()), &job, &task, PART);
        (memory, growing, target, tempfile::tempdir().unwrap())
    }

    fn rendered(path: &Path, index: Option<MovedIndex>) -> RenderedFile {
        RenderedFile {
            path: path.to_owned(),
            slot: OutputSlot::Main(0),
            content_type: "video/mp4",
            duration: None,
            width: None,
            height: None,
            quality: Vec::new(),
            tuning: None,
            index,
        }
    }

    /// Appends `bytes` to `path` and gives the follower time to look.
    async fn grow(path: &Path, bytes: &[u8]) {
        use std::io::Write;
        std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(bytes).unwrap();
        tokio::time::sleep(POLL * 3).await;
    }

    fn sent_parts(memory: &Memory) -> Vec<u32> {
        memory.parts_begun()
    }

    #[tokio::test]
    async fn parts_go_up_as_the_file_grows_and_the_stored_object_is_the_finished_file_with_its_index_in_front() {
        let (memory, growing, target, dir) = outputs().await;
        let path = dir.path().join("out-0.mp4");
        growing.writing(&path, OutputSlot::Main(0), "video/mp4");
        let data: Vec<u8> = (0..100u8).collect();
        grow(&path, &data[..40]).await;
        assert_eq!(sent_parts(&memory), vec![2], "part 2 (bytes 16–31) is whole; part 1 is held back");
        grow(&path, &data[40..]).await;
        assert_eq!(sent_parts(&memory), vec![2, 3, 4, 5, 6], "every whole part but the first");
        // The muxer goes back to its header, and its index is moved in front of the data.
        let mut file = data.clone();
        file[2] = 0xee;
        std::fs::write(&path, [&file[..], b"INDEX"].concat()).unwrap();
        let index = MovedIndex { at: 4, index: Bytes::from_static(b"INDEX"), end: 100 };
        let size = growing
            .finish(&rendered(&path, Some(index)), &target, &growing.job.output_marker(&target), &PutCondition::Absent)
            .await;
        assert_eq!(size.expect("sent while written").unwrap(), 105);
        let expected = [&file[..4], b"INDEX", &file[4..100]].concat();
        assert_eq!(memory.object(&target).unwrap(), expected);
        assert!(memory.marker(&target).is_some(), "marked as this workflow's output");
        assert_eq!(memory.unfinished_uploads(), 0);
    }

    #[tokio::test]
    async fn a_part_that_changed_after_it_went_up_is_sent_again_and_one_past_the_end_is_dropped() {
        let (memory, growing, target, dir) = outputs().await;
        let path = dir.path().join("out-0.mp4");
        growing.writing(&path, OutputSlot::Main(0), "video/mp4");
        grow(&path, &[1; 80]).await;
        assert_eq!(sent_parts(&memory), vec![2, 3, 4, 5]);
        // A run started over wrote a shorter file with other bytes.
        let finished: Vec<u8> = (0..40u8).collect();
        std::fs::write(&path, &finished).unwrap();
        let size = growing
            .finish(&rendered(&path, None), &target, &growing.job.output_marker(&target), &PutCondition::Absent)
            .await;
        assert_eq!(size.unwrap().unwrap(), 40);
        assert_eq!(memory.object(&target).unwrap(), finished);
    }

    #[tokio::test]
    async fn a_small_file_is_left_to_go_up_whole_with_its_index_moved_in_front_beside_it() {
        let (memory, growing, target, dir) = outputs().await;
        let path = dir.path().join("out-0.mp4");
        growing.writing(&path, OutputSlot::Main(0), "video/mp4");
        grow(&path, b"ftypDATA-DATAINDEX").await;
        let file = rendered(&path, Some(MovedIndex { at: 4, index: Bytes::from_static(b"INDEX"), end: 13 }));
        assert!(
            growing.finish(&file, &target, &growing.job.output_marker(&target), &PutCondition::Absent).await.is_none()
        );
        assert_eq!(memory.unfinished_uploads(), 0, "nothing was begun");
        let whole = with_index_in_front(&file).await.unwrap();
        assert_eq!(std::fs::read(whole).unwrap(), b"ftypINDEXDATA-DATA");
    }

    #[tokio::test]
    async fn after_a_failed_part_the_whole_file_goes_up_again_in_a_new_upload_and_nothing_is_left_behind() {
        let (memory, growing, target, dir) = outputs().await;
        let path = dir.path().join("out-0.mp4");
        memory.fail_parts(1);
        growing.writing(&path, OutputSlot::Main(0), "video/mp4");
        let data: Vec<u8> = (0..64u8).collect();
        grow(&path, &data).await;
        assert!(sent_parts(&memory).is_empty(), "the first part failed, and the follower stopped");
        let size = growing
            .finish(&rendered(&path, None), &target, &growing.job.output_marker(&target), &PutCondition::Absent)
            .await;
        assert_eq!(size.expect("in parts").unwrap(), 64);
        assert_eq!(memory.object(&target).unwrap(), data);
        assert_eq!(memory.unfinished_uploads(), 0, "the failed upload was dropped");
    }

    #[tokio::test]
    async fn a_task_that_fails_drops_what_went_up_and_a_taken_key_is_not_written() {
        let (memory, growing, _, dir) = outputs().await;
        let path = dir.path().join("out-0.mp4");
        growing.writing(&path, OutputSlot::Main(0), "video/mp4");
        grow(&path, &[1; 64]).await;
        assert_eq!(sent_parts(&memory), vec![2, 3, 4]);
        growing.close().await;
        assert_eq!(memory.unfinished_uploads(), 0);

        let (memory, growing, target, dir) = outputs().await;
        let path = dir.path().join("out-0.mp4");
        growing.writing(&path, OutputSlot::Main(0), "video/mp4");
        grow(&path, &[2; 64]).await;
        memory.put_object(target.clone(), b"a user's file".to_vec(), None);
        let written = growing
            .finish(&rendered(&path, None), &target, &growing.job.output_marker(&target), &PutCondition::Absent)
            .await;
        assert!(matches!(written, Some(Err(StoreError::Conflict(_)))));
        assert_eq!(memory.object(&target).unwrap(), b"a user's file");
        assert_eq!(memory.unfinished_uploads(), 0);
    }
}
