//! The PAPI workspace server: it keeps the documents in SQLite, syncs them with
//! the browsers, and serves the built front end.

mod admin;
mod api;
mod assets;
mod auth;
mod authors;
pub mod backup;
mod chunks;
mod consolidated;
mod dashboard;
mod db;
pub mod directory;
mod engine;
mod error;
mod extract;
mod logsafe;
pub mod metrics;
mod panics;
mod plan_import;
mod policy;
mod proposals;
mod registry;
mod reports;
mod sessions;
mod storage;
mod sync;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use papi::ids::DocId;
use papi::schema::Plan;
use tower_http::trace::TraceLayer;

pub use db::Db;
pub use error::{ApiError, StartError};

use assets::Assets;
use engine::Engine;
use storage::Store;

/// What the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The built front end to serve; None serves the one built into the
    /// binary.
    pub dist_dir: Option<PathBuf>,
    pub limits: Limits,
    /// How long a sign-in lasts.
    pub session_lifetime: std::time::Duration,
    /// A production server never creates accounts with known passwords; a
    /// demo server creates the demo accounts on its first start.
    pub production: bool,
    /// Mark the session cookie Secure even without a proxy's
    /// `X-Forwarded-Proto: https` (for a server behind TLS).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Keep documents in memory only (for measuring what storing costs):
    /// nothing written to them survives a stop.
    pub in_memory: bool,
    /// Serve HTTPS on `addr` with this certificate and key (HTTP/2 too).
    pub tls: Option<tls::TlsFiles>,
    /// With `tls`: a plain-HTTP address that only redirects to HTTPS.
    pub http_redirect: Option<SocketAddr>,
    /// The address staff open (`https://papi.so-tai-chinh.vn/`, say), when
    /// it is not the one the server listens on: behind a proxy.
    pub public_url: Option<String>,
    /// Backups made while the server runs.
    pub backups: Option<backup::Schedule>,
    /// Who may read `/metrics`.
    pub metrics_from: Vec<metrics::Network>,
    /// A document no one syncs leaves memory after this long.
    pub unload_after: std::time::Duration,
}

/// Limits on what a client may send.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest WebSocket message accepted on `/sync`.
    pub max_message_bytes: usize,
    /// Messages per second one `/sync` connection may send, on average
    /// (bursts of twice as many pass). Beyond it the server stops reading
    /// that connection for a while: back-pressure, not disconnection.
    pub max_messages_per_second: u32,
    /// Bytes per second one `/sync` connection may send, on average. A
    /// single message up to `max_message_bytes` always passes.
    pub max_bytes_per_second: usize,
    /// Documents one `/sync` connection may name; past it the connection
    /// is closed.
    pub max_documents_per_connection: usize,
    /// `/sync` connections one user may hold at once.
    pub max_connections_per_user: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_messages_per_second: 1000,
            max_bytes_per_second: 8 * 1024 * 1024,
            max_documents_per_connection: 2000,
            max_connections_per_user: 64,
        }
    }
}

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    db: Db,
    engine: Engine,
    assets: Assets,
    plan_id: DocId,
    storage_health: storage::StorageHealth,
    limits: Limits,
    limiter: auth::Limiter,
    policy: policy::AccessPolicy,
    registry: registry::Registry,
    authors: authors::Authors,
    connections: sync::Connections,
    panics: panics::Panics,
    /// Refusals not tied to one connection, logged at a limited rate.
    refusals: std::sync::Arc<logsafe::QuietKeys>,
    session_lifetime: std::time::Duration,
    secure_cookies: bool,
    trusted_proxies: std::sync::Arc<Vec<std::net::IpAddr>>,
    public_url: Option<std::sync::Arc<str>>,
    backup_health: backup::BackupHealth,
    /// Turns true when the server begins to stop: sync connections close.
    stopping: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    metrics_from: std::sync::Arc<Vec<metrics::Network>>,
    /// Held while the state lives: one process at a time uses the data
    /// directory's documents.
    _lock: std::sync::Arc<std::fs::File>,
    /// One plan import at a time: each checks the workspace as it is, then
    /// changes it.
    importing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Config {
    /// What the command-line tools that change documents (`import-plan`)
    /// open a data directory with: no front end, no demo data.
    pub fn for_tools(data_dir: PathBuf) -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            // Tools serve nothing.
            dist_dir: Some(PathBuf::new()),
            limits: Limits::default(),
            session_lifetime: std::time::Duration::from_secs(3600),
            production: true,
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            in_memory: false,
            tls: None,
            http_redirect: None,
            public_url: None,
            backups: None,
            metrics_from: Vec::new(),
            unload_after: DEFAULT_UNLOAD_AFTER,
        }
    }
}

/// How long a document no one syncs stays in memory by default.
pub const DEFAULT_UNLOAD_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

