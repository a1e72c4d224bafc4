//! The console on this machine: bound to 127.0.0.1 only, opened with the link it prints.

use std::sync::Arc;

use mediaflow::app::admin::Admin;
use tokio::net::TcpListener;

use crate::{Access, router};

/// A console listening on loopback, not yet serving.
#[derive(Debug)]
pub struct Local {
    listener: TcpListener,
    access: Access,
}

impl Local {
    /// Binds `127.0.0.1:port` (0: a free port) with a fresh token.
    pub async fn bind(port: u16) -> std::io::Result<Local> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let access = Access::local(listener.local_addr()?.port());
        Ok(Local { listener, access })
    }

    /// The link that opens it (`http://127.0.0.1:PORT/?token=…`).
    pub fn link(&self) -> String {
        self.access.link()
    }
}

/// Serves the console until `shutdown` completes.
pub async fn serve(
    local: Local,
    admin: Arc<Admin>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(local.listener, router(admin, local.access)).with_graceful_shutdown(shutdown).await
}
