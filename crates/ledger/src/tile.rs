//! C2SP `tlog-tiles`: the tree cut into tiles of [`TILE_HEIGHT`] levels, each tile holding up to
//! [`TILE_WIDTH`] hashes; their paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`); and
//! entry bundles, the entries of one level-0 tile, each prefixed with its big-endian `u16`
//! length.
//!
//! A tile at level `L` with index `N` holds the hashes of the subtrees of height `8·L` with
//! indices `256·N .. 256·N + W`; a full tile has `W = 256`, a partial one fewer.

use crate::ENTRY_BYTES_MAX;

/// Tree levels per tile.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// Why a tile path or an entry bundle was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TileError {
    /// The path is not of the form the spec allows.
    #[error("malformed tile path: {0}")]
    Path(&'static str),
    /// An entry is too large to bundle.
    #[error("entry of {len} bytes exceeds the {max}-byte limit")]
    EntryTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A bundle ends in the middle of an entry.
    #[error("entry bundle is truncated")]
    Truncated,
}

/// Which tile: level, index and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Tile level (tree height `8·level`), or the level of the hashes an entry bundle matches.
    pub level: u8,
    /// Tile index at its level.
    pub index: u64,
    /// Number of hashes (or entries), `1..=256`.
    pub width: u16,
}

impl Tile {
    /// The tile a tree of `size` leaves has at `level` and `index`, full or partial;
    /// `None` where the tree has no such tile yet.
    pub fn in_tree(level: u8, index: u64, size: u64) -> Option<Tile> {
        let hashes_at_level = size.checked_shr(u32::from(level) * u32::from(TILE_HEIGHT))?;
        let start = index.checked_mul(TILE_WIDTH)?;
        if start >= hashes_at_level {
            return None;
        }
        let width = (hashes_at_level - start).min(TILE_WIDTH) as u16;
        Some(Tile {
            level,
            index,
            width,
        })
    }

    /// Is this tile full?
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Index (at height `8·level`) of the first hash in this tile.
    pub fn first(&self) -> u64 {
        self.index * TILE_WIDTH
    }

