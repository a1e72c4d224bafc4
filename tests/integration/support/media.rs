//! Media on both sides of a job: real files from tests/fixtures/media, clips made with ffmpeg
//! (each made once and kept for every test), and ffprobe and ffmpeg to look at what came out.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};
use serde_json::Value;

/// A real media file from tests/fixtures/media.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media").join(name)
}

/// A file ffmpeg makes from `args` (inputs, options) as `name`, made once per set of arguments
/// and kept under the target directory for every test and later runs (a test never writes to
/// it). The arguments must not name files that change.
pub fn clip(name: &str, args: &[&str]) -> anyhow::Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (ffmpeg_version()?, name, args).hash(&mut hasher);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{:016x}-{name}", hasher.finish()));
    if path.is_file() {
        return Ok(path);
    }
    // Made beside it and renamed into place: tests that ask for it at once never see half a file.
    let making = tempfile::Builder::new().prefix("making-").tempdir_in(&dir)?;
    let made = ffmpeg_in(making.path(), name, args)?;
    std::fs::rename(made, &path)?;
    Ok(path)
}

/// The ffmpeg clips are made with, told apart by its version line.
fn ffmpeg_version() -> anyhow::Result<&'static str> {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(version) = VERSION.get() {
        return Ok(version);
    }
    let output = Command::new("ffmpeg").arg("-version").output().context("run ffmpeg")?;
    let line = String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().to_owned();
    Ok(VERSION.get_or_init(|| line))
}

/// A file ffmpeg makes with `args` as `name` in `dir`, which it runs in.
pub fn ffmpeg_in(dir: &Path, name: &str, args: &[&str]) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&path)
        .current_dir(dir)
        .output()
        .context("run ffmpeg")?;
    ensure!(output.status.success(), "ffmpeg could not make {name}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(path)
}

/// ffprobe's view of a file (format and streams, frames counted).
pub fn probe(path: &Path) -> anyhow::Result<Value> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .output()
        .context("run ffprobe")?;
    ensure!(
        output.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// What mediaflow's probe would record about a local file.
pub fn source_of(path: &Path) -> anyhow::Result<mediaflow::domain::media::MediaInfo> {
    Ok(mediaflow::adapters::ffmpeg::probe::parse(&serde_json::to_vec(&probe(path)?)?)?)
}

/// The first stream of a kind in a probe.
pub fn stream<'a>(probe: &'a Value, kind: &str) -> Option<&'a Value> {
    probe["streams"].as_array()?.iter().find(|s| s["codec_type"] == kind)
}

pub fn duration(probe: &Value) -> f64 {
    probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(f64::NAN)
}

pub fn dimensions(probe: &Value) -> (u64, u64) {
    let video = stream(probe, "video").cloned().unwrap_or_default();
    (video["width"].as_u64().unwrap_or(0), video["height"].as_u64().unwrap_or(0))
}

/// Mean brightness (0–255) of a rectangle of the frame at `at` seconds.
pub fn brightness(path: &Path, at: f64, crop: (u32, u32, u32, u32)) -> anyhow::Result<u8> {
    let (w, h, x, y) = crop;
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-ss", &at.to_string(), "-i"])
        .arg(path)
        .args(["-vf", &format!("crop={w}:{h}:{x}:{y},scale=1:1:flags=area"), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .context("run ffmpeg")?;
    ensure!(output.status.success() && output.stdout.len() == 1, "cannot measure {}", path.display());
    Ok(output.stdout[0])
}

/// How ffmpeg's interlace detector (`idet`) sees the pictures of `path`: how many look
/// interlaced (either field first) and how many progressive.
pub fn interlacing(path: &Path) -> anyhow::Result<(u64, u64)> {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(path)
        .args(["-vf", "idet", "-f", "null", "-"])
        .output()
        .context("run ffmpeg")?;
    let log = String::from_utf8_lossy(&output.stderr);
    let line = log.lines().rfind(|l| l.contains("Multi frame detection:")).context("no idet report")?;
    let count = |label: &str| -> u64 {
        let rest = line.split(label).nth(1).unwrap_or_default();
        rest.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    Ok((count("TFF:") + count("BFF:"), count("Progressive:")))
}

/// How alike frame `a` of one video and frame `b` of another are (PSNR in dB, ∞ as 100).
pub fn frame_psnr(first: &Path, a: u32, second: &Path, b: u32) -> anyhow::Result<f64> {
    let graph = format!(
        "[0:v]select=eq(n\\,{a}),setpts=PTS-STARTPTS[a];[1:v]select=eq(n\\,{b}),setpts=PTS-STARTPTS[b];[a][b]psnr"
    );
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(first)
        .arg("-i")
        .arg(second)
        .args(["-lavfi", &graph, "-f", "null", "-"])
        .output()?;
    let log = String::from_utf8_lossy(&output.stderr);
    let average = log.rsplit("average:").next().and_then(|rest| rest.split_whitespace().next()).unwrap_or("");
    Ok(if average == "inf" { 100.0 } else { average.parse()? })
}

/// A copy of a media file with the packets `damage` picks (by index and time) overwritten by
/// noise from their second quarter on, the way a bad disk or a broken transfer damages video.
pub fn damaged(path: &Path, to: &Path, damage: impl Fn(usize, f64) -> bool) -> anyhow::Result<PathBuf> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,pos,size", "-of", "json"])
        .arg(path)
        .output()
        .context("run ffprobe")?;
    let packets: Value = serde_json::from_slice(&output.stdout)?;
    let mut bytes = std::fs::read(path)?;
    let mut noise: u32 = 0x2545_f491;
    for (i, packet) in packets["packets"].as_array().context("packets")?.iter().enumerate() {
        let number = |name: &str| packet[name].as_str().and_then(|v| v.parse::<f64>().ok());
        let (Some(pts), Some(pos), Some(size)) = (number("pts_time"), number("pos"), number("size")) else { continue };
        if !damage(i, pts) {
            continue;
        }
        let (start, end) = (pos as usize + size as usize / 4, ((pos + size) as usize).min(bytes.len()));
        for byte in &mut bytes[start..end] {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            *byte = noise as u8;
        }
    }
    std::fs::write(to, bytes)?;
    Ok(to.to_owned())
}

/// A copy of an MP4 whose first track is shown turned by 90° (as phones record portrait
/// video): its track header's display matrix is set, as ffmpeg 5.1 cannot write it.
pub fn rotated(path: &Path, to: &Path) -> anyhow::Result<PathBuf> {
    let mut bytes = std::fs::read(path)?;
    let at = bytes.windows(4).position(|w| w == b"tkhd").context("a track header")?;
    ensure!(bytes[at + 4] == 0, "a version 0 track header");
    // after the type: version and flags, created, modified, track id, reserved, duration
    // (4 bytes each), reserved (8), layer, group, volume, reserved (2 each)
    let matrix = at + 4 + 24 + 16;
    let turn: [u32; 9] = [0, 0x0001_0000, 0, 0xFFFF_0000, 0, 0, 0, 0, 0x4000_0000];
    for (i, value) in turn.iter().enumerate() {
        bytes[matrix + 4 * i..matrix + 4 * i + 4].copy_from_slice(&value.to_be_bytes());
    }
    std::fs::write(to, bytes)?;
    Ok(to.to_owned())
}
