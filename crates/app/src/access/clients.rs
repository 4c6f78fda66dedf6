//! System clients for the use cases: the OAuth 2.0 client-credentials grant (the client's id
//! and secret for a bearer token), revocation (RFC 7009, and by the system administrator),
//! the scopes the administrator grants, and bearer authentication of API calls.
//!
//! An attempt at the token endpoint is a sign-in attempt of the client's account: it goes
//! through the same lockout and is an entry whatever its outcome. A token works only while it
//! is unexpired and unrevoked and its client's account is active and within its validity
//! period — so suspending a client stops its tokens at once.

use crate::access::accounts::{account_state, Done};
use crate::access::sign_in::{new_token, standing, usable, ATTEMPT_RETRIES_MAX};
use crate::access::Access;
use crate::rows::{all, first};
use crate::{blocking, Error, Result};
use kiroku_access::account::Profile;
use kiroku_access::client::{self, Granted, Token, CLIENT_JOB_TYPE};
use kiroku_access::credential::{self, Outcome};
use kiroku_access::lockout::Verdict;
use kiroku_core::{AccountId, Actor, Conflict, Timestamp};
use kiroku_policy::{Action, Resource};
use kiroku_store::Store;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Most tokens listed of one client.
pub const TOKENS_SHOWN_MAX: u64 = 500;
/// Most clients listed.
pub const CLIENTS_SHOWN_MAX: u64 = 500;
/// The channel prefix of an actor authenticated by a client's bearer token.
const TOKEN_CHANNEL: &str = "token:";

/// A token handed out: shown once, only its SHA-256 is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The bearer token.
    pub token: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// What was appended.
    pub done: Done,
}

/// A system client: its account, status, scopes and live tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientView {
    /// The account's profile.
    pub profile: Profile,
    /// Its status (`active`, `suspended`, `deactivated`).
    pub status: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// Its unrevoked tokens, expired ones included.
    pub tokens: Vec<Token>,
}

/// A bearer token as last read, with its client's account: checked again against the time at
/// every use (tokens expire, accounts leave their validity period).
#[derive(Clone, Debug)]
pub(crate) struct KnownToken {
    token: Token,
    state: kiroku_access::account::AccountState,
    profile: Profile,
}

impl KnownToken {
    /// The client acting with the token, if the token is live and its client usable at `now`.
    fn actor(&self, id: &str, now: Timestamp) -> Result<Actor> {
        if !self.token.live(now)
            || self.profile.job_type != CLIENT_JOB_TYPE
            || !usable(&self.state, &self.profile, now)
        {
            return Err(Error::Unauthorized);
        }
        Ok(Actor {
            account: AccountId::parse(&self.token.account).map_err(|_| Error::Unauthorized)?,
            session: Some(format!("{TOKEN_CHANNEL}{id}")),
        })
    }
}

/// The bearer tokens last read, each with the count of access-changing entries it was read at
/// ([`kiroku_store::watch::Watch`]): good while that is the count.
#[derive(Debug, Default)]
pub(crate) struct BearerTokens(
    std::sync::Mutex<std::collections::HashMap<String, (u64, KnownToken)>>,
);

/// Most tokens remembered; all are forgotten when full.
const TOKENS_REMEMBERED_MAX: usize = 4096;

impl BearerTokens {
    fn get(&self, id: &str, epoch: u64) -> Option<KnownToken> {
        let known = self.0.lock().ok()?;
        known
            .get(id)
            .filter(|(at, _)| *at == epoch)
            .map(|(_, token)| token.clone())
    }

    fn put(&self, id: String, epoch: u64, token: KnownToken) {
        if let Ok(mut known) = self.0.lock() {
            if known.len() >= TOKENS_REMEMBERED_MAX {
                known.clear();
            }
            known.insert(id, (epoch, token));
        }
    }
}

