//! Job kinds: one file per kind, each a [`JobHandler`](crate::JobHandler). [`builtin`] is the
//! set that needs nothing; the `aae` binary adds [`CampaignJob`], which needs the campaign
//! records, the storage service and the model router.

mod campaign;
mod noop;

pub use campaign::{CAMPAIGN_KIND, CampaignJob, CampaignJobInput};
pub use noop::Noop;

use crate::Handlers;

/// The handlers every `aae worker` runs.
pub fn builtin() -> Handlers {
    Handlers::new().with(Noop)
}
