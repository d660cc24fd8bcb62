//! `POST /api/sites/{id}/custom-domain` `{"domain": "www.example.lu"}`: an
//! operator sets a customer's own domain. Its CNAME is looked up at once
//! (with the tech scan's resolver settings); the domain is stored either
//! way, but served only when the CNAME points at the site's host or at
//! `web.sites_domain`. Posting again re-checks it.

use axum::{
    Extension, Json,
    extract::{Path, State},
};
use prospector_jobs::{
    billing::custom_domain::{self, DomainCheck, DomainError},
    tech_scan::{
        ScanTech,
        fetch::{AddressGuard, GuardedResolver},
    },
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::console::{
    Staff,
    activity::{self, Action},
};

use super::{AdminError, AdminState};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDomain {
    /// The customer's host name.
    pub domain: String,
}

/// `POST /api/sites/{id}/custom-domain`
pub async fn set(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
    Json(body): Json<CustomDomain>,
) -> Result<Json<Value>, AdminError> {
    let site_id =
        Uuid::parse_str(&id).map_err(|_| AdminError::BadRequest(format!("`{id}` is not a site id")))?;
    let sites_domain = &state.settings.web.sites_domain;
    let domain = custom_domain::normalise(&body.domain, sites_domain)
        .map_err(|e| AdminError::Unprocessable(e.to_string()))?;
    let Some(subdomain) = custom_domain::subdomain(&state.pool, site_id).await? else {
        return Err(AdminError::NotFound(format!("site {site_id} does not exist")));
    };
    let expected = custom_domain::targets(&subdomain, sites_domain);
    let resolver = GuardedResolver::new(
        &state.settings.of::<ScanTech>().dns(),
        Vec::new(),
        AddressGuard::new(Vec::new()),
    )
    .map_err(AdminError::Internal)?;
    let check = custom_domain::check(resolver.dns(), &domain, &expected)
        .await
        .map_err(|e| match e {
            DomainError::Lookup { .. } => AdminError::Internal(e.to_string()),
            other => AdminError::Unprocessable(other.to_string()),
        })?;
    let verified = check == DomainCheck::Verified;
    custom_domain::save(&state.pool, site_id, &domain, verified).await?;
    activity::record(
        &state.pool,
        &staff,
        Action {
            action: "custom_domain.set",
            entity_type: "site",
            entity_id: Some(site_id),
            details: json!({ "domain": domain, "verified": verified }),
        },
    )
    .await?;
    tracing::info!(site.id = %site_id, verified, "custom domain set by operator");
    Ok(Json(match check {
        DomainCheck::Verified => json!({ "domain": domain, "verified": true }),
        DomainCheck::NotPointed { found } => json!({
            "domain": domain,
            "verified": false,
            "cname": found,
            "expected": expected,
            "instruction": format!(
                "add a CNAME record for {domain} pointing at {}, then post again; until then the domain is not served",
                expected[0]
            ),
        }),
    }))
}
