//! placeholder until the registry fixture lands
