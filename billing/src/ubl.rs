//! UBL 2.1 export: one [`IssuedDocument`] as a Peppol BIS Billing 3.0 invoice or credit note.
//!
//! This is the file finance sends over Peppol or uploads to a buyer's portal. [`write`] takes an
//! issued document and streams one XML document to any `std::io::Write`:
//!
//! - an invoice becomes `<Invoice>` (type code 380) with `<cac:InvoiceLine>`s, a credit note
//!   becomes `<CreditNote>` (type code 381) with `<cac:CreditNoteLine>`s;
//! - elements appear in the order the UBL 2.1 schema's sequences prescribe, which validators
//!   enforce (a misplaced element fails XSD validation before any business rule runs);
//! - every amount carries `currencyID` and exactly the currency's minor-unit decimals
//!   (`1250.00` EUR, `1250` JPY), printed from the `Decimal`, never through a float;
//! - text is escaped by quick-xml, so names such as `Smith & Sons <Ltd>` are safe;
//! - no element is ever empty (PEPPOL-EN16931-R008): an optional value that is blank is left
//!   out, and so is a group that would have nothing in it;
//! - the seller's and buyer's contact (BG-6 / BG-9) follow their legal entity, and the seller's
//!   payment means (BG-16, with the account credited, BG-17) are written on invoices and credit
//!   notes alike, with the document number as remittance information (BT-83);
//! - where seller and buyer are both in Germany, a "not subject to VAT" breakdown states its
//!   rate as 0, which Peppol's German rule DE-R-014 requires of every breakdown (EN 16931 lets
//!   category O leave it out, and l2c does everywhere else; lines never carry it, BR-O-05).
//!
//! Nothing is computed here: lines, VAT breakdown and totals come from [`Invoice`] as composed,
//! so the XML shows exactly the amounts l2c booked. The tests in `billing/tests/ubl/` parse the
//! output back and check, on the XML alone, EN 16931 BR-01..BR-16, the line rules BR-21..BR-27,
//! the totals rules BR-CO-10..BR-CO-17, Peppol BIS Billing 3.0's own rules and, for German
//! seller and buyer, Peppol's German national rules (DE-R-*).
//!
//! [`Invoice`]: crate::Invoice

use crate::printed::{amount_text, filled, plain_decimal};
use crate::{
    BillingError, Contact, Currency, DocumentKind, InvoiceLine, IssuedDocument, Money, Party,
    PaymentMeans, Period, TaxCategory, TaxRate, TaxSubtotal,
};
use base64::Engine as _;
use chrono::NaiveDate;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::io;

/// BT-24: the specification identifier Peppol BIS Billing 3.0 requires (PEPPOL-EN16931-R004).
pub const CUSTOMIZATION_ID: &str =
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0";
/// BT-23: the Peppol billing business process.
pub const PROFILE_ID: &str = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0";

const NS_INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
const NS_CREDIT_NOTE: &str = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

/// UN/ECE Rec 20 "one": l2c bills subscriptions and one-time charges, counted in units.
const UNIT_CODE: &str = "C62";

/// Writes `doc` as a UBL 2.1 Peppol BIS Billing 3.0 document to `out` and hands `out` back.
///
/// Refuses a document that [`IssuedDocument::check`] rejects (the XML would break EN 16931),
/// or whose amounts are in another currency or not rounded to the minor unit (which only a
/// hand-edited, deserialized invoice can have). An I/O failure is [`BillingError::Export`].
pub fn write<W: io::Write>(doc: &IssuedDocument, out: W) -> Result<W, BillingError> {
    doc.check()?;
    let mut ubl = Ubl {
        xml: Writer::new_with_indent(out, b' ', 2),
        currency: doc.invoice.currency(),
        kind: Kind::of(doc.invoice.kind()),
        german_domestic: doc.seller.country == "DE" && doc.buyer.country == "DE",
    };
    ubl.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    ubl.document(doc)?;
    Ok(ubl.xml.into_inner())
}

