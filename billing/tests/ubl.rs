//! The UBL export, checked from the XML alone.
//!
//! Every test writes an [`IssuedDocument`], parses the bytes back with quick-xml into a small
//! element tree (namespaces resolved, entities unescaped) and runs [`broken_rules`] on that
//! tree: EN 16931 BR-01..BR-16, the line rules BR-21..BR-27, the totals rules
//! BR-CO-10..BR-CO-17, and the few Peppol BIS 3 and l2c rules that concern what the writer
//! controls (identifiers, exemption reasons, amount decimals, UBL element order). The rules
//! never look at the Rust values the document was built from.

use chrono::NaiveDate;
use l2c_billing::{
    ubl, BillingError, Currency, DocumentKind, Invoice, InvoiceLine, IssuedDocument, Money, Party,
    Period, PrecedingInvoice, Rounding, TaxCategory, TaxRate,
};
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::collections::BTreeMap;
use std::str::FromStr;

// ---------------------------------------------------------------------------------------------
// A parsed element tree
// ---------------------------------------------------------------------------------------------

/// One element: `name` is `cac:X` / `cbc:X` by resolved namespace (whatever prefix the file
/// used), or the bare local name for the document namespace.
#[derive(Debug, Default)]
struct Node {
    name: String,
    namespace: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Node>,
}

const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

fn qualified(ns: &ResolveResult<'_>, local: &str) -> (String, String) {
    match ns {
        ResolveResult::Bound(Namespace(uri)) if *uri == NS_CAC => {
            (format!("cac:{local}"), uri.to_string())
        }
        ResolveResult::Bound(Namespace(uri)) if *uri == NS_CBC => {
            (format!("cbc:{local}"), uri.to_string())
        }
        ResolveResult::Bound(Namespace(uri)) => (local.to_string(), uri.to_string()),
        other => panic!("element {local} has no known namespace: {other:?}"),
    }
}

fn start_node(ns: &ResolveResult<'_>, e: &quick_xml::events::BytesStart<'_>) -> Node {
    let (name, namespace) = qualified(ns, e.local_name().as_ref());
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .expect("attribute value unescapes");
            (a.key.local_name().as_ref().to_string(), value.into_owned())
        })
        .collect();
    Node {
        name,
        namespace,
        attrs,
        ..Node::default()
    }
}

/// Parses `xml` into its root element; panics on anything that is not well-formed.
fn parse(xml: &str) -> Node {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    let mut saw_declaration = false;
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed XML");
        match event {
            Event::Decl(_) => saw_declaration = true,
            Event::Start(e) => stack.push(start_node(&ns, &e)),
            Event::Empty(e) => {
                let node = start_node(&ns, &e);
                stack
                    .last_mut()
                    .expect("inside the root")
                    .children
                    .push(node);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .expect("only predefined entities")
                        .to_string(),
                };
                stack.last_mut().expect("inside an element").text += &resolved;
            }
            Event::End(_) => {
                let mut node = stack.pop().expect("balanced tags");
                if !node.children.is_empty() {
                    node.text.clear(); // indentation between children, not content
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?}"),
        }
    }
    assert!(saw_declaration, "the XML declaration is missing");
    root.expect("a root element")
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first element along a `/`-separated path of child names.
    fn at(&self, path: &str) -> Option<&Node> {
        path.split('/')
            .try_fold(self, |node, step| node.child(step))
    }

    /// The text at `path` if the element exists and is not blank.
    fn text_at(&self, path: &str) -> Option<&str> {
        self.at(path)
            .map(|n| n.text.as_str())
            .filter(|t| !t.trim().is_empty())
    }

    fn decimal(&self) -> Option<Decimal> {
        Decimal::from_str(self.text.trim()).ok()
    }

    fn decimal_at(&self, path: &str) -> Option<Decimal> {
        self.at(path).and_then(Node::decimal)
    }

    /// This element and all below it, depth first.
    fn descendants(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.descendants());
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

const CUSTOMIZATION_ID: &str =
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0";

/// The names that differ between an Invoice and a CreditNote.
struct Names {
    type_code: &'static str,
    line: &'static str,
    quantity: &'static str,
}

