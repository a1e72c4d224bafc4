//! The use-cases, grouped by who drives them: [`pipeline`] is driven by the functions (an upload's
//! event, a worker's message), [`admin`] by people (the CLI, the console) through one facade.
//!
//! Imports the domain and the ports, never an adapter; `admin` may use `pipeline` (a backfill
//! starts jobs as the dispatcher does), never the reverse.

pub mod admin;
pub mod pipeline;
