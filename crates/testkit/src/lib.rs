//! The test kit: real Kiroku servers for end-to-end tests. A test asks for a [`DataDir`] (a
//! fresh data directory whose database is cloned from a template on the backend the run
//! selects), a [`TestServer`] (that directory served in-process on a free port, its ledger
//! verified when the test ends) or a [`ServerProcess`] (the `kiroku` binary itself, for tests
//! that kill it), and talks to it over real HTTP through a typed client per wing: [`Client`]
//! (an API caller by bearer token) with the ops wing's notes ([`ops`]) and the policy's
//! versions ([`policy`]), a signed-in [`access::Person`] and system clients' tokens
//! ([`access`]), and FHIR requests as either ([`records`]). [`browser`] drives real Chromium;
//! [`chaos`] puts a fault-injecting proxy between a server and PostgreSQL.
//!
//! The backend comes from the environment (`KIROKU_TEST_BACKEND=sqlite|postgres`,
//! `KIROKU_TEST_POSTGRES_URL`); `scripts/test` runs the suite once with each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod access;
pub mod browser;
pub mod chaos;
mod http;
pub mod ops;
pub mod policy;
pub mod records;

pub use http::Reply;

use kiroku_app::datadir::{self, Administrator, InitOptions};
use kiroku_app::{App, Overrides};
use kiroku_store::scratch::{Backend, ScratchDb};
use kiroku_store::DatabaseUrl;
use serde_json::Value;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The backend this run selects.
pub fn backend() -> Backend {
    Backend::from_env().expect("KIROKU_TEST_BACKEND / KIROKU_TEST_POSTGRES_URL")
}

/// The PostgreSQL server of the run (tests that need both backends; `scripts/test` sets it).
pub fn postgres_server() -> DatabaseUrl {
    kiroku_store::scratch::postgres_server().expect(
        "this test needs PostgreSQL: run ./scripts/test, which starts one and sets KIROKU_TEST_POSTGRES_URL",
    )
}

/// The Python that runs the checks we did not write (`fhir.resources`, `fhirclient`) and the
/// scripts meant to run outside the server: the one `scripts/test` prepares, named by
/// `KIROKU_TEST_PYTHON`.
pub fn python() -> PathBuf {
    std::env::var_os("KIROKU_TEST_PYTHON").map(PathBuf::from).expect(
        "this test needs the Python that ./scripts/test prepares (target/py): run ./scripts/test, or set KIROKU_TEST_PYTHON",
    )
}

/// A data directory made by `kiroku init`, its database cloned from the template of the
/// selected backend; removed (with its database) when dropped.
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// The origin.
    pub origin: String,
    /// The verifier key text.
    pub verifier: String,
    /// The first administrator's one-time setup secret, for a [`DataDir::hospital`].
    pub setup_secret: Option<String>,
    root: PathBuf,
    database: ScratchDb,
}

impl DataDir {
    /// A fresh, initialised data directory on the selected backend.
    pub fn init() -> DataDir {
        DataDir::init_on(&backend())
    }

    /// A fresh data directory on the selected backend whose first system administrator is
    /// `director` (大崎 院長), as `kiroku init` makes it for a hospital — except that second
    /// factors are optional, so that tests of other things sign in with a password alone
    /// (see [`DataDir::hospital_two_factor`] for the default, enforced).
    pub fn hospital() -> DataDir {
        let data = DataDir::hospital_two_factor();
        let mut config = kiroku_app::config::Config::load(&data.path).unwrap();
        config.second_factor = kiroku_app::config::SecondFactor::Optional;
        config.save(&data.path).unwrap();
        data
    }

    /// [`DataDir::hospital`] with the default configuration: every account enrols a second
    /// factor at its first sign-in and signs in with it.
    pub fn hospital_two_factor() -> DataDir {
        DataDir::make(
            &backend(),
            Some(Administrator {
                account: "director".into(),
                family_name: "大崎".into(),
                given_name: "院長".into(),
                family_kana: "オオサキ".into(),
                given_kana: "インチョウ".into(),
            }),
        )
    }

    /// A fresh, initialised data directory on `backend` (the ledger alone: no accounts).
    pub fn init_on(backend: &Backend) -> DataDir {
        DataDir::make(backend, None)
    }

    fn make(backend: &Backend, administrator: Option<Administrator>) -> DataDir {
        let (root, path, database) = DataDir::prepare(backend);
        let name = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap();
        let origin = format!("kiroku.test/{}", &name[name.len() - 6..]);
        let made = datadir::init(
            &path,
            &InitOptions {
                origin: Some(origin.clone()),
                database_url: Some(database.url.to_config_text()),
                listen: Some("127.0.0.1:0".into()),
                public_url: None,
                administrator,
            },
        )
        .unwrap();
        DataDir {
            path,
            origin,
            verifier: made.verifier.to_text(),
            setup_secret: made.setup_secret,
            root,
            database,
        }
    }

