//! From a checked listing to what is stored and where it goes next.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    business::{BusinessStatus, DiscoveredBusiness},
    dedup::DedupKeys,
    qualify::{Qualification, QualificationRules, Reason, qualify},
    website::{self, Website},
};
use crate::domain::CountryCode;

/// Where a new lead goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// It has a website of its own: scan it (then audit, then score).
    TechScan,
    /// No website, qualified: build one (recorded until that stage exists).
    BuildSite,
    /// Not qualified: stored with the reasons.
    Unqualified,
    /// Closed: stored, not routed.
    Closed,
}

impl Route {
    /// The stored value (`prospects.pipeline_route`).
    pub fn as_str(self) -> &'static str {
        match self {
            Route::TechScan => "tech_scan",
            Route::BuildSite => "build_site",
            Route::Unqualified => "unqualified",
            Route::Closed => "closed",
        }
    }
}

/// A listing ready to store.
#[derive(Debug, Clone)]
pub struct PreparedLead {
    /// The listing.
    pub business: DiscoveredBusiness,
    /// Its website link, classified.
    pub website: Option<Website>,
    /// Its dedup keys.
    pub keys: DedupKeys,
    /// Its qualification.
    pub qualification: Qualification,
    /// Where it goes if it is new.
    pub route: Route,
    /// Country for the row (the listing's, else the territory's).
    pub country: CountryCode,
}

/// Classify, key, qualify and route one listing. `country` is the
/// territory's (for phone numbers and rows without a country).
pub fn prepare(
    business: DiscoveredBusiness,
    country: CountryCode,
    rules: &QualificationRules,
    now: DateTime<Utc>,
) -> PreparedLead {
    let (website, link_problem) = match website::classify(business.website.as_deref()) {
        Ok(site) => (site, None),
        Err(problem) => (None, Some(problem)),
    };
    let has_website = website.as_ref().is_some_and(Website::is_real);
    let keys = DedupKeys::of(&business, website.as_ref(), country);
    let mut qualification = qualify(&business, has_website, rules, now);
    if let Some(problem) = link_problem {
        qualification.reasons.push(Reason {
            rule: "website_link".to_owned(),
            points: 0,
            detail: problem,
        });
    }
    if let Some(Website::Profile { kind, .. }) = &website {
        qualification.reasons.push(Reason {
            rule: "website_link".to_owned(),
            points: 0,
            detail: format!("the listed website is a {kind:?} page, not a website").to_lowercase(),
        });
    }
    let closed = matches!(
        business.business_status,
        Some(BusinessStatus::ClosedTemporarily | BusinessStatus::ClosedPermanently)
    );
    let route = if closed {
        Route::Closed
    } else if has_website {
        Route::TechScan
    } else if qualification.qualified {
        Route::BuildSite
    } else {
        Route::Unqualified
    };
    let country = business.address.country.unwrap_or(country);
    PreparedLead {
        business,
        website,
        keys,
        qualification,
        route,
        country,
    }
}

impl PreparedLead {
    /// The lead qualified again with what the stored row knows that this
    /// listing does not: its e-mail and a later review.
    pub fn merged_with(
        &self,
        stored_email: Option<&str>,
        stored_last_review: Option<DateTime<Utc>>,
        rules: &QualificationRules,
        now: DateTime<Utc>,
    ) -> PreparedLead {
        let mut business = self.business.clone();
        if business.email.is_none() {
            business.email = stored_email.and_then(|e| crate::domain::EmailAddress::parse(e).ok());
        }
        business.last_review_at = business.last_review_at.max(stored_last_review);
        let mut merged = prepare(business, self.country, rules, now);
        merged.country = self.country;
        merged
    }
}

/// The column values of a lead.
#[derive(Debug)]
pub struct LeadRow<'a> {
    pub(super) source: &'static str,
    pub(super) name: &'a str,
    pub(super) place_id: Option<&'a str>,
    pub(super) gmb_id: Option<&'a str>,
    pub(super) category: Option<&'a str>,
    pub(super) subcategory: Option<&'a str>,
    pub(super) email: Option<&'a str>,
    pub(super) phone: Option<&'a str>,
    pub(super) phone_e164: Option<&'a str>,
    pub(super) website_url: Option<&'a str>,
    pub(super) host: Option<&'a str>,
    pub(super) registrable_domain: Option<&'a str>,
    pub(super) profile_url: Option<&'a str>,
    pub(super) address: Option<&'a str>,
    pub(super) city: Option<&'a str>,
    pub(super) state: Option<&'a str>,
    pub(super) postal_code: Option<&'a str>,
    pub(super) country: &'a str,
    pub(super) lat: Option<f64>,
    pub(super) lng: Option<f64>,
    pub(super) rating: Option<f64>,
    pub(super) review_count: i32,
    pub(super) last_review_at: Option<DateTime<Utc>>,
    pub(super) photos: Value,
    pub(super) opening_hours: Value,
    pub(super) reviews: Value,
    pub(super) business_status: Option<&'static str>,
    pub(super) score: i32,
    pub(super) qualified: bool,
    pub(super) reasons: Value,
    pub(super) route: &'static str,
}