fn names(root: &Node) -> Names {
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
fn broken_rules(root: &Node) -> Vec<String> {
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
    broken
}

type Rule<'a> = dyn FnMut(&str, bool, String) + 'a;

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
fn xpath_round(x: Decimal) -> Decimal {
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

/// One TaxTotal (PEPPOL-EN16931-R053); per breakdown BR-CO-17, and the exemption reason
/// Peppol requires for E, AE, K, G and O (BR-E-10 and its siblings), which S and Z must not
/// carry.
fn vat_breakdown_rules(root: &Node, rule: &mut Rule<'_>) {
    let totals = root.all("cac:TaxTotal").count();
    rule(
        "PEPPOL-EN16931-R053",
        totals == 1,
        format!("{totals} tax totals"),
    );
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
            "cac:AccountingSupplierParty", "cac:AccountingCustomerParty", "cac:PaymentMeans",
            "cac:PaymentTerms", "cac:AllowanceCharge", "cac:TaxTotal", "cac:LegalMonetaryTotal",
            "cac:InvoiceLine",
        ],
        "CreditNote" => &[
            "cbc:CustomizationID", "cbc:ProfileID", "cbc:ID", "cbc:IssueDate",
            "cbc:CreditNoteTypeCode", "cbc:Note", "cbc:DocumentCurrencyCode",
            "cbc:BuyerReference", "cac:InvoicePeriod", "cac:OrderReference",
            "cac:BillingReference", "cac:AccountingSupplierParty", "cac:AccountingCustomerParty",
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
        "cac:PaymentMeans" => &["cbc:PaymentMeansCode", "cbc:PaymentDueDate"],
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

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn cur(code: &str) -> Currency {
    Currency::from_code(code).expect("known currency")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

fn standard(percent: Decimal) -> TaxRate {
    TaxRate::new(TaxCategory::Standard, percent).expect("valid rate")
}

fn zero_rate(category: TaxCategory) -> TaxRate {
    TaxRate::new(category, Decimal::ZERO).expect("valid category")
}

fn party(name: &str, country: &str, vat_id: Option<&str>) -> Party {
    Party {
        name: name.into(),
        street: "Hauptstraße 1".into(),
        city: "Berlin".into(),
        postcode: "10115".into(),
        country: country.into(),
        vat_id: vat_id.map(Into::into),
        endpoint_scheme: "0088".into(),
        endpoint_id: "4000001000005".into(),
    }
}

fn line(
    description: &str,
    quantity: Decimal,
    price: &str,
    currency: Currency,
    tax: TaxRate,
) -> InvoiceLine {
    let price = Money::parse(price, currency).expect("price");
    InvoiceLine::new(description, None, quantity, price, tax, Rounding::default()).expect("line")
}

fn compose(kind: DocumentKind, currency: Currency, lines: Vec<InvoiceLine>) -> Invoice {
    Invoice::compose(
        kind,
        currency,
        lines,
        Money::zero(currency),
        Rounding::default(),
    )
    .expect("composes")
}

fn issued(invoice: Invoice) -> IssuedDocument {
    IssuedDocument {
        number: "INV-2026-000042".into(),
        issue_date: d("2026-02-01"),
        due_date: Some(d("2026-03-03")),
        buyer_reference: "ACC-1001".into(),
        period: Some(Period::new(d("2026-02-01"), d("2026-03-01")).expect("period")),
        payment_terms: Some("Net 30 days".into()),
        preceding: None,
        seller: party("Netz & Co GmbH", "DE", Some("DE123456789")),
        buyer: party("Acme Industries AG", "DE", Some("DE987654321")),
        invoice,
    }
}

fn xml_of(doc: &IssuedDocument) -> String {
    let bytes = ubl::write(doc, Vec::new()).expect("writes");
    String::from_utf8(bytes).expect("UTF-8")
}

/// Writes, parses and checks every rule; returns the tree for further assertions.
fn written_and_valid(doc: &IssuedDocument) -> Node {
    let xml = xml_of(doc);
    let root = parse(&xml);
    let broken = broken_rules(&root);
    assert!(broken.is_empty(), "broken rules: {broken:#?}\n{xml}");
    root
}

fn texts<'a>(nodes: impl Iterator<Item = &'a Node>, path: &str) -> Vec<String> {
    nodes
        .map(|n| n.text_at(path).unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn invoice_with_two_rates_and_a_credit_line() {
    let eur = cur("EUR");
    let lines = vec![
        line(
            "WAN link 100 Mbit/s, February",
            dec!(1),
            "1290.00",
            eur,
            standard(dec!(19)),
        ),
        line("Router rental", dec!(2), "15.50", eur, standard(dec!(7))),
        line(
            "Credit: unused days of 50 Mbit/s",
            dec!(-1),
            "200.00",
            eur,
            standard(dec!(19)),
        ),
    ];
    let doc = issued(compose(DocumentKind::Invoice, eur, lines));
    let root = written_and_valid(&doc);

    assert_eq!(root.name, "Invoice");
    assert_eq!(
        root.namespace,
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    );
    assert_eq!(root.text_at("cbc:InvoiceTypeCode"), Some("380"));
    assert_eq!(root.text_at("cbc:ID"), Some("INV-2026-000042"));
    assert_eq!(root.text_at("cbc:DueDate"), Some("2026-03-03"));
    assert_eq!(
        root.text_at("cac:InvoicePeriod/cbc:StartDate"),
        Some("2026-02-01")
    );
    assert_eq!(
        root.text_at("cac:InvoicePeriod/cbc:EndDate"),
        Some("2026-02-28"),
        "last day, not the exclusive end"
    );
    assert_eq!(
        root.text_at("cac:PaymentTerms/cbc:Note"),
        Some("Net 30 days")
    );
    assert!(root.at("cac:BillingReference").is_none());
    let seller = root
        .at("cac:AccountingSupplierParty/cac:Party")
        .expect("seller");
    assert_eq!(
        seller
            .at("cbc:EndpointID")
            .map(|e| e.attrs["schemeID"].as_str()),
        Some("0088")
    );
    assert_eq!(
        seller.text_at("cac:PartyTaxScheme/cbc:CompanyID"),
        Some("DE123456789")
    );
    assert_eq!(
        seller.text_at("cac:PartyTaxScheme/cac:TaxScheme/cbc:ID"),
        Some("VAT")
    );
    assert_eq!(
        seller.text_at("cac:PostalAddress/cbc:StreetName"),
        Some("Hauptstraße 1")
    );

    // 19%: 1290.00 - 200.00 = 1090.00 -> 207.10; 7%: 31.00 -> 2.17.
    let tax = root.at("cac:TaxTotal").expect("tax total");
    assert_eq!(tax.text_at("cbc:TaxAmount"), Some("209.27"));
    let subtotals: Vec<&Node> = tax.all("cac:TaxSubtotal").collect();
    assert_eq!(
        texts(subtotals.iter().copied(), "cac:TaxCategory/cbc:Percent"),
        ["7", "19"]
    );
    assert_eq!(
        texts(subtotals.iter().copied(), "cbc:TaxableAmount"),
        ["31.00", "1090.00"]
    );
    assert_eq!(
        texts(subtotals.iter().copied(), "cbc:TaxAmount"),
        ["2.17", "207.10"]
    );
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:PayableAmount"),
        Some("1330.27")
    );

    let credit = root.all("cac:InvoiceLine").nth(2).expect("third line");
    assert_eq!(credit.text_at("cbc:ID"), Some("3"));
    assert_eq!(credit.text_at("cbc:InvoicedQuantity"), Some("-1"));
    assert_eq!(
        credit
            .at("cbc:InvoicedQuantity")
            .map(|q| q.attrs["unitCode"].as_str()),
        Some("C62")
    );
    assert_eq!(credit.text_at("cbc:LineExtensionAmount"), Some("-200.00"));
    assert_eq!(credit.text_at("cac:Price/cbc:PriceAmount"), Some("200.00"));
    assert_eq!(
        credit.text_at("cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
        Some("S")
    );
}

#[test]
fn line_period_prints_its_last_day() {
    let eur = cur("EUR");
    let part = Period::new(d("2026-02-10"), d("2026-03-01")).expect("period");
    let full = Period::new(d("2026-02-01"), d("2026-03-01")).expect("period");
    let price = Money::parse("280.00", eur).expect("price");
    let prorated = InvoiceLine::prorated(
        "WAN link from Feb 10",
        part,
        &full,
        dec!(1),
        price,
        standard(dec!(19)),
        Rounding::default(),
    )
    .expect("line");
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, eur, vec![prorated])));
    let l = root.child("cac:InvoiceLine").expect("line");
    assert_eq!(
        l.text_at("cac:InvoicePeriod/cbc:StartDate"),
        Some("2026-02-10")
    );
    assert_eq!(
        l.text_at("cac:InvoicePeriod/cbc:EndDate"),
        Some("2026-02-28")
    );
    assert_eq!(
        l.text_at("cac:Price/cbc:PriceAmount"),
        Some("190.00"),
        "280 x 19/28"
    );
}

#[test]
fn credit_note_refers_to_the_invoice_it_corrects() {
    let eur = cur("EUR");
    let original = compose(
        DocumentKind::Invoice,
        eur,
        vec![line(
            "WAN link",
            dec!(1),
            "1290.00",
            eur,
            standard(dec!(19)),
        )],
    );
    let mut doc = issued(original.credit_note());
    doc.number = "CN-2026-000003".into();
    doc.payment_terms = None;
    doc.preceding = Some(PrecedingInvoice {
        number: "INV-2026-000042".into(),
        issue_date: d("2026-02-01"),
    });
    let root = written_and_valid(&doc);

    assert_eq!(root.name, "CreditNote");
    assert_eq!(
        root.namespace,
        "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
    );
    assert_eq!(root.text_at("cbc:CreditNoteTypeCode"), Some("381"));
    assert!(root.at("cbc:InvoiceTypeCode").is_none());
    assert!(
        root.at("cbc:DueDate").is_none(),
        "UBL 2.1 CreditNote has no cbc:DueDate"
    );
    assert_eq!(
        root.text_at("cac:PaymentMeans/cbc:PaymentDueDate"),
        Some("2026-03-03")
    );
    assert_eq!(
        root.text_at("cac:PaymentMeans/cbc:PaymentMeansCode"),
        Some("1")
    );
    let reference = "cac:BillingReference/cac:InvoiceDocumentReference";
    assert_eq!(
        root.text_at(&format!("{reference}/cbc:ID")),
        Some("INV-2026-000042")
    );
    assert_eq!(
        root.text_at(&format!("{reference}/cbc:IssueDate")),
        Some("2026-02-01")
    );
    assert!(root.at("cac:InvoiceLine").is_none());
    let l = root.child("cac:CreditNoteLine").expect("credit note line");
    assert_eq!(l.text_at("cbc:CreditedQuantity"), Some("1"));
    assert_eq!(l.text_at("cbc:LineExtensionAmount"), Some("1290.00"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:PayableAmount"),
        Some("1535.10")
    );
}

#[test]
fn exempt_invoice_states_the_exemption_reason() {
    let eur = cur("EUR");
    let lines = vec![line(
        "Training course",
        dec!(3),
        "450.00",
        eur,
        zero_rate(TaxCategory::Exempt),
    )];
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, eur, lines)));
    let category = root
        .at("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory")
        .expect("category");
    assert_eq!(category.text_at("cbc:ID"), Some("E"));
    assert_eq!(category.text_at("cbc:Percent"), Some("0"));
    assert_eq!(
        category.text_at("cbc:TaxExemptionReason"),
        Some("Exempt from VAT")
    );
    assert_eq!(root.text_at("cac:TaxTotal/cbc:TaxAmount"), Some("0.00"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
        Some("1350.00")
    );
}

#[test]
fn out_of_scope_has_no_rate_and_a_vatex_code() {
    let eur = cur("EUR");
    let lines = vec![line(
        "Road tax",
        dec!(1),
        "3200.00",
        eur,
        zero_rate(TaxCategory::OutOfScope),
    )];
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, eur, lines)));
    let category = root
        .at("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory")
        .expect("category");
    assert!(category.at("cbc:Percent").is_none());
    assert_eq!(
        category.text_at("cbc:TaxExemptionReasonCode"),
        Some("VATEX-EU-O")
    );
    let classified = "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory";
    assert!(root.at(&format!("{classified}/cbc:Percent")).is_none());
}

