//! "Why didn't my upload run?": which workflows an object starts and which not, with why, and a
//! button that runs a chosen workflow on it now (a backfill of one object).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mediaflow::app::admin::backfill::Backfilled;
use mediaflow::domain::object::ObjectRef;
use serde::Deserialize;

use super::{page_with, segment};
use crate::Console;
use crate::access::Session;

pub fn routes() -> Router<Console> {
    Router::new().route("/why", get(why)).route("/why/run", post(run))
}

struct Row {
    workflow: String,
    path: String,
    fires: bool,
    reason: String,
    outputs: Vec<String>,
}

#[derive(Template)]
#[template(path = "why.html")]
struct Why {
    section: &'static str,
    form_token: String,
    object: String,
    checked: bool,
    rows: Vec<Row>,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Default, Deserialize)]
struct Asked {
    #[serde(default)]
    object: String,
    workflow: Option<String>,
}

fn parse(text: &str) -> Result<ObjectRef, String> {
    ObjectRef::parse_url(text.trim())
        .filter(|object| !object.key.is_empty())
        .ok_or_else(|| format!("{text:?} is not an object: write it as s3://bucket/path/video.mp4"))
}

async fn why(State(console): State<Console>, session: Session, Query(asked): Query<Asked>) -> Response {
    render(&console, &session, asked.object, None).await
}

async fn render(console: &Console, session: &Session, object: String, notice: Option<String>) -> Response {
    let mut view = Why {
        section: "why",
        form_token: session.form_token(),
        checked: false,
        rows: Vec::new(),
        error: None,
        notice,
        object,
    };
    if view.object.trim().is_empty() {
        return page_with(StatusCode::OK, view);
    }
    let status = match parse(&view.object) {
        Err(error) => {
            view.error = Some(error);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Ok(object) => match console.admin.explain(&object).await {
            Ok(matches) => {
                view.checked = true;
                view.rows = matches
                    .into_iter()
                    .map(|m| Row {
                        path: segment(&m.workflow),
                        workflow: m.workflow,
                        fires: m.fires,
                        reason: m.reason.unwrap_or_else(|| "enabled, and the object is in its trigger".into()),
                        outputs: m.outputs.iter().map(ToString::to_string).collect(),
                    })
                    .collect();
                StatusCode::OK
            }
            Err(error) => {
                view.error = Some(error.to_string());
                StatusCode::SERVICE_UNAVAILABLE
            }
        },
    };
    page_with(status, view)
}

/// Runs the chosen workflow on the object; its job's page, or why not.
async fn run(State(console): State<Console>, session: Session, axum::Form(asked): axum::Form<Asked>) -> Response {
    let workflow = asked.workflow.unwrap_or_default();
    let object = match parse(&asked.object) {
        Ok(object) => object,
        Err(error) => return render(&console, &session, asked.object, Some(error)).await,
    };
    match console.admin.backfill_object(&workflow, &object).await {
        Ok(Backfilled::Started { job_id, .. } | Backfilled::Done { job_id, .. }) => {
            Redirect::to(&format!("/jobs/{}", segment(job_id.as_str()))).into_response()
        }
        Ok(Backfilled::Skipped { reason, .. }) => {
            render(&console, &session, asked.object, Some(format!("{workflow} did not run: {reason}"))).await
        }
        Err(error) => render(&console, &session, asked.object, Some(format!("{workflow} did not run: {error}"))).await,
    }
}
