//! Demo data: a synthetic hospital — departments, job types, about sixty staff issued IDs
//! through applications, every governance role appointed — and operators' notes (tagged, one
//! amended, one withdrawn), so a new user sees a living ledger. Generated here from fixed lists,
//! never taken from real records: the names are common ones, combined at random.

use kiroku_access::account::{Category, Profile};
use kiroku_access::application::ApplicationForm;
use kiroku_access::department::{Code, CodeList};
use kiroku_access::role::{Appointment, Role};
use kiroku_app::{App, Result};
use kiroku_core::{AccountId, Actor, Date};

/// The system administrator the demo's data directory is made with (Art. 4: the director).
pub fn administrator() -> kiroku_app::datadir::Administrator {
    kiroku_app::datadir::Administrator {
        account: "director".into(),
        family_name: "大崎".into(),
        given_name: "一郎".into(),
        family_kana: "オオサキ".into(),
        given_kana: "イチロウ".into(),
    }
}

/// Departments: code, Japanese and English names (情報システム室 comes with the administrator).
pub const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("internal-medicine", "内科", "Internal Medicine"),
    ("surgery", "外科", "Surgery"),
    ("pediatrics", "小児科", "Pediatrics"),
    ("emergency", "救急科", "Emergency Medicine"),
    ("radiology", "放射線科", "Radiology"),
    ("clinical-laboratory", "臨床検査科", "Clinical Laboratory"),
    ("pharmacy", "薬剤部", "Pharmacy"),
    ("nursing", "看護部", "Nursing"),
    ("medical-affairs", "医事課", "Medical Affairs"),
];

/// Job types: code, Japanese and English names (システム運用担当 comes with the administrator).
pub const JOB_TYPES: &[(&str, &str, &str)] = &[
    ("doctor", "医師", "Doctor"),
    ("trainee-doctor", "研修医", "Trainee doctor"),
    ("nurse", "看護師", "Nurse"),
    ("pharmacist", "薬剤師", "Pharmacist"),
    (
        "lab-technologist",
        "臨床検査技師",
        "Laboratory technologist",
    ),
    (
        "radiology-technologist",
        "診療放射線技師",
        "Radiology technologist",
    ),
    ("therapist", "理学療法士", "Physical therapist"),
    ("dietitian", "管理栄養士", "Dietitian"),
    ("medical-clerk", "医療事務", "Medical clerk"),
    ("researcher", "研究者", "Researcher"),
    ("student", "学生", "Student"),
    ("vendor-engineer", "保守業者技術者", "Vendor engineer"),
];

/// Family names: kanji, kana, romaji.
const FAMILY: &[(&str, &str, &str)] = &[
    ("佐藤", "サトウ", "sato"),
    ("鈴木", "スズキ", "suzuki"),
    ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"),
    ("伊藤", "イトウ", "ito"),
    ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"),
    ("中村", "ナカムラ", "nakamura"),
    ("小林", "コバヤシ", "kobayashi"),
    ("加藤", "カトウ", "kato"),
    ("吉田", "ヨシダ", "yoshida"),
    ("山田", "ヤマダ", "yamada"),
    ("佐々木", "ササキ", "sasaki"),
    ("山口", "ヤマグチ", "yamaguchi"),
    ("松本", "マツモト", "matsumoto"),
    ("井上", "イノウエ", "inoue"),
    ("木村", "キムラ", "kimura"),
    ("林", "ハヤシ", "hayashi"),
    ("清水", "シミズ", "shimizu"),
    ("斎藤", "サイトウ", "saito"),
];

