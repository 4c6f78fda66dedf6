//! Every error the server answers, once: its stable code, HTTP status, and message in Japanese
//! and English. Messages may hold `{placeholders}` filled per error (names and numbers, never
//! entry content). A test holds the catalogue to its rules: codes unique, every Japanese text
//! Japanese, every English text ASCII, and both languages with the same placeholders.

use axum::http::StatusCode;

macro_rules! catalogue {
    ($($name:ident = $code:literal, $status:ident, $ja:literal, $en:literal;)*) => {
        /// A catalogued error.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code {
            $(
                #[doc = $en]
                $name,
            )*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The stable machine-readable code.
            pub fn code(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            /// The HTTP status.
            pub fn status(self) -> StatusCode {
                match self { $(Code::$name => StatusCode::$status,)* }
            }

            /// The Japanese text (with placeholders).
            pub fn ja(self) -> &'static str {
                match self { $(Code::$name => $ja,)* }
            }

            /// The English text (with placeholders).
            pub fn en(self) -> &'static str {
                match self { $(Code::$name => $en,)* }
            }
        }
    };
}

catalogue! {
    NotFound = "not_found", NOT_FOUND,
        "指定されたページまたはリソースは存在しません。",
        "The page or resource does not exist.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED,
        "このアドレスはその HTTP メソッドを受け付けません。",
        "This address does not accept that HTTP method.";
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE,
        "リクエストの本文が大きすぎます。何も記録されていません。",
        "The request body is too large. Nothing was recorded.";
    Unauthorized = "unauthorized", UNAUTHORIZED,
        "運用担当者トークンが必要です（Authorization: Bearer <トークン>、または画面の入力欄）。",
        "An operator token is required (Authorization: Bearer <token>, or the field on the page).";
    NotJson = "not_json", UNSUPPORTED_MEDIA_TYPE,
        "本文は JSON（Content-Type: application/json）で送ってください。",
        "Send the body as JSON (Content-Type: application/json).";
    BadJson = "bad_json", BAD_REQUEST,
        "本文を解釈できません。JSON の書式、項目名と型を確認してください。",
        "The body cannot be parsed. Check the JSON syntax, the field names and their types.";
    BadForm = "bad_form", BAD_REQUEST,
        "フォームの内容を解釈できません。画面を読み込み直して、もう一度お試しください。",
        "The form cannot be read. Reload the page and try again.";
    BadQuery = "bad_query", BAD_REQUEST,
        "クエリ文字列を解釈できません。",
        "The query string cannot be parsed.";
    MissingParameter = "missing_parameter", BAD_REQUEST,
        "パラメータ {name} が必要です。",
        "The parameter {name} is required.";
    BadParameter = "bad_parameter", BAD_REQUEST,
        "パラメータ {name} は 0 以上の整数で指定してください。",
        "The parameter {name} must be a whole number, 0 or more.";
    BadTilePath = "bad_tile_path", BAD_REQUEST,
        "タイルのパスが不正です。形式は tile/<レベル>/<番号>[.p/<幅>] です（例: tile/0/x001/234.p/8）。",
        "Malformed tile path. The form is tile/<level>/<index>[.p/<width>] (e.g. tile/0/x001/234.p/8).";
    BadInclusionRange = "bad_range", BAD_REQUEST,
        "index は size より小さく、size は 1 以上でなければなりません。",
        "index must be less than size, and size at least 1.";
    BadConsistencyRange = "bad_consistency_range", BAD_REQUEST,
        "old は 1 以上 new 以下でなければなりません。",
        "old must be at least 1 and at most new.";
    BeyondTree = "beyond_tree", NOT_FOUND,
        "要求された範囲は署名済みの木（大きさ {size}）の外にあります。",
        "What was asked lies outside the signed tree (size {size}).";
    NoCheckpoint = "no_checkpoint", NOT_FOUND,
        "台帳にはまだチェックポイントがありません。",
        "The ledger has no checkpoint yet.";
    EntriesNotPublic = "entries_not_public", FORBIDDEN,
        "エントリ本体は公開されていません。患者を特定し得る内容を含むため、監査担当者のみが閲覧できます。",
        "Entry bundles are not public: entries may name patients, and only auditors may read them.";
    NoteMissing = "note_missing", UNPROCESSABLE_ENTITY,
        "text（記録する文）を指定してください。",
        "Give the text of the note.";
    NoteEmpty = "note_empty", UNPROCESSABLE_ENTITY,
        "記録する文が空です。",
        "The note is empty.";
    NoteTooLong = "note_too_long", UNPROCESSABLE_ENTITY,
        "記録する文は 4000 文字以内にしてください。",
        "The note must be at most 4000 characters.";
    NoteControl = "note_control_characters", UNPROCESSABLE_ENTITY,
        "記録する文に制御文字を含めることはできません（改行とタブは可）。",
        "The note may not hold control characters (newlines and tabs are fine).";
    BadTag = "bad_tag", UNPROCESSABLE_ENTITY,
        "タグは 1〜32 文字で、空白・カンマ・読点・制御文字を含めないでください。",
        "A tag is 1 to 32 characters without spaces, commas or control characters.";
    TooManyTags = "too_many_tags", UNPROCESSABLE_ENTITY,
        "タグは 1 件のメモにつき 8 個までで、同じタグは 1 回だけです。",
        "A note has at most 8 tags, each once.";
    BadIdempotencyKey = "bad_idempotency_key", UNPROCESSABLE_ENTITY,
        "Idempotency-Key は 1〜128 文字の英数字と . _ : - で指定してください。",
        "An Idempotency-Key is 1 to 128 characters of letters, digits, . _ : and -.";
    IdempotencyKeyReused = "idempotency_key_reused", CONFLICT,
        "この Idempotency-Key は別の内容のメモ（#{note}）に使われています。何も記録されていません。",
        "This Idempotency-Key was used for a note with other content (#{note}). Nothing was recorded.";
    ReasonRequired = "reason_required", UNPROCESSABLE_ENTITY,
        "訂正・取り下げの理由を 2048 バイト以内で入力してください（制御文字は不可）。",
        "Give the reason for the correction or withdrawal, at most 2048 bytes, without control characters.";
    NoSuchNote = "no_such_note", NOT_FOUND,
        "運用記録 #{note} はありません。",
        "There is no operator note #{note}.";
    StaleVersion = "stale_version", CONFLICT,
        "運用記録は既に更新されています（あなたが見た版: {expected}、現在の版: {current}）。最新の内容を確認してから、もう一度操作してください。何も記録されていません。",
        "The note has changed since you read it (you saw version {expected}; it is at version {current}). Check the latest text and try again. Nothing was recorded.";
    NoteWithdrawn = "note_withdrawn", CONFLICT,
        "この運用記録は取り下げられているため、変更できません。",
        "This note was withdrawn and cannot be changed.";
    NoteUnchanged = "note_unchanged", UNPROCESSABLE_ENTITY,
        "本文もタグも変わっていません。訂正は記録されていません。",
        "Neither the text nor the tags changed. No correction was recorded.";
    Conflict = "conflict", CONFLICT,
        "同時に行われた別の操作と競合しました（{detail}）。最新の状態を確認して、もう一度お試しください。何も記録されていません。",
        "Another change was made at the same time ({detail}). Check the latest state and try again. Nothing was recorded.";
    BadVersion = "bad_version", BAD_REQUEST,
        "version（あなたが見た版）を 1 以上の整数で指定してください。",
        "Give version (the version you saw) as a whole number, 1 or more.";
    BadTime = "bad_time", BAD_REQUEST,
        "日時は 2026-11-25 10:00（日本時間）または 2026-11-25T10:00:00+09:00 の形で指定してください。",
        "Give the time as 2026-11-25 10:00 (Japan time) or 2026-11-25T10:00:00+09:00.";
    InvalidEntry = "invalid_entry", BAD_REQUEST,
        "記録できない内容です（{detail}）。何も記録されていません。",
        "The entry was refused ({detail}). Nothing was recorded.";
    Corrupt = "corrupt", INTERNAL_SERVER_ERROR,
        "保存されたデータに不整合が見つかりました。システム管理者に連絡してください（kiroku verify で確認できます）。",
        "Stored data is inconsistent. Contact the system administrator (kiroku verify shows where).";
    Internal = "internal", INTERNAL_SERVER_ERROR,
        "サーバー内部でエラーが発生しました。記録済みです。時間をおいて再度お試しください。",
        "An internal error occurred and has been logged. Please try again later.";
    Unavailable = "unavailable", SERVICE_UNAVAILABLE,
        "台帳が一時的に利用できません。何も記録されていません。時間をおいて再度お試しください。",
        "The ledger is temporarily unavailable. Nothing was recorded. Please try again later.";
    SignInRequired = "sign_in_required", UNAUTHORIZED,
        "サインインしてください（セッションが切れたか、利用が停止されています）。",
        "Please sign in (the session has ended, or the account can no longer be used).";
    CsrfMismatch = "csrf_mismatch", FORBIDDEN,
        "フォームの有効期限が切れています。画面を読み込み直して、もう一度操作してください。何も記録されていません。",
        "The form has expired. Reload the page and try again. Nothing was recorded.";
    PasswordChangeRequired = "password_change_required", FORBIDDEN,
        "先にご自身のパスワードを設定してください（/me/password）。",
        "Choose your own password first (/me/password).";
    PasswordsDiffer = "passwords_differ", UNPROCESSABLE_ENTITY,
        "確認用に入力した新しいパスワードが一致しません。何も記録されていません。",
        "The new password and its confirmation differ. Nothing was recorded.";
    RegistersRestricted = "registers_restricted", FORBIDDEN,
        "利用者の台帳を見るには、管理・監視・監査の役割が必要です。ご自身の情報は「マイアカウント」で確認できます。",
        "Reading the account registers needs an administrative, monitoring or audit role. Your own account is under My account.";
    SecondFactorRequired = "second_factor_required", FORBIDDEN,
        "サインインが完了していません（確認コードの入力、または二要素認証の登録が必要です）。",
        "Signing in is not complete: give your sign-in code, or enrol a second factor, first.";
    SecondFactorFailed = "second_factor_failed", UNAUTHORIZED,
        "確認コードが違います。認証アプリに表示されている 6 桁の数字を入力してください（一度使ったコードは使えません）。",
        "The code is wrong. Type the six digits your authenticator app shows now (a code works once).";
    NoFactorOffered = "no_factor_offered", CONFLICT,
        "登録する秘密鍵がまだ表示されていません。二要素認証の登録画面を開き直してください。何も記録されていません。",
        "No secret has been shown to enrol yet. Open the two-factor page again. Nothing was recorded.";
    PasskeysUnavailable = "passkeys_unavailable", CONFLICT,
        "このサーバーではパスキーを使えません（公開 URL（public_url）が設定されていません）。システム管理者に連絡してください。",
        "Passkeys cannot be used on this server: its public URL (public_url) is not configured. Contact the system administrator.";
    PasskeysElsewhere = "passkeys_elsewhere", CONFLICT,
        "このアドレスではパスキーを使えません。{url} を開いて、もう一度お試しください。",
        "Passkeys do not work at this address. Open {url} and try again.";
    LastFactor = "last_factor", CONFLICT,
        "最後の二要素認証は削除できません。先に別のパスキーか認証アプリを登録してください。何も記録されていません。",
        "The last second factor cannot be removed. Register another passkey or an authenticator app first. Nothing was recorded.";
    NoPasskeyChallenge = "no_passkey_challenge", CONFLICT,
        "パスキーの確認の有効期限（5 分）が切れたか、すでに使われました。もう一度お試しください。何も記録されていません。",
        "The passkey request expired (after five minutes) or was already answered. Try again. Nothing was recorded.";
    PasskeyRefused = "passkey_refused", UNPROCESSABLE_ENTITY,
        "認証器の応答を確認できませんでした。もう一度お試しください。何も記録されていません。",
        "The authenticator's answer could not be checked. Try again. Nothing was recorded.";
    PasskeyWrongSite = "passkey_wrong_site", UNPROCESSABLE_ENTITY,
        "パスキーがこのサーバーのアドレスで作られていません。ブラウザーのアドレス欄がこのサーバーの正しいアドレスか確かめてください。何も記録されていません。",
        "The passkey was not made at this server's address. Check that the browser's address bar shows this server's address. Nothing was recorded.";
    PasskeyUnsupported = "passkey_unsupported", UNPROCESSABLE_ENTITY,
        "この認証器の鍵の種類には対応していません（ES256 に対応した認証器をお使いください）。何も記録されていません。",
        "This authenticator's kind of key is not supported (use one that offers ES256). Nothing was recorded.";
    NoPasskey = "no_passkey", CONFLICT,
        "このアカウントにはパスキーが登録されていません。確認コードでサインインしてください。",
        "This account has no passkey. Sign in with a code.";
    PasskeyFailed = "passkey_failed", UNAUTHORIZED,
        "パスキーを確認できませんでした。このアカウントに登録したパスキーで、もう一度お試しください。",
        "The passkey could not be verified. Try again with a passkey registered to this account.";
    PasskeyLabel = "passkey_label", UNPROCESSABLE_ENTITY,
        "パスキーの名前を 1〜64 文字で入力してください（改行などの制御文字は使えません）。何も記録されていません。",
        "Give the passkey a name of 1 to 64 characters, without control characters. Nothing was recorded.";
    TooManyPasskeys = "too_many_passkeys", CONFLICT,
        "パスキーは 1 アカウントに {max} 個まで登録できます。使わないものを削除してから登録してください。何も記録されていません。",
        "An account may register at most {max} passkeys. Remove one you no longer use first. Nothing was recorded.";
    PasskeyRegistered = "passkey_registered", CONFLICT,
        "このパスキーはすでに登録されています。何も記録されていません。",
        "This passkey is registered already. Nothing was recorded.";
    NoSuchPasskey = "no_such_passkey", NOT_FOUND,
        "そのパスキーはこのアカウントに登録されていません。何も記録されていません。",
        "No such passkey is registered to this account. Nothing was recorded.";
    ClientAuthFailed = "invalid_client", UNAUTHORIZED,
        "クライアント ID、クライアントシークレットまたは署名付きアサーションが違います。",
        "The client id, client secret or signed client assertion is wrong.";
    ScopeNotGranted = "invalid_scope", BAD_REQUEST,
        "要求されたスコープはこのクライアントに許可されていません（許可できるのは clinical.read と clinical.write です）。何も記録されていません。",
        "A scope asked for is not granted to this client (the scopes are clinical.read and clinical.write). Nothing was recorded.";
    GrantTypeUnsupported = "unsupported_grant_type", BAD_REQUEST,
        "grant_type は client_credentials だけを受け付けます。",
        "The only grant_type accepted is client_credentials.";
    NoSuchClient = "no_such_client", NOT_FOUND,
        "システムクライアント {client} は存在しません。",
        "There is no system client {client}.";
    NoSuchToken = "no_such_token", NOT_FOUND,
        "そのトークンは存在しないか、すでに失効しています。何も記録されていません。",
        "That token does not exist or is already revoked. Nothing was recorded.";
    NoSuchReport = "no_such_report", NOT_FOUND,
        "届出 {report} は存在しません。",
        "There is no report {report}.";
    NoSuchReview = "no_such_review", NOT_FOUND,
        "利用者の見直し {review} は存在しません。",
        "There is no access review {review}.";
    SignInFailed = "sign_in_failed", UNAUTHORIZED,
        "利用者 ID またはパスワードが違います。",
        "The account id or the password is wrong.";
    TooManyAttempts = "too_many_attempts", TOO_MANY_REQUESTS,
        "この端末からのサインイン（認証）の失敗が多すぎます。{seconds} 秒後に再度お試しください。",
        "Too many failed sign-ins (authentications) from this address. Please try again in {seconds} seconds.";
    AccountLocked = "account_locked", TOO_MANY_REQUESTS,
        "サインインの失敗が続いたため、{until} までこの利用者 ID はロックされています。",
        "After repeated failed sign-ins this account is locked until {until}.";
    AccountInactive = "account_inactive", FORBIDDEN,
        "この利用者 ID は利用停止中か、利用期間外です。システム管理者に連絡してください。",
        "This account is suspended or outside its validity period. Contact the system administrator.";
    PasswordRejected = "password_rejected", UNPROCESSABLE_ENTITY,
        "新しいパスワードは使えません（{why}）。英字・数字・記号を混在させた 13 文字以上で、よく使われるものや利用者 ID・氏名を含むもの、最近使ったものは使えません。何も記録されていません。",
        "The new password cannot be used ({why}). Use 13 or more characters mixing letters, digits and symbols; common passwords, your id or name, and recent passwords are refused. Nothing was recorded.";
    InvalidField = "invalid_field", BAD_REQUEST,
        "項目 {field} の値が正しくありません（{why}）。何も記録されていません。",
        "The field {field} is not valid: it {why}. Nothing was recorded.";
    NotPermitted = "not_permitted", FORBIDDEN,
        "この操作には、本日有効な「{role}」の役割が必要です。何も記録されていません。",
        "This needs the role {role}, held today. Nothing was recorded.";
    SeparationOfDuties = "separation_of_duties", FORBIDDEN,
        "職務分掌の規程により、この操作はできません（{detail}）。何も記録されていません。",
        "Separation of duties forbids this ({detail}). Nothing was recorded.";
    UnknownCode = "unknown_code", UNPROCESSABLE_ENTITY,
        "{what} のコード {code} は登録されていないか、使用停止です。何も記録されていません。",
        "The {what} code {code} is not defined or is retired. Nothing was recorded.";
    NoSuchAccount = "no_such_account", NOT_FOUND,
        "利用者 ID {account} はありません。",
        "There is no account {account}.";
    AccountTaken = "account_taken", CONFLICT,
        "利用者 ID {account} は既に使われているか、予約されています。別の ID を指定してください。何も記録されていません。",
        "The account id {account} is taken or reserved. Choose another. Nothing was recorded.";
    NoSuchApplication = "no_such_application", NOT_FOUND,
        "利用申請 #{application} はありません。",
        "There is no ID application #{application}.";
    StaleRecord = "stale", CONFLICT,
        "対象は既に更新されています（あなたが見た版: {expected}、現在の版: {current}）。最新の状態を確認してから、もう一度操作してください。何も記録されていません。",
        "It has changed since you read it (you saw version {expected}; it is at version {current}). Check the latest state and try again. Nothing was recorded.";
    WrongState = "wrong_state", CONFLICT,
        "現在の状態（{state}）では、この操作（{step}）はできません。何も記録されていません。",
        "This cannot be done ({step}) in the present state ({state}). Nothing was recorded.";
    RoleAlreadyHeld = "role_already_held", CONFLICT,
        "その役割は既に任命されています。何も記録されていません。",
        "The role is already held. Nothing was recorded.";
    RoleNotHeld = "role_not_held", CONFLICT,
        "その役割は任命されていません。何も記録されていません。",
        "The role is not held. Nothing was recorded.";
    ConflictingRoles = "conflicting_roles", CONFLICT,
        "「{held}」と「{wanted}」は兼任できません（監査する者は管理・運用を兼ねない）。何も記録されていません。",
        "The roles {held} and {wanted} may not be held together (whoever audits does not administer). Nothing was recorded.";
    ReasonMissing = "reason_missing", UNPROCESSABLE_ENTITY,
        "理由を 2048 バイト以内で入力してください（制御文字は不可）。何も記録されていません。",
        "Give the reason, at most 2048 bytes, without control characters. Nothing was recorded.";
    PolicyDenied = "policy_denied", FORBIDDEN,
        "現在のアクセス方針では、この操作（{action}）は許可されていません。何も記録されていません。",
        "The access policy in force does not permit this ({action}). Nothing was recorded.";
    PolicyInvalid = "policy_invalid", UNPROCESSABLE_ENTITY,
        "アクセス方針の案に誤りがあるため保存しません: {detail}",
        "The draft policy has errors and was not saved: {detail}";
    PolicyLocksOut = "policy_locks_out", UNPROCESSABLE_ENTITY,
        "この案ではシステム管理責任者が方針を変更できなくなる（{action} が拒否される）ため、保存しません。",
        "Under this draft no system administrator could change the policy again ({action} would be denied); it was not saved.";
    PolicySuperseded = "policy_superseded", CONFLICT,
        "版 {version} は版 {based_on} をもとに作られましたが、現在有効なのは版 {in_force} です。最新の版をもとに作り直してください。何も記録されていません。",
        "Version {version} was drafted on version {based_on}, but version {in_force} is in force now; draft it again. Nothing was recorded.";
    NoSuchPolicyVersion = "no_such_policy_version", NOT_FOUND,
        "アクセス方針の版 {version} はありません。",
        "There is no policy version {version}.";
    NoPolicyInForce = "no_policy_in_force", NOT_FOUND,
        "その時点で有効なアクセス方針はありません（データディレクトリ作成前です）。",
        "No policy was in force at that time (it is before the data directory was made).";
    ResourceNotJson = "resource_not_json", BAD_REQUEST,
        "本文が JSON として読めません（{offset} バイト目）。何も記録されていません。",
        "The body is not valid JSON (at byte {offset}). Nothing was recorded.";
    ResourceDuplicateName = "resource_duplicate_name", BAD_REQUEST,
        "一つのオブジェクトに同じ要素名が二度あります（{offset} バイト目）。FHIR では許されません。何も記録されていません。",
        "An object names a member twice (at byte {offset}), which FHIR does not allow. Nothing was recorded.";
    ResourceTooDeep = "resource_too_deep", BAD_REQUEST,
        "入れ子が深すぎます（{offset} バイト目）。何も記録されていません。",
        "The body is nested too deeply (at byte {offset}). Nothing was recorded.";
    ResourceNotObject = "resource_not_object", BAD_REQUEST,
        "リソースは JSON オブジェクトで送ってください。何も記録されていません。",
        "A resource is a JSON object. Nothing was recorded.";
    ResourceNoType = "resource_no_type", BAD_REQUEST,
        "resourceType がありません。何も記録されていません。",
        "The resource has no resourceType. Nothing was recorded.";
    ResourceUnknownType = "resource_unknown_type", BAD_REQUEST,
        "このサーバーはその resourceType のリソースを保管しません。何も記録されていません。",
        "This server does not keep resources of that resourceType. Nothing was recorded.";
    ResourceWrongType = "resource_wrong_type", BAD_REQUEST,
        "resourceType が URL のリソース型と一致しません。何も記録されていません。",
        "The resourceType does not match the resource type in the URL. Nothing was recorded.";
    ResourceBadId = "resource_bad_id", BAD_REQUEST,
        "id は英数字・「-」・「.」の 1～64 文字です。何も記録されていません。",
        "An id is 1 to 64 letters, digits, '-' and '.'. Nothing was recorded.";
    ResourceBadMeta = "resource_bad_meta", BAD_REQUEST,
        "meta はオブジェクトで送ってください。何も記録されていません。",
        "The meta element must be an object. Nothing was recorded.";
    ResourceControlCharacter = "resource_control_character", UNPROCESSABLE_ENTITY,
        "文字列に使えない制御文字が含まれています（使えるのはタブ・改行・復帰のみ）。何も記録されていません。",
        "A string holds a control character FHIR does not allow (only tab, line feed and carriage return are). Nothing was recorded.";
    ResourceIdMismatch = "resource_id_mismatch", BAD_REQUEST,
        "本文の id が URL の id と一致しません。何も記録されていません。",
        "The id in the body does not match the id in the URL. Nothing was recorded.";
    RecordReasonRequired = "record_reason_required", UNPROCESSABLE_ENTITY,
        "確定済みの版を訂正するには理由が必要です（X-Kiroku-Reason ヘッダー、または画面の入力欄）。何も記録されていません。",
        "Correcting a confirmed version needs a reason (the X-Kiroku-Reason header, or the field on the page). Nothing was recorded.";
    RecordNoPatient = "record_no_patient", UNPROCESSABLE_ENTITY,
        "{type} には患者への参照（subject・patient、Binary では securityContext の Patient/…。生データの送信では X-Security-Context ヘッダー）が必要です。何も記録されていません。",
        "A {type} must refer to its patient (subject or patient, or for a Binary securityContext: Patient/...; sent raw, the X-Security-Context header). Nothing was recorded.";
    NoSuchResourceType = "no_such_resource_type", NOT_FOUND,
        "このサーバーはその型のリソースを保管していません。",
        "This server keeps no resources of that type.";
    NoSuchResource = "no_such_resource", NOT_FOUND,
        "そのリソース（または版）はありません。",
        "There is no such resource (or version).";
    VersionMismatch = "version_mismatch", PRECONDITION_FAILED,
        "リソースは既に更新されています（あなたが見た版: {expected}、現在の版: {found}）。最新の版を読み直してから、もう一度操作してください。何も記録されていません。",
        "The resource has changed since you read it (you saw version {expected}; it is at version {found}). Read the latest version and try again. Nothing was recorded.";
    BadIfMatch = "bad_if_match", BAD_REQUEST,
        "If-Match は W/\"版番号\" の形で送ってください。何も記録されていません。",
        "Send If-Match as W/\"version\". Nothing was recorded.";
    IdentifierTaken = "identifier_taken", CONFLICT,
        "その識別子は別の患者に割り当てられています。何も記録されていません。",
        "Another patient holds that identifier. Nothing was recorded.";
    RecordDenied = "record_denied", FORBIDDEN,
        "現在のアクセス方針では、この記録への操作（{action}）は許可されていません。この試みは記録されました。",
        "The access policy in force does not permit this on the record ({action}). The attempt has been recorded.";
    NoCareRelationship = "record_no_care_relationship", FORBIDDEN,
        "この患者との診療上の関係（担当チーム・受診・診療科）がないため、この記録への操作（{action}）は許可されていません。この試みは記録されました。救急などでどうしても必要な場合は、理由を記して緊急時アクセスを行ってください（記録され、事後に審査されます）。",
        "You have no care relationship with this patient (care team, encounter or department), so the policy does not permit this on the record ({action}). The attempt has been recorded. If you must, open the record by emergency access (break-the-glass), stating a reason: it is recorded and reviewed.";
    EmergencyNotNeeded = "emergency_not_needed", CONFLICT,
        "この患者とは診療上の関係があるため、緊急時アクセスは不要です。何も記録されていません。",
        "You have a care relationship with this patient: no emergency access is needed. Nothing was recorded.";
    EmergencyReason = "emergency_reason", BAD_REQUEST,
        "緊急時アクセスの理由を1～500文字で記入してください（制御文字は使えません）。何も記録されていません。",
        "State the reason for emergency access in 1 to 500 characters (no control characters). Nothing was recorded.";
    EmergencyMinutes = "emergency_minutes", BAD_REQUEST,
        "緊急時アクセスの時間は1～60分で指定してください。何も記録されていません。",
        "An emergency access lasts 1 to 60 minutes. Nothing was recorded.";
    EmergencyNotWaiting = "emergency_not_waiting", NOT_FOUND,
        "その緊急時アクセスは審査待ちではありません（審査済みか、存在しません）。何も記録されていません。",
        "That emergency access is not waiting for review (it was reviewed, or does not exist). Nothing was recorded.";
    EmergencyOwnAccess = "emergency_own_access", FORBIDDEN,
        "自分の緊急時アクセスは審査できません。別の審査者に依頼してください。何も記録されていません。",
        "Nobody reviews their own emergency access: ask another reviewer. Nothing was recorded.";
    EmergencyNote = "emergency_note", BAD_REQUEST,
        "不適切とする場合は所見を記入してください（500文字まで、制御文字は使えません）。何も記録されていません。",
        "An unjustified finding needs a note (at most 500 characters, no control characters). Nothing was recorded.";
    SearchUnknownParameter = "search_unknown_parameter", BAD_REQUEST,
        "検索条件 {name} はこの型では使えません。",
        "The search parameter {name} is not supported for this type.";
    SearchBadValue = "search_bad_value", BAD_REQUEST,
        "検索条件 {name} の値が正しくありません。",
        "The value of the search parameter {name} cannot be used.";
    ConfirmNotLatest = "confirm_not_latest", CONFLICT,
        "確定できるのは最新の版だけです（最新は版 {latest}）。最新の版を確認してください。何も記録されていません。",
        "Only the latest version can be confirmed (the latest is version {latest}). Check it first. Nothing was recorded.";
    ConfirmNotDraft = "confirm_not_draft", CONFLICT,
        "この版は確定待ちではありません（確定済み、または確定の要らない種類です）。何も記録されていません。",
        "This version is not waiting for confirmation (it is confirmed, or of a kind that needs none). Nothing was recorded.";
    ConfirmTrainee = "confirm_trainee", FORBIDDEN,
        "研修医は確定できません。研修医の記載は指導医が承認（カウンターサイン）して確定します。この試みは記録されました。",
        "A trainee doctor does not confirm: a trainee's entries are countersigned by a supervising doctor. The attempt has been recorded.";
    SearchWithheld = "search_withheld", FORBIDDEN,
        "診療上の関係がないため、{count} 件の一致（VIP・職員などの記録）を表示していません。この検索は記録されました。必要な場合は緊急時アクセス（ブレークザグラス）を行ってください。",
        "{count} matches (restricted charts such as a VIP's or a staff member's) are not shown, for want of a care relationship. This search has been recorded. If you need them, use emergency access (break-the-glass).";
    AssignmentReason = "assignment_reason_required", UNPROCESSABLE_ENTITY,
        "担当の割り当てや患者フラグ（VIP・職員）を変える書き込みには理由が必要です（X-Kiroku-Reason、500 文字まで）。審査のため記録されます。何も記録されていません。",
        "A write that changes who takes part in a patient's care, or a chart's flags (VIP, staff), needs a reason (X-Kiroku-Reason, up to 500 characters); it is recorded for review. Nothing was recorded.";
    ConfirmNotDoctor = "confirm_not_doctor", FORBIDDEN,
        "研修医の記載を承認（カウンターサイン）できるのは医師だけです。この試みは記録されました。",
        "Only a doctor countersigns a trainee doctor's entries. The attempt has been recorded.";
    ConfirmNotSupervisor = "confirm_not_supervisor", FORBIDDEN,
        "この研修医の記載を承認（カウンターサイン）できるのは、割り当てられた指導医だけです。この試みは記録されました。",
        "Only the trainee's assigned supervisor countersigns this trainee's entries. The attempt has been recorded.";
    ConfirmNotResponsible = "confirm_not_responsible", FORBIDDEN,
        "この版は代行入力で、依頼した医師本人だけが確定できます。この試みは記録されました。",
        "This version is a proxy entry: only the clinician it was entered for can confirm it. The attempt has been recorded.";
    ProxyOneself = "proxy_oneself", UNPROCESSABLE_ENTITY,
        "代行入力は他の医師のために行うものです。自分の記録は通常どおり入力してください。何も記録されていません。",
        "A proxy entry is made for another clinician; enter your own records as usual. Nothing was recorded.";
    ProxyNoSuchClinician = "proxy_no_such_clinician", UNPROCESSABLE_ENTITY,
        "代行入力の依頼者（X-Kiroku-On-Behalf-Of、または画面の入力欄）が、有効な職員の利用者 ID ではありません。何も記録されていません。",
        "The clinician named for the proxy entry (X-Kiroku-On-Behalf-Of, or the field on the page) is not an active staff account. Nothing was recorded.";
    ProxyClinicianMayNotWrite = "proxy_clinician_not_allowed", UNPROCESSABLE_ENTITY,
        "代行入力の依頼者は、この記録を書くことを許可されていません（研修医、職種、または診療上の関係による）。何も記録されていません。",
        "The clinician named for the proxy entry may not write this record (a trainee, or by job type or care relationship). Nothing was recorded.";
    ProxyNotConfirmed = "proxy_not_confirmed", UNPROCESSABLE_ENTITY,
        "{type} は確定の要らない種類なので、代行入力はできません。ご自身の ID で入力してください。何も記録されていません。",
        "A {type} needs no confirmation, so it is not entered on anyone's behalf: enter it under your own ID. Nothing was recorded.";
    BadOnBehalfOf = "bad_on_behalf_of", BAD_REQUEST,
        "X-Kiroku-On-Behalf-Of には依頼した医師の利用者 ID を送ってください。何も記録されていません。",
        "Send the account id of the clinician you enter for in X-Kiroku-On-Behalf-Of. Nothing was recorded.";
    ClinicalNoteEmpty = "clinical_note_empty", UNPROCESSABLE_ENTITY,
        "記録の本文が空です。少なくとも一つの欄に記入してください。何も記録されていません。",
        "The note is empty: fill in at least one field. Nothing was recorded.";
    ClinicalNoteTooLong = "clinical_note_too_long", UNPROCESSABLE_ENTITY,
        "記録の欄が長すぎるか、使えない制御文字を含んでいます（1欄 {max} 文字まで）。何も記録されていません。",
        "A field of the note is too long or holds control characters (at most {max} characters a field). Nothing was recorded.";
    ClinicalNoteEncounter = "clinical_note_encounter", UNPROCESSABLE_ENTITY,
        "選んだ受診はこの患者のものではありません。何も記録されていません。",
        "The encounter chosen is not this patient's. Nothing was recorded.";
    NotANote = "not_a_note", UNPROCESSABLE_ENTITY,
        "この記録は記録画面で書く種類の文書ではないため、画面では訂正できません（FHIR API で訂正できます）。何も記録されていません。",
        "This record is not a note of the editor's kinds, so it is not corrected on these pages (the FHIR API corrects it). Nothing was recorded.";
    NothingSelected = "nothing_selected", UNPROCESSABLE_ENTITY,
        "確定する記録を一つ以上選んでください。何も記録されていません。",
        "Select at least one record to confirm. Nothing was recorded.";
    ResourceDeleted = "resource_deleted", GONE,
        "このリソースは削除されています（版 {version}）。記録は消去されておらず、以前の版は履歴（_history）から読めます。",
        "This resource was deleted (version {version}). Nothing was erased: its earlier versions are readable in its history (_history).";
    BinaryNoData = "binary_no_data", NOT_FOUND,
        "この Binary には内容（data）がありません。FHIR JSON（Accept: application/fhir+json）で読んでください。",
        "This Binary holds no data: read it as FHIR JSON (Accept: application/fhir+json).";
    TransactionNotTransaction = "transaction_not_transaction", BAD_REQUEST,
        "POST /fhir には type が transaction の Bundle を送ってください（batch には対応していません）。何も記録されていません。",
        "POST /fhir takes a Bundle of type transaction (batch is not supported). Nothing was recorded.";
    TransactionSize = "transaction_size", BAD_REQUEST,
        "トランザクションのエントリは 1～{max} 件にしてください。何も記録されていません。",
        "A transaction holds 1 to {max} entries. Nothing was recorded.";
    TransactionNoRequest = "transaction_no_request", BAD_REQUEST,
        "エントリには request.method と request.url が必要です。何も記録されていません。",
        "An entry needs request.method and request.url. Nothing was recorded.";
    TransactionNoResource = "transaction_no_resource", BAD_REQUEST,
        "エントリに resource がありません。何も記録されていません。",
        "The entry has no resource. Nothing was recorded.";
    TransactionMethod = "transaction_method", BAD_REQUEST,
        "トランザクションで使えるのは POST（作成）と PUT（更新）だけです。何も記録されていません。",
        "Only POST (create) and PUT (update) can be used in a transaction. Nothing was recorded.";
    TransactionUrl = "transaction_url", BAD_REQUEST,
        "request.url は POST なら「型」、PUT なら「型/id」にしてください。何も記録されていません。",
        "request.url must be Type for POST and Type/id for PUT. Nothing was recorded.";
    TransactionBadIfMatch = "transaction_bad_if_match", BAD_REQUEST,
        "ifMatch は W/\"版番号\" の形で送ってください。何も記録されていません。",
        "Send ifMatch as W/\"version\". Nothing was recorded.";
    TransactionBadIfNoneExist = "transaction_bad_if_none_exist", BAD_REQUEST,
        "ifNoneExist は identifier=システム|値 の形で送ってください。何も記録されていません。",
        "Send ifNoneExist as identifier=system|value. Nothing was recorded.";
    TransactionCondition = "transaction_condition", BAD_REQUEST,
        "このエントリの条件（作成の ifMatch、更新の ifNoneExist、ifModifiedSince、ifNoneMatch）には対応していません。何も記録されていません。",
        "This server does not support that condition here (ifMatch on a create, ifNoneExist on an update, ifModifiedSince, ifNoneMatch). Nothing was recorded.";
    ResourceInvalid = "resource_invalid", BAD_REQUEST,
        "リソースが FHIR R4 の構造、または宣言された JP Core プロファイルに適合しません（問題 {count} 件、最初は {at}）。何も記録されていません。",
        "The resource does not conform to the FHIR R4 structure or to the JP Core profile it claims ({count} problems, the first at {at}). Nothing was recorded.";
    FhirUnknown = "fhir_unknown_element", BAD_REQUEST,
        "{at}: この位置にこの名前の要素は定義されていません。",
        "{at}: no element of this name is defined here.";
    FhirNotArray = "fhir_not_array", BAD_REQUEST,
        "{at}: 繰り返す要素なので配列で送ってください。",
        "{at}: this element repeats; send it as an array.";
    FhirNotSingle = "fhir_not_single", BAD_REQUEST,
        "{at}: 繰り返さない要素なので配列にしないでください。",
        "{at}: this element does not repeat; do not send an array.";
    FhirEmpty = "fhir_empty", BAD_REQUEST,
        "{at}: 空の値（空のオブジェクト・配列・文字列、null）は送れません。",
        "{at}: empty values (an empty object, array or string, or null) are not allowed.";
    FhirTooFew = "fhir_too_few", BAD_REQUEST,
        "{at}: {min} 個以上必要です。",
        "{at}: at least {min} required.";
    FhirTooMany = "fhir_too_many", BAD_REQUEST,
        "{at}: {max} 個までです。",
        "{at}: at most {max} allowed.";
    FhirFormat = "fhir_format", BAD_REQUEST,
        "{at}: FHIR の {type} 型の値として正しくありません。",
        "{at}: not a valid value of the FHIR type {type}.";
    FhirBinding = "fhir_binding", BAD_REQUEST,
        "{at}: 値セット {valueset} のコードではありません。",
        "{at}: not a code of the value set {valueset}.";
    FhirPattern = "fhir_pattern", BAD_REQUEST,
        "{at}: プロファイルが定める値 {pattern} を含みません。",
        "{at}: does not hold the value {pattern} the profile sets.";
    FhirSlice = "fhir_slice", BAD_REQUEST,
        "{at}: スライス {slice} に当てはまる項目は {min}～{max} 個です。",
        "{at}: the slice {slice} takes {min} to {max} items.";
    FhirSliceMember = "fhir_slice_member", BAD_REQUEST,
        "{at}: スライス {slice} の項目には {member} が必要です。",
        "{at}: an item of the slice {slice} needs {member}.";
    FhirClosed = "fhir_closed_slicing", BAD_REQUEST,
        "{at}: どのスライスにも当てはまりません（スライスは閉じています）。",
        "{at}: matches no slice, and the slicing is closed.";
    FhirResourceType = "fhir_resource_type", BAD_REQUEST,
        "{at}: このサーバーに定義のないリソース型です。",
        "{at}: a resource type this server has no definitions for.";
    FhirExtension = "fhir_extension", BAD_REQUEST,
        "{at}: 拡張は value[x] と入れ子の extension のどちらか一方だけを持ちます。",
        "{at}: an extension has a value or nested extensions, one of the two.";
    TransactionDuplicate = "transaction_duplicate", BAD_REQUEST,
        "このエントリは、別のエントリと同じ fullUrl またはリソースを指しています。何も記録されていません。",
        "This entry names the fullUrl or resource another entry names. Nothing was recorded.";
    FhirMediaType = "fhir_media_type", UNSUPPORTED_MEDIA_TYPE,
        "本文は FHIR の JSON（Content-Type: application/fhir+json）で送ってください（Binary だけは添付ファイルの形式のまま、その Content-Type で送れます）。何も記録されていません。",
        "Send the body as FHIR JSON (Content-Type: application/fhir+json); only a Binary may be sent in its own format, with its Content-Type. Nothing was recorded.";
}

/// The `{name}`s of a text, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        names.push(&rest[start + 1..start + end]);
        rest = &rest[start + end + 1..];
    }
    names
}

/// Fills `{name}` placeholders.
pub fn fill(text: &str, values: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    // Shows the catalogue's rules: each code once, Japanese texts hold Japanese, English texts
    // are ASCII, and both languages carry the same placeholders.
    #[test]
    fn catalogue_is_consistent() {
        let mut codes = BTreeSet::new();
        for code in Code::ALL {
            assert!(codes.insert(code.code()), "{} twice", code.code());
            assert!(!code.ja().is_ascii(), "{}: Japanese text", code.code());
            assert!(code.en().is_ascii(), "{}: English text", code.code());
            let mut ja = placeholders(code.ja());
            let mut en = placeholders(code.en());
            ja.sort();
            en.sort();
            assert_eq!(ja, en, "{}: placeholders", code.code());
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{}",
                code.code()
            );
        }
        assert_eq!(
            fill(Code::MissingParameter.en(), &[("name", "index".into())]),
            "The parameter index is required."
        );
    }
}
