//! A customer's own domain: served only once its CNAME points at us.
//!
//! The customer names a host (`www.menuiserie-klein.lu`) and points it, with
//! a CNAME record, at its site's host (`{subdomain}.{sites_domain}`) or at
//! `sites_domain` itself. [`check`] looks the record up; [`save`] stores the
//! domain with the time it was verified, or unverified (it is then not
//! served, see `live_site` in the web role) with what the record says.

use hickory_resolver::{
    TokioResolver,
    proto::rr::{RData, RecordType},
};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Why a domain cannot be checked or stored.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Not a host name.
    #[error("`{0}` is not a host name (letters, digits and hyphens, with dots, e.g. www.example.lu)")]
    Invalid(String),
    /// The site's own host, or under it.
    #[error("`{0}` is under the sites domain: it is the site's own address, not a custom domain")]
    OwnDomain(String),
    /// The lookup failed in a way worth retrying (timeout, SERVFAIL).
    #[error("could not look up the CNAME of {domain}: {detail}")]
    Lookup {
        /// The domain.
        domain: String,
        /// The resolver's message.
        detail: String,
    },
}

/// What the CNAME of a domain says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainCheck {
    /// It points at one of the expected hosts.
    Verified,
    /// It points elsewhere, or has no CNAME (the targets found, maybe none).
    NotPointed {
        /// CNAME targets found.
        found: Vec<String>,
    },
}

/// `domain` lower-cased and without its trailing dot, if it is a host name
/// outside `sites_domain`.
pub fn normalise(domain: &str, sites_domain: &str) -> Result<String, DomainError> {
    let host = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.len() > 253 || !host.contains('.') || !host.split('.').all(label_ok) {
        return Err(DomainError::Invalid(domain.trim().chars().take(100).collect()));
    }
    let sites = sites_domain.trim_end_matches('.').to_ascii_lowercase();
    if host == sites || host.ends_with(&format!(".{sites}")) {
        return Err(DomainError::OwnDomain(host));
    }
    Ok(host)
}

/// The hosts a custom domain may point at for the site at `subdomain`.
pub fn targets(subdomain: &str, sites_domain: &str) -> Vec<String> {
    let sites = sites_domain.trim_end_matches('.').to_ascii_lowercase();
    vec![format!("{}.{sites}", subdomain.to_ascii_lowercase()), sites]
}

/// Look up the CNAME of `domain` and compare it with `expected`.
pub async fn check(
    dns: &TokioResolver,
    domain: &str,
    expected: &[String],
) -> Result<DomainCheck, DomainError> {
    let name = format!("{domain}.");
    let found: Vec<String> = match dns.lookup(name.as_str(), RecordType::CNAME).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::CNAME(target) => Some(target.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
        Err(e) => {
            return Err(DomainError::Lookup {
                domain: domain.to_owned(),
                detail: e.to_string(),
            });
        }
    };
    if found.iter().any(|f| expected.contains(f)) {
        Ok(DomainCheck::Verified)
    } else {
        Ok(DomainCheck::NotPointed { found })
    }
}

/// Store `domain` as the site's custom domain, verified now or not at all.
/// False when the site does not exist.
pub async fn save(
    executor: impl PgExecutor<'_>,
    site_id: Uuid,
    domain: &str,
    verified: bool,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE generated_sites
         SET custom_domain = $2,
             custom_domain_verified_at = CASE WHEN $3 THEN now() END
         WHERE id = $1",
    )
    .bind(site_id)
    .bind(domain)
    .bind(verified)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The site's subdomain, if the site exists.
pub async fn subdomain(executor: impl PgExecutor<'_>, site_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT subdomain FROM generated_sites WHERE id = $1")
        .bind(site_id)
        .fetch_optional(executor)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_normalised_and_the_sites_domain_is_refused() {
        assert_eq!(
            normalise(" WWW.Menuiserie-Klein.lu. ", "sites.localhost").unwrap(),
            "www.menuiserie-klein.lu"
        );
        for bad in ["localhost", "http://x.lu/", "-a.lu", "a..lu", "a b.lu", ""] {
            assert!(
                matches!(normalise(bad, "sites.localhost"), Err(DomainError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            normalise("klein.sites.localhost", "sites.localhost"),
            Err(DomainError::OwnDomain(_))
        ));
        assert_eq!(
            targets("Klein", "sites.localhost."),
            ["klein.sites.localhost", "sites.localhost"]
        );
    }
}