/// The names that differ between the two UBL document types.
#[derive(Clone, Copy)]
struct Kind {
    root: &'static str,
    namespace: &'static str,
    type_code_element: &'static str,
    type_code: &'static str,
    line: &'static str,
    quantity: &'static str,
}

impl Kind {
    fn of(kind: DocumentKind) -> Self {
        match kind {
            DocumentKind::Invoice => Kind {
                root: "Invoice",
                namespace: NS_INVOICE,
                type_code_element: "cbc:InvoiceTypeCode",
                type_code: "380",
                line: "cac:InvoiceLine",
                quantity: "cbc:InvoicedQuantity",
            },
            DocumentKind::CreditNote => Kind {
                root: "CreditNote",
                namespace: NS_CREDIT_NOTE,
                type_code_element: "cbc:CreditNoteTypeCode",
                type_code: "381",
                line: "cac:CreditNoteLine",
                quantity: "cbc:CreditedQuantity",
            },
        }
    }

    fn is_credit_note(self) -> bool {
        self.root == "CreditNote"
    }
}

/// The XML writer with the document's currency and kind; every method writes one UBL
/// element (with its children) at the writer's current position.
struct Ubl<W: io::Write> {
    xml: Writer<W>,
    currency: Currency,
    kind: Kind,
    /// Seller and buyer both in Germany: Peppol's German rules (DE-R-*) apply.
    german_domestic: bool,
}

/// The one place an I/O error becomes a billing error.
fn export_error(e: io::Error) -> BillingError {
    BillingError::Export {
        format: "UBL",
        reason: e.to_string(),
    }
}

impl<W: io::Write> Ubl<W> {
    fn event(&mut self, event: Event<'_>) -> Result<(), BillingError> {
        self.xml.write_event(event).map_err(export_error)
    }

    /// `<name attrs...>` + whatever `children` writes + `</name>`.
    fn group_with(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        children: impl FnOnce(&mut Self) -> Result<(), BillingError>,
    ) -> Result<(), BillingError> {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        self.event(Event::Start(start))?;
        children(self)?;
        self.event(Event::End(BytesEnd::new(name)))
    }

    fn group(
        &mut self,
        name: &str,
        children: impl FnOnce(&mut Self) -> Result<(), BillingError>,
    ) -> Result<(), BillingError> {
        self.group_with(name, &[], children)
    }

    /// `<name attrs...>text</name>`, with `text` escaped.
    fn text_with(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        text: &str,
    ) -> Result<(), BillingError> {
        self.xml
            .create_element(name)
            .with_attributes(attrs.iter().copied())
            .write_text_content(BytesText::new(text))
            .map(|_| ())
            .map_err(export_error)
    }

    fn text(&mut self, name: &str, text: &str) -> Result<(), BillingError> {
        self.text_with(name, &[], text)
    }

    fn date(&mut self, name: &str, date: NaiveDate) -> Result<(), BillingError> {
        self.text(name, &date.format("%Y-%m-%d").to_string())
    }

    fn amount(&mut self, name: &str, money: Money) -> Result<(), BillingError> {
        let text = amount_text(money, self.currency)?;
        self.text_with(name, &[("currencyID", self.currency.code())], &text)
    }

    /// The root element and its children in the UBL 2.1 `Invoice` / `CreditNote` sequence.
    fn document(&mut self, doc: &IssuedDocument) -> Result<(), BillingError> {
        let attrs = [
            ("xmlns", self.kind.namespace),
            ("xmlns:cac", NS_CAC),
            ("xmlns:cbc", NS_CBC),
        ];
        self.group_with(self.kind.root, &attrs, |u| {
            u.header(doc)?;
            u.party("cac:AccountingSupplierParty", &doc.seller)?;
            u.party("cac:AccountingCustomerParty", &doc.buyer)?;
            u.payment(doc)?;
            u.tax_total(doc.invoice.totals().tax_total, doc.invoice.tax_subtotals())?;
            u.monetary_total(doc)?;
            for (position, line) in doc.invoice.lines().iter().enumerate() {
                u.line(position + 1, line)?;
            }
            Ok(())
        })
    }