impl PreparedLead {
    /// Its column values.
    pub fn row(&self) -> LeadRow<'_> {
        let b = &self.business;
        let (website_url, host, registrable, profile_url) = match &self.website {
            Some(Website::Real {
                url,
                domain,
                registrable,
            }) => (
                Some(url.as_str()),
                Some(domain.as_str()),
                Some(registrable.as_str()),
                None,
            ),
            Some(Website::Profile { url, .. }) => (None, None, None, Some(url.as_str())),
            None => (None, None, None, None),
        };
        LeadRow {
            source: b.provider.as_str(),
            name: &b.name,
            place_id: b.place_id.as_deref(),
            gmb_id: b.gmb_id.as_deref(),
            category: b.category.as_deref(),
            subcategory: b.subcategory.as_deref(),
            email: b.email.as_ref().map(|e| e.as_str()),
            phone: b.phone.as_deref(),
            phone_e164: self.keys.phone_e164.as_deref(),
            website_url,
            host,
            registrable_domain: registrable,
            profile_url,
            address: b.address.full.as_deref(),
            city: b.address.city.as_deref(),
            state: b.address.state.as_deref(),
            postal_code: b.address.postal_code.as_deref(),
            country: self.country.as_str(),
            lat: b.location.map(|l| l.lat()),
            lng: b.location.map(|l| l.lng()),
            rating: b.rating,
            review_count: b.review_count,
            last_review_at: b.last_review_at,
            photos: Value::from(b.photos.clone()),
            opening_hours: Value::from(b.opening_hours.clone()),
            reviews: serde_json::to_value(&b.reviews).unwrap_or_else(|_| Value::Array(Vec::new())),
            business_status: b.business_status.map(BusinessStatus::as_str),
            score: self.qualification.score,
            qualified: self.qualification.qualified,
            reasons: self.qualification.reasons_json(),
            route: self.route.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::business::{BusinessDraft, ProviderKind};

    fn listing(website: Option<&str>, rating: f64, status: Option<&str>) -> DiscoveredBusiness {
        BusinessDraft {
            place_id: Some("ChIJroute".into()),
            name: Some("Atelier Lumière".into()),
            website: website.map(str::to_owned),
            rating: Some(rating),
            review_count: Some(80),
            email: Some("hello@atelier.lu".into()),
            business_status: status.map(str::to_owned),
            ..BusinessDraft::default()
        }
        .check(ProviderKind::GooglePlaces)
        .unwrap()
    }

    fn route(business: DiscoveredBusiness) -> Route {
        let lu = CountryCode::parse("LU").unwrap();
        prepare(business, lu, &QualificationRules::default(), Utc::now()).route
    }

    #[test]
    fn leads_are_routed_by_website_qualification_and_status() {
        assert_eq!(
            route(listing(Some("https://atelier.lu"), 4.8, None)),
            Route::TechScan
        );
        assert_eq!(
            route(listing(Some("https://facebook.com/atelier"), 4.8, None)),
            Route::BuildSite,
            "a Facebook page is not a website"
        );
        assert_eq!(route(listing(None, 4.8, Some("OPERATIONAL"))), Route::BuildSite);
        let mut weak = listing(None, 2.0, None);
        weak.email = None;
        weak.review_count = 3;
        assert_eq!(route(weak), Route::Unqualified);
        assert_eq!(
            route(listing(
                Some("https://atelier.lu"),
                4.8,
                Some("CLOSED_PERMANENTLY")
            )),
            Route::Closed
        );
    }

    #[test]
    fn a_profile_link_is_kept_apart_from_the_website() {
        let lu = CountryCode::parse("LU").unwrap();
        let lead = prepare(
            listing(Some("https://www.instagram.com/atelier"), 4.8, None),
            lu,
            &QualificationRules::default(),
            Utc::now(),
        );
        let row = lead.row();
        assert_eq!(row.website_url, None);
        assert_eq!(row.profile_url, Some("https://www.instagram.com/atelier"));
        assert_eq!(row.route, "build_site");
        assert!(
            lead.qualification
                .reasons
                .iter()
                .any(|r| r.detail.contains("social page"))
        );
    }
}
