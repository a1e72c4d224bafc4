//! Locations: a bucket and a directory in it, and the trigger dirs that can hold a key.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A bucket and a directory in it: `dir` is empty (the whole bucket) or ends with `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    pub bucket: String,
    pub dir: String,
}

impl Location {
    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && key.starts_with(&self.dir)
    }

    /// Whether some key can be in both: same bucket, one dir inside the other.
    pub fn overlaps(&self, other: &Location) -> bool {
        self.bucket == other.bucket && (self.dir.starts_with(&other.dir) || other.dir.starts_with(&self.dir))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.dir)
    }
}

/// How many directories deep a trigger dir may be: the dispatcher looks for workflows in this
/// many directories of a key at most (and at the bucket's root).
pub const MAX_TRIGGER_DEPTH: usize = 16;

/// The trigger dirs that can hold `key`: the bucket's root, then each directory on the way to
/// the key, [`MAX_TRIGGER_DEPTH`] deep at most. The dispatcher reads the workflows of these dirs
/// only, so its cost grows with the key's depth, not with the bucket's workflows.
pub fn trigger_dirs_of(key: &str) -> impl Iterator<Item = &str> {
    std::iter::once("").chain(key.match_indices('/').map(|(end, _)| &key[..=end])).take(MAX_TRIGGER_DEPTH + 1)
}
