//! Normal forms for the values people type into a CRM in many shapes: phone numbers, email
//! addresses and company names. Duplicate detection, search and exact-match lookups compare
//! these forms, so "+86 138-0013-8000", "13800138000" and "0086 138 0013 8000" are one number.

use std::str::FromStr;

use phonenumber::country::Id;

/// The region whose numbering plan reads a number written without its country code: a
/// tenant setting (CLDR region code, for example `CN` or `GB`), mainland China unless set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(Id);

impl PhoneRegion {
    /// Mainland China, the first market.
    pub const CHINA: PhoneRegion = PhoneRegion(Id::CN);

    /// The region of a two-letter CLDR code (`cn` and `CN` alike), if libphonenumber has its
    /// numbering plan.
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim().to_ascii_uppercase();
        // `001` and the other non-geographic entities are not regions a tenant lives in.
        if code.len() != 2 {
            return None;
        }
        Id::from_str(&code).ok().map(PhoneRegion)
    }

    /// The region from a stored code: mainland China for an empty or unknown one.
    pub fn from_code(code: &str) -> Self {
        Self::parse(code).unwrap_or_default()
    }

    /// Its two-letter code.
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        Self::CHINA
    }
}

/// Maps full-width ASCII forms (what Chinese input methods often produce: `１３８`, `＠`, `＋`)
/// and the ideographic space to their plain forms.
pub fn halfwidth(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Normalises a phone number to E.164 (`+8613800138000`), keeping an extension in the
/// RFC 3966 form (`+861012345678;ext=801`).
///
/// libphonenumber's metadata parses and validates it: a number with `+` or an international
/// prefix (`00` from China) carries its country; one without is read in `region`'s numbering
/// plan (`13800138000` and `0755 8888 0000` in China, `020 7946 0958` in Britain). Spaces,
/// dashes, dots, parentheses and full-width digits may appear; extensions follow `ext`, `x`,
/// `#` or `转`.
pub fn phone(input: &str, region: PhoneRegion) -> Result<String, &'static str> {
    let text = halfwidth(input.trim()).to_lowercase();
    let (main, extension) = split_extension(&text)?;
    let allowed = |c: char| c.is_ascii_digit() || " -.()/+".contains(c);
    if !main.chars().all(allowed) || main.trim_start().get(1..).is_some_and(|r| r.contains('+')) {
        return Err("may contain only digits, spaces, - . ( ) and a leading +");
    }
    let Ok(number) = phonenumber::parse(Some(region.0), main) else {
        return Err("is not a phone number");
    };
    if !number.is_valid() {
        return Err(
            "is not a valid number: numbers of another country need its code (+44 20 7946 0958)",
        );
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    Ok(match extension {
        Some(ext) => format!("{e164};ext={ext}"),
        None => e164,
    })
}

/// Splits `main;ext=801` (the stored form), `main ext 801`, `main x801`, `main 转801` and
/// `main#801` into the number and the extension digits.
fn split_extension(text: &str) -> Result<(&str, Option<&str>), &'static str> {
    let marker = [";ext=", "ext.", "ext", "转", "x", "#"]
        .iter()
        .filter_map(|m| text.find(m).map(|at| (at, m.len())))
        .min_by_key(|(at, _)| *at);
    let Some((at, len)) = marker else {
        return Ok((text, None));
    };
    let extension = text[at + len..].trim();
    if extension.is_empty() || extension.len() > 6 || !extension.chars().all(|c| c.is_ascii_digit())
    {
        return Err("has an extension that is not 1 to 6 digits");
    }
    Ok((&text[..at], Some(extension)))
}

/// Normalises an email address: trimmed, full-width forms folded, lowercased, and checked
/// for a plausible shape (one `@`, a dotted domain of letters, digits and hyphens).
pub fn email(input: &str) -> Result<String, &'static str> {
    let email = halfwidth(input.trim()).to_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err("is not an email address: it needs an @");
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@,;:<>()[]\\\"".contains(c));
    if !local_ok {
        return Err("is not an email address: the part before @ is malformed");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2);
    if !domain_ok {
        return Err("is not an email address: the domain is malformed");
    }
    Ok(email)
}

/// Legal-form words dropped from the end of Latin company names.
const LATIN_LEGAL_FORMS: &[&str] = &[
    "ltd",
    "limited",
    "co",
    "company",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "llc",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "bv",
    "pty",
];

/// Legal forms dropped from the end of Chinese company names, longest first.
const CJK_LEGAL_FORMS: &[&str] = &["股份有限公司", "有限责任公司", "有限公司", "公司"];

