//! The `mediaflow workflow` commands, run as a user runs them: the built `mediaflow` binary in a
//! process of its own, against the local stack.

use serde_json::Value;

use crate::support::{Harness, mediaflow};

fn example() -> String {
    example_named("demo.yaml")
}

fn example_named(file: &str) -> String {
    format!("{}/../infra/examples/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_example_workflow_is_valid() -> anyhow::Result<()> {
    // The examples' names are their own (no other test on the shared stack applies them).
    Harness::shared(|h| async move {
        for (file, name) in [("demo.yaml", "demo"), ("streaming.yaml", "streaming")] {
            let applied = mediaflow(&h, &["workflow", "apply", "-f", &example_named(file)]).await?;
            assert!(applied.starts_with(&format!("workflow {name} created")), "{file}: {applied}");
        }
        let shown = mediaflow(&h, &["workflow", "show", "streaming"]).await?;
        assert!(shown.contains("bitrate_kbps: 1800"), "the HLS template's rendition is filled in: {shown}");
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_enable_show_list_delete_round_trip() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let applied = mediaflow(&h, &["workflow", "apply", "-f", &example()]).await?;
    assert_eq!(applied, "workflow demo created (disabled: `mediaflow workflow enable` starts it), revision 1\n");
    let again = mediaflow(&h, &["workflow", "apply", "-f", &example()]).await?;
    assert_eq!(again, "workflow demo unchanged, revision 1\n");

    let refused = mediaflow(&h, &["workflow", "enable", "demo"]).await.unwrap_err();
    assert_eq!(refused.to_string(), "bucket mediaflow-demo does not exist");
    h.stack.create_bucket("mediaflow-demo").await?;
    let enabled: Value = serde_json::from_str(&mediaflow(&h, &["-o", "json", "workflow", "enable", "demo"]).await?)?;
    assert_eq!((enabled["enabled"].as_bool(), enabled["revision"].as_u64()), (Some(true), Some(2)));
    assert!(enabled["enabled_at"].is_string());

    let shown = mediaflow(&h, &["workflow", "show", "demo"]).await?;
    assert!(shown.starts_with("# demo (enabled since "), "{shown}");
    assert!(shown.contains("bucket: mediaflow-demo") && shown.contains("dir: processed/"), "{shown}");

    let listed: Value = serde_json::from_str(&mediaflow(&h, &["workflow", "list", "--output", "json"]).await?)?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let table = mediaflow(&h, &["workflow", "list"]).await?;
    assert!(table.contains("demo") && table.contains("transcode, snapshot, animated, watermark"), "{table}");

    assert_eq!(mediaflow(&h, &["workflow", "delete", "demo"]).await?, "workflow demo deleted\n");
    let error = mediaflow(&h, &["workflow", "show", "demo"]).await.unwrap_err();
    assert_eq!(error.to_string(), "no workflow named \"demo\"");
    Ok(())
}

#[test]
fn invalid_files_are_rejected_naming_fields_and_json_is_read_too() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let bucket = &h.bucket;
        let bad = h.dir.path().join("bad.yaml");
        std::fs::write(&bad, format!("name: bad name\ntrigger: {{bucket: {bucket}, dir: in}}\ntasks: []\n"))?;
        let error = mediaflow(&h, &["workflow", "apply", "-f", bad.to_str().unwrap()]).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid workflow: name: must be 1–128 letters, digits, '_', '\\' or '-'; \
             trigger.dir: must end with '/'; tasks: needs 1–20 tasks"
        );
        // Type errors name their field and do not hide the problems after them.
        let typos = h.dir.path().join("typos.yaml");
        std::fs::write(
            &typos,
            format!(
                "name: t\ntrigger: {{bucket: {bucket}, dir: in/}}\ntasks:\n\
                 - {{type: transcode, containr: mp4, video: {{crf: -5}}}}\n\
                 - {{type: snapshot, times: [1], width: wide}}\n\
                 - {{type: animated, fps: 99}}\n"
            ),
        )?;
        let error = mediaflow(&h, &["workflow", "apply", "-f", typos.to_str().unwrap()]).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid workflow: tasks[0].containr: unknown field; \
             tasks[0].video.crf: invalid value: integer `-5`, expected a CRF number or \"auto\"; \
             tasks[1].width: invalid type: string \"wide\", expected u32; \
             tasks[2].fps: must be above 0 and at most 30"
        );
        let json = h.dir.path().join("wf.json");
        let spec = serde_json::json!({"name": h.name("j"), "trigger": {"bucket": bucket},
            "tasks": [{"type": "snapshot", "times": ["10%"]}]});
        std::fs::write(&json, spec.to_string())?;
        let applied = mediaflow(&h, &["-o", "json", "workflow", "apply", "-f", json.to_str().unwrap()]).await?;
        let workflow: Value = serde_json::from_str(&applied)?;
        assert_eq!(workflow["output"], serde_json::json!({"bucket": bucket, "dir": ""}));
        assert_eq!(workflow["enabled"], false);
        Ok(())
    })
}
