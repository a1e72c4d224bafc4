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
    let transcodes = preset::PRESETS.iter().map(|preset| {
        [preset.id.to_owned(), preset.container.to_string(), preset.video_summary(), preset.audio_summary()]
    });
    let ladders = preset::hls_templates()
        .map(|(id, preset)| [id, "hls (adaptive task)".to_owned(), preset.video_summary(), preset.audio_summary()]);
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
