//! Normal forms for the values people type into a CRM in many shapes: phone numbers, email
//! addresses and company names. Duplicate detection, search and exact-match lookups compare
//! these forms, so "+86 138-0013-8000", "13800138000" and "0086 138 0013 8000" are one number.

/// The country assumed for numbers written without a country code. Mainland China is the
/// first market; numbers of other countries must carry their code.
const HOME_COUNTRY_CODE: &str = "86";

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
/// Accepted: numbers with `+` or `00` and a country code; mainland-China mobiles (11 digits
/// starting 13–19), with or without `86`; mainland landlines with their area code (`010-…`,
/// `0755 …`). Spaces, dashes, dots, parentheses and a `(0)` trunk marker may separate digits.
pub fn phone(input: &str) -> Result<String, &'static str> {
    let text = halfwidth(input.trim()).to_lowercase();
    let (main, extension) = split_extension(&text)?;
    let main = main.replace("(0)", "");
    let international = main.trim_start().starts_with('+');
    let mut digits = String::with_capacity(main.len());
    for (i, c) in main.trim().char_indices() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err("may contain only digits, spaces, - . ( ) and a leading +"),
        }
    }
    let e164 = if international {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if is_cn_mobile(&digits) {
        format!("{HOME_COUNTRY_CODE}{digits}")
    } else if digits.len() == 13 && digits.starts_with("86") && is_cn_mobile(&digits[2..]) {
        digits
    } else if digits.starts_with('0') && (10..=12).contains(&digits.len()) {
        format!("{HOME_COUNTRY_CODE}{}", &digits[1..])
    } else {
        return Err(
            "needs a country code (+44 20 7946 0958), or a mainland China mobile or landline with its area code",
        );
    };
    // A trunk zero written after the country code (+86 0755 ...) is not dialled.
    let e164 = match e164.strip_prefix("860") {
        Some(rest) => format!("86{rest}"),
        None => e164,
    };
    if !(8..=15).contains(&e164.len()) || e164.starts_with('0') {
        return Err("is not a phone number: E.164 numbers have 8 to 15 digits");
    }
    let cn_mobile_shape = e164.starts_with("86") && e164.len() == 13 && e164.as_bytes()[2] == b'1';
    if cn_mobile_shape && !is_cn_mobile(&e164[2..]) {
        return Err("is not a mainland China mobile number");
    }
    Ok(match extension {
        Some(ext) => format!("+{e164};ext={ext}"),
        None => format!("+{e164}"),
    })
}

/// Splits `main ext 801`, `main x801`, `main 转801` and `main#801` into the number and the
/// extension digits.
fn split_extension(text: &str) -> Result<(&str, Option<&str>), &'static str> {
    let marker = ["ext.", "ext", "转", "x", "#"]
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

/// A mainland China mobile number: 11 digits, `1` then `3`–`9`.
fn is_cn_mobile(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    bytes.len() == 11
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
        && bytes.iter().all(u8::is_ascii_digit)
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
            ("+1 (415) 555-0100", "+14155550100"),
            ("+44 20 7946 0958", "+442079460958"),
            ("010-12345678 转 801", "+861012345678;ext=801"),
            ("+1 415 555 0100 ext. 12", "+14155550100;ext=12"),
        ] {
            assert_eq!(phone(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn phones_without_a_country_are_refused() {
        for input in [
            "4155550100",
            "call me",
            "+86 12 3",
            "12345",
            "+86 120 0013 8000",
            "138 0013 8000 ext",
            "+1234567890123456",
        ] {
            assert!(phone(input).is_err(), "{input}");
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
