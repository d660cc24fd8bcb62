//! The keys that make two listings (or a listing and an imported lead) the
//! same business.
//!
//! In order of strength: the Google place id (both providers return it), the
//! Google Maps feature id, the registrable domain of a real website, and the
//! phone number in E.164. A domain or phone match only counts against a lead
//! that has no place id or the same one: two branches of a chain share a
//! website and sometimes a phone line, but they are different listings.

use phonenumber::{Mode, country};

use super::{business::DiscoveredBusiness, website::Website};
use crate::domain::CountryCode;

/// Dedup keys of one listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DedupKeys {
    /// Google place id.
    pub place_id: Option<String>,
    /// Google Maps feature id.
    pub gmb_id: Option<String>,
    /// Normalised host of a real website (an imported lead's `domain_name`).
    pub host: Option<String>,
    /// Registrable domain of a real website.
    pub registrable_domain: Option<String>,
    /// Phone in E.164.
    pub phone_e164: Option<String>,
}

impl DedupKeys {
    /// The keys of `business`, whose website was classified as `website`;
    /// phone numbers without a country prefix are read in `country`.
    pub fn of(business: &DiscoveredBusiness, website: Option<&Website>, country: CountryCode) -> Self {
        let (host, registrable_domain) = match website {
            Some(Website::Real {
                domain, registrable, ..
            }) => (Some(domain.as_str().to_owned()), Some(registrable.clone())),
            _ => (None, None),
        };
        let region = business.address.country.unwrap_or(country);
        Self {
            place_id: business.place_id.clone(),
            gmb_id: business.gmb_id.clone(),
            host,
            registrable_domain,
            phone_e164: business.phone.as_deref().and_then(|p| phone_e164(p, region)),
        }
    }

    /// The keys as one string per key, to find repeats within a page.
    pub fn listing_key(&self) -> Option<String> {
        self.place_id
            .as_ref()
            .map(|p| format!("place:{p}"))
            .or_else(|| self.gmb_id.as_ref().map(|g| format!("gmb:{g}")))
    }
}

/// A phone number in E.164 (`+352621123456`), or `None` when it is not a
/// valid number. Numbers without `+` are read as numbers of `country`.
pub fn phone_e164(raw: &str, country: CountryCode) -> Option<String> {
    let region = country.as_str().parse::<country::Id>().ok();
    let number = phonenumber::parse(region, raw).ok()?;
    storable_e164(&number)
}

/// A valid number in E.164 as `prospects.phone_e164` stores it: `+` and 7
/// to 15 digits (its CHECK). Valid short numbers (`1640` in Germany) and
/// national numbers that overflow 15 digits with a long country code are
/// not storable.
pub(crate) fn storable_e164(number: &phonenumber::PhoneNumber) -> Option<String> {
    if !phonenumber::is_valid(number) {
        return None;
    }
    let formatted = number.format().mode(Mode::E164).to_string();
    (8..=16).contains(&formatted.len()).then_some(formatted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{
        business::{BusinessDraft, ProviderKind},
        website,
    };

    fn country(c: &str) -> CountryCode {
        CountryCode::parse(c).unwrap()
    }

    #[test]
    fn phones_are_normalised_to_e164_in_the_listing_country() {
        let cases = [
            ("(212) 555-0123", "US", Some("+12125550123")),
            ("(415) 555-2671", "US", Some("+14155552671")),
            ("+1 415-555-2671", "LU", Some("+14155552671")),
            ("621 123 456", "LU", Some("+352621123456")),
            ("+352 621 123 456", "US", Some("+352621123456")),
            ("00352 621 123 456", "LU", Some("+352621123456")),
            ("020 7946 0958", "GB", Some("+442079460958")),
            ("call us", "US", None),
            ("12", "US", None),
        ];
        for (raw, cc, expected) in cases {
            assert_eq!(phone_e164(raw, country(cc)).as_deref(), expected, "{raw} in {cc}");
        }
    }

    #[test]
    fn keys_use_the_registrable_domain_of_real_websites_only() {
        let business = BusinessDraft {
            place_id: Some("ChIJabc".into()),
            name: Some("Dupont".into()),
            phone: Some("+352 621 123 456".into()),
            website: Some("https://shop.dupont.co.uk/x".into()),
            ..BusinessDraft::default()
        }
        .check(ProviderKind::GooglePlaces)
        .unwrap();
        let site = website::classify(business.website.as_deref()).unwrap();
        let keys = DedupKeys::of(&business, site.as_ref(), country("LU"));
        assert_eq!(keys.registrable_domain.as_deref(), Some("dupont.co.uk"));
        assert_eq!(keys.host.as_deref(), Some("shop.dupont.co.uk"));
        assert_eq!(keys.phone_e164.as_deref(), Some("+352621123456"));
        assert_eq!(keys.listing_key().as_deref(), Some("place:ChIJabc"));

        let social = website::classify(Some("https://facebook.com/dupont")).unwrap();
        let keys = DedupKeys::of(&business, social.as_ref(), country("LU"));
        assert_eq!(
            keys.registrable_domain, None,
            "facebook.com is nobody's own domain"
        );
    }
}
