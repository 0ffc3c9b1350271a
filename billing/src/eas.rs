//! The Peppol Electronic Address Scheme (EAS) codes an endpoint id may name
//! (PEPPOL-EN16931-CL008 on `cbc:EndpointID/@schemeID`): a Peppol access point refuses a
//! document whose seller or buyer address is in a scheme outside the list.

/// The EAS codes Peppol accepts.
const EAS_CODES: &[&str] = &["0088", "0184", "0192", "0204", "0208", "9930"];

/// Whether `code` is in the Peppol EAS code list.
pub fn is_eas_code(code: &str) -> bool {
    EAS_CODES.contains(&code)
}