    /// Identifiers, dates, currency and references: everything before the parties.
    fn header(&mut self, doc: &IssuedDocument) -> Result<(), BillingError> {
        self.text("cbc:CustomizationID", CUSTOMIZATION_ID)?;
        self.text("cbc:ProfileID", PROFILE_ID)?;
        self.text("cbc:ID", &doc.number)?;
        self.date("cbc:IssueDate", doc.issue_date)?;
        // UBL 2.1 has cbc:DueDate on Invoice only; a credit note's goes into PaymentMeans.
        if let (Some(due), false) = (doc.due_date, self.kind.is_credit_note()) {
            self.date("cbc:DueDate", due)?;
        }
        self.text(self.kind.type_code_element, self.kind.type_code)?;
        self.text("cbc:DocumentCurrencyCode", self.currency.code())?;
        self.text("cbc:BuyerReference", &doc.buyer_reference)?;
        if let Some(period) = &doc.period {
            self.period(period)?;
        }
        // BG-3 is optional, BT-25 is not (BR-55): a reference without a number is left out.
        if let Some(preceding) = doc
            .preceding
            .as_ref()
            .filter(|p| filled(&p.number).is_some())
        {
            self.group("cac:BillingReference", |u| {
                u.group("cac:InvoiceDocumentReference", |u| {
                    u.text("cbc:ID", &preceding.number)?;
                    u.date("cbc:IssueDate", preceding.issue_date)
                })
            })?;
        }
        self.embedded_pdf(doc)
    }

    /// BG-24: the document's own PDF (BT-125), so a buyer's system that shows no UBL still
    /// has the invoice as a person reads it, from the same [`IssuedDocument`].
    fn embedded_pdf(&mut self, doc: &IssuedDocument) -> Result<(), BillingError> {
        let pdf = crate::pdf::to_vec(doc)?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(pdf);
        let filename = format!("{}.pdf", doc.number);
        let what = match self.kind.is_credit_note() {
            true => "Credit note as PDF",
            false => "Invoice as PDF",
        };
        self.group("cac:AdditionalDocumentReference", |u| {
            u.text("cbc:ID", &doc.number)?;
            u.text("cbc:DocumentDescription", what)?;
            u.group("cac:Attachment", |u| {
                let attrs = [
                    ("mimeCode", "application/pdf"),
                    ("filename", filename.as_str()),
                ];
                u.text_with("cbc:EmbeddedDocumentBinaryObject", &attrs, &encoded)
            })
        })
    }

    /// BG-14 / BG-26: a period prints its last day, because [`Period`] is half-open.
    fn period(&mut self, period: &Period) -> Result<(), BillingError> {
        self.group("cac:InvoicePeriod", |u| {
            u.date("cbc:StartDate", period.start())?;
            u.date("cbc:EndDate", period.last_day())
        })
    }

    /// BG-4 / BG-7 with the electronic address Peppol routes on.
    fn party(&mut self, role: &str, party: &Party) -> Result<(), BillingError> {
        self.group(role, |u| {
            u.group("cac:Party", |u| {
                let scheme = [("schemeID", party.endpoint_scheme.as_str())];
                u.text_with("cbc:EndpointID", &scheme, &party.endpoint_id)?;
                u.group("cac:PostalAddress", |u| {
                    u.text("cbc:StreetName", &party.street)?;
                    u.text("cbc:CityName", &party.city)?;
                    u.text("cbc:PostalZone", &party.postcode)?;
                    u.group("cac:Country", |u| {
                        u.text("cbc:IdentificationCode", &party.country)
                    })
                })?;
                if let Some(vat_id) = party.vat_id.as_deref().and_then(filled) {
                    u.group("cac:PartyTaxScheme", |u| {
                        u.text("cbc:CompanyID", vat_id)?;
                        u.tax_scheme()
                    })?;
                }
                u.group("cac:PartyLegalEntity", |u| {
                    u.text("cbc:RegistrationName", &party.name)
                })?;
                match &party.contact {
                    Some(contact) => u.contact(contact),
                    None => Ok(()),
                }
            })
        })
    }

