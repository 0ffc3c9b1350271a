//! [`Orders`]: what every order operation takes, and the one place that starts the intake.

use crate::intake;
use crate::settings::OrderSettings;
use chrono::NaiveDate;
use l2c_catalog::Catalog;
use l2c_engine::clock::Clock;
use l2c_engine::db::Db;
use l2c_engine::Engine;
use std::sync::Arc;

/// What order operations need: the database, the engine that runs the workflows, the catalog
/// that prices items, the clock and the settings. Cheap to clone.
#[derive(Clone)]
pub struct Orders {
    /// The database.
    pub db: Db,
    /// The workflow engine.
    pub engine: Engine,
    /// The product catalog.
    pub catalog: Arc<Catalog>,
    /// The clock (the sandbox's in tests and demos).
    pub clock: Arc<dyn Clock>,
    /// The desk's rules.
    pub settings: Arc<OrderSettings>,
    pub(crate) intake: intake::Intake,
}

impl Orders {
    /// The order desk on these parts; starts the task that writes placed orders, so it must
    /// be called inside a Tokio runtime.
    pub fn start(
        db: Db,
        engine: Engine,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        settings: OrderSettings,
    ) -> Orders {
        let (intake, writer) = intake::channel();
        let orders = Orders {
            db,
            engine,
            catalog,
            clock,
            settings: Arc::new(settings),
            intake,
        };
        intake::start(orders.clone(), writer);
        orders
    }

    /// Now, in milliseconds since the epoch, on the desk's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Today's date (UTC) on the desk's clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }
}