    /// Path of the hash tile, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.suffix())
    }

    /// Path of the entry bundle for this (level-0) tile, e.g. `tile/entries/x001/234.p/8`.
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.suffix())
    }

    fn suffix(&self) -> String {
        let mut out = encode_index(self.index);
        if !self.is_full() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Parses what follows `tile/` in a hash tile's path: `<L>/<N>[.p/<W>]`.
    pub fn parse_path(rest: &str) -> Result<Tile, TileError> {
        let (level, rest) = rest
            .split_once('/')
            .ok_or(TileError::Path("missing level"))?;
        let level = parse_decimal(level, 63).ok_or(TileError::Path("bad level"))? as u8;
        let (index, width) = parse_index_and_width(rest)?;
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// Parses what follows `tile/entries/` in an entry bundle's path: `<N>[.p/<W>]`.
    pub fn parse_entries_path(rest: &str) -> Result<Tile, TileError> {
        let (index, width) = parse_index_and_width(rest)?;
        Ok(Tile {
            level: 0,
            index,
            width,
        })
    }
}

/// `1234067` → `x001/x234/067`: groups of three digits, all but the last prefixed with `x`.
fn encode_index(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i == last {
                format!("{g:03}")
            } else {
                format!("x{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn parse_index_and_width(text: &str) -> Result<(u64, u16), TileError> {
    let (index_text, width) = match text.split_once(".p/") {
        Some((index_text, width_text)) => {
            let width = parse_decimal(width_text, TILE_WIDTH - 1)
                .filter(|w| *w >= 1)
                .ok_or(TileError::Path("partial width must be 1 to 255"))?;
            (index_text, width as u16)
        }
        None => (text, TILE_WIDTH as u16),
    };
    let groups: Vec<&str> = index_text.split('/').collect();
    if groups.len() > 7 {
        return Err(TileError::Path("index too long"));
    }
    let mut index: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() {
            group
                .strip_prefix('x')
                .ok_or(TileError::Path("inner index groups start with x"))?
        } else {
            group
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::Path("index groups have three digits"));
        }
        let value: u64 = digits
            .parse()
            .map_err(|_| TileError::Path("bad index group"))?;
        index = index
            .checked_mul(1000)
            .and_then(|n| n.checked_add(value))
            .ok_or(TileError::Path("index too large"))?;
    }
    if groups.len() > 1 && groups[0] == "x000" {
        return Err(TileError::Path("index has a leading zero group"));
    }
    Ok((index, width))
}

fn parse_decimal(text: &str, max: u64) -> Option<u64> {
    // Canonical decimal only: digits, no leading zeros (index groups are parsed apart).
    if text.is_empty()
        || text.len() > 20
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse::<u64>().ok().filter(|v| *v <= max)
}

/// Encodes entries as a bundle: each as a big-endian `u16` length and its bytes.
pub fn encode_bundle<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for entry in entries {
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge {
            len: entry.len(),
            max: ENTRY_BYTES_MAX,
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Splits a bundle back into its entries.
pub fn decode_bundle(mut bundle: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut entries = Vec::new();
    while !bundle.is_empty() {
        if bundle.len() < 2 {
            return Err(TileError::Truncated);
        }
        let len = usize::from(u16::from_be_bytes([bundle[0], bundle[1]]));
        let rest = &bundle[2..];
        if rest.len() < len {
            return Err(TileError::Truncated);
        }
        entries.push(&rest[..len]);
        bundle = &rest[len..];
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the path encoding on the spec's examples and that parsing inverts it.
    #[test]
    fn paths_encode_and_parse() {
        let cases = [
            (
                Tile {
                    level: 0,
                    index: 1234067,
                    width: 256,
                },
                "tile/0/x001/x234/067",
            ),
            (
                Tile {
                    level: 0,
                    index: 1234067,
                    width: 8,
                },
                "tile/0/x001/x234/067.p/8",
            ),
            (
                Tile {
                    level: 1,
                    index: 0,
                    width: 256,
                },
                "tile/1/000",
            ),
            (
                Tile {
                    level: 3,
                    index: 5,
                    width: 1,
                },
                "tile/3/005.p/1",
            ),
            (
                Tile {
                    level: 0,
                    index: 1000,
                    width: 256,
                },
                "tile/0/x001/000",
            ),
        ];
        for (tile, path) in cases {
            assert_eq!(tile.path(), path);
            let rest = path.strip_prefix("tile/").unwrap_or_default();
            assert_eq!(Tile::parse_path(rest), Ok(tile), "{path}");
        }
        let tile = Tile {
            level: 0,
            index: 1234067,
            width: 8,
        };
        assert_eq!(tile.entries_path(), "tile/entries/x001/x234/067.p/8");
        assert_eq!(Tile::parse_entries_path("x001/x234/067.p/8"), Ok(tile));
    }

    // Shows that malformed paths are refused rather than guessed at.
    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "0/1",
            "0/0001",
            "0/x1/000",
            "0/001/002",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/",
            "64/000",
            "a/000",
            "0/x000/001",
            "0/",
            "",
            "0/000.p/08",
            "0/abc",
            "0/x001/x002/x003/x004/x005/x006/x007/008",
        ] {
            assert!(Tile::parse_path(bad).is_err(), "{bad}");
        }
    }

    // Shows which tiles a tree has, full and partial, at the boundary of a full tile.
    #[test]
    fn tiles_in_tree() {
        assert_eq!(Tile::in_tree(0, 0, 0), None);
        assert_eq!(
            Tile::in_tree(0, 0, 255),
            Some(Tile {
                level: 0,
                index: 0,
                width: 255
            })
        );
        assert_eq!(
            Tile::in_tree(0, 0, 256),
            Some(Tile {
                level: 0,
                index: 0,
                width: 256
            })
        );
        assert_eq!(Tile::in_tree(0, 1, 256), None);
        assert_eq!(
            Tile::in_tree(1, 0, 256),
            Some(Tile {
                level: 1,
                index: 0,
                width: 1
            })
        );
        assert_eq!(Tile::in_tree(1, 0, 255), None);
        assert_eq!(Tile::in_tree(63, u64::MAX, 10), None);
    }

    // Shows that bundles round-trip and that truncated bundles and oversized entries fail.
    #[test]
    fn bundles_round_trip() {
        let entries: Vec<&[u8]> = vec![b"a", b"", b"hello"];
        let bundle = encode_bundle(entries.iter().copied()).unwrap_or_default();
        assert_eq!(bundle, b"\x00\x01a\x00\x00\x00\x05hello");
        assert_eq!(decode_bundle(&bundle), Ok(entries));
        assert_eq!(
            decode_bundle(&bundle[..bundle.len() - 1]),
            Err(TileError::Truncated)
        );
        let big = vec![0u8; 70_000];
        assert!(encode_bundle([big.as_slice()]).is_err());
    }
}
