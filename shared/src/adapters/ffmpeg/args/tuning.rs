//! Probing a title (`crf: auto`, `renditions: auto`): its sample windows are cut from the
//! source once, at the size scores are computed at ([`scored_size`]) and the output's rate,
//! losslessly (Ut Video: cheap to write and to read again), into one file; each probe encodes
//! that file as the task would (its size, codec and preset) at one CRF and is scored with VMAF
//! against it, one frame in [`SCORED_EVERY`], in the same run. The first probe is made in the
//! run that cuts the samples, so that its encode goes on while the source is still being read.

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
    /// How the source's pictures are coded: they are cut as the task's encode takes them
    /// (deinterlaced, in SDR).
    pub signal: Signal,
}

/// How one probe is encoded: the output's size and codec, the CRF and the cap.
#[derive(Clone, Copy, Debug)]
pub struct ProbeEncode {
    pub frame: Size,
    pub codec: VideoCodec,
    pub crf: u8,
    pub max_kbps: Option<u32>,
}

/// One probe's run: how it encodes, where the encoded samples and their frame scores go, and
/// how many threads score them.
#[derive(Clone, Copy, Debug)]
pub struct ProbeRun<'a> {
    pub encode: ProbeEncode,
    pub probe: &'a Path,
    pub log: &'a Path,
    pub threads: usize,
}

/// The run that cuts the `windows` (start and length in the source, seconds) from `input` into
/// `samples` and makes the `first` probe of them as they are cut: the samples file and the
/// probe are both decoded again as they are written (loopback decoders, ffmpeg 7) and scored.
pub fn cut_samples(
    input: &str,
    windows: &[(f64, f64)],
    samples: Samples<'_>,
    first: ProbeRun<'_>,
) -> Result<Vec<String>, MediaFailure> {
    debug_assert!(input.starts_with("http://127.0.0.1:"), "the source is read from the loopback server");
    let mut args = head();
    for (start, length) in windows {
        source_input(&mut args, input, Some(*start), Some(*length));
    }
    let rate = samples.fps.map(|fps| format!("{},", fps_filter(fps))).unwrap_or_default();
    let Size { width, height } = samples.size;
    let mut graph = String::new();
    for i in 0..windows.len() {
        graph.push_str(&format!(
            "{}setpts=PTS-STARTPTS,{rate}scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p[w{i}];",
            source_pictures(samples.signal, i)
        ));
    }
    graph.extend((0..windows.len()).map(|i| format!("[w{i}]")));
    let frame = first.encode.frame;
    graph.push_str(&format!(
        "concat=n={}:v=1:a=0,split[samples][first];[first]{}[probe]",
        windows.len(),
        probe_scale(frame)
    ));
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[samples]".into()]);
    args.extend(strings(["-c:v", "utvideo", "-f", "matroska"]));
    args.push(file_at(samples.path)?);
    args.extend(strings(["-map", "[probe]"]));
    probe_output(&mut args, first)?;
    args.extend(strings(["-dec", "0:0", "-dec", "1:0"]));
    scored(&mut args, "dec:1", "dec:0", samples.size, first)?;
    Ok(args)
}

/// The run that encodes the `samples` as `run` says and, in the same process, scores what it
/// encoded against them by VMAF, frame by frame: the encoder's output is decoded again as it is
/// written (a loopback decoder, ffmpeg 7), so the samples are read and decoded once.
pub fn probe(samples: Samples<'_>, run: ProbeRun<'_>) -> Result<Vec<String>, MediaFailure> {
    let mut args = head();
    args.extend(strings(["-protocol_whitelist", "file", "-i"]));
    args.push(file_at(samples.path)?);
    args.extend(strings(["-map", "0:v:0", "-vf"]));
    args.push(probe_scale(run.encode.frame));
    probe_output(&mut args, run)?;
    args.extend(strings(["-dec", "0:0"]));
    scored(&mut args, "dec:0", "0:v:0", samples.size, run)?;
    Ok(args)
}

/// The samples as a probe encodes them: at its frame size.
fn probe_scale(frame: Size) -> String {
    format!("scale={}:{},setsar=1,format=yuv420p", frame.width, frame.height)
}

