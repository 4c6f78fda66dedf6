//! Web pages. The status page: the log's origin, tree size, latest checkpoint and when it was
//! signed, the last verification and its result, and the verifier key.

use super::{blocking, AppState};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::pages::{esc, layout, page};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use kiroku_domain::projection::{Value, VERIFICATIONS};
use kiroku_store::{read, Page};

pub(super) async fn status(
    State(state): State<AppState>,
    lang: Lang,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let store = state.store.clone();
    let (latest, verification) = blocking(move || {
        let latest = read::latest_checkpoint(&store)?;
        let last = read::rows(
            &store,
            &VERIFICATIONS,
            Page {
                after: None,
                limit: 1,
                descending: true,
            },
        )?;
        Ok((latest, last.into_iter().next()))
    })
    .await?;
    let t = |ja, en| lang.pick(ja, en);
    let (size, signed_at) = match &latest {
        Some(c) => (c.size.to_string(), esc(&c.created_at)),
        None => ("0".into(), t("なし", "none").into()),
    };
    let verification_html = match verification.as_deref() {
        Some(
            [Value::Int(index), Value::Text(time), Value::Text(outcome), Value::Int(tree_size), detail],
        ) => {
            let (class, label) = if outcome == "intact" {
                ("ok", t("改ざんなし（完全）", "Intact"))
            } else {
                ("bad", t("異常あり", "Problem found"))
            };
            let detail = match detail {
                Value::Text(d) => format!("<br><span class=\"muted\">{}</span>", esc(d)),
                _ => String::new(),
            };
            format!(
                r#"<span id="verification-outcome" class="{class}">{label}</span> — {at} <span class="mono">{time}</span>, {checked} {tree_size} {entries} ({recorded} #{index}){detail}"#,
                at = t("実施", "at"),
                time = esc(time),
                checked = t("対象", "covering"),
                entries = t("件", "entries"),
                recorded = t("台帳エントリ", "ledger entry"),
            )
        }
        _ => format!(
            r#"<span id="verification-outcome" class="muted">{}</span>"#,
            t(
                "まだ検証されていません（kiroku verify で実施）",
                "Not verified yet (run kiroku verify)"
            )
        ),
    };
    let body = format!(
        r#"<table class="facts">
<tr><th>{origin_label}</th><td id="origin" class="mono">{origin}</td></tr>
<tr><th>{size_label}</th><td id="tree-size">{size}</td></tr>
<tr><th>{signed_label}</th><td id="checkpoint-time" class="mono">{signed_at}</td></tr>
<tr><th>{verify_label}</th><td>{verification_html}</td></tr>
<tr><th>{key_label}</th><td class="mono">{key}</td></tr>
</table>
<p class="muted">{explain}</p>"#,
        origin_label = t("台帳の識別名（origin）", "Origin"),
        origin = esc(&state.origin),
        size_label = t("記録件数（木の大きさ）", "Tree size (entries)"),
        signed_label = t("最新チェックポイントの署名時刻", "Latest checkpoint signed at"),
        verify_label = t("最新の検証結果", "Last verification"),
        key_label = t("検証鍵", "Verifier key"),
        key = esc(&state.verifier_key),
        explain = t(
            "すべての変更と閲覧は署名付きの Merkle 木台帳に記録されます。チェックポイント・検証鍵・ハッシュタイルは /ledger/ から誰でも取得でき、外部の道具で検証できます。",
            "Every change and every read is an entry in a signed Merkle-tree ledger. Checkpoints, the verifier key and hash tiles are public under /ledger/ and can be checked with standard tools."
        ),
    );
    let set_cookie = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("lang=")));
    Ok(page(
        lang,
        set_cookie,
        layout(lang, t("台帳の状態", "Ledger status"), "/", &body),
    ))
}
