//! The command finds its deployment as kubectl finds its cluster: the SAM template, deployed as a
//! CloudFormation stack (on moto), names every table and queue through its outputs; a missing
//! stack, region or credentials is told in one line.

use anyhow::Context;
use mediaflow_local::{MotoServer, template};
use serde_json::Value;

use crate::support::run_mediaflow;

/// The environment of a user whose AWS settings point at `endpoint` and who set nothing else.
fn user_environment(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sam_template_creates_on_cloudformation_and_the_command_finds_its_tables_by_stack_name()
-> anyhow::Result<()> {
    // GIVEN template.yaml deployed as stack "media-prod" (translated as `sam deploy` does)
    let dir = tempfile::tempdir()?;
    let moto = MotoServer::start(dir.path(), None).await?;
    let created = template::deploy(&moto.endpoint, &template::template_path(), "media-prod", &[], false).await?;
    assert_eq!(created.resources, 35, "the translated template's resources");
    let console = created.output("ConsoleUrl")?;
    assert!(console.starts_with("https://") && console.contains(".execute-api.us-east-1."), "{console}");
    let workflows_table = created.output("WorkflowsTableName")?;
    // WHEN a user who set only their AWS settings names the stack
    let user = user_environment(&moto.endpoint);
    let spec = dir.path().join("flow.yaml");
    let media = created.output("MediaBucketName")?;
    std::fs::write(&spec, format!("name: prod\ntrigger: {{bucket: {media}, dir: in/}}\ntasks: [{{type: cover}}]\n"))?;
    let stack = ["--stack", "media-prod"];
    let applied = run_mediaflow(&user, dir.path(), &["workflow", "apply", "-f", spec.to_str().context("path")?])
        .await
        .unwrap_err();
    // THEN without it the default stack "mediaflow" is looked for, and its absence is said
    assert!(
        applied.to_string().starts_with("the workflows table is not known: cannot read stack \"mediaflow\""),
        "{applied}"
    );
    let apply = ["workflow", "apply", "-f", spec.to_str().context("path")?];
    let applied = run_mediaflow(&user, dir.path(), &[&apply[..], &stack[..]].concat()).await?;
    assert_eq!(applied, "workflow prod created (disabled: `mediaflow workflow enable` starts it), revision 1\n");
    // AND the workflow is in the stack's own table, where MEDIAFLOW_STACK finds it too
    let mut by_variable = user.clone();
    by_variable.push(("MEDIAFLOW_STACK", "media-prod".to_owned()));
    let listed = run_mediaflow(&by_variable, dir.path(), &["-o", "json", "workflow", "list"]).await?;
    let listed: Value = serde_json::from_str(&listed)?;
    assert_eq!(listed[0]["name"], "prod");
    // AND enabled once the stack's bucket sends its uploads to the stack's queue
    run_mediaflow(&by_variable, dir.path(), &["bucket", "connect", media]).await?;
    let enabled = run_mediaflow(&by_variable, dir.path(), &["workflow", "enable", "prod"]).await?;
    assert!(enabled.starts_with("# prod (enabled since"), "{enabled}");
    let mut by_table = user.clone();
    by_table.push(("WORKFLOWS_TABLE", workflows_table.to_owned()));
    by_table.push(("MEDIAFLOW_STACK", "no-such-stack".to_owned()));
    let shown = run_mediaflow(&by_table, dir.path(), &["workflow", "show", "prod"]).await?;
    assert!(shown.starts_with("# prod (enabled since"), "a name given wins, no stack is read: {shown}");
    // AND a name the stack lacks is told with what to set
    let missing = run_mediaflow(&by_table, dir.path(), &["job", "list"]).await.unwrap_err();
    assert!(
        missing.to_string().starts_with("the jobs table is not known: cannot read stack \"no-such-stack\"")
            && missing
                .to_string()
                .ends_with("pass --stack NAME, or set JOBS_TABLE or --jobs-table (stack output JobsTableName)"),
        "{missing}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_region_or_missing_credentials_is_one_line_saying_what_to_set() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let error = run_mediaflow(&[], dir.path(), &["workflow", "list"]).await.unwrap_err();
    assert_eq!(error.to_string(), "no AWS region: set AWS_REGION (or AWS_PROFILE with a region, as for the AWS CLI)");
    let region = [("AWS_REGION", "eu-west-1".to_owned())];
    let error = run_mediaflow(&region, dir.path(), &["workflow", "list"]).await.unwrap_err();
    assert!(error.to_string().starts_with("no AWS credentials: set AWS_ACCESS_KEY_ID"), "{error}");
    Ok(())
}
