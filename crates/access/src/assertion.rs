//! Client assertions (RFC 7523 `private_key_jwt`, as SMART Backend Services use them): a
//! departmental system proves who it is with a short-lived JWT signed by a private key whose
//! public half the system administrator registered for it (a JWK Set, `access.client_keys/1`).
//! The server checks the signature (ES384 or RS384, the algorithms SMART asks servers to
//! support), that the issuer and subject are the client, that the audience is the token
//! endpoint, that it expires within [`LIFETIME_MAX_S`] and has not, and that its `jti` was
//! never seen (each one is claimed, `access.client_assertion/1`). Keys are taken only from the
//! registered set: a `jku`, `x5u` or `jwk` in the header is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Timestamp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

/// The longest assertion accepted.
pub const ASSERTION_BYTES_MAX: usize = 8 * 1024;
/// The largest JWK Set registered.
pub const JWKS_BYTES_MAX: usize = 16 * 1024;
/// How far in the future an assertion may expire, in seconds (SMART: five minutes).
pub const LIFETIME_MAX_S: i64 = 300;
/// Clock skew allowed, in seconds.
const SKEW_S: i64 = 30;
/// The longest `jti`.
const JTI_BYTES_MAX: usize = 255;
/// RSA moduli accepted, in bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// Each client's registered public keys.
pub static CLIENT_KEYS: TableSpec = TableSpec {
    name: "access_client_keys",
    about: "The JWK Set (public keys) the system administrator registered for each system client's signed client assertions.",
    columns: &[
        Column::text("client"),
        Column::text("jwks"),
        Column::entry("entry"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// The identifiers (`jti`) of the assertions accepted, each claimed once.
pub static ASSERTIONS: TableSpec = TableSpec {
    name: "access_client_assertions",
    about: "The jti of every client assertion accepted, claimed once per client: an assertion works once.",
    columns: &[
        Column::text("client"),
        Column::text("jti"),
        Column::entry("entry"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Claims { owner: "entry" },
};

/// Why an assertion is not accepted (never quoting it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// Not a compact JWS of JSON header and claims, or too long.
    #[error("the client assertion is not a signed JWT")]
    Malformed,
    /// An algorithm other than ES384 and RS384, or a key named in the header.
    #[error("the client assertion's algorithm or key reference is not accepted")]
    Algorithm,
    /// No registered key of the client fits it.
    #[error("no key registered for the client fits the assertion")]
    NoKey,
    /// The signature does not verify.
    #[error("the client assertion's signature does not verify")]
    Signature,
    /// A claim is missing or wrong.
    #[error("the client assertion's claim {0} is missing or wrong")]
    Claim(&'static str),
}

/// What a verified assertion gives: its `jti`, to claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The assertion's identifier.
    pub jti: String,
}

fn part(text: &str) -> Result<Vec<u8>, AssertionError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| AssertionError::Malformed)
}

fn json_part(text: &str) -> Result<serde_json::Map<String, JsonValue>, AssertionError> {
    match serde_json::from_slice::<JsonValue>(&part(text)?) {
        Ok(JsonValue::Object(map)) => Ok(map),
        _ => Err(AssertionError::Malformed),
    }
}

/// The issuer an assertion claims, unverified: to find whose keys check it.
pub fn issuer(assertion: &str) -> Option<String> {
    if assertion.len() > ASSERTION_BYTES_MAX {
        return None;
    }
    let claims = assertion.split('.').nth(1)?;
    json_part(claims)
        .ok()?
        .get("iss")
        .and_then(JsonValue::as_str)
        .map(str::to_owned)
}

/// Checks `assertion` as `client`'s, against the keys of `jwks`, for the token endpoint
/// `audience`, at `now`.
pub fn verify(
    assertion: &str,
    jwks: &str,
    audience: &str,
    client: &str,
    now: Timestamp,
) -> Result<Verified, AssertionError> {
    if assertion.len() > ASSERTION_BYTES_MAX {
        return Err(AssertionError::Malformed);
    }
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header_text, claims_text, signature_text] = parts[..] else {
        return Err(AssertionError::Malformed);
    };
    let header = json_part(header_text)?;
    let claims = json_part(claims_text)?;
    let signature = part(signature_text)?;
    if ["jku", "x5u", "jwk", "x5c", "crit"]
        .iter()
        .any(|k| header.contains_key(*k))
    {
        return Err(AssertionError::Algorithm);
    }
    let alg = header.get("alg").and_then(JsonValue::as_str);
    let kid = header.get("kid").and_then(JsonValue::as_str);
    let signed = format!("{header_text}.{claims_text}");
    let keys = match serde_json::from_str::<JsonValue>(jwks) {
        Ok(JsonValue::Object(set)) => match set.get("keys") {
            Some(JsonValue::Array(keys)) => keys.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let fitting = keys.iter().filter(|k| {
        kid.is_none_or(|kid| k.get("kid").and_then(JsonValue::as_str) == Some(kid))
            && k.get("alg")
                .and_then(JsonValue::as_str)
                .is_none_or(|a| Some(a) == alg)
    });
    let mut tried = false;
    let mut verified = false;
    for key in fitting {
        let outcome = match alg {
            Some("ES384") => es384(key, signed.as_bytes(), &signature),
            Some("RS384") => rs384(key, signed.as_bytes(), &signature),
            _ => return Err(AssertionError::Algorithm),
        };
        match outcome {
            Some(ok) => {
                tried = true;
                if ok {
                    verified = true;
                    break;
                }
            }
            None => continue,
        }
    }
    if !matches!(alg, Some("ES384" | "RS384")) {
        return Err(AssertionError::Algorithm);
    }
    if !tried {
        return Err(AssertionError::NoKey);
    }
    if !verified {
        return Err(AssertionError::Signature);
    }
    let text = |name: &'static str| {
        claims
            .get(name)
            .and_then(JsonValue::as_str)
            .ok_or(AssertionError::Claim(name))
    };
    if text("iss")? != client {
        return Err(AssertionError::Claim("iss"));
    }
    if text("sub")? != client {
        return Err(AssertionError::Claim("sub"));
    }
    let audience_ok = match claims.get("aud") {
        Some(JsonValue::String(a)) => a == audience,
        Some(JsonValue::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(AssertionError::Claim("aud"));
    }
    let exp = claims
        .get("exp")
        .and_then(JsonValue::as_i64)
        .ok_or(AssertionError::Claim("exp"))?;
    let now_s = now.micros().div_euclid(1_000_000);
    if exp + SKEW_S <= now_s || exp > now_s + LIFETIME_MAX_S + SKEW_S {
        return Err(AssertionError::Claim("exp"));
    }
    let jti = text("jti")?;
    if jti.is_empty() || jti.len() > JTI_BYTES_MAX || jti.chars().any(char::is_control) {
        return Err(AssertionError::Claim("jti"));
    }
    Ok(Verified {
        jti: jti.to_owned(),
    })
}

/// An ES384 signature (the JWS form: r and s, 48 bytes each) over `message` by an EC P-384
/// JWK: `None` if the key is not one.
fn es384(key: &JsonValue, message: &[u8], signature: &[u8]) -> Option<bool> {
    use p384::ecdsa::signature::Verifier as _;
    if key.get("kty")?.as_str()? != "EC" || key.get("crv")?.as_str()? != "P-384" {
        return None;
    }
    let x = URL_SAFE_NO_PAD.decode(key.get("x")?.as_str()?).ok()?;
    let y = URL_SAFE_NO_PAD.decode(key.get("y")?.as_str()?).ok()?;
    if x.len() != 48 || y.len() != 48 {
        return None;
    }
    let point = p384::EncodedPoint::from_affine_coordinates(
        p384::FieldBytes::from_slice(&x),
        p384::FieldBytes::from_slice(&y),
        false,
    );
    let verifying = p384::ecdsa::VerifyingKey::from_encoded_point(&point).ok()?;
    let Ok(signature) = p384::ecdsa::Signature::from_slice(signature) else {
        return Some(false);
    };
    Some(verifying.verify(message, &signature).is_ok())
}

/// An RS384 (RSASSA-PKCS1-v1_5 with SHA-384) signature over `message` by an RSA JWK: `None`
/// if the key is not one of an accepted size.
fn rs384(key: &JsonValue, message: &[u8], signature: &[u8]) -> Option<bool> {
    use rsa::signature::Verifier as _;
    if key.get("kty")?.as_str()? != "RSA" {
        return None;
    }
    let n = URL_SAFE_NO_PAD.decode(key.get("n")?.as_str()?).ok()?;
    let e = URL_SAFE_NO_PAD.decode(key.get("e")?.as_str()?).ok()?;
    let public = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .ok()?;
    if !RSA_BITS.contains(&(rsa::traits::PublicKeyParts::size(&public) * 8)) {
        return None;
    }
    let verifying = rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(public);
    let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
        return Some(false);
    };
    Some(verifying.verify(message, &signature).is_ok())
}

/// Is `jwks` a JWK Set this server can use: JSON, `keys` an array of 1 to 16 public EC P-384
/// or RSA keys (no private parts), within [`JWKS_BYTES_MAX`]?
pub fn check_jwks(jwks: &str) -> Result<(), &'static str> {
    if jwks.len() > JWKS_BYTES_MAX {
        return Err("is too large");
    }
    let Ok(JsonValue::Object(set)) = serde_json::from_str::<JsonValue>(jwks) else {
        return Err("is not a JSON object");
    };
    let Some(JsonValue::Array(keys)) = set.get("keys") else {
        return Err("has no keys array");
    };
    if keys.is_empty() || keys.len() > 16 {
        return Err("holds 1 to 16 keys");
    }
    for key in keys {
        if key.get("d").is_some() || key.get("p").is_some() {
            return Err("holds a private key");
        }
        let usable = match key.get("kty").and_then(JsonValue::as_str) {
            Some("EC") => key.get("crv").and_then(JsonValue::as_str) == Some("P-384"),
            Some("RSA") => key.get("n").is_some() && key.get("e").is_some(),
            _ => false,
        };
        if !usable {
            return Err("holds a key that is neither EC P-384 nor RSA");
        }
    }
    Ok(())
}

/// `access.client_keys/1`: the public keys `client`'s assertions are checked with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKeys {
    /// The client's account.
    pub client: String,
    /// The JWK Set, as JSON text.
    pub jwks: String,
}