/// Given names: kanji, kana, romaji.
const GIVEN: &[(&str, &str, &str)] = &[
    ("翔太", "ショウタ", "shota"),
    ("陽子", "ヨウコ", "yoko"),
    ("健一", "ケンイチ", "kenichi"),
    ("美咲", "ミサキ", "misaki"),
    ("大輔", "ダイスケ", "daisuke"),
    ("花子", "ハナコ", "hanako"),
    ("誠", "マコト", "makoto"),
    ("由美", "ユミ", "yumi"),
    ("拓也", "タクヤ", "takuya"),
    ("恵", "メグミ", "megumi"),
    ("直樹", "ナオキ", "naoki"),
    ("真由美", "マユミ", "mayumi"),
    ("和也", "カズヤ", "kazuya"),
    ("彩", "アヤ", "aya"),
    ("浩", "ヒロシ", "hiroshi"),
    ("智子", "トモコ", "tomoko"),
    ("亮", "リョウ", "ryo"),
    ("里美", "サトミ", "satomi"),
    ("隆", "タカシ", "takashi"),
    ("愛", "アイ", "ai"),
];

/// The staff of each department: (job type, how many). The first listed is the department's
/// head (monitoring manager).
const STAFF: &[(&str, &[(&str, usize)])] = &[
    (
        "internal-medicine",
        &[
            ("doctor", 4),
            ("trainee-doctor", 1),
            ("dietitian", 1),
            ("researcher", 1),
        ],
    ),
    (
        "surgery",
        &[("doctor", 4), ("trainee-doctor", 1), ("therapist", 1)],
    ),
    (
        "pediatrics",
        &[("doctor", 4), ("trainee-doctor", 1), ("student", 1)],
    ),
    ("emergency", &[("doctor", 4), ("trainee-doctor", 1)]),
    ("radiology", &[("doctor", 1), ("radiology-technologist", 2)]),
    ("clinical-laboratory", &[("lab-technologist", 4)]),
    ("pharmacy", &[("pharmacist", 4)]),
    ("nursing", &[("nurse", 14)]),
    ("medical-affairs", &[("medical-clerk", 5)]),
    (
        "information-systems",
        &[("system-operator", 3), ("vendor-engineer", 1)],
    ),
];

/// One demo person, as issued.
#[derive(Clone, Debug)]
struct Person {
    account: String,
    department: &'static str,
    job_type: &'static str,
}

fn person_profile(
    index: usize,
    department: &'static str,
    job_type: &'static str,
    doctor: Option<&str>,
    today: Date,
) -> Profile {
    let (family, family_kana, family_romaji) = FAMILY[index % FAMILY.len()];
    let (given, given_kana, given_romaji) = GIVEN[(index * 7 + index / FAMILY.len()) % GIVEN.len()];
    let (category, permitted_by, category_reason) = match job_type {
        "trainee-doctor" => (Category::TraineeDoctor, None, None),
        "researcher" => (Category::Researcher, None, None),
        "student" => (Category::PermittedByStaff, doctor.map(str::to_owned), None),
        "vendor-engineer" => (
            Category::SpeciallyNecessary,
            None,
            Some("デモ: 電子カルテ保守契約に基づく障害対応".to_owned()),
        ),
        _ => (Category::MedicalStaff, None, None),
    };
    let years = if category == Category::MedicalStaff {
        5 * 365
    } else {
        365
    };
    Profile {
        account: format!("{family_romaji}.{given_romaji}{index}"),
        family_name: family.into(),
        given_name: given.into(),
        family_kana: family_kana.into(),
        given_kana: given_kana.into(),
        staff_number: (category == Category::MedicalStaff)
            .then(|| format!("D-{:05}", 10_000 + index)),
        department: department.into(),
        job_type: job_type.into(),
        category,
        permitted_by,
        category_reason,
        valid_from: today,
        valid_until: today.plus_days(years).unwrap_or(today),
    }
}

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

