//! The Peppol Electronic Address Scheme (EAS) codes an endpoint id may name
//! (PEPPOL-EN16931-CL008 on `cbc:EndpointID/@schemeID`): a Peppol access point refuses a
//! document whose seller or buyer address is in a scheme outside the list.

/// The EAS codes Peppol accepts, in ascending order: the list PEPPOL-EN16931-CL008 checks in
/// Peppol BIS Billing 3.0 release 3.0.21 (May 2026). It is narrower than the CEF EAS code list
/// EN 16931 refers to: codes the CEF list still has (such as `0037`, `0147`, `0154`, `0170`,
/// `0177`, `0193`, `0194`, `0202`, `0203`, `0205`, `0212`, `0213`, `0215`, `0217`, `AN`, `AQ`,
/// `AS`, `AU`, `EM`) are refused by a Peppol validator, so they are not here.
const EAS_CODES: [&str; 83] = [
    "0002", "0007", "0009", "0060", "0088", "0096", "0097", "0106", "0130", "0135", "0142", "0151",
    "0158", "0183", "0184", "0188", "0190", "0191", "0192", "0195", "0196", "0198", "0199", "0200",
    "0201", "0204", "0208", "0209", "0210", "0211", "0216", "0218", "0221", "0225", "0230", "0235",
    "0240", "0242", "0244", "0245", "0246", "0248", "9910", "9913", "9914", "9915", "9918", "9919",
    "9920", "9922", "9923", "9924", "9925", "9926", "9927", "9928", "9929", "9930", "9931", "9932",
    "9933", "9934", "9935", "9936", "9937", "9938", "9939", "9940", "9941", "9942", "9943", "9944",
    "9945", "9946", "9947", "9948", "9949", "9950", "9951", "9952", "9953", "9957", "9959",
];

/// Whether `code` is in the Peppol EAS code list.
pub fn is_eas_code(code: &str) -> bool {
    EAS_CODES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_without_duplicates() {
        assert!(EAS_CODES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn codes_peppol_routes_on_are_in_and_others_are_out() {
        for code in ["0002", "0088", "0204", "0208", "0246", "9930", "9959"] {
            assert!(is_eas_code(code), "{code}");
        }
        for code in ["", "88", "0037", "0147", "9901", "9955", "EM", "0088 "] {
            assert!(!is_eas_code(code), "{code:?}");
        }
    }
}
