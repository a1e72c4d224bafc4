//! The `mediaflow` command ([`commands`]) and the local stack it runs ([`local`]), which the
//! integration tests use too.

pub mod commands;
pub mod demo;
pub mod local;
mod render;
pub mod watch;