/// Seeds the demo hospital (in a data directory made with [`administrator`]): code lists, every
/// department's staff through applications — the department head issued first, without
/// endorsement; the others filled in by the operator, endorsed by the head and approved by the
/// director — and every governance role. Returns each issued account with its one-time initial
/// secret.
pub async fn seed_hospital(app: &App) -> Result<Vec<(String, String)>> {
    let director = Actor {
        account: AccountId::parse("director")
            .map_err(|e| kiroku_app::Error::Invalid(e.to_string()))?,
        session: Some("demo".into()),
    };
    let operator = Actor::operator("demo");
    let today = Date::in_japan(
        app.clock()
            .now()
            .map_err(|e| kiroku_app::Error::Unavailable(e.to_string()))?,
    );
    for (list, codes) in [
        (CodeList::Department, DEPARTMENTS),
        (CodeList::JobType, JOB_TYPES),
    ] {
        for (code, ja, en) in codes {
            let code = Code {
                code: (*code).into(),
                name_ja: (*ja).into(),
                name_en: (*en).into(),
                active: true,
            };
            app.access()
                .define_code(director.clone(), list, code)
                .await?;
        }
    }
    let mut people: Vec<Person> = Vec::new();
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut index = 0;
    for (department, jobs) in STAFF {
        let mut head: Option<String> = None;
        for (job_type, count) in *jobs {
            for _ in 0..*count {
                index += 1;
                let doctor = people
                    .iter()
                    .find(|p| p.department == *department && p.job_type == "doctor")
                    .map(|p| p.account.clone());
                let profile = person_profile(index, department, job_type, doctor.as_deref(), today);
                let account = profile.account.clone();
                let form = ApplicationForm {
                    profile,
                    justification: "デモ: 業務で総合運営システムを利用するため".into(),
                };
                let submitted = app
                    .access()
                    .submit_application(operator.clone(), form)
                    .await?;
                match &head {
                    None => {
                        let issued = app
                            .access()
                            .approve_application(director.clone(), submitted.entry, 1)
                            .await?;
                        secrets.push((account.clone(), issued.initial_secret));
                        let appointment = Appointment {
                            role: Role::MonitoringManager,
                            department: Some((*department).into()),
                            valid_from: today,
                            valid_until: None,
                        };
                        app.access()
                            .appoint(director.clone(), &account, appointment)
                            .await?;
                        head = Some(account.clone());
                    }
                    Some(head) => {
                        let head_actor = Actor {
                            account: AccountId::parse(head)
                                .map_err(|e| kiroku_app::Error::Invalid(e.to_string()))?,
                            session: Some("demo".into()),
                        };
                        app.access()
                            .endorse_application(head_actor, submitted.entry, 1)
                            .await?;
                        let issued = app
                            .access()
                            .approve_application(director.clone(), submitted.entry, 2)
                            .await?;
                        secrets.push((account.clone(), issued.initial_secret));
                    }
                }
                people.push(Person {
                    account,
                    department,
                    job_type,
                });
            }
        }
    }
    // Hospital-wide roles: operations and device managers from the information systems office
    // and radiology, the audit manager and auditors from departments they do not run, and
    // committee members from the doctors.
    let pick = |department: &str, job_type: &str, nth: usize| {
        people
            .iter()
            .filter(|p| p.department == department && p.job_type == job_type)
            .nth(nth)
            .map(|p| p.account.clone())
    };
    let roles = [
        (
            Role::OperationsManager,
            pick("information-systems", "system-operator", 1),
        ),
        (
            Role::DeviceManager,
            pick("radiology", "radiology-technologist", 1),
        ),
        (
            Role::AuditManager,
            pick("medical-affairs", "medical-clerk", 1),
        ),
        (Role::Auditor, pick("nursing", "nurse", 1)),
        (Role::Auditor, pick("pharmacy", "pharmacist", 1)),
        (
            Role::CommitteeMember,
            pick("internal-medicine", "doctor", 1),
        ),
        (Role::CommitteeMember, pick("surgery", "doctor", 1)),
        (
            Role::CommitteeMember,
            pick("information-systems", "system-operator", 2),
        ),
    ];
    for (role, account) in roles {
        let Some(account) = account else { continue };
        let appointment = Appointment {
            role,
            department: None,
            valid_from: today,
            valid_until: None,
        };
        app.access()
            .appoint(director.clone(), &account, appointment)
            .await?;
    }
    Ok(secrets)
}

