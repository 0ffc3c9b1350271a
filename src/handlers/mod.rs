//! The step handlers l2c registers with the engine: the simulated network, webhooks
//! configured in the settings (`webhook.<name>`), and from l2c-invoicing billing activation
//! and scheduled billing runs. `workflow check` checks definitions against
//! [`builtin_names`] (webhooks depend on the settings).

pub mod network;
pub mod webhook;

use l2c_engine::handler::NOOP;

/// Every handler name l2c registers.
pub fn builtin_names() -> Vec<&'static str> {
    let mut names = vec![NOOP];
    names.extend(network::NAMES);
    names.extend(l2c_invoicing::activation::NAMES);
    names.push(l2c_invoicing::schedule::HANDLER);
    names
}
