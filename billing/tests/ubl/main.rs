//! The UBL export, checked from the XML alone.
//!
//! Every test writes an [`IssuedDocument`], parses the bytes back with quick-xml into a small
//! element tree (namespaces resolved, entities unescaped) and runs [`broken_rules`] on that
//! tree: EN 16931 BR-01..BR-16, the line rules BR-21..BR-27, the totals rules
//! BR-CO-10..BR-CO-17, and the few Peppol BIS 3 and l2c rules that concern what the writer
//! controls (identifiers, exemption reasons, amount decimals, UBL element order). The rules
//! never look at the Rust values the document was built from.
//!
//! Layout: `tree` (the parsed element tree), `rules` (the rules), `fixtures` (documents to
//! write), and the tests in `documents`, `refusals` and `property`.

mod documents;
mod fixtures;
mod property;
mod refusals;
mod rules;
mod tree;
