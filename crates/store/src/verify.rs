//! `kiroku verify`: recompute everything from the stored entries and blobs and compare it with
//! what is stored and signed. Every leaf is rehashed and decoded, every blob rehashed, the tree
//! rebuilt, every stored tree node and every checkpoint (root and signature) checked, and the
//! projections compared with a replay. The first problem found is reported with the index of
//! the first entry it concerns. Messages name indices and tables, never content.
//!
//! Also [`rebuild_projections`], which replays the ledger into fresh projection tables.

use crate::db::{Db, EntryRow, Page, StoredCheckpoint};
use crate::{Result, Store, StoreError};
use kiroku_domain::entry::{decode, Payload};
use kiroku_domain::projection::{project, Change, TABLES};
use kiroku_domain::{Entry, EntryIndex};
use kiroku_ledger::hash::content_hash;
use kiroku_ledger::{leaf_hash, Checkpoint, Frontier, Hash, Verifier, TILE_HEIGHT};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Entries read per query.
const ENTRY_PAGE: u64 = 8192;
/// Checkpoints, nodes and projection rows read per query.
const ROW_PAGE: u64 = 10_000;

/// What went wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The first entry concerned, where one can be named.
    pub index: Option<u64>,
    /// What is wrong.
    pub what: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Entries checked.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Size of the latest checkpoint.
    pub tree_size: u64,
    /// The recomputed root of all entries.
    pub root: Hash,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

fn problem(index: impl Into<Option<u64>>, what: impl Into<String>) -> Problem {
    Problem {
        index: index.into(),
        what: what.into(),
    }
}

/// Decodes an entry and resolves its payload (from the blob store where it was moved).
fn resolve(db: &mut dyn Db, row: &EntryRow) -> Result<(Entry, Json), Problem> {
    let entry = decode(&row.body).map_err(|e| {
        problem(
            row.idx,
            format!("entry {} is not a canonical entry: {e}", row.idx),
        )
    })?;
    let payload = match &entry.payload {
        Payload::Inline(value) => value.clone(),
        Payload::Blob { sha256, bytes } => {
            let blob = db
                .blob(sha256)
                .map_err(|e| {
                    problem(
                        row.idx,
                        format!("reading the blob of entry {} failed: {e}", row.idx),
                    )
                })?
                .ok_or_else(|| {
                    problem(
                        row.idx,
                        format!("the payload blob of entry {} is missing", row.idx),
                    )
                })?;
            if content_hash(&blob) != *sha256 || blob.len() as u64 != *bytes {
                return Err(problem(
                    row.idx,
                    format!("the payload blob of entry {} was altered", row.idx),
                ));
            }
            serde_json::from_slice(&blob).map_err(|_| {
                problem(
                    row.idx,
                    format!("the payload blob of entry {} is not JSON", row.idx),
                )
            })?
        }
    };
    Ok((entry, payload))
}

