//! The console in a real browser (Debian's Chromium through chromedriver), walked by the labels
//! a new user reads: Create workflow, fill the form, Add task, Save, switch it on, then the
//! job of an upload on the Jobs page; and the previews of a ladder (hls.js) and of sprites.
//! Screenshots land in `target/console-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::console::start_console;
use crate::support::{Harness, JOB_TIMEOUT, fixture};

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> anyhow::Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("chromedriver (apt: chromium-driver; make test installs it)")?;
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            ensure!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(driver)
    }

    async fn browser(&self) -> anyhow::Result<Client> {
        // The driver is plain http; the TLS stack still wants one provider named.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]}),
        );
        Ok(ClientBuilder::rustls()?.capabilities(capabilities).connect(&self.url).await?)
    }
}

/// Fills the input or picks the option of the field labelled `label`.
async fn fill(browser: &Client, label: &str, value: &str) -> anyhow::Result<()> {
    let input = field(browser, label).await?;
    input.clear().await?;
    input.send_keys(value).await?;
    Ok(())
}

async fn field(browser: &Client, label: &str) -> anyhow::Result<fantoccini::elements::Element> {
    let xpath = format!("//label[normalize-space()='{label}' and not(ancestor::*[@data-inactive])]");
    let label = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
        .with_context(|| format!("a field labelled {label:?}"))?;
    let id = label.attr("for").await?.context("the label's field")?;
    Ok(browser.find(Locator::Id(&id)).await?)
}

async fn click_button(browser: &Client, text: &str) -> anyhow::Result<()> {
    let xpath = format!("//button[normalize-space()='{text}'] | //a[normalize-space()='{text}']");
    let button = browser.wait().at_most(WAIT).for_element(Locator::XPath(&xpath)).await;
    button.with_context(|| format!("a button {text:?}"))?.click().await?;
    Ok(())
}

/// Clicks what `locator` finds, once the page shows it.
async fn click_when_shown(browser: &Client, locator: Locator<'_>) -> anyhow::Result<()> {
    browser.wait().at_most(WAIT).for_element(locator).await?.click().await?;
    Ok(())
}

/// How long a page may take to show what is looked for (the next page loads after a click).
const WAIT: Duration = Duration::from_secs(10);

/// The page's text, once it contains `needle` (after a click, the next page).
async fn expect_text(browser: &Client, needle: &str) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        let page = text(browser).await.unwrap_or_default();
        if page.contains(needle) {
            return Ok(page);
        }
        ensure!(started.elapsed() < WAIT, "the page never said {needle:?}: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The switch of workflow `name`, once it is `checked`.
async fn switch_of(browser: &Client, name: &str, checked: &str) -> anyhow::Result<fantoccini::elements::Element> {
    let css = format!("button[role=switch][aria-label='Enabled: {name}'][aria-checked='{checked}']");
    let found = browser.wait().at_most(WAIT).for_element(Locator::Css(&css)).await;
    found.with_context(|| format!("the switch of {name} at {checked}"))
}

async fn text(browser: &Client) -> anyhow::Result<String> {
    Ok(browser.find(Locator::Css("main")).await?.text().await?)
}

fn screenshots() -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/console-screenshots"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn screenshot(browser: &Client, name: &str) -> anyhow::Result<()> {
    let png = browser.screenshot().await?;
    std::fs::write(screenshots()?.join(format!("{name}.png")), png)?;
    Ok(())
}

