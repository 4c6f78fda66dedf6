//! The test kit: real Kiroku servers for end-to-end tests. A test asks for a [`DataDir`] (a
//! fresh data directory on the backend the run selects), a [`TestServer`] (that directory served
//! in-process on a free port) or a [`ServerProcess`] (the `kiroku` binary itself, for tests that
//! kill it), and talks to it over real HTTP. [`browser`] drives real Chromium.
//!
//! The backend comes from the environment: `KIROKU_TEST_BACKEND=sqlite` (default) or
//! `postgres`, with `KIROKU_TEST_POSTGRES_URL` naming a server on which each data directory gets
//! a scratch database. `scripts/test` runs the suite once with each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
mod http;

pub use http::Reply;

use kiroku_server::datadir::{self, InitOptions};
use kiroku_server::instance::{Instance, Overrides};
use kiroku_store::DatabaseUrl;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The database backend a test run uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the data directory.
    Sqlite,
    /// Scratch databases on this PostgreSQL server.
    Postgres(String),
}

/// The backend selected by `KIROKU_TEST_BACKEND` (and `KIROKU_TEST_POSTGRES_URL`).
pub fn backend() -> Backend {
    match std::env::var("KIROKU_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres(std::env::var("KIROKU_TEST_POSTGRES_URL").expect(
            "KIROKU_TEST_BACKEND=postgres needs KIROKU_TEST_POSTGRES_URL (scripts/test sets both)",
        )),
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("KIROKU_TEST_BACKEND must be sqlite or postgres, not {other:?}"),
    }
}

fn unique(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "kiroku_{tag}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A data directory made by `kiroku init` on the selected backend; removed (with its scratch
/// database) when dropped.
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// The origin.
    pub origin: String,
    /// The verifier key text.
    pub verifier: String,
    /// The database URL when it is not the directory's own SQLite file.
    pub database_url: Option<String>,
    scratch: Option<(DatabaseUrl, String)>,
    root: PathBuf,
}

impl DataDir {
    /// A fresh, initialised data directory.
    pub fn init() -> DataDir {
        let name = unique("t");
        let root = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&root).unwrap();
        let path = root.join("data");
        let (database_url, scratch) = match backend() {
            Backend::Sqlite => (None, None),
            Backend::Postgres(server) => {
                let server = DatabaseUrl::parse(&server).unwrap();
                let url = kiroku_store::scratch::create_postgres_database(&server, &name).unwrap();
                (
                    Some(url_text(&url, &server, &name)),
                    Some((server, name.clone())),
                )
            }
        };
        let origin = format!("kiroku.test/{}", &name[name.len() - 6..]);
        let verifier = datadir::init(
            &path,
            &InitOptions {
                origin: Some(origin.clone()),
                database_url: database_url.clone(),
                listen: Some("127.0.0.1:0".into()),
            },
        )
        .unwrap();
        DataDir {
            path,
            origin,
            verifier: verifier.to_text(),
            database_url,
            scratch,
            root,
        }
    }

    /// The operator token.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.path.join("operator.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// The database URL the directory uses.
    pub fn database(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url).unwrap(),
            None => DatabaseUrl::sqlite(self.path.join("kiroku.db")),
        }
    }

    /// A scratch location beside the data directory (removed with it).
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// The unmasked URL of a scratch database (Display masks passwords).
fn url_text(url: &DatabaseUrl, _server: &DatabaseUrl, _name: &str) -> String {
    match url {
        DatabaseUrl::Postgres(text) => text.clone(),
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        if let Some((server, name)) = &self.scratch {
            let _ = kiroku_store::scratch::drop_postgres_database(server, name);
        }
    }
}

/// POSTs an operator note to the server at `base` (`http://HOST:PORT`) with `token`.
pub fn post_note(base: &str, token: &str, text: &str) -> Reply {
    let auth = format!("Bearer {token}");
    let body = serde_json::json!({ "text": text }).to_string();
    http::request(
        "POST",
        &format!("{base}/api/operator/notes"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
}

/// A data directory served in-process on a free port.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    data: Option<DataDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// A fresh data directory, served.
    pub fn start() -> TestServer {
        TestServer::serve(DataDir::init())
    }

    /// Serves `data`.
    pub fn serve(data: DataDir) -> TestServer {
        let instance = Instance::open(&data.path, &Overrides::default()).unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let app = kiroku_server::app(&instance);
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .unwrap();
            });
            runtime.shutdown_timeout(Duration::from_secs(5));
            instance.shutdown();
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        TestServer {
            base: format!("http://{addr}"),
            data: Some(data),
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The served directory.
    pub fn data(&self) -> &DataDir {
        self.data
            .as_ref()
            .expect("the data directory stays until stop")
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Reply {
        http::request("GET", &self.url(path), &[], None)
    }

    /// GET `path` with headers.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        http::request("GET", &self.url(path), headers, None)
    }

    /// Sends a request with any method, headers and body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        http::request(method, &self.url(path), headers, body)
    }

    /// POSTs an operator note with the directory's token.
    pub fn post_note(&self, text: &str) -> Reply {
        let token = format!("Bearer {}", self.data().token());
        let body = serde_json::json!({ "text": text }).to_string();
        self.send(
            "POST",
            "/api/operator/notes",
            &[
                ("authorization", &token),
                ("content-type", "application/json"),
            ],
            Some(body.as_bytes()),
        )
    }

    /// Stops the server, waiting for the writer to commit what is queued; returns the data.
    pub fn stop(mut self) -> DataDir {
        self.halt();
        self.data
            .take()
            .expect("the data directory stays until stop")
    }

    fn halt(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The `kiroku` binary serving a data directory in a child process.
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
}

impl ServerProcess {
    /// Starts `kiroku serve` on a free port and waits until it answers `/healthz`.
    pub fn spawn(binary: &Path, data: &DataDir) -> ServerProcess {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--data"])
            .arg(&data.path)
            .args(["--listen", "127.0.0.1:0"])
            .env("KIROKU_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("Kiroku listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from kiroku serve: {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        let process = ServerProcess { base, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while process.get("/healthz").status != 200 {
            assert!(
                Instant::now() < deadline,
                "kiroku serve did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Reply {
        http::request("GET", &format!("{}{path}", self.base), &[], None)
    }

    /// POSTs an operator note.
    pub fn post_note(&self, token: &str, text: &str) -> Reply {
        post_note(&self.base, token, text)
    }

    /// `kill -9`: no chance to flush or shut down.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
