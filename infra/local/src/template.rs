//! template.yaml created on the local server as `sam deploy` creates it (`sam_on_moto.py`:
//! translated by aws-sam-translator, then CreateStack on moto's CloudFormation), and, when asked,
//! the principals that hold its policies with IAM enforced: each function's role, an operator
//! with the managed policies the template offers CLI users, and an admin for the harness.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use aws_credential_types::Credentials;
use serde::Deserialize;
use tokio::process::Command;

use crate::moto::python;

/// The deployer, run by the Python that has moto installed.
const SAM_ON_MOTO: &str = include_str!("sam_on_moto.py");

/// The repository's template.yaml.
pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

/// A created stack, as `sam_on_moto.py` reports it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Deployed {
    pub stack_status: String,
    /// How many resources the translated template has.
    pub resources: usize,
    pub outputs: BTreeMap<String, String>,
    /// Role names by logical id (`WorkerFunctionRole`…).
    pub roles: BTreeMap<String, String>,
    /// With IAM enforced: credentials by role logical id, and of `operator` and `admin`.
    #[serde(default)]
    pub principals: BTreeMap<String, Principal>,
}

/// Credentials of an IAM user or of an assumed role.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Principal {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl Principal {
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "mediaflow-template",
        )
    }

    /// The AWS environment variables of a process acting as this principal.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let mut environment = vec![
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
        ];
        environment.extend(self.session_token.clone().map(|token| ("AWS_SESSION_TOKEN", token)));
        environment
    }
}

impl Deployed {
    pub fn output(&self, key: &str) -> anyhow::Result<&str> {
        self.outputs.get(key).map(String::as_str).with_context(|| format!("the stack has no output {key}"))
    }

    pub fn principal(&self, name: &str) -> anyhow::Result<&Principal> {
        self.principals.get(name).with_context(|| format!("no principal {name}: was IAM enforced?"))
    }
}

/// Creates `template` as stack `stack` on the server at `endpoint`, with `parameters`; with
/// `enforce_iam`, makes the principals and enforces IAM from then on. Fails unless the stack
/// reached CREATE_COMPLETE.
pub async fn deploy(
    endpoint: &str,
    template: &Path,
    stack: &str,
    parameters: &[(String, String)],
    enforce_iam: bool,
) -> anyhow::Result<Deployed> {
    let mut command = Command::new(python());
    command.args(["-c", SAM_ON_MOTO]).arg(template).args([endpoint, stack]);
    command.args(parameters.iter().map(|(key, value)| format!("{key}={value}")));
    if enforce_iam {
        command.arg("--enforce-iam");
    }
    let output = command.output().await.context("run python3 for sam_on_moto.py (make setup installs it)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() && text.trim().is_empty() {
        bail!("sam_on_moto.py failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let deployed: Deployed = serde_json::from_str(&text).with_context(|| format!("sam_on_moto.py printed {text}"))?;
    if deployed.stack_status != "CREATE_COMPLETE" {
        bail!("stack {stack} is {}: {}", deployed.stack_status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(deployed)
}