/// Verifies the whole ledger. `progress(done, total)` is called after each page of entries.
pub fn verify(
    store: &Store,
    origin: &str,
    verifier: &Verifier,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report> {
    let mut db = store.connect()?;
    let db = db.as_mut();
    let latest = db.latest_checkpoint()?;
    let tree_size = latest.as_ref().map_or(0, |c| c.size);

    let mut stored_nodes: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
    let mut after = (0u8, -1i64);
    loop {
        let page = db.nodes_after(after, ROW_PAGE)?;
        let Some(last) = page.last() else { break };
        after = (last.0, last.1 as i64);
        for (level, idx, hash) in page {
            stored_nodes.insert((level, idx), hash);
        }
    }

    let mut report = Report {
        entries: 0,
        checkpoints: 0,
        tree_size,
        root: Hash::empty(),
        problem: None,
    };
    let mut checkpoints: VecDeque<StoredCheckpoint> = VecDeque::new();
    let mut next_checkpoint_from = 0u64;
    let mut last_checked_size = 0u64;
    let mut frontier = Frontier::new();
    let mut expected: BTreeMap<&'static str, BTreeMap<i64, Vec<kiroku_domain::Value>>> =
        BTreeMap::new();
    let mut node_problems: Vec<Problem> = Vec::new();

    let found = 'scan: loop {
        let rows = db.entries(frontier.size(), ENTRY_PAGE)?;
        if rows.is_empty() {
            break 'scan None;
        }
        for row in &rows {
            let index = frontier.size();
            if row.idx != index {
                break 'scan Some(problem(
                    index,
                    format!(
                        "entry {index} is missing (the next stored entry is {})",
                        row.idx
                    ),
                ));
            }
            let leaf = leaf_hash(&row.body);
            if row.leaf_hash != leaf.0 {
                break 'scan Some(problem(
                    index,
                    format!(
                        "entry {index} was altered: its content does not match its stored hash"
                    ),
                ));
            }
            let (entry, payload) = match resolve(db, row) {
                Ok(resolved) => resolved,
                Err(p) => break 'scan Some(p),
            };
            match project(EntryIndex(index), &entry, &payload) {
                Ok(changes) => record(&mut expected, changes),
                Err(e) => {
                    break 'scan Some(problem(
                        index,
                        format!("entry {index} cannot be projected: {e}"),
                    ))
                }
            }
            frontier.push(leaf, |done| {
                if done.height == 0 || done.height % TILE_HEIGHT != 0 {
                    return;
                }
                let level = done.height / TILE_HEIGHT;
                let first = done.index << done.height;
                match stored_nodes.remove(&(level, done.index)) {
                    Some(stored) if stored == done.hash.0 => {}
                    Some(_) => node_problems.push(problem(
                        first,
                        format!(
                            "tree node {level}/{} (entries from {first}) was altered",
                            done.index
                        ),
                    )),
                    None => node_problems.push(problem(
                        first,
                        format!(
                            "tree node {level}/{} (entries from {first}) is missing",
                            done.index
                        ),
                    )),
                }
            });
            if let Some(p) = node_problems.first() {
                break 'scan Some(p.clone());
            }
            // Check every checkpoint whose size this entry completes.
            loop {
                if checkpoints.is_empty() {
                    let page = db.checkpoints(next_checkpoint_from, ROW_PAGE)?;
                    if let Some(last) = page.last() {
                        next_checkpoint_from = last.size + 1;
                    }
                    checkpoints.extend(page);
                }
                let Some(next) = checkpoints.front() else {
                    break;
                };
                if next.size > frontier.size() {
                    break;
                }
                if let Err(p) =
                    check_checkpoint(next, &frontier, origin, verifier, last_checked_size)
                {
                    break 'scan Some(p);
                }
                last_checked_size = next.size;
                report.checkpoints += 1;
                checkpoints.pop_front();
            }
        }
        report.entries = frontier.size();
        progress(report.entries, tree_size.max(report.entries));
    };
    report.entries = frontier.size();
    report.root = frontier.root();
    if let Some(p) = found {
        report.problem = Some(p);
        return Ok(report);
    }
    if checkpoints.is_empty() {
        checkpoints.extend(db.checkpoints(next_checkpoint_from, 1)?);
    }
    if let Some(next) = checkpoints.front() {
        let index = frontier.size();
        report.problem = Some(problem(
            index,
            format!(
                "entry {index} is missing: the signed checkpoint at size {} covers it",
                next.size
            ),
        ));
        return Ok(report);
    }
    if frontier.size() > last_checked_size {
        report.problem = Some(problem(
            last_checked_size,
            format!(
                "entry {last_checked_size} is not covered by any signed checkpoint (inserted behind the writer's back)"
            ),
        ));
        return Ok(report);
    }
    if let Some(((level, idx), _)) = stored_nodes.iter().min() {
        report.problem = Some(problem(
            None,
            format!("tree node {level}/{idx} is stored but lies beyond the tree"),
        ));
        return Ok(report);
    }
    report.problem = compare_projections(db, &expected)?;
    Ok(report)
}

