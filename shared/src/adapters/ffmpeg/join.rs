//! Joining the parts of a chunked task: the chunks listed for ffmpeg's concat demuxer, then a
//! transcode's output (with its audio part), a ladder's renditions or a sampler's pictures;
//! what the task asks scored against the upload, and the title's tuning put on the output.

use super::args;
use super::quality::Comparison;
use super::serve::Served;
use super::streaming::Ladder;
use super::tuning::attach_tuning;
use super::{Ffmpeg, serve, sprite};
use crate::domain::error::ErrorCode;
use crate::domain::task::TaskSpec;
use crate::ports::{JoinRequest, MediaFailure, Rendered};

impl Ffmpeg {
    /// Joins the parts of a chunked task: a transcode's chunks and audio into its output, a
    /// ladder's into its renditions (scored, then packaged), pictures into their sheets.
    pub(super) async fn join_parts(&self, request: &JoinRequest<'_>) -> Result<Rendered, MediaFailure> {
        let mut names = Vec::with_capacity(request.chunks.len());
        for chunk in request.chunks {
            let name = chunk.file_name().and_then(|n| n.to_str()).filter(|_| chunk.parent() == Some(request.workdir));
            names.push(name.ok_or_else(|| {
                MediaFailure::new(
                    ErrorCode::Internal,
                    format!("chunk {} is not in the work directory", chunk.display()),
                )
            })?);
        }
        let list = request.workdir.join("chunks.ffconcat");
        tokio::fs::write(&list, args::concat_list(&names))
            .await
            .map_err(|e| MediaFailure::new(ErrorCode::Internal, format!("cannot write {}: {e}", list.display())))?;
        if let TaskSpec::Adaptive(spec) = request.spec {
            let first =
                request.chunks.first().ok_or_else(|| MediaFailure::new(ErrorCode::Internal, "no chunks to join"))?;
            let ladder = Ladder {
                spec,
                names: request.names,
                source: request.source,
                video: &list,
                concat: true,
                sound: request.audio,
                levels_from: first,
                workdir: request.workdir,
                duration: request.source.duration.map(|d| d.min(request.limits.max_duration_s)),
                tuning: request.tuning,
            };
            let mut warnings = Vec::new();
            let served = self.serve_to_score(request).await?;
            let comparison = served.as_ref().and_then(|s| Comparison::of(request.spec, request.source, s.url()));
            let mut files = self.package_scored(comparison, &ladder, &mut warnings, request.stop_by).await?;
            attach_tuning(&mut files, request.tuning, &mut warnings);
            return Ok(Rendered { files, warnings });
        }
        if request.spec.pictures().is_some() {
            let run = args::join_pictures(request.spec, &list, request.workdir)?;
            let (mut files, warnings) = self.render_run(&run, request.stop_by, None, None).await?;
            if let TaskSpec::Sprite(spec) = request.spec {
                let map =
                    sprite::map(spec, request.names, request.source, request.limits, request.workdir, files.len());
                files.push(map.await?);
            }
            return Ok(Rendered { files, warnings });
        }
        let spec = request.spec.as_transcode().ok_or_else(|| {
            MediaFailure::new(ErrorCode::Internal, "only transcodes, ladders and pictures are joined")
        })?;
        let max_duration = request.limits.max_duration_s;
        let run = args::join(&spec, &list, request.audio, request.workdir, max_duration, request.feed.is_some())?;
        let (mut files, mut warnings) = self.render_run(&run, request.stop_by, None, request.feed.as_ref()).await?;
        let served = self.serve_to_score(request).await?;
        if let Some(comparison) = served.as_ref().and_then(|s| Comparison::of(request.spec, request.source, s.url())) {
            self.score_file(comparison, &mut files, request.workdir, request.stop_by, &mut warnings).await;
        }
        attach_tuning(&mut files, request.tuning, &mut warnings);
        Ok(Rendered { files, warnings })
    }

    /// The upload, served to score joined outputs against, when the task asks for scores.
    async fn serve_to_score(&self, request: &JoinRequest<'_>) -> Result<Option<Served>, MediaFailure> {
        match (&request.upload, request.spec.quality()) {
            (Some(upload), Some(_)) => Ok(Some(serve(upload.clone(), "ffmpeg").await?)),
            _ => Ok(None),
        }
    }
}
