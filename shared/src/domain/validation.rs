//! Collects every rule a value breaks, each named by the field it concerns.

/// The rules a value breaks, as `field: reason` messages in the order they were checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    /// Records `reason` against `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: impl AsRef<str>, reason: impl AsRef<str>) {
        if !ok {
            self.0.push(format!("{}: {}", field.as_ref(), reason.as_ref()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_messages(self) -> Vec<String> {
        self.0
    }
}