/// The demo's system client: the clinical laboratory's departmental system.
pub const DEMO_CLIENT: &str = "demo-lab";

/// Seeds the demo's system client (after [`seed_hospital`]): the laboratory system applied for
/// like a person — filled in by the operator, endorsed by the laboratory's head, approved by the
/// director — and granted reading and writing clinical data. Returns its id and client secret.
pub async fn seed_client(app: &App) -> Result<(String, String)> {
    let director = Actor {
        account: AccountId::parse("director")
            .map_err(|e| kiroku_app::Error::Invalid(e.to_string()))?,
        session: Some("demo".into()),
    };
    let today = app.today()?;
    app.access()
        .define_code(
            director.clone(),
            CodeList::JobType,
            Code {
                code: kiroku_app::policy::CLIENT_JOB_TYPE.into(),
                name_ja: "システムクライアント".into(),
                name_en: "System client".into(),
                active: true,
            },
        )
        .await?;
    let head = app
        .access()
        .appointments()
        .await?
        .into_iter()
        .find(|h| {
            h.role == Role::MonitoringManager
                && h.department.as_deref() == Some("clinical-laboratory")
        })
        .ok_or_else(|| kiroku_app::Error::Invalid("the laboratory has no head".into()))?;
    let form = ApplicationForm {
        profile: Profile {
            account: DEMO_CLIENT.into(),
            family_name: "臨床検査部門システム".into(),
            given_name: "デモ".into(),
            family_kana: "リンショウケンサブモンシステム".into(),
            given_kana: "デモ".into(),
            staff_number: None,
            department: "clinical-laboratory".into(),
            job_type: kiroku_app::policy::CLIENT_JOB_TYPE.into(),
            category: Category::SpeciallyNecessary,
            permitted_by: None,
            category_reason: Some("デモ: 検査結果を電子カルテへ連携する部門システム".into()),
            valid_from: today,
            valid_until: today.plus_days(365).unwrap_or(today),
        },
        justification: "デモ: 検査オーダーの受信と検査結果の送信".into(),
    };
    let submitted = app
        .access()
        .submit_application(Actor::operator("demo"), form)
        .await?;
    let head = Actor {
        account: AccountId::parse(&head.account)
            .map_err(|e| kiroku_app::Error::Invalid(e.to_string()))?,
        session: Some("demo".into()),
    };
    app.access()
        .endorse_application(head, submitted.entry, 1)
        .await?;
    let issued = app
        .access()
        .approve_application(director.clone(), submitted.entry, 2)
        .await?;
    app.access()
        .grant_scopes(
            director,
            DEMO_CLIENT,
            vec![
                kiroku_access::client::SCOPE_CLINICAL_READ.into(),
                kiroku_access::client::SCOPE_CLINICAL_WRITE.into(),
            ],
        )
        .await?;
    Ok((DEMO_CLIENT.into(), issued.initial_secret))
}

/// Writes the demo notes, amends the first and withdraws the fourth; returns how many entries
/// were written.
pub async fn seed(app: &App) -> Result<u64> {
    let actor = Actor::operator("demo");
    let mut notes = Vec::new();
    for (text, tags) in DEMO_NOTES {
        let tags = tags.iter().map(|t| (*t).to_owned()).collect();
        notes.push(
            app.ops()
                .write_note(actor.clone(), text, tags, None)
                .await?
                .note,
        );
    }
    let mut written = notes.len() as u64;
    if let (Some(first), Some(fourth)) = (notes.first(), notes.get(3)) {
        app.ops().amend_note(
            actor.clone(),
            *first,
            1,
            "デモ: バックアップテープ5と6を遠隔地保管庫へ搬出 / demo: backup tapes 5 and 6 moved off-site",
            vec!["バックアップ".into(), "backup".into(), "tape".into()],
            "デモ: テープ6の記載漏れ / demo: tape 6 was left out",
        )
        .await?;
        app.ops().withdraw_note(
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
