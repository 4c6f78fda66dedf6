//! RFC 6962 vectors from transparency-dev/merkle (`testonly/constants.go`,
//! `testonly/reference_test.go`, `proof/verify_test.go`, `rfc6962/rfc6962_test.go`).

use kiroku_ledger::proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use kiroku_ledger::tree::root;
use kiroku_ledger::{leaf_hash, node_hash, Hash};

const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn hash(hex: &str) -> Hash {
    Hash::from_hex(hex).unwrap()
}

fn leaves() -> Vec<Hash> {
    LEAF_INPUTS
        .iter()
        .map(|input| leaf_hash(&bytes(input)))
        .collect()
}

// Shows that leaf and node hashing match the reference's single-hash vectors.
#[test]
fn hasher_vectors() {
    assert_eq!(Hash::empty(), hash(ROOTS[0]));
    assert_eq!(
        leaf_hash(b""),
        hash("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    );
    assert_eq!(
        leaf_hash(b"L123456"),
        hash("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    );
    // HashChildren takes raw bytes; node_hash takes 32-byte hashes, so check the same
    // construction on the published tree instead: [1][0] = node([0][0], [0][1]).
    let l = leaves();
    assert_eq!(
        node_hash(&l[0], &l[1]),
        hash("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")
    );
    assert_eq!(
        node_hash(&l[6], &l[7]),
        hash("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")
    );
}

// Shows that the roots of every prefix of the 8 reference leaves match.
#[test]
fn roots_of_every_size() {
    let l = leaves();
    for (size, expected) in ROOTS.iter().enumerate() {
        assert_eq!(root(&l[..size]), hash(expected), "size {size}");
    }
}

// Shows that the published inclusion proofs are made exactly and verify, and that the
// off-by-one index fails.
#[test]
fn inclusion_vectors() {
    let l = leaves();
    let cases: &[(u64, u64, &[&str])] = &[
        (0, 1, &[]),
        (
            0,
            2,
            &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
        ),
        (
            1,
            2,
            &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, size, expected) in cases {
        let expected: Vec<Hash> = expected.iter().map(|h| hash(h)).collect();
        let mut source: &[Hash] = &l[..*size as usize];
        assert_eq!(
            inclusion_proof(&mut source, *index, *size).unwrap(),
            expected,
            "{index}/{size}"
        );
        let root = hash(ROOTS[*size as usize]);
        verify_inclusion(&l[*index as usize], *index, *size, &expected, &root).unwrap();
        if *size > 1 {
            let wrong = (*index + 1) % *size;
            assert!(verify_inclusion(&l[*index as usize], wrong, *size, &expected, &root).is_err());
        }
    }
}

// Shows that the published consistency proofs are made exactly and verify, including the
// edge cases of equal and empty sizes.
#[test]
fn consistency_vectors() {
    let l = leaves();
    let cases: &[(u64, u64, &[&str])] = &[
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old, new, expected) in cases {
        let expected: Vec<Hash> = expected.iter().map(|h| hash(h)).collect();
        let mut source: &[Hash] = &l[..*new as usize];
        assert_eq!(
            consistency_proof(&mut source, *old, *new).unwrap(),
            expected,
            "{old}->{new}"
        );
        verify_consistency(
            *old,
            *new,
            &hash(ROOTS[*old as usize]),
            &hash(ROOTS[*new as usize]),
            &expected,
        )
        .unwrap();
    }
    let (r1, r2) = (hash(ROOTS[1]), hash(ROOTS[2]));
    assert!(verify_consistency(0, 0, &r1, &r1, &[]).is_ok());
    assert!(verify_consistency(0, 1, &r1, &r2, &[]).is_ok());
    assert!(verify_consistency(1, 1, &r1, &r2, &[]).is_err());
    assert!(verify_consistency(1, 0, &r1, &r2, &[]).is_err());
    assert!(verify_consistency(1, 2, &r1, &r2, &[]).is_err());
    assert!(verify_consistency(1, 1, &r1, &r1, &[Hash::empty()]).is_err());
}
