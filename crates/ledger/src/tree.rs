//! The Merkle tree of RFC 6962 / RFC 9162 (C2SP `merkle-tree`): the root of a list of leaves,
//! the [`Frontier`] that lets a writer append leaves and compute the new root in logarithmic
//! space, and [`HashSource`], through which proofs read the hashes of a stored tree.
//!
//! Heights count from the leaves: a subtree of height `h` covers `2^h` leaves, and the subtree
//! with index `i` at height `h` covers leaves `i·2^h .. (i+1)·2^h`.

use crate::hash::{node_hash, Hash};

/// Gives the hash of any complete, aligned subtree of a stored tree.
///
/// A tile store answers from its tiles; tests answer from a list of leaf hashes.
pub trait HashSource {
    /// What reading can fail with.
    type Error;

    /// The hash of the complete subtree at `height` with `index`.
    fn subtree(&mut self, height: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// A [`HashSource`] over leaf hashes held in memory.
impl HashSource for &[Hash] {
    type Error = std::convert::Infallible;

    fn subtree(&mut self, height: u8, index: u64) -> Result<Hash, Self::Error> {
        let width = 1usize << height;
        let start = usize::try_from(index)
            .unwrap_or(usize::MAX)
            .saturating_mul(width);
        Ok(perfect_root(&self[start..start + width]))
    }
}

/// The root of a perfect tree whose leaves (or lower subtrees) are `hashes`.
///
/// `hashes.len()` must be a power of two; other lengths are hashed as RFC 6962 would.
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    root(hashes)
}

/// The RFC 6962 Merkle tree hash (MTH) of a list of leaf hashes, by the RFC's own recursion.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::empty(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n` (`n >= 2`): where RFC 6962 splits a tree.
pub fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of the leaves `start..end` of a stored tree, read through `source`.
///
/// The range must be one that RFC 6962's recursion produces (its start a multiple of the
/// largest power of two not above its length), which every range in a proof is.
pub fn range_hash<S: HashSource>(source: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let len = end - start;
    if len == 0 {
        return Ok(Hash::empty());
    }
    if len.is_power_of_two() && start.is_multiple_of(len) {
        let height = len.trailing_zeros() as u8;
        return source.subtree(height, start >> height);
    }
    let k = if len == 1 { 1 } else { split_point(len) };
    let left = range_hash(source, start, start + k)?;
    let right = range_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The right edge of a tree: the roots of the complete subtrees that make up its leaves, one
/// for each bit set in its size, largest (leftmost) first.
///
/// Appending a leaf merges equal-height subtrees like a binary counter; every merge completes a
/// subtree, which [`Frontier::push`] reports so a store can keep the hashes its tiles need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (height, hash), heights strictly decreasing.
    subtrees: Vec<(u8, Hash)>,
}

/// A subtree completed by an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completed {
    /// Height of the subtree (0 is the leaf itself).
    pub height: u8,
    /// Index of the subtree at its height.
    pub index: u64,
    /// Its hash.
    pub hash: Hash,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Rebuilds the frontier of a stored tree of `size` leaves from its complete subtrees.
    pub fn load<S: HashSource>(source: &mut S, size: u64) -> Result<Frontier, S::Error> {
        let mut subtrees = Vec::new();
        let mut start = 0u64;
        for height in (0..64u8).rev() {
            if size & (1 << height) != 0 {
                subtrees.push((height, source.subtree(height, start >> height)?));
                start += 1 << height;
            }
        }
        Ok(Frontier { size, subtrees })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; calls `completed` for the leaf and for every subtree it completes,
    /// lowest first.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(Completed)) {
        let mut index = self.size;
        let mut height = 0u8;
        let mut hash = leaf;
        completed(Completed {
            height,
            index,
            hash,
        });
        while let Some(&(top_height, top_hash)) = self.subtrees.last() {
            if top_height != height {
                break;
            }
            self.subtrees.pop();
            hash = node_hash(&top_hash, &hash);
            height += 1;
            index >>= 1;
            completed(Completed {
                height,
                index,
                hash,
            });
        }
        self.subtrees.push((height, hash));
        self.size += 1;
    }

    /// The root hash of the tree: the complete subtrees folded from the right.
    pub fn root(&self) -> Hash {
        let mut iter = self.subtrees.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return Hash::empty();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    // Shows that appending to a frontier gives, at every size, the root of RFC 6962's recursion,
    // and that a frontier loaded from the stored leaves equals the one built by appending.
    #[test]
    fn frontier_matches_reference_root_at_every_size() {
        let all = leaves(300);
        let mut frontier = Frontier::new();
        for (n, leaf) in all.iter().enumerate() {
            assert_eq!(frontier.root(), root(&all[..n]), "size {n}");
            let mut source: &[Hash] = &all;
            let loaded = Frontier::load(&mut source, n as u64);
            assert_eq!(loaded, Ok(frontier.clone()));
            frontier.push(*leaf, |_| {});
        }
    }

    // Shows that push reports every completed subtree with its true hash.
    #[test]
    fn push_reports_completed_subtrees() {
        let all = leaves(16);
        let mut frontier = Frontier::new();
        let mut seen = Vec::new();
        for leaf in &all {
            frontier.push(*leaf, |c| seen.push(c));
        }
        assert_eq!(seen.len(), 31);
        for c in seen {
            let width = 1usize << c.height;
            let start = c.index as usize * width;
            assert_eq!(c.hash, root(&all[start..start + width]));
        }
    }

    proptest! {
        // Shows that range_hash over a hash source agrees with the reference for every
        // range RFC 6962 uses: the whole tree and its right-hand parts.
        #[test]
        fn range_hash_agrees_with_reference(n in 1usize..600, cut in 0usize..600) {
            let all = leaves(n);
            let mut source: &[Hash] = &all;
            prop_assert_eq!(range_hash(&mut source, 0, n as u64), Ok(root(&all)));
            let k = cut % n;
            if k > 0 {
                let size = 1u64 << (63 - (k as u64).leading_zeros());
                let start = size.min(n as u64);
                if start < n as u64 && start.is_power_of_two() {
                    prop_assert_eq!(
                        range_hash(&mut source, start, n as u64),
                        Ok(root(&all[start as usize..]))
                    );
                }
            }
        }
    }
}
