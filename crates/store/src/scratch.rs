//! Scratch databases for tests and benchmarks, on the backend a run selects — the one backend
//! selector every crate's tests use. A scratch database is cloned from a **template** that
//! already holds the migrated ledger tables and the declared projection tables, so no test pays
//! for migrations: a PostgreSQL `CREATE DATABASE … TEMPLATE`, or a copy of an SQLite file. The
//! template's name carries a fingerprint of the schema, so a changed schema makes a new one.

use crate::url::DatabaseUrl;
use crate::{Result, Store, StoreError};
use kiroku_core::Registry;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The environment variable that selects the test backend: `sqlite` (default) or `postgres`.
pub const BACKEND_VAR: &str = "KIROKU_TEST_BACKEND";
/// The environment variable naming the PostgreSQL server tests make databases on.
pub const POSTGRES_VAR: &str = "KIROKU_TEST_POSTGRES_URL";

/// The database backend a test run uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite files.
    Sqlite,
    /// Databases on this PostgreSQL server.
    Postgres(DatabaseUrl),
}

impl Backend {
    /// The backend selected by the environment.
    pub fn from_env() -> Result<Backend> {
        match std::env::var(BACKEND_VAR).as_deref() {
            Ok("postgres") => postgres_server().map(Backend::Postgres),
            Ok("sqlite") | Err(_) => Ok(Backend::Sqlite),
            Ok(other) => Err(StoreError::Url(format!(
                "{BACKEND_VAR} must be sqlite or postgres, not {other:?}"
            ))),
        }
    }

    /// "sqlite" or "postgresql".
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgresql",
        }
    }
}

/// The PostgreSQL server of the environment (for tests that need both backends, such as the
/// differential test and migration).
pub fn postgres_server() -> Result<DatabaseUrl> {
    let url = std::env::var(POSTGRES_VAR).map_err(|_| {
        StoreError::Url(format!(
            "{POSTGRES_VAR} names no PostgreSQL server (./scripts/test starts one and sets it)"
        ))
    })?;
    DatabaseUrl::parse(&url)
}

/// A fresh database, removed (file or database) when dropped.
pub struct ScratchDb {
    /// Its URL.
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres(DatabaseUrl, String),
}

/// A name unique to this process and call: `kiroku_<tag>_<pid>_<n>_<nanos>`.
pub fn unique_name(tag: &str) -> String {
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

/// The fingerprint of everything a template holds: the migrations and the declared tables.
fn schema_fingerprint(registry: &Registry) -> String {
    let mut hasher = Sha256::new();
    hasher.update(crate::sqlite_db::MIGRATIONS_TEXT.as_bytes());
    hasher.update(crate::postgres_db::MIGRATIONS_TEXT.as_bytes());
    for table in registry.tables() {
        for dialect in [crate::sql::Dialect::Sqlite, crate::sql::Dialect::Postgres] {
            for statement in crate::sql::create_table(dialect, table) {
                hasher.update(statement.as_bytes());
            }
        }
    }
    hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ScratchDb {
    /// A fresh, migrated database with the declared tables and no ledger, cloned from the
    /// template (made on first use). SQLite files go under `dir`.
    pub fn new(
        backend: &Backend,
        registry: &Arc<Registry>,
        dir: &std::path::Path,
        tag: &str,
    ) -> Result<ScratchDb> {
        let fingerprint = schema_fingerprint(registry);
        let name = unique_name(tag);
        match backend {
            Backend::Sqlite => {
                let template =
                    std::env::temp_dir().join(format!("kiroku_template_{fingerprint}.db"));
                if !template.exists() {
                    let making = std::env::temp_dir().join(format!("{name}.template.db"));
                    drop(Store::open(
                        &DatabaseUrl::sqlite(&making),
                        registry.clone(),
                        1,
                    )?);
                    // Renaming is atomic: concurrent test processes race harmlessly.
                    std::fs::rename(&making, &template).map_err(|source| StoreError::Io {
                        what: "cannot make the template",
                        path: template.clone(),
                        source,
                    })?;
                }
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                    what: "cannot create",
                    path: dir.to_path_buf(),
                    source,
                })?;
                let path = dir.join(format!("{name}.db"));
                std::fs::copy(&template, &path).map_err(|source| StoreError::Io {
                    what: "cannot copy the template to",
                    path: path.clone(),
                    source,
                })?;
                Ok(ScratchDb {
                    url: DatabaseUrl::sqlite(&path),
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres(server) => {
                let template = format!("kiroku_template_{fingerprint}");
                ensure_postgres_template(server, registry, &template, &name)?;
                let mut client = postgres::Client::connect(&server.to_connect(), postgres::NoTls)?;
                client.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))?;
                let url = server
                    .with_database(&name)
                    .ok_or_else(|| StoreError::Url("cannot name the scratch database".into()))?;
                Ok(ScratchDb {
                    url,
                    cleanup: Cleanup::Postgres(server.clone(), name),
                })
            }
        }
    }
}

/// Makes the template database once: built under another name, then renamed into place.
fn ensure_postgres_template(
    server: &DatabaseUrl,
    registry: &Arc<Registry>,
    template: &str,
    name: &str,
) -> Result<()> {
    let mut client = postgres::Client::connect(&server.to_connect(), postgres::NoTls)?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])?
        .is_some();
    if exists {
        return Ok(());
    }
    let making = format!("{name}_tpl");
    client.batch_execute(&format!("CREATE DATABASE {making}"))?;
    let url = server
        .with_database(&making)
        .ok_or_else(|| StoreError::Url("cannot name the template".into()))?;
    drop(Store::open(&url, registry.clone(), 1)?);
    if client
        .batch_execute(&format!("ALTER DATABASE {making} RENAME TO {template}"))
        .is_err()
    {
        // Another process made it first.
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {making} WITH (FORCE)"))?;
    }
    Ok(())
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut name = path.clone().into_os_string();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
            }
            Cleanup::Postgres(server, name) => {
                let _ = drop_postgres_database(server, name);
            }
        }
    }
}

/// Creates an empty database (not from a template) named `name` on the server of `server`.
pub fn create_postgres_database(server: &DatabaseUrl, name: &str) -> Result<DatabaseUrl> {
    check_name(name)?;
    let mut client = postgres::Client::connect(&server.to_connect(), postgres::NoTls)?;
    client.batch_execute(&format!("CREATE DATABASE {name}"))?;
    server
        .with_database(name)
        .ok_or_else(|| StoreError::Url("cannot name the scratch database".into()))
}

/// Drops a database made by [`create_postgres_database`] or a [`ScratchDb`].
pub fn drop_postgres_database(server: &DatabaseUrl, name: &str) -> Result<()> {
    check_name(name)?;
    let mut client = postgres::Client::connect(&server.to_connect(), postgres::NoTls)?;
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Url(
            "scratch database names are [a-z0-9_]{1,63}".into(),
        ));
    }
    Ok(())
}
