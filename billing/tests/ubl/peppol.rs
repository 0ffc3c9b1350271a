//! Peppol BIS Billing 3.0's own rules (`PEPPOL-EN16931-*`, one `PEPPOL-COMMON-*`), the
//! EN 16931 payment rules they lean on, and Peppol's German national rules (`DE-R-*`), which
//! apply when seller and buyer are both in Germany. Each is our reading of the rule text of
//! Peppol BIS Billing 3.0 release 3.0.21 (May 2026, `PEPPOL-EN16931-UBL.sch`), checked on the
//! parsed tree alone, with XPath's meaning of "blank" (`normalize-space`: space, tab, CR, LF).
//! Rules flagged `warning` in Peppol are reported like fatal ones: l2c's documents pass both.
//!
//! Implemented:
//!
//! - document: R003 (buyer reference or order reference), R007 (an approved business
//!   process), R010 / R020 (buyer and seller electronic address), P0100 / P0101 (type codes of
//!   the billing profile), F001 (dates are `YYYY-MM-DD`);
//! - R008: no element without child elements and without text, anywhere;
//! - tax totals: R053 (exactly one `TaxTotal` with subtotals), R054 (one without subtotals
//!   exactly when a tax currency is given), R051 (every amount in the document currency);
//! - payment: EN 16931 BR-49 (a means code), BR-50 (a credit transfer account has its id) and
//!   BR-61 (codes 30 and 58 name the account credited), and PEPPOL-EN16931-R061 (direct debit,
//!   codes 49 and 59, has its mandate reference); R061 is the mandate rule in Peppol's text,
//!   the account rule is BR-61;
//! - lines: R110 / R111 (a line's period starts and ends within the document's, where the
//!   document states that start or end), R120 (line net = quantity x price / base quantity +
//!   line charges - line allowances, within Peppol's fixed slack of 0.02 whatever the
//!   currency's minor unit, line charges and allowances summed and rounded to two decimals as
//!   the rule does), R121 (base quantity above zero), R130 (base quantity in the quantity's
//!   unit);
//! - code lists: CL008 (endpoint scheme in the EAS list, [`l2c_billing::eas::is_eas_code`]),
//!   PEPPOL-COMMON-R040 (a GLN, scheme 0088, has its GS1 check digit), P0104..P0111 (a VATEX
//!   code matches its VAT category);
//! - Germany, seller and buyer both `DE` by postal address: DE-R-001 (payment instructions),
//!   DE-R-002 (seller contact), DE-R-003 / DE-R-004 (seller city, post code), DE-R-005..007
//!   (contact name, telephone, e-mail), DE-R-008 / DE-R-009 (buyer city, post code), DE-R-014
//!   (a rate in every VAT breakdown), DE-R-015 (buyer reference), DE-R-016 (seller VAT or tax
//!   number when a taxed category is used), DE-R-017 (type code), DE-R-018 (Skonto lines in
//!   the payment terms), DE-R-019 (an IBAN with its checksum for code 58), DE-R-023-1 /
//!   DE-R-023-2 (a credit transfer has its account and no card or mandate), DE-R-026 (a
//!   corrected invoice, 384, names what it corrects), DE-R-027 (telephone with three digits),
//!   DE-R-028 (e-mail shape).
//!
//! Left out, because l2c never writes what they look at (each would only pass vacuously):
//! R002 and R080 (notes, project references), R005 / R055 (tax currency), R040..R046
//! (allowances and charges), R100 / R101 (line document references), P0112 (type codes 326,
//! 384, 389), CL001..CL007 (attachments, allowance reasons, period description codes; the
//! currency is l2c's own list), PEPPOL-COMMON-R041..R057 (identifier formats of schemes other
//! than GLN), DE-R-010 / DE-R-011 (delivery address), DE-R-020, DE-R-024-*, DE-R-025-*,
//! DE-R-030, DE-R-031 (direct debit and card payments: l2c's payment means are 30, 31 and 58
//! only), DE-R-022 and DE-R-T02 (attachments); and the national rules of other countries.

