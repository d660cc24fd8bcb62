//! schema.org JSON-LD for the business.
//!
//! The most specific `LocalBusiness` subtype comes from the category table
//! (`Bakery`, `Dentist`, `AutoRepair`, …; `LocalBusiness` otherwise). The
//! object carries name, address, telephone, e-mail, geo, opening hours, url
//! and images — and deliberately **no `aggregateRating` or `review`**:
//! Google treats ratings a business shows about itself as self-serving
//! (NOTES-round2 §3.4), and reusing Google reviews as markup raises terms
//! questions. Ratings appear on the page as text only.

use serde_json::{Map, Value, json};

use super::hours::OpeningHours;
use super::input::Business;

/// Fields the quality gate requires in the JSON-LD.
pub const REQUIRED: [&str; 5] = ["@context", "@type", "name", "address", "url"];

/// Make an absolute URL from a photo URL, resolved the way a browser
/// resolves the `src` on the page at `site_url`.
pub fn absolute(site_url: &str, url: &str) -> String {
    url::Url::parse(site_url)
        .and_then(|base| base.join(url))
        .map(String::from)
        .unwrap_or_else(|_| url.to_owned())
}

/// The JSON-LD object for `business` on the page at `site_url`.
pub fn local_business(business: &Business, hours: &OpeningHours, schema_type: &str, site_url: &str) -> Value {
    let mut o = Map::new();
    o.insert("@context".into(), json!("https://schema.org"));
    o.insert("@type".into(), json!(schema_type));
    o.insert("@id".into(), json!(format!("{site_url}#business")));
    o.insert("name".into(), json!(business.name));
    o.insert("url".into(), json!(site_url));
    let a = &business.address;
    let mut address = Map::new();
    address.insert("@type".into(), json!("PostalAddress"));
    for (key, value) in [
        ("streetAddress", &a.street),
        ("addressLocality", &a.city),
        ("postalCode", &a.postal_code),
        ("addressRegion", &a.state),
        ("addressCountry", &a.country_code),
    ] {
        if let Some(v) = value {
            address.insert(key.into(), json!(v));
        }
    }
    // A provider that gave only a one-line address still gives Google one.
    if address.len() == 1
        && let Some(display) = &a.display
    {
        address.insert("streetAddress".into(), json!(display));
    }
    o.insert("address".into(), Value::Object(address));
    if let Some(phone) = &business.phone {
        o.insert("telephone".into(), json!(phone.e164));
    }
    if let Some(email) = &business.email {
        o.insert("email".into(), json!(email));
    }
    if let Some(geo) = business.geo {
        o.insert(
            "geo".into(),
            json!({"@type": "GeoCoordinates", "latitude": round6(geo.lat), "longitude": round6(geo.lng)}),
        );
    }
    let spec: Vec<Value> = hours
        .specification()
        .into_iter()
        .map(|(days, opens, closes)| {
            let days: Vec<String> = days.iter().map(|d| day_uri_name(*d).to_owned()).collect();
            json!({"@type": "OpeningHoursSpecification", "dayOfWeek": days, "opens": opens, "closes": closes})
        })
        .collect();
    if !spec.is_empty() {
        o.insert("openingHoursSpecification".into(), Value::Array(spec));
    }
    if !business.photos.is_empty() {
        let images: Vec<String> = business
            .photos
            .iter()
            .map(|p| absolute(site_url, &p.url))
            .collect();
        o.insert("image".into(), json!(images));
    }
    Value::Object(o)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn day_uri_name(day: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match day {
        Mon => "Monday",
        Tue => "Tuesday",
        Wed => "Wednesday",
        Thu => "Thursday",
        Fri => "Friday",
        Sat => "Saturday",
        Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_site::input::tests::minimal;
    use crate::build_site::input::{PhotoInput, SiteInput};

    fn garage() -> SiteInput {
        let mut input = minimal("Garage Weber");
        input.category = Some("Autowerkstatt".into());
        input.address.street = Some("45, route d'Arlon".into());
        input.address.city = Some("Strassen".into());
        input.address.postal_code = Some("L-8010".into());
        input.address.country_code = Some("LU".into());
        input.phone = Some("+352 31 22 33".into());
        input.rating = Some(4.9);
        input.review_count = Some(80);
        input.lat = Some(49.6201234567);
        input.lng = Some(6.0712345678);
        input.opening_hours = [
            "Montag: 08:00–18:00",
            "Dienstag: 08:00–18:00",
            "Sonntag: Geschlossen",
        ]
        .map(String::from)
        .to_vec();
        input.photos = vec![PhotoInput {
            url: "/photos/1.webp".into(),
            width: Some(800),
            height: Some(600),
            attribution: None,
        }];
        input
    }

    #[test]
    fn json_ld_has_the_recommended_fields_and_no_ratings() {
        let input = garage();
        let b = Business::from_input(&input).unwrap();
        let v = local_business(
            &b,
            &OpeningHours::parse(&input.opening_hours),
            "AutoRepair",
            "https://p.example/s/x/",
        );
        assert_eq!(v["@type"], "AutoRepair");
        assert_eq!(v["telephone"], "+352312233");
        assert_eq!(v["address"]["addressCountry"], "LU");
        assert_eq!(v["geo"]["latitude"], 49.620123);
        assert_eq!(
            v["openingHoursSpecification"][0]["dayOfWeek"],
            json!(["Monday", "Tuesday"])
        );
        assert_eq!(v["image"][0], "https://p.example/photos/1.webp");
        for field in REQUIRED {
            assert!(v.get(field).is_some(), "{field}");
        }
        assert!(v.get("aggregateRating").is_none() && v.get("review").is_none());
    }

    #[test]
    fn a_bare_record_still_has_name_and_address() {
        let b = Business::from_input(&minimal("X")).unwrap();
        let v = local_business(
            &b,
            &OpeningHours::default(),
            "LocalBusiness",
            "https://p.example/",
        );
        assert_eq!(v["address"]["@type"], "PostalAddress");
        assert!(v.get("telephone").is_none() && v.get("openingHoursSpecification").is_none());
    }
}
