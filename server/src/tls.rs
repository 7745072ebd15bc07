//! HTTPS served by the server itself. Phones keep the app for offline use
//! only on a secure page, so an agency that serves it on its network needs
//! TLS; this is TLS without a proxy in front.
//!
//! The certificate and key are read from PEM files and read again when
//! either file changes (a renewed certificate is taken without a restart; a
//! broken renewal is logged and the last good pair kept). HTTP/2 is offered
//! beside HTTP/1.1. `redirect` is the plain-HTTP port that only sends
//! browsers to the HTTPS address.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How often the certificate files are looked at for a change.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait to be accepted.
const HANDSHAKES_AT_ONCE: usize = 256;

/// Where the certificate chain and its private key are.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no PEM certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: {detail}", path.display())]
    Pem { path: PathBuf, detail: String },
    #[error("the key in {} cannot be used: {detail}", path.display())]
    Key { path: PathBuf, detail: String },
    #[error("the key in {} does not belong to the certificate in {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
}

/// The certificate the server presents, replaced when its files change.
#[derive(Debug)]
pub struct Certificates {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when `current` was read.
    read_at: RwLock<(Option<SystemTime>, Option<SystemTime>)>,
}

impl Certificates {
    /// Reads the pair; an unusable pair is an error that names the file.
    pub fn load(files: TlsFiles) -> Result<Arc<Certificates>, TlsError> {
        let provider = Arc::new(provider());
        let read_at = modified(&files);
        let key = read_pair(&files, &provider)?;
        Ok(Arc::new(Certificates {
            files,
            provider,
            current: RwLock::new(Arc::new(key)),
            read_at: RwLock::new(read_at),
        }))
    }

    /// Reads the files again if either changed since the last reading.
    /// Returns whether a new certificate is now in use.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = modified(&self.files);
        if now == *self.read_at.read().unwrap_or_else(|p| p.into_inner()) {
            return Ok(false);
        }
        // Noted before reading: a pair half written now is read again only
        // when it changes again (the second half landing), not every time.
        *self.read_at.write().unwrap_or_else(|p| p.into_inner()) = now;
        let key = read_pair(&self.files, &self.provider)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        Ok(true)
    }

    /// rustls's settings for serving with these certificates: TLS 1.2 and
    /// 1.3, HTTP/2 preferred to HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// Looks at the files every few seconds for as long as the server runs.
    pub fn watch(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let certificates = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECK_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let files = certificates.files.clone();
                let check = certificates.clone();
                match tokio::task::spawn_blocking(move || check.reload_if_changed()).await {
                    Ok(Ok(true)) => {
                        tracing::info!(cert = %files.cert.display(), "new TLS certificate in use")
                    }
                    Ok(Ok(false)) => {}
                    Ok(Err(error)) => {
                        tracing::error!(%error, "the changed TLS certificate cannot be used; the previous one is kept")
                    }
                    Err(error) => tracing::error!(%error, "checking the TLS certificate failed"),
                }
            }
        })
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// ring, not aws-lc-rs: it builds in seconds with the C compiler alone.
/// Its lack of post-quantum key exchange is why rustls marks it deprecated.
#[allow(deprecated)]
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn modified(files: &TlsFiles) -> (Option<SystemTime>, Option<SystemTime>) {
    let at = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (at(&files.cert), at(&files.key))
}

fn read_pair(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.clone(),
            source,
        })
    };
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: files.cert.clone(),
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        path: files.key.clone(),
        detail: e.to_string(),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Key {
            path: files.key.clone(),
            detail: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // A key type whose public half rustls cannot compute is not an
        // error of the files.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(_) => Err(TlsError::Mismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        }),
    }
}

