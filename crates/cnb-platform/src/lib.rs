//! Phase inputs: flags, env, defaults per Platform API; exit codes; logging.