#[test]
fn yen_amounts_have_no_decimals() {
    let jpy = cur("JPY");
    let lines = vec![
        line(
            "Leased line, Tokyo",
            dec!(1),
            "125000",
            jpy,
            standard(dec!(10)),
        ),
        line(
            "Credit for outage",
            dec!(-2),
            "1234",
            jpy,
            standard(dec!(10)),
        ),
    ];
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, jpy, lines)));
    assert_eq!(root.text_at("cbc:DocumentCurrencyCode"), Some("JPY"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:LineExtensionAmount"),
        Some("122532")
    );
    assert_eq!(root.text_at("cac:TaxTotal/cbc:TaxAmount"), Some("12253"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:PayableAmount"),
        Some("134785")
    );
    let amounts = root
        .descendants()
        .into_iter()
        .filter(|n| n.attrs.contains_key("currencyID"));
    assert!(amounts.clone().count() > 10);
    for node in amounts {
        assert!(!node.text.contains('.'), "{} = {}", node.name, node.text);
        assert_eq!(node.attrs["currencyID"], "JPY");
    }
}

#[test]
fn special_characters_round_trip_escaped() {
    let eur = cur("EUR");
    let tricky = r#"Fish <&> Chips "Ltd" 's"#;
    let mut doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line(tricky, dec!(1), "9.99", eur, standard(dec!(19)))],
    ));
    doc.buyer.name = tricky.into();
    doc.payment_terms = Some("Net 10 & 2% <early>".into());
    let xml = xml_of(&doc);
    assert!(
        !xml.contains(tricky),
        "raw markup characters in the output:\n{xml}"
    );
    assert!(xml.contains("Fish &lt;&amp;&gt; Chips"), "{xml}");
    let root = parse(&xml);
    assert!(broken_rules(&root).is_empty());
    assert_eq!(
        root.text_at("cac:InvoiceLine/cac:Item/cbc:Name"),
        Some(tricky)
    );
    let buyer = "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName";
    assert_eq!(root.text_at(buyer), Some(tricky));
    assert_eq!(
        root.text_at("cac:PaymentTerms/cbc:Note"),
        Some("Net 10 & 2% <early>")
    );
}

