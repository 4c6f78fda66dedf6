//! A data directory: `kiroku.toml`, the Ed25519 signing key and the operator token (both mode
//! 0600), and — for the embedded default — the SQLite database. `init` makes one and writes the
//! ledger's first entry, which names its origin and verifier key.

use crate::config::{Config, ConfigError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kiroku_access::account::{Category, Profile};
use kiroku_access::department::Code;
use kiroku_core::{Actor, Clock as _, Date, Draft, Entropy, Request};
use kiroku_ledger::{Signer, Verifier};
use kiroku_ops::init::LedgerInit;
use kiroku_store::system::{OsEntropy, SystemClock};
use kiroku_store::writer::Writer;
use kiroku_store::Store;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a data directory could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// `init` refuses to touch an existing, non-empty directory.
    #[error("{0} already exists and is not empty; Kiroku will not overwrite it")]
    Exists(PathBuf),
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A secret file is readable by others.
    #[error("{0} must be readable by its owner only (chmod 600)")]
    Permissions(PathBuf),
    /// A key file is malformed or does not match the configuration.
    #[error("{0}")]
    Key(String),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] kiroku_store::StoreError),
    /// The database already holds a ledger, or holds another one.
    #[error("{0}")]
    Ledger(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError {
    let path = path.to_path_buf();
    move |source| DataDirError::Io { what, path, source }
}

/// What `init` may be told.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// The origin (and key name); a random `kiroku/<hex>` when absent.
    pub origin: Option<String>,
    /// The database; the directory's own SQLite file when absent.
    pub database_url: Option<String>,
    /// The listen address to write into the configuration.
    pub listen: Option<String>,
    /// The URL browsers reach the server at, to write into the configuration.
    pub public_url: Option<String>,
    /// The first system administrator. `kiroku init` always names one; tools and tests of
    /// the ledger alone may leave it out.
    pub administrator: Option<Administrator>,
}

/// Who the first system administrator is: Kiroku issues this account itself, in the
/// information systems office (情報システム室), before anyone can apply for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Administrator {
    /// The account id.
    pub account: String,
    /// Family name (氏).
    pub family_name: String,
    /// Given name (名).
    pub given_name: String,
    /// Family name in kana.
    pub family_kana: String,
    /// Given name in kana.
    pub given_kana: String,
}

impl Administrator {
    /// The request that issues the account: valid from `today` for five years, in the
    /// information systems office, as a system operator, appointed system administrator.
    /// With the account comes a one-time setup secret (returned, never stored but as a hash)
    /// with which the administrator signs in the first time and chooses a password.
    fn request(
        &self,
        today: Date,
        entropy: &dyn Entropy,
        key: &[u8; crate::access::factors::KEY_BYTES],
    ) -> Result<(Request, String), DataDirError> {
        let bad = |e: kiroku_access::AccessError| {
            DataDirError::Ledger(format!("the first administrator: {e}"))
        };
        let profile = Profile {
            account: self.account.clone(),
            family_name: self.family_name.clone(),
            given_name: self.given_name.clone(),
            family_kana: self.family_kana.clone(),
            given_kana: self.given_kana.clone(),
            staff_number: None,
            department: "information-systems".into(),
            job_type: "system-operator".into(),
            category: Category::MedicalStaff,
            permitted_by: None,
            category_reason: None,
            valid_from: today,
            valid_until: today.plus_days(5 * 365).unwrap_or(today),
        };
        let department = Code {
            code: "information-systems".into(),
            name_ja: "情報システム室".into(),
            name_en: "Information Systems Office".into(),
            active: true,
        };
        let job_type = Code {
            code: "system-operator".into(),
            name_ja: "システム運用担当".into(),
            name_en: "System operator".into(),
            active: true,
        };
        // The hospital's governance starts with its first administrator and the default access
        // policy (version 1), in one request.
        let mut request = kiroku_policy::version::initial(Actor::system());
        request.drafts.extend(
            kiroku_access::application::first_administrator(profile, department, job_type)
                .map_err(bad)?
                .drafts,
        );
        let (draft, secret) = crate::access::sign_in::initial_secret_draft(
            Actor::system(),
            &self.account,
            entropy,
            key,
        )
        .map_err(|e| DataDirError::Ledger(format!("the first administrator: {e}")))?;
        request.drafts.push(draft);
        Ok((request, secret))
    }
}

/// What `init` made: the verifier key to publish, and the first administrator's one-time setup
/// secret (to show once).
#[derive(Debug)]
pub struct Initialized {
    /// The key that verifies the ledger's checkpoints.
    pub verifier: Verifier,
    /// The first administrator's setup secret, when one was made.
    pub setup_secret: Option<String>,
}

/// Writes a secret file readable by its owner only; refuses to replace one. The file appears
/// whole or not at all: the content is written to a temporary file beside it and synced, then
/// linked to its name (which fails if another process made the file first), and the folder
/// synced — so no reader, and no restart after a crash, ever finds it empty or cut short.
pub(crate) fn write_secret(path: &Path, content: &str) -> Result<(), DataDirError> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut salt = [0u8; 8];
    OsEntropy.fill(&mut salt);
    let temporary = folder.join(format!(
        ".{name}.{}.tmp",
        salt.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options
            .open(&temporary)
            .map_err(io("cannot create", &temporary))?;
        file.write_all(content.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io("cannot write", &temporary))?;
        std::fs::hard_link(&temporary, path).map_err(io("cannot create", path))?;
        std::fs::File::open(folder)
            .and_then(|dir| dir.sync_all())
            .map_err(io("cannot sync", folder))
    })();
    let _ = std::fs::remove_file(&temporary);
    written
}

