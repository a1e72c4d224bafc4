//! The audit as a Lambda function, run by an EventBridge schedule: `mediaflow audit` over the
//! last `AUDIT_WINDOW` (default 1d), its counts printed as one embedded-metric-format line
//! (CloudWatch metrics in `METRICS_NAMESPACE`, dimension `Stack`), its findings logged one by
//! one; with `AUDIT_FIX=1` their repairs run too.

use chrono::{TimeDelta, Utc};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use mediaflow::app::admin::audit::AuditOptions;
use mediaflow::domain::audit::DEFAULT_DEADLINE;
use mediaflow::wiring::{self, Deployment};
use serde_json::Value;
use tracing::{info, warn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let clients = wiring::Clients::from_sdk(&wiring::load_aws().await);
    let admin = wiring::admin(&clients, &Deployment::from_env());
    let window = std::env::var("AUDIT_WINDOW").unwrap_or_else(|_| "1d".into());
    let window = TimeDelta::from_std(humantime::parse_duration(&window)?)?;
    let fix = std::env::var("AUDIT_FIX").is_ok_and(|value| value.trim() == "1");
    let namespace = std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "mediaflow".into());
    let stack = std::env::var("STACK_NAME").unwrap_or_else(|_| "mediaflow".into());
    let admin = &admin;
    let (namespace, stack) = (&namespace, &stack);
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = admin.audit(&AuditOptions::since(Utc::now() - window)).await?;
        // The embedded metric format: CloudWatch reads this line of the log as the metrics.
        println!("{}", report.metrics(namespace, stack));
        for finding in &report.findings {
            let repair = finding.repair.as_ref().map(ToString::to_string).unwrap_or_default();
            warn!(kind = ?finding.kind, object = %finding.object, detail = %finding.detail, %repair, "audit finding");
            if fix && let Some(repair) = &finding.repair {
                match admin.repair(repair, DEFAULT_DEADLINE).await {
                    Ok(done) => info!(%repair, %done, "repaired"),
                    Err(error) => warn!(%repair, %error, "repair failed"),
                }
            }
        }
        Ok::<_, Error>(
            serde_json::json!({"findings": report.findings.len(), "counts": report.counts, "checked": report.checked}),
        )
    }))
    .await
}
