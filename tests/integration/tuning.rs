//! Encodes tuned per title on the local stack (`crf: auto`): an easy title gets a higher CRF
//! than a hard one, the chosen CRF's measured VMAF is near what the probes predicted, a chunked
//! encode uses the title's one choice in every chunk, a title that would need more bits than
//! the default cap for its picture is held under it, and an ffmpeg without libvmaf encodes at
//! the default CRF and says why; a ladder (`renditions: auto`) is chosen per title from the
//! probes of its sizes, the same whole or in chunks, or by picture size without libvmaf, and
//! follows a phone's turn, a picture smaller than its bounds, a still picture and an upload of
//! sound alone; titles of every kind uploads come in (a fraction of a second, one picture, odd
//! sides, interlaced broadcast, fragmented, variable frame rate, 10-bit, sound past the
//! pictures, cut short) are tuned or fail as their encode would; an upload that cannot be read
//! while its title is probed fails the attempt, never the tuning.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mediaflow::adapters::aws::s3::S3ObjectStore;
use mediaflow::domain::job::Task;
use mediaflow::domain::limits::Limits;
use mediaflow::domain::task::{QualityMetric, TaskSpec, Tuning};
use mediaflow::ports::{MediaTool, StoredObject};
use mediaflow_local::{Fault, FaultPlan, Service};
use serde_json::json;

use crate::quality::ffmpeg_has_vmaf;
use crate::support::{Harness, damaged, mediaflow, rotated, source_of};

/// The tuning and the measured VMAF of a task's one output.
fn tuned(task: &Task) -> (&Tuning, Option<f64>) {
    let output = &task.outputs[0];
    let tuning = output.tuning.as_ref().unwrap_or_else(|| panic!("task {} not tuned: {output:?}", task.index));
    let measured = output.quality.iter().find(|s| s.metric == QualityMetric::Vmaf).map(|s| s.mean);
    (tuning, measured)
}

