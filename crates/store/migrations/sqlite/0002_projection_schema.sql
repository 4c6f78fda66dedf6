-- Projection tables are generated from the contexts' declarations from now on (see
-- crates/store/src/schema.rs). The first release's two hand-written projection tables are
-- dropped — they are derived, and the store rebuilds their successors by replaying the ledger
-- — and the generated schema's fingerprint is kept here.
DROP TABLE IF EXISTS operator_notes;
DROP TABLE IF EXISTS verifications;
CREATE TABLE projection_schema (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    tables      TEXT NOT NULL
);
