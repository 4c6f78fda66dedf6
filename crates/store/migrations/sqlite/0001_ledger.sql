-- The ledger: entries, the tree hashes tiles above level 0 need, signed checkpoints, blobs.
-- Append-only: the triggers below refuse UPDATE and DELETE; `kiroku verify` catches what
-- someone with the file does anyway.
CREATE TABLE entries (
    idx       INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    body      BLOB NOT NULL
);
CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    root       BLOB NOT NULL CHECK (length(root) = 32),
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE blobs (
    sha256  BLOB PRIMARY KEY CHECK (length(sha256) = 32),
    content BLOB NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;
CREATE TRIGGER tree_nodes_no_update BEFORE UPDATE ON tree_nodes
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;
CREATE TRIGGER tree_nodes_no_delete BEFORE DELETE ON tree_nodes
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;
CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;
CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'ledger tables are append-only'); END;

-- Projections of the first release (dropped by migration 2; since then generated from the
-- contexts' declarations).
CREATE TABLE operator_notes (
    entry_index INTEGER PRIMARY KEY,
    time        TEXT NOT NULL,
    account     TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE TABLE verifications (
    entry_index INTEGER PRIMARY KEY,
    time        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    tree_size   INTEGER NOT NULL,
    detail      TEXT
);
