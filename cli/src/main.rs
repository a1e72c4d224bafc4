use clap::Parser;
use mediaflow_cli::commands::{self, Cli, Command, DevCommand};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The demo prints its own progress and then its results: the stack's log only when asked.
    let default = match cli.command {
        Command::Dev(DevCommand::Demo { .. }) => "warn",
        _ => "warn,mediaflow=info,mediaflow_cli=info,dispatcher=info,worker=info",
    };
    let filter = EnvFilter::try_from_env("MEDIAFLOW_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