/// A 10 s 640x360 clip, kept losslessly: `filter` over a test pattern.
fn clip(h: &Harness, name: &str, filter: &str) -> anyhow::Result<std::path::PathBuf> {
    let video = "testsrc2=size=640x360:rate=25:duration=10";
    let args = ["-vf", filter, "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "aac"];
    h.lavfi_clip(name, &[video, "sine=duration=10"], &args)
}

#[test]
fn an_easy_title_gets_a_higher_crf_than_a_hard_one_each_near_its_target_or_the_default_and_why() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow that tunes each title for VMAF 93, whole under a loose cap, and in two
        // chunks under the default cap for its picture
        let flow = h
            .flow("tuned")
            .task(json!({"type": "transcode", "definition": "whole",
                "video": {"crf": "auto", "target_vmaf": 93, "max_kbps": 20000}}))
            .task(json!({"type": "transcode", "definition": "chunked", "parallel": 2, "video": {"crf": "auto"}}));
        h.workflow(flow).await?;
        // WHEN a flat animated pattern and a grainy, detailed picture are uploaded
        let easy = h.upload(&clip(&h, "easy.mp4", "null")?, "in/easy.mp4").await?;
        let hard = h.upload(&clip(&h, "hard.mp4", "noise=alls=60:allf=t,gblur=sigma=2")?, "in/hard.mp4").await?;
        let (_, easy) = h.succeeded(&easy).await?;
        let (job, hard) = h.succeeded(&hard).await?;

        if !ffmpeg_has_vmaf()? {
            // THEN (without libvmaf) each is encoded at the default CRF, and the task says why
            for task in easy.iter().chain(&hard) {
                let (tuning, _) = tuned(task);
                assert_eq!((tuning.crf, tuning.predicted_vmaf), (23, None), "{tuning:?}");
                let why = "crf auto not tuned, encoded at the default CRF 23: this ffmpeg has no libvmaf filter";
                assert!(task.warnings.iter().any(|w| w == why), "{:?}", task.warnings);
            }
            return Ok(());
        }
        // THEN each whole title was probed at two or three CRFs and its CRF chosen for 93
        let (easy_tuning, easy_vmaf) = tuned(&easy[0]);
        let (hard_tuning, hard_vmaf) = tuned(&hard[0]);
        for (tuning, measured) in [(easy_tuning, easy_vmaf), (hard_tuning, hard_vmaf)] {
            assert!((2..=3).contains(&tuning.probes.len()), "{tuning:?}");
            assert!(tuning.note.is_none() && tuning.sampled_seconds == 1.0, "{tuning:?}");
            let predicted = tuning.predicted_vmaf.expect("predicted");
            // (the top of the range may still be above the target: a flat pattern is easy)
            assert!(predicted >= 93.0 || tuning.crf == 15, "{tuning:?}");
            // AND the output's measured VMAF is near the prediction
            let measured = measured.expect("the output's VMAF is measured");
            assert!((measured - predicted).abs() < 5.0, "measured {measured} against {tuning}");
        }
        // AND the easy title gets a higher CRF than the hard one, and far fewer bits
        assert!(easy_tuning.crf > hard_tuning.crf, "easy {easy_tuning} / hard {hard_tuning}");
        assert!(easy[0].outputs[0].size * 3 < hard[0].outputs[0].size, "{:?} / {:?}", easy[0].outputs, hard[0].outputs);
        // AND the easy title's chunked encode chose once, before its chunks were sent, from the
        // same samples, as its whole encode did (the default cap far above what it needs)
        let (easy_chunked, easy_chunked_vmaf) = tuned(&easy[1]);
        assert!(easy_chunked.crf.abs_diff(easy_tuning.crf) <= 1, "{easy_chunked} / {easy_tuning}");
        assert!(!easy_chunked.capped && easy_chunked.default_cap, "{easy_chunked:?}");
        let measured = easy_chunked_vmaf.expect("the joined output's VMAF");
        assert!(
            (measured - easy_chunked.predicted_vmaf.expect("predicted")).abs() < 5.0,
            "{measured} / {easy_chunked}"
        );
        // AND the grainy picture, which needs more than the default cap for 640x360 at 25 fps
        // (0.2 bits a pixel: 1152 kbps), is held under it, at a higher CRF than uncapped, and
        // says so
        let (held, _) = tuned(&hard[1]);
        assert!(held.capped && held.default_cap && held.max_kbps == Some(1152), "{held:?}");
        assert!(held.crf > hard_tuning.crf, "{held} / {hard_tuning}");
        let output = &hard[1].outputs[0];
        let kbps = output.size as f64 * 8.0 / output.duration.expect("length") / 1000.0;
        assert!(kbps < 1152.0 * 1.25, "{kbps} kbps (with sound) under the cap of 1152: {held}");
        // AND `job show` says what was chosen
        let shown = mediaflow(&h, &["job", "show", job.id.as_str()]).await?;
        assert!(shown.contains(&format!("CRF {} for VMAF 93", hard_tuning.crf)), "{shown}");
        assert!(shown.contains("held under the default cap of 1152 kbps"), "{shown}");
        Ok(())
    })
}

