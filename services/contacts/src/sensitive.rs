//! A contact's sensitive fields: the identity document number (resident ID card or passport)
//! and the bank card number. Stored only encrypted (see `crm_platform::sealing`), with a keyed
//! hash for exact-match filters and a masked form for everyone without the permission to see
//! them whole.

use sea_orm::{ColumnTrait, Condition};

use crate::entity::contact::{Column, Model};
use crm_platform::error::Error;
use crm_platform::normalize::halfwidth;
use crm_platform::sealing::DataKeys;
use crm_platform::validate::Violations;
use crm_proto::contacts::{Contact, IdDocumentType};

/// Permission to see sensitive fields unmasked.
pub const READ: &str = "contacts.sensitive.read";
/// Which sensitive field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The identity document number.
    IdDocument,
    /// The bank card number.
    BankCard,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::IdDocument => "id_document_number",
            Field::BankCard => "bank_card_number",
        }
    }

    /// The encryption and hashing context: the tenant and the field.
    fn context(self, tenant_id: &str) -> String {
        format!("{tenant_id}/contact/{}", self.name())
    }
}

/// A number as stored and looked up: halfwidth, uppercase, without spaces or dashes.
fn normalize(number: &str) -> String {
    halfwidth(number)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_uppercase()
}

/// The check digit of a mainland resident ID number (ISO 7064 MOD 11-2).
fn resident_id_check(first17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

/// Normalises and checks an identity document number of `kind`.
pub fn check_id_document(v: &mut Violations, kind: i32, number: &str) -> Option<String> {
    let field = "contact.id_document_number";
    let number = normalize(number);
    match IdDocumentType::try_from(kind) {
        Ok(IdDocumentType::ResidentId) => {
            let bytes = number.as_bytes();
            let shaped = bytes.len() == 18
                && bytes[..17].iter().all(u8::is_ascii_digit)
                && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
            if !shaped {
                v.add(field, "a resident ID number has 17 digits and a digit or X");
                return None;
            }
            if resident_id_check(&bytes[..17]) != bytes[17] {
                v.add(field, "the check digit does not match; a digit is mistyped");
                return None;
            }
        }
        Ok(IdDocumentType::Passport) => {
            let ok = (5..=20).contains(&number.len())
                && number.chars().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                v.add(field, "a passport number has 5 to 20 letters and digits");
                return None;
            }
        }
        Ok(IdDocumentType::Other) => {
            if number.is_empty() || number.chars().count() > 40 {
                v.add(field, "must be 1 to 40 characters");
                return None;
            }
        }
        Ok(IdDocumentType::Unspecified) | Err(_) => {
            v.add(
                "contact.id_document_type",
                "is required with a document number",
            );
            return None;
        }
    }
    Some(number)
}

/// Normalises and checks a bank card number: 12 to 19 digits passing the Luhn check.
pub fn check_bank_card(v: &mut Violations, number: &str) -> Option<String> {
    let field = "contact.bank_card_number";
    let compact = normalize(number);
    if !(12..=19).contains(&compact.len()) || !compact.chars().all(|c| c.is_ascii_digit()) {
        v.add(field, "must be 12 to 19 digits");
        return None;
    }
    let sum: u32 = compact
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    if !sum.is_multiple_of(10) {
        v.add(field, "fails the card number check; a digit is mistyped");
        return None;
    }
    Some(compact)
}