impl AppState {
    /// Opens the data directory (creating and seeding the database on the
    /// first start) and starts the sync engine on it. `stop` ends it.
    pub async fn open(config: &Config) -> Result<AppState, StartError> {
        let db = open_database(&config.data_dir).await?;
        let lock = lock_data_dir(&config.data_dir)?;
        let storage_health = storage::StorageHealth::default();
        let store = if config.in_memory {
            tracing::warn!("documents are kept in memory only: nothing written to them is stored");
            Store::memory()
        } else {
            Store::sqlite(&db, storage_health.clone())?
        };
        let engine = Engine::new(store, config.unload_after);
        let registry = registry::Registry::new(db.clone());
        let policy = policy::AccessPolicy::new(db.clone(), registry.clone());
        let authors = authors::Authors::new(db.clone());
        let panics = panics::Panics::default();
        let plan_id = plan_import::ensure_plan(&db, &engine).await?;
        policy.set_plan(plan_id);
        let assets = match &config.dist_dir {
            Some(dir) => Assets::load(dir).map_err(|source| StartError::Io {
                what: format!("front end in {}", dir.display()),
                source,
            })?,
            None => Assets::embedded(),
        };
        let state = AppState {
            db,
            engine,
            assets,
            plan_id,
            storage_health,
            limits: config.limits,
            limiter: auth::Limiter::default(),
            policy,
            registry,
            authors,
            connections: sync::Connections::default(),
            panics,
            refusals: std::sync::Arc::new(logsafe::QuietKeys::new(std::time::Duration::from_secs(
                60,
            ))),
            session_lifetime: config.session_lifetime,
            // Over the server's own TLS every request is secure.
            secure_cookies: config.secure_cookies || config.tls.is_some(),
            trusted_proxies: std::sync::Arc::new(config.trusted_proxies.clone()),
            public_url: config.public_url.as_deref().map(Into::into),
            backup_health: backup::BackupHealth::default(),
            stopping: std::sync::Arc::new(tokio::sync::watch::Sender::new(false)),
            metrics: metrics::handle(),
            metrics_from: std::sync::Arc::new(config.metrics_from.clone()),
            _lock: std::sync::Arc::new(lock),
            importing: std::sync::Arc::default(),
        };
        if !config.production {
            state
                .seed_demo_plan()
                .await
                .map_err(|e| StartError::Corrupt(format!("demo plan: {}", e.detail())))?;
            directory::ensure_demo_accounts(&state.db)
                .await
                .map_err(|e| StartError::Corrupt(format!("demo accounts: {e}")))?;
        }
        Ok(state)
    }

    /// Waits until the sync engine has stored what it holds, and leaves
    /// one self-contained database file.
    pub async fn stop(&self) -> Result<(), StartError> {
        if !self.engine.flush(STOP_LIMIT).await {
            tracing::error!(
                "stopping with writes not committed; their senders keep them and send them again"
            );
        }
        self.db.checkpoint().await?;
        Ok(())
    }

    /// Runs the server's own `work` on a document, which must exist (the
    /// server made it); returns once what it changed is stored. A panic in
    /// it fails this request only, and is recorded for `/api/health`.
    async fn on_document<R>(
        &self,
        id: DocId,
        during: &str,
        work: impl FnOnce(&mut automerge::Automerge) -> R,
    ) -> Result<R, ApiError> {
        self.engine
            .change(id, |d| self.panics.contain(during, || work(d)))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
    }

    /// `on_document` for a registered document, by its stored id.
    async fn on_registered<R>(
        &self,
        doc_id: &str,
        during: &str,
        work: impl FnOnce(&mut automerge::Automerge) -> R,
    ) -> Result<R, ApiError> {
        let id: DocId = doc_id.parse().map_err(|_| {
            ApiError::internal(format!("a registered document id is malformed: {doc_id}"))
        })?;
        self.on_document(id, during, work).await
    }

    /// The plan, read from its document.
    async fn plan(&self) -> Result<Plan, ApiError> {
        self.on_document(self.plan_id, "reading the plan", |d| Plan::read(d))
            .await?
            .map_err(|e| ApiError::Internal(e.into()))
    }
}

/// How long stopping may take (SIGTERM, Ctrl-C) before the server leaves
/// without waiting for the sync engine.
pub const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The database file inside the data directory.
pub const DB_FILE: &str = "papi.sqlite3";

/// Opens (creating if needed) the database in `data_dir`.
pub async fn open_database(data_dir: &std::path::Path) -> Result<Db, StartError> {
    check_data_dir(data_dir)?;
    Ok(Db::open(&data_dir.join(DB_FILE))?)
}