#[test]
fn a_turned_trimmed_title_is_tuned_on_the_stretch_kept_and_a_damaged_one_fails_as_it_would_untuned()
-> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow tuning a trimmed, smaller encode of each upload
        let flow = h.flow("tuned-odd").task(json!({"type": "transcode", "start": 1, "end": 7,
            "video": {"crf": "auto", "height": 320, "max_kbps": 3000}}));
        h.workflow(flow).await?;
        // WHEN a phone's clip (stored landscape, turned a quarter by its header) and a clip
        // whose pictures are damaged from its third second on are uploaded
        let landscape = clip(&h, "landscape.mp4", "noise=alls=30:allf=t")?;
        let phone = rotated(&landscape, &h.dir.path().join("phone-tuned.mp4"))?;
        let phone = h.upload(&phone, "in/phone.mp4").await?;
        let broken = damaged(&landscape, &h.dir.path().join("broken-tuned.mp4"), |_, at| at > 3.0)?;
        let broken = h.upload(&broken, "in/broken.mp4").await?;
        let (_, tasks) = h.succeeded(&phone).await?;

        // THEN the phone's output is upright, and was tuned on its kept stretch (or says why not)
        let (tuning, measured) = tuned(&tasks[0]);
        let output = &tasks[0].outputs[0];
        assert_eq!((output.width, output.height), (Some(180), Some(320)), "{output:?}");
        match ffmpeg_has_vmaf()? {
            true => {
                assert!(tuning.note.is_none() && (2..=3).contains(&tuning.probes.len()), "{tuning:?}");
                assert!(tuning.predicted_kbps.is_some_and(|kbps| kbps <= 3000.0), "under the cap: {tuning}");
                let (predicted, measured) = (tuning.predicted_vmaf.expect("predicted"), measured.expect("measured"));
                assert!((measured - predicted).abs() < 5.0, "measured {measured} against {tuning}");
            }
            false => assert_eq!(tuning.crf, 23, "{tuning:?}"),
        }
        // AND the damaged clip ends as any encode of it would: named a damaged source, never an
        // internal error of the tuning
        let (_, tasks) = h.job_of(&broken).await?;
        if let Some(error) = &tasks[0].error {
            assert!(!error.code.is_retryable(), "a source error, not ours: {error:?}");
        }
        Ok(())
    })
}

/// The ladder chosen for a ladder task's title, and the master playlist it is on.
fn chosen_ladder(task: &Task) -> (&Tuning, &mediaflow::domain::job::OutputFile) {
    let master = task.outputs.last().unwrap_or_else(|| panic!("task {} has no outputs", task.index));
    let tuning = master.tuning.as_ref().unwrap_or_else(|| panic!("task {} not tuned: {master:?}", task.index));
    (tuning, master)
}

#[test]
fn a_ladder_is_chosen_per_title_from_the_hull_of_its_sizes_the_same_whole_or_in_chunks() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow streaming each upload as a ladder chosen for its title, whole and in
        // two chunks
        let flow = h
            .flow("auto-ladder")
            .task(json!({"type": "adaptive", "definition": "whole", "renditions": "auto", "ladder": {"count": 3}}))
            .task(json!({"type": "adaptive", "definition": "chunked", "renditions": "auto", "ladder": {"count": 3},
                "parallel": 2, "segment_seconds": 2}));
        h.workflow(flow).await?;
        // WHEN a flat animated pattern and a grainy, detailed picture are uploaded
        let easy = h.upload(&clip(&h, "easy-ladder.mp4", "null")?, "in/easy.mp4").await?;
        let hard = h.upload(&clip(&h, "hard-ladder.mp4", "noise=alls=60:allf=t,gblur=sigma=2")?, "in/hard.mp4").await?;
        let (_, easy) = h.succeeded(&easy).await?;
        let (job, hard) = h.succeeded(&hard).await?;

        for task in easy.iter().chain(&hard) {
            let (tuning, master) = chosen_ladder(task);
            // THEN every rendition the master playlist offers is a rung of the chosen ladder,
            // in its order, from the largest
            let text = h.text(master).await?;
            let offered: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
                .filter_map(|l| l.split("RESOLUTION=").nth(1)?.split(',').next().map(str::to_owned))
                .collect();
            let rungs: Vec<String> = tuning.ladder.iter().map(|r| format!("{}x{}", r.width, r.height)).collect();
            assert_eq!(offered, rungs, "{text}\n{tuning}");
            assert!((1..=3).contains(&rungs.len()), "{tuning}");
            if !ffmpeg_has_vmaf()? {
                // (without libvmaf: the ladder by picture size, and the task says why)
                assert_eq!(rungs, ["640x360", "426x240"], "{tuning}");
                assert!(tuning.note.as_deref().is_some_and(|n| n.starts_with("renditions auto not tuned")));
                assert!(task.warnings.iter().any(|w| w.contains("this ffmpeg has no libvmaf filter")), "{task:?}");
                continue;
            }
            // AND both sizes the source allows were probed at three CRFs each (neither title's
            // top rung is cheap enough for the largest size's probes to settle it alone)
            assert_eq!(tuning.probes.len(), 6, "{tuning:?}");
            assert!(tuning.probes.iter().all(|p| matches!(p.height, Some(240 | 360))), "{tuning:?}");
            // AND each rendition's measured VMAF is near what the probes predicted for its rung
            // AND each rendition's measured VMAF is near what the probes predicted for its rung
            // (the master playlist holds every rendition's score, in the ladder's order)
            assert_eq!(master.quality.len(), tuning.ladder.len(), "{master:?}");
            for (rung, measured) in tuning.ladder.iter().zip(&master.quality) {
                assert_eq!(measured.height, Some(rung.height), "{master:?}");
                let predicted = rung.vmaf.expect("predicted");
                assert!((measured.mean - predicted).abs() < 5.0, "measured {} against {rung}", measured.mean);
            }
        }
        if !ffmpeg_has_vmaf()? {
            return Ok(());
        }
        // AND the grainy title's top rung spends far more than the flat one's
        let (easy_top, hard_top) = (chosen_ladder(&easy[0]).0.ladder[0], chosen_ladder(&hard[0]).0.ladder[0]);
        assert!(hard_top.kbps > easy_top.kbps * 2.0, "{easy_top} / {hard_top}");
        // AND the chunked task chose, before its chunks were sent, the same sizes from the same
        // samples as the whole one
        for title in [&easy, &hard] {
            let sizes = |task: &Task| chosen_ladder(task).0.ladder.iter().map(|r| r.height).collect::<Vec<_>>();
            assert_eq!(sizes(&title[0]), sizes(&title[1]), "{}", chosen_ladder(&title[1]).0);
        }
        // AND `job show` says which ladder was chosen and why
        let shown = mediaflow(&h, &["job", "show", job.id.as_str()]).await?;
        let (hard_ladder, _) = chosen_ladder(&hard[0]);
        assert!(shown.contains(&format!("{hard_ladder}")), "{shown}");
        assert!(shown.contains(&format!("for VMAF 95 at the top: {hard_top}")), "{shown}");
        Ok(())
    })
}