fn check_checkpoint(
    stored: &StoredCheckpoint,
    frontier: &Frontier,
    origin: &str,
    verifier: &Verifier,
    previous: u64,
) -> Result<(), Problem> {
    let size = stored.size;
    let range = || {
        if previous + 1 == size {
            format!("entry {previous}")
        } else {
            format!("entries {previous}..{}", size.saturating_sub(1))
        }
    };
    let root = frontier.root();
    let signed = Checkpoint::open(&stored.note, origin, verifier).map_err(|e| {
        problem(
            previous,
            format!("the checkpoint at size {size} does not verify: {e}"),
        )
    })?;
    if signed.size != size {
        return Err(problem(
            previous,
            format!(
                "the checkpoint stored at size {size} is signed for size {}",
                signed.size
            ),
        ));
    }
    if signed.root != root || stored.root != root.0 {
        return Err(problem(
            previous,
            format!(
                "{} do not match the signed checkpoint at size {size}: an entry was altered, removed, inserted or reordered",
                range()
            ),
        ));
    }
    Ok(())
}

type Expected = BTreeMap<&'static str, BTreeMap<i64, Vec<kiroku_domain::Value>>>;

fn record(expected: &mut Expected, changes: Vec<Change>) {
    for change in changes {
        let key = match change.row.first() {
            Some(kiroku_domain::Value::Int(k)) => *k,
            _ => continue,
        };
        expected
            .entry(change.table.name)
            .or_default()
            .insert(key, change.row);
    }
}

fn compare_projections(db: &mut dyn Db, expected: &Expected) -> Result<Option<Problem>> {
    let empty = BTreeMap::new();
    for table in TABLES {
        let want = expected.get(table.name).unwrap_or(&empty);
        let mut want_iter = want.iter();
        let mut after = None;
        loop {
            let rows = db.rows(
                table,
                Page {
                    after,
                    limit: ROW_PAGE,
                    descending: false,
                },
            )?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let key = match row.first() {
                    Some(kiroku_domain::Value::Int(k)) => *k,
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "{} has a non-integer key",
                            table.name
                        )))
                    }
                };
                after = Some(key);
                match want_iter.next() {
                    Some((want_key, want_row)) if *want_key == key && want_row == row => {}
                    Some((want_key, _)) if *want_key < key => {
                        return Ok(Some(problem(
                            *want_key as u64,
                            format!(
                                "projection {} lacks the row of entry {want_key}",
                                table.name
                            ),
                        )))
                    }
                    _ => {
                        return Ok(Some(problem(
                            key as u64,
                            format!(
                                "projection {} row {key} differs from the ledger's replay",
                                table.name
                            ),
                        )))
                    }
                }
            }
        }
        if let Some((want_key, _)) = want_iter.next() {
            return Ok(Some(problem(
                *want_key as u64,
                format!(
                    "projection {} lacks the row of entry {want_key}",
                    table.name
                ),
            )));
        }
    }
    Ok(None)
}

/// Replays the ledger into fresh projection tables, under the append lock so no append can
/// slip between the replay and the swap. Returns the number of entries replayed.
pub fn rebuild_projections(store: &Store) -> Result<u64> {
    let mut db = store.connect()?;
    let db = db.as_mut();
    let size = db.begin_append()?;
    let result = (|| -> Result<u64> {
        let mut changes = Vec::new();
        let mut next = 0u64;
        while next < size {
            let rows = db.entries(next, ENTRY_PAGE.min(size - next))?;
            if rows.is_empty() {
                return Err(StoreError::Corrupt(format!("entry {next} is missing")));
            }
            for row in &rows {
                if row.idx != next {
                    return Err(StoreError::Corrupt(format!("entry {next} is missing")));
                }
                let (entry, payload) = resolve(db, row).map_err(|p| StoreError::Corrupt(p.what))?;
                changes.extend(project(EntryIndex(row.idx), &entry, &payload)?);
                next += 1;
            }
        }
        db.replace_projection(TABLES, &changes)?;
        db.commit()?;
        Ok(size)
    })();
    if result.is_err() {
        db.rollback();
    }
    result
}
