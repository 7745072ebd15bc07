use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use papi::access::Role;
use papi::api::{Unit, UnitKind};
use papi_server::backup;
use papi_server::directory::{self, NewUser};
use papi_server::{ApiError, AppState, Config};
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
    /// Serve the front end from this folder (Trunk's output, for
    /// development) instead of the one built into the binary.
    #[arg(long, env = "PAPI_DIST_DIR")]
    dist_dir: Option<PathBuf>,
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
    #[arg(long, env = "PAPI_PRODUCTION", value_parser = clap::builder::BoolishValueParser::new())]
    production: bool,
    /// How many days a sign-in lasts.
    #[arg(long, env = "PAPI_SESSION_DAYS", default_value_t = 14)]
    session_days: u64,
    /// Mark the session cookie Secure (set this behind a TLS proxy that
    /// sends no X-Forwarded-Proto; with --tls-cert it is always Secure).
    #[arg(long, env = "PAPI_SECURE_COOKIES", value_parser = clap::builder::BoolishValueParser::new())]
    secure_cookies: bool,
    /// Serve HTTPS (and HTTP/2) on --addr with this certificate chain (PEM).
    /// It is read again when it changes: a renewal needs no restart.
    #[arg(long, env = "PAPI_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "PAPI_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// With --tls-cert: a plain-HTTP address (such as 0.0.0.0:80) that only
    /// redirects browsers to the HTTPS address.
    #[arg(long, env = "PAPI_HTTP_REDIRECT", requires = "tls_cert")]
    http_redirect: Option<SocketAddr>,
    /// The address staff open, when a proxy serves it (such as
    /// https://papi.so-tai-chinh.vn/): printed at start and shown by a page
    /// opened on an address that cannot work offline.
    #[arg(long, env = "PAPI_PUBLIC_URL", value_parser = public_url)]
    public_url: Option<String>,
    /// Make a checked backup into this folder every --backup-every while
    /// serving (files papi-YYYYMMDD-HHMMSS.sqlite3).
    #[arg(long, env = "PAPI_BACKUP_DIR")]
    backup_dir: Option<PathBuf>,
    /// How often to back up: a number and s, m, h or d.
    #[arg(long, env = "PAPI_BACKUP_EVERY", default_value = "6h", value_parser = papi_server::backup::parse_every)]
    backup_every: std::time::Duration,
    /// How many scheduled backups to keep; the oldest is removed only after
    /// a new one is checked.
    #[arg(long, env = "PAPI_BACKUP_KEEP", default_value_t = 28)]
    backup_keep: usize,
    /// Addresses or networks (10.0.0.0/8) that may read /metrics; by
    /// default this machine only (127.0.0.0/8, ::1). Behind a proxy the
    /// client's address is the one the proxy names (see --trusted-proxy).
    #[arg(long, env = "PAPI_METRICS_FROM", value_delimiter = ',')]
    metrics_from: Vec<papi_server::metrics::Network>,
    /// A reverse proxy in front of the server (repeat for several): only its
    /// `X-Forwarded-For` is taken as the client's address.
    #[arg(long, env = "PAPI_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// A document that no one has open leaves the server's memory after
    /// this many seconds; the next request reads it from the database again.
    #[arg(long, env = "PAPI_UNLOAD_AFTER", default_value_t = papi_server::DEFAULT_UNLOAD_AFTER.as_secs())]
    unload_after: u64,
    /// Keep documents in memory only, for measuring what storing costs:
    /// nothing written to them survives a stop. Never for real use.
    #[arg(long, hide = true)]
    in_memory: bool,
    /// Write logs as JSON lines instead of text.
    #[arg(long, env = "PAPI_LOG_JSON", value_parser = clap::builder::BoolishValueParser::new())]
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
    /// Import users from a CSV file with the columns
    /// username,full_name,unit,role. Each new user gets a one-time password,
    /// to be changed at first sign-in. A file with any error imports nobody.
    ImportUsers {
        file: PathBuf,
        /// Write the new users' one-time passwords to this CSV file (made
        /// readable by you only) instead of printing them.
        #[arg(long)]
        passwords: Option<PathBuf>,
    },
    /// Import the agency's plan file (YAML, see docs/plan-file.md): its
    /// units and its measures. A file with any error imports nothing. Run
    /// it with the server stopped; a running server imports from its admin
    /// page.
    ImportPlan { file: PathBuf },
    /// Write the plan as a plan file (to standard output, or to --output).
    ExportPlan {
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List the units.
    Units,
    /// Copy the database into FILE while the server runs (or not), and
    /// check the copy: SQLite's integrity check, every document loads.
    Backup {
        file: PathBuf,
        /// Also print each document's id and heads.
        #[arg(long)]
        list: bool,
    },
    /// Check a backup (or any database file) without changing it.
    Check {
        file: PathBuf,
        /// Also print each document's id and heads.
        #[arg(long)]
        list: bool,
    },
    /// Put a backup in place as the data directory's database, with the
    /// server stopped. The database it replaces is kept beside it.
    Restore { file: PathBuf },
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
                unload_after: std::time::Duration::from_secs(cli.unload_after),
                tls: cli
                    .tls_cert
                    .zip(cli.tls_key)
                    .map(|(cert, key)| papi_server::tls::TlsFiles { cert, key }),
                http_redirect: cli.http_redirect,
                public_url: cli.public_url,
                metrics_from: if cli.metrics_from.is_empty() {
                    papi_server::metrics::Network::loopback()
                } else {
                    cli.metrics_from
                },
                backups: cli.backup_dir.map(|dir| papi_server::backup::Schedule {
                    dir,
                    every: cli.backup_every,
                    keep: cli.backup_keep,
                }),
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

/// A public address: an http(s) URL of a host, kept with one final slash.
fn public_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or("give the whole address, starting with https://")?;
    let host = rest.split('/').next().unwrap_or_default();
    let printable = |c: char| c.is_ascii_graphic() && !"\"<>\\^`{|}".contains(c);
    if host.is_empty() || !text.chars().all(printable) {
        return Err("not a web address".into());
    }
    Ok(format!("{}/", text.trim_end_matches('/')))
}