    /// BG-6 / BG-9: whichever of name, telephone and e-mail are filled, in the schema's order;
    /// nothing at all when none is.
    fn contact(&mut self, contact: &Contact) -> Result<(), BillingError> {
        let fields = [
            ("cbc:Name", filled(&contact.name)),
            ("cbc:Telephone", filled(&contact.phone)),
            ("cbc:ElectronicMail", filled(&contact.email)),
        ];
        if fields.iter().all(|(_, value)| value.is_none()) {
            return Ok(());
        }
        self.group("cac:Contact", |u| {
            for (name, value) in fields {
                if let Some(value) = value {
                    u.text(name, value)?;
                }
            }
            Ok(())
        })
    }

    /// BG-16 payment instructions and BT-20 payment terms. The seller's payment means go on
    /// invoices and credit notes alike; a credit note also carries its due date (BT-9) here,
    /// since UBL 2.1 has no `cbc:DueDate` on a `CreditNote`.
    fn payment(&mut self, doc: &IssuedDocument) -> Result<(), BillingError> {
        let credit_note_due = doc.due_date.filter(|_| self.kind.is_credit_note());
        match &doc.seller.payment {
            Some(means) => self.payment_means(means, credit_note_due, &doc.number)?,
            None => {
                if let Some(due) = credit_note_due {
                    self.group("cac:PaymentMeans", |u| {
                        // BR-49 requires a means code; without the seller's payment means
                        // l2c says "instrument not defined" (UNCL4461 code 1), which needs
                        // no account (BR-61 asks one of 30 and 58 only).
                        u.text("cbc:PaymentMeansCode", "1")?;
                        u.date("cbc:PaymentDueDate", due)
                    })?;
                }
            }
        }
        if let Some(terms) = doc.payment_terms.as_deref().and_then(filled) {
            self.group("cac:PaymentTerms", |u| u.text("cbc:Note", terms))?;
        }
        Ok(())
    }

    /// BG-16 with BG-17, in the UBL 2.1 `PaymentMeans` sequence: code (BT-81, with its name,
    /// BT-82), a credit note's due date, remittance information (BT-83: the document number, so
    /// the payment names what it pays), and the account credited (BT-84..BT-86).
    fn payment_means(
        &mut self,
        means: &PaymentMeans,
        due: Option<NaiveDate>,
        remittance: &str,
    ) -> Result<(), BillingError> {
        self.group("cac:PaymentMeans", |u| {
            let name = [("name", means.code_name())];
            u.text_with("cbc:PaymentMeansCode", &name, &means.code)?;
            if let Some(due) = due {
                u.date("cbc:PaymentDueDate", due)?;
            }
            if let Some(remittance) = filled(remittance) {
                u.text("cbc:PaymentID", remittance)?;
            }
            // BR-50: a credit transfer group always has its account, so none without one.
            let Some(account) = filled(&means.account) else {
                return Ok(());
            };
            u.group("cac:PayeeFinancialAccount", |u| {
                u.text("cbc:ID", account)?;
                if let Some(holder) = means.account_name.as_deref().and_then(filled) {
                    u.text("cbc:Name", holder)?;
                }
                if let Some(bic) = means.bic.as_deref().and_then(filled) {
                    u.group("cac:FinancialInstitutionBranch", |u| u.text("cbc:ID", bic))?;
                }
                Ok(())
            })
        })
    }

    /// BG-23: one TaxTotal with one TaxSubtotal per (category, rate).
    fn tax_total(&mut self, total: Money, subtotals: &[TaxSubtotal]) -> Result<(), BillingError> {
        self.group("cac:TaxTotal", |u| {
            u.amount("cbc:TaxAmount", total)?;
            for subtotal in subtotals {
                u.group("cac:TaxSubtotal", |u| {
                    u.amount("cbc:TaxableAmount", subtotal.taxable)?;
                    u.amount("cbc:TaxAmount", subtotal.tax)?;
                    u.tax_category("cac:TaxCategory", subtotal.rate, true)
                })?;
            }
            Ok(())
        })
    }

