//! Signed-note vectors from golang.org/x/mod (`sumdb/note/note_test.go`) and the C2SP
//! signed-note example key, and the transparency-dev/formats key-parsing cases.

use kiroku_ledger::note::{open, NoteError};
use kiroku_ledger::{Signer, Verifier};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

// Shows that the reference keys parse, round-trip and agree, and that signing the reference
// text reproduces the reference note byte for byte (Ed25519 is deterministic).
#[test]
fn go_vectors_sign_exactly() {
    let signer = Signer::parse(PETER_SKEY).unwrap();
    assert_eq!(signer.to_private_text(), PETER_SKEY);
    let verifier = Verifier::parse(PETER_VKEY).unwrap();
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(verifier.key_id(), 0xc74f20a3);
    assert_eq!(verifier.to_text(), PETER_VKEY);
    assert_eq!(signer.sign(TEXT).unwrap(), format!("{TEXT}\n{PETER_SIG}"));
}

// Shows that a note signed by two keys opens with either, that a signature by an unknown key
// is ignored, and that the reference's malformed notes are refused.
#[test]
fn go_vectors_open() {
    let peter = Verifier::parse(PETER_VKEY).unwrap();
    let enoch = Verifier::parse(ENOCH_VKEY).unwrap();
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(open(&both, std::slice::from_ref(&peter)), Ok(TEXT));
    assert_eq!(open(&both, std::slice::from_ref(&enoch)), Ok(TEXT));
    assert_eq!(open(&both, &[peter.clone(), enoch]), Ok(TEXT));
    let other = Signer::from_seed("Other", [3; 32]).unwrap().verifier();
    assert_eq!(open(&both, &[other]), Err(NoteError::UnknownSigner));
    let tampered = both.replacen("cryptography", "Cryptography", 1);
    assert!(matches!(
        open(&tampered, std::slice::from_ref(&peter)),
        Err(NoteError::BadSignature { .. })
    ));
    for bad in [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", PETER_SIG.trim_end_matches('\n')),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n{}", PETER_SIG.replace("PeterNeumann", "Bad Name")),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ] {
        assert!(open(&bad, std::slice::from_ref(&peter)).is_err(), "{bad:?}");
    }
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert!(
        open(&many, &[peter]).is_err(),
        "more than 100 signatures are refused"
    );
}

// Shows the C2SP signed-note example key and signature.
#[test]
fn c2sp_example() {
    let verifier =
        Verifier::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
    let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    assert_eq!(open(note, &[verifier]), Ok("This is an example message.\n"));
}

// Shows the reference's key-parsing cases: a key whose base64 holds '+', and keys that must be
// refused (wrong length, unknown algorithm, missing fields, not base64).
#[test]
fn key_parsing_cases() {
    assert!(Verifier::parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6").is_ok());
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "bananas.sigstore.dev+12344556",
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB",
    ] {
        assert!(Verifier::parse(bad).is_err(), "{bad}");
    }
    assert!(Signer::from_seed("a+b", [0; 32]).is_err());
    assert!(Signer::parse(PETER_SKEY).unwrap().sign("abc").is_err());
}
