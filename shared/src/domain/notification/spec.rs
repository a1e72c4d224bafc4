//! A workflow's `notification:` (MPS's TaskNotifyConfig; seed rule 6: off unless a workflow
//! asks): when events are sent and where to.

use serde::{Deserialize, Serialize};

use crate::domain::validation::Violations;

/// When events are sent (MPS's NotifyMode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyMode {
    /// Once per job, when it finishes.
    #[default]
    #[serde(alias = "finish")]
    Finish,
    /// At every task state change (started, succeeded, failed), and when the job finishes.
    #[serde(alias = "change")]
    Change,
}

/// A workflow's `notification:`: a mode and one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSpec {
    #[serde(default)]
    pub mode: NotifyMode,
    pub target: NotificationTarget,
}

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum NotificationTarget {
    /// An SQS queue, by URL.
    Sqs { queue_url: String },
    /// An SNS topic, by ARN.
    Sns { topic_arn: String },
    /// An EventBridge bus, by name or ARN; events have source `mediaflow` and detail-type
    /// `WorkflowTask`.
    #[serde(rename = "eventbridge")]
    EventBridge { bus: String },
    /// An HTTPS endpoint, POSTed the event signed with the secret (Standard Webhooks).
    Webhook { url: String, secret: SecretRef },
}

/// Where a webhook's signing secret is kept: `ssm:/name` (SSM Parameter Store, decrypted),
/// `secretsmanager:name-or-arn`, `env:NAME` or `file:/path` (local use). The secret itself is
/// never in a workflow record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecretRef {
    Ssm(String),
    SecretsManager(String),
    Env(String),
    File(String),
}

impl TryFrom<String> for SecretRef {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (kind, name) = text.split_once(':').unwrap_or(("", ""));
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(format!(
                "{text:?} does not say where the secret is: ssm:/name, secretsmanager:name, env:NAME or file:/path"
            ));
        }
        match kind {
            "ssm" => Ok(SecretRef::Ssm(name)),
            "secretsmanager" => Ok(SecretRef::SecretsManager(name)),
            "env" => Ok(SecretRef::Env(name)),
            "file" => Ok(SecretRef::File(name)),
            other => Err(format!("unknown secret store {other:?}: ssm, secretsmanager, env or file")),
        }
    }
}

impl From<SecretRef> for String {
    fn from(secret: SecretRef) -> String {
        match secret {
            SecretRef::Ssm(name) => format!("ssm:{name}"),
            SecretRef::SecretsManager(name) => format!("secretsmanager:{name}"),
            SecretRef::Env(name) => format!("env:{name}"),
            SecretRef::File(name) => format!("file:{name}"),
        }
    }
}

impl NotificationSpec {
    pub fn validate(&self, field: &str, errors: &mut Violations) {
        match &self.target {
            NotificationTarget::Sqs { queue_url } => errors.check(
                queue_url.starts_with("https://") || queue_url.starts_with("http://"),
                format!("{field}.target.queue_url"),
                "must be the queue's URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)",
            ),
            NotificationTarget::Sns { topic_arn } => errors.check(
                topic_arn.starts_with("arn:") && topic_arn.contains(":sns:"),
                format!("{field}.target.topic_arn"),
                "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            ),
            NotificationTarget::EventBridge { bus } => errors.check(
                !bus.trim().is_empty() && bus.len() <= 1600,
                format!("{field}.target.bus"),
                "must be an event bus name or ARN",
            ),
            NotificationTarget::Webhook { url, .. } => errors.check(
                url::Url::parse(url).is_ok_and(|url| {
                    matches!(url.scheme(), "https" | "http") && url.host().is_some() && url.username().is_empty()
                }),
                format!("{field}.target.url"),
                "must be an https:// URL without credentials",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_files_read_and_check_their_target() {
        let spec: NotificationSpec = serde_json::from_value(serde_json::json!({
            "mode": "Change",
            "target": {"type": "webhook", "url": "https://hooks.example.com/x", "secret": "ssm:/mediaflow/hook"}
        }))
        .unwrap();
        assert_eq!(spec.mode, NotifyMode::Change);
        assert_eq!(
            spec.target,
            NotificationTarget::Webhook {
                url: "https://hooks.example.com/x".into(),
                secret: SecretRef::Ssm("/mediaflow/hook".into())
            }
        );
        let mut errors = Violations::default();
        spec.validate("notification", &mut errors);
        assert!(errors.is_empty());
        let bad: NotificationSpec = serde_json::from_value(serde_json::json!({
            "target": {"type": "sns", "topic_arn": "my-topic"}
        }))
        .unwrap();
        assert_eq!(bad.mode, NotifyMode::Finish, "Finish by default");
        let mut errors = Violations::default();
        bad.validate("notification", &mut errors);
        assert_eq!(
            errors.into_messages(),
            vec!["notification.target.topic_arn: must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"]
        );
        let secret: Result<SecretRef, _> = serde_json::from_value(serde_json::json!("vault:x"));
        assert!(secret.unwrap_err().to_string().contains("unknown secret store \"vault\""));
    }
}
