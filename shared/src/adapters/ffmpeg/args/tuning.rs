//! Probing a title (`crf: auto`): its sample windows are cut from the source once, at the size
//! scores are computed at ([`scored_size`]) and the output's rate, losslessly, into one file;
//! each probe encodes that file as the task would (its size, codec and preset) at one CRF and
//! is scored with VMAF against it, one frame in [`SCORED_EVERY`], in the same run.

use super::transcode::{Rate, video_codec_args};
use super::*;
use crate::domain::task::SCORED_EVERY;

/// Where a title's samples are, and how they were cut.
#[derive(Clone, Copy, Debug)]
pub struct Samples<'a> {
    /// The lossless file of every window, one after the other.
    pub path: &'a Path,
    /// The output's frame rate (the task's, or the source's when known).
    pub fps: Option<f64>,
    /// The size they were cut at: the size scores are computed at.
    pub size: Size,
}

/// The run that cuts the `windows` (start and length in the source, seconds) from `input` into
/// `samples`.
pub fn cut_samples(input: &str, windows: &[(f64, f64)], samples: Samples<'_>) -> Result<Vec<String>, MediaFailure> {
    debug_assert!(input.starts_with("http://127.0.0.1:"), "the source is read from the loopback server");
    let mut args = head();
    for (start, length) in windows {
        source_input(&mut args, input, Some(*start), Some(*length));
    }
    let rate = samples.fps.map(|fps| format!("fps={},", ratio(fps))).unwrap_or_default();
    let Size { width, height } = samples.size;
    let mut graph = String::new();
    for i in 0..windows.len() {
        graph.push_str(&format!(
            "[{i}:v:0]setpts=PTS-STARTPTS,{rate}scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p[w{i}];"
        ));
    }
    graph.extend((0..windows.len()).map(|i| format!("[w{i}]")));
    graph.push_str(&format!("concat=n={}:v=1:a=0[samples]", windows.len()));
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[samples]".into()]);
    args.extend(strings(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]));
    args.extend(["-f".into(), "matroska".into(), file_at(samples.path)?]);
    Ok(args)
}

/// How one probe is encoded: the output's size and codec, the CRF and the cap.
#[derive(Clone, Copy, Debug)]
pub struct ProbeEncode {
    pub frame: Size,
    pub codec: VideoCodec,
    pub crf: u8,
    pub max_kbps: Option<u32>,
}

/// The run that encodes the `samples` as `encode` says into `probe` and, in the same process,
/// scores what it encoded against them by VMAF, frame by frame into `log`: the encoder's output
/// is decoded again as it is written (a loopback decoder, ffmpeg 7), so the samples are read and
/// decoded once. Both sides are numbered frame by frame (`setpts=N`), so that pictures pair by
/// their place whatever the time bases round to.
pub fn probe(
    samples: Samples<'_>,
    encode: ProbeEncode,
    probe: &Path,
    log: &Path,
    threads: usize,
) -> Result<Vec<String>, MediaFailure> {
    let ProbeEncode { frame, codec, crf, max_kbps } = encode;
    let mut args = head();
    args.extend(strings(["-protocol_whitelist", "file", "-i"]));
    args.push(file_at(samples.path)?);
    args.extend(strings(["-map", "0:v:0"]));
    args.extend(["-vf".into(), format!("scale={}:{},setsar=1,format=yuv420p", frame.width, frame.height)]);
    video_codec_args(&mut args, codec, Container::Mkv, Rate { crf: Some(crf), kbps: None, max_kbps });
    args.extend(["-f".into(), "matroska".into(), file_at(probe)?]);
    let Size { width, height } = samples.size;
    let log = plain_path(log)?;
    let numbered = format!("settb=1/30,setpts=N,framestep={SCORED_EVERY}");
    let graph = format!(
        "[dec:0]{numbered},scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p[d];\
         [0:v:0]{numbered}[r];\
         [d][r]libvmaf=log_fmt=json:log_path={log}:n_threads={threads}:shortest=1[s]"
    );
    args.extend(strings(["-dec", "0:0", "-filter_complex"]));
    args.push(graph);
    args.extend(strings(["-map", "[s]", "-f", "null", "-"]));
    Ok(args)
}

/// A scratch file as an ffmpeg output or input, refused when its path is not plain.
fn file_at(path: &Path) -> Result<String, MediaFailure> {
    plain_path(path)?;
    Ok(file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_a_probe_encodes_and_scores_in_one_run_reading_the_samples_once() {
        let path = Path::new("/tmp/work/samples.mkv");
        let samples = Samples { path, fps: Some(30.0), size: Size::new(1280, 720) };
        let encode = ProbeEncode { frame: Size::new(854, 480), codec: VideoCodec::H264, crf: 26, max_kbps: Some(5530) };
        let args = probe(samples, encode, Path::new("/tmp/work/probe-26.mkv"), Path::new("/tmp/work/probe-26.json"), 2)
            .unwrap();
        let joined = args.join(" ");
        assert_eq!(args.iter().filter(|a| *a == "-i").count(), 1, "{joined}");
        assert!(joined.contains("-protocol_whitelist file -i file:/tmp/work/samples.mkv -map 0:v:0"), "{joined}");
        assert!(joined.contains("-vf scale=854:480,setsar=1,format=yuv420p -c:v libx264"), "{joined}");
        assert!(joined.contains("-crf 26 -maxrate 5530k -bufsize 11060k"), "{joined}");
        assert!(joined.contains("-f matroska file:/tmp/work/probe-26.mkv -dec 0:0 -filter_complex"), "{joined}");
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert_eq!(
            graph,
            "[dec:0]settb=1/30,setpts=N,framestep=5,scale=1280:720:flags=bicubic,setsar=1,format=yuv420p[d];\
             [0:v:0]settb=1/30,setpts=N,framestep=5[r];\
             [d][r]libvmaf=log_fmt=json:log_path=/tmp/work/probe-26.json:n_threads=2:shortest=1[s]"
        );
        assert!(joined.ends_with("-map [s] -f null -"), "{joined}");
    }
}
