//! Least privilege proven, not only linted: template.yaml created on the local server as `sam
//! deploy` creates it, with IAM enforced; the dispatcher and the worker run as their roles, an
//! operator uses the CLI with the two managed policies the template offers, the console runs as
//! its role. A permission the template forgot fails here; a bucket outside the stack's
//! TriggerBuckets and OutputBuckets is refused, and the refusal is on the task in one line.

use std::time::Duration;

use anyhow::Context;
use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::job::TaskStatus;
use mediaflow::domain::object::ObjectRef;
use mediaflow_local::template::Deployed;
use serde_json::Value;

use crate::console::{Browser, console_in};
use crate::support::{Harness, fixture, run_mediaflow};

const UPLOADS: &str = "iam-uploads";
const OUTPUTS: &str = "iam-outputs";

fn deployed(h: &Harness) -> anyhow::Result<&Deployed> {
    h.stack.deployed().context("the stack runs on template.yaml")
}

/// One task's failure, which must be one line naming what was refused.
fn refusal(tasks: &[mediaflow::domain::job::Task]) -> anyhow::Result<String> {
    let task = tasks.first().context("a task")?;
    assert_eq!(task.status, TaskStatus::Fail, "{task:?}");
    let error = task.error.as_ref().context("its error")?;
    assert_eq!(error.code, ErrorCode::AccessDenied, "{error:?}");
    assert!(!error.message.contains('\n'), "one line: {}", error.message);
    Ok(error.message.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_functions_operators_and_console_work_with_exactly_the_templates_policies() -> anyhow::Result<()> {
    // GIVEN template.yaml's stack with one trigger and one output bucket, IAM enforced
    let h = Harness::start_with(|options| {
        options.template =
            Some(vec![("TriggerBuckets".into(), UPLOADS.into()), ("OutputBuckets".into(), OUTPUTS.into())]);
    })
    .await?;
    let s3 = &h.stack.clients.s3;
    for bucket in [UPLOADS, OUTPUTS] {
        s3.create_bucket().bucket(bucket).send().await?;
    }
    let operator = h.stack.environment_of(deployed(&h)?.principal("operator")?);
    let cli = |args: &'static [&'static str]| run_mediaflow(&operator, h.dir.path(), args);

    // WHEN an operator connects the trigger bucket and applies three workflows
    cli(&["bucket", "connect", UPLOADS]).await?;
    let outside = h.bucket.clone();
    let refused = run_mediaflow(&operator, h.dir.path(), &["bucket", "connect", &outside]).await.unwrap_err();
    assert!(refused.to_string().starts_with(&format!("access denied: bucket {outside}")), "{refused}");
    let flows = [
        ("prod", format!("{{bucket: {UPLOADS}, dir: in/}}"), format!("{{bucket: {OUTPUTS}, dir: out/}}")),
        ("stray", format!("{{bucket: {UPLOADS}, dir: stray/}}"), format!("{{bucket: {outside}, dir: out/}}")),
        ("outside", format!("{{bucket: {outside}, dir: in/}}"), format!("{{bucket: {OUTPUTS}, dir: outside/}}")),
    ];
    let admin = h.stack.environment();
    for (name, trigger, output) in &flows {
        let spec = h.dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &spec,
            format!("name: {name}\ntrigger: {trigger}\noutput: {output}\ntasks: [{{type: cover}}]\n"),
        )?;
        let path = spec.to_str().context("a path")?;
        run_mediaflow(&operator, h.dir.path(), &["workflow", "apply", "-f", path]).await?;
        let enable = ["workflow", "enable", name];
        if *name != "outside" {
            run_mediaflow(&operator, h.dir.path(), &enable).await?;
            continue;
        }
        // The operator cannot start a workflow on a bucket the stack does not grant...
        let refused = run_mediaflow(&operator, h.dir.path(), &enable).await.unwrap_err();
        assert!(refused.to_string().contains(&format!("access denied: bucket {outside}")), "{refused}");
        // ...but one may run, e.g. enabled before the stack's TriggerBuckets were narrowed.
        run_mediaflow(&admin, h.dir.path(), &enable).await?;
    }

    // AND a camera clip is uploaded to each trigger dir
    let clip = fixture("camera_1080p_h264_aac.mp4");
    let upload = async |bucket: &str, key: &str| h.stack.upload(&clip, &ObjectRef::new(bucket, key)).await;
    upload(UPLOADS, "in/clip.mp4").await?;
    upload(UPLOADS, "stray/clip.mp4").await?;
    upload(&outside, "in/clip.mp4").await?;

    // THEN the dispatcher and worker, as their roles, process the upload of the trigger bucket
    let (job, tasks) = h.job_of(&ObjectRef::new(UPLOADS, "in/clip.mp4")).await?;
    assert_eq!(tasks[0].status, TaskStatus::Success, "{:?}", tasks[0].error);
    let output = &tasks[0].outputs[0];
    assert_eq!(output.bucket, OUTPUTS);
    let stored = s3.head_object().bucket(OUTPUTS).key(&output.key).send().await?;
    assert_eq!(stored.content_length(), Some(output.size as i64));
    // AND writing outside OutputBuckets is refused, on the task, in one line
    let (_, tasks) = h.job_of(&ObjectRef::new(UPLOADS, "stray/clip.mp4")).await?;
    let message = refusal(&tasks)?;
    assert!(message.contains(&format!("s3://{outside}/out/")) && message.contains("access denied"), "{message}");
    // AND an upload outside TriggerBuckets has its job, failed with why
    let (_, tasks) = h.job_of(&ObjectRef::new(&outside, "in/clip.mp4")).await?;
    let message = refusal(&tasks)?;
    assert!(
        message.starts_with(&format!("cannot read the upload: access denied (s3://{outside}/in/clip.mp4")),
        "{message}"
    );

    // AND the operator finds the jobs, audits the trigger bucket and redoes a job
    let listed: Value = serde_json::from_str(&cli(&["-o", "json", "job", "list", "--workflow", "prod"]).await?)?;
    assert_eq!(listed["jobs"][0]["id"], job.id.to_string(), "{listed}");
    let audited = cli(&["audit", "--bucket", UPLOADS]).await?;
    assert!(audited.contains("no findings"), "{audited}");
    let id = job.id.to_string();
    run_mediaflow(&operator, h.dir.path(), &["job", "redo", &id, "--task", "0"]).await?;
    let (_, tasks) = h.stack.finished(&job.id, Duration::from_secs(120)).await?;
    assert_eq!(tasks[0].status, TaskStatus::Success, "{:?}", tasks[0].error);

    // AND the console, as its role, shows the workflows and the job
    let mut console_environment = h.stack.environment();
    console_environment.retain(|(name, _)| !name.starts_with("AWS_ACCESS_KEY") && !name.starts_with("AWS_SECRET"));
    console_environment.extend(deployed(&h)?.principal("ConsoleFunctionRole")?.environment());
    let (mut console, link) = console_in(&console_environment, h.dir.path()).await?;
    let browser = Browser::open(&link).await?;
    assert!(browser.get("/workflows").await?.contains(">prod<"), "the workflows page lists them");
    let page = browser.get(&format!("/jobs/{}", job.id)).await?;
    assert!(page.contains(">Succeeded<"), "{page}");
    console.kill().await?;
    Ok(())
}