impl EntryKind for ClientKeys {
    const KIND: &'static str = "access.client_keys/1";
    const PROJECTION: Projection = Projection::Into(&[&CLIENT_KEYS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.client).map_err(|_| Invalid {
            field: "client",
            why: "is not an account id",
        })?;
        check_jwks(&self.jwks).map_err(|why| Invalid { field: "jwks", why })
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &CLIENT_KEYS,
            vec![
                Value::Text(self.client.clone()),
                Value::Text(self.jwks.clone()),
                Value::THIS_ENTRY,
            ],
        ));
    }

    fn example() -> Self {
        ClientKeys {
            client: "demo-lab".into(),
            jwks: r#"{"keys":[{"kty":"EC","crv":"P-384","x":"x","y":"y","kid":"1"}]}"#.into(),
        }
    }
}

/// `access.client_assertion/1`: `client`'s assertion `jti` was accepted (claimed: once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionUsed {
    /// The client's account.
    pub client: String,
    /// The assertion's identifier.
    pub jti: String,
}

impl EntryKind for AssertionUsed {
    const KIND: &'static str = "access.client_assertion/1";
    const PROJECTION: Projection = Projection::Into(&[&ASSERTIONS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.client).map_err(|_| Invalid {
            field: "client",
            why: "is not an account id",
        })?;
        if self.jti.is_empty() || self.jti.len() > JTI_BYTES_MAX {
            return Err(Invalid {
                field: "jti",
                why: "is 1 to 255 bytes",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &ASSERTIONS,
            vec![
                Value::Text(self.client.clone()),
                Value::Text(self.jti.clone()),
                Value::THIS_ENTRY,
            ],
        ));
    }

    fn example() -> Self {
        AssertionUsed {
            client: "demo-lab".into(),
            jti: "0f1e2d3c".into(),
        }
    }
}

/// The entry registering `jwks` for `client`, by `actor`.
pub fn register(actor: Actor, client: &str, jwks: &str) -> Draft {
    Draft::new(
        actor,
        ClientKeys {
            client: client.to_owned(),
            jwks: jwks.to_owned(),
        },
    )
}

/// The entry claiming `client`'s assertion `jti`.
pub fn used(actor: Actor, client: &str, jti: &str) -> Draft {
    Draft::new(
        actor,
        AssertionUsed {
            client: client.to_owned(),
            jti: jti.to_owned(),
        },
    )
}

/// The keys registered for `client`.
pub fn keys_of(client: &str) -> Query {
    Query::key(&CLIENT_KEYS, vec![Value::Text(client.into())])
}

/// The JWK Set of a row of [`CLIENT_KEYS`].
pub fn jwks_of(stored: &Stored) -> Result<String, BadRow> {
    stored.cells(&CLIENT_KEYS).text(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::Signer as _;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn key() -> (p384::ecdsa::SigningKey, String) {
        let signing = p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).unwrap();
        let point = signing.verifying_key().to_encoded_point(false);
        let jwks = serde_json::json!({ "keys": [{
            "kty": "EC", "crv": "P-384", "kid": "k1",
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())
        }]})
        .to_string();
        (signing, jwks)
    }

