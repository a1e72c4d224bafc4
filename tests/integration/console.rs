//! The console as a user meets it: `mediaflow console` on the local stack, its printed link
//! opened, a workflow created with the Create workflow form, switched on in the list, a video
//! uploaded, and the job read on its page.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{StatusCode, redirect};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{Harness, JOB_TIMEOUT, fixture, mediaflow_command};

/// A browser of the console: its address, its session cookie and its form token.
pub struct Browser {
    client: reqwest::Client,
    origin: String,
    cookie: String,
    form_token: String,
}

impl Browser {
    /// Opens the printed link, as a user clicks it.
    pub async fn open(link: &str) -> anyhow::Result<Browser> {
        let client = reqwest::Client::builder().redirect(redirect::Policy::none()).build()?;
        let origin = link.split("/?").next().context("an origin")?.to_owned();
        let opened = client.get(link).send().await?;
        ensure!(opened.status() == StatusCode::SEE_OTHER, "the link redirects: {}", opened.status());
        ensure!(opened.headers()[LOCATION] == "/", "the token leaves the address bar");
        let cookie = opened.headers()[SET_COOKIE].to_str()?.split(';').next().context("a cookie")?.to_owned();
        let mut browser = Browser { client, origin, cookie, form_token: String::new() };
        let page = browser.get("/workflows/new").await?;
        let marker = r#"name="form_token" value=""#;
        let start = page.find(marker).context("a form token")? + marker.len();
        browser.form_token = page[start..].split('"').next().context("its end")?.to_owned();
        Ok(browser)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<String> {
        let response = self.client.get(format!("{}{path}", self.origin)).header(COOKIE, &self.cookie).send().await?;
        let status = response.status();
        let page = response.text().await?;
        ensure!(status == StatusCode::OK, "GET {path}: {status}: {page}");
        Ok(page)
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<(StatusCode, String, String)> {
        let mut pairs = vec![("form_token", self.form_token.as_str())];
        pairs.extend_from_slice(form);
        let response = self
            .client
            .post(format!("{}{path}", self.origin))
            .header(COOKIE, &self.cookie)
            .header(ORIGIN, &self.origin)
            .form(&pairs)
            .send()
            .await?;
        let location = response.headers().get(LOCATION).map(|l| l.to_str().unwrap_or_default().to_owned());
        Ok((response.status(), location.unwrap_or_default(), response.text().await?))
    }
}

/// `mediaflow console` on the harness's stack, and the link it printed.
pub async fn start_console(h: &Harness) -> anyhow::Result<(tokio::process::Child, String)> {
    console_in(&h.stack.environment(), h.dir.path()).await
}

/// `mediaflow console` with `environment`, and the link it printed; its log goes to
/// `console.log` in `home`.
pub async fn console_in(
    environment: &[(&str, String)],
    home: &std::path::Path,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let log = std::fs::File::create(home.join("console.log"))?;
    let mut console = mediaflow_command(environment, home)?
        .arg("console")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()?;
    let mut lines = BufReader::new(console.stdout.take().context("its output")?).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await??.context("a line")?;
    let link = line.strip_prefix("console: ").with_context(|| format!("the link line: {line}"))?.to_owned();
    ensure!(link.starts_with("http://127.0.0.1:") && link.contains("/?token="), "{link}");
    Ok((console, link))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_made_in_the_console_processes_an_upload_shown_on_its_job_page() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (mut console, link) = start_console(&h).await?;
    let browser = Browser::open(&link).await?;

    // A refused form creates nothing and says why beside the field.
    let name = h.name("console");
    let mut form = vec![
        ("name", "bad name!"),
        ("trigger.bucket", h.bucket.as_str()),
        ("trigger.dir", "in/"),
        ("output.bucket", ""),
        ("output.dir", "out/"),
        ("tasks[0].type", "snapshot"),
        ("tasks[0].snapshot.times", "0"),
        ("action", "save"),
    ];
    let (status, _, page) = browser.post("/workflows/new", &form).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("must be 1–128 letters"), "{page}");
    assert!(h.stack.admin().workflows().await?.is_empty());

    // Saved: disabled, until its switch is turned on.
    form[0] = ("name", name.as_str());
    let (status, location, _) = browser.post("/workflows/new", &form).await?;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, format!("/workflows/{name}?saved=created").as_str())
    );
    assert!(browser.get(&location).await?.contains("It is disabled"));
    assert!(!h.stack.admin().workflow(&name).await?.enabled);
    let (status, ..) = browser.post(&format!("/workflows/{name}/state"), &[("enabled", "on")]).await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(browser.get("/workflows").await?.contains(r#"aria-checked="true""#));

    // An upload runs it; the job's page shows the output.
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let (job, _) = h.job_of(&object).await?;
    let started = Instant::now();
    let page = loop {
        let page = browser.get(&format!("/jobs/{}", job.id)).await?;
        if page.contains(">Succeeded<") || started.elapsed() > JOB_TIMEOUT {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(page.contains(">Succeeded<"), "{page}");
    assert!(page.contains("out/clip_snapshotByTimeOffset_1_0.jpg"), "{page}");
    // And what it used and cost, once its last invocation ended.
    let page = loop {
        let page = browser.get(&format!("/jobs/{}", job.id)).await?;
        if page.contains("<dt>Cost</dt>") || started.elapsed() > JOB_TIMEOUT {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(page.contains("<dt>Used</dt><dd>") && page.contains(" GB-s "), "{page}");
    assert!(page.contains("us-east-1 prices: Lambda and S3 as of 2025-10-01"), "{page}");
    let list = browser.get(&format!("/jobs?workflow={name}&status=succeeded")).await?;
    assert!(list.contains(&format!("s3://{}/in/clip.mp4", h.bucket)), "{list}");
    // The tabs count the workflow's jobs through its index.
    for (tab, count) in [("All", 1), ("Waiting", 0), ("Running", 0), ("Succeeded", 1), ("Failed", 0)] {
        assert!(list.contains(&format!(">{tab} <span class=\"count\">{count}</span>")), "{tab}: {list}");
    }
    let failed = browser.get(&format!("/jobs?workflow={name}&status=failed")).await?;
    assert!(failed.contains("No jobs match these filters"), "{failed}");
    // By the upload's key, through the by-input index.
    let by_key = browser.get(&format!("/jobs?key=s3%3A%2F%2F{}%2Fin%2Fclip.mp4", h.bucket)).await?;
    assert!(by_key.contains(&format!("/jobs/{}", job.id)), "{by_key}");
    let other = browser.get(&format!("/jobs?key=s3%3A%2F%2F{}%2Fin%2Fother.mp4", h.bucket)).await?;
    assert!(other.contains("No jobs match these filters"), "{other}");
    console.kill().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_file_goes_up_in_parts_that_resume_and_abort() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (mut console, link) = start_console(&h).await?;
    let browser = Browser::open(&link).await?;
    let bucket = format!("/buckets/{}", h.bucket);
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).context("a JSON answer");
    let s3 = &h.stack.clients.s3;
    // S3's smallest part is 5 MiB (all but the last); the page's parts are at least 8 MiB.
    let first: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let last = vec![7u8; 1024 * 1024];
    let put_part = |url: String, bytes: Vec<u8>| {
        let client = reqwest::Client::new();
        let origin = browser.origin.clone();
        async move {
            let sent = client.put(url).header(ORIGIN, origin).body(bytes).send().await?;
            ensure!(sent.status().is_success(), "PUT of a part: {}", sent.status());
            let etag = sent.headers().get("etag").context("the part's ETag")?.to_str()?.to_owned();
            // The bucket shows the ETag to the console's pages (its CORS rule exposes it).
            let exposed = sent.headers().get("access-control-expose-headers").map(|v| v.to_str().unwrap_or_default());
            ensure!(exposed.is_some_and(|v| v.contains("ETag")), "ETag exposed to the page: {exposed:?}");
            anyhow::Ok(etag)
        }
    };

    // Begun, one part sent (the page keeps its ETag: a reload resumes from there).
    let key = ("key", "big/film.bin");
    let (status, _, body) = browser.post(&format!("{bucket}/multipart"), &[key, ("content_type", "video/mp4")]).await?;
    ensure!(status == StatusCode::OK, "{status} {body}");
    let upload_id = json(&body)?["upload_id"].as_str().context("an upload id")?.to_owned();
    let cors = s3.get_bucket_cors().bucket(&h.bucket).send().await?;
    ensure!(
        cors.cors_rules().iter().any(|rule| rule.allowed_origins().contains(&browser.origin)),
        "the bucket lets the console's pages in"
    );
    let part = |number: &'static str| [key, ("upload_id", upload_id.as_str()), ("number", number)];
    let (_, _, body) = browser.post(&format!("{bucket}/multipart/part"), &part("1")).await?;
    let etag = put_part(json(&body)?["url"].as_str().context("a link")?.to_owned(), first.clone()).await?;
    // The rest, then the parts joined into the object.
    let (_, _, body) = browser.post(&format!("{bucket}/multipart/part"), &part("2")).await?;
    let etag2 = put_part(json(&body)?["url"].as_str().context("a link")?.to_owned(), last.clone()).await?;
    let parts = format!("1:{etag},2:{etag2}");
    let (status, _, body) = browser
        .post(&format!("{bucket}/multipart/complete"), &[key, ("upload_id", upload_id.as_str()), ("parts", &parts)])
        .await?;
    ensure!(status == StatusCode::OK, "{status} {body}");
    let stored = s3.get_object().bucket(&h.bucket).key("big/film.bin").send().await?;
    assert_eq!(stored.content_type(), Some("video/mp4"));
    let bytes = stored.body.collect().await?.into_bytes();
    assert!(bytes.len() == first.len() + last.len() && bytes[..first.len()] == first[..], "the parts in order");

    // Aborted: the stored parts are dropped, and a part sent to it later is refused (the page
    // then starts afresh).
    let other = ("key", "big/other.bin");
    let (_, _, body) = browser.post(&format!("{bucket}/multipart"), &[other]).await?;
    let aborted_id = json(&body)?["upload_id"].as_str().context("an upload id")?.to_owned();
    let (_, _, body) = browser
        .post(&format!("{bucket}/multipart/part"), &[other, ("upload_id", aborted_id.as_str()), ("number", "1")])
        .await?;
    let late = json(&body)?["url"].as_str().context("a link")?.to_owned();
    put_part(late.clone(), first.clone()).await?;
    let (status, ..) =
        browser.post(&format!("{bucket}/multipart/abort"), &[other, ("upload_id", aborted_id.as_str())]).await?;
    ensure!(status == StatusCode::OK);
    let open = s3.list_multipart_uploads().bucket(&h.bucket).send().await?;
    ensure!(open.uploads().iter().all(|u| u.key() != Some("big/other.bin")), "no parts left: {:?}", open.uploads());
    let refused = reqwest::Client::new().put(late).body(first.clone()).send().await?;
    // S3 answers 404 NoSuchUpload (the local server, 500).
    assert!(!refused.status().is_success(), "a part of an aborted upload: {}", refused.status());
    console.kill().await?;
    Ok(())
}
