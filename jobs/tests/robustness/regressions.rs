//! Inputs that once made a parser fail, each kept as a named test with the
//! exact minimal input that the properties found.

use prospector_jobs::{
    domain::{Domain, EmailAddress},
    tech_scan::contacts::{emails, phones, social},
};
use url::Url;

/// `www.www.example.lu` gave `www.example.lu`, which parses to
/// `example.lu`: normalising was not idempotent.
#[test]
fn every_leading_www_is_stripped() {
    let once = Domain::parse("www.www.example.lu").expect("a domain");
    assert_eq!(once.as_str(), "example.lu");
    assert_eq!(Domain::parse(once.as_str()), Ok(once));
    assert_eq!(
        Domain::parse("www.www.lu").map(String::from),
        Ok("www.lu".to_owned())
    );
}

/// Addresses of 255–318 characters were accepted; `prospects.email` is
/// VARCHAR(255) and RFC 5321 allows 254.
#[test]
fn an_address_longer_than_254_characters_is_refused() {
    let found = "A-a0Aa0A00+0a0-0aaA-_-A_00AAAAAa0+++__A_a0A_A@A-0-00Aa0AaAa-aaAA0a0.a.Aa0a0a0-aaAaA.aa0AA-AaA0-AAAaAaa0aA-aa0-A-0aAAaAAAaAaAaA00aAa-000-A0aAAaA.a-A0A0-AAaaaa0a--0-aa-0AaaaAAaaA0A0AA--AA0aa0-Aa.AaaaAAaaAAaaAAaaAAAaaAAaaAaaaaAaAaaAAaAaaaAaaaAaaaAaaAaAAaaaAa";
    assert_eq!(found.len(), 255);
    let err = EmailAddress::parse(found).expect_err("too long");
    assert!(err.to_string().contains("254"), "{err}");
    assert!(
        EmailAddress::parse(&found[1..]).is_ok(),
        "254 characters are allowed"
    );
    let text = format!(
        "info@{}.{}.{}.{}",
        "a".repeat(63),
        "a".repeat(63),
        "a".repeat(63),
        "a".repeat(61)
    );
    assert!(emails::from_text(&text).is_empty());
}

/// A 14-digit German national number became `+4920100000000000`, 16
/// digits: not E.164, and too long for `prospects.phone_e164`.
#[test]
fn a_number_longer_than_e164_allows_is_refused() {
    assert_eq!(phones::normalise("20100000000000", phones::region("DE")), None);
    assert_eq!(
        phones::normalise("030 1234567", phones::region("DE")).as_deref(),
        Some("+49301234567")
    );
}

/// `1640`, a valid short German number, became `+491640`: six digits,
/// which `prospects.phone_e164`'s CHECK (7 to 15) refuses.
#[test]
fn a_number_shorter_than_the_column_allows_is_refused() {
    assert_eq!(phones::normalise("1640", phones::region("DE")), None);
    let de = prospector_jobs::domain::CountryCode::parse("DE").expect("a country");
    assert_eq!(prospector_jobs::discover::dedup::phone_e164("1640", de), None);
    assert_eq!(
        phones::normalise("+352 621 123 456", phones::region("LU")).as_deref(),
        Some("+352621123456")
    );
}

/// A version template with a NUL in it (`version:\0\1?:`) gave the
/// version `"\0"`: versions are printable text, or none.
#[test]
fn a_version_with_a_control_character_is_no_version() {
    use prospector_jobs::tech_scan::fingerprint::pattern::resolve_version;
    assert_eq!(resolve_version("\0\\1?:", &[Some("x"), None]), None);
    assert_eq!(resolve_version("6.4\t2", &[]), None);
    assert_eq!(
        resolve_version("\\1", &[Some("a"), Some("6.4.2")]).as_deref(),
        Some("6.4.2")
    );
}

/// A profile link with a 600-character name gave a profile URL longer than
/// `prospect_contacts.value` (VARCHAR(500)) holds, failing the scan's
/// transaction.
#[test]
fn a_profile_url_too_long_to_store_is_dropped() {
    let long = |url: String| social::profile(&Url::parse(&url).expect("a URL"));
    assert_eq!(
        long(format!("https://www.facebook.com/{}", "a".repeat(600))),
        None
    );
    assert_eq!(
        long(format!(
            "https://www.facebook.com/profile.php?id={}",
            "1".repeat(600)
        )),
        None
    );
    assert!(long(format!("https://www.facebook.com/{}", "a".repeat(100))).is_some());
}
