//! The router as a browser meets it, on the in-memory fakes: access, forms and escaping.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use mediaflow::adapters::memory::Memory;
use mediaflow::app::admin::Admin;
use mediaflow::app::admin::buckets::StackBuckets;
use mediaflow::domain::error::{ErrorCode, TaskError};
use mediaflow::domain::job::{JobStatus, OutputFile, TaskStatus};
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::task::{QualityMetric, QualityScore};
use mediaflow::ports::WorkflowStore;
use tower::ServiceExt;

use crate::{Access, router};

const HOST: &str = "127.0.0.1:4000";
const ORIGIN: &str = "http://127.0.0.1:4000";

struct Browser {
    memory: Arc<Memory>,
    access: Access,
    router: axum::Router,
}

mod cognito;

/// The administrative use-cases over one set of in-memory fakes.
fn admin(memory: &Arc<Memory>) -> Admin {
    mediaflow::wiring::in_memory_admin(memory)
}

impl Browser {
    fn new() -> Self {
        let memory = Arc::new(Memory::default());
        let admin = admin(&memory);
        let access = Access::local(4000);
        Browser { memory, router: router(Arc::new(admin), access.clone()), access }
    }

    fn session(&self) -> String {
        let link = self.access.link();
        let token = link.split("token=").nth(1).expect("a token");
        format!("{}={token}", crate::access::COOKIE)
    }

    /// The form token pages of this session carry.
    fn form_token(&self) -> String {
        let link = self.access.link();
        crate::access::Session::of(link.split("token=").nth(1).expect("a token")).form_token()
    }

    async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.expect("infallible")
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).header(header::HOST, HOST).header(header::COOKIE, self.session());
        text(self.send(request.body(Body::empty()).expect("request")).await).await
    }

    /// A form as a page of the console posts it (with its token and Origin).
    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Response {
        let token = self.form_token();
        let mut all = vec![("form_token", token.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all, Some(ORIGIN)).await
    }

    async fn post_raw(&self, path: &str, pairs: &[(&str, &str)], origin: Option<&str>) -> Response {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        let mut request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::COOKIE, self.session())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request.body(Body::from(body)).expect("request")).await
    }
}

