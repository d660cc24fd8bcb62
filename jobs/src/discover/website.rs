//! Is the "website" a listing gives a website of the business's own?
//!
//! Many listings name a Facebook page, a Yelp entry or a Linktree as their
//! website. Those businesses have no website, which is exactly who the
//! site-building branch is for, so they must not be routed to `tech_scan`.
//! A host is compared by its registrable domain (public suffix list), so
//! `m.facebook.com`, `fr-fr.facebook.com` and `yelp.co.uk` are all caught.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::Domain;

/// What kind of page a listing's link is when it is not a website.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// A social network profile (Facebook, Instagram, …).
    Social,
    /// A directory or review site entry (Yelp, TripAdvisor, …).
    Directory,
    /// A link-in-bio page (Linktree, …).
    LinkInBio,
    /// Google's own pages (Maps, g.page, business.site).
    Google,
    /// A delivery, booking or ordering platform page.
    Platform,
}

/// A listing's link, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Website {
    /// The business's own site.
    Real {
        /// The URL as listed (trimmed, with a scheme).
        url: String,
        /// Its normalised host (what `prospects.domain_name` holds).
        domain: Domain,
        /// Its registrable domain (`example.co.uk`), a dedup key.
        registrable: String,
    },
    /// A page on someone else's platform: not a website.
    Profile {
        /// The URL as listed.
        url: String,
        /// What kind of page.
        kind: ProfileKind,
    },
}

impl Website {
    /// Whether it is a website of the business's own.
    pub fn is_real(&self) -> bool {
        matches!(self, Website::Real { .. })
    }
}

/// Registrable domains that are never a business's own site.
const PROFILE_DOMAINS: &[(&str, ProfileKind)] = &[
    ("facebook.com", ProfileKind::Social),
    ("fb.com", ProfileKind::Social),
    ("fb.me", ProfileKind::Social),
    ("instagram.com", ProfileKind::Social),
    ("instagr.am", ProfileKind::Social),
    ("twitter.com", ProfileKind::Social),
    ("x.com", ProfileKind::Social),
    ("linkedin.com", ProfileKind::Social),
    ("tiktok.com", ProfileKind::Social),
    ("youtube.com", ProfileKind::Social),
    ("youtu.be", ProfileKind::Social),
    ("pinterest.com", ProfileKind::Social),
    ("snapchat.com", ProfileKind::Social),
    ("threads.net", ProfileKind::Social),
    ("wa.me", ProfileKind::Social),
    ("whatsapp.com", ProfileKind::Social),
    ("t.me", ProfileKind::Social),
    ("vk.com", ProfileKind::Social),
    ("yelp.com", ProfileKind::Directory),
    ("tripadvisor.com", ProfileKind::Directory),
    ("yellowpages.com", ProfileKind::Directory),
    ("foursquare.com", ProfileKind::Directory),
    ("bbb.org", ProfileKind::Directory),
    ("nextdoor.com", ProfileKind::Directory),
    ("angi.com", ProfileKind::Directory),
    ("houzz.com", ProfileKind::Directory),
    ("thumbtack.com", ProfileKind::Directory),
    ("mapquest.com", ProfileKind::Directory),
    ("manta.com", ProfileKind::Directory),
    ("linktr.ee", ProfileKind::LinkInBio),
    ("linkin.bio", ProfileKind::LinkInBio),
    ("lnk.bio", ProfileKind::LinkInBio),
    ("bio.link", ProfileKind::LinkInBio),
    ("beacons.ai", ProfileKind::LinkInBio),
    ("carrd.co", ProfileKind::LinkInBio),
    ("google.com", ProfileKind::Google),
    ("goo.gl", ProfileKind::Google),
    ("g.page", ProfileKind::Google),
    ("g.co", ProfileKind::Google),
    ("business.site", ProfileKind::Google),
    ("doordash.com", ProfileKind::Platform),
    ("ubereats.com", ProfileKind::Platform),
    ("grubhub.com", ProfileKind::Platform),
    ("opentable.com", ProfileKind::Platform),
    ("booksy.com", ProfileKind::Platform),
    ("fresha.com", ProfileKind::Platform),
    ("vagaro.com", ProfileKind::Platform),
    ("toasttab.com", ProfileKind::Platform),
    ("just-eat.com", ProfileKind::Platform),
    ("deliveroo.com", ProfileKind::Platform),
];

