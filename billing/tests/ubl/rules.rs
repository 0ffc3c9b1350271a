//! The rules, run on the parsed tree alone: EN 16931 presence, line and totals rules, the
//! VAT breakdown, and what the writer promises beyond them (Peppol identifiers, amount
//! decimals, UBL element order); Peppol BIS Billing 3.0's own rules and the German ones are in
//! [`super::peppol`].

use super::peppol::peppol_rules;
use super::tree::Node;
use l2c_billing::Currency;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const CUSTOMIZATION_ID: &str =
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0";

/// The names that differ between an Invoice and a CreditNote.
pub(super) struct Names {
    pub(super) type_code: &'static str,
    pub(super) line: &'static str,
    pub(super) quantity: &'static str,
}

pub(super) fn names(root: &Node) -> Names {
    match root.name.as_str() {
        "Invoice" => Names {
            type_code: "cbc:InvoiceTypeCode",
            line: "cac:InvoiceLine",
            quantity: "cbc:InvoicedQuantity",
        },
        "CreditNote" => Names {
            type_code: "cbc:CreditNoteTypeCode",
            line: "cac:CreditNoteLine",
            quantity: "cbc:CreditedQuantity",
        },
        other => panic!("unexpected root element {other}"),
    }
}

/// Every broken rule in the document, as `"RULE: what"`; empty when it passes.
pub(super) fn broken_rules(root: &Node) -> Vec<String> {
    let mut broken = Vec::new();
    let mut rule = |id: &str, ok: bool, what: String| {
        if !ok {
            broken.push(format!("{id}: {what}"));
        }
    };
    presence_rules(root, &mut rule);
    line_rules(root, &mut rule);
    total_rules(root, &mut rule);
    vat_breakdown_rules(root, &mut rule);
    writer_rules(root, &mut rule);
    peppol_rules(root, &mut rule);
    broken
}

/// Reports rule `id` as broken, saying `what`, unless `ok`.
pub(super) type Rule<'a> = dyn FnMut(&str, bool, String) + 'a;

/// BR-01..BR-16: what every invoice must contain.
fn presence_rules(root: &Node, rule: &mut Rule<'_>) {
    let n = names(root);
    for (id, path, what) in [
        ("BR-01", "cbc:CustomizationID", "specification identifier"),
        ("BR-02", "cbc:ID", "invoice number"),
        ("BR-03", "cbc:IssueDate", "issue date"),
        ("BR-04", n.type_code, "type code"),
        ("BR-05", "cbc:DocumentCurrencyCode", "currency code"),
        (
            "BR-12",
            "cac:LegalMonetaryTotal/cbc:LineExtensionAmount",
            "sum of line nets",
        ),
        (
            "BR-13",
            "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount",
            "total without VAT",
        ),
        (
            "BR-14",
            "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
            "total with VAT",
        ),
        (
            "BR-15",
            "cac:LegalMonetaryTotal/cbc:PayableAmount",
            "amount due",
        ),
    ] {
        let present = root.text_at(path).is_some();
        rule(id, present, format!("{what} is missing"));
    }
    let parties = [
        (
            "cac:AccountingSupplierParty",
            "seller",
            ["BR-06", "BR-08", "BR-09"],
        ),
        (
            "cac:AccountingCustomerParty",
            "buyer",
            ["BR-07", "BR-10", "BR-11"],
        ),
    ];
    for (role, who, [name_rule, address_rule, country_rule]) in parties {
        let party = root.at(role).and_then(|r| r.child("cac:Party"));
        let name = party.and_then(|p| p.text_at("cac:PartyLegalEntity/cbc:RegistrationName"));
        rule(name_rule, name.is_some(), format!("{who} name is missing"));
        let address = party.and_then(|p| p.child("cac:PostalAddress"));
        let has_address = address.is_some();
        rule(
            address_rule,
            has_address,
            format!("{who} postal address is missing"),
        );
        let country = address.and_then(|a| a.text_at("cac:Country/cbc:IdentificationCode"));
        rule(
            country_rule,
            country.is_some(),
            format!("{who} country code is missing"),
        );
    }
    let lines = root.all(n.line).count();
    rule("BR-16", lines > 0, "no invoice line".into());
}

