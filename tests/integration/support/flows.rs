//! Workflows as tests write them: a builder over the workflow file's JSON, with a test's own
//! bucket and name filled in.

use serde_json::{Value, json};

/// A workflow file being written: triggered by `in/` of a bucket, writing to `out/` of it, no
/// tasks yet.
#[derive(Clone, Debug)]
pub struct Flow {
    spec: Value,
}

impl Flow {
    pub fn new(name: &str, bucket: &str) -> Self {
        Flow {
            spec: json!({"name": name, "trigger": {"bucket": bucket, "dir": "in/"}, "output": {"dir": "out/"},
                "tasks": []}),
        }
    }

    /// The trigger dir (blank: the whole bucket).
    pub fn trigger(mut self, dir: &str) -> Self {
        self.spec["trigger"]["dir"] = json!(dir);
        self
    }

    /// The trigger bucket and dir.
    pub fn trigger_in(mut self, bucket: &str, dir: &str) -> Self {
        self.spec["trigger"] = json!({"bucket": bucket, "dir": dir});
        self
    }

    /// The output dir, in the trigger bucket.
    pub fn output(mut self, dir: &str) -> Self {
        self.spec["output"] = json!({"dir": dir});
        self
    }

    /// The output bucket and dir.
    pub fn output_in(mut self, bucket: &str, dir: &str) -> Self {
        self.spec["output"] = json!({"bucket": bucket, "dir": dir});
        self
    }

    /// No `output:` at all: the defaults (the trigger bucket and dir).
    pub fn default_output(mut self) -> Self {
        if let Some(spec) = self.spec.as_object_mut() {
            spec.remove("output");
        }
        self
    }

    /// One more task, as the file writes it (`{"type": "snapshot", "times": [1]}`).
    pub fn task(mut self, task: Value) -> Self {
        if let Some(tasks) = self.spec["tasks"].as_array_mut() {
            tasks.push(task);
        }
        self
    }

    /// Any other field of the file (`notification`, `limits`).
    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.spec[field] = value;
        self
    }

    pub fn into_value(self) -> Value {
        self.spec
    }
}