/// Brands whose pages live under many country domains (`yelp.co.uk`,
/// `tripadvisor.fr`, `google.lu`): matched on the registrable domain's
/// first label.
const PROFILE_BRANDS: &[(&str, ProfileKind)] = &[
    ("facebook", ProfileKind::Social),
    ("instagram", ProfileKind::Social),
    ("linkedin", ProfileKind::Social),
    ("yelp", ProfileKind::Directory),
    ("tripadvisor", ProfileKind::Directory),
    ("pagesjaunes", ProfileKind::Directory),
    ("gelbeseiten", ProfileKind::Directory),
    ("google", ProfileKind::Google),
    ("booking", ProfileKind::Platform),
    ("deliveroo", ProfileKind::Platform),
    ("ubereats", ProfileKind::Platform),
    ("opentable", ProfileKind::Platform),
];

/// The registrable domain of a host (`shop.example.co.uk` → `example.co.uk`).
pub fn registrable_domain(host: &str) -> Option<String> {
    psl::domain_str(host).map(str::to_ascii_lowercase)
}

/// Classify a listing's website link. `Ok(None)` when there is none;
/// `Err` with the reason when it is not a usable http(s) URL.
pub fn classify(raw: Option<&str>) -> Result<Option<Website>, String> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if raw.len() > 500 {
        return Err("website link is longer than 500 characters".to_owned());
    }
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| format!("website link is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("website link has the scheme `{}`", url.scheme()));
    }
    let domain = Domain::parse(url.as_str()).map_err(|e| format!("website link: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let registrable = registrable_domain(domain.as_str()).unwrap_or_else(|| domain.as_str().to_owned());
    if let Some(kind) = profile_kind(&host, &registrable) {
        return Ok(Some(Website::Profile {
            url: with_scheme,
            kind,
        }));
    }
    Ok(Some(Website::Real {
        url: with_scheme,
        domain,
        registrable,
    }))
}

fn profile_kind(host: &str, registrable: &str) -> Option<ProfileKind> {
    if let Some((_, kind)) = PROFILE_DOMAINS
        .iter()
        .find(|(d, _)| *d == registrable || host == *d || host.ends_with(&format!(".{d}")))
    {
        return Some(*kind);
    }
    let brand = registrable.split('.').next().unwrap_or_default();
    PROFILE_BRANDS
        .iter()
        .find(|(b, _)| *b == brand)
        .map(|(_, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> Option<ProfileKind> {
        match classify(Some(raw)).unwrap().unwrap() {
            Website::Profile { kind, .. } => Some(kind),
            Website::Real { .. } => None,
        }
    }

    #[test]
    fn social_and_directory_links_are_not_websites() {
        let cases = [
            ("https://www.facebook.com/BoulangerieDupont", ProfileKind::Social),
            ("http://m.facebook.com/pages/x/123", ProfileKind::Social),
            ("fr-fr.facebook.com/dupont", ProfileKind::Social),
            ("https://instagram.com/dupont.bakes", ProfileKind::Social),
            ("https://x.com/dupont", ProfileKind::Social),
            ("https://wa.me/352621000000", ProfileKind::Social),
            (
                "https://www.yelp.com/biz/dupont-luxembourg",
                ProfileKind::Directory,
            ),
            ("https://www.yelp.co.uk/biz/dupont", ProfileKind::Directory),
            (
                "https://www.tripadvisor.fr/Restaurant_Review-g1",
                ProfileKind::Directory,
            ),
            ("https://linktr.ee/dupont", ProfileKind::LinkInBio),
            ("https://sites.google.com/view/dupont", ProfileKind::Google),
            ("https://g.page/dupont", ProfileKind::Google),
            ("https://dupont-bakery.business.site/", ProfileKind::Google),
            ("https://maps.google.lu/?cid=1", ProfileKind::Google),
            ("https://www.doordash.com/store/dupont", ProfileKind::Platform),
            (
                "https://www.booking.com/hotel/lu/dupont.html",
                ProfileKind::Platform,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(kind(raw), Some(expected), "{raw}");
        }
    }

    #[test]
    fn own_sites_are_websites_with_their_registrable_domain() {
        let Website::Real {
            domain, registrable, ..
        } = classify(Some("https://shop.Dupont.co.uk/menu?x=1"))
            .unwrap()
            .unwrap()
        else {
            panic!("a real website");
        };
        assert_eq!(domain.as_str(), "shop.dupont.co.uk");
        assert_eq!(registrable, "dupont.co.uk");
        // Names that merely contain a platform's name are still own sites.
        for raw in [
            "https://facebookbakery.lu",
            "https://www.yelping-dogs.com",
            "https://xcom.lu",
            "https://notgoogle.com",
        ] {
            assert_eq!(kind(raw), None, "{raw}");
        }
    }

    #[test]
    fn blanks_are_no_website_and_junk_is_an_error() {
        assert_eq!(classify(None).unwrap(), None);
        assert_eq!(classify(Some("  ")).unwrap(), None);
        assert!(classify(Some("ftp://files.example.com")).is_err());
        assert!(classify(Some("not a url at all")).is_err());
        assert!(classify(Some("http://192.168.1.10/")).is_err());
    }
}