    fn assertion(
        signing: &p384::ecdsa::SigningKey,
        header: JsonValue,
        claims: JsonValue,
    ) -> String {
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature: p384::ecdsa::Signature = signing.sign(signed.as_bytes());
        format!("{signed}.{}", b64(&signature.to_bytes()))
    }

    // Shows what an ES384 assertion must be: signed by a registered key, issued by and about
    // the client, for the token endpoint, expiring within five minutes, with a jti; and what
    // is refused — another algorithm, a key in the header, a wrong signature, issuer,
    // audience, or an expiry past or too far.
    #[test]
    fn assertions_are_checked() {
        let (signing, jwks) = key();
        let now = Timestamp::from_micros(1_800_000_000_000_000).unwrap();
        let aud = "http://localhost:8080/oauth/token";
        let claims = |exp: i64| serde_json::json!({ "iss": "demo-lab", "sub": "demo-lab", "aud": aud, "exp": exp, "jti": "a1" });
        let header = serde_json::json!({ "alg": "ES384", "typ": "JWT", "kid": "k1" });
        let good = assertion(&signing, header.clone(), claims(1_800_000_060));
        assert_eq!(issuer(&good).as_deref(), Some("demo-lab"));
        assert_eq!(
            verify(&good, &jwks, aud, "demo-lab", now),
            Ok(Verified { jti: "a1".into() })
        );
        assert_eq!(
            verify(&good, &jwks, aud, "other", now),
            Err(AssertionError::Claim("iss"))
        );
        assert_eq!(
            verify(
                &good,
                &jwks,
                "http://elsewhere/oauth/token",
                "demo-lab",
                now
            ),
            Err(AssertionError::Claim("aud"))
        );
        for exp in [1_799_999_000, 1_800_001_000] {
            let bad = assertion(&signing, header.clone(), claims(exp));
            assert_eq!(
                verify(&bad, &jwks, aud, "demo-lab", now),
                Err(AssertionError::Claim("exp")),
                "{exp}"
            );
        }
        let hs = assertion(
            &signing,
            serde_json::json!({ "alg": "HS256" }),
            claims(1_800_000_060),
        );
        assert_eq!(
            verify(&hs, &jwks, aud, "demo-lab", now),
            Err(AssertionError::Algorithm)
        );
        let jku = assertion(
            &signing,
            serde_json::json!({ "alg": "ES384", "jku": "http://evil/keys" }),
            claims(1_800_000_060),
        );
        assert_eq!(
            verify(&jku, &jwks, aud, "demo-lab", now),
            Err(AssertionError::Algorithm)
        );
        let other = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
        let forged = assertion(&other, header, claims(1_800_000_060));
        assert_eq!(
            verify(&forged, &jwks, aud, "demo-lab", now),
            Err(AssertionError::Signature)
        );
        assert_eq!(
            verify("a.b", &jwks, aud, "demo-lab", now),
            Err(AssertionError::Malformed)
        );
        assert!(check_jwks(&jwks).is_ok());
        assert!(check_jwks(r#"{"keys":[{"kty":"EC","crv":"P-384","d":"secret"}]}"#).is_err());
        assert!(check_jwks(r#"{"keys":[{"kty":"oct","k":"x"}]}"#).is_err());
    }
}
