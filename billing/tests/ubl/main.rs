//! The UBL export, checked from the XML alone.
//!
//! Every test writes an [`IssuedDocument`], parses the bytes back with quick-xml into a small
//! element tree (namespaces resolved, entities unescaped) and runs [`broken_rules`] on that
//! tree: EN 16931 BR-01..BR-16, the line rules BR-21..BR-27, the totals rules
//! BR-CO-10..BR-CO-17, what the writer controls beyond them (identifiers, exemption reasons,
//! amount decimals, UBL element order), Peppol BIS Billing 3.0's own rules and, where seller
//! and buyer are both in Germany, Peppol's German rules (DE-R-*). The rules never look at the
//! Rust values the document was built from.
//!
//! Layout: `tree` (the parsed element tree), `rules` and `peppol` (the rules), `fixtures`
//! (documents to write), and the tests in `documents`, `caught` (each Peppol rule catching a
//! document that breaks it), `refusals` and `property`.

mod caught;
mod documents;
mod fixtures;
mod peppol;
mod property;
mod refusals;
mod rules;
mod tree;
