//! `mediaflow job list|show|watch` over the jobs table's indexes, on jobs real uploads made:
//! filters, pages, the job-level result, progress and timings.

use std::time::Duration;

use mediaflow::domain::job::JobId;
use serde_json::{Value, json};

use crate::support::{DISPATCH_TIMEOUT, Harness, fixture, mediaflow};

async fn json_of(h: &Harness, args: &[&str]) -> anyhow::Result<Value> {
    let mut all = vec!["-o", "json"];
    all.extend(args);
    Ok(serde_json::from_str(&mediaflow(h, &all).await?)?)
}

fn ids(page: &Value) -> Vec<String> {
    page["jobs"].as_array().into_iter().flatten().filter_map(|j| j["id"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_listed_filtered_paged_and_shown_by_id_or_upload() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    h.workflow(h.flow("stills").trigger("stills/").task(json!({"type": "snapshot", "times": ["0s"]}))).await?;
    let small = h
        .flow("small")
        .trigger("small/")
        .task(json!({"type": "transcode", "video": {"height": 144}}))
        .task(json!({"type": "snapshot", "times": ["0s"]}));
    h.workflow(small).await?;
    let clip = fixture("camera_1080p_h264_aac.mp4");
    let good = h.upload(&clip, "stills/good.mp4").await?;
    let (good_job, _) = h.job_of(&good).await?;
    let broken = h.upload_bytes(&std::fs::read(&clip)?[..20_000], "stills/broken.mp4").await?;
    let (broken_job, _) = h.job_of(&broken).await?;
    let small = h.upload(&clip, "small/clip.mp4").await?;
    let (small_job, _) = h.job_of(&small).await?;

    // Newest first, every workflow.
    let all = json_of(&h, &["job", "list"]).await?;
    assert_eq!(ids(&all), [&small_job.id, &broken_job.id, &good_job.id].map(JobId::to_string));
    assert_eq!(all["jobs"][0]["result"], "SUCCESS");
    assert_eq!(ids(&json_of(&h, &["job", "list", "--workflow", &h.name("stills")]).await?).len(), 2);
    let failed = json_of(&h, &["job", "list", "--failed"]).await?;
    assert_eq!(ids(&failed), [broken_job.id.to_string()]);
    assert_eq!(failed["jobs"][0]["result"], "FAIL");
    assert!(failed["jobs"][0]["error"]["code"].as_str().unwrap_or_default().starts_with("SourceFileError."));
    assert_eq!(ids(&json_of(&h, &["job", "list", "--status", "finish", "--since", "1h"]).await?).len(), 3);
    assert!(ids(&json_of(&h, &["job", "list", "--status", "waiting"]).await?).is_empty());
    assert!(ids(&json_of(&h, &["job", "list", "--since", "2100-01-01T00:00:00Z"]).await?).is_empty());

    // Pages of one.
    let mut paged = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut args = vec!["job", "list", "--limit", "1"];
        if let Some(token) = &page {
            args.extend(["--page", token.as_str()]);
        }
        let listed = json_of(&h, &args).await?;
        paged.extend(ids(&listed));
        match listed["next_page"].as_str() {
            Some(next) => page = Some(next.to_owned()),
            None => break,
        }
        assert!(paged.len() <= 3, "pages do not end: {paged:?}");
    }
    assert_eq!(paged, ids(&all), "pages walk the same list");
    let table = mediaflow(&h, &["job", "list", "--limit", "2"]).await?;
    assert!(table.contains("more: --page ") && table.contains("small") && table.contains("SUCCESS"), "{table}");

    // One job, by upload: the source, every task with its timings, the outputs.
    let shown = json_of(&h, &["job", "show", &small.to_string()]).await?;
    assert_eq!((shown["id"].as_str(), shown["result"].as_str()), (Some(small_job.id.as_str()), Some("SUCCESS")));
    assert_eq!(shown["source"]["video"]["width"], 1920);
    let tasks = shown["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2);
    for task in &tasks {
        assert_eq!((task["status"].as_str(), task["progress"].as_u64()), (Some("SUCCESS"), Some(100)));
        assert!(task["timings"]["render_ms"].as_u64().is_some_and(|ms| ms > 0), "{task}");
    }
    assert_eq!(tasks[0]["outputs"][0]["height"], 144);
    let table = mediaflow(&h, &["job", "show", small_job.id.as_str()]).await?;
    let expected = format!("job {} (workflow {}, revision 2): SUCCESS\n", small_job.id, h.name("small"));
    assert!(table.starts_with(&expected), "{table}");
    let output = format!("s3://{}/out/clip_transcode_1.mp4", h.bucket);
    assert!(table.contains("h264 1920x1080") && table.contains(&output), "{table}");
    let broken_table = mediaflow(&h, &["job", "show", broken_job.id.as_str()]).await?;
    assert!(
        broken_table.contains(": FAIL\n") && broken_table.contains("  error    SourceFileError."),
        "{broken_table}"
    );

    let never = format!("s3://{}/stills/never.mp4", h.bucket);
    let missing = mediaflow(&h, &["job", "show", &never]).await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!("no job for {never}: no workflow processed it (mediaflow match {never} tells which would)")
    );
    assert_eq!(mediaflow(&h, &["job", "show", "job-nope"]).await.unwrap_err().to_string(), "no job job-nope");
    Ok(())
}

#[test]
fn a_running_task_records_its_progress_and_watch_follows_it_to_the_end() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(h.flow("long").task(json!({"type": "transcode", "video": {"height": 360}}))).await?;
        // Long enough to encode for several progress intervals on this machine.
        let clip = h.lavfi_clip(
            "long.mp4",
            &["testsrc2=size=1280x720:rate=30:duration=40"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
        )?;
        let object = h.upload(&clip, "in/long.mp4").await?;
        let report = h.stack.dispatched(&object, DISPATCH_TIMEOUT).await?;
        let id = report.jobs().next().cloned().expect("a job");
        let jobs = h.stack.jobs();
        let mut seen = Vec::new();
        let url = object.to_string();
        let args = ["-o", "json", "job", "watch", &url, "--timeout", "120s"];
        let watch = mediaflow(&h, &args);
        tokio::pin!(watch);
        let watched = loop {
            tokio::select! {
                watched = &mut watch => break watched?,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    let tasks = mediaflow::ports::JobStore::tasks(&jobs, &id).await?;
                    if let Some(progress) = tasks[0].progress
                        && seen.last() != Some(&progress)
                    {
                        seen.push(progress);
                    }
                }
            }
        };
        let view: serde_json::Value = serde_json::from_str(&watched)?;
        assert_eq!(view["id"], id.to_string(), "one job, shown once it finished");
        assert_eq!(view["tasks"][0]["progress"], 100);
        assert!(seen.iter().any(|p| (1..100).contains(p)), "progress while running: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress only grows: {seen:?}");
        Ok(())
    })
}