/// Takes the data directory's lock, which the server holds while it runs:
/// a second process writing the same documents would lose changes.
pub(crate) fn lock_data_dir(data_dir: &std::path::Path) -> Result<std::fs::File, StartError> {
    use std::os::fd::AsRawFd;
    let path = data_dir.join("papi.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StartError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(StartError::InUse(data_dir.to_path_buf()));
    }
    Ok(file)
}

/// Creates the data directory if needed and makes sure the server can write
/// in it, so that a wrong folder is named plainly before anything starts.
fn check_data_dir(data_dir: &std::path::Path) -> Result<(), StartError> {
    let refuse = |source: std::io::Error| StartError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(refuse)?;
    let probe = data_dir.join(".papi-write-check");
    std::fs::write(&probe, b"").map_err(refuse)?;
    std::fs::remove_file(&probe).map_err(refuse)
}

/// Binds the listening address, naming the usual mistake plainly.
async fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => StartError::AddressInUse(addr),
            _ => StartError::Io {
                what: format!("listening on {addr}"),
                source,
            },
        })
}

/// Runs the server until `shutdown` resolves, then stops the sync engine and
/// flushes storage before returning.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // The addresses and the certificate first: a second server on the same
    // port, or a wrong certificate file, stops here, before any data is
    // touched.
    let listener = listen(config.addr).await?;
    let certificates = config
        .tls
        .clone()
        .map(tls::Certificates::load)
        .transpose()?;
    let redirect = match config.http_redirect {
        Some(addr) => Some(listen(addr).await?),
        None => None,
    };
    let state = AppState::open(&config).await?;
    let local = listener.local_addr().map_err(|source| StartError::Io {
        what: "reading the bound address".into(),
        source,
    })?;
    tracing::info!(addr = %local, tls = certificates.is_some(), data_dir = %config.data_dir.display(), "serving");
    if state.assets.is_empty() {
        match &config.dist_dir {
            Some(dir) => tracing::warn!(dist = %dir.display(), "no built front end found; serving the API only"),
            None => tracing::warn!("this binary was built before the front end and holds none; serving the API only (build the front end, then the server, or give --dist-dir)"),
        }
    }
    print_start(&config, local, &state).await?;
    let backing_up = config.backups.clone().map(|schedule| {
        tracing::info!(dir = %schedule.dir.display(), every_secs = schedule.every.as_secs(), keep = schedule.keep, "scheduled backups");
        schedule.start(config.data_dir.clone(), state.backup_health.clone())
    });

    let stopping = state.stopping.clone();
    let shutdown = futures::FutureExt::shared(Box::pin(async move {
        shutdown.await;
        stopping.send_replace(true);
    }));
    let redirecting = redirect.map(|listener| {
        let app = tls::redirect(local.port());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        })
    });
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = match certificates {
        Some(certificates) => {
            let watching = certificates.watch();
            let listener = tls::TlsListener::new(listener, certificates.server_config()).map_err(
                |source| StartError::Io {
                    what: format!("serving HTTPS on {local}"),
                    source,
                },
            )?;
            let listener =
                axum::serve::ListenerExt::tap_io(listener, |stream| no_delay(stream.get_ref().0));
            let served = drained(
                axum::serve(listener, service).with_graceful_shutdown(shutdown.clone()),
                shutdown,
            )
            .await;
            watching.abort();
            served
        }
        None => {
            let listener = axum::serve::ListenerExt::tap_io(listener, |stream| no_delay(stream));
            drained(
                axum::serve(listener, service).with_graceful_shutdown(shutdown.clone()),
                shutdown,
            )
            .await
        }
    };
    if let Some(redirecting) = redirecting {
        redirecting.abort();
    }
    if let Some(backing_up) = backing_up {
        // A backup under way is a file named `.partial`, never taken for a
        // finished one.
        backing_up.abort();
    }
    tracing::info!("shutting down: flushing storage");
    match tokio::time::timeout(STOP_LIMIT, state.stop()).await {
        Ok(stopped) => stopped?,
        Err(_) => {
            // Whatever was acknowledged is committed already; what was not
            // stays on the clients, which send it again.
            tracing::error!(
                limit_secs = STOP_LIMIT.as_secs(),
                "the sync engine did not stop in time; leaving without it"
            );
            state.db.checkpoint().await?;
        }
    }
    tracing::info!("storage flushed; bye");
    served.map_err(|source| StartError::Io {
        what: "serving".into(),
        source,
    })
}

/// How long connections may take to finish once the server stops: sync
/// connections are closed at once, but a client may be slow to answer.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves until `shutdown`, then waits at most `DRAIN_LIMIT` for the open
/// connections to finish (an HTTP/2 connection lasts as long as any stream
/// on it).
async fn drained(
    serving: impl std::future::IntoFuture<Output = std::io::Result<()>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let serving = serving.into_future();
    tokio::pin!(serving);
    tokio::select! {
        served = &mut serving => return served,
        () = shutdown => {}
    }
    match tokio::time::timeout(DRAIN_LIMIT, serving).await {
        Ok(served) => served,
        Err(_) => {
            tracing::warn!(
                limit_secs = DRAIN_LIMIT.as_secs(),
                "connections still open after the stop; closing them"
            );
            Ok(())
        }
    }
}

