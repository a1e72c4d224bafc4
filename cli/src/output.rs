//! How the command prints: tables for people, JSON for programs. What every command's output
//! shares; each command group renders its own results (`commands/*`).

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use comfy_table::Table;
use comfy_table::presets::UTF8_BORDERS_ONLY;
use serde::Serialize;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences for people.
    Table,
    /// JSON for programs.
    Json,
}

/// Where results go: standard output.
pub type Out<'a> = &'a mut dyn Write;

pub fn json<T: Serialize + ?Sized>(out: Out<'_>, value: &T) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header(header.to_vec());
    table
}

pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!("{:.1} s", (to - from).num_milliseconds() as f64 / 1000.0)
}

pub use mediaflow::domain::object::readable_size as bytes;
