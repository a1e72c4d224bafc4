//! Scoring runs: the output (ours, from scratch) and the source (the loopback server) on one
//! clock, rate and size, one frame in five compared; a ladder's renditions against one decode.

use super::*;
use crate::domain::task::{QualityMetric, Window};

fn reference(size: Size) -> Reference<'static> {
    Reference { input: URL, start: 2.0, length: Some(4.0), size, fps: Some(25.0), signal: Signal::default() }
}

const SIDE: &str =
    "setpts=PTS-STARTPTS,fps=25:eof_action=pass,framestep=5,scale=1280:720:flags=bicubic,setsar=1,format=yuv420p";

#[test]
fn golden_a_transcode_is_scored_by_vmaf_on_the_sources_stretch_at_its_size() {
    let scored = Scored { path: Path::new("/tmp/req-1/out-0.mp4"), concat: false, streams: 1 };
    let scoring = score(
        QualityMetric::Vmaf,
        scored,
        reference(Size::new(1280, 720)),
        (Window::WHOLE, 0),
        Path::new("/tmp/req-1"),
        2,
    )
    .unwrap();
    assert_eq!(
        scoring.args.join(" "),
        format!(
            "-hide_banner -nostdin -y -protocol_whitelist file -i file:/tmp/req-1/out-0.mp4 {} -ss 2.000 -t 4.000 -i {URL} \
             -filter_complex [1:v:0]{SIDE},split=1[r0];[0:v:0]{SIDE}[d0];\
             [d0][r0]libvmaf=log_fmt=json:log_path=/tmp/req-1/quality-0-0.json:n_threads=2:shortest=1[s0] -map [s0] -f null -",
            &INPUT["-hide_banner -nostdin -y ".len()..]
        )
    );
    assert_eq!(scoring.logs, vec![PathBuf::from("/tmp/req-1/quality-0-0.json")]);
}

#[test]
fn golden_a_ladder_is_scored_rendition_by_rendition_against_one_decode() {
    let scored = Scored { path: Path::new("/tmp/req-1/chunks.ffconcat"), concat: true, streams: 2 };
    let scoring = score(
        QualityMetric::Ssim,
        scored,
        reference(Size::new(1280, 720)),
        (Window::WHOLE, 0),
        Path::new("/tmp/req-1"),
        2,
    )
    .unwrap();
    let args = scoring.args.join(" ");
    assert!(args.contains("-protocol_whitelist file -f concat -safe 1 -i file:/tmp/req-1/chunks.ffconcat"), "{args}");
    assert!(args.contains(&format!("[1:v:0]{SIDE},split=2[r0][r1];[0:v:0]{SIDE}[d0];")), "{args}");
    assert!(args.contains("[d1][r1]ssim=stats_file=/tmp/req-1/quality-1-0.log:shortest=1[s1]"), "{args}");
    assert!(args.ends_with("-map [s0] -f null - -map [s1] -f null -"), "{args}");
    assert_eq!(scoring.logs.len(), 2);
}

#[test]
fn pictures_are_compared_at_most_at_1080p_the_right_way_up() {
    assert_eq!(scored_size(Size::new(3840, 2160)), Size::new(1920, 1080));
    assert_eq!(scored_size(Size::new(2160, 3840)), Size::new(1080, 1920), "a portrait source stays portrait");
    assert_eq!(scored_size(Size::new(640, 360)), Size::new(640, 360), "never scaled up");
}

#[test]
fn a_scoring_run_refuses_paths_a_filter_graph_would_read_as_syntax() {
    let scored = Scored { path: Path::new("/tmp/a:b/out-0.mp4"), concat: false, streams: 1 };
    let refused = score(
        QualityMetric::Psnr,
        scored,
        reference(Size::new(640, 360)),
        (Window::WHOLE, 0),
        Path::new("/tmp/req-1"),
        2,
    );
    assert_eq!(refused.unwrap_err().code, ErrorCode::Internal);
}

#[test]
fn golden_a_window_of_a_long_output_is_cut_at_one_time_from_both_and_kept_on_its_clock() {
    let scored = Scored { path: Path::new("/tmp/req-1/out-0.mp4"), concat: false, streams: 1 };
    let window = Window { start: 600.0, length: Some(10.0) };
    let scoring =
        score(QualityMetric::Psnr, scored, reference(Size::new(1280, 720)), (window, 3), Path::new("/tmp/req-1"), 2)
            .unwrap();
    let args = scoring.args.join(" ");
    // Read from a second before the window (the source frame an output frame was made from
    // may lie just before it), brought to one rate on that clock, then cut at the window.
    assert!(args.contains("-protocol_whitelist file -ss 599.000 -t 11.000 -i file:/tmp/req-1/out-0.mp4"), "{args}");
    assert!(args.contains(&format!("-ss 601.000 -t 11.000 -i {URL}")), "the source from its stretch's start: {args}");
    // Each put back on the clock the output was made on, then brought to its rate and cut.
    let cut = "fps=25:eof_action=pass,trim=start=600.000:duration=10.000,setpts=PTS-STARTPTS,framestep=5,\
               scale=1280:720:flags=bicubic,setsar=1,format=yuv420p";
    let source = format!("[1:v:0]setpts=PTS+round(601.000/TB)-round(2.000/TB),{cut},split=1[r0]");
    assert!(args.contains(&format!("{source};[0:v:0]setpts=PTS+round(599.000/TB),{cut}[d0]")), "{args}");
    assert_eq!(scoring.logs, vec![PathBuf::from("/tmp/req-1/quality-0-3.log")]);
}