use super::rules::{names, xpath_round, Rule};
use super::tree::Node;
use chrono::NaiveDate;
use l2c_billing::eas::is_eas_code;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// Every rule of this module on `root`.
pub(super) fn peppol_rules(root: &Node, rule: &mut Rule<'_>) {
    document_rules(root, rule);
    empty_elements(root, rule);
    tax_total_rules(root, rule);
    payment_rules(root, rule);
    period_rules(root, rule);
    line_rules(root, rule);
    code_list_rules(root, rule);
    if german_domestic(root) {
        german_rules(root, rule);
    }
}

/// XPath `normalize-space`: whitespace runs become one space, ends trimmed.
fn normalized(text: &str) -> String {
    text.split([' ', '\t', '\r', '\n'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `normalize-space(path)` of the first element at `path`; empty when there is none.
fn normalized_at(node: &Node, path: &str) -> String {
    node.at(path)
        .map_or_else(String::new, |n| normalized(&n.text))
}

/// `path[boolean(normalize-space(.))]`: the element exists and has more than whitespace.
fn filled_at(node: &Node, path: &str) -> bool {
    !normalized_at(node, path).is_empty()
}

/// Whether the document is "German" on both sides as Peppol decides it: by the postal
/// address country of seller and buyer.
fn german_domestic(root: &Node) -> bool {
    let country = |role: &str| {
        normalized_at(
            root,
            &format!("{role}/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
        )
        .to_uppercase()
    };
    country("cac:AccountingSupplierParty") == "DE" && country("cac:AccountingCustomerParty") == "DE"
}

const PROFILES: [&str; 4] = [
    "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
    "urn:peppol:france:billing:regulated",
    "urn:peppol:france:billing:non-regulated",
    "urn:peppol:bis:billing_with_response",
];

#[rustfmt::skip]
const INVOICE_TYPE_CODES: [&str; 27] = [
    "71", "80", "82", "84", "102", "218", "219", "326", "331", "380", "382", "383", "384", "386",
    "388", "389", "393", "395", "553", "575", "623", "780", "817", "870", "875", "876", "877",
];

const CREDIT_NOTE_TYPE_CODES: [&str; 5] = ["381", "396", "81", "83", "532"];

/// R003, R007, R010, R020, P0100, P0101.
fn document_rules(root: &Node, rule: &mut Rule<'_>) {
    let referenced = root.child("cbc:BuyerReference").is_some()
        || root.at("cac:OrderReference/cbc:ID").is_some();
    rule(
        "PEPPOL-EN16931-R003",
        referenced,
        "neither a buyer reference nor an order reference".into(),
    );
    let profile = normalized_at(root, "cbc:ProfileID");
    rule(
        "PEPPOL-EN16931-R007",
        PROFILES.contains(&profile.as_str()),
        format!("business process {profile:?} is not approved"),
    );
    for (id, role, who) in [
        (
            "PEPPOL-EN16931-R010",
            "cac:AccountingCustomerParty",
            "buyer",
        ),
        (
            "PEPPOL-EN16931-R020",
            "cac:AccountingSupplierParty",
            "seller",
        ),
    ] {
        if let Some(party) = root.at(&format!("{role}/cac:Party")) {
            let has = party.child("cbc:EndpointID").is_some();
            rule(id, has, format!("{who} has no electronic address"));
        }
    }
    if let Some(code) = root.child("cbc:InvoiceTypeCode") {
        let code = normalized(&code.text);
        let ok = INVOICE_TYPE_CODES.contains(&code.as_str());
        rule(
            "PEPPOL-EN16931-P0100",
            ok,
            format!("invoice type code {code:?}"),
        );
    }
    if let Some(code) = root.child("cbc:CreditNoteTypeCode") {
        let code = normalized(&code.text);
        let ok = CREDIT_NOTE_TYPE_CODES.contains(&code.as_str());
        rule(
            "PEPPOL-EN16931-P0101",
            ok,
            format!("credit note type code {code:?}"),
        );
    }
}

/// R008: `//*[not(*) and not(normalize-space())]` must match nothing.
fn empty_elements(root: &Node, rule: &mut Rule<'_>) {
    for node in root.descendants() {
        let empty = node.children.is_empty() && normalized(&node.text).is_empty();
        if empty {
            rule(
                "PEPPOL-EN16931-R008",
                false,
                format!("{} is empty", node.name),
            );
        }
    }
}

/// The amounts R051 holds to the document currency (all but BT-111, the VAT total in the
/// accounting currency, which is a `TaxTotal` without subtotals).
const AMOUNTS: [&str; 12] = [
    "cbc:Amount",
    "cbc:BaseAmount",
    "cbc:PriceAmount",
    "cbc:TaxableAmount",
    "cbc:LineExtensionAmount",
    "cbc:TaxExclusiveAmount",
    "cbc:TaxInclusiveAmount",
    "cbc:AllowanceTotalAmount",
    "cbc:ChargeTotalAmount",
    "cbc:PrepaidAmount",
    "cbc:PayableRoundingAmount",
    "cbc:PayableAmount",
];

/// R053, R054, R051.
fn tax_total_rules(root: &Node, rule: &mut Rule<'_>) {
    let (with, without): (Vec<&Node>, Vec<&Node>) = root
        .all("cac:TaxTotal")
        .partition(|t| t.child("cac:TaxSubtotal").is_some());
    rule(
        "PEPPOL-EN16931-R053",
        with.len() == 1,
        format!("{} tax totals with subtotals", with.len()),
    );
    let expected = usize::from(root.child("cbc:TaxCurrencyCode").is_some());
    rule(
        "PEPPOL-EN16931-R054",
        without.len() == expected,
        format!(
            "{} tax totals without subtotals, {expected} expected",
            without.len()
        ),
    );
    let currency = root
        .child("cbc:DocumentCurrencyCode")
        .map(|c| c.text.clone());
    let tax_amounts = with.iter().flat_map(|t| {
        let own = t.all("cbc:TaxAmount");
        let subtotals = t
            .all("cac:TaxSubtotal")
            .flat_map(|s| s.all("cbc:TaxAmount"));
        own.chain(subtotals)
    });
    let amounts = root
        .descendants()
        .into_iter()
        .filter(|n| AMOUNTS.contains(&n.name.as_str()));
    for amount in amounts.chain(tax_amounts) {
        let unit = amount.attrs.get("currencyID");
        rule(
            "PEPPOL-EN16931-R051",
            unit.is_some() && unit == currency.as_ref(),
            format!("{} in {unit:?}, document in {currency:?}", amount.name),
        );
    }
}

/// BR-49, BR-50, BR-61 (EN 16931) and PEPPOL-EN16931-R061 on every payment instruction.
fn payment_rules(root: &Node, rule: &mut Rule<'_>) {
    for (i, means) in root.all("cac:PaymentMeans").enumerate() {
        let at = |what: &str| format!("payment means {}: {what}", i + 1);
        let code = normalized_at(means, "cbc:PaymentMeansCode");
        let has_code = means.child("cbc:PaymentMeansCode").is_some();
        rule("BR-49", has_code, at("no payment means code"));
        let transfer = code == "30" || code == "58";
        let account = means.at("cac:PayeeFinancialAccount/cbc:ID");
        rule(
            "BR-61",
            !transfer || account.is_some(),
            at(&format!("code {code} without the account credited")),
        );
        if let (true, Some(group)) = (transfer, means.child("cac:PayeeFinancialAccount")) {
            let id = group.child("cbc:ID").map_or("", |n| n.text.as_str());
            rule(
                "BR-50",
                !id.is_empty(),
                at("credit transfer without account id"),
            );
        }
        if code == "49" || code == "59" {
            let mandate = means.at("cac:PaymentMandate/cbc:ID").is_some();
            rule(
                "PEPPOL-EN16931-R061",
                mandate,
                at(&format!("direct debit {code} without mandate reference")),
            );
        }
    }
}

const DATES: [&str; 6] = [
    "cbc:IssueDate",
    "cbc:DueDate",
    "cbc:TaxPointDate",
    "cbc:StartDate",
    "cbc:EndDate",
    "cbc:ActualDeliveryDate",
];

/// `xs:date` of a `YYYY-MM-DD` text.
fn date(text: &str) -> Option<NaiveDate> {
    let ok = text.len() == 10;
    ok.then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// F001 on every date, and R110 / R111 on every line's period.
fn period_rules(root: &Node, rule: &mut Rule<'_>) {
    for node in root.descendants() {
        if DATES.contains(&node.name.as_str()) {
            let ok = date(&node.text).is_some();
            rule(
                "PEPPOL-EN16931-F001",
                ok,
                format!("{} {:?} is not YYYY-MM-DD", node.name, node.text),
            );
        }
    }
    let n = names(root);
    let document = |end: &str| root.at(&format!("cac:InvoicePeriod/{end}"));
    let bounds = [
        ("PEPPOL-EN16931-R110", "cbc:StartDate", "starts before"),
        ("PEPPOL-EN16931-R111", "cbc:EndDate", "ends after"),
    ];
    for (id, end, what) in bounds {
        let Some(document_end) = document(end) else {
            continue;
        };
        let document_date = date(&document_end.text);
        for (i, line) in root.all(n.line).enumerate() {
            let Some(line_end) = line.at(&format!("cac:InvoicePeriod/{end}")) else {
                continue;
            };
            let line_date = date(&line_end.text);
            let within = match (line_date, document_date) {
                (Some(l), Some(d)) if end == "cbc:StartDate" => l >= d,
                (Some(l), Some(d)) => l <= d,
                _ => false,
            };
            rule(
                id,
                within,
                format!(
                    "line {}: period {what} the document's: {} vs {}",
                    i + 1,
                    line_end.text,
                    document_end.text
                ),
            );
        }
    }
}

/// `round(sum(amounts) * 10 * 10) div 100`, the rule's two-decimal rounding of the line's
/// allowances (`charge` false) or charges (`charge` true); `None` if an amount is no number.
fn line_allowance_charges(line: &Node, charge: bool) -> Option<Decimal> {
    let wanted = if charge { "true" } else { "false" };
    let total = line
        .all("cac:AllowanceCharge")
        .filter(|ac| normalized_at(ac, "cbc:ChargeIndicator") == wanted)
        .map(|ac| ac.decimal_at("cbc:Amount"))
        .try_fold(Decimal::ZERO, |sum, amount| Some(sum + amount?))?;
    Some(xpath_round(total * dec!(100)) / dec!(100))
}

/// A decimal at `path`, `default` when the element is absent, `None` when it is no number.
fn decimal_or(node: &Node, path: &str, default: Decimal) -> Option<Decimal> {
    match node.at(path) {
        Some(n) => n.decimal(),
        None => Some(default),
    }
}

/// R120, R121 and R130 on every line.
fn line_rules(root: &Node, rule: &mut Rule<'_>) {
    let n = names(root);
    for (i, line) in root.all(n.line).enumerate() {
        let at = |what: String| format!("line {}: {what}", i + 1);
        let base = line.at("cac:Price/cbc:BaseQuantity");
        let net = decimal_or(line, "cbc:LineExtensionAmount", Decimal::ZERO);
        let quantity = decimal_or(line, n.quantity, Decimal::ONE);
        let price = decimal_or(line, "cac:Price/cbc:PriceAmount", Decimal::ZERO);
        let per = match base.map(Node::decimal) {
            None => Some(Decimal::ONE),
            Some(Some(b)) if b.is_zero() => Some(Decimal::ONE),
            Some(b) => b,
        };
        let allowances = line_allowance_charges(line, false);
        let charges = line_allowance_charges(line, true);
        let expected = quantity
            .zip(price)
            .zip(per)
            .zip(charges.zip(allowances))
            .and_then(|(((q, p), b), (c, a))| Some(q.checked_mul(p.checked_div(b)?)? + c - a));
        let slack = dec!(0.02);
        let ok = net
            .zip(expected)
            .is_some_and(|(net, exp)| net + slack >= exp && net - slack <= exp);
        rule(
            "PEPPOL-EN16931-R120",
            ok,
            at(format!("net {net:?}, quantity x price is {expected:?}")),
        );
        if let Some(base) = base {
            let positive = base.decimal().is_some_and(|b| b > Decimal::ZERO);
            rule(
                "PEPPOL-EN16931-R121",
                positive,
                at(format!("base quantity {:?}", base.text)),
            );
            let quantity_unit = line.child(n.quantity).map(|q| q.attrs.get("unitCode"));
            if let (Some(unit), Some(quantity_unit)) = (base.attrs.get("unitCode"), quantity_unit) {
                rule(
                    "PEPPOL-EN16931-R130",
                    quantity_unit == Some(unit),
                    at(format!(
                        "base quantity in {unit}, quantity in {quantity_unit:?}"
                    )),
                );
            }
        }
    }
}

/// GS1's check digit, as Peppol's `u:gln` computes it.
fn gln_check_digit_holds(id: &str) -> bool {
    let digits: Vec<u32> = id.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != id.chars().count() || digits.len() < 2 {
        return false;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    let weighted: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| d * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - weighted % 10) % 10 == check[0]
}

/// The VATEX codes Peppol ties to one category (P0104..P0111).
const VATEX_CATEGORIES: [(&str, &str, &str); 8] = [
    ("PEPPOL-EN16931-P0104", "VATEX-EU-G", "G"),
    ("PEPPOL-EN16931-P0105", "VATEX-EU-O", "O"),
    ("PEPPOL-EN16931-P0106", "VATEX-EU-IC", "K"),
    ("PEPPOL-EN16931-P0107", "VATEX-EU-AE", "AE"),
    ("PEPPOL-EN16931-P0108", "VATEX-EU-D", "E"),
    ("PEPPOL-EN16931-P0109", "VATEX-EU-F", "E"),
    ("PEPPOL-EN16931-P0110", "VATEX-EU-I", "E"),
    ("PEPPOL-EN16931-P0111", "VATEX-EU-J", "E"),
];

/// CL008, PEPPOL-COMMON-R040 and P0104..P0111.
fn code_list_rules(root: &Node, rule: &mut Rule<'_>) {
    for node in root.descendants() {
        let scheme = node.attrs.get("schemeID").map(String::as_str);
        if let ("cbc:EndpointID", Some(scheme)) = (node.name.as_str(), scheme) {
            rule(
                "PEPPOL-EN16931-CL008",
                is_eas_code(scheme),
                format!("endpoint scheme {scheme:?} is not in the EAS list"),
            );
        }
        let identifier =
            ["cbc:EndpointID", "cbc:CompanyID", "cbc:ID"].contains(&node.name.as_str());
        if identifier && scheme == Some("0088") {
            let id = normalized(&node.text);
            rule(
                "PEPPOL-COMMON-R040",
                gln_check_digit_holds(&id),
                format!("{} {id:?} is no GLN", node.name),
            );
        }
        if node.name == "cac:TaxCategory" {
            let reason = normalized_at(node, "cbc:TaxExemptionReasonCode").to_uppercase();
            let category = normalized_at(node, "cbc:ID");
            for (id, code, wanted) in VATEX_CATEGORIES {
                if reason == code {
                    rule(
                        id,
                        category == wanted,
                        format!("{code} in category {category:?}"),
                    );
                }
            }
        }
    }
}

/// The categories after which DE-R-016 asks for the seller's VAT or tax number.
const TAXED: [&str; 8] = ["S", "Z", "E", "AE", "K", "G", "L", "M"];

const GERMAN_TYPE_CODES: [&str; 8] = ["326", "380", "384", "389", "381", "875", "876", "877"];

/// The DE-R-* rules, for a document whose seller and buyer are both in Germany.
fn german_rules(root: &Node, rule: &mut Rule<'_>) {
    let n = names(root);
    let has_means = root.child("cac:PaymentMeans").is_some();
    rule(
        "DE-R-001",
        has_means,
        "no payment instructions (BG-16)".into(),
    );
    let reference = filled_at(root, "cbc:BuyerReference");
    rule("DE-R-015", reference, "no buyer reference (BT-10)".into());

    let seller = root.at("cac:AccountingSupplierParty/cac:Party");
    let line_categories = root
        .all(n.line)
        .map(|l| normalized_at(l, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"));
    let document_categories = root
        .all("cac:AllowanceCharge")
        .map(|ac| normalized_at(ac, "cac:TaxCategory/cbc:ID"));
    let taxed = line_categories
        .chain(document_categories)
        .any(|c| TAXED.contains(&c.as_str()));
    let tax_number = seller.is_some_and(|s| {
        s.all("cac:PartyTaxScheme")
            .any(|scheme| filled_at(scheme, "cbc:CompanyID"))
    }) || root.child("cac:TaxRepresentativeParty").is_some();
    rule(
        "DE-R-016",
        !taxed || tax_number,
        "taxed categories without seller VAT id, tax number or tax representative".into(),
    );

    let type_code = normalized_at(root, n.type_code);
    rule(
        "DE-R-017",
        GERMAN_TYPE_CODES.contains(&type_code.as_str()),
        format!("type code {type_code:?}"),
    );
    if type_code == "384" {
        let corrects = root
            .at("cac:BillingReference/cac:InvoiceDocumentReference")
            .is_some();
        rule(
            "DE-R-026",
            corrects,
            "a corrected invoice (384) without the invoice it corrects".into(),
        );
    }
    if let Some(note) = root.at("cac:PaymentTerms/cbc:Note") {
        let ok = skonto_terms_hold(&note.text);
        rule("DE-R-018", ok, format!("payment terms {:?}", note.text));
    }

    german_party_rules(root, rule);
    for (i, subtotal) in root
        .all("cac:TaxTotal")
        .flat_map(|t| t.all("cac:TaxSubtotal"))
        .enumerate()
    {
        let rate = filled_at(subtotal, "cac:TaxCategory/cbc:Percent");
        rule("DE-R-014", rate, format!("subtotal {}: no VAT rate", i + 1));
    }
    german_payment_rules(root, rule);
}

/// DE-R-002..DE-R-009, DE-R-027, DE-R-028.
fn german_party_rules(root: &Node, rule: &mut Rule<'_>) {
    let seller = root.at("cac:AccountingSupplierParty");
    if let Some(seller) = seller {
        let has = seller.at("cac:Party/cac:Contact").is_some();
        rule("DE-R-002", has, "no seller contact (BG-6)".into());
    }
    let addresses = [
        (
            "cac:AccountingSupplierParty",
            "seller",
            ["DE-R-003", "DE-R-004"],
        ),
        (
            "cac:AccountingCustomerParty",
            "buyer",
            ["DE-R-008", "DE-R-009"],
        ),
    ];
    for (role, who, [city, postcode]) in addresses {
        if let Some(address) = root.at(&format!("{role}/cac:Party/cac:PostalAddress")) {
            let has = filled_at(address, "cbc:CityName");
            rule(city, has, format!("no {who} city"));
            let has = filled_at(address, "cbc:PostalZone");
            rule(postcode, has, format!("no {who} post code"));
        }
    }
    let Some(contact) = root.at("cac:AccountingSupplierParty/cac:Party/cac:Contact") else {
        return;
    };
    for (id, path, what) in [
        ("DE-R-005", "cbc:Name", "contact point"),
        ("DE-R-006", "cbc:Telephone", "telephone"),
        ("DE-R-007", "cbc:ElectronicMail", "e-mail"),
    ] {
        let has = filled_at(contact, path);
        rule(id, has, format!("no seller contact {what}"));
    }
    let phone = normalized_at(contact, "cbc:Telephone");
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    rule(
        "DE-R-027",
        digits >= 3,
        format!("telephone {phone:?} has fewer than 3 digits"),
    );
    let email = normalized_at(contact, "cbc:ElectronicMail");
    rule(
        "DE-R-028",
        email_shape_holds(&email),
        format!("e-mail {email:?}"),
    );
}

/// DE-R-019, DE-R-023-1, DE-R-023-2 on every credit transfer (codes 30 and 58).
fn german_payment_rules(root: &Node, rule: &mut Rule<'_>) {
    for (i, means) in root.all("cac:PaymentMeans").enumerate() {
        let code = normalized_at(means, "cbc:PaymentMeansCode");
        if code != "30" && code != "58" {
            continue;
        }
        let at = |what: &str| format!("payment means {} ({code}): {what}", i + 1);
        let account = means.child("cac:PayeeFinancialAccount");
        rule(
            "DE-R-023-1",
            account.is_some(),
            at("no credit transfer (BG-17)"),
        );
        let other =
            means.child("cac:CardAccount").is_some() || means.child("cac:PaymentMandate").is_some();
        rule(
            "DE-R-023-2",
            !other,
            at("card or direct debit with a transfer"),
        );
        if code == "58" {
            let iban = account
                .and_then(|a| a.child("cbc:ID"))
                .map_or_else(String::new, |id| id.text.clone());
            rule(
                "DE-R-019",
                iban_holds(&iban),
                at(&format!("{iban:?} is no IBAN")),
            );
        }
    }
}

/// DE-R-019's test: `^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{0,30}$` once whitespace is removed, and
/// the ISO 13616 checksum (characters 5.. then the country and check digits, letters as
/// 10..35) is 1 modulo 97.
fn iban_holds(text: &str) -> bool {
    let iban: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let shape = iban.len() >= 4
        && iban.len() <= 34
        && iban[..2].iter().all(char::is_ascii_uppercase)
        && iban[2..4].iter().all(char::is_ascii_digit)
        && iban[4..].iter().all(char::is_ascii_alphanumeric);
    if !shape {
        return false;
    }
    let rearranged = iban[4..].iter().chain(&iban[..4]);
    let remainder = rearranged.fold(0u32, |rest, c| {
        let value = if c.is_ascii_digit() {
            *c as u32 - '0' as u32
        } else {
            *c as u32 - 55
        };
        let width = if value >= 10 { 100 } else { 10 };
        (rest * width + value) % 97
    });
    remainder == 1
}

/// DE-R-028's pattern `^[^@\s]+@([^@.\s]+\.)+[^@.\s]+$`: one `@`, text before it, and after
/// it at least two dot-separated labels, none empty.
fn email_shape_holds(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let plain = |s: &str| !s.is_empty() && !s.contains(['@', ' ', '\t', '\r', '\n']);
    let labels: Vec<&str> = domain.split('.').collect();
    plain(local) && labels.len() >= 2 && labels.iter().all(|l| plain(l))
}

/// DE-R-018 on the first payment terms note: every line that starts with `#` is one Skonto
/// statement `#SKONTO#TAGE=n#PROZENT=n.nn#` (with an optional `BASISBETRAG=n.nn` segment),
/// and the last statement ends with a line break.
fn skonto_terms_hold(note: &str) -> bool {
    let statements: Vec<String> = note
        .split('\n')
        .map(|line| normalized(line.strip_suffix('\r').unwrap_or(line)))
        .filter(|line| line.starts_with('#'))
        .collect();
    if statements.is_empty() {
        return true;
    }
    statements.iter().all(|s| skonto_line_holds(s)) && text_after_last_statement(note)
}

/// `#SKONTO#TAGE=[0-9]+#PROZENT=[0-9]+\.[0-9]{2}(#BASISBETRAG=-?[0-9]+\.[0-9]{2})?#`.
fn skonto_line_holds(line: &str) -> bool {
    let Some(body) = line
        .strip_prefix("#SKONTO#")
        .and_then(|rest| rest.strip_suffix('#'))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let amount = |s: &str| {
        s.split_once('.')
            .is_some_and(|(whole, cents)| digits(whole) && cents.len() == 2 && digits(cents))
    };
    let segments: Vec<&str> = body.split('#').collect();
    let days = |s: &str| s.strip_prefix("TAGE=").is_some_and(digits);
    let percent = |s: &str| s.strip_prefix("PROZENT=").is_some_and(amount);
    let base = |s: &str| {
        s.strip_prefix("BASISBETRAG=")
            .is_some_and(|b| amount(b.strip_prefix('-').unwrap_or(b)))
    };
    match segments.as_slice() {
        [d, p] => days(d) && percent(p),
        [d, p, b] => days(d) && percent(p) && base(b),
        _ => false,
    }
}

/// The rule's `matches(tokenize(note, '#.+#')[last()], '^\s*\n')`: what follows the last
/// `#...#` on any line is optional whitespace and then a line break.
fn text_after_last_statement(note: &str) -> bool {
    let mut after = note;
    let mut offset = 0;
    for line in note.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if let (Some(first), Some(last)) = (content.find('#'), content.rfind('#')) {
            if last > first + 1 {
                after = &note[offset + last + 1..];
            }
        }
        offset += line.len();
    }
    let rest = after.trim_start_matches([' ', '\t', '\r']);
    rest.starts_with('\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_checked_as_de_r_019_checks_them() {
        for ok in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB29NWBK60161331926819",
        ] {
            assert!(iban_holds(ok), "{ok}");
        }
        for bad in [
            "DE89370400440532013001",
            "de89370400440532013000",
            "DE8937040044053201300!",
            "",
        ] {
            assert!(!iban_holds(bad), "{bad}");
        }
    }

    #[test]
    fn glns_have_their_check_digit() {
        assert!(gln_check_digit_holds("4000001000005"));
        assert!(!gln_check_digit_holds("4000001000006"));
        assert!(!gln_check_digit_holds("40000010000O5"));
    }

    #[test]
    fn e_mail_and_skonto_shapes() {
        assert!(email_shape_holds("ar@netz.example.de"));
        for bad in [
            "ar@example",
            "ar@example..de",
            "@example.de",
            "a r@example.de",
            "a@b@c.de",
        ] {
            assert!(!email_shape_holds(bad), "{bad}");
        }
        assert!(skonto_terms_hold("Net 30 days"));
        assert!(skonto_terms_hold("#SKONTO#TAGE=14#PROZENT=2.00#\n"));
        assert!(skonto_terms_hold(
            "#SKONTO#TAGE=7#PROZENT=3.00#BASISBETRAG=-12.50#\n#SKONTO#TAGE=14#PROZENT=2.00#\nNet 30"
        ));
        for bad in [
            "#SKONTO#TAGE=14#PROZENT=2.00#",
            "#SKONTO#TAGE=14#PROZENT=2#\n",
            "#skonto#TAGE=14#PROZENT=2.00#\n",
            "#SKONTO#TAGE=14#PROZENT=2.00#text\n",
        ] {
            assert!(!skonto_terms_hold(bad), "{bad:?}");
        }
    }
}
