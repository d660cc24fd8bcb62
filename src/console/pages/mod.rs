//! The console's pages, one module per section. Each module's `routes()`
//! declares its routes and the role each needs.

mod activity;
mod users;

use super::{Routes, Surface};
use crate::admin::AdminState;

/// Every page route.
pub fn routes() -> Routes<AdminState> {
    Routes::new(Surface::Console)
        .merge(activity::routes())
        .merge(users::routes())
}
