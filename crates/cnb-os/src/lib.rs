//! OS-specific operations: users, ownership, privilege drop.