/// The masked form: the first `head` and last `tail` characters, stars between.
///
/// Identity numbers show their first and last character only: the region code and the
/// birth date inside a resident ID stay hidden (GB/T 35273-2020 asks that displayed personal
/// data be de-identified). Card numbers show their last four digits, less than the first six
/// and last four PCI DSS allows.
fn mask(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// The masked form of an identity document number.
pub fn mask_id_document(number: &str) -> String {
    mask(number, 1, 1)
}

/// Stores a checked value in `model` (sealed, hashed, masked), or clears it when `None`.
pub fn store(model: &mut Model, keys: &DataKeys, field: Field, value: Option<&str>) {
    let context = field.context(&model.tenant_id);
    let (sealed, hash, masked) = match value {
        Some(value) => (
            keys.seal(&context, value),
            keys.lookup_hash(&context, value),
            match field {
                Field::IdDocument => mask_id_document(value),
                Field::BankCard => mask(value, 0, 4),
            },
        ),
        None => Default::default(),
    };
    match field {
        Field::IdDocument => {
            (
                model.id_document_sealed,
                model.id_document_hash,
                model.id_document_masked,
            ) = (sealed, hash, masked);
        }
        Field::BankCard => {
            (
                model.bank_card_sealed,
                model.bank_card_hash,
                model.bank_card_masked,
            ) = (sealed, hash, masked);
        }
    }
}

/// Replaces the masked values of `proto` with the real ones.
pub fn reveal(model: &Model, keys: &DataKeys, proto: &mut Contact) -> Result<(), Error> {
    if !model.id_document_sealed.is_empty() {
        proto.id_document_number = keys.open(
            &Field::IdDocument.context(&model.tenant_id),
            &model.id_document_sealed,
        )?;
    }
    if !model.bank_card_sealed.is_empty() {
        proto.bank_card_number = keys.open(
            &Field::BankCard.context(&model.tenant_id),
            &model.bank_card_sealed,
        )?;
    }
    Ok(())
}

/// The names of the sensitive fields, as filters and columns spell them.
pub const FIELD_NAMES: &[&str] = &["id_document_number", "bank_card_number"];

/// A filter as it may be recorded (in an audit entry): the values compared with sensitive
/// fields replaced by stars. A filter that does not parse is recorded as nothing.
pub fn redacted_filter(filter: &str) -> String {
    let Ok(comparisons) = crm_platform::filter::parse(filter) else {
        return String::new();
    };
    let shown: Vec<_> = comparisons
        .into_iter()
        .map(|mut c| {
            if FIELD_NAMES.contains(&c.field.as_str()) {
                c.value = "***".to_owned();
            }
            c
        })
        .collect();
    crm_platform::filter::render(&shown)
}

/// An exact-match filter on a sensitive field (`id_document_number = "..."`), by its keyed
/// hash; `None` when `name` is not a sensitive field.
pub fn filter(
    keys: &DataKeys,
    tenant_id: &str,
    name: &str,
    value: &str,
) -> Option<Result<Condition, Error>> {
    let (field, column) = match name {
        "id_document_number" => (Field::IdDocument, Column::IdDocumentHash),
        "bank_card_number" => (Field::BankCard, Column::BankCardHash),
        _ => return None,
    };
    let normalized = normalize(value);
    if normalized.is_empty() {
        return Some(Err(Error::invalid(
            "filter",
            format!("`{name}` needs a value"),
        )));
    }
    let hash = keys.lookup_hash(&field.context(tenant_id), &normalized);
    Some(Ok(Condition::all().add(column.eq(hash))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_ids_carry_a_check_digit() {
        let mut v = Violations::new();
        let kind = IdDocumentType::ResidentId as i32;
        assert_eq!(
            check_id_document(&mut v, kind, "11010519491231002x").as_deref(),
            Some("11010519491231002X")
        );
        assert!(v.finish().is_ok());
        for bad in [
            "110105194912310021",
            "1101051949123100",
            "11010519491231002A",
        ] {
            let mut v = Violations::new();
            assert!(check_id_document(&mut v, kind, bad).is_none(), "{bad}");
        }
        let mut v = Violations::new();
        assert!(check_id_document(&mut v, 0, "E12345678").is_none());
        assert!(v.finish().is_err());
    }

    #[test]
    fn card_numbers_pass_luhn() {
        let mut v = Violations::new();
        assert_eq!(
            check_bank_card(&mut v, "4111 1111 1111 1111").as_deref(),
            Some("4111111111111111")
        );
        assert!(check_bank_card(&mut v, "4111111111111112").is_none());
        assert!(check_bank_card(&mut v, "411111").is_none());
    }

    #[test]
    fn recorded_filters_hide_sensitive_values() {
        assert_eq!(
            redacted_filter(r#"id_document_number = "11010519491231002X" AND tags = "vip""#),
            r#"id_document_number = "***" AND tags = "vip""#
        );
    }

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_id_document("11010519491231002X"), "1****************X");
        assert_eq!(mask("4111111111111111", 0, 4), "************1111");
        assert_eq!(mask("abc", 3, 4), "***");
    }
}