#[test]
fn the_rules_catch_a_tampered_document() {
    let eur = cur("EUR");
    let doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line("WAN link", dec!(1), "100.00", eur, standard(dec!(19)))],
    ));
    let xml = xml_of(&doc);
    let currency = "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>";
    let issue_date = "<cbc:IssueDate>2026-02-01</cbc:IssueDate>";
    let tampered = xml
        .replace(">119.00</cbc:PayableAmount>", ">118.00</cbc:PayableAmount>")
        .replace("<cbc:Name>WAN link</cbc:Name>", "<cbc:Name> </cbc:Name>")
        .replace(currency, "")
        .replace(issue_date, &format!("{currency}{issue_date}"));
    assert_ne!(tampered, xml, "the replacements must hit");
    let broken = broken_rules(&parse(&tampered));
    assert!(
        broken.iter().any(|b| b.starts_with("BR-CO-16")),
        "{broken:?}"
    );
    assert!(broken.iter().any(|b| b.starts_with("BR-25")), "{broken:?}");
    let misplaced = "UBL-order: cbc:IssueDate after cbc:DocumentCurrencyCode in Invoice";
    assert!(broken.iter().any(|b| b == misplaced), "{broken:?}");
}

#[test]
fn incomplete_documents_are_refused() {
    let eur = cur("EUR");
    let mut doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line("  ", dec!(1), "1.00", eur, standard(dec!(19)))],
    ));
    let err = ubl::write(&doc, Vec::new()).expect_err("blank item name");
    let blank_name = "invoice.lines[0].description";
    assert!(
        matches!(&err, BillingError::Document { field, .. } if field == blank_name),
        "{err}"
    );
    doc.invoice = compose(
        DocumentKind::Invoice,
        eur,
        vec![line("ok", dec!(1), "1.00", eur, standard(dec!(19)))],
    );
    doc.buyer.country = "Germany".into();
    let err = ubl::write(&doc, Vec::new()).expect_err("bad country");
    assert!(
        matches!(&err, BillingError::Document { field, .. } if field == "buyer.country"),
        "{err}"
    );
}

