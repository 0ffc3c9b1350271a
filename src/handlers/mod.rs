//! The step handlers l2c registers with the engine: the simulated network, billing
//! activation, scheduled billing runs (`crate::invoicing::schedule`), and webhooks configured in the settings (`webhook.<name>`). `workflow check`
//! checks definitions against [`builtin_names`] (webhooks depend on the settings).

pub mod billing;
pub mod network;
pub mod webhook;

use l2c_engine::handler::NOOP;

/// Every handler name l2c registers.
pub fn builtin_names() -> Vec<&'static str> {
    let mut names = vec![NOOP];
    names.extend(network::NAMES);
    names.extend(billing::NAMES);
    names.push(crate::invoicing::schedule::HANDLER);
    names
}
