//! The step handlers l2c registers with the engine: the simulated network and billing
//! activation. `workflow check` checks definitions against [`builtin_names`].

pub mod billing;
pub mod network;

use l2c_engine::handler::NOOP;

/// Every handler name l2c registers.
pub fn builtin_names() -> Vec<&'static str> {
    let mut names = vec![NOOP];
    names.extend(network::NAMES);
    names.extend(billing::NAMES);
    names
}
