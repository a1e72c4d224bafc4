use clap::Parser;
use mediaflow_cli::commands::{self, Cli};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = EnvFilter::try_from_env("MEDIAFLOW_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,mediaflow=info,mediaflow_cli=info,dispatcher=info,worker=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match commands::run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
