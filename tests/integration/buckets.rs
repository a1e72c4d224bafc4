//! `mediaflow bucket connect|status|disconnect` on a bucket the user made, with a rule of its own,
//! and `workflow enable` refusing a trigger whose uploads would never arrive.

use aws_sdk_s3::types::{
    CorsConfiguration, CorsRule, Event, FilterRule, FilterRuleName, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use serde_json::{Value, json};

use crate::support::{Harness, mediaflow, run_mediaflow};

#[test]
fn a_users_bucket_is_connected_beside_its_own_rule_and_disconnected_again() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let bucket = h.name("user-media");
        let s3 = &h.stack.clients.s3;
        s3.create_bucket().bucket(&bucket).send().await?;
        // The user's own rule: new photos go to the user's queue.
        let photos_name = h.name("user-photos");
        let photos_queue = h.stack.sqs.create_queue().queue_name(&photos_name).send().await?;
        let photos_url = photos_queue.queue_url().unwrap_or_default().to_owned();
        let photos_arn = format!("arn:aws:sqs:us-east-1:123456789012:{photos_name}");
        let photos_rule = QueueConfiguration::builder()
            .id("photos")
            .queue_arn(photos_arn)
            .events(Event::from("s3:ObjectCreated:Put"))
            .filter(
                NotificationConfigurationFilter::builder()
                    .key(
                        S3KeyFilter::builder()
                            .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value("photos/").build())
                            .build(),
                    )
                    .build(),
            )
            .build()?;
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(NotificationConfiguration::builder().queue_configurations(photos_rule).build())
            .send()
            .await?;

        let status = mediaflow(&h, &["bucket", "status", &bucket]).await?;
        let expected = format!("bucket {bucket}: not connected (mediaflow bucket connect {bucket})\n");
        assert!(status.starts_with(&expected), "{status}");

        let videos = h.name("videos");
        let spec = h.dir.path().join("videos.yaml");
        std::fs::write(
            &spec,
            format!(
                "name: {videos}\ntrigger: {{bucket: {bucket}, dir: videos/}}\noutput: {{dir: videos-out/}}\n\
                 tasks: [{{type: snapshot, times: ['0s']}}]\n"
            ),
        )?;
        mediaflow(&h, &["workflow", "apply", "-f", spec.to_str().unwrap_or_default()]).await?;
        let refused = mediaflow(&h, &["workflow", "enable", &videos]).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "uploads to s3://{bucket}/videos/ do not reach mediaflow: bucket {bucket} is not connected. \
                 Run: mediaflow bucket connect {bucket}"
            )
        );

        // The whole bucket would overlap the user's rule: S3 would refuse it, so do we, and say why.
        let overlap = mediaflow(&h, &["bucket", "connect", &bucket]).await.unwrap_err().to_string();
        assert!(overlap.contains("rule \"photos\" (s3:ObjectCreated:Put for keys under \"photos/\""), "{overlap}");
        assert!(overlap.contains("--prefix DIR/"), "{overlap}");

        // The user's own CORS rule (their web app reads the bucket); the deployed console's
        // address comes with the stack (its ConsoleUrl output, or CONSOLE_URL).
        let users_cors = CorsRule::builder().id("webapp").allowed_origins("https://app.example").allowed_methods("GET");
        s3.put_bucket_cors()
            .bucket(&bucket)
            .cors_configuration(CorsConfiguration::builder().cors_rules(users_cors.build()?).build()?)
            .send()
            .await?;
        let mut with_console = h.stack.environment();
        with_console.push(("CONSOLE_URL", "https://abc123.execute-api.us-east-1.amazonaws.com/".into()));
        let connect = ["bucket", "connect", &bucket, "--prefix", "videos/"];
        let connected = run_mediaflow(&with_console, h.dir.path(), &connect).await?;
        let expected = format!("bucket {bucket}: connected for keys under videos/\n");
        assert!(connected.starts_with(&expected), "{connected}");
        // Connected, the bucket lets the console's pages upload and preview; the user's rule stays.
        let cors = s3.get_bucket_cors().bucket(&bucket).send().await?;
        let rules: Vec<(Option<&str>, &[String], &[String])> =
            cors.cors_rules().iter().map(|r| (r.id(), r.allowed_origins(), r.allowed_methods())).collect();
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert_eq!(rules[0], (Some("webapp"), &["https://app.example".to_owned()][..], &["GET".to_owned()][..]));
        assert_eq!(rules[1].0, Some("mediaflow-console"));
        assert_eq!(rules[1].1, ["https://abc123.execute-api.us-east-1.amazonaws.com"]);
        assert!(rules[1].2.contains(&"PUT".to_owned()), "{rules:?}");
        run_mediaflow(&with_console, h.dir.path(), &connect).await?;
        assert_eq!(
            s3.get_bucket_cors().bucket(&bucket).send().await?.cors_rules().len(),
            2,
            "connecting again adds nothing"
        );
        let status: Value = serde_json::from_str(&mediaflow(&h, &["-o", "json", "bucket", "status", &bucket]).await?)?;
        let ids: Vec<&str> =
            status["rules"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids, ["photos", "mediaflow-events:videos/"], "the user's rule is kept");

        let enabled: Value =
            serde_json::from_str(&mediaflow(&h, &["-o", "json", "workflow", "enable", &videos]).await?)?;
        assert_eq!(enabled["enabled"], json!(true));
        let clip = h.lavfi_clip("clip.mp4", &["testsrc2=size=320x240:rate=25:duration=1"], &["-pix_fmt", "yuv420p"])?;
        let video = h.upload_to(&bucket, &clip, "videos/clip.mp4").await?;
        let (_, tasks) = h.job_of(&video).await?;
        assert_eq!(tasks[0].outputs[0].key, "videos-out/clip_snapshotByTimeOffset_1_0.jpg");
        h.upload_to(&bucket, &clip, "photos/a.jpg").await?;
        let photos = h.stack.sqs.receive_message().queue_url(&photos_url).max_number_of_messages(10).send().await?;
        let bodies: Vec<&str> = photos.messages().iter().filter_map(|m| m.body()).collect();
        assert!(
            bodies.iter().any(|b| b.contains("\"configurationId\": \"photos\"")),
            "the user's rule still fires: {bodies:?}"
        );

        let disconnected = mediaflow(&h, &["bucket", "disconnect", &bucket]).await?;
        assert!(disconnected.starts_with(&format!("bucket {bucket}: not connected")), "{disconnected}");
        assert!(disconnected.contains("photos/"), "the user's rule stays: {disconnected}");
        Ok(())
    })
}
