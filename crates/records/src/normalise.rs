//! Names as search finds them: a clerk types 山田 or ﾔﾏﾀﾞ or やまだ, in full or half width,
//! with or without a space, and the patient 山田 太郎（ヤマダ タロウ） is found. Both the indexed
//! name and the query are normalised alike:
//!
//! - full-width ASCII becomes ASCII, lower-cased; the ideographic space is a space;
//! - half-width katakana becomes full-width, its separate voiced and semi-voiced marks joined
//!   to the kana before them (ｶﾞ → ガ, ﾊﾟ → パ), as are the combining marks (U+3099, U+309A);
//! - hiragana becomes katakana (やまだ → ヤマダ);
//! - spaces and variation selectors (異体字セレクタ) are dropped, so 葛󠄀城 is found as 葛城.
//!
//! Kanji are kept as they are: old and new forms (髙 and 高) are different characters, and
//! which of them a patient's name is written with is the patient's.

/// Half-width katakana and punctuation, U+FF61 to U+FF9F, in full width, in order.
const HALF_WIDTH: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";

/// The voiced (濁音) form of a full-width katakana, if it has one.
fn voiced(kana: char) -> Option<char> {
    let code = u32::from(kana);
    let plus_one = matches!(
        code,
        0x30AB | 0x30AD | 0x30AF | 0x30B1 | 0x30B3 // カキクケコ
            | 0x30B5 | 0x30B7 | 0x30B9 | 0x30BB | 0x30BD // サシスセソ
            | 0x30BF | 0x30C1 | 0x30C4 | 0x30C6 | 0x30C8 // タチツテト
            | 0x30CF | 0x30D2 | 0x30D5 | 0x30D8 | 0x30DB // ハヒフヘホ
    );
    if plus_one {
        return char::from_u32(code + 1);
    }
    (kana == 'ウ').then_some('ヴ')
}

/// The semi-voiced (半濁音) form of a full-width katakana, if it has one.
fn semi_voiced(kana: char) -> Option<char> {
    let code = u32::from(kana);
    matches!(code, 0x30CF | 0x30D2 | 0x30D5 | 0x30D8 | 0x30DB)
        .then(|| char::from_u32(code + 2))
        .flatten()
}

/// One character folded to full-width katakana or ASCII (before marks are joined).
fn fold(c: char) -> char {
    let code = u32::from(c);
    match code {
        // Full-width ASCII.
        0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0).map_or(c, |a| a.to_ascii_lowercase()),
        0x3000 => ' ',
        // Half-width katakana.
        0xFF61..=0xFF9F => HALF_WIDTH
            .chars()
            .nth((code - 0xFF61) as usize)
            .unwrap_or(c),
        // Hiragana, and the hiragana iteration marks.
        0x3041..=0x3096 | 0x309D | 0x309E => char::from_u32(code + 0x60).unwrap_or(c),
        _ => c.to_ascii_lowercase(),
    }
}

/// Is `c` a variation selector (U+FE00–FE0F, or the ideographic ones U+E0100–E01EF)?
fn variation_selector(c: char) -> bool {
    matches!(u32::from(c), 0xFE00..=0xFE0F | 0xE0100..=0xE01EF)
}

/// `text` as search compares it.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if variation_selector(c) {
            continue;
        }
        let c = fold(c);
        if c.is_whitespace() {
            continue;
        }
        let joined = match c {
            // The voiced mark, spacing (゛, also from ﾞ) or combining.
            '\u{309B}' | '\u{3099}' => out.chars().last().and_then(voiced),
            '\u{309C}' | '\u{309A}' => out.chars().last().and_then(semi_voiced),
            _ => None,
        };
        match joined {
            Some(kana) => {
                out.pop();
                out.push(kana);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the half-width table covers U+FF61–FF9F exactly.
    #[test]
    fn half_width_table() {
        assert_eq!(HALF_WIDTH.chars().count(), 0xFF9F - 0xFF61 + 1);
        assert_eq!(fold('\u{FF66}'), 'ヲ');
        assert_eq!(fold('\u{FF9D}'), 'ン');
        assert_eq!(fold('\u{FF70}'), 'ー');
    }

    // Shows one name typed every way a clerk might type it coming out the same, and what is
    // kept apart.
    #[test]
    fn one_name_every_way() {
        let want = "ヤマダタロウ";
        for typed in [
            "ヤマダ タロウ",
            "ヤマダ\u{3000}タロウ",
            "やまだ たろう",
            "ﾔﾏﾀﾞ ﾀﾛｳ",
            "ヤマタ\u{3099}タロウ",
            "やまた\u{3099} たろう",
        ] {
            assert_eq!(normalise(typed), want, "{typed}");
        }
        assert_eq!(normalise("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"), "パピプペポ");
        assert_eq!(normalise("ｳﾞｧｲｵﾘﾝ"), "ヴァイオリン");
        assert_eq!(
            normalise("ｶﾞｷﾞｸﾞｹﾞｺﾞｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ"),
            "ガギグゲゴザジズゼゾダヂヅデドバビブベボ"
        );
        assert_eq!(normalise("山田 太郎"), "山田太郎");
        assert_eq!(normalise("葛\u{E0100}城"), "葛城");
        assert_eq!(normalise("ＳＡＴＯ　Ｈａｎａｋｏ１２"), "satohanako12");
        assert_eq!(normalise("さゝき"), "サヽキ");
        // A mark with nothing to join stays; kanji are the patient's own.
        assert_eq!(normalise("ﾞア"), "゛ア");
        assert_eq!(normalise("アﾞ"), "ア゛");
        assert_ne!(normalise("髙橋"), normalise("高橋"));
        assert_eq!(normalise("𠮷野家"), "𠮷野家");
    }
}