    /// A data directory holding `other`'s configuration and keys (not its database) and an
    /// empty database on `backend`: where a backup is restored, or a ledger imported.
    pub fn empty_copy_of(other: &DataDir, backend: &Backend) -> DataDir {
        let (root, path, database) = DataDir::prepare(backend);
        std::fs::create_dir_all(&path).unwrap();
        for file in ["signing.key", "operator.token"] {
            std::fs::copy(other.path.join(file), path.join(file)).unwrap();
        }
        let mut config = kiroku_app::config::Config::load(&other.path).unwrap();
        config.database_url = database.url.to_config_text();
        config.save(&path).unwrap();
        DataDir {
            path,
            origin: other.origin.clone(),
            verifier: other.verifier.clone(),
            setup_secret: other.setup_secret.clone(),
            root,
            database,
        }
    }

    fn prepare(backend: &Backend) -> (PathBuf, PathBuf, ScratchDb) {
        let root = std::env::temp_dir().join(kiroku_store::scratch::unique_name("t"));
        std::fs::create_dir_all(&root).unwrap();
        let database =
            ScratchDb::new(backend, &kiroku_app::registry(), &root.join("db"), "t").unwrap();
        (root.clone(), root.join("data"), database)
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
        self.database.url.clone()
    }

    /// A scratch location beside the data directory (removed with it).
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Opens the directory as the server does (for tests that drive use cases directly).
    pub fn open(&self) -> App {
        App::open(&self.path, &Overrides::default()).unwrap()
    }

    /// Verifies the directory's ledger; returns the problem, if any.
    pub fn verify(&self) -> Option<String> {
        let report =
            kiroku_app::ops::ledger::verify_dir(&self.path, &Overrides::default(), &mut |_, _| {})
                .unwrap();
        report.problem.map(|p| p.what)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A data directory served in-process on a free port. When the test ends — stopped or dropped
/// — the server is shut down and its ledger verified: a test that leaves an unverifiable ledger
/// fails.
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
        TestServer::serve_with(data, Overrides::default())
    }

    /// Serves `data` with overrides (another database URL, say).
    pub fn serve_with(data: DataDir, overrides: Overrides) -> TestServer {
        let app = App::open(&data.path, &overrides).unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let app = Arc::new(app);
            let router = kiroku_server::app(app.clone());
            let listening = app.clone();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                listening.listening_on(listener.local_addr().unwrap());
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                })
                .await
                .unwrap();
            });
            runtime.shutdown_timeout(Duration::from_secs(5));
            if let Ok(app) = Arc::try_unwrap(app) {
                app.shutdown();
            }
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(60)).unwrap();
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

    /// A client holding the operator token.
    pub fn operator(&self) -> Client {
        Client {
            base: self.base.clone(),
            token: Some(self.data().token()),
        }
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            token: None,
        }
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
        self.operator().write_note(text, &[])
    }

    /// Stops the server, waits for the writer to commit what is queued, verifies the ledger,
    /// and returns the data directory.
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
            if let Some(data) = &self.data {
                // The teardown every test server gets: its ledger must verify. (Not while a
                // test is already failing: the first failure is the one to read.)
                if !std::thread::panicking() {
                    if let Some(problem) = data.verify() {
                        panic!("the test server's ledger does not verify: {problem}");
                    }
                }
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A typed HTTP client of the API, as an operator's program would use it.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
}

impl Client {
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        let body = body.map(Value::to_string);
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        http::request(
            method,
            &format!("{}{path}", self.base),
            &headers,
            body.as_deref().map(str::as_bytes),
        )
    }

    /// GET `path` with the client's credentials.
    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, &[])
    }

    /// POST a JSON body to `path` with the client's credentials.
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(body), &[])
    }

    /// PUT a JSON body to `path` with the client's credentials.
    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.call("PUT", path, Some(body), &[])
    }

    /// The signed tree size.
    pub fn tree_size(&self) -> u64 {
        self.call("GET", "/healthz", None, &[]).json()["tree_size"]
            .as_u64()
            .unwrap()
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

    /// GET `path` with `headers` (a session's cookie, say).
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        http::request("GET", &format!("{}{path}", self.base), headers, None)
    }

    /// A client of this server holding `token`.
    pub fn client(&self, token: &str) -> Client {
        Client {
            base: self.base.clone(),
            token: Some(token.into()),
        }
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

/// A client of the server at `base` holding `token`.
pub fn client(base: &str, token: &str) -> Client {
    Client {
        base: base.into(),
        token: Some(token.into()),
    }
}
