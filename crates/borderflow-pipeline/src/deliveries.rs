//! The deliveries in a store, listed and, to correct a wrong one, taken out
//! (`borderflow deliveries`). A delivery is one ingest run's contribution: its file of each
//! date it gave rows to, and the input contents it read (docs/ingest.md, "Deliveries").

use chrono::NaiveDate;

use borderflow_core::StateLayout;
use borderflow_presence::{Delivery, PresenceStore};

use crate::{IngestError, Pipeline};

/// A delivery with the dates it gave rows to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryListing {
    /// The delivery as the register holds it.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The dates it gave rows to that the store still holds.
    pub dates: Vec<NaiveDate>,
}

/// Every delivery of the pipeline's store, oldest first.
pub fn list(p: &Pipeline) -> Result<Vec<DeliveryListing>, IngestError> {
    crate::binding::check(p)?;
    let (store, _) = PresenceStore::existing(&StateLayout::new(&p.state_dir).presence())?;
    let register = store.register()?;
    register
        .deliveries
        .into_iter()
        .map(|d| {
            let dates = store.dates_of(&d.id)?;
            Ok(DeliveryListing { delivery: d, dates })
        })
        .collect()
}

/// Takes the delivery `id` out of the pipeline's store, under the state directory's lock:
/// its file of every date, and its contents from the register. Returns the dates it had given
/// rows to.
pub fn remove(p: &Pipeline, id: &str) -> Result<Vec<NaiveDate>, IngestError> {
    crate::binding::check(p)?;
    let lock = crate::StateLock::for_run(&p.state_dir)?;
    let layout = StateLayout::new(&p.state_dir);
    lock.clear_leftovers(&layout)?;
    let (store, _) = PresenceStore::existing(&layout.presence())?;
    store.roll_back()?;
    Ok(store.remove_delivery(id)?)
}
