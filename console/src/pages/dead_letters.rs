//! Dead letters: what the events queue and the worker could not handle, and a redrive of each.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use mediaflow::app::admin::dead_letters::Which;

use super::{page, refusal, when};
use crate::Console;
use crate::access::Session;

pub fn routes() -> Router<Console> {
    Router::new().route("/dead-letters", get(list)).route("/dead-letters/{which}/redrive", post(redrive))
}

/// The most messages a page lists and a redrive sends, per queue.
const MAX: usize = 100;

struct Row {
    sent: String,
    reason: String,
    receives: u32,
    body: String,
}

struct QueueView {
    which: &'static str,
    label: &'static str,
    count: usize,
    rows: Vec<Row>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
struct DeadLetters {
    section: &'static str,
    form_token: String,
    queues: Vec<QueueView>,
    notice: Option<String>,
}

const QUEUES: [(Which, &str, &str); 2] = [(Which::Events, "events", "Events"), (Which::Worker, "worker", "Worker")];

async fn list(State(console): State<Console>, session: Session) -> Response {
    render(&console, &session, None).await
}

async fn render(console: &Console, session: &Session, notice: Option<String>) -> Response {
    let mut queues = Vec::new();
    for (which, name, label) in QUEUES {
        let (rows, error) = match console.admin.dead_letters(which, MAX).await {
            Ok(letters) => (
                letters
                    .into_iter()
                    .map(|letter| Row {
                        sent: letter.sent_at.map_or("—".into(), when),
                        reason: letter.reason.unwrap_or_default(),
                        receives: letter.receive_count,
                        body: letter.body.chars().take(400).collect(),
                    })
                    .collect::<Vec<_>>(),
                None,
            ),
            Err(error) => (Vec::new(), Some(error.to_string())),
        };
        queues.push(QueueView { which: name, label, count: rows.len(), rows, error });
    }
    page(DeadLetters { section: "dead-letters", form_token: session.form_token(), queues, notice })
}

async fn redrive(State(console): State<Console>, session: Session, Path(which): Path<String>) -> Response {
    let Some((which, _, label)) = QUEUES.into_iter().find(|(_, name, _)| *name == which) else {
        return refusal(StatusCode::NOT_FOUND, "no such dead-letter queue");
    };
    let notice = match console.admin.redrive(which, MAX).await {
        Ok(done) => format!("{label}: {} messages sent back, {} kept", done.sent, done.kept.len()),
        Err(error) => format!("{label}: {error}"),
    };
    render(&console, &session, Some(notice)).await
}