/// The id of a token: its SHA-256, hex.
pub fn token_id(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token id an actor authenticated with, if it came with a client's token.
pub(crate) fn token_of(actor: &Actor) -> Option<&str> {
    actor.session.as_deref()?.strip_prefix(TOKEN_CHANNEL)
}

/// The scopes `actor` acts with: those of the token it came with that its client is still
/// granted — narrowing a grant takes effect at once (none if it came with no token, or the
/// token is gone).
pub(crate) fn actor_scopes(store: &Store, actor: &Actor) -> Result<Vec<String>> {
    let Some(id) = token_of(actor) else {
        return Ok(Vec::new());
    };
    let granted = granted(store, actor.account.as_str())?;
    Ok(first(store, &Token::query(id), Token::from_row)?
        .filter(|t| t.account == actor.account.as_str())
        .map(|t| t.scopes)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| granted.contains(s))
        .collect())
}

fn granted(store: &Store, account: &str) -> Result<Vec<String>> {
    Ok(first(store, &Granted::query(account), Granted::from_row)?
        .map(|g| g.scopes)
        .unwrap_or_default())
}

impl Access<'_> {
    fn token_expiry(self, now: Timestamp) -> Result<(Timestamp, i64)> {
        let seconds = self.app.config.limits.token_seconds;
        let expires = Timestamp::from_micros(now.micros() + seconds * 1_000_000)
            .ok_or_else(|| Error::Invalid("token expiry out of range".into()))?;
        Ok((expires, seconds))
    }

    /// The client-credentials grant: `client` with its `secret` gets a bearer token for the
    /// scopes asked (`None`: every scope granted to it).
    pub async fn client_token(
        self,
        client: &str,
        secret: &str,
        scope: Option<String>,
    ) -> Result<IssuedToken> {
        self.client_token_by(client, ClientProof::Secret(secret.to_owned()), scope)
            .await
    }

    /// The client-credentials grant for a client proving itself with a signed assertion
    /// (RFC 7523 `private_key_jwt`) against the keys registered for it; `client` is the form's
    /// `client_id` if sent, else the assertion's issuer. The assertion's `jti` is claimed with
    /// the token: it works once.
    pub async fn client_token_by_assertion(
        self,
        client: Option<&str>,
        assertion: &str,
        scope: Option<String>,
    ) -> Result<IssuedToken> {
        let client = match client {
            Some(c) => c.to_owned(),
            None => kiroku_access::assertion::issuer(assertion)
                .ok_or(Error::Access(crate::access::Error::ClientAuthFailed))?,
        };
        self.client_token_by(&client, ClientProof::Assertion(assertion.to_owned()), scope)
            .await
    }

    async fn client_token_by(
        self,
        client: &str,
        proof: ClientProof,
        scope: Option<String>,
    ) -> Result<IssuedToken> {
        let id = AccountId::parse(client)
            .map_err(|_| Error::Access(crate::access::Error::ClientAuthFailed))?;
        let audience = format!("{}/oauth/token", self.app.base_url());
        for _ in 0..ATTEMPT_RETRIES_MAX {
            let store: Arc<Store> = self.app.store().clone();
            let now = self.app.now()?;
            let who = id.to_string();
            let key = self.factor_key()?;
            let by_secret = matches!(proof, ClientProof::Secret(_));
            let (proof, audience) = (proof.clone(), audience.clone());
            let check = move || {
                let found =
                    standing(&store, &who)?.filter(|f| f.profile.job_type == CLIENT_JOB_TYPE);
                let locked = found
                    .as_ref()
                    .is_some_and(|f| f.sign_in.lockout.verdict(now) != Verdict::Open);
                let (matches, jti) = match &proof {
                    ClientProof::Secret(secret) => (
                        crate::access::sign_in::secret_matches(
                            &key,
                            &who,
                            found.as_ref(),
                            secret,
                            now,
                        )?,
                        None,
                    ),
                    ClientProof::Assertion(assertion) => {
                        let jwks = first(
                            &store,
                            &kiroku_access::assertion::keys_of(&who),
                            kiroku_access::assertion::jwks_of,
                        )?;
                        match (locked, jwks) {
                            (false, Some(jwks)) => match kiroku_access::assertion::verify(
                                assertion, &jwks, &audience, &who, now,
                            ) {
                                Ok(verified) => (true, Some(verified.jti)),
                                Err(error) => {
                                    // What was wrong, for the operator: claims' names only.
                                    tracing::info!(client = %who, %error, "client assertion refused");
                                    (false, None)
                                }
                            },
                            _ => (false, None),
                        }
                    }
                };
                Ok((found, matches, jti, granted(&store, &who)?))
            };
            // Only a secret costs a password hash.
            let (found, matches, jti, granted) = if by_secret {
                self.app.hashing(check).await?
            } else {
                blocking(check).await?
            };
            let Some(found) = found else {
                return Err(Error::Access(crate::access::Error::ClientAuthFailed));
            };
            let outcome = match found.sign_in.lockout.verdict(now) {
                Verdict::Locked(_) => Outcome::Locked,
                Verdict::Open if !matches => Outcome::Failure,
                Verdict::Open if !usable(&found.state, &found.profile, now) => Outcome::Inactive,
                Verdict::Open => Outcome::Success,
            };
            let scopes = if outcome == Outcome::Success {
                // A scope not granted is refused before anything is written.
                Some(client::scopes_for(&granted, scope.as_deref())?)
            } else {
                None
            };
            let (mut request, lockout) =
                credential::attempt(id.as_str(), found.sign_in, outcome, now);
            let mut issued = None;
            if let Some(scopes) = scopes {
                let token = new_token(self.app.entropy().as_ref());
                let (expires, seconds) = self.token_expiry(now)?;
                let actor = Actor {
                    account: id.clone(),
                    session: Some("token-endpoint".into()),
                };
                request.drafts.extend(
                    client::issue(
                        actor,
                        token_id(&token),
                        id.as_str(),
                        scopes.clone(),
                        expires,
                    )
                    .drafts,
                );
                issued = Some((token, scopes, seconds));
            }
            // A signed assertion works once: its jti is claimed with the token.
            if let (true, Some(jti)) = (issued.is_some(), &jti) {
                request.drafts.push(kiroku_access::assertion::used(
                    Actor {
                        account: id.clone(),
                        session: Some("token-endpoint".into()),
                    },
                    id.as_str(),
                    jti,
                ));
            }
            let done = match self.app.append_done(request).await {
                Ok(done) => done,
                Err(Error::Conflict(Conflict::Version { .. })) => continue,
                // The same assertion again (a replay): refused as a failed authentication.
                Err(Error::Conflict(Conflict::Claimed { table, .. }))
                    if table == kiroku_access::assertion::ASSERTIONS.name =>
                {
                    return Err(Error::Access(crate::access::Error::ClientAuthFailed))
                }
                Err(e) => return Err(e),
            };
            return match (outcome, issued) {
                (Outcome::Success, Some((token, scopes, expires_in))) => Ok(IssuedToken {
                    token,
                    scopes,
                    expires_in,
                    done,
                }),
                (Outcome::Locked, _) => Err(Error::Access(crate::access::Error::Locked(
                    lockout.until.unwrap_or(now),
                ))),
                (Outcome::Failure, _) => match lockout.until {
                    Some(until) if lockout.failures == 0 => {
                        Err(Error::Access(crate::access::Error::Locked(until)))
                    }
                    _ => Err(Error::Access(crate::access::Error::ClientAuthFailed)),
                },
                _ => Err(Error::Access(crate::access::Error::AccountInactive)),
            };
        }
        Err(Error::Unavailable(
            "too many concurrent attempts on one client".into(),
        ))
    }

    /// Registers the JWK Set (public keys) `client` signs its assertions with, as the system
    /// administrator does (`ManageClients`); replaces any set registered before.
    pub async fn register_client_keys(
        self,
        actor: Actor,
        client: &str,
        jwks: &str,
    ) -> Result<Done> {
        let by = actor.clone();
        let (client, jwks) = (client.to_owned(), jwks.to_owned());
        self.decide(&actor, move |store, _, _, gate| {
            gate.require(Action::ManageClients, &Resource::System)?;
            let profile = first(store, &Profile::query(&client), Profile::from_row)?
                .filter(|p| p.job_type == CLIENT_JOB_TYPE)
                .ok_or_else(|| Error::Access(crate::access::Error::NoSuchClient(client.clone())))?;
            kiroku_access::assertion::check_jwks(&jwks).map_err(|why| {
                Error::Access(crate::access::Error::Rule(
                    kiroku_access::AccessError::Invalid { field: "jwks", why },
                ))
            })?;
            Ok(kiroku_core::Request::one(
                kiroku_access::assertion::register(by, &profile.account, &jwks),
            ))
        })
        .await
    }

    /// The operator issues a token to approved, active client `client` (for scripts on the
    /// server: `kiroku client token`).
    pub async fn operator_token(self, client: &str, scope: Option<String>) -> Result<IssuedToken> {
        let store: Arc<Store> = self.app.store().clone();
        let now = self.app.now()?;
        let who = client.to_owned();
        let granted = blocking(move || {
            let found = standing(&store, &who)?
                .filter(|f| f.profile.job_type == CLIENT_JOB_TYPE)
                .ok_or_else(|| Error::Access(crate::access::Error::NoSuchClient(who.clone())))?;
            if !usable(&found.state, &found.profile, now) {
                return Err(Error::Access(crate::access::Error::AccountInactive));
            }
            granted(&store, &who)
        })
        .await?;
        let scopes = client::scopes_for(&granted, scope.as_deref())?;
        let token = new_token(self.app.entropy().as_ref());
        let (expires, seconds) = self.token_expiry(now)?;
        let request = client::issue(
            Actor::operator("cli"),
            token_id(&token),
            client,
            scopes.clone(),
            expires,
        );
        let done = self.app.append_done(request).await?;
        Ok(IssuedToken {
            token,
            scopes,
            expires_in: seconds,
            done,
        })
    }

    /// Authenticates a bearer token: the operator's, or a live token of an active client.
    pub async fn authenticate_bearer(self, token: &str, channel: &str) -> Result<Actor> {
        if let Ok(actor) = self.app.authenticate_operator(token, channel) {
            return Ok(actor);
        }
        let id = token_id(token);
        let now = self.app.now()?;
        // What was read about the token is good while no access-changing entry has been
        // appended since, by this process or another: the count is brought up to date first
        // (a revocation by another server stops the token's very next request).
        let store: Arc<Store> = self.app.store().clone();
        let tokens = self.app.bearer_tokens.clone();
        blocking(move || {
            let (epoch, _) = store.refresh_watch()?;
            if let Some(known) = tokens.get(&id, epoch) {
                // Only an acceptance is answered from memory: a refusal is read again (the
                // client may have been reinstated since).
                if let Ok(actor) = known.actor(&id, now) {
                    return Ok(actor);
                }
            }
            let token =
                first(&store, &Token::query(&id), Token::from_row)?.ok_or(Error::Unauthorized)?;
            let state = account_state(&store, &token.account)?.ok_or(Error::Unauthorized)?;
            let profile = first(&store, &Profile::query(&token.account), Profile::from_row)?
                .ok_or(Error::Unauthorized)?;
            let found = KnownToken {
                token,
                state,
                profile,
            };
            let actor = found.actor(&id, now);
            tokens.put(id, epoch, found);
            actor
        })
        .await
    }

    /// RFC 7009: the client `client` (with its secret) revokes one of its tokens. Unknown
    /// tokens, and tokens of other clients, are left alone and answered the same way. A wrong
    /// secret is refused but does not count towards the client's lockout (a stranger's
    /// revocations must not lock a departmental system out of the token endpoint).
    pub async fn revoke_own_token(self, client: &str, secret: &str, token: &str) -> Result<()> {
        let id = AccountId::parse(client)
            .map_err(|_| Error::Access(crate::access::Error::ClientAuthFailed))?;
        let store: Arc<Store> = self.app.store().clone();
        let now = self.app.now()?;
        let (who, secret_owned, tid) = (id.to_string(), secret.to_owned(), token_id(token));
        let key = self.factor_key()?;
        let (standing_found, matches, found) = self
            .app
            .hashing(move || {
                let found =
                    standing(&store, &who)?.filter(|f| f.profile.job_type == CLIENT_JOB_TYPE);
                let matches = crate::access::sign_in::secret_matches(
                    &key,
                    &who,
                    found.as_ref(),
                    &secret_owned,
                    now,
                )?;
                let token = first(&store, &Token::query(&tid), Token::from_row)?
                    .filter(|t| t.account == who);
                Ok((found, matches, token))
            })
            .await?;
        let Some(standing_found) = standing_found else {
            return Err(Error::Access(crate::access::Error::ClientAuthFailed));
        };
        if let Verdict::Locked(until) = standing_found.sign_in.lockout.verdict(now) {
            return Err(Error::Access(crate::access::Error::Locked(until)));
        }
        if !matches {
            // A wrong secret here is refused without counting towards the client's lockout:
            // anyone may send revocations naming a client, and they must not be able to lock
            // a departmental system out of the token endpoint. Repeated failures from one
            // address are slowed down at the server's edge instead.
            return Err(Error::Access(crate::access::Error::ClientAuthFailed));
        }
        let Some(found) = found else {
            return Ok(());
        };
        let actor = Actor {
            account: id,
            session: Some("token-endpoint".into()),
        };
        let roles = kiroku_access::role::Roles::none(actor.account.clone());
        let request = client::revoke(&roles, actor, &found, None, self.app.today()?)?;
        self.app.append_done(request).await.map(|_| ())
    }

    /// The system administrator revokes token `id` (its SHA-256), with a reason.
    pub async fn revoke_token(self, actor: Actor, id: &str, reason: String) -> Result<Done> {
        let by = actor.clone();
        let id = id.to_owned();
        self.decide(&actor, move |store, today, roles, gate| {
            let token = first(store, &Token::query(&id), Token::from_row)?
                .ok_or(Error::Access(crate::access::Error::NoSuchToken))?;
            gate.require(Action::ManageClients, &Resource::System)?;
            Ok(client::revoke(&roles, by, &token, Some(&reason), today)?)
        })
        .await
    }

    /// The system administrator grants client `account` the scopes `scopes` (replacing the
    /// ones before).
    pub async fn grant_scopes(
        self,
        actor: Actor,
        account: &str,
        scopes: Vec<String>,
    ) -> Result<Done> {
        let by = actor.clone();
        let account = account.to_owned();
        self.decide(&actor, move |store, today, roles, gate| {
            let profile =
                first(store, &Profile::query(&account), Profile::from_row)?.ok_or_else(|| {
                    Error::Access(crate::access::Error::NoSuchAccount(account.clone()))
                })?;
            gate.require(Action::ManageClients, &Resource::System)?;
            Ok(client::grant(
                &roles,
                by,
                &account,
                &profile.job_type,
                &scopes,
                today,
            )?)
        })
        .await
    }

    /// Every system client with its scopes and unrevoked tokens.
    pub async fn clients(self) -> Result<Vec<ClientView>> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            let profiles = all(
                &store,
                &Profile::of_job_type(CLIENT_JOB_TYPE, CLIENTS_SHOWN_MAX),
                Profile::from_row,
            )?;
            profiles
                .into_iter()
                .map(|profile| {
                    let status = account_state(&store, &profile.account)?
                        .map_or("deactivated", |s| s.status.as_str())
                        .to_owned();
                    Ok(ClientView {
                        status,
                        scopes: granted(&store, &profile.account)?,
                        tokens: all(
                            &store,
                            &Token::of_account(&profile.account, TOKENS_SHOWN_MAX),
                            Token::from_row,
                        )?,
                        profile,
                    })
                })
                .collect()
        })
        .await
    }
}

/// How a client proves who it is at the token endpoint.
#[derive(Clone)]
enum ClientProof {
    /// Its secret (`client_secret_basic`, `client_secret_post`).
    Secret(String),
    /// A JWT signed with a registered key (`private_key_jwt`).
    Assertion(String),
}