/// BR-21..BR-27 on every line, and l2c's numbering 1..n.
fn line_rules(root: &Node, rule: &mut Rule<'_>) {
    let n = names(root);
    for (i, line) in root.all(n.line).enumerate() {
        let at = |what: &str| format!("line {}: {what}", i + 1);
        let id = line.text_at("cbc:ID");
        rule("BR-21", id.is_some(), at("no identifier"));
        let quantity = line.child(n.quantity);
        let has_quantity = quantity.and_then(Node::decimal).is_some();
        rule("BR-22", has_quantity, at("no quantity"));
        let unit = quantity.and_then(|q| q.attrs.get("unitCode"));
        let has_unit = unit.is_some_and(|u| !u.is_empty());
        rule("BR-23", has_unit, at("no unit code"));
        let net = line.decimal_at("cbc:LineExtensionAmount");
        rule("BR-24", net.is_some(), at("no net amount"));
        let item_name = line.text_at("cac:Item/cbc:Name");
        rule("BR-25", item_name.is_some(), at("no item name"));
        let price = line.decimal_at("cac:Price/cbc:PriceAmount");
        rule("BR-26", price.is_some(), at("no net price"));
        let not_negative = price.is_none_or(|p| p >= Decimal::ZERO);
        rule("BR-27", not_negative, at("negative price"));
        let numbered = id == Some((i + 1).to_string().as_str());
        rule("l2c-line-id", numbered, at("id is not its position"));
    }
}

/// The sum of the decimals at `path` under each of `nodes`; `None` if one is missing.
fn sum<'a>(nodes: impl Iterator<Item = &'a Node>, path: &str) -> Option<Decimal> {
    nodes
        .map(|n| n.decimal_at(path))
        .try_fold(Decimal::ZERO, |acc, d| Some(acc + d?))
}

/// Document-level allowances (`false`) or charges (`true`), summed (BR-CO-11, BR-CO-12).
fn allowance_charges(root: &Node, charge: bool) -> Option<Decimal> {
    let wanted = if charge { "true" } else { "false" };
    let matching = root
        .all("cac:AllowanceCharge")
        .filter(|ac| ac.text_at("cbc:ChargeIndicator") == Some(wanted));
    sum(matching, "cbc:Amount")
}

/// BR-CO-10..BR-CO-16: the totals add up (absent optional amounts count as zero).
fn total_rules(root: &Node, rule: &mut Rule<'_>) {
    let n = names(root);
    let lmt = |name: &str| root.decimal_at(&format!("cac:LegalMonetaryTotal/{name}"));
    let zero_if_absent = |name: &str| lmt(name).unwrap_or(Decimal::ZERO);
    let line_nets = sum(root.all(n.line), "cbc:LineExtensionAmount");
    let bt106 = lmt("cbc:LineExtensionAmount");
    rule(
        "BR-CO-10",
        line_nets.is_some() && line_nets == bt106,
        format!("lines {line_nets:?} != BT-106 {bt106:?}"),
    );
    let (bt107, bt108) = (
        zero_if_absent("cbc:AllowanceTotalAmount"),
        zero_if_absent("cbc:ChargeTotalAmount"),
    );
    let allowances = allowance_charges(root, false);
    rule(
        "BR-CO-11",
        allowances == Some(bt107),
        format!("allowances {allowances:?} != BT-107 {bt107}"),
    );
    let charges = allowance_charges(root, true);
    rule(
        "BR-CO-12",
        charges == Some(bt108),
        format!("charges {charges:?} != BT-108 {bt108}"),
    );
    let bt109 = lmt("cbc:TaxExclusiveAmount");
    let expected = bt106.map(|net| net - bt107 + bt108);
    rule(
        "BR-CO-13",
        bt109.is_some() && bt109 == expected,
        format!("BT-109 {bt109:?} != {expected:?}"),
    );
    let bt110 = root.decimal_at("cac:TaxTotal/cbc:TaxAmount");
    let subtotals = root
        .at("cac:TaxTotal")
        .and_then(|t| sum(t.all("cac:TaxSubtotal"), "cbc:TaxAmount"));
    rule(
        "BR-CO-14",
        bt110.is_some() && bt110 == subtotals,
        format!("BT-110 {bt110:?} != subtotals {subtotals:?}"),
    );
    let bt112 = lmt("cbc:TaxInclusiveAmount");
    let expected = bt109.zip(bt110).map(|(a, b)| a + b);
    rule(
        "BR-CO-15",
        bt112.is_some() && bt112 == expected,
        format!("BT-112 {bt112:?} != {expected:?}"),
    );
    let bt115 = lmt("cbc:PayableAmount");
    let (bt113, bt114) = (
        zero_if_absent("cbc:PrepaidAmount"),
        zero_if_absent("cbc:PayableRoundingAmount"),
    );
    let expected = bt112.map(|incl| incl - bt113 + bt114);
    rule(
        "BR-CO-16",
        bt115.is_some() && bt115 == expected,
        format!("BT-115 {bt115:?} != {expected:?}"),
    );
}

