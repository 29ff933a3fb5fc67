//! Job kinds: one file per kind, each a [`JobHandler`](crate::JobHandler). [`builtin`] is the
//! set the `aae` binary's workers register.

mod noop;

pub use noop::Noop;

use crate::Handlers;

/// The handlers every `aae worker` runs.
pub fn builtin() -> Handlers {
    Handlers::new().with(Noop)
}
