//! The transparency log's public paths and bundles: tile paths (`/ledger/tile/L/N[.p/W]`),
//! entry-bundle paths, and entry bundles as a witness decodes them. Any text parses or is
//! refused without panicking; a path that parses is the tile's own path.
#![no_main]

use kiroku_ledger::tile::{decode_bundle, Tile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(tile) = Tile::parse_path(text) {
            let path = tile.path();
            let rest = path
                .strip_prefix("tile/")
                .expect("a tile's path starts tile/");
            assert_eq!(Tile::parse_path(rest), Ok(tile));
        }
        let _ = Tile::parse_entries_path(text);
    }
    let _ = decode_bundle(data);
});