/// XPath `round()`: halves go up (towards positive infinity).
pub(super) fn xpath_round(x: Decimal) -> Decimal {
    (x + dec!(0.5)).floor()
}

/// BR-CO-17 as the CEN schematron tests it: the tax is within one unit of
/// `taxable x rate / 100` rounded to two decimals; a 0% (or rate-less) category has no tax.
fn br_co_17_holds(taxable: Decimal, tax: Decimal, percent: Option<Decimal>) -> bool {
    match percent {
        Some(p) if !xpath_round(p).is_zero() => {
            let exact = taxable.abs() * (p / dec!(100));
            let expected = xpath_round(exact * dec!(100)) / dec!(100);
            tax.abs() - Decimal::ONE < expected && tax.abs() + Decimal::ONE > expected
        }
        _ => xpath_round(tax).is_zero(),
    }
}

/// Per breakdown BR-CO-17, and the exemption reason Peppol requires for E, AE, K, G and O
/// (BR-E-10 and its siblings), which S and Z must not carry. (How many tax totals there are
/// is PEPPOL-EN16931-R053 / R054, in [`super::peppol`].)
fn vat_breakdown_rules(root: &Node, rule: &mut Rule<'_>) {
    let subtotals = root.at("cac:TaxTotal").into_iter();
    for (i, st) in subtotals.flat_map(|t| t.all("cac:TaxSubtotal")).enumerate() {
        let at = |what: String| format!("subtotal {}: {what}", i + 1);
        let taxable = st.decimal_at("cbc:TaxableAmount");
        let tax = st.decimal_at("cbc:TaxAmount");
        let percent = st.decimal_at("cac:TaxCategory/cbc:Percent");
        let ok = taxable
            .zip(tax)
            .is_some_and(|(b, t)| br_co_17_holds(b, t, percent));
        let what = format!("tax {tax:?} for {taxable:?} at {percent:?}%");
        rule("BR-CO-17", ok, at(what));
        let category = st.child("cac:TaxCategory");
        let code = category
            .and_then(|c| c.text_at("cbc:ID"))
            .unwrap_or_default();
        let has_reason = category.is_some_and(|c| {
            c.text_at("cbc:TaxExemptionReason").is_some()
                || c.text_at("cbc:TaxExemptionReasonCode").is_some()
        });
        let needs_reason = ["E", "AE", "K", "G", "O"].contains(&code);
        let what = format!("category {code}: exemption reason present: {has_reason}");
        rule("BR-xx-10", has_reason == needs_reason, at(what));
    }
}