/// The directory and plan commands, run against the data in `data_dir`.
async fn manage(data_dir: &std::path::Path, command: Command) -> anyhow::Result<()> {
    match command {
        Command::ImportPlan { file } => return import_plan(data_dir, &file).await,
        Command::ExportPlan { output } => return export_plan(data_dir, output.as_deref()).await,
        Command::Backup { file, list } => {
            let dir = data_dir.to_path_buf();
            let made = tokio::task::spawn_blocking(move || backup::backup(&dir, &file)).await??;
            println!(
                "Backup written to {}: {} document(s), {} bytes; copied in {:.1} s, checked in {:.1} s (integrity, every document loads).",
                made.file.display(),
                made.checked.documents.len(),
                made.checked.bytes,
                made.copying.as_secs_f64(),
                made.checking.as_secs_f64()
            );
            if list {
                print!("{}", made.checked.heads_listing());
            }
            return Ok(());
        }
        Command::Check { file, list } => {
            let checked = tokio::task::spawn_blocking(move || backup::check(&file)).await??;
            println!(
                "Sound: {} document(s) load, {} bytes.",
                checked.documents.len(),
                checked.bytes
            );
            if list {
                print!("{}", checked.heads_listing());
            }
            return Ok(());
        }
        Command::Restore { file } => {
            let dir = data_dir.to_path_buf();
            let restored =
                tokio::task::spawn_blocking(move || backup::restore(&dir, &file)).await??;
            println!(
                "Restored {} document(s) into {}.",
                restored.checked.documents.len(),
                data_dir.join(papi_server::DB_FILE).display()
            );
            if let Some(aside) = restored.kept_aside {
                println!("The database it replaced is kept as {}.", aside.display());
            }
            return Ok(());
        }
        _ => {}
    }
    let db = papi_server::open_database(data_dir).await?;
    match command {
        Command::ImportPlan { .. }
        | Command::ExportPlan { .. }
        | Command::Backup { .. }
        | Command::Check { .. }
        | Command::Restore { .. } => {}
        Command::CreateAdmin {
            username,
            name,
            password_stdin,
        } => {
            let top = match directory::units(&db)
                .await?
                .into_iter()
                .find(|u| u.parent.is_none())
            {
                Some(top) => top,
                None => {
                    // Before any plan: the first plan import puts the
                    // agency in this unit's place.
                    let top = Unit {
                        id: "co-quan".into(),
                        name: "Cơ quan (chưa có kế hoạch)".into(),
                        kind: UnitKind::Agency,
                        parent: None,
                    };
                    directory::add_unit(&db, top.clone()).await?;
                    top
                }
            };
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
        Command::ImportUsers { file, passwords } => {
            let text = read_file(&file)?;
            // The passwords' file is made before anyone is imported: one
            // that cannot be written must not cost the passwords.
            let mut passwords = passwords
                .map(|path| create_private(&path).map(|file| (path, file)))
                .transpose()?;
            let imported = match directory::import_users(&db, &text).await {
                Err(error) => {
                    if let Some((path, _)) = passwords.take() {
                        let _ = std::fs::remove_file(path);
                    }
                    return match error {
                        directory::DirectoryError::Problems(problems) => Err(refused(&problems)),
                        other => Err(other.into()),
                    };
                }
                Ok(imported) => imported,
            };
            println!(
                "{} user(s) created, {} updated, {} unchanged.",
                imported.created.len(),
                imported.updated.len(),
                imported.unchanged
            );
            if imported.created.is_empty() {
                if let Some((path, _)) = passwords {
                    let _ = std::fs::remove_file(path);
                }
            } else {
                let mut rows = String::from("username,password\n");
                for p in &imported.created {
                    rows.push_str(&format!("{},{}\n", p.username, p.password));
                }
                match passwords {
                    Some((path, mut file)) => {
                        use std::io::Write;
                        file.write_all(rows.as_bytes())
                            .and_then(|()| file.sync_all())
                            .with_context(|| format!("writing {}", path.display()))?;
                        println!("One-time passwords written to {}.", path.display());
                    }
                    None => print!("{rows}"),
                }
                println!("(each must be changed at first sign-in; they are stored only as argon2id hashes)");
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

/// Imports a plan file into the data directory, with the server stopped.
async fn import_plan(data_dir: &std::path::Path, file: &std::path::Path) -> anyhow::Result<()> {
    let text = read_file(file)?;
    let state = AppState::open(&Config::for_tools(data_dir.to_path_buf())).await?;
    let outcome = state.import_plan(&text).await;
    state.stop().await?;
    let imported = match outcome {
        Err(ApiError::Problems(problems)) => return Err(refused(&problems)),
        other => other.map_err(|e| anyhow!("{}", e.detail()))?,
    };
    println!(
        "Plan imported: {} measure(s) added, {} changed, {} retired; {} unit(s) added, {} changed.",
        imported.measures_added,
        imported.measures_changed,
        imported.measures_retired,
        imported.units_added,
        imported.units_changed
    );
    Ok(())
}

async fn export_plan(
    data_dir: &std::path::Path,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let state = AppState::open(&Config::for_tools(data_dir.to_path_buf())).await?;
    let outcome = state.export_plan().await;
    state.stop().await?;
    let yaml = outcome.map_err(|e| anyhow!("{}", e.detail()))?;
    match output {
        Some(path) => {
            std::fs::write(path, yaml).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{yaml}"),
    }
    Ok(())
}

fn read_file(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Prints every problem of a refused file; the error says nothing was done.
fn refused(problems: &[papi::api::Problem]) -> anyhow::Error {
    for p in problems {
        eprintln!("{p}");
    }
    anyhow!(
        "{} problem(s) in the file; nothing was imported",
        problems.len()
    )
}

/// Creates a file only its owner can read, refusing to replace one.
fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (nobody was imported)", path.display()))
}
