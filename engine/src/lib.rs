//! l2c-engine
