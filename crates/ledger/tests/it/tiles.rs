//! tlog-tiles vectors: the C2SP spec's examples and trillian-tessera's path tests
//! (`api/layout/paths_test.go`).

use kiroku_ledger::Tile;

// Shows the tile paths of the reference table.
#[test]
fn tile_paths() {
    let cases = [
        (0, 0, 256, "tile/0/000"),
        (0, 0, 255, "tile/0/000.p/255"),
        (1, 0, 256, "tile/1/000"),
        (1, 0, 1, "tile/1/000.p/1"),
        (1, 0, 4, "tile/1/000.p/4"),
        (15, 455667, 256, "tile/15/x455/667"),
        (3, 1234567, 256, "tile/3/x001/x234/567"),
        (15, 123456789, 256, "tile/15/x123/x456/789"),
    ];
    for (level, index, width, path) in cases {
        let tile = Tile {
            level,
            index,
            width,
        };
        assert_eq!(tile.path(), path);
        assert_eq!(
            Tile::parse_path(path.strip_prefix("tile/").unwrap()),
            Ok(tile)
        );
    }
    for (index, width, path) in [
        (0, 256, "tile/entries/000"),
        (0, 8, "tile/entries/000.p/8"),
        (255, 253, "tile/entries/255.p/253"),
        (123456789000, 256, "tile/entries/x123/x456/x789/000"),
    ] {
        let tile = Tile {
            level: 0,
            index,
            width,
        };
        assert_eq!(tile.entries_path(), path);
        assert_eq!(
            Tile::parse_entries_path(path.strip_prefix("tile/entries/").unwrap()),
            Ok(tile)
        );
    }
}

// Shows the reference's valid and invalid level/index strings.
#[test]
fn tile_path_parsing() {
    assert_eq!(
        Tile::parse_path("0/x001/x234/067.p/89"),
        Ok(Tile {
            level: 0,
            index: 1234067,
            width: 89
        })
    );
    assert_eq!(
        Tile::parse_path("63/x999/x999/x999/x999/x999/999.p/255"),
        Ok(Tile {
            level: 63,
            index: 999_999_999_999_999_999,
            width: 255
        })
    );
    assert_eq!(
        Tile::parse_path("0/001"),
        Ok(Tile {
            level: 0,
            index: 1,
            width: 256
        })
    );
    for bad in [
        "0/x001/x234/067.p/",
        "0/x001/x234/067.p",
        "0/x001/x234/",
        "0/x001/x234",
        "0/x001/",
        "0/x001",
        "1/x001/.p/abc",
        "64/x001/002",
        "-1/x001/002",
    ] {
        assert!(Tile::parse_path(bad).is_err(), "{bad}");
    }
}

// Shows the spec's worked example: a tree of 70,000 entries has 273 full level-0 tiles and a
// partial one of width 112, one full level-1 tile and a partial one of width 17, and a
// partial level-2 tile of width 1; a tree of 256 has one full level-0 tile and a level-1
// tile of width 1.
#[test]
fn tiles_of_a_tree() {
    let size = 70_000;
    assert_eq!(Tile::in_tree(0, 272, size).map(|t| t.width), Some(256));
    assert_eq!(Tile::in_tree(0, 273, size).map(|t| t.width), Some(112));
    assert_eq!(Tile::in_tree(0, 274, size), None);
    assert_eq!(Tile::in_tree(1, 0, size).map(|t| t.width), Some(256));
    assert_eq!(Tile::in_tree(1, 1, size).map(|t| t.width), Some(17));
    assert_eq!(Tile::in_tree(2, 0, size).map(|t| t.width), Some(1));
    assert_eq!(Tile::in_tree(3, 0, size), None);
    assert_eq!(Tile::in_tree(0, 0, 256).map(|t| t.width), Some(256));
    assert_eq!(Tile::in_tree(1, 0, 256).map(|t| t.width), Some(1));
}
