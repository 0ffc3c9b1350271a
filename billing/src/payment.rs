//! What a payer needs beside the amounts: who to ask (EN 16931 BG-6 / BG-9, a party's
//! contact) and how to pay (BG-16 payment instructions with BG-17 the account credited).
//! Both are checked where they enter l2c (the settings at start-up, an account's buyer at the
//! API), so an exported document never carries an IBAN that fails its checksum.

use serde::{Deserialize, Serialize};

/// BG-6 (seller) / BG-9 (buyer): the person or department a payer can ask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// BT-41 / BT-56: a person or department, e.g. `Accounts receivable`.
    pub name: String,
    /// BT-42 / BT-57: the telephone number.
    pub phone: String,
    /// BT-43 / BT-58: the e-mail address.
    pub email: String,
}

impl Contact {
    /// Every field that breaks a rule, as `(field, rule)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push(("contact.name", "must not be empty (DE-R-002)"));
        }
        if self.phone.chars().filter(char::is_ascii_digit).count() < 3 {
            out.push(("contact.phone", "must have at least 3 digits (DE-R-027)"));
        }
        if !looks_like_email(&self.email) {
            out.push((
                "contact.email",
                "must be an e-mail address such as ar@example.com",
            ));
        }
        out
    }
}

/// One `@` with text on both sides, a dot inside the domain and no two dots in a row: what
/// the German CIUS checks (DE-R-028), without refusing what RFC 5322 allows beyond it.
fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.contains("..")
        && !value.chars().any(char::is_whitespace)
}

/// BG-16 / BG-17: how the buyer pays the seller. `code` is from UNCL4461: `58` (SEPA credit
/// transfer, `account` an IBAN), `30` (credit transfer) or `31` (debit transfer), which take
/// any account identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMeans {
    /// BT-81: the UNCL4461 payment means code.
    pub code: String,
    /// BT-84: the account credited (an IBAN for code 58), stored without spaces.
    pub account: String,
    /// BT-85: the account holder's name, when it differs from the seller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// BT-86: the bank's BIC (8 or 11 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bic: Option<String>,
}

/// The UNCL4461 codes l2c writes, with what they mean.
pub const PAYMENT_MEANS_CODES: [(&str, &str); 3] = [
    ("30", "Credit transfer"),
    ("31", "Debit transfer"),
    ("58", "SEPA credit transfer"),
];

impl PaymentMeans {
    /// Every field that breaks a rule, as `(field, rule)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if !PAYMENT_MEANS_CODES.iter().any(|(c, _)| *c == self.code) {
            out.push((
                "payment.code",
                "must be 58 (SEPA credit transfer), 30 (credit transfer) or 31 (debit transfer)",
            ));
        }
        if self.code == "58" {
            if self.account.parse::<iban::Iban>().is_err() {
                out.push((
                    "payment.account",
                    "must be an IBAN with a valid checksum, without spaces, for SEPA (58)",
                ));
            }
        } else if self.account.trim().is_empty() {
            out.push(("payment.account", "must not be empty (BR-61)"));
        }
        if self.bic.as_deref().is_some_and(|b| !is_bic(b)) {
            out.push((
                "payment.bic",
                "must be a BIC: 4 letters, a 2-letter country, 2 letters or digits, and \
                 optionally 3 more, e.g. COBADEFFXXX",
            ));
        }
        if self
            .account_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            out.push(("payment.account_name", "must not be empty when given"));
        }
        out
    }

    /// The code's meaning in words, e.g. `SEPA credit transfer`.
    pub fn code_name(&self) -> &'static str {
        PAYMENT_MEANS_CODES
            .iter()
            .find(|(c, _)| *c == self.code)
            .map_or("Payment", |(_, name)| name)
    }
}

/// ISO 9362: bank code (4 letters), country (2 letters), location (2 alphanumerics) and an
/// optional branch (3 alphanumerics).
pub fn is_bic(bic: &str) -> bool {
    let b = bic.as_bytes();
    let alnum = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    (b.len() == 8 || b.len() == 11) && b[..6].iter().all(u8::is_ascii_uppercase) && alnum(&b[6..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sepa(account: &str, bic: Option<&str>) -> PaymentMeans {
        PaymentMeans {
            code: "58".into(),
            account: account.into(),
            account_name: None,
            bic: bic.map(Into::into),
        }
    }

    #[test]
    fn a_sepa_transfer_needs_an_iban_whose_checksum_holds() {
        assert!(sepa("DE89370400440532013000", Some("COBADEFFXXX"))
            .problems()
            .is_empty());
        let fields = |p: PaymentMeans| p.problems().into_iter().map(|(f, _)| f).collect::<Vec<_>>();
        assert_eq!(
            fields(sepa("DE89370400440532013001", None)),
            ["payment.account"]
        );
        assert_eq!(
            fields(sepa("DE89370400440532013000", Some("COBA"))),
            ["payment.bic"]
        );
        let other = PaymentMeans {
            code: "30".into(),
            ..sepa("12345678", None)
        };
        assert!(other.problems().is_empty());
        let unknown = PaymentMeans {
            code: "1".into(),
            ..sepa("DE89370400440532013000", None)
        };
        assert_eq!(fields(unknown), ["payment.code"]);
    }

    #[test]
    fn bics_have_eight_or_eleven_characters_in_their_places() {
        for ok in ["COBADEFF", "COBADEFFXXX", "DEUTDE5M551"] {
            assert!(is_bic(ok), "{ok}");
        }
        for bad in [
            "COBADEF",
            "COBADEFFXX",
            "C0BADEFF",
            "cobadeff",
            "COBADEFF-XX",
            "ÄOBADEFF",
        ] {
            assert!(!is_bic(bad), "{bad}");
        }
    }

    #[test]
    fn contacts_need_a_name_a_phone_and_an_address_with_an_at() {
        let c = Contact {
            name: "Accounts receivable".into(),
            phone: "+49 30 1234567".into(),
            email: "ar@example.net".into(),
        };
        assert!(c.problems().is_empty());
        for bad in [
            "ar.example.net",
            "@example.net",
            "ar@example",
            "a r@example.net",
            "ar@x@y.net",
            "ar@b..de",
        ] {
            let c = Contact {
                email: bad.into(),
                ..c.clone()
            };
            assert_eq!(
                c.problems(),
                [(
                    "contact.email",
                    "must be an e-mail address such as ar@example.com"
                )],
                "{bad}"
            );
        }
        let c = Contact {
            phone: "+4".into(),
            ..c
        };
        assert_eq!(
            c.problems(),
            [("contact.phone", "must have at least 3 digits (DE-R-027)")]
        );
    }
}