/// An output that fails every write, like a full disk.
#[derive(Debug)]
struct FullDisk;

impl std::io::Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("no space left on device"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_billing_errors() {
    let eur = cur("EUR");
    let doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line("WAN link", dec!(1), "1.00", eur, standard(dec!(19)))],
    ));
    let err = ubl::write(&doc, FullDisk).expect_err("cannot write");
    let BillingError::Export { format, reason } = err else {
        panic!("not an export error: {err}");
    };
    assert_eq!(format, "UBL");
    assert!(reason.contains("no space left"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// Property: every document l2c can compose exports as a document that passes every rule
// ---------------------------------------------------------------------------------------------

fn arb_rate() -> impl Strategy<Value = TaxRate> {
    let percents = vec![
        dec!(19),
        dec!(7),
        dec!(20),
        dec!(5.5),
        dec!(21),
        dec!(25),
        dec!(8.1),
    ];
    let others = vec![
        TaxCategory::ZeroRated,
        TaxCategory::Exempt,
        TaxCategory::ReverseCharge,
        TaxCategory::IntraCommunity,
        TaxCategory::Export,
        TaxCategory::OutOfScope,
    ];
    prop_oneof![
        4 => prop::sample::select(percents).prop_map(standard),
        1 => prop::sample::select(others).prop_map(zero_rate),
    ]
}

/// Names and descriptions, with the XML special characters and some non-ASCII.
fn arb_text() -> impl Strategy<Value = String> {
    "[A-Za-zäöü][A-Za-z0-9 <&>\"'äéß/]{0,15}"
}

fn arb_line(currency: Currency, rounding: Rounding) -> impl Strategy<Value = InvoiceLine> {
    let with_period = prop::option::of((0i64..27, 1i64..28));
    (
        arb_text(),
        -3i64..=5,
        0i64..2_000_000,
        arb_rate(),
        with_period,
    )
        .prop_map(move |(text, qty, minor, rate, period)| {
            let price = Money::new(Decimal::new(minor, currency.minor_units()), currency);
            let period = period.map(|(from, days)| {
                let start = d("2026-02-01") + chrono::Duration::days(from);
                Period::new(start, start + chrono::Duration::days(days)).expect("non-empty")
            });
            InvoiceLine::new(text, period, Decimal::from(qty), price, rate, rounding)
                .expect("valid line")
        })
}

fn arb_document() -> impl Strategy<Value = IssuedDocument> {
    let setup = (
        prop::sample::select(vec!["EUR", "USD", "GBP", "CHF", "JPY", "BHD", "SEK"]),
        prop::sample::select(vec![Rounding::HalfAwayFromZero, Rounding::HalfEven]),
    );
    setup.prop_flat_map(|(code, rounding)| {
        let currency = cur(code);
        (
            prop::collection::vec(arb_line(currency, rounding), 1..8),
            prop::sample::select(vec![DocumentKind::Invoice, DocumentKind::CreditNote]),
            0i64..50_000,
            (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
            (arb_text(), arb_text()),
        )
            .prop_map(
                move |(lines, kind, prepaid, (due, terms, period, preceding), (seller, buyer))| {
                    let prepaid =
                        Money::new(Decimal::new(prepaid, currency.minor_units()), currency);
                    let invoice = Invoice::compose(kind, currency, lines, prepaid, rounding)
                        .expect("composes");
                    let mut doc = issued(invoice);
                    doc.seller.name = seller;
                    doc.buyer.name = buyer;
                    doc.buyer.vat_id = None;
                    doc.due_date = due.then(|| d("2026-03-03"));
                    doc.payment_terms = (terms || !due).then(|| "Net 30 days".into());
                    if !period {
                        doc.period = None;
                    }
                    doc.preceding = preceding.then(|| PrecedingInvoice {
                        number: "INV-2025-000007".into(),
                        issue_date: d("2025-12-01"),
                    });
                    doc
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_composed_document_passes_every_rule(doc in arb_document()) {
        let xml = xml_of(&doc);
        let root = parse(&xml);
        let broken = broken_rules(&root);
        prop_assert!(broken.is_empty(), "broken rules: {:#?}\n{}", broken, xml);
        let n = names(&root);
        prop_assert_eq!(root.all(n.line).count(), doc.invoice.lines().len());
        let seller = "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity";
        let seller_name = root.text_at(&format!("{seller}/cbc:RegistrationName"));
        prop_assert_eq!(seller_name, Some(doc.seller.name.as_str()));
        let names_back = texts(root.all(n.line), "cac:Item/cbc:Name");
        let names_in: Vec<&str> = doc.invoice.lines().iter().map(|l| l.description()).collect();
        prop_assert_eq!(names_back, names_in);
    }
}
