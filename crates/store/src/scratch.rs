//! Scratch databases on a PostgreSQL server, for tests and benchmarks that must not touch a
//! real ledger: created fresh under a random name, dropped when done.

use crate::url::DatabaseUrl;
use crate::{Result, StoreError};

/// Creates an empty database named `name` on the server of `server` and returns its URL.
pub fn create_postgres_database(server: &DatabaseUrl, name: &str) -> Result<DatabaseUrl> {
    check_name(name)?;
    let DatabaseUrl::Postgres(url) = server else {
        return Err(StoreError::Url(
            "scratch databases need a postgres:// URL".into(),
        ));
    };
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute(&format!("CREATE DATABASE {name}"))?;
    server
        .with_database(name)
        .ok_or_else(|| StoreError::Url("cannot name the scratch database".into()))
}

/// Drops a scratch database made by [`create_postgres_database`].
pub fn drop_postgres_database(server: &DatabaseUrl, name: &str) -> Result<()> {
    check_name(name)?;
    let DatabaseUrl::Postgres(url) = server else {
        return Ok(());
    };
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 60
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Url(
            "scratch database names are [a-z0-9_]{1,60}".into(),
        ));
    }
    Ok(())
}
