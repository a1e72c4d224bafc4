//! Choosing a title's ladder (`renditions: auto`): the same sample windows a `crf: auto` title
//! is probed on, encoded at each size the bounds allow and at each of a few CRFs, as the ladder
//! is encoded (codec, veryfast, under the top's cap) and scored with VMAF at one size, from the
//! largest size, whose probes may settle a ladder of one cheap rung alone; the domain's
//! [`choose_ladder`] reads the renditions off the hull of those curves. A title that
//! cannot be probed gets the ladder by picture size (see [`tuning`](super::tuning)).

use super::Ffmpeg;
use super::args::ProbeEncode;
use super::tuning::NotTuned;
use crate::domain::error::ErrorCode;
use crate::domain::media::Size;
use crate::domain::task::{AdaptiveSpec, LadderBounds, Probe, SAMPLE_SECONDS, Trim, Tuning, choose_ladder};
use crate::ports::{MediaFailure, RenderRequest};

impl Ffmpeg {
    /// Probes the title's samples at every size the bounds allow and chooses the ladder.
    pub(super) async fn search_ladder(
        &self,
        request: &RenderRequest<'_>,
        spec: &AdaptiveSpec,
        frame: Size,
        fps: Option<f64>,
    ) -> Result<Tuning, NotTuned> {
        let (codec, bounds) = (spec.video_codec(), spec.bounds());
        let cap = bounds.cap(codec, frame, fps);
        // From the largest size: its probes alone may settle the ladder.
        let encodes: Vec<ProbeEncode> = bounds
            .sizes(frame)
            .into_iter()
            .rev()
            .flat_map(|size| {
                LadderBounds::probe_crfs(codec).into_iter().map(move |crf| ProbeEncode {
                    frame: size,
                    codec,
                    crf,
                    max_kbps: Some(cap),
                })
            })
            .collect();
        let (first, rest) =
            encodes.split_first().ok_or_else(|| MediaFailure::new(ErrorCode::Internal, "no size to probe"))?;
        // Each probe says which size it was made at.
        let sized = |encode: &ProbeEncode, probe: Probe| Probe { height: Some(encode.frame.height), ..probe };
        let (cut, probe) = self.cut_samples(request, &Trim::default(), fps, SAMPLE_SECONDS, *first).await?;
        let mut probes = vec![sized(first, probe)];
        // The largest size's probes alone may settle the ladder; then the others are not made.
        let smaller = rest.iter().position(|encode| encode.frame != first.frame).unwrap_or(rest.len());
        let (largest, others) = rest.split_at(smaller);
        for encode in largest {
            probes.push(sized(encode, self.probe_at(&cut, *encode, request).await?));
        }
        if !choose_ladder(codec, &bounds, frame, fps, &probes).settled() {
            for encode in others {
                probes.push(sized(encode, self.probe_at(&cut, *encode, request).await?));
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
