//! The operators' audit trail (`activity_log`): every console or API action
//! that changes something is written with who, what and when, in the
//! transaction of the change when there is one.

use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Staff, staff::Via};

/// One action to record.
#[derive(Debug)]
pub struct Action<'a> {
    /// What was done, `noun.verb` (`job.retry`, `autopilot.update`).
    pub action: &'a str,
    /// The kind of thing acted on (`job`, `site_version`, `template`).
    pub entity_type: &'a str,
    /// Its id, when it has a UUID.
    pub entity_id: Option<Uuid>,
    /// Anything else worth keeping (a job's id, the new settings).
    pub details: serde_json::Value,
}

/// Write `action` by `staff`. The environment token is recorded as the
/// `system` actor; users by id, with their e-mail and how they signed in
/// in the details.
pub async fn record(db: impl PgExecutor<'_>, staff: &Staff, action: Action<'_>) -> Result<(), sqlx::Error> {
    let actor_type = if staff.via == Via::EnvToken {
        "system"
    } else {
        "user"
    };
    let mut details = match action.details {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("value".to_owned(), other)]),
    };
    details.insert("by".to_owned(), staff.email.clone().into());
    details.insert(
        "via".to_owned(),
        serde_json::to_value(staff.via).unwrap_or_default(),
    );
    sqlx::query(
        "INSERT INTO activity_log (action, entity_type, entity_id, details, actor_type, actor_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(action.action)
    .bind(action.entity_type)
    .bind(action.entity_id)
    .bind(serde_json::Value::Object(details))
    .bind(actor_type)
    .bind(staff.user_id)
    .execute(db)
    .await?;
    Ok(())
}