/// The probe's encoder and its file, for the stream mapped just before.
fn probe_output(args: &mut Vec<String>, run: ProbeRun<'_>) -> Result<(), MediaFailure> {
    let ProbeEncode { codec, crf, max_kbps, .. } = run.encode;
    video_codec_args(args, codec, Container::Mkv, Rate { crf: Some(crf), kbps: None, max_kbps });
    args.extend(["-f".into(), "matroska".into(), file_at(run.probe)?]);
    Ok(())
}

/// Scores the `encoded` stream against the `reference` (the samples, at `size`) by VMAF into
/// the run's log. Both sides are numbered frame by frame (`setpts=N`), so that pictures pair by
/// their place whatever the time bases round to.
fn scored(
    args: &mut Vec<String>,
    encoded: &str,
    reference: &str,
    size: Size,
    run: ProbeRun<'_>,
) -> Result<(), MediaFailure> {
    let Size { width, height } = size;
    let (log, threads) = (plain_path(run.log)?, run.threads);
    let numbered = format!("settb=1/30,setpts=N,framestep={SCORED_EVERY}");
    args.push("-filter_complex".into());
    args.push(format!(
        "[{encoded}]{numbered},scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p[d];\
         [{reference}]{numbered}[r];\
         [d][r]libvmaf=log_fmt=json:log_path={log}:n_threads={threads}:shortest=1[s]"
    ));
    args.extend(strings(["-map", "[s]", "-f", "null", "-"]));
    Ok(())
}

/// A scratch file as an ffmpeg output or input, refused when its path is not plain.
fn file_at(path: &Path) -> Result<String, MediaFailure> {
    plain_path(path)?;
    Ok(file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first<'a>() -> ProbeRun<'a> {
        let encode = ProbeEncode { frame: Size::new(854, 480), codec: VideoCodec::H264, crf: 26, max_kbps: Some(5530) };
        ProbeRun {
            encode,
            probe: Path::new("/tmp/work/probe-26.mkv"),
            log: Path::new("/tmp/work/probe-26.json"),
            threads: 2,
        }
    }

    const SAMPLES: &str = "/tmp/work/samples.mkv";

    #[test]
    fn golden_a_probe_encodes_and_scores_in_one_run_reading_the_samples_once() {
        let samples = Samples {
            path: Path::new(SAMPLES),
            fps: Some(30.0),
            size: Size::new(1280, 720),
            signal: Signal::default(),
        };
        let args = probe(samples, first()).unwrap();
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

    #[test]
    fn golden_the_first_probe_is_encoded_and_scored_as_the_samples_are_cut() {
        let samples = Samples {
            path: Path::new(SAMPLES),
            fps: Some(25.0),
            size: Size::new(1280, 720),
            signal: Signal::default(),
        };
        let input = "http://127.0.0.1:9/token";
        let args = cut_samples(input, &[(1.0, 1.5), (30.0, 1.5)], samples, first()).unwrap();
        let joined = args.join(" ");
        assert_eq!(args.iter().filter(|a| *a == "-i").count(), 2, "{joined}");
        assert!(joined.contains("-ss 1.000 -t 1.500 -i http://127.0.0.1:9/token"), "{joined}");
        let graphs: Vec<&String> =
            args.iter().enumerate().filter(|(_, a)| *a == "-filter_complex").map(|(i, _)| &args[i + 1]).collect();
        assert_eq!(graphs.len(), 2, "{joined}");
        assert!(
            graphs[0].ends_with(
                "[w0][w1]concat=n=2:v=1:a=0,split[samples][first];[first]scale=854:480,setsar=1,format=yuv420p[probe]"
            ),
            "{joined}"
        );
        assert!(
            graphs[0].contains("[1:v:0]setpts=PTS-STARTPTS,fps=25:eof_action=pass,scale=1280:720:flags=bicubic"),
            "{joined}"
        );
        assert!(
            joined.contains(
                "-map [samples] -c:v utvideo -f matroska file:/tmp/work/samples.mkv -map [probe] -c:v libx264"
            ),
            "{joined}"
        );
        assert!(
            joined.contains("-f matroska file:/tmp/work/probe-26.mkv -dec 0:0 -dec 1:0 -filter_complex"),
            "{joined}"
        );
        assert!(graphs[1].starts_with("[dec:1]settb=1/30,setpts=N,framestep=5,scale=1280:720"), "{joined}");
        assert!(graphs[1].contains("[dec:0]settb=1/30,setpts=N,framestep=5[r]"), "{joined}");
        assert!(joined.ends_with("-map [s] -f null -"), "{joined}");
    }
}