/// The key two spellings of one company share: "深圳华强电子有限公司" and "深圳华强电子",
/// "Acme Co., Ltd." and "ACME": lowercased, full-width folded, punctuation and spaces
/// removed, trailing legal forms dropped.
pub fn company_key(name: &str) -> String {
    let folded = halfwidth(name).to_lowercase();
    let mut words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    while words.len() > 1 && words.last().is_some_and(|w| LATIN_LEGAL_FORMS.contains(w)) {
        words.pop();
    }
    let mut key = words.concat();
    for form in CJK_LEGAL_FORMS {
        if let Some(stripped) = key.strip_suffix(form).filter(|s| !s.is_empty()) {
            key = stripped.to_owned();
            break;
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_reach_e164() {
        for (input, expected) in [
            ("+86 138-0013-8000", "+8613800138000"),
            ("13800138000", "+8613800138000"),
            ("138 0013 8000", "+8613800138000"),
            ("0086 13800138000", "+8613800138000"),
            ("8613800138000", "+8613800138000"),
            ("１３８００１３８０００", "+8613800138000"),
            ("＋86 138 0013 8000", "+8613800138000"),
            ("010-12345678", "+861012345678"),
            ("0755 8888 0000", "+8675588880000"),
            ("+86 (0)755 8888 0000", "+8675588880000"),
            ("+86 0755 8888 0000", "+8675588880000"),
            ("+1 (415) 555-2671", "+14155552671"),
            ("+44 20 7946 0958", "+442079460958"),
            ("010-12345678 转 801", "+861012345678;ext=801"),
            ("+1 415 555 2671 ext. 12", "+14155552671;ext=12"),
            ("+852 2123 4567", "+85221234567"),
        ] {
            assert_eq!(
                phone(input, PhoneRegion::CHINA).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    /// Stored numbers and the duplicate and search keys made from them are E.164 strings.
    /// libphonenumber writes the same E.164 form the earlier hand-written rules wrote, so
    /// every stored form reads back as itself in every region and no stored key changes.
    #[test]
    fn stored_forms_read_back_as_themselves() {
        let gb = PhoneRegion::parse("GB").unwrap();
        for stored in [
            "+8613800138000",
            "+861012345678",
            "+8675588880000",
            "+442079460958",
            "+14155552671",
            "+861012345678;ext=801",
            "+14155552671;ext=12",
        ] {
            for region in [PhoneRegion::CHINA, gb] {
                assert_eq!(phone(stored, region).as_deref(), Ok(stored), "{stored}");
            }
        }
    }

    #[test]
    fn numbers_without_a_country_follow_the_tenant_region() {
        let britain = PhoneRegion::parse("gb").unwrap();
        assert_eq!(
            phone("020 7946 0958", britain).as_deref(),
            Ok("+442079460958")
        );
        assert_eq!(
            phone("07400 123456", britain).as_deref(),
            Ok("+447400123456")
        );
        // A number that carries its country reads alike in every region.
        assert_eq!(
            phone("+8613800138000", britain).as_deref(),
            Ok("+8613800138000")
        );
        let us = PhoneRegion::parse("US").unwrap();
        assert_eq!(phone("(415) 555-2671", us).as_deref(), Ok("+14155552671"));
        // The same digits are a Guangzhou landline to a tenant in China.
        assert_eq!(
            phone("020 7946 0958", PhoneRegion::CHINA).as_deref(),
            Ok("+862079460958")
        );
        assert_eq!(PhoneRegion::parse("jp").unwrap().code(), "JP");
        for unknown in ["", "C", "ZZ", "001", "CHN"] {
            assert_eq!(PhoneRegion::parse(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn malformed_phones_are_refused() {
        for input in [
            "555-0100",
            "call me",
            "+86 12 3",
            "12345",
            "+86 120 0013 8000",
            "138 0013 8000 ext",
            "+1234567890123456",
        ] {
            assert!(phone(input, PhoneRegion::CHINA).is_err(), "{input}");
        }
    }

    #[test]
    fn emails_are_folded_and_checked() {
        assert_eq!(
            email("  Ada.Lovelace@Example.COM "),
            Ok("ada.lovelace@example.com".into())
        );
        assert_eq!(email("ａｄａ＠example.com"), Ok("ada@example.com".into()));
        assert_eq!(email("张三@例子.中国"), Ok("张三@例子.中国".into()));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@-example.com",
            "ada..b@example.com",
            "a b@example.com",
            "ada@example.c",
            "ada@exa_mple.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn company_spellings_share_a_key() {
        assert_eq!(company_key("深圳华强电子有限公司"), "深圳华强电子");
        assert_eq!(company_key("深圳华强电子"), "深圳华强电子");
        assert_eq!(company_key("Acme Co., Ltd."), "acme");
        assert_eq!(company_key("ACME"), "acme");
        assert_eq!(company_key("Costco"), "costco");
        assert_eq!(company_key("Ｃｏｓｔｃｏ  Inc"), "costco");
        assert_eq!(company_key("Limited"), "limited");
        assert_eq!(company_key("公司"), "公司");
    }
}