async fn text(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

fn location(response: &Response) -> &str {
    response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or_default()
}

const WORKFLOW: &[(&str, &str)] = &[
    ("name", "clips"),
    ("trigger.bucket", "media"),
    ("trigger.dir", "in/"),
    ("output.bucket", ""),
    ("output.dir", "out/"),
    ("tasks[0].type", "snapshot"),
    ("tasks[0].snapshot.times", "1"),
    ("action", "save"),
];

#[tokio::test]
async fn the_printed_link_becomes_a_cookie_and_leaves_the_address_bar() {
    let browser = Browser::new();
    let link = browser.access.link();
    let path_and_query = link.trim_start_matches("http://127.0.0.1:4000");
    let request = Request::get(path_and_query).header(header::HOST, HOST).body(Body::empty()).expect("request");
    let response = browser.send(request).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let cookie = response.headers().get(header::SET_COOKIE).and_then(|c| c.to_str().ok()).expect("a cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert_eq!(browser.get("/workflows").await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_the_cookie_a_wrong_token_or_a_foreign_host_nothing_is_served() {
    let browser = Browser::new();
    let bare = Request::get("/workflows").header(header::HOST, HOST).body(Body::empty()).expect("request");
    let (status, page) = text(browser.send(bare).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Open the console with the link"), "{page}");
    let wrong = Request::get("/?token=guess").header(header::HOST, HOST).body(Body::empty()).expect("request");
    assert_eq!(browser.send(wrong).await.status(), StatusCode::FORBIDDEN);
    // DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends its own Host.
    let rebound = Request::get("/workflows")
        .header(header::HOST, "evil.example:4000")
        .header(header::COOKIE, browser.session())
        .body(Body::empty())
        .expect("request");
    assert_eq!(browser.send(rebound).await.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn a_change_without_the_form_token_or_from_another_origin_is_refused_and_changes_nothing() {
    let browser = Browser::new();
    let no_token = browser.post_raw("/workflows/new", WORKFLOW, Some(ORIGIN)).await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let token = browser.form_token();
    let mut with_token = vec![("form_token", token.as_str())];
    with_token.extend_from_slice(WORKFLOW);
    let foreign = browser.post_raw("/workflows/new", &with_token, Some("http://evil.example")).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let no_origin = browser.post_raw("/workflows/new", &with_token, None).await;
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
    assert!(browser.get("/workflows").await.1.contains("No workflows yet"), "nothing was created");
}

#[tokio::test]
async fn a_saved_form_creates_the_workflow_disabled_and_the_switch_enables_it() {
    let browser = Browser::new();
    let response = browser.post("/workflows/new", WORKFLOW).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/workflows/clips?saved=created");
    let (_, page) = browser.get("/workflows/clips?saved=created").await;
    assert!(page.contains("Workflow created. It is disabled") && page.contains("Manage Workflow"), "{page}");
    assert!(page.contains("name: clips"), "its YAML: {page}");
    let (_, list) = browser.get("/workflows").await;
    assert!(list.contains(r#"aria-checked="false""#) && list.contains("Disabled"), "{list}");
    assert!(list.contains("s3://media/in/") && list.contains("s3://media/out/") && list.contains("Screenshot"));
    // The console checks what the CLI checks: without the events queue it cannot tell whether
    // the bucket's uploads reach mediaflow, and says so.
    let refused = browser.post("/workflows/clips/state", &[("enabled", "on")]).await;
    let (status, page) = text(refused).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("clips: the events queue"), "{page}");
    assert!(!browser.memory.snapshot().await.expect("memory").workflows[0].enabled);
}

#[tokio::test]
async fn a_refused_form_shows_each_problem_beside_its_field_and_creates_nothing() {
    let browser = Browser::new();
    let mut bad = WORKFLOW.to_vec();
    bad[0] = ("name", "bad name!");
    bad.push(("tasks[0].snapshot.width", "-3"));
    let (status, page) = text(browser.post("/workflows/new", &bad).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"id="name-error" role="alert">must be 1–128 letters"#), "{page}");
    assert!(page.contains(r#"id="tasks-0--snapshot-width-error""#), "{page}");
    assert!(page.contains(r#"value="bad name!""#), "the form keeps what was typed");
    assert!(browser.get("/workflows").await.1.contains("No workflows yet"));
    // Add task shows the form again with one more task, saving nothing.
    let (status, page) = text(browser.post("/workflows/new", &[("name", "x"), ("action", "add_task")]).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Task 1") && page.contains(r#"name="tasks[0].type""#), "{page}");
}

#[tokio::test]
async fn values_from_buckets_are_shown_as_text_never_run() {
    let browser = Browser::new();
    assert_eq!(browser.post("/workflows/new", WORKFLOW).await.status(), StatusCode::SEE_OTHER);
    let workflow = browser.memory.snapshot().await.expect("memory").workflows.remove(0);
    let key = "in/<img src=x onerror=alert(1)>.mp4";
    browser.memory.job_for_upload(&workflow, key, b"not media").await;
    let (status, page) = browser.get("/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;.mp4") || page.contains("&#60;img"), "{page}");
}

#[tokio::test]
async fn edit_clone_and_delete_keep_to_the_domain_and_ask_before_deleting() {
    let browser = Browser::new();
    assert_eq!(browser.post("/workflows/new", WORKFLOW).await.status(), StatusCode::SEE_OTHER);
    // Clone: the form filled from the workflow, under a new name.
    let (_, clone) = browser.get("/workflows/new?from=clips").await;
    assert!(clone.contains(r#"value="clips-copy""#) && clone.contains(r#"value="in/""#), "{clone}");
    // Edit: the form, with the name fixed; a change is saved as a new revision.
    let (_, edit) = browser.get("/workflows/clips/edit").await;
    assert!(edit.contains(r#"name="name" value="clips" readonly"#), "{edit}");
    let mut changed = WORKFLOW.to_vec();
    changed[4] = ("output.dir", "thumbs/");
    let saved = browser.post("/workflows/clips/edit", &changed).await;
    assert_eq!(location(&saved), "/workflows/clips?saved=edited");
    let workflow = &browser.memory.snapshot().await.expect("memory").workflows[0];
    assert_eq!((workflow.output.dir.as_str(), workflow.revision), ("thumbs/", 2));
    // Its YAML: another name, or a broken document, is refused and changes nothing.
    let yaml = "name: other\ntrigger: {bucket: media, dir: in/}\ntasks: [{type: snapshot, times: [1]}]\n";
    let (status, page) = text(browser.post("/workflows/clips/yaml", &[("yaml", yaml)]).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("this page edits &#34;clips&#34;") || page.contains("this page edits &quot;clips&quot;"),
        "{page}"
    );
    let (status, _) = text(browser.post("/workflows/clips/yaml", &[("yaml", "tasks: [")]).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(browser.memory.snapshot().await.expect("memory").workflows[0].revision, 2);
    // Delete asks first; the POST deletes.
    let (_, confirm) = browser.get("/workflows/clips/delete").await;
    assert!(confirm.contains("Delete workflow clips?"), "{confirm}");
    assert_eq!(browser.post("/workflows/clips/delete", &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(browser.memory.snapshot().await.expect("memory").workflows.is_empty());
    assert_eq!(browser.get("/workflows/clips").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn jobs_are_filtered_by_status_and_a_bad_since_is_said() {
    let browser = Browser::new();
    assert_eq!(browser.post("/workflows/new", WORKFLOW).await.status(), StatusCode::SEE_OTHER);
    let workflow = browser.memory.snapshot().await.expect("memory").workflows.remove(0);
    let id = browser.memory.job_for_upload(&workflow, "in/a.mp4", b"x").await;
    browser.memory.job_for_upload(&workflow, "in/b.mp4", b"y").await;
    let (_, waiting) = browser.get("/jobs?status=waiting").await;
    assert!(waiting.contains("s3://media/in/a.mp4") && waiting.contains(">Waiting<"), "{waiting}");
    // Each tab says how many jobs it holds, and over which window.
    for (tab, count) in [("All", 2), ("Waiting", 2), ("Running", 0), ("Succeeded", 0), ("Failed", 0)] {
        assert!(waiting.contains(&format!(">{tab} <span class=\"count\">{count}</span>")), "{tab}: {waiting}");
    }
    assert!(waiting.contains("Counts: jobs created in the last 7 days"), "{waiting}");
    let (_, succeeded) = browser.get("/jobs?status=succeeded").await;
    assert!(succeeded.contains("No jobs match these filters"), "{succeeded}");
    // One upload's jobs, by its key.
    let (_, one) = browser.get("/jobs?key=s3%3A%2F%2Fmedia%2Fin%2Fb.mp4").await;
    assert!(one.contains("s3://media/in/b.mp4") && !one.contains("s3://media/in/a.mp4"), "{one}");
    let (status, bad) = browser.get("/jobs?key=in%2Fb.mp4").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("Key: write it as s3://bucket/path/video.mp4"), "{bad}");
    let (status, page) = browser.get("/jobs?since=yesterday-ish").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Since: "), "{page}");
    let (status, job) = browser.get(&format!("/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(job.contains("Screenshot") && job.contains("not probed yet"), "{job}");
    assert_eq!(browser.get("/jobs/job-nope").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn why_says_which_workflows_an_object_starts_and_runs_one_on_it() {
    let browser = Browser::new();
    assert_eq!(browser.post("/workflows/new", WORKFLOW).await.status(), StatusCode::SEE_OTHER);
    // Uploaded while the workflow was disabled.
    browser.memory.put_object(ObjectRef::new("media", "in/old.mp4"), b"video".to_vec(), None);
    let (_, page) = browser.get("/why?object=s3%3A%2F%2Fmedia%2Fin%2Fold.mp4").await;
    assert!(page.contains(">No<") && page.contains("disabled"), "{page}");
    let (_, elsewhere) = browser.get("/why?object=s3%3A%2F%2Fmedia%2Fother%2Fx.mp4").await;
    assert!(elsewhere.contains("outside trigger dir"), "{elsewhere}");
    let (status, bad) = browser.get("/why?object=media%2Fx.mp4").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("write it as s3://bucket/path/video.mp4"), "{bad}");
    let run = browser.post("/why/run", &[("workflow", "clips"), ("object", "s3://media/in/old.mp4")]).await;
    assert_eq!(run.status(), StatusCode::SEE_OTHER);
    assert!(location(&run).starts_with("/jobs/job-"), "{}", location(&run));
    assert_eq!(browser.memory.job_count(), 1);
}

#[tokio::test]
async fn a_scored_output_shows_its_score_and_its_task_its_warnings_on_the_jobs_page() {
    let browser = Browser::new();
    assert_eq!(browser.post("/workflows/new", WORKFLOW).await.status(), StatusCode::SEE_OTHER);
    let workflow = browser.memory.snapshot().await.expect("memory").workflows.remove(0);
    let id = browser.memory.job_for_upload(&workflow, "in/a.mp4", b"x").await;
    let score = QualityScore::of(QualityMetric::Vmaf, [95.0, 91.5]).expect("a score");
    browser.memory.change_task(&id, 0, |task| {
        task.status = TaskStatus::Success;
        task.outputs = vec![OutputFile {
            bucket: "media".into(),
            key: "out/a_transcode_1.mp4".into(),
            size: 2048,
            duration: Some(2.0),
            width: Some(1280),
            height: Some(720),
            quality: vec![score.clone()],
            tuning: None,
        }];
        task.warnings = vec!["crf auto not tuned, encoded at the default CRF 23: <no libvmaf>".into()];
    });
    let (_, page) = browser.get(&format!("/jobs/{id}")).await;
    assert!(page.contains("s3://media/out/a_transcode_1.mp4"), "{page}");
    assert!(page.contains("VMAF 93.25 (1 % low 91.50, min 91.50)"), "{page}");
    assert!(page.contains("Warning: crf auto not tuned, encoded at the default CRF 23: "), "{page}");
    assert!(!page.contains("<no libvmaf>"), "a warning is shown as text: {page}");
}

#[tokio::test]
async fn a_failed_job_is_redone_from_its_page_and_in_bulk() {
    let browser = Browser::new();
    assert_eq!(browser.post("/workflows/new", WORKFLOW).await.status(), StatusCode::SEE_OTHER);
    let workflow = browser.memory.snapshot().await.expect("memory").workflows.remove(0);
    let mut ids = Vec::new();
    for key in ["in/a.mp4", "in/b.mp4"] {
        let id = browser.memory.job_for_upload(&workflow, key, b"x").await;
        browser.memory.change_task(&id, 0, |task| {
            task.status = TaskStatus::Fail;
            task.error = Some(TaskError { code: ErrorCode::SourceCorrupt, message: "damaged".into() });
        });
        browser.memory.change_job(&id, |job| {
            job.status = JobStatus::Finish;
            job.failed_tasks = 1;
        });
        ids.push(id);
    }
    let (_, page) = browser.get(&format!("/jobs/{}", ids[0])).await;
    assert!(page.contains("Redo failed tasks") && page.contains("Redo task 1"), "{page}");
    let redone = browser.post(&format!("/jobs/{}/redo", ids[0]), &[("task", "0")]).await;
    assert_eq!(redone.status(), StatusCode::SEE_OTHER);
    let (_, failed) = browser.get("/jobs?status=failed").await;
    assert!(failed.contains("Redo selected") && failed.contains(&format!(r#"value="{}""#, ids[1])), "{failed}");
    let both = [("job", ids[0].as_str()), ("job", ids[1].as_str())];
    let (_, page) = text(browser.post("/jobs/redo", &both).await).await;
    assert!(page.contains("1 job(s) sent to run their failed tasks again."), "{page}");
    assert!(page.contains(&format!("Not redone: {}", ids[0])), "the first is running again: {page}");
    assert_eq!(browser.memory.sent().len(), 2, "two preparations sent");
}

#[tokio::test]
async fn a_bucket_is_browsed_by_folder_and_its_files_are_reached_only_through_signed_links() {
    let browser = Browser::new();
    browser.memory.put_object(ObjectRef::new("media", "in/a.jpg"), vec![1; 2048], None);
    browser.memory.put_object(ObjectRef::new("media", "in/deep/b.mp4"), vec![2; 10], None);
    let (_, buckets) = browser.get("/buckets").await;
    assert!(buckets.contains(r#"href="/buckets/media""#) && buckets.contains("Create bucket"), "{buckets}");
    let (_, folder) = browser.get("/buckets/media?prefix=in%2F").await;
    assert!(folder.contains(">a.jpg<") && folder.contains("2.0 kB") && folder.contains(">deep/<"), "{folder}");
    // A folder, made as S3 consoles make them.
    let made = browser.post("/buckets/media/folders", &[("prefix", "in/"), ("name", "new")]).await;
    assert_eq!(location(&made), "/buckets/media?prefix=in%2Fnew%2F");
    assert!(browser.memory.object(&ObjectRef::new("media", "in/new/")).is_some());
    // An upload link for one object; the bytes never pass through the console.
    let (status, link) =
        text(browser.post("/buckets/media/uploads", &[("key", "in/c.mp4"), ("content_type", "video/mp4")]).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(link.contains(r#""url":"memory://media/in/c.mp4?put""#), "{link}");
    let (_, preview) = browser.get("/buckets/media/object?key=in%2Fa.jpg").await;
    assert!(preview.contains(r#"<img src="memory://media/in/a.jpg?get""#), "{preview}");
    assert_eq!(browser.get("/buckets/media/object?key=in%2Fnope.jpg").await.0, StatusCode::NOT_FOUND);
    // Delete asks first.
    let (_, confirm) = browser.get("/buckets/media/delete?key=in%2Fa.jpg").await;
    assert!(confirm.contains("Delete a.jpg?"), "{confirm}");
    let deleted = browser.post("/buckets/media/delete", &[("key", "in/a.jpg")]).await;
    assert_eq!(location(&deleted), "/buckets/media?prefix=in%2F");
    assert!(browser.memory.object(&ObjectRef::new("media", "in/a.jpg")).is_none());
}

#[tokio::test]
async fn a_ladder_plays_from_rewritten_playlists_and_sprites_show_their_thumbnails() {
    let browser = Browser::new();
    let put = |key: &str, text: &str| browser.memory.put_object(ObjectRef::new("media", key), text.into(), None);
    put("out/clip.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240\nclip_0.m3u8\n");
    put(
        "out/clip_0.m3u8",
        "#EXTM3U\n#EXT-X-MAP:URI=\"clip_0_init.mp4\"\n#EXTINF:2.0,\nclip_0_00000.m4s\n#EXT-X-ENDLIST\n",
    );
    put("out/clip.vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nclip_0.jpg#xywh=80,0,80,44\n");
    put("out/x');}body{background:url('y.vtt", "WEBVTT\n\n0 --> 1\nx');}body{background:url('y.jpg#xywh=0,0,8,8\n");
    let (_, page) = browser.get("/buckets/media/object?key=out%2Fclip.m3u8").await;
    assert!(page.contains(r#"data-playlist="/buckets/media/playlist?key=out%2Fclip.m3u8""#), "{page}");
    assert!(page.contains(r#"<script src="/assets/hls.light.min.js""#), "{page}");
    // The master's variants come back through the console; the media playlist's segments and
    // init section are signed links, one per object.
    let (status, master) = browser.get("/buckets/media/playlist?key=out%2Fclip.m3u8").await;
    assert_eq!(status, StatusCode::OK);
    assert!(master.contains("\n/buckets/media/playlist?key=out%2Fclip_0.m3u8\n"), "{master}");
    let (_, media) = browser.get("/buckets/media/playlist?key=out%2Fclip_0.m3u8").await;
    assert!(media.contains("#EXT-X-MAP:URI=\"memory://media/out/clip_0_init.mp4?get\""), "{media}");
    assert!(media.contains("\nmemory://media/out/clip_0_00000.m4s?get\n"), "{media}");
    assert_eq!(browser.get("/buckets/media/playlist?key=out%2Fclip.vtt").await.0, StatusCode::BAD_REQUEST);
    let (_, sprites) = browser.get("/buckets/media/object?key=out%2Fclip.vtt").await;
    assert!(
        sprites.contains("background-image: url('memory://media/out/clip_0.jpg?get'); background-position: -80px -0px"),
        "{sprites}"
    );
    assert!(sprites.contains("00:00:00.000 – 00:00:01.000"), "{sprites}");
    // A sheet whose name is CSS stays inside its url().
    let (_, hostile) =
        browser.get("/buckets/media/object?key=out%2Fx%27%29%3B%7Dbody%7Bbackground%3Aurl%28%27y.vtt").await;
    assert!(hostile.contains("url('memory://media/out/x%27%29;}body{background:url%28%27y.jpg?get')"), "{hostile}");
    assert_eq!(browser.get("/assets/hls.light.min.js").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_large_file_is_sent_in_signed_parts_and_joined() {
    let browser = Browser::new();
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).expect("JSON");
    let (status, begun) = text(browser.post("/buckets/media/multipart", &[("key", "in/film.mp4")]).await).await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    let upload_id = json(&begun)["upload_id"].as_str().expect("an upload id").to_owned();
    // The bucket now lets this console's pages send it bytes.
    assert_eq!(browser.memory.allowed_origins("media"), [ORIGIN]);
    let part = [("key", "in/film.mp4"), ("upload_id", upload_id.as_str()), ("number", "2")];
    let (_, link) = text(browser.post("/buckets/media/multipart/part", &part).await).await;
    assert_eq!(json(&link)["url"], format!("memory://media/in/film.mp4?part=2&upload={upload_id}"));
    let unnumbered = [("key", "in/film.mp4"), ("upload_id", upload_id.as_str()), ("number", "0")];
    assert_eq!(
        browser.post("/buckets/media/multipart/part", &unnumbered).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let garbled = [("key", "in/film.mp4"), ("upload_id", upload_id.as_str()), ("parts", "one")];
    assert_eq!(
        browser.post("/buckets/media/multipart/complete", &garbled).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let parts = [("key", "in/film.mp4"), ("upload_id", upload_id.as_str()), ("parts", "1:\"a\",2:\"b\"")];
    assert_eq!(browser.post("/buckets/media/multipart/complete", &parts).await.status(), StatusCode::OK);
    assert_eq!(browser.memory.object(&ObjectRef::new("media", "in/film.mp4")), Some(b"\"a\",\"b\"".to_vec()));
    let abort = [("key", "in/other.mp4"), ("upload_id", "u-1")];
    assert_eq!(browser.post("/buckets/media/multipart/abort", &abort).await.status(), StatusCode::OK);
    // Without the session's form token, nothing is signed.
    let (status, _) =
        text(browser.post_raw("/buckets/media/multipart", &[("key", "in/x.mp4")], Some(ORIGIN)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn each_bucket_says_what_the_stacks_functions_may_do_with_it() {
    let memory = Arc::new(Memory::default());
    for bucket in ["media", "outputs", "elsewhere"] {
        memory.put_object(ObjectRef::new(bucket, "a.mp4"), vec![1], None);
    }
    let mut admin = admin(&memory);
    admin.stack_buckets = StackBuckets { read: vec!["media".into()], write: vec!["media".into(), "outputs".into()] };
    let access = Access::local(4000);
    let browser = Browser { memory, router: router(Arc::new(admin), access.clone()), access };
    let (_, page) = browser.get("/buckets").await;
    let row = |bucket: &str| {
        let start = page.find(&format!(">{bucket}</a>")).expect("a row");
        page[start..].split("</tr>").next().unwrap_or_default().to_owned()
    };
    assert!(row("media").contains("reads its uploads, writes outputs"), "{}", row("media"));
    assert!(row("outputs").contains("cannot read it, writes outputs"), "{}", row("outputs"));
    assert!(row("outputs").contains("add it to the stack&#39;s TriggerBuckets parameter"), "{}", row("outputs"));
    let elsewhere = row("elsewhere");
    assert!(elsewhere.contains("cannot read it, writes no outputs"), "{elsewhere}");
    assert!(elsewhere.contains("add it to OutputBuckets to write outputs there"), "{elsewhere}");
}