/// A listener whose connections have finished their TLS handshake. The
/// handshakes run in their own tasks, so a slow or silent client holds up
/// no one else.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (send, ready) = mpsc::channel(64);
        let handshakes = Arc::new(Semaphore::new(HANDSHAKES_AT_ONCE));
        let accepting = tokio::spawn(async move {
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors, say: wait rather than spin.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let send = send.clone();
                tokio::spawn(async move {
                    let shaken = tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(tcp)).await;
                    drop(permit);
                    match shaken {
                        Ok(Ok(stream)) => {
                            let _ = send.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The plain-HTTP side when the server serves HTTPS: every request is sent
/// to the same path on the HTTPS port.
pub fn redirect(https_port: u16) -> axum::Router {
    axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| async move {
        redirect_to_https(&uri, &headers, https_port)
    })
}

fn redirect_to_https(uri: &Uri, headers: &HeaderMap, https_port: u16) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_name);
    let Some(host) = host else {
        return (
            StatusCode::BAD_REQUEST,
            "use the server's HTTPS address (the request named no valid host)",
        )
            .into_response();
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

/// The host part of a `Host` header, without its port; None when it is
/// not a plain name or address (nothing of the client's is echoed blindly).
fn host_name(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') {
        // [v6]:port
        &host[..=host.find(']')?]
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    valid.then_some(name)
}

/// Whether a browser treats a page on `host` (a `Host` header) as secure
/// without TLS: loopback names and addresses are.
pub fn is_loopback_host(host: &str) -> bool {
    let Some(name) = host_name(host) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A certificate authority and a certificate for `name` that it signed.
    struct Made {
        ca: CertificateDer<'static>,
        cert_pem: String,
        key_pem: String,
    }

    fn make(name: &str) -> Made {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        Made {
            ca: ca.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn write(dir: &Path, made: &Made) -> TlsFiles {
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, &made.cert_pem).unwrap();
        std::fs::write(&files.key, &made.key_pem).unwrap();
        files
    }

    /// Connects as a client that trusts only `ca`, offering the protocols
    /// `alpn`; the certificate the server showed and the protocol chosen.
    async fn connect(
        addr: SocketAddr,
        name: &str,
        ca: &CertificateDer<'static>,
        alpn: &[&[u8]],
    ) -> (
        CertificateDer<'static>,
        Option<Vec<u8>>,
        tokio_rustls::client::TlsStream<TcpStream>,
    ) {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let stream = connector
            .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
            .await
            .expect("a handshake the client trusts");
        let (_, session) = stream.get_ref();
        let shown = session.peer_certificates().unwrap()[0].clone();
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        (shown, alpn, stream)
    }

    const BOTH: &[&[u8]] = &[b"h2", b"http/1.1"];

    fn leaf(made: &Made) -> CertificateDer<'static> {
        CertificateDer::pem_slice_iter(made.cert_pem.as_bytes())
            .next()
            .unwrap()
            .unwrap()
    }

    async fn serve(files: TlsFiles) -> (SocketAddr, Arc<Certificates>) {
        let certificates = Certificates::load(files).unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TlsListener::new(tcp, certificates.server_config()).unwrap();
        let addr = axum::serve::Listener::local_addr(&listener).unwrap();
        let app = axum::Router::new().fallback(|| async { "hello" });
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, certificates)
    }

    #[tokio::test]
    async fn serves_http2_and_http1_with_the_certificate_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let made = make("papi.test");
        let (addr, _) = serve(write(dir.path(), &made)).await;
        let (shown, alpn, _) = connect(addr, "papi.test", &made.ca, BOTH).await;
        assert_eq!(shown, leaf(&made));
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));

        // A client that speaks only HTTP/1.1 is answered in it.
        let (_, alpn, mut stream) = connect(addr, "papi.test", &made.ca, &[b"http/1.1"]).await;
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: papi.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
    }

    #[tokio::test]
    async fn a_renewed_certificate_is_taken_without_a_restart_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let first = make("papi.test");
        let files = write(dir.path(), &first);
        let (addr, certificates) = serve(files.clone()).await;

        // A broken renewal (the key of another certificate): refused, and
        // the old pair goes on being served.
        let other = make("papi.test");
        std::fs::write(&files.cert, &other.cert_pem).unwrap();
        bump(&files.cert);
        let refused = certificates.reload_if_changed();
        assert!(
            matches!(refused, Err(TlsError::Mismatch { .. })),
            "{refused:?}"
        );
        let (shown, _, _) = connect(addr, "papi.test", &first.ca, BOTH).await;
        assert_eq!(shown, leaf(&first));

        // The whole new pair: served from the next handshake on.
        write(dir.path(), &other);
        bump(&files.key);
        assert!(certificates.reload_if_changed().unwrap());
        let (shown, _, _) = connect(addr, "papi.test", &other.ca, BOTH).await;
        assert_eq!(shown, leaf(&other));
        assert!(
            !certificates.reload_if_changed().unwrap(),
            "nothing changed since"
        );
    }

    /// Moves a file's modification time on, as a later write would: two
    /// writes within the file system's time resolution look like one.
    fn bump(path: &Path) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        let later = std::fs::metadata(path).unwrap().modified().unwrap() + Duration::from_secs(2);
        file.set_modified(later).unwrap();
    }

    #[test]
    fn unusable_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("missing.pem"),
            key: dir.path().join("key.pem"),
        };
        let error = Certificates::load(files.clone()).unwrap_err().to_string();
        assert!(error.contains("missing.pem"), "{error}");
        std::fs::write(&files.cert, "not a certificate").unwrap();
        std::fs::write(&files.key, "nor a key").unwrap();
        let error = Certificates::load(files).unwrap_err().to_string();
        assert!(
            error.contains("missing.pem") && error.contains("no PEM certificate"),
            "{error}"
        );
    }

    #[test]
    fn the_redirect_keeps_the_path_and_names_the_https_port() {
        let to = |host: &str, path: &str, port: u16| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().unwrap());
            let response = redirect_to_https(&path.parse().unwrap(), &headers, port);
            let location = response
                .headers()
                .get(header::LOCATION)
                .map(|l| l.to_str().unwrap().to_string());
            (response.status(), location)
        };
        assert_eq!(
            to("10.0.0.5:8080", "/reports/2026-h1?x=1", 8443),
            (
                StatusCode::PERMANENT_REDIRECT,
                Some("https://10.0.0.5:8443/reports/2026-h1?x=1".into())
            )
        );
        assert_eq!(
            to("papi.so-tai-chinh.vn", "/", 443).1.as_deref(),
            Some("https://papi.so-tai-chinh.vn/")
        );
        assert_eq!(
            to("[fd00::5]:80", "/plan", 443).1.as_deref(),
            Some("https://[fd00::5]/plan")
        );
        assert_eq!(to("evil\"host", "/", 443).0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn loopback_hosts_are_secure_without_tls() {
        for host in ["localhost:8080", "127.0.0.1", "[::1]:8080", "app.localhost"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.5:8080",
            "papi.test",
            "[fd00::5]:80",
            "localhost.evil.vn",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
