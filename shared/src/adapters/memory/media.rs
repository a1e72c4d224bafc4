//! A media tool that writes placeholder files, a task queue that remembers, and an event target
//! that keeps what it is sent.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;

use crate::domain::error::ErrorCode;
use crate::domain::event::WorkflowTaskEvent;
use crate::domain::media::{MediaInfo, VideoStream};
use crate::domain::message::WorkerMessage;
use crate::domain::notification::NotificationTarget;
use crate::domain::task::{OutputSlot, TaskSpec, Tuning};
use crate::ports::{
    DeliveryError, JoinRequest, MediaFailure, MediaTool, Notifications, ProbeFailure, Probed, RenderRequest, Rendered,
    RenderedFile, StoreError, StoredObject, TaskQueue,
};

use super::Memory;

/// A media tool that reads the whole source, and writes placeholder files: one per snapshot
/// time, one otherwise.
#[async_trait]
impl MediaTool for Memory {
    async fn probe(&self, source: Arc<StoredObject>) -> Result<Probed, ProbeFailure> {
        let mut bytes_read = 0;
        let mut stream = source.read(0, None).await.map_err(|e| ProbeFailure {
            failure: MediaFailure::new(ErrorCode::Internal, e.to_string()),
            bytes_read: 0,
        })?;
        while let Some(chunk) = stream.next().await {
            bytes_read += chunk.map(|c| c.len() as u64).unwrap_or(0);
        }
        let failure = {
            let mut state = self.state();
            state.probes += 1;
            state.probe_failure
        };
        if let Some(code) = failure {
            return Err(ProbeFailure { failure: MediaFailure::new(code, "probe failed"), bytes_read });
        }
        let media = MediaInfo {
            container: "fake".into(),
            duration: Some(2.0),
            stream_count: 1,
            video: Some(VideoStream { codec: "h264".into(), width: 64, height: 48, ..VideoStream::default() }),
            ..MediaInfo::default()
        };
        Ok(Probed { media, bytes_read })
    }

    /// Knows no keyframes: plans keep their borders.
    async fn keyframes(
        &self,
        _source: Arc<StoredObject>,
        _start: f64,
        times: &[f64],
    ) -> Result<Vec<Option<f64>>, MediaFailure> {
        Ok(vec![None; times.len()])
    }

    /// Probes nothing: a title that asks to be tuned gets the codec's default.
    async fn tune(&self, request: &RenderRequest<'_>) -> Result<Option<Tuning>, MediaFailure> {
        let failing = {
            let mut state = self.state();
            let failing = state.failing_tunes > 0;
            state.failing_tunes = state.failing_tunes.saturating_sub(1);
            failing
        };
        if failing {
            return Err(MediaFailure::new(ErrorCode::Internal, "cannot read the upload: service unavailable"));
        }
        Ok(request.spec.untuned(Some(request.source), "the in-memory media tool probes nothing".into()))
    }

    async fn render(&self, request: &RenderRequest<'_>) -> Result<Rendered, MediaFailure> {
        if let Some(code) = self.state().render_failure {
            return Err(MediaFailure::new(code, "render failed"));
        }
        self.state().renders += 1;
        // A ladder: two segments and the rendition playlist, the master last.
        let slots: Vec<OutputSlot> = match request.spec {
            TaskSpec::Adaptive(_) => vec![
                OutputSlot::Segment { stream: 0, number: 1 },
                OutputSlot::Segment { stream: 0, number: 2 },
                OutputSlot::SubStream(0),
                OutputSlot::Main(0),
            ],
            spec => (0..spec.output_count()).map(OutputSlot::Main).collect(),
        };
        let files = slots
            .into_iter()
            .enumerate()
            .map(|(number, slot)| {
                let path = request.workdir.join(format!("out-{number}.{}", request.spec.format()));
                std::fs::write(&path, b"rendered")
                    .map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?;
                Ok(RenderedFile {
                    path,
                    slot,
                    content_type: "application/octet-stream",
                    duration: None,
                    width: Some(64),
                    height: Some(48),
                    quality: Vec::new(),
                    tuning: None,
                    index: None,
                })
            })
            .collect::<Result<_, MediaFailure>>()?;
        Ok(Rendered { files, warnings: Vec::new() })
    }

    async fn join(&self, request: &JoinRequest<'_>) -> Result<Rendered, MediaFailure> {
        let path = request.workdir.join(format!("out-0.{}", request.spec.format()));
        let mut joined = Vec::new();
        for part in request.chunks.iter().map(PathBuf::as_path).chain(request.audio) {
            joined.extend(std::fs::read(part).map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?);
        }
        std::fs::write(&path, joined).map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?;
        let file = RenderedFile {
            path,
            slot: OutputSlot::Main(0),
            content_type: "application/octet-stream",
            duration: None,
            width: None,
            height: None,
            quality: Vec::new(),
            tuning: None,
            index: None,
        };
        Ok(Rendered { files: vec![file], warnings: Vec::new() })
    }
}

#[async_trait]
impl TaskQueue for Memory {
    async fn enqueue(&self, message: &WorkerMessage) -> Result<(), StoreError> {
        self.state().sent.push(message.clone());
        Ok(())
    }
}

#[async_trait]
impl Notifications for Memory {
    async fn send(&self, _target: &NotificationTarget, event: &WorkflowTaskEvent) -> Result<(), DeliveryError> {
        self.state().notified.push(event.clone());
        Ok(())
    }
}