#[test]
fn an_automatic_ladder_follows_a_phones_turn_a_tiny_picture_and_sound_alone() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow streaming each upload as a ladder chosen for its title
        let flow = h.flow("auto-ladder-odd").task(json!({"type": "adaptive", "renditions": "auto"}));
        h.workflow(flow).await?;
        // WHEN a phone's clip (stored 640x360, turned a quarter by its header), a 160x90 clip
        // (below the smallest height), a still picture (a slide) and a recording of sound alone
        // are uploaded
        let landscape = clip(&h, "landscape-ladder.mp4", "noise=alls=20:allf=t")?;
        let phone = rotated(&landscape, &h.dir.path().join("phone-ladder.mp4"))?;
        let phone = h.upload(&phone, "in/phone.mp4").await?;
        let tiny = h.lavfi_clip(
            "tiny-ladder.mp4",
            &["testsrc2=size=160x90:rate=25:duration=6"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"],
        )?;
        let tiny = h.upload(&tiny, "in/tiny.mp4").await?;
        let still = h.upload(&clip(&h, "still-ladder.mp4", "geq=lum='X/3':cb=128:cr=128")?, "in/still.mp4").await?;
        let sound = h.lavfi_clip("sound-ladder.m4a", &["sine=duration=6"], &["-c:a", "aac"])?;
        let sound = h.upload(&sound, "in/sound.m4a").await?;

        // THEN the phone's ladder is upright: every rendition taller than wide, sized by its
        // short side (360 and 240), each scored (with libvmaf)
        let (_, tasks) = h.succeeded(&phone).await?;
        let (tuning, master) = chosen_ladder(&tasks[0]);
        assert!(!tuning.ladder.is_empty(), "{tuning}");
        for rung in &tuning.ladder {
            assert!(rung.width < rung.height && [240, 360].contains(&rung.width), "{tuning}");
        }
        if ffmpeg_has_vmaf()? {
            assert_eq!(master.quality.len(), tuning.ladder.len(), "{master:?}");
        }
        // AND the tiny picture is streamed at its own size, the only one there is to probe
        let (_, tasks) = h.succeeded(&tiny).await?;
        let (tuning, _) = chosen_ladder(&tasks[0]);
        let sizes: Vec<(u32, u32)> = tuning.ladder.iter().map(|r| (r.width, r.height)).collect();
        assert!(!sizes.is_empty() && sizes.iter().all(|s| *s == (160, 90)), "{tuning}");
        if tuning.predicted_vmaf.is_some() {
            assert!(tuning.probes.iter().all(|p| p.height == Some(90)) && tuning.probes.len() == 3, "{tuning:?}");
        }
        // AND the still picture gets one rendition at its own size, so cheap that the largest
        // size's three probes settled it: the smaller sizes were not probed
        let (_, tasks) = h.succeeded(&still).await?;
        let (tuning, _) = chosen_ladder(&tasks[0]);
        let sizes: Vec<(u32, u32)> = tuning.ladder.iter().map(|r| (r.width, r.height)).collect();
        if tuning.predicted_vmaf.is_some() {
            assert_eq!(sizes, [(640, 360)], "{tuning}");
            assert!(tuning.ladder[0].kbps < 145.0, "{tuning}");
            assert!(tuning.probes.iter().all(|p| p.height == Some(360)) && tuning.probes.len() == 3, "{tuning:?}");
        }
        // AND sound alone is streamed as sound, with no ladder to choose
        let (_, tasks) = h.succeeded(&sound).await?;
        assert!(tasks[0].outputs.iter().all(|o| o.tuning.is_none() && o.width.is_none()), "{:?}", tasks[0].outputs);
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_title_whose_upload_cannot_be_read_while_it_is_probed_fails_its_attempt_and_is_tuned_on_the_next()
-> anyhow::Result<()> {
    // GIVEN a `crf: auto` transcode of an upload that the worker reads through a proxy which can
    // fail S3's answers
    let h = Harness::start_with(|options| options.fault_proxy = true).await?;
    let proxy = h.stack.fault_proxy().context("a fault proxy")?;
    let clip = clip(&h, "unreadable.mp4", "null")?;
    let stored = h.stored(&clip, "in/unreadable.mp4").await?;
    let s3 = h.stack.clients.s3.config().to_builder().endpoint_url(&proxy.endpoint).build();
    let store = Arc::new(S3ObjectStore::new(aws_sdk_s3::Client::from_conf(s3)));
    let upload = StoredObject { store, object: stored.object.clone(), etag: stored.etag.clone(), size: stored.size };
    let spec: TaskSpec = serde_json::from_value(json!({"type": "transcode", "video": {"crf": "auto"}}))?;
    let (source, dir, media, limits) = (source_of(&clip)?, tempfile::tempdir()?, h.media_tool(), Limits::default());
    let request = Harness::render_request(&spec, Arc::new(upload), &source, &limits, None, dir.path());
    // WHEN every read of the upload fails while its title is probed
    let failing = FaultPlan {
        rates: [(Service::S3, 1.0)].into(),
        faults: vec![Fault::ServerError],
        slow: Duration::ZERO,
        seed: 1,
    };
    proxy.set_plan(Some(failing));
    let failed = media.tune(&request).await;
    proxy.set_plan(None);
    let vmaf = ffmpeg_has_vmaf()?;
    match vmaf {
        // THEN the attempt fails, to be tried again, saying why: the title is not left untuned
        true => {
            let failure = failed.err().context("the attempt fails")?;
            assert!(failure.code.is_retryable(), "{failure}");
            assert!(failure.message.starts_with("cannot read the upload"), "{failure}");
        }
        // (an ffmpeg without libvmaf reads nothing to tune: untuned, saying why)
        false => {
            let tuning = failed?.context("untuned")?;
            assert!(tuning.note.as_deref().is_some_and(|note| note.contains("no libvmaf")), "{tuning:?}");
        }
    }
    // AND once the upload can be read, the title is tuned
    let tuning = media.tune(&request).await?.context("a tuning")?;
    assert!(!vmaf || (tuning.note.is_none() && !tuning.probes.is_empty()), "{tuning:?}");
    Ok(())
}

#[test]
fn titles_of_every_kind_are_tuned_or_fail_as_their_encode_would() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow tuning a transcode and a ladder for each title
        let flow = h
            .flow("tuned-kinds")
            .task(json!({"type": "transcode", "video": {"crf": "auto"}}))
            .task(json!({"type": "adaptive", "renditions": "auto", "ladder": {"count": 2}}));
        h.workflow(flow).await?;
        // WHEN uploads of the kinds cameras, phones, screen recorders and broadcasts write, and
        // damaged ones, arrive
        let pattern =
            |size: &str, rate: u32, seconds: f64| format!("testsrc2=size={size}:rate={rate}:duration={seconds}");
        let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"];
        let with = |extra: &[&'static str]| -> Vec<&'static str> { x264.iter().chain(extra).copied().collect() };
        let kinds: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
            // shorter than a sample window
            ("short.mp4", vec![pattern("320x180", 25, 0.4)], with(&[])),
            // one picture
            ("one-frame.mp4", vec![pattern("320x180", 25, 0.04)], with(&[])),
            // odd sides and full chroma
            (
                "odd.mp4",
                vec![pattern("97x55", 10, 3.0)],
                vec!["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"],
            ),
            // a broadcast stream on a clock that starts at 30 s, interlaced MPEG-2
            (
                "broadcast.ts",
                vec![pattern("720x576", 25, 4.0), "sine=duration=4".into()],
                vec![
                    "-c:v",
                    "mpeg2video",
                    "-flags",
                    "+ilme+ildct",
                    "-top",
                    "1",
                    "-c:a",
                    "mp2",
                    "-output_ts_offset",
                    "30",
                ],
            ),
            // a fragmented recording
            ("fragmented.mp4", vec![pattern("640x360", 30, 4.0)], with(&["-movflags", "frag_keyframe+empty_moov"])),
            // a screen recorder's variable frame rate
            (
                "vfr.mkv",
                vec![pattern("640x360", 30, 4.0)],
                with(&["-vf", "select='lt(n\\,10)+not(mod(n\\,7))'", "-fps_mode", "vfr"]),
            ),
            // 10-bit H.265
            (
                "ten-bit.mp4",
                vec![pattern("640x360", 25, 3.0)],
                vec!["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1"],
            ),
            // sound far longer than its pictures
            ("long-sound.mp4", vec![pattern("320x180", 25, 1.0), "sine=duration=6".into()], with(&["-c:a", "aac"])),
        ];
        let (mut uploads, mut made) = (Vec::new(), Vec::new());
        for (name, sources, args) in &kinds {
            let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
            let path = h.lavfi_clip(name, &sources, args)?;
            uploads.push((*name, h.upload(&path, &format!("in/{name}")).await?));
            made.push(path);
        }
        // and a fragmented recording cut off half-way
        let bytes = std::fs::read(&made[4])?;
        let cut = h.upload_bytes(&bytes[..bytes.len() / 2], "in/cut-short.mp4").await?;
        uploads.push(("cut-short.mp4", cut));
        // THEN every task ends: tuned when it succeeds (with libvmaf, on the probes: a title
        // whose sound runs on past its pictures is sampled within them), and never with an error
        // of ours when it fails
        let vmaf = ffmpeg_has_vmaf()?;
        for (name, upload) in uploads {
            let (_, tasks) = h.job_of(&upload).await?;
            for task in &tasks {
                let Some(tuning) = task.outputs.iter().find_map(|o| o.tuning.as_ref()) else {
                    let error = task.error.as_ref().with_context(|| format!("{name}: neither tuned nor failed"))?;
                    assert!(!error.code.is_retryable(), "{name}, task {}: {error:?}", task.index);
                    continue;
                };
                assert!(!vmaf || tuning.note.is_none(), "{name}, task {}: {tuning:?} {:?}", task.index, task.warnings);
                // AND a title of one picture is not held under a cap that the encoder's buffer
                // holds whole
                if vmaf && name == "one-frame.mp4" && task.index == 0 {
                    assert!(!tuning.capped && tuning.predicted_vmaf.is_some_and(|v| v >= 90.0), "{tuning:?}");
                }
            }
        }
        Ok(())
    })
}
