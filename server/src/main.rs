use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use papi::access::Role;
use papi_server::directory::{self, NewUser};
use tracing_subscriber::EnvFilter;

/// The PAPI workspace server: plan, reports and sync for the PAPI
/// improvement plan, offline first. Without a command it serves.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "PAPI_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Folder for the database; created if missing.
    #[arg(long, env = "PAPI_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Folder of the built front end (Trunk's output).
    #[arg(long, env = "PAPI_DIST_DIR", default_value = "./dist")]
    dist_dir: PathBuf,
    /// The largest message a client may send on /sync, in bytes.
    #[arg(long, env = "PAPI_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_message_bytes: usize,
    /// Messages per second one /sync connection may send on average; a
    /// faster sender is slowed down (its messages are read later).
    #[arg(long, env = "PAPI_MAX_MESSAGES_PER_SECOND", default_value_t = 1000)]
    max_messages_per_second: u32,
    /// Bytes per second one /sync connection may send on average.
    #[arg(long, env = "PAPI_MAX_BYTES_PER_SECOND", default_value_t = 8 * 1024 * 1024)]
    max_bytes_per_second: usize,
    /// Documents one /sync connection may use; past it the connection is
    /// closed.
    #[arg(
        long,
        env = "PAPI_MAX_DOCUMENTS_PER_CONNECTION",
        default_value_t = 2000
    )]
    max_documents_per_connection: usize,
    /// /sync connections one user may hold at once.
    #[arg(long, env = "PAPI_MAX_CONNECTIONS_PER_USER", default_value_t = 64)]
    max_connections_per_user: usize,
    /// Production: never create the demo accounts (create the first admin
    /// with `create-admin`).
    #[arg(long, env = "PAPI_PRODUCTION")]
    production: bool,
    /// How many days a sign-in lasts.
    #[arg(long, env = "PAPI_SESSION_DAYS", default_value_t = 14)]
    session_days: u64,
    /// Mark the session cookie Secure (set this when serving over TLS).
    #[arg(long, env = "PAPI_SECURE_COOKIES")]
    secure_cookies: bool,
    /// A reverse proxy in front of the server (repeat for several): only its
    /// `X-Forwarded-For` is taken as the client's address.
    #[arg(long, env = "PAPI_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Keep documents in memory only, for measuring what storing costs:
    /// nothing written to them survives a stop. Never for real use.
    #[arg(long, hide = true)]
    in_memory: bool,
    /// Write logs as JSON lines instead of text.
    #[arg(long, env = "PAPI_LOG_JSON")]
    log_json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an administrator (the first account of a production server).
    CreateAdmin {
        username: String,
        /// The name shown in the app.
        #[arg(long, default_value = "Quản trị hệ thống")]
        name: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Add a user to a unit with a role.
    AddUser {
        username: String,
        #[arg(long)]
        name: String,
        /// The unit's id (see `units`).
        #[arg(long)]
        unit: String,
        /// admin, director, coordinator, unit_lead, staff or viewer.
        #[arg(long)]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for a user.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users.
    Users,
    /// List the units.
    Units,
}

#[tokio::main]
async fn main() -> ExitCode {
    // A write past the file-size limit must fail with an error that storage
    // reports and retries, not kill the server (SIGXFSZ's default action).
    #[cfg(unix)]
    // SAFETY: only sets the process-wide disposition of one signal to
    // "ignore"; no handler code is installed.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // Large blocks (a password hash's 19 MiB, a big document) are mapped
    // and given back to the system when freed, instead of staying in each
    // thread's heap: otherwise every thread that ever hashed a password
    // keeps its 19 MiB.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: sets one allocator tunable before any thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("PAPI_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,papi_server=info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }

    let outcome = match cli.command {
        None => {
            let config = papi_server::Config {
                addr: cli.addr,
                data_dir: cli.data_dir,
                dist_dir: cli.dist_dir,
                limits: papi_server::Limits {
                    max_message_bytes: cli.max_message_bytes,
                    max_messages_per_second: cli.max_messages_per_second,
                    max_bytes_per_second: cli.max_bytes_per_second,
                    max_documents_per_connection: cli.max_documents_per_connection,
                    max_connections_per_user: cli.max_connections_per_user,
                },
                production: cli.production,
                session_lifetime: std::time::Duration::from_secs(cli.session_days * 24 * 3600),
                secure_cookies: cli.secure_cookies,
                trusted_proxies: cli.trusted_proxy,
                in_memory: cli.in_memory,
            };
            papi_server::run(config, papi_server::shutdown_signal())
                .await
                .map_err(anyhow::Error::from)
        }
        Some(command) => manage(&cli.data_dir, command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The error and its causes, on one line.
            eprintln!("papi-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The directory commands, run against the database in `data_dir`.
async fn manage(data_dir: &std::path::Path, command: Command) -> anyhow::Result<()> {
    let db = papi_server::open_database(data_dir).await?;
    match command {
        Command::CreateAdmin {
            username,
            name,
            password_stdin,
        } => {
            let top = directory::units(&db)
                .await?
                .into_iter()
                .find(|u| u.parent.is_none())
                .ok_or_else(|| anyhow!("there is no unit to put the administrator in"))?;
            let added =
                add_user(&db, &username, &name, &top.id, Role::Admin, password_stdin).await?;
            println!("Created administrator {} in {}.", added.username, top.name);
            print_password(&added.password);
        }
        Command::AddUser {
            username,
            name,
            unit,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow!("unknown role {role:?}: use admin, director, coordinator, unit_lead, staff or viewer")
            })?;
            let added = add_user(&db, &username, &name, &unit, role, password_stdin).await?;
            println!("Added {} ({}) to {}.", added.username, role.key(), unit);
            print_password(&added.password);
        }
        Command::ResetPassword {
            username,
            password_stdin,
        } => {
            let password = password(password_stdin)?;
            directory::set_password(&db, &username, password.text()).await?;
            println!("New password set for {username}.");
            print_password(&password);
        }
        Command::Users => {
            for u in directory::users(&db).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.role.key(),
                    u.unit,
                    u.display_name
                );
            }
        }
        Command::Units => {
            for u in directory::units(&db).await? {
                let parent = u.parent.unwrap_or_else(|| "-".into());
                println!("{}\t{}\t{}\t{}", u.id, u.kind.key(), parent, u.name);
            }
        }
    }
    Ok(())
}

/// A password: read from standard input, or made here (and then shown once).
enum Password {
    Given(String),
    Made(String),
}

impl Password {
    fn text(&self) -> &str {
        match self {
            Password::Given(p) | Password::Made(p) => p,
        }
    }
}

fn password(from_stdin: bool) -> anyhow::Result<Password> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password")?;
        Ok(Password::Given(
            line.trim_end_matches(['\r', '\n']).to_string(),
        ))
    } else {
        Ok(Password::Made(directory::random_password()))
    }
}

/// A user added from the command line, with their password.
struct Added {
    username: String,
    password: Password,
}

async fn add_user(
    db: &papi_server::Db,
    username: &str,
    name: &str,
    unit: &str,
    role: Role,
    password_stdin: bool,
) -> anyhow::Result<Added> {
    let password = password(password_stdin)?;
    let user = directory::add_user(
        db,
        NewUser {
            username,
            display_name: name,
            unit,
            role,
            password: password.text(),
        },
    )
    .await?;
    Ok(Added {
        username: user.username,
        password,
    })
}

fn print_password(password: &Password) {
    if let Password::Made(p) = password {
        println!("Password: {p}");
        println!("(shown once; it is stored only as an argon2id hash)");
    }
}
