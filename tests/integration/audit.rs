//! `mediaflow audit` on the local stack: what breaks the promise is found, named with its repair,
//! and `--fix` repairs it; a clean deployment exits 0.

use mediaflow::app::admin::jobs::JobRef;
use mediaflow::domain::job::{JobId, TaskStatus};
use mediaflow::domain::object::ObjectRef;
use serde_json::{Value, json};

use crate::support::{Harness, JOB_TIMEOUT, fixture, mediaflow_command};

/// `mediaflow -o json audit --bucket B --grace 0s [more]`: its exit code and report.
async fn audit(h: &Harness, more: &[&str]) -> anyhow::Result<(bool, Value)> {
    let mut args = vec!["-o", "json", "audit", "--bucket", &h.quiet_bucket, "--grace", "0s"];
    args.extend(more);
    let output = mediaflow_command(&h.stack.environment(), h.dir.path())?.args(&args).output().await?;
    let report: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| anyhow::anyhow!("{e}: {}", String::from_utf8_lossy(&output.stderr)))?;
    Ok((output.status.success(), report))
}

async fn the_job(h: &Harness, object: &ObjectRef) -> anyhow::Result<JobId> {
    let views = h.stack.admin().find_jobs(&JobRef::Input(object.clone())).await?;
    anyhow::ensure!(views.len() == 1, "one job for {object}: {views:?}");
    Ok(views[0].job.id.clone())
}

#[test]
fn audit_finds_an_upload_without_a_job_and_a_lost_output_and_fix_repairs_both() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // A bucket whose uploads never reach mediaflow (not connected): its uploads have no job.
        let flow = h
            .flow("audited")
            .trigger_in(&h.quiet_bucket, "in/")
            .output_in(&h.quiet_bucket, "out/")
            .task(json!({"type": "snapshot", "times": [0]}));
        let workflow = h.workflow(flow).await?.name;
        let upload = h.upload_to(&h.quiet_bucket, &fixture("camera_1080p_h264_aac.mp4"), "in/a.mp4").await?;

        let (clean, report) = audit(&h, &[]).await?;
        assert!(!clean, "a finding exits non-zero: {report}");
        assert_eq!(report["counts"]["upload_without_job"], 1, "{report}");
        let finding = &report["findings"][0];
        assert_eq!(finding["object"], json!({"bucket": h.quiet_bucket, "key": "in/a.mp4"}));
        assert_eq!(finding["repair"]["command"], format!("mediaflow process --workflow {workflow} {upload}"));

        let (_, fixed) = audit(&h, &["--fix"]).await?;
        assert!(fixed["fixed"][0]["done"].as_str().is_some_and(|done| done.starts_with("started job")), "{fixed}");
        let id = the_job(&h, &upload).await?;
        let (_, tasks) = h.stack.finished(&id, JOB_TIMEOUT).await?;
        assert_eq!(tasks[0].status, TaskStatus::Success);
        let (clean, report) = audit(&h, &[]).await?;
        assert!(clean, "{report}");
        assert_eq!((report["checked"]["uploads"].as_u64(), report["checked"]["outputs"].as_u64()), (Some(1), Some(1)));

        // An output deleted behind mediaflow's back: the task that wrote it runs again.
        let output = &tasks[0].outputs[0];
        h.stack.clients.s3.delete_object().bucket(&output.bucket).key(&output.key).send().await?;
        let (clean, report) = audit(&h, &[]).await?;
        assert!(!clean);
        assert_eq!(report["findings"][0]["kind"], "output_missing", "{report}");
        assert_eq!(report["findings"][0]["repair"]["command"], format!("mediaflow job redo {id} --task 0"));
        let (_, fixed) = audit(&h, &["--fix"]).await?;
        assert_eq!(fixed["fixed"][0]["done"], "task 0 sent again", "{fixed}");
        let (job, tasks) = h.stack.finished(&id, JOB_TIMEOUT).await?;
        assert_eq!((job.redos, tasks[0].status), (1, TaskStatus::Success));
        let stored = h.head(&ObjectRef::new(&output.bucket, &output.key)).await?;
        assert_eq!(stored.map(|head| head.size), Some(tasks[0].outputs[0].size));
        let (clean, report) = audit(&h, &[]).await?;
        assert!(clean, "{report}");
        Ok(())
    })
}