/// What the writer promises beyond EN 16931: Peppol's identifiers, a due date or terms for a
/// positive amount due (BR-CO-25), every amount in the document currency with exactly its
/// minor-unit decimals, and the UBL 2.1 element order.
fn writer_rules(root: &Node, rule: &mut Rule<'_>) {
    let spec = root.text_at("cbc:CustomizationID");
    rule(
        "PEPPOL-EN16931-R004",
        spec == Some(CUSTOMIZATION_ID),
        format!("{spec:?}"),
    );
    rule(
        "PEPPOL-EN16931-R001",
        root.text_at("cbc:ProfileID").is_some(),
        "no profile".into(),
    );
    let due = root.text_at("cbc:DueDate").is_some()
        || root
            .text_at("cac:PaymentMeans/cbc:PaymentDueDate")
            .is_some()
        || root.text_at("cac:PaymentTerms/cbc:Note").is_some();
    let payable = root.decimal_at("cac:LegalMonetaryTotal/cbc:PayableAmount");
    rule(
        "BR-CO-25",
        due || payable.is_none_or(|p| p <= Decimal::ZERO),
        "positive amount due without due date or terms".into(),
    );
    let code = root.text_at("cbc:DocumentCurrencyCode").unwrap_or_default();
    let decimals = Currency::from_code(code).map(|c| c.minor_units() as usize);
    for node in root.descendants() {
        let Some(currency) = node.attrs.get("currencyID") else {
            continue;
        };
        rule(
            "BR-CL-03",
            currency == code,
            format!("{} in {currency}, not {code}", node.name),
        );
        let shown = node.text.split_once('.').map_or(0, |(_, frac)| frac.len());
        let ok = decimals.as_ref().is_ok_and(|d| *d == shown) && node.decimal().is_some();
        rule(
            "l2c-decimals",
            ok,
            format!("{} = {:?} in {code}", node.name, node.text),
        );
    }
    for node in root.descendants() {
        check_order(node, rule);
    }
}

