//! `kiroku.toml`: declared once here, validated at start-up; secrets live in their own files
//! (mode 0600) and never in the configuration or the logs.

use kiroku_store::writer::WriterConfig;
use kiroku_store::DatabaseUrl;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The configuration file's name inside a data directory.
pub const CONFIG_FILE: &str = "kiroku.toml";

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path} is not a valid Kiroku configuration: {message}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A value is out of range.
    #[error("configuration value {field} is invalid: {why}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What is allowed.
        why: String,
    },
}

/// Every limit on input and work, in one place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body (an attachment sent as a raw Binary is the largest: 8 MiB of it
    /// makes a payload of about 11 MiB in base64, within the blob limit).
    pub body_bytes_max: usize,
    /// Largest encoded ledger entry (≤ 65535, the tlog-tiles limit); larger payloads go to blobs.
    pub entry_bytes_max: usize,
    /// Largest blob.
    pub blob_bytes_max: usize,
    /// Most entries in one group commit.
    pub batch_entries_max: usize,
    /// How long a group commit waits for more entries once it has one.
    pub batch_wait_ms: u64,
    /// Most append requests queued before callers wait.
    pub queue_requests_max: usize,
    /// Reader connections to the database.
    pub db_readers_max: usize,
    /// Most rows on one page of any list.
    pub page_rows_max: u64,
    /// Seconds a system client's bearer token lasts.
    pub token_seconds: i64,
}

impl Default for Limits {
    fn default() -> Self {
        let writer = WriterConfig::default();
        Limits {
            body_bytes_max: 8 << 20,
            entry_bytes_max: writer.entry_bytes_max,
            blob_bytes_max: writer.blob_bytes_max,
            batch_entries_max: writer.batch_entries_max,
            batch_wait_ms: writer.batch_wait_ms,
            queue_requests_max: writer.queue_requests_max,
            db_readers_max: 8,
            page_rows_max: 500,
            token_seconds: 3600,
        }
    }
}

impl Limits {
    /// Checks every limit against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn range<T: PartialOrd + std::fmt::Display>(
            field: &'static str,
            value: T,
            min: T,
            max: T,
        ) -> Result<(), ConfigError> {
            if value < min || value > max {
                return Err(ConfigError::Invalid {
                    field,
                    why: format!("{value} is outside {min}..={max}"),
                });
            }
            Ok(())
        }
        range(
            "limits.body_bytes_max",
            self.body_bytes_max,
            1024,
            256 << 20,
        )?;
        range("limits.entry_bytes_max", self.entry_bytes_max, 1024, 65_535)?;
        range("limits.blob_bytes_max", self.blob_bytes_max, 1024, 1 << 30)?;
        range(
            "limits.batch_entries_max",
            self.batch_entries_max,
            1,
            65_536,
        )?;
        range("limits.batch_wait_ms", self.batch_wait_ms, 0, 1000)?;
        range(
            "limits.queue_requests_max",
            self.queue_requests_max,
            1,
            1 << 20,
        )?;
        range("limits.db_readers_max", self.db_readers_max, 1, 256)?;
        range("limits.page_rows_max", self.page_rows_max, 1, 10_000)?;
        range(
            "limits.token_seconds",
            self.token_seconds,
            1,
            kiroku_access::client::TOKEN_SECONDS_MAX,
        )?;
        Ok(())
    }

    /// The writer's part.
    pub fn writer(&self) -> WriterConfig {
        WriterConfig {
            batch_entries_max: self.batch_entries_max,
            batch_wait_ms: self.batch_wait_ms,
            queue_requests_max: self.queue_requests_max,
            entry_bytes_max: self.entry_bytes_max,
            blob_bytes_max: self.blob_bytes_max,
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `kiroku.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The log's origin line (also the key name).
    pub origin: String,
    /// `sqlite://PATH` (relative to the data directory) or `postgres://…`.
    pub database_url: String,
    /// Where `serve` listens.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The Ed25519 signing key file (mode 0600), relative to the data directory.
    #[serde(default = "default_key_file")]
    pub signing_key_file: String,
    /// The operator token file (mode 0600), relative to the data directory.
    #[serde(default = "default_token_file")]
    pub operator_token_file: String,
    /// Log format.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Whether every account must enrol a second factor (`required`, the default: the
    /// guideline requires two-factor authentication for systems running in FY2027) or may
    /// sign in with a password alone until it enrols one (`optional`).
    #[serde(default)]
    pub second_factor: SecondFactor,
    /// The file holding the key that seals second-factor secrets (mode 0600), relative to
    /// the data directory; made when first needed.
    #[serde(default = "default_factor_key_file")]
    pub factor_key_file: String,
    /// The URL people's browsers reach the server at (`https://host[:port]`, nothing after),
    /// where a proxy terminates TLS in front of it: passkeys are scoped to its host name, and
    /// cookies get `Secure` when it is HTTPS. Without it, passkeys work only at
    /// `http://localhost:PORT`, PORT the one the server listens on. Passkeys registered under
    /// one host name do not work under another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The hospital's name, as printed records carry it.
    #[serde(default = "default_hospital_name")]
    pub hospital_name: String,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
}

/// Whether a second factor is required.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    /// Every account enrols one at its first sign-in, and signs in with it.
    #[default]
    Required,
    /// Accounts without one sign in with a password alone.
    Optional,
}

