//! Conflicts between enabled workflows: loops (one's output inside another's trigger) and
//! shared outputs (two writing the same key for the same upload).

use super::lifecycle::Workflow;
use super::spec::WorkflowError;

impl Workflow {
    /// Refuses this workflow beside the enabled `others` where they could feed each other (its
    /// output inside another's trigger, or, when it is enabled, another's output inside its
    /// trigger) or, when it is enabled, write the same key for the same upload. Its own output
    /// inside its own trigger is fine: outputs carry the marker and are skipped.
    pub fn conflicts(&self, others: &[Workflow]) -> Result<(), WorkflowError> {
        let mut reasons = Vec::new();
        for other in others.iter().filter(|o| o.enabled && o.name != self.name) {
            if other.trigger.overlaps(&self.output) {
                reasons.push(format!(
                    "its output {} overlaps the trigger {} of enabled workflow {:?}, which would take its outputs for uploads",
                    self.output, other.trigger, other.name
                ));
            }
            if self.enabled && self.trigger.overlaps(&other.output) {
                reasons.push(format!(
                    "its trigger {} overlaps the output {} of enabled workflow {:?}, whose outputs it would take for uploads",
                    self.trigger, other.output, other.name
                ));
            }
            if self.enabled {
                for pattern in self.shared_outputs(other) {
                    reasons.push(format!(
                        "enabled workflow {:?} writes the same outputs {}{pattern} for the same uploads",
                        other.name, self.output
                    ));
                }
            }
        }
        if reasons.is_empty() { Ok(()) } else { Err(WorkflowError::Conflict { name: self.name.clone(), reasons }) }
    }

    /// The name patterns this workflow and `other` would both write for the same upload at the
    /// same key. One trigger dir holds the other (`in/` and `in/sub/`): an upload under the
    /// deeper one lands below the shallower workflow's output dir plus the extra `sub/`, and
    /// directly below the deeper one's.
    fn shared_outputs(&self, other: &Workflow) -> Vec<String> {
        if self.trigger.bucket != other.trigger.bucket || self.output.bucket != other.output.bucket {
            return Vec::new();
        }
        let same_place = |shallow: &Workflow, deep: &Workflow| {
            deep.trigger
                .dir
                .strip_prefix(shallow.trigger.dir.as_str())
                .is_some_and(|extra| format!("{}{extra}", shallow.output.dir) == deep.output.dir)
        };
        if !same_place(self, other) && !same_place(other, self) {
            return Vec::new();
        }
        let theirs: Vec<String> = other.tasks.iter().enumerate().flat_map(|(i, task)| task.name_patterns(i)).collect();
        self.tasks
            .iter()
            .enumerate()
            .flat_map(|(i, task)| task.name_patterns(i))
            .filter(|pattern| theirs.contains(pattern))
            .collect()
    }
}
