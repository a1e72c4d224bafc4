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
struct Browser {
    client: reqwest::Client,
    origin: String,
    cookie: String,
    form_token: String,
}

impl Browser {
    /// Opens the printed link, as a user clicks it.
    async fn open(link: &str) -> anyhow::Result<Browser> {
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

    async fn get(&self, path: &str) -> anyhow::Result<String> {
        let response = self.client.get(format!("{}{path}", self.origin)).header(COOKIE, &self.cookie).send().await?;
        ensure!(response.status() == StatusCode::OK, "GET {path}: {}", response.status());
        Ok(response.text().await?)
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
    let mut console = mediaflow_command(&h.stack.environment(), h.dir.path())?
        .arg("console")
        .stdout(std::process::Stdio::piped())
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
    let list = browser.get(&format!("/jobs?workflow={name}&status=succeeded")).await?;
    assert!(list.contains(&format!("s3://{}/in/clip.mp4", h.bucket)), "{list}");
    // The tabs count the workflow's jobs through its index.
    for (tab, count) in [("All", 1), ("Waiting", 0), ("Running", 0), ("Succeeded", 1), ("Failed", 0)] {
        assert!(list.contains(&format!(">{tab} <span class=\"count\">{count}</span>")), "{tab}: {list}");
    }
    let failed = browser.get(&format!("/jobs?workflow={name}&status=failed")).await?;
    assert!(failed.contains("No jobs match these filters"), "{failed}");
    console.kill().await?;
    Ok(())
}