    /// A `TaxCategory` (breakdown) or `ClassifiedTaxCategory` (line); only the breakdown
    /// carries the exemption reason, as Peppol places it.
    fn tax_category(
        &mut self,
        name: &str,
        rate: TaxRate,
        breakdown: bool,
    ) -> Result<(), BillingError> {
        self.group(name, |u| {
            let category = rate.category();
            u.text("cbc:ID", category.code())?;
            // BR-O-05: a "not subject to VAT" line has no rate at all, not 0%; its breakdown
            // has none either, except that DE-R-014 wants a rate in every breakdown between
            // German parties, where it is 0.
            if category != TaxCategory::OutOfScope {
                u.text("cbc:Percent", &rate.percent().normalize().to_string())?;
            } else if breakdown && u.german_domestic {
                u.text("cbc:Percent", "0")?;
            }
            if let (Some(reason), true) = (exemption(category), breakdown) {
                if let Some(code) = reason.code {
                    u.text("cbc:TaxExemptionReasonCode", code)?;
                }
                u.text("cbc:TaxExemptionReason", reason.text)?;
            }
            u.tax_scheme()
        })
    }

    fn tax_scheme(&mut self) -> Result<(), BillingError> {
        self.group("cac:TaxScheme", |u| u.text("cbc:ID", "VAT"))
    }

    /// BG-22, in the schema's order.
    fn monetary_total(&mut self, doc: &IssuedDocument) -> Result<(), BillingError> {
        let t = doc.invoice.totals();
        self.group("cac:LegalMonetaryTotal", |u| {
            u.amount("cbc:LineExtensionAmount", t.line_net_total)?;
            u.amount("cbc:TaxExclusiveAmount", t.tax_exclusive)?;
            u.amount("cbc:TaxInclusiveAmount", t.tax_inclusive)?;
            u.amount("cbc:AllowanceTotalAmount", t.allowance_total)?;
            u.amount("cbc:ChargeTotalAmount", t.charge_total)?;
            u.amount("cbc:PrepaidAmount", t.prepaid)?;
            u.amount("cbc:PayableRoundingAmount", t.rounding_amount)?;
            u.amount("cbc:PayableAmount", t.payable)
        })
    }

    /// BG-25: one line; a credit inside an invoice keeps its negative quantity and net and
    /// its positive price (BR-27).
    fn line(&mut self, position: usize, line: &InvoiceLine) -> Result<(), BillingError> {
        self.group(self.kind.line, |u| {
            u.text("cbc:ID", &position.to_string())?;
            let quantity = plain_decimal(line.quantity());
            u.text_with(u.kind.quantity, &[("unitCode", UNIT_CODE)], &quantity)?;
            u.amount("cbc:LineExtensionAmount", line.net())?;
            if let Some(period) = line.period() {
                u.period(&period)?;
            }
            u.group("cac:Item", |u| {
                u.text("cbc:Name", line.description())?;
                u.tax_category("cac:ClassifiedTaxCategory", line.tax(), false)
            })?;
            u.group("cac:Price", |u| {
                u.amount("cbc:PriceAmount", line.unit_price())
            })
        })
    }
}

/// Why a non-standard category carries no VAT (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10,
/// BR-O-10 require a reason text or code).
struct Exemption {
    code: Option<&'static str>,
    text: &'static str,
}

/// The VATEX code where one code covers the whole category; exempt supplies (E) depend on
/// the article of the VAT directive that applies, which l2c does not record, so E has a text
/// only.
fn exemption(category: TaxCategory) -> Option<Exemption> {
    let (code, text) = match category {
        TaxCategory::Standard | TaxCategory::ZeroRated => return None,
        TaxCategory::Exempt => (None, "Exempt from VAT"),
        TaxCategory::ReverseCharge => (Some("VATEX-EU-AE"), "Reverse charge"),
        TaxCategory::IntraCommunity => (Some("VATEX-EU-IC"), "Intra-community supply"),
        TaxCategory::Export => (Some("VATEX-EU-G"), "Export outside the EU"),
        TaxCategory::OutOfScope => (Some("VATEX-EU-O"), "Not subject to VAT"),
    };
    Some(Exemption { code, text })
}
