//! A departmental system's signed client assertion (RFC 7523) and the JWK Set an
//! administrator registers: the JWT reader, the key reader and the checks answer any text
//! without panicking, and nothing forged verifies.
#![no_main]

use kiroku_access::assertion::{check_jwks, issuer, verify};
use kiroku_core::Timestamp;
use libfuzzer_sys::fuzz_target;

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-384","kid":"k","x":"iA7lWQLzVrKGEFjfGcfMHyiKnjTU5Ag6jtjbQlpC0Bc-HKn3C0pG1SkPxKDxwQ7a","y":"9UW8v44oTn2fq_c7kE8HmYyyKCF81gmtB_dN0hd_m3qPA2lI0LL2JRWSaLkdomvq"},{"kty":"RSA","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB","kid":"r"}]}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = issuer(text);
    let _ = check_jwks(text);
    let now = Timestamp::from_micros(1_800_000_000_000_000).expect("a time");
    assert!(
        verify(text, JWKS, "http://localhost/oauth/token", "demo-lab", now).is_err(),
        "nothing made without the private keys verifies"
    );
    let _ = verify(text, text, "http://localhost/oauth/token", "demo-lab", now);
});
