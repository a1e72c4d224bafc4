//! Event notification: where a workflow's job events go and when ([`spec`]), what sending one
//! came to ([`delivery`]), and how webhooks are signed and kept off private addresses
//! ([`webhook`]). What an event says is [`event`](super::event).
//!
//! Imports only the domain's leaves (`validation`); the job imports it, so it never imports the job.

pub mod delivery;
pub mod spec;
pub mod webhook;

pub use delivery::{Delivery, DeliveryState};
pub use spec::{NotificationSpec, NotificationTarget, NotifyMode, SecretRef};
pub use webhook::{is_private, sign_webhook};
