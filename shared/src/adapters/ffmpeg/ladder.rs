//! Choosing a title's ladder (`renditions: auto`): the same sample windows a `crf: auto` title
//! is probed on, encoded at each size the bounds allow and at each of a few CRFs, as the ladder
//! is encoded (codec, veryfast, under the top's cap) and scored with VMAF at one size; the
//! domain's [`choose_ladder`] reads the renditions off the hull of those curves. A title that
//! cannot be probed gets the ladder by picture size, and its tuning says why: the task goes on.

use std::time::Instant;

use tracing::{info, warn};

use super::Ffmpeg;
use super::args::ProbeEncode;
use crate::domain::error::ErrorCode;
use crate::domain::media::Size;
use crate::domain::task::{AdaptiveSpec, LadderBounds, Probe, Trim, Tuning, choose_ladder};
use crate::ports::{MediaFailure, RenderRequest};

impl Ffmpeg {
    /// The ladder chosen for the title of a whole adaptive task that asks (`renditions: auto`).
    pub(super) async fn tune_ladder(&self, request: &RenderRequest<'_>, spec: &AdaptiveSpec) -> Option<Tuning> {
        let video = request.source.video.as_ref().filter(|v| v.width > 0 && v.height > 0)?;
        let (frame, codec, bounds) = (Size::new(video.width, video.height), spec.video_codec(), spec.bounds());
        let fps = spec.fps.or(video.fps);
        let started = Instant::now();
        let tuning = match self.search_ladder(request, spec, frame, fps).await {
            Ok(mut tuning) => {
                tuning.probe_seconds = started.elapsed().as_secs_f64();
                info!(rungs = tuning.ladder.len(), probes = tuning.probes.len(), seconds = tuning.probe_seconds,
                    ladder = %tuning, "ladder chosen");
                tuning
            }
            Err(failure) => {
                warn!(%failure, "ladder not tuned");
                let fallback = bounds.fallback(codec, frame, fps);
                Tuning {
                    probe_seconds: started.elapsed().as_secs_f64(),
                    ..Tuning::untuned_ladder(codec, bounds.top_vmaf, fallback, failure.message)
                }
            }
        };
        Some(tuning)
    }

    async fn search_ladder(
        &self,
        request: &RenderRequest<'_>,
        spec: &AdaptiveSpec,
        frame: Size,
        fps: Option<f64>,
    ) -> Result<Tuning, MediaFailure> {
        let (codec, bounds) = (spec.video_codec(), spec.bounds());
        let cap = bounds.cap(codec, frame, fps);
        let cut = self.cut_samples(request, &Trim::default(), fps).await?;
        let mut probes = Vec::new();
        for size in bounds.sizes(frame) {
            for crf in LadderBounds::probe_crfs(codec) {
                let encode = ProbeEncode { frame: size, codec, crf, max_kbps: Some(cap) };
                let probe = self.probe_at(&cut, encode, request).await?;
                probes.push(Probe { height: Some(size.height), ..probe });
            }
        }
        cut.remove().await;
        let choice = choose_ladder(codec, &bounds, frame, fps, &probes);
        let top = choice.rungs.first().ok_or_else(|| MediaFailure::new(ErrorCode::Internal, "no rung was chosen"))?;
        Ok(Tuning {
            crf: top.crf.unwrap_or_default(),
            target_vmaf: bounds.top_vmaf,
            predicted_vmaf: top.vmaf,
            predicted_kbps: Some(top.kbps),
            capped: choice.capped,
            max_kbps: Some(cap),
            default_cap: bounds.max_kbps.is_none(),
            probes,
            sampled_seconds: cut.seconds,
            probe_seconds: 0.0,
            note: None,
            ladder: choice.rungs,
        })
    }
}
