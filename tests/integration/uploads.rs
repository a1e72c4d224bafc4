//! Outputs sent while they are written: an MP4 written front to back goes up in parts as it
//! grows, and what is stored is the file ffmpeg's `+faststart` would have written, index first.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};
use mediaflow::adapters::ffmpeg::mp4::index_to_front;
use mediaflow::domain::error::ErrorCode;
use serde_json::json;

use crate::support::{Harness, clip, duration, probe, stream};

/// Parts of S3's smallest size, so that a 20 MB output is sent in four.
const PART: u64 = 5 * 1024 * 1024;

/// The kinds of a file's top-level boxes, in order.
fn top_boxes(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path)?;
    let mut kinds = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into()?) as usize;
        let size = match size {
            1 => u64::from_be_bytes(bytes[at + 8..at + 16].try_into()?) as usize,
            0 => bytes.len() - at,
            size => size,
        };
        kinds.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        ensure!(size >= 8, "a box of {size} bytes at {at}");
        at += size;
    }
    ensure!(at == bytes.len(), "the boxes end at {at}, the file at {}", bytes.len());
    Ok(kinds)
}

/// Decodes every packet of `path`: how many video and audio packets it read, failing on any
/// decode error.
fn decoded_packets(path: &Path) -> anyhow::Result<(u64, u64)> {
    let run = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-f", "null", "-"]).output()?;
    ensure!(run.status.success() && run.stderr.is_empty(), "{}", String::from_utf8_lossy(&run.stderr));
    let counted = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries", "stream=codec_type,nb_read_packets", "-of", "json"])
        .arg(path)
        .output()?;
    let json: serde_json::Value = serde_json::from_slice(&counted.stdout)?;
    let count = |kind: &str| -> u64 {
        json["streams"].as_array().into_iter().flatten().filter(|s| s["codec_type"] == kind).fold(0, |sum, s| {
            sum + s["nb_read_packets"].as_str().and_then(|n| n.parse::<u64>().ok()).unwrap_or_default()
        })
    };
    Ok((count("video"), count("audio")))
}

#[test]
fn an_index_moved_to_the_front_makes_the_very_file_faststart_makes_in_each_container() -> anyhow::Result<()> {
    let source = clip(
        "index-source.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300",
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-c:a",
            "aac",
        ],
    )?;
    let dir = tempfile::tempdir()?;
    for (muxer, extension, streams) in [("mp4", "mp4", "0"), ("mov", "mov", "0"), ("ipod", "m4a", "0:a")] {
        let remux = |name: &str, faststart: bool| -> anyhow::Result<std::path::PathBuf> {
            let path = dir.path().join(format!("{name}.{extension}"));
            let mut command = Command::new("ffmpeg");
            command.args(["-v", "error", "-y", "-i"]).arg(&source).args(["-map", streams, "-c", "copy"]);
            if faststart {
                command.args(["-movflags", "+faststart"]);
            }
            let run = command.args(["-f", muxer]).arg(&path).output()?;
            ensure!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
            Ok(path)
        };
        let (written, faststart) = (remux("written", false)?, remux("faststart", true)?);
        assert_eq!(top_boxes(&written)?.last().map(String::as_str), Some("moov"), "{muxer}: written index last");
        let moved = index_to_front(&written)?.context("an index to move")?;
        let bytes = std::fs::read(&written)?;
        let (at, end) = (moved.at as usize, moved.end as usize);
        let stored = [&bytes[..at], &moved.index[..], &bytes[at..end]].concat();
        assert_eq!(stored.len() as u64, moved.output_size());
        assert!(stored == std::fs::read(&faststart)?, "{muxer}: not the file +faststart writes");
        assert!(index_to_front(&faststart)?.is_none(), "{muxer}: nothing to move in front of the data");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_output_goes_up_while_it_is_encoded_and_plays_index_first_and_a_failed_task_leaves_no_part()
-> anyhow::Result<()> {
    let h = Harness::start_with(|options| options.send_while_writing = Some(PART)).await?;
    // GIVEN noisy video (which takes every bit it is given) and a workflow that encodes it at
    // 16 Mb/s (about 20 MB: four parts) and at 300 kb/s (one part)
    let source = clip(
        "noisy-480x270.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=480x270:rate=30,noise=alls=80:allf=t",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "10",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "18",
            "-c:a",
            "aac",
        ],
    )?;
    let large = json!({"type": "transcode", "definition": "large", "video": {"bitrate_kbps": 16000}});
    let small = json!({"type": "transcode", "definition": "small", "container": "mov", "video": {"bitrate_kbps": 300}});
    h.workflow(h.flow("t").task(large.clone()).task(small)).await?;
    // WHEN it is uploaded
    let object = h.upload(&source, "in/noisy.mp4").await?;
    let (_, tasks) = h.succeeded(&object).await?;
    // THEN both outputs hold their index in front of their data and decode whole, as long as
    // the source; the large one went up in parts
    for task in &tasks {
        let output = &task.outputs[0];
        let file = h.download(output).await?;
        let boxes = top_boxes(&file)?;
        let (moov, mdat) = (boxes.iter().position(|b| b == "moov"), boxes.iter().position(|b| b == "mdat"));
        assert!(moov.is_some() && moov < mdat, "{}: {boxes:?}", output.key);
        assert_eq!(decoded_packets(&file)?.0, 300, "{}: every frame", output.key);
        let probe = probe(&file)?;
        assert!((duration(&probe) - 10.0).abs() < 0.1, "{}: {}", output.key, duration(&probe));
        assert!(stream(&probe, "audio").is_some());
        let head = h.stack.clients.s3.head_object().bucket(&output.bucket).key(&output.key).send().await?;
        let parts = head.e_tag().and_then(|etag| etag.trim_matches('"').split_once('-')).map(|(_, n)| n.to_owned());
        match output.size > 2 * PART {
            true => assert_eq!(parts, Some(output.size.div_ceil(PART).to_string()), "{}", output.key),
            false => assert_eq!(parts, None, "{}: one PUT", output.key),
        }
    }
    assert!(tasks[0].outputs[0].size > 3 * PART, "the large output is large: {}", tasks[0].outputs[0].size);

    // GIVEN a user's file where the large output of the next upload would go
    h.workflow(h.flow("taken").trigger("taken/").output("taken-out/").task(large)).await?;
    let users = h.upload_bytes(b"my own file", "taken-out/noisy_transcode_large.mp4").await?;
    // WHEN the upload is encoded (its parts going up as it is) and cannot be written
    let object = h.upload(&source, "taken/noisy.mp4").await?;
    let (_, tasks) = h.job_of(&object).await?;
    // THEN the task fails, the user's file stays, and no part is left in the bucket
    let error = tasks[0].error.clone().context("the task failed")?;
    assert_eq!(error.code, ErrorCode::OutputConflict, "{error:?}");
    let kept = h.stack.clients.s3.get_object().bucket(&users.bucket).key(&users.key).send().await?;
    assert_eq!(kept.body.collect().await?.into_bytes().as_ref(), b"my own file");
    let left = h.stack.clients.s3.list_multipart_uploads().bucket(&h.bucket).send().await?;
    assert!(left.uploads().is_empty(), "{:?}", left.uploads());
    Ok(())
}