/// Starts the preview's `<video>` (muted) and waits until it has played past `seconds`; the
/// element, as script arguments.
async fn play_preview(browser: &Client, seconds: f64) -> anyhow::Result<Vec<serde_json::Value>> {
    let video = browser.wait().at_most(WAIT).for_element(Locator::Css(".preview video")).await?;
    let video = vec![serde_json::to_value(&video)?];
    browser.execute("arguments[0].muted = true; arguments[0].play();", video.clone()).await?;
    let started = Instant::now();
    loop {
        let time = browser.execute("return arguments[0].currentTime", video.clone()).await?;
        if time.as_f64().is_some_and(|t| t > seconds) {
            return Ok(video);
        }
        let error = browser.execute("return arguments[0].error && arguments[0].error.message", video.clone()).await?;
        ensure!(started.elapsed() < WAIT, "never played: {error}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_creates_enables_and_watches_a_workflow_in_the_browser() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (mut console, link) = start_console(&h).await?;
    let driver = Driver::start().await?;
    let browser = driver.browser().await?;
    let result = walk(&h, &browser, &link).await;
    if result.is_err() {
        let _ = screenshot(&browser, "failed").await;
    }
    browser.close().await?;
    console.kill().await?;
    result
}

async fn walk(h: &Harness, browser: &Client, link: &str) -> anyhow::Result<()> {
    browser.goto(link).await?;
    ensure!(!browser.current_url().await?.as_str().contains("token="), "the token left the address bar");
    click_button(browser, "Create workflow").await?;

    // A name the domain refuses: said beside the field, nothing created.
    fill(browser, "Workflow name", "my first workflow").await?;
    fill(browser, "Trigger bucket", &h.bucket).await?;
    fill(browser, "Trigger directory", "in/").await?;
    fill(browser, "Output directory", "out/").await?;
    click_button(browser, "Add task").await?;
    field(browser, "Task type").await?.select_by_label("Screenshot").await?;
    fill(browser, "Times", "0, 50%").await?;
    screenshot(browser, "create-workflow").await?;
    click_button(browser, "Save").await?;
    expect_text(browser, "must be 1–128 letters").await?;
    ensure!(h.stack.admin().workflows().await?.is_empty(), "a refused form creates nothing");

    let name = h.name("first");
    fill(browser, "Workflow name", &name).await?;
    click_button(browser, "Save").await?;
    expect_text(browser, "Workflow created. It is disabled").await?;
    screenshot(browser, "workflow-created").await?;
    click_button(browser, "Manage Workflow").await?;
    switch_of(browser, &name, "false").await.context("created disabled")?.click().await?;
    switch_of(browser, &name, "true").await?;
    screenshot(browser, "workflows").await?;

    // MPS's getting started: a folder for the trigger directory, a video uploaded from the page.
    click_button(browser, "Buckets").await?;
    browser.find(Locator::LinkText(&h.bucket)).await?.click().await?;
    fill(browser, "Folder name", "in").await?;
    click_button(browser, "Create folder").await?;
    expect_text(browser, &format!("{}/in/", h.bucket)).await?;
    let clip_file = h.dir.path().join("clip.mp4");
    std::fs::copy(fixture("camera_1080p_h264_aac.mp4"), &clip_file)?;
    field(browser, "Upload").await?.send_keys(&clip_file.display().to_string()).await?;
    click_button(browser, "Upload").await?;
    browser.wait().at_most(WAIT).for_element(Locator::LinkText("clip.mp4")).await?;
    // A larger file in parts (8 MiB each, sent four at a time), above the size the page is told.
    let generated = h.lavfi_clip(
        "big.mp4",
        &["testsrc2=size=1280x720:rate=25:duration=3,noise=alls=60:allf=t"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "40M", "-pix_fmt", "yuv420p"],
    )?;
    let big = h.dir.path().join("big.mp4");
    std::fs::copy(generated, &big)?;
    let big_size = std::fs::metadata(&big)?.len();
    ensure!(big_size > 17 * 1024 * 1024, "three parts: {big_size} bytes");
    fill(browser, "Multipart above (MB)", "5").await?;
    field(browser, "Upload").await?.send_keys(&big.display().to_string()).await?;
    click_button(browser, "Upload").await?;
    browser.wait().at_most(WAIT).for_element(Locator::LinkText("big.mp4")).await?;
    let stored = h.stack.clients.s3.head_object().bucket(&h.bucket).key("in/big.mp4").send().await?;
    ensure!(stored.content_length() == Some(big_size as i64), "the parts make the file");
    ensure!(stored.e_tag().is_some_and(|etag| etag.ends_with("-3\"")), "a multipart upload: {:?}", stored.e_tag());
    screenshot(browser, "bucket").await?;
    let clip = mediaflow::domain::object::ObjectRef::new(&h.bucket, "in/clip.mp4");
    // And a key that is HTML, uploaded by someone else.
    let hostile = h.upload_bytes(b"not media", "in/<img src=x onerror=alert(1)>.mp4").await?;
    h.job_of(&clip).await?;
    h.job_of(&hostile).await?;
    click_button(browser, "Jobs").await?;
    expect_text(browser, "Status").await?;
    let big = mediaflow::domain::object::ObjectRef::new(&h.bucket, "in/big.mp4");
    h.job_of(&big).await?;
    let started = Instant::now();
    // The three jobs' rows, until each has ended.
    while browser.find_all(Locator::Css("td .badge.ok, td .badge.failed")).await?.len() < 3 {
        ensure!(started.elapsed() < JOB_TIMEOUT, "the jobs did not end: {}", text(browser).await?);
        tokio::time::sleep(Duration::from_millis(500)).await;
        browser.refresh().await?;
    }
    let page = text(browser).await?;
    ensure!(page.contains("<img src=x onerror=alert(1)>.mp4"), "the key shown as text: {page}");
    ensure!(browser.get_alert_text().await.is_err(), "no script ran");
    screenshot(browser, "jobs").await?;
    browser.find(Locator::XPath("//tr[contains(., 'in/clip.mp4')]//a")).await?.click().await?;
    let page = expect_text(browser, "out/clip_snapshotByTimeOffset_1_0.jpg").await?;
    ensure!(page.contains("Succeeded"), "{page}");
    // What it cost, once its last invocation ended.
    let started = Instant::now();
    while !text(browser).await?.contains(" GB-s ") {
        ensure!(started.elapsed() < WAIT, "no cost shown: {}", text(browser).await?);
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.refresh().await?;
    }
    screenshot(browser, "job").await?;

    // The outputs in the same file browser: the screenshot decodes, the video plays.
    click_button(browser, "Buckets").await?;
    browser.find(Locator::LinkText(&h.bucket)).await?.click().await?;
    click_when_shown(browser, Locator::LinkText("out/")).await?;
    click_when_shown(browser, Locator::LinkText("clip_snapshotByTimeOffset_1_0.jpg")).await?;
    let image = browser.wait().at_most(WAIT).for_element(Locator::Css(".preview img")).await?;
    let started = Instant::now();
    while browser.execute("return arguments[0].naturalWidth", vec![serde_json::to_value(&image)?]).await? == 0 {
        ensure!(started.elapsed() < WAIT, "the screenshot never decoded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(browser, "preview-image").await?;
    browser.back().await?;
    browser.back().await?;
    click_when_shown(browser, Locator::LinkText("in/")).await?;
    click_when_shown(browser, Locator::LinkText("clip.mp4")).await?;
    play_preview(browser, 0.0).await.context("the video")?;
    screenshot(browser, "preview-video").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ladder_chosen_per_title_plays_and_sprites_show_in_the_file_browser() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let flow = h
        .flow("previews")
        .task(json!({"type": "adaptive", "segment_seconds": 2, "renditions": "auto", "ladder": {"count": 1, "max_height": 240}}))
        .task(json!({"type": "sprite", "definition": "seek", "interval": 1, "width": 80, "columns": 4, "rows": 1}));
    h.workflow(flow).await?;
    let clip = h.lavfi_clip(
        "clip.mp4",
        &["testsrc2=size=640x360:rate=25:duration=4", "sine=frequency=440:sample_rate=48000:duration=4"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    )?;
    let object = h.upload(&clip, "in/clip.mp4").await?;
    let (_, tasks) = h.succeeded(&object).await?;
    let master = tasks[0].outputs.last().context("the master playlist")?.key.clone();
    let track = tasks[1].outputs.last().context("the WebVTT track")?.key.clone();
    let (mut console, link) = start_console(&h).await?;
    let driver = Driver::start().await?;
    let browser = driver.browser().await?;
    let result = previews(&h, &browser, &link, &master, &track).await;
    if result.is_err() {
        let _ = screenshot(&browser, "failed-previews").await;
    }
    browser.close().await?;
    console.kill().await?;
    result
}

async fn previews(h: &Harness, browser: &Client, link: &str, master: &str, track: &str) -> anyhow::Result<()> {
    browser.goto(link).await?;
    click_button(browser, "Buckets").await?;
    browser.find(Locator::LinkText(&h.bucket)).await?.click().await?;
    click_when_shown(browser, Locator::LinkText("out/")).await?;
    let name = master.rsplit('/').next().unwrap_or_default();
    click_when_shown(browser, Locator::LinkText(name)).await?;
    // The ladder plays in hls.js: the console's playlists, the segments from signed links.
    let video = play_preview(browser, 0.5).await.context("the ladder")?;
    let height = browser.execute("return arguments[0].videoHeight", video.clone()).await?;
    ensure!(height == json!(240), "the 240p rendition plays: {height}");
    screenshot(browser, "preview-hls").await?;
    // The sprite's WebVTT track: a thumbnail a second, each from its sheet.
    browser.back().await?;
    let name = track.rsplit('/').next().unwrap_or_default();
    click_when_shown(browser, Locator::LinkText(name)).await?;
    browser.wait().at_most(WAIT).for_element(Locator::Css("ol.thumbnails .thumb")).await?;
    let thumbnails = browser.find_all(Locator::Css("ol.thumbnails li")).await?;
    ensure!(thumbnails.len() == 4, "4 s, a thumbnail a second: {}", thumbnails.len());
    let sheet_width = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const style = getComputedStyle(document.querySelector('ol.thumbnails .thumb')).backgroundImage;
             const image = new Image();
             image.onload = () => done(image.naturalWidth);
             image.onerror = () => done(0);
             image.src = style.slice(5, -2);",
            vec![],
        )
        .await?;
    ensure!(sheet_width == json!(320), "the sheet decodes, 4 thumbnails of 80 px: {sheet_width}");
    screenshot(browser, "preview-sprites").await?;
    // The job's page says which ladder was chosen for this upload, and how.
    click_button(browser, "Jobs").await?;
    click_when_shown(browser, Locator::XPath("//tr[contains(., 'in/clip.mp4')]//a")).await?;
    let page = expect_text(browser, "ladder of 1 ").await?;
    ensure!(page.contains("426x240"), "the rung chosen: {page}");
    // A ladder that could not be tuned (an ffmpeg without libvmaf) says why.
    ensure!(!page.contains("(not tuned)") || page.contains("Warning: renditions auto not tuned"), "why: {page}");
    screenshot(browser, "job-ladder").await?;
    Ok(())
}
