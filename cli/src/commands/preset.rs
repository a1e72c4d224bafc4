//! `mediaflow preset list`: MPS's templates a `definition` may name (needs no deployment).

use clap::Subcommand;
use mediaflow::domain::task::preset;

use crate::output::{Format, Out, json, table};

#[derive(Debug, Subcommand)]
pub enum PresetCommand {
    /// Every template with its parameters.
    List,
}

pub fn run(command: PresetCommand, format: Format, out: Out<'_>) -> anyhow::Result<()> {
    match command {
        PresetCommand::List => presets(out, format),
    }
}

/// MPS's transcode and HLS templates (`mediaflow preset list`).
fn presets(out: Out<'_>, format: Format) -> anyhow::Result<()> {
    let video = |preset: &preset::Preset| {
        preset.video.map_or("none".to_owned(), |video| {
            let fps = video.fps.map_or(String::new(), |fps| format!(", {fps} fps"));
            format!("h264 {}p, {} kbps{fps}", video.height, video.kbps)
        })
    };
    let audio = |preset: &preset::Preset| format!("{} {} kbps, 44100 Hz, 2 ch", preset.audio_codec, preset.audio_kbps);
    let transcodes = preset::PRESETS
        .iter()
        .map(|preset| [preset.id.to_owned(), preset.container.to_string(), video(preset), audio(preset)]);
    let ladders = preset::hls_templates()
        .map(|(id, preset)| [id, "hls (adaptive task)".to_owned(), video(preset), audio(preset)]);
    let rows: Vec<[String; 4]> = transcodes.chain(ladders).collect();
    if format == Format::Json {
        let list: Vec<_> = rows
            .iter()
            .map(|[id, container, video, audio]| {
                serde_json::json!({"definition": id, "container": container, "video": video, "audio": audio})
            })
            .collect();
        return json(out, &list);
    }
    let mut table = table(&["DEFINITION", "CONTAINER", "VIDEO", "AUDIO"]);
    for row in rows {
        table.add_row(row.to_vec());
    }
    writeln!(out, "{table}")?;
    writeln!(out, "Snapshot template 10 (JPG at the source's size) is a snapshot's default,")?;
    writeln!(out, "and sampled template 10 (JPG every 10 %) a sample's.")?;
    Ok(())
}
