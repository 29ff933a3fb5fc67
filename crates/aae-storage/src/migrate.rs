//! Migration (in progress)
