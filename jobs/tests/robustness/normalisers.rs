//! The domain, e-mail, country and phone normalisers never panic, are
//! idempotent (normalising a normalised value gives it back) and only give
//! values the database accepts: `prospects.domain_name`'s CHECK,
//! `prospects.email VARCHAR(255)`, `prospects.country`'s CHECK and
//! `prospects.phone_e164`'s CHECK (`VARCHAR(16)`).

use proptest::prelude::*;
use prospector_jobs::{
    discover::dedup::phone_e164,
    domain::{CountryCode, Domain, EmailAddress},
    tech_scan::contacts::phones,
};

use crate::{
    analysis::{DOMAIN_CHECK, E164},
    corpus,
};

/// Pieces of hosts, URLs, addresses and numbers that mutations insert.
const TOKENS: &[&str] = &[
    "www.", "http://", "https://", "://", "xn--", ".", "..", "-", "@", ":", "/", "?", "#", "%2e", "%41", "[",
    "]", "\u{3002}", "\u{FF0E}", "ß", "é", "İ", "\u{200D}", "\u{FEFF}", "mailto:", "+", "00", "(0)", " ",
    "\t", "ext. ", "\u{0663}", "\u{FF12}",
];

const REGIONS: &[&str] = &["LU", "DE", "FR", "BE", "US", "GB", "NL", "CH", "ZZ"];

fn check_domain(input: &str) -> Result<(), TestCaseError> {
    let Ok(domain) = Domain::parse(input) else {
        return Ok(());
    };
    let name = domain.as_str();
    prop_assert!(
        DOMAIN_CHECK.is_match(name) && name.len() <= 253 && name == name.to_lowercase(),
        "{input:?} gave {name:?}, which the CHECK refuses"
    );
    prop_assert_eq!(
        Domain::parse(name),
        Ok(domain.clone()),
        "{:?} is not idempotent",
        input
    );
    Ok(())
}

fn check_email(input: &str) -> Result<(), TestCaseError> {
    let Ok(email) = EmailAddress::parse(input) else {
        return Ok(());
    };
    let address = email.as_str();
    prop_assert!(
        address.len() <= 254,
        "{input:?} gave an address of {} characters",
        address.len()
    );
    prop_assert!(
        DOMAIN_CHECK.is_match(email.domain()),
        "{input:?} gave domain {:?}",
        email.domain()
    );
    prop_assert_eq!(
        EmailAddress::parse(address),
        Ok(email.clone()),
        "{:?} is not idempotent",
        input
    );
    Ok(())
}

fn check_country(input: &str) -> Result<(), TestCaseError> {
    let Ok(code) = CountryCode::parse(input) else {
        return Ok(());
    };
    let s = code.as_str();
    prop_assert!(
        s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()),
        "{input:?} gave {s:?}"
    );
    prop_assert_eq!(CountryCode::parse(s), Ok(code));
    Ok(())
}

fn check_phone(input: &str) -> Result<(), TestCaseError> {
    for code in REGIONS {
        let region = phones::region(code);
        if let Some(n) = phones::normalise(input, region) {
            prop_assert!(E164.is_match(&n), "{input:?} in {code}: {n:?} is not E.164");
            prop_assert_eq!(
                phones::normalise(&n, region),
                Some(n.clone()),
                "{:?} in {}: not idempotent",
                input,
                code
            );
        }
        if let Ok(country) = CountryCode::parse(code)
            && let Some(n) = phone_e164(input, country)
        {
            prop_assert!(E164.is_match(&n), "{input:?} in {code}: {n:?} is not E.164");
            prop_assert_eq!(
                phone_e164(&n, country),
                Some(n.clone()),
                "{:?} in {}: not idempotent",
                input,
                code
            );
        }
    }
    Ok(())
}

fn all(input: &str) -> Result<(), TestCaseError> {
    check_domain(input)?;
    check_email(input)?;
    check_country(input)?;
    check_phone(input)
}

#[test]
fn corpus_values_normalise_cleanly() {
    for target in ["domains", "emails", "phones"] {
        for input in corpus::lines(target) {
            if let Err(e) = all(&input) {
                panic!("{target}: {input:?}: {e}");
            }
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    ["domains", "emails", "phones"]
        .into_iter()
        .flat_map(corpus::lines)
        .map(String::into_bytes)
        .collect()
}

proptest! {
    #![proptest_config(corpus::config(512, "normalisers"))]

    #[test]
    fn arbitrary_strings(input in "\\PC{0,80}") {
        all(&input)?;
    }

    #[test]
    fn arbitrary_bytes(input in corpus::lossy_bytes(80)) {
        all(&input)?;
    }

    #[test]
    fn mutated_corpus_values(input in corpus::mutated_text(seeds(), TOKENS, 4)) {
        all(&input)?;
    }

    #[test]
    fn host_like_strings(input in "(https?://)?([a-zA-Z0-9ßéİ-]{0,70}\\.){0,5}[a-zA-Z0-9-]{0,10}\\.?(:[0-9]{1,6})?(/[a-z]{0,4})?") {
        check_domain(&input)?;
    }

    #[test]
    fn address_like_strings(input in "(mailto:)?[a-zA-Z0-9.+_-]{0,70}@([a-zA-Z0-9-]{0,64}\\.){1,5}[a-zA-Z]{0,64}\\.?") {
        check_email(&input)?;
    }

    #[test]
    fn number_like_strings(input in "(\\+|00)?[0-9 ().-]{0,30}") {
        check_phone(&input)?;
    }
}
