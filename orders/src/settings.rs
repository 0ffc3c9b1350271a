//! The order desk's rules that settings may change (the application reads them from its
//! settings file).

use rust_decimal::Decimal;

/// The order desk's rules that settings may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSettings {
    /// Orders whose monthly recurring value exceeds this (in the order's currency) need
    /// commercial approval.
    pub commercial_approval_threshold: Decimal,
}

impl Default for OrderSettings {
    fn default() -> Self {
        OrderSettings {
            commercial_approval_threshold: Decimal::from(1000),
        }
    }
}