/// A keystroke is one small frame: sent at once, not held back by Nagle's
/// algorithm until the last one is acknowledged (up to 40 ms).
fn no_delay(stream: &tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::warn!(%error, "could not turn off Nagle's algorithm on a connection");
    }
}

/// Tells the person who started the server what to open, where the data
/// is, and who can sign in: the same lines on every start.
async fn print_start(
    config: &Config,
    local: SocketAddr,
    state: &AppState,
) -> Result<(), StartError> {
    let users = directory::users(&state.db)
        .await
        .map_err(|e| StartError::Corrupt(format!("reading the users: {e}")))?;
    // A server listening on every interface is opened on this machine as
    // 127.0.0.1.
    let mut open = local;
    if open.ip().is_unspecified() {
        open.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let data = std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    let mode = if config.production {
        "production"
    } else {
        "demo"
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("PAPI workspace ({mode})");
    match &config.public_url {
        Some(url) => println!("  Open:  {url}"),
        None => println!("  Open:  {scheme}://{open}/"),
    }
    let secure = config.tls.is_some()
        || config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    if !secure && !local.ip().is_loopback() {
        println!("  Warning: plain HTTP on a network address. Browsers keep the app for offline");
        println!("  use only on HTTPS pages (or on this machine's own localhost), so phones that");
        println!(
            "  open http://THIS-MACHINE:{}/ will not open it without a network. Serve HTTPS",
            local.port()
        );
        println!("  with --tls-cert and --tls-key, or behind a proxy (docs/deploy.md).");
    }
    println!("  Data:  {}", data.join(DB_FILE).display());
    let no_plan = state
        .plan()
        .await
        .map_err(|e| StartError::Corrupt(format!("reading the plan: {e}")))?
        .is_empty();
    if no_plan {
        println!("  No plan yet. Import the agency's plan file (see docs/plan-file.md) with:");
        println!(
            "    papi-server --data-dir {} import-plan FILE",
            data.display()
        );
        println!("  (with the server stopped), or from the admin page.");
    }
    if config.production {
        if users.is_empty() {
            println!("  No accounts yet. Create the first administrator with:");
            println!(
                "    papi-server --data-dir {} create-admin USERNAME",
                data.display()
            );
        } else {
            println!(
                "  Accounts: {} (list them with `papi-server users`)",
                users.len()
            );
        }
    } else {
        println!("  Demo accounts (run with --production to have none):");
        for (username, name, unit, role) in directory::DEMO_ACCOUNTS {
            if users.iter().any(|u| u.username == username) {
                println!(
                    "    {username:<12} password {:<18} {:<12} {unit} — {name}",
                    directory::demo_password(username),
                    role.key()
                );
            }
        }
    }
    // The tests and the run script read this line to learn the address.
    println!("Listening on {scheme}://{local}/");
    Ok(())
}

/// The whole HTTP surface: the API, `/sync` and the app's files.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(api::router())
        .merge(auth::router())
        .merge(admin::router())
        .merge(reports::router())
        .merge(consolidated::router())
        .merge(dashboard::router())
        .merge(proposals::router())
        .route("/metrics", axum::routing::get(metrics::endpoint))
        // A WebSocket opens with GET over HTTP/1.1, and with CONNECT over
        // HTTP/2 (RFC 8441), which a browser uses when the server offers it.
        .route(
            "/sync",
            axum::routing::get(sync::endpoint).connect(sync::endpoint),
        )
        .fallback(static_files)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                // The path only: query strings may carry credentials.
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
            }),
        )
        // A panic in a handler answers 500 and is counted, instead of
        // dropping the client's connection without a word.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom({
            let panics = state.panics.clone();
            move |payload: Box<dyn std::any::Any + Send>| {
                panics.record("a request", &*payload);
                ApiError::internal("the request failed").into_response()
            }
        }))
        .with_state(state)
}

async fn static_files(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    request: Request,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    state.assets.respond(request.uri().path(), &headers).await
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives
/// between "Listening on" and the first poll must still stop the server
/// cleanly, not kill it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let (mut interrupt, mut terminate) = match (interrupt, terminate) {
                (Ok(i), Ok(t)) => (i, t),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(%error, "cannot listen for SIGINT and SIGTERM");
                    return std::future::pending().await;
                }
            };
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received"),
                _ = terminate.recv() => tracing::info!("SIGTERM received"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
        tracing::info!("SIGINT received");
    }
}
