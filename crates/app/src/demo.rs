//! Demo data: synthetic operators' notes — tagged, one amended, one withdrawn — so a new user
//! sees a living ledger. Generated here, never taken from real records.

use crate::{App, Result};
use kiroku_core::Actor;

/// The notes the demo writes (synthetic operations records, 運用記録), with their tags.
pub const DEMO_NOTES: &[(&str, &[&str])] = &[
    (
        "デモ: バックアップテープ5を遠隔地保管庫へ搬出 / demo: backup tape 5 moved off-site",
        &["バックアップ", "backup"],
    ),
    (
        "デモ: 電子カルテサーバーのOSセキュリティ更新を適用 / demo: OS security updates applied to the EMR server",
        &["更新", "update"],
    ),
    (
        "デモ: 年次監査計画を運用責任者が受領 / demo: annual audit plan received by the operations manager",
        &["監査", "audit"],
    ),
    (
        "デモ: 停電訓練で参照用端末の起動を確認 / demo: downtime drill confirmed the read-only viewer starts",
        &["訓練", "drill"],
    ),
    (
        "デモ: 安全操作研修（第1回）を実施 / demo: safe-operation training session 1 held",
        &["研修", "training"],
    ),
];

/// Writes the demo notes, amends the first and withdraws the fourth; returns how many entries
/// were written.
pub async fn seed(app: &App) -> Result<u64> {
    let actor = Actor::operator("demo");
    let mut notes = Vec::new();
    for (text, tags) in DEMO_NOTES {
        let tags = tags.iter().map(|t| (*t).to_owned()).collect();
        notes.push(app.write_note(actor.clone(), text, tags, None).await?.note);
    }
    let mut written = notes.len() as u64;
    if let (Some(first), Some(fourth)) = (notes.first(), notes.get(3)) {
        app.amend_note(
            actor.clone(),
            *first,
            1,
            "デモ: バックアップテープ5と6を遠隔地保管庫へ搬出 / demo: backup tapes 5 and 6 moved off-site",
            vec!["バックアップ".into(), "backup".into(), "tape".into()],
            "デモ: テープ6の記載漏れ / demo: tape 6 was left out",
        )
        .await?;
        app.withdraw_note(
            actor,
            *fourth,
            1,
            "デモ: 訓練は延期され、実施されなかった / demo: the drill was postponed and not held",
        )
        .await?;
        written += 2;
    }
    Ok(written)
}