/// The children l2c writes, in the order of the UBL 2.1 schema's `xsd:sequence` for each
/// element (a subset: elements l2c never writes are left out, the order of the rest is the
/// schema's). Keyed by element name; `None` for elements without children.
#[rustfmt::skip]
fn schema_sequence(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "Invoice" => &[
            "cbc:CustomizationID", "cbc:ProfileID", "cbc:ID", "cbc:IssueDate", "cbc:DueDate",
            "cbc:InvoiceTypeCode", "cbc:Note", "cbc:DocumentCurrencyCode", "cbc:BuyerReference",
            "cac:InvoicePeriod", "cac:OrderReference", "cac:BillingReference",
            "cac:AdditionalDocumentReference", "cac:AccountingSupplierParty", "cac:AccountingCustomerParty", "cac:PaymentMeans",
            "cac:PaymentTerms", "cac:AllowanceCharge", "cac:TaxTotal", "cac:LegalMonetaryTotal",
            "cac:InvoiceLine",
        ],
        "CreditNote" => &[
            "cbc:CustomizationID", "cbc:ProfileID", "cbc:ID", "cbc:IssueDate",
            "cbc:CreditNoteTypeCode", "cbc:Note", "cbc:DocumentCurrencyCode",
            "cbc:BuyerReference", "cac:InvoicePeriod", "cac:OrderReference",
            "cac:BillingReference", "cac:AdditionalDocumentReference",
            "cac:AccountingSupplierParty", "cac:AccountingCustomerParty",
            "cac:PaymentMeans", "cac:PaymentTerms", "cac:AllowanceCharge", "cac:TaxTotal",
            "cac:LegalMonetaryTotal", "cac:CreditNoteLine",
        ],
        "cac:AccountingSupplierParty" | "cac:AccountingCustomerParty" => &["cac:Party"],
        "cac:Party" => &[
            "cbc:EndpointID", "cac:PartyIdentification", "cac:PartyName", "cac:PostalAddress",
            "cac:PartyTaxScheme", "cac:PartyLegalEntity", "cac:Contact",
        ],
        "cac:PostalAddress" => &[
            "cbc:StreetName", "cbc:AdditionalStreetName", "cbc:CityName", "cbc:PostalZone",
            "cbc:CountrySubentity", "cac:AddressLine", "cac:Country",
        ],
        "cac:Country" => &["cbc:IdentificationCode"],
        "cac:PartyTaxScheme" => &["cbc:CompanyID", "cac:TaxScheme"],
        "cac:PartyLegalEntity" => &["cbc:RegistrationName", "cbc:CompanyID"],
        "cac:InvoicePeriod" => &["cbc:StartDate", "cbc:EndDate"],
        "cac:BillingReference" => &["cac:InvoiceDocumentReference"],
        "cac:InvoiceDocumentReference" => &["cbc:ID", "cbc:IssueDate"],
        "cac:AdditionalDocumentReference" => &[
            "cbc:ID", "cbc:DocumentTypeCode", "cbc:DocumentDescription", "cac:Attachment",
        ],
        "cac:Attachment" => &["cbc:EmbeddedDocumentBinaryObject", "cac:ExternalReference"],
        "cac:Contact" => &[
            "cbc:ID", "cbc:Name", "cbc:Telephone", "cbc:Telefax", "cbc:ElectronicMail",
            "cbc:Note", "cac:OtherCommunication",
        ],
        "cac:PaymentMeans" => &[
            "cbc:ID", "cbc:PaymentMeansCode", "cbc:PaymentDueDate", "cbc:PaymentChannelCode",
            "cbc:InstructionID", "cbc:InstructionNote", "cbc:PaymentID", "cac:CardAccount",
            "cac:PayerFinancialAccount", "cac:PayeeFinancialAccount", "cac:CreditAccount",
            "cac:PaymentMandate", "cac:TradeFinancing",
        ],
        "cac:PayeeFinancialAccount" => &[
            "cbc:ID", "cbc:Name", "cbc:AliasName", "cbc:AccountTypeCode",
            "cbc:AccountFormatCode", "cbc:CurrencyCode", "cbc:PaymentNote",
            "cac:FinancialInstitutionBranch", "cac:Country",
        ],
        "cac:FinancialInstitutionBranch" => &[
            "cbc:ID", "cbc:Name", "cac:FinancialInstitution", "cac:Address",
        ],
        "cac:PaymentTerms" => &["cbc:Note"],
        "cac:TaxTotal" => &["cbc:TaxAmount", "cac:TaxSubtotal"],
        "cac:TaxSubtotal" => &["cbc:TaxableAmount", "cbc:TaxAmount", "cac:TaxCategory"],
        "cac:TaxCategory" | "cac:ClassifiedTaxCategory" => &[
            "cbc:ID", "cbc:Percent", "cbc:TaxExemptionReasonCode", "cbc:TaxExemptionReason",
            "cac:TaxScheme",
        ],
        "cac:TaxScheme" => &["cbc:ID"],
        "cac:LegalMonetaryTotal" => &[
            "cbc:LineExtensionAmount", "cbc:TaxExclusiveAmount", "cbc:TaxInclusiveAmount",
            "cbc:AllowanceTotalAmount", "cbc:ChargeTotalAmount", "cbc:PrepaidAmount",
            "cbc:PayableRoundingAmount", "cbc:PayableAmount",
        ],
        "cac:InvoiceLine" => &[
            "cbc:ID", "cbc:InvoicedQuantity", "cbc:LineExtensionAmount", "cac:InvoicePeriod",
            "cac:Item", "cac:Price",
        ],
        "cac:CreditNoteLine" => &[
            "cbc:ID", "cbc:CreditedQuantity", "cbc:LineExtensionAmount", "cac:InvoicePeriod",
            "cac:Item", "cac:Price",
        ],
        "cac:Item" => &["cbc:Description", "cbc:Name", "cac:ClassifiedTaxCategory"],
        "cac:Price" => &["cbc:PriceAmount", "cbc:BaseQuantity"],
        _ => return None,
    })
}

/// Elements UBL lets repeat (`maxOccurs="unbounded"`) among those l2c writes.
const REPEATABLE: [&str; 3] = ["cac:TaxSubtotal", "cac:InvoiceLine", "cac:CreditNoteLine"];

fn check_order(node: &Node, rule: &mut Rule<'_>) {
    if node.children.is_empty() {
        return;
    }
    let Some(sequence) = schema_sequence(&node.name) else {
        rule(
            "UBL-order",
            false,
            format!("{} has children l2c does not expect", node.name),
        );
        return;
    };
    let mut last: Option<(usize, &str)> = None;
    for child in &node.children {
        let Some(pos) = sequence.iter().position(|s| *s == child.name) else {
            rule(
                "UBL-order",
                false,
                format!("{} inside {}", child.name, node.name),
            );
            continue;
        };
        if let Some((prev, prev_name)) = last {
            let repeat = prev == pos && REPEATABLE.contains(&prev_name);
            let ok = pos > prev || repeat;
            rule(
                "UBL-order",
                ok,
                format!("{} after {prev_name} in {}", child.name, node.name),
            );
        }
        last = Some((pos, sequence[pos]));
    }
}
