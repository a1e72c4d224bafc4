//! The mediaflow console: workflows and jobs as server-rendered pages over the
//! [`Admin`](mediaflow::app::admin::Admin) facade, the same use-cases the CLI drives. One router
//! ([`router`]), served on loopback by `mediaflow console` and `mediaflow dev up` ([`serve`]).
//!
//! Holds pages, forms and access only: it reaches the deployment through the facade and never
//! imports adapters or builds clients (the caller wires the facade).

mod access;
mod assets;
mod form;
mod log;
mod pages;
mod playlist;
mod render;
mod serve;
mod sprites;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use mediaflow::app::admin::Admin;

pub use self::access::{Access, CognitoSettings, SettingsError};
pub use self::serve::{Local, serve};

/// What every handler reaches: the facade and who may use it.
#[derive(Clone, Debug)]
pub struct Console {
    admin: Arc<Admin>,
    access: Access,
}

/// The console's pages behind its access rules.
pub fn router(admin: Arc<Admin>, access: Access) -> Router {
    let console = Console { admin, access };
    pages::routes()
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(console.clone(), access::guard))
        .layer(axum::middleware::from_fn(log::requests))
        .with_state(console)
}
