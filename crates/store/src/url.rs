//! Database URLs: `sqlite://PATH` (or `sqlite:PATH`) for the embedded default and
//! `postgres://…` (or `postgresql://…`) for PostgreSQL. The backend is chosen by the scheme.

use crate::{Result, StoreError};
use std::fmt;
use std::path::PathBuf;

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, kept as given.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL; the scheme picks the backend.
    pub fn parse(text: &str) -> Result<DatabaseUrl> {
        let text = text.trim();
        if let Some(path) = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::Url("sqlite URL has no file path".into()));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(text.to_owned()));
        }
        Err(StoreError::Url(
            "expected sqlite://PATH or postgres://USER@HOST/DATABASE".into(),
        ))
    }

    /// The SQLite URL of a file.
    pub fn sqlite(path: impl Into<PathBuf>) -> DatabaseUrl {
        DatabaseUrl::Sqlite(path.into())
    }

    /// "sqlite" or "postgresql".
    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgresql",
        }
    }

    /// The text a driver connects with (the password unmasked): the PostgreSQL URL, or the
    /// SQLite path.
    pub(crate) fn to_connect(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => path.display().to_string(),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }

    /// The URL as configuration stores it, password included (never shown: [`fmt::Display`]
    /// masks it).
    pub fn to_config_text(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }

    /// For PostgreSQL, the same server with another database name.
    pub fn with_database(&self, name: &str) -> Option<DatabaseUrl> {
        let DatabaseUrl::Postgres(url) = self else {
            return None;
        };
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url.as_str(), None),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let host_part = match base[scheme_end..].find('/') {
            Some(slash) => &base[..scheme_end + slash],
            None => base,
        };
        let mut out = format!("{host_part}/{name}");
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        Some(DatabaseUrl::Postgres(out))
    }
}

impl fmt::Display for DatabaseUrl {
    /// Masks a PostgreSQL password, in the user-info part or as a `password=` parameter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => {
                let scheme_end = url.find("://").map_or(0, |i| i + 3);
                let (base, query) = match url.split_once('?') {
                    Some((base, query)) => (base, Some(query)),
                    None => (url.as_str(), None),
                };
                let rest = &base[scheme_end..];
                // The host starts after the *last* '@' of the authority (a password may hold '@').
                let authority_end = rest.find('/').unwrap_or(rest.len());
                let authority = &rest[..authority_end];
                let masked_authority = match authority.rfind('@') {
                    Some(at) => match authority[..at].split_once(':') {
                        Some((user, _)) => format!("{user}:***{}", &authority[at..]),
                        None => authority.to_owned(),
                    },
                    None => authority.to_owned(),
                };
                write!(
                    f,
                    "{}{}{}",
                    &base[..scheme_end],
                    masked_authority,
                    &rest[authority_end..]
                )?;
                if let Some(query) = query {
                    let masked: Vec<String> = query
                        .split('&')
                        .map(|kv| match kv.split_once('=') {
                            Some((k, _)) if k.eq_ignore_ascii_case("password") => {
                                format!("{k}=***")
                            }
                            _ => kv.to_owned(),
                        })
                        .collect();
                    write!(f, "?{}", masked.join("&"))?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the scheme picks the backend, bad URLs are refused, and passwords are masked.
    #[test]
    fn parse_and_display() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/k.db").ok(),
            Some(DatabaseUrl::Sqlite("/tmp/k.db".into()))
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        let pg = DatabaseUrl::parse("postgres://kiroku:secret@localhost:5432/k?sslmode=disable");
        let Ok(pg) = pg else { unreachable!() };
        assert_eq!(
            pg.to_string(),
            "postgres://kiroku:***@localhost:5432/k?sslmode=disable"
        );
        let tricky = DatabaseUrl::parse("postgres://k:p@ss@db/k?user=k&password=hunter2");
        let Ok(tricky) = tricky else { unreachable!() };
        assert_eq!(
            tricky.to_string(),
            "postgres://k:***@db/k?user=k&password=***"
        );
        assert_eq!(
            pg.with_database("other").map(|u| u.to_string()),
            Some("postgres://kiroku:***@localhost:5432/other?sslmode=disable".into())
        );
    }
}
