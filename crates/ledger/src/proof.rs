//! Inclusion and consistency proofs: made from a stored tree through a [`HashSource`] by the
//! recursions of RFC 6962 §2.1, and checked by the iterative algorithms of RFC 9162 §2.1.3.2
//! and §2.1.4.2, which need nothing but the proof, the sizes and the roots.

use crate::hash::{node_hash, Hash};
use crate::tree::{range_hash, split_point, HashSource};

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError<E> {
    /// The index or sizes asked for do not describe a proof.
    #[error("no proof exists for {what}")]
    OutOfRange {
        /// What was asked, e.g. "leaf 7 in a tree of size 5".
        what: String,
    },
    /// The hash source failed.
    #[error("reading the tree failed")]
    Source(#[source] E),
}

/// Why a proof did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum VerifyError {
    /// The index is not below the tree size, or the sizes are out of order.
    #[error("the index or tree sizes are out of range")]
    OutOfRange,
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has the wrong length")]
    WrongLength,
    /// The hashes do not lead to the expected root.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// The audit path of leaf `index` in the tree of the first `size` leaves.
pub fn inclusion_proof<S: HashSource>(
    source: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if index >= size {
        return Err(ProofError::OutOfRange {
            what: format!("leaf {index} in a tree of size {size}"),
        });
    }
    let mut path = Vec::new();
    inclusion_path(source, index, 0, size, &mut path).map_err(ProofError::Source)?;
    Ok(path)
}

/// RFC 6962 PATH(m, D[lo:hi]), appending to `path` leaf-side first.
fn inclusion_path<S: HashSource>(
    source: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if hi - lo <= 1 {
        return Ok(());
    }
    let k = split_point(hi - lo);
    if m < k {
        inclusion_path(source, m, lo, lo + k, path)?;
        path.push(range_hash(source, lo + k, hi)?);
    } else {
        inclusion_path(source, m - k, lo + k, hi, path)?;
        path.push(range_hash(source, lo, lo + k)?);
    }
    Ok(())
}

/// The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves.
pub fn consistency_proof<S: HashSource>(
    source: &mut S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if old > new {
        return Err(ProofError::OutOfRange {
            what: format!("sizes {old} to {new}"),
        });
    }
    let mut path = Vec::new();
    if old > 0 && old < new {
        subproof(source, old, 0, new, true, &mut path).map_err(ProofError::Source)?;
    }
    Ok(path)
}

/// RFC 6962 SUBPROOF(m, D[lo:hi], b).
fn subproof<S: HashSource>(
    source: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        if !whole {
            path.push(range_hash(source, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, lo, lo + k, whole, path)?;
        path.push(range_hash(source, lo + k, hi)?);
    } else {
        subproof(source, m - k, lo + k, hi, false, path)?;
        path.push(range_hash(source, lo, lo + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::OutOfRange);
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(VerifyError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(VerifyError::WrongLength);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old > new {
        return Err(VerifyError::OutOfRange);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(VerifyError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(VerifyError::RootMismatch)
        };
    }
    if old == 0 {
        // The empty tree is a prefix of every tree; RFC 9162 proves it with an empty proof.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(VerifyError::WrongLength)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(VerifyError::WrongLength);
    };
    let mut f_n = old - 1;
    let mut s_n = new - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = *first;
    let mut s_r = *first;
    for c in rest {
        if s_n == 0 {
            return Err(VerifyError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(VerifyError::WrongLength);
    }
    if f_r != *old_root || s_r != *new_root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::tree::root;
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    // Shows, exhaustively for small trees, that every inclusion and consistency proof made
    // verifies against the reference roots.
    #[test]
    fn every_proof_of_small_trees_verifies() {
        let all = leaves(40);
        for size in 1..=40u64 {
            let mut source: &[Hash] = &all[..size as usize];
            let size_root = root(&all[..size as usize]);
            for index in 0..size {
                let proof = inclusion_proof(&mut source, index, size).unwrap_or_default();
                assert_eq!(
                    verify_inclusion(&all[index as usize], index, size, &proof, &size_root),
                    Ok(()),
                    "leaf {index} of {size}"
                );
            }
            for old in 0..=size {
                let proof = consistency_proof(&mut source, old, size).unwrap_or_default();
                let old_root = root(&all[..old as usize]);
                assert_eq!(
                    verify_consistency(old, size, &old_root, &size_root, &proof),
                    Ok(()),
                    "{old} to {size}"
                );
            }
        }
    }

    // Shows that asking for a proof outside the tree is an error, not a panic.
    #[test]
    fn proofs_out_of_range_are_refused() {
        let all = leaves(4);
        let mut source: &[Hash] = &all;
        assert!(inclusion_proof(&mut source, 4, 4).is_err());
        assert!(consistency_proof(&mut source, 5, 4).is_err());
        assert_eq!(
            verify_inclusion(&all[0], 4, 4, &[], &Hash::empty()),
            Err(VerifyError::OutOfRange)
        );
    }

    fn flip(hash: &mut Hash, bit: usize) {
        hash.0[bit / 8 % 32] ^= 1 << (bit % 8);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        // Shows that an inclusion proof of a random tree verifies, and that altering any hash
        // of it, its length, the leaf, the root or the index makes it fail. (A size altered
        // alone can keep the same path shape; sizes are bound to roots by the signed
        // checkpoint, whose alteration the checkpoint tests show failing.)
        #[test]
        fn inclusion_proofs_verify_and_alterations_fail(
            size in 1u64..2000, index_seed in any::<u64>(), which in any::<usize>(), bit in 0usize..256
        ) {
            let all = leaves(size);
            let index = index_seed % size;
            let mut source: &[Hash] = &all;
            let proof = inclusion_proof(&mut source, index, size).unwrap_or_default();
            let good_root = root(&all);
            let leaf = all[index as usize];
            prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &good_root), Ok(()));

            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = which % bad.len();
                flip(&mut bad[i], bit);
                prop_assert!(verify_inclusion(&leaf, index, size, &bad, &good_root).is_err());
                let mut shorter = proof.clone();
                shorter.pop();
                prop_assert!(verify_inclusion(&leaf, index, size, &shorter, &good_root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(Hash::empty());
            prop_assert!(verify_inclusion(&leaf, index, size, &longer, &good_root).is_err());
            let mut bad_leaf = leaf;
            flip(&mut bad_leaf, bit);
            prop_assert!(verify_inclusion(&bad_leaf, index, size, &proof, &good_root).is_err());
            let mut bad_root = good_root;
            flip(&mut bad_root, bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &bad_root).is_err());
            if size > 1 {
                let other = (index + 1 + which as u64 % (size - 1)) % size;
                prop_assert!(verify_inclusion(&leaf, other, size, &proof, &good_root).is_err());
            }
        }

        // Shows that a consistency proof between random sizes verifies, and that altering any
        // hash of it or either root makes it fail.
        #[test]
        fn consistency_proofs_verify_and_alterations_fail(
            new in 2u64..2000, old_seed in any::<u64>(), which in any::<usize>(), bit in 0usize..256
        ) {
            let all = leaves(new);
            let old = 1 + old_seed % (new - 1);
            let mut source: &[Hash] = &all;
            let proof = consistency_proof(&mut source, old, new).unwrap_or_default();
            let old_root = root(&all[..old as usize]);
            let new_root = root(&all);
            prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));

            let mut bad = proof.clone();
            let i = which % bad.len();
            flip(&mut bad[i], bit);
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
            let mut bad_old = old_root;
            flip(&mut bad_old, bit);
            prop_assert!(verify_consistency(old, new, &bad_old, &new_root, &proof).is_err());
            let mut bad_new = new_root;
            flip(&mut bad_new, bit);
            prop_assert!(verify_consistency(old, new, &old_root, &bad_new, &proof).is_err());
        }
    }
}