fn default_factor_key_file() -> String {
    "factor.key".into()
}

fn default_hospital_name() -> String {
    "大崎市民病院".into()
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_key_file() -> String {
    "signing.key".into()
}
fn default_token_file() -> String {
    "operator.token".into()
}

impl Config {
    /// A new configuration with defaults.
    pub fn new(origin: &str, database_url: &str) -> Config {
        Config {
            origin: origin.into(),
            database_url: database_url.into(),
            listen: default_listen(),
            signing_key_file: default_key_file(),
            operator_token_file: default_token_file(),
            log_format: LogFormat::Text,
            second_factor: SecondFactor::Required,
            factor_key_file: default_factor_key_file(),
            public_url: None,
            hospital_name: default_hospital_name(),
            limits: Limits::default(),
        }
    }

    /// Reads and validates `DIR/kiroku.toml`.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let config: Config = basic_toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The TOML text.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        basic_toml::to_string(self).map_err(|e| ConfigError::Invalid {
            field: "kiroku.toml",
            why: e.to_string(),
        })
    }

    /// Replaces `DIR/kiroku.toml` atomically: written beside it, synced, renamed over it.
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        self.validate()?;
        let text = self.to_toml()?;
        let path = dir.join(CONFIG_FILE);
        let partial = dir.join(format!("{CONFIG_FILE}.partial"));
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|source| ConfigError::Write {
            path: path.clone(),
            source,
        })
    }

    /// Checks every value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        kiroku_ledger::note::check_name(&self.origin).map_err(|e| ConfigError::Invalid {
            field: "origin",
            why: e.to_string(),
        })?;
        DatabaseUrl::parse(&self.database_url).map_err(|e| ConfigError::Invalid {
            field: "database_url",
            why: e.to_string(),
        })?;
        self.listen_addr()?;
        if let Some(url) = &self.public_url {
            crate::access::passkeys::relying_party_of(url).ok_or_else(|| ConfigError::Invalid {
                field: "public_url",
                why: format!(
                    "{url:?} is not https://HOST[:PORT] (a host name, not an address; plain http only for localhost)"
                ),
            })?;
        }
        let name = self.hospital_name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ConfigError::Invalid {
                field: "hospital_name",
                why: "must be 1 to 100 characters, without control characters".into(),
            });
        }
        self.limits.validate()
    }

    /// Whether browsers reach the server over HTTPS (so cookies are `Secure`).
    pub fn https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// The listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| ConfigError::Invalid {
            field: "listen",
            why: format!("{:?} is not HOST:PORT with a numeric host", self.listen),
        })
    }

    /// The database URL, with a relative SQLite path resolved against `dir`.
    pub fn database(&self, dir: &Path) -> Result<DatabaseUrl, ConfigError> {
        let url = DatabaseUrl::parse(&self.database_url).map_err(|e| ConfigError::Invalid {
            field: "database_url",
            why: e.to_string(),
        })?;
        Ok(match url {
            DatabaseUrl::Sqlite(path) if path.is_relative() => DatabaseUrl::Sqlite(dir.join(path)),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows that the defaults validate, the TOML round-trips, and each limit's boundary is
    // enforced at start-up.
    #[test]
    fn defaults_validate_and_limits_are_enforced() {
        let config = Config::new("kiroku/test", "sqlite://kiroku.db");
        assert!(config.validate().is_ok());
        let text = config.to_toml().unwrap();
        assert_eq!(
            basic_toml::from_str::<Config>(&text).ok(),
            Some(config.clone())
        );
        let mut bad = config.clone();
        bad.limits.entry_bytes_max = 65_536;
        assert!(bad.validate().is_err());
        bad.limits.entry_bytes_max = 65_535;
        assert!(bad.validate().is_ok());
        bad.limits.batch_entries_max = 0;
        assert!(bad.validate().is_err());
        let mut bad = config.clone();
        bad.listen = "localhost:80".into();
        assert!(bad.validate().is_err());
        let mut bad = config.clone();
        bad.origin = "has space".into();
        assert!(bad.validate().is_err());
        let mut public = config;
        public.public_url = Some("https://kiroku.hospital.example".into());
        assert!(public.validate().is_ok() && public.https());
        let text = public.to_toml().unwrap();
        assert_eq!(
            basic_toml::from_str::<Config>(&text).ok(),
            Some(public.clone())
        );
        public.public_url = Some("https://192.0.2.1".into());
        assert!(public.validate().is_err());
        assert!(basic_toml::from_str::<Config>(
            "origin = \"x\"\ndatabase_url = \"sqlite://k\"\nunknown = 1\n"
        )
        .is_err());
    }
}
