use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The PAPI workspace server: plan, reports and sync for the PAPI
/// improvement plan, offline first.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "PAPI_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Folder for the database; created if missing.
    #[arg(long, env = "PAPI_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Folder of the built front end (Trunk's output).
    #[arg(long, env = "PAPI_DIST_DIR", default_value = "./dist")]
    dist_dir: PathBuf,
    /// The largest message a client may send on /sync, in bytes.
    #[arg(long, env = "PAPI_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_message_bytes: usize,
    /// Write logs as JSON lines instead of text.
    #[arg(long, env = "PAPI_LOG_JSON")]
    log_json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("PAPI_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,samod=warn,samod_core=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }

    let config = papi_server::Config {
        addr: cli.addr,
        data_dir: cli.data_dir,
        dist_dir: cli.dist_dir,
        limits: papi_server::Limits {
            max_message_bytes: cli.max_message_bytes,
        },
    };
    match papi_server::run(config, papi_server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server stopped");
            eprintln!("papi-server: {error}");
            ExitCode::FAILURE
        }
    }
}
