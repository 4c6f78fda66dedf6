-- The ledger: entries, the tree hashes tiles above level 0 need, signed checkpoints, blobs.
-- Append-only: triggers refuse UPDATE, DELETE and TRUNCATE, and PUBLIC holds no such
-- privilege; run the server as a role that does not own these tables to make the privileges
-- bite as well. `kiroku verify` catches what a superuser does anyway.
CREATE TABLE entries (
    idx       BIGINT PRIMARY KEY,
    leaf_hash BYTEA NOT NULL CHECK (length(leaf_hash) = 32),
    body      BYTEA NOT NULL
);
CREATE TABLE tree_nodes (
    level SMALLINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);
CREATE TABLE checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root       BYTEA NOT NULL CHECK (length(root) = 32),
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE blobs (
    sha256  BYTEA PRIMARY KEY CHECK (length(sha256) = 32),
    content BYTEA NOT NULL
);

CREATE FUNCTION kiroku_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger tables are append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION kiroku_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION kiroku_append_only();
CREATE TRIGGER tree_nodes_append_only BEFORE UPDATE OR DELETE ON tree_nodes
    FOR EACH ROW EXECUTE FUNCTION kiroku_append_only();
CREATE TRIGGER tree_nodes_no_truncate BEFORE TRUNCATE ON tree_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION kiroku_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION kiroku_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION kiroku_append_only();
CREATE TRIGGER blobs_append_only BEFORE UPDATE OR DELETE ON blobs
    FOR EACH ROW EXECUTE FUNCTION kiroku_append_only();
CREATE TRIGGER blobs_no_truncate BEFORE TRUNCATE ON blobs
    FOR EACH STATEMENT EXECUTE FUNCTION kiroku_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON entries, tree_nodes, checkpoints, blobs FROM PUBLIC;

-- Projections of the first release (dropped by migration 2; since then generated from the
-- contexts' declarations).
CREATE TABLE operator_notes (
    entry_index BIGINT PRIMARY KEY,
    time        TEXT NOT NULL,
    account     TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE TABLE verifications (
    entry_index BIGINT PRIMARY KEY,
    time        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    tree_size   BIGINT NOT NULL,
    detail      TEXT
);