/// Reads a secret file, refusing one that others may read.
pub fn read_secret(path: &Path) -> Result<String, DataDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path).map_err(io("cannot read", path))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(DataDirError::Permissions(path.to_path_buf()));
        }
    }
    std::fs::read_to_string(path).map_err(io("cannot read", path))
}

fn random_hex(entropy: &dyn Entropy, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    entropy.fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a data directory and the ledger's first entry; returns the verifier key. Refuses a
/// directory that exists and is not empty, and a database that already holds a ledger; on any
/// failure leaves nothing behind.
pub fn init(dir: &Path, options: &InitOptions) -> Result<Initialized, DataDirError> {
    let entropy = OsEntropy;
    let origin = options
        .origin
        .clone()
        .unwrap_or_else(|| format!("kiroku/{}", random_hex(&entropy, 4)));
    let mut config = Config::new(
        &origin,
        options
            .database_url
            .as_deref()
            .unwrap_or("sqlite://kiroku.db"),
    );
    if let Some(listen) = &options.listen {
        config.listen = listen.clone();
    }
    config.public_url.clone_from(&options.public_url);
    // Check everything that can be checked before anything is written.
    config.validate()?;
    if dir.exists() {
        let mut contents = std::fs::read_dir(dir).map_err(io("cannot read", dir))?;
        if contents.next().is_some() {
            return Err(DataDirError::Exists(dir.to_path_buf()));
        }
    }
    let mut seed = [0u8; 32];
    entropy.fill(&mut seed);
    let signer = Signer::from_seed(&origin, seed).map_err(|e| DataDirError::Key(e.to_string()))?;
    let mut token = [0u8; 32];
    entropy.fill(&mut token);

    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("cannot restrict", dir))?;
    }
    let result = (|| {
        write_secret(
            &dir.join(&config.signing_key_file),
            &(signer.to_private_text() + "\n"),
        )?;
        write_secret(
            &dir.join(&config.operator_token_file),
            &(URL_SAFE_NO_PAD.encode(token) + "\n"),
        )?;
        let url = config.database(dir)?;
        let store = Store::open(&url, crate::registry(), 1)?;
        if kiroku_store::read::latest_checkpoint(&store)?.is_some() {
            return Err(DataDirError::Ledger(format!(
                "the database {url} already holds a ledger; give init an empty database"
            )));
        }
        let writer = Writer::start(
            &store,
            signer.clone(),
            origin.clone(),
            Arc::new(SystemClock),
            Arc::new(entropy),
            config.limits.writer(),
        )?;
        let first = Draft::new(
            Actor::system(),
            LedgerInit {
                origin: origin.clone(),
                verifier_key: signer.verifier().to_text(),
                software: Some(format!("kiroku {}", env!("CARGO_PKG_VERSION"))),
            },
        );
        let today = SystemClock
            .now()
            .map(Date::in_japan)
            .map_err(|e| DataDirError::Ledger(e.to_string()))?;
        // The key that seals credentials (and second factors) comes with the first one.
        let administrator = match &options.administrator {
            Some(a) => {
                let key = crate::access::factors::secret_key(
                    &dir.join(&config.factor_key_file),
                    &entropy,
                )
                .map_err(|e| DataDirError::Ledger(format!("the sealing key: {e}")))?;
                Some(a.request(today, &entropy, &key)?)
            }
            None => None,
        };
        let setup_secret = administrator.as_ref().map(|(_, secret)| secret.clone());
        let receipt = writer
            .handle()
            .append_blocking(Request::one(first))
            .map_err(|e| DataDirError::Ledger(e.to_string()))
            .and_then(|_| match administrator {
                Some((request, _)) => writer
                    .handle()
                    .append_blocking(request)
                    .map(|_| ())
                    .map_err(|e| DataDirError::Ledger(e.to_string())),
                None => Ok(()),
            });
        writer.shutdown();
        receipt?;
        // The configuration comes last: a directory without it is an unfinished init.
        config.save(dir)?;
        Ok(Initialized {
            verifier: signer.verifier(),
            setup_secret,
        })
    })();
    if result.is_err() {
        // Leave nothing half-made behind (the directory was empty or absent).
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// Loads the signer of a data directory and checks it matches the configured origin.
pub fn load_signer(dir: &Path, config: &Config) -> Result<Signer, DataDirError> {
    let path = dir.join(&config.signing_key_file);
    let signer = Signer::parse(&read_secret(&path)?)
        .map_err(|e| DataDirError::Key(format!("{}: {e}", path.display())))?;
    if signer.name() != config.origin {
        return Err(DataDirError::Key(format!(
            "{} is the key of {:?}, not of the configured origin {:?}",
            path.display(),
            signer.name(),
            config.origin
        )));
    }
    Ok(signer)
}

/// Loads the operator token of a data directory.
pub fn load_operator_token(dir: &Path, config: &Config) -> Result<String, DataDirError> {
    let token = read_secret(&dir.join(&config.operator_token_file))?;
    let token = token.trim().to_owned();
    if token.len() < 32 {
        return Err(DataDirError::Key("the operator token is too short".into()));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows a secret file written whole: readable by its owner only, with the content given,
    // no temporary file left beside it, and a second write refused — the first content kept.
    #[test]
    fn secrets_appear_whole_and_once() {
        let folder = std::env::temp_dir().join(kiroku_store::scratch::unique_name("secret"));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("factor.key");
        write_secret(&path, "first\n").unwrap();
        assert_eq!(read_secret(&path).unwrap(), "first\n");
        assert!(write_secret(&path, "second\n").is_err());
        assert_eq!(read_secret(&path).unwrap(), "first\n");
        let names: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["factor.key"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
