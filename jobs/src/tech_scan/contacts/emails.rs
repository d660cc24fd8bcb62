//! E-mail addresses: `mailto:` links, page text (also `[at]`/`(at)`
//! spellings), Cloudflare-obfuscated addresses and JSON-LD; image names,
//! placeholders and tracking keys are rejected.

use std::sync::LazyLock;

use regex::Regex;

use crate::domain::EmailAddress;

#[allow(clippy::unwrap_used)] // constant patterns
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9][a-z0-9._%+\-]{0,63}@[a-z0-9][a-z0-9.\-]{0,251}\.[a-z]{2,24}\b").unwrap()
});
#[allow(clippy::unwrap_used)]
static SPELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b([a-z0-9][a-z0-9._%+\-]{0,63})\s*[\[({]\s*(?:at|@)\s*[\])}]\s*([a-z0-9\-]+(?:\s*[\[({]\s*(?:dot|point|punkt|\.)\s*[\])}]\s*[a-z0-9\-]+)+)",
    )
    .unwrap()
});
#[allow(clippy::unwrap_used)]
static SPELLED_DOT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\s*[\[({]\s*(?:dot|point|punkt|\.)\s*[\])}]\s*").unwrap());

/// File extensions that look like top-level domains in `logo@2x.png`.
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "bmp", "ico", "tif", "tiff", "heic", "css", "js",
    "mjs", "json", "map", "woff", "woff2", "ttf", "eot", "otf", "mp4", "webm", "mov", "mp3", "pdf", "php",
    "html", "htm", "xml", "zip",
];
/// Domains used as placeholders or by tooling, never a business's address.
const PLACEHOLDER_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "example.lu",
    "example.de",
    "example.fr",
    "domain.com",
    "domain.tld",
    "yourdomain.com",
    "your-domain.com",
    "yoursite.com",
    "mysite.com",
    "mydomain.com",
    "company.com",
    "email.com",
    "test.com",
    "sentry.io",
    "wixpress.com",
    "sentry-next.wixpress.com",
    "sentry.wixpress.com",
    "localhost.localdomain",
    "mail.com",
    "website.com",
    "site.com",
    "adresse.lu",
    "beispiel.de",
    "musterfirma.de",
    "exemple.fr",
    "exemple.com",
];
/// Local parts that are placeholders.
const PLACEHOLDER_LOCALS: &[&str] = &[
    "name",
    "yourname",
    "your.name",
    "your-name",
    "you",
    "your",
    "youremail",
    "your.email",
    "email",
    "e-mail",
    "user",
    "username",
    "firstname.lastname",
    "first.last",
    "prenom.nom",
    "vorname.nachname",
    "john.doe",
    "jane.doe",
    "johndoe",
    "max.mustermann",
    "mustermann",
    "someone",
    "somebody",
    "xxx",
    "xyz",
    "abc",
    "test",
];
/// Local parts of role (shared) mailboxes.
const ROLES: &[&str] = &[
    "info",
    "infos",
    "information",
    "contact",
    "contacts",
    "kontakt",
    "hello",
    "hallo",
    "hi",
    "bonjour",
    "office",
    "bureau",
    "buero",
    "admin",
    "administration",
    "sales",
    "vente",
    "ventes",
    "verkauf",
    "support",
    "service",
    "services",
    "kundenservice",
    "team",
    "mail",
    "email",
    "enquiries",
    "enquiry",
    "inquiries",
    "inquiry",
    "booking",
    "bookings",
    "reservation",
    "reservations",
    "reservierung",
    "reception",
    "accueil",
    "secretariat",
    "sekretariat",
    "shop",
    "store",
    "order",
    "orders",
    "commande",
    "commandes",
    "bestellung",
    "billing",
    "invoice",
    "invoices",
    "facturation",
    "rechnung",
    "accounting",
    "compta",
    "comptabilite",
    "buchhaltung",
    "hr",
    "jobs",
    "job",
    "careers",
    "career",
    "recrutement",
    "recruiting",
    "press",
    "presse",
    "media",
    "marketing",
    "newsletter",
    "webmaster",
    "postmaster",
    "hostmaster",
    "noreply",
    "no-reply",
    "donotreply",
    "privacy",
    "dpo",
    "gdpr",
    "rgpd",
    "datenschutz",
    "legal",
    "general",
    "management",
    "direction",
    "studio",
    "atelier",
    "events",
    "event",
    "restaurant",
    "cabinet",
    "praxis",
    "kanzlei",
    "etude",
    "agence",
    "agency",
    "hotel",
    "welcome",
    "mairie",
    "commune",
    "gemeinde",
    "ecole",
    "school",
    "club",
    "secretary",
    "help",
    "helpdesk",
    "customerservice",
    "care",
];

/// A found address and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEmail {
    /// The address, lower-cased.
    pub address: String,
    /// A shared mailbox (info@, contact@) rather than a person's.
    pub is_role: bool,
}

/// Parse and vet one candidate address.
pub fn vet(candidate: &str) -> Option<FoundEmail> {
    let candidate = candidate
        .trim()
        .trim_matches(|c: char| c == '.' || c == ',' || c == ';');
    let parsed = EmailAddress::parse(candidate).ok()?;
    let address = parsed.as_str().to_ascii_lowercase();
    let (local, domain) = address.rsplit_once('@')?;
    let tld = domain.rsplit('.').next().unwrap_or("");
    if FILE_EXTENSIONS.contains(&tld) {
        return None;
    }
    // `logo@2x.png`-style names have a numeric first label like `2x`.
    if domain.split('.').next().is_some_and(|l| {
        l.len() <= 3 && l.ends_with('x') && l[..l.len() - 1].chars().all(|c| c.is_ascii_digit())
    }) {
        return None;
    }
    if PLACEHOLDER_DOMAINS
        .iter()
        .any(|p| domain == *p || domain.ends_with(&format!(".{p}")))
    {
        return None;
    }
    if PLACEHOLDER_LOCALS.contains(&local) {
        return None;
    }
    // Tracking keys (32 hex characters and the like) are not mailboxes.
    if local.len() >= 20 && local.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(FoundEmail {
        is_role: is_role(local),
        address,
    })
}

/// Whether a local part names a shared mailbox.
pub fn is_role(local: &str) -> bool {
    let base = local.split('+').next().unwrap_or(local);
    let trimmed = base.trim_end_matches(|c: char| c.is_ascii_digit());
    if ROLES.contains(&trimmed) {
        return true;
    }
    // info.lu@, contact-fr@, service_client@
    trimmed
        .split(['.', '-', '_'])
        .next()
        .is_some_and(|first| first != trimmed && ROLES.contains(&first))
}

/// Addresses in a `mailto:` URL's path.
pub fn from_mailto(path: &str) -> Vec<FoundEmail> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    decoded
        .split('?')
        .next()
        .unwrap_or("")
        .split([',', ';'])
        .filter_map(vet)
        .collect()
}

/// Addresses written in text, plainly or spelled out.
pub fn from_text(text: &str) -> Vec<FoundEmail> {
    let mut out: Vec<FoundEmail> = EMAIL.find_iter(text).filter_map(|m| vet(m.as_str())).collect();
    for caps in SPELLED.captures_iter(text) {
        let (Some(local), Some(domain)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        let domain = SPELLED_DOT.replace_all(domain.as_str(), ".");
        if let Some(found) = vet(&format!("{}@{domain}", local.as_str())) {
            out.push(found);
        }
    }
    out
}

/// Decode Cloudflare's e-mail obfuscation (`data-cfemail` hex: the first
/// byte is the XOR key of the others).
pub fn decode_cloudflare(hex: &str) -> Option<FoundEmail> {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let (key, rest) = bytes.split_first()?;
    let decoded: String = rest.iter().map(|b| char::from(b ^ key)).collect();
    vet(&decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(found: Vec<FoundEmail>) -> Vec<String> {
        found.into_iter().map(|f| f.address).collect()
    }

    #[test]
    fn addresses_are_found_in_text_links_and_spellings() {
        let text = "Écrivez-nous: Info@Boulangerie-Dupont.lu, ou jean.dupont@gmail.com. \
                    Presse: presse (at) dupont [dot] lu";
        assert_eq!(
            addresses(from_text(text)),
            vec![
                "info@boulangerie-dupont.lu",
                "jean.dupont@gmail.com",
                "presse@dupont.lu"
            ]
        );
        assert_eq!(
            addresses(from_mailto("contact%40dupont.lu?subject=Hello")),
            vec!["contact@dupont.lu"]
        );
        assert_eq!(
            addresses(from_mailto("a@dupont.lu,b@dupont.lu")),
            vec!["a@dupont.lu", "b@dupont.lu"]
        );
    }

    #[test]
    fn image_names_placeholders_and_keys_are_rejected() {
        for bad in [
            "logo@2x.png",
            "hero-image@3x.webp",
            "icon@2x.jpg",
            "sprite@1.5x.svg",
            "name@example.com",
            "you@yourdomain.com",
            "email@domain.com",
            "john.doe@gmail.com",
            "605a7baede844d278b89dc95ae0a9123@sentry.io",
            "605a7baede844d278b89dc95ae0a9123@o1234.ingest.sentry.io",
            "abc@sentry-next.wixpress.com",
            "not-an-address@",
        ] {
            assert!(vet(bad).is_none(), "{bad} should be rejected");
        }
        assert!(from_text("background: url(img/bg@2x.png)").is_empty());
    }

    #[test]
    fn role_addresses_are_told_from_personal_ones() {
        let cases = [
            ("info@dupont.lu", true),
            ("contact@dupont.lu", true),
            ("kontakt@firma.de", true),
            ("info2@dupont.lu", true),
            ("info.lux@dupont.lu", true),
            ("service-client@dupont.lu", true),
            ("reservations@hotel.lu", true),
            ("jean.dupont@dupont.lu", false),
            ("m.schmit@firma.lu", false),
            ("anne@atelier-anne.lu", false),
        ];
        for (address, role) in cases {
            assert_eq!(vet(address).unwrap().is_role, role, "{address}");
        }
    }

    #[test]
    fn cloudflare_obfuscation_is_decoded() {
        // "info@shop.lu" XOR 0x42, prefixed with the key.
        let key = 0x42u8;
        let hex: String = std::iter::once(key)
            .chain("info@shop.lu".bytes().map(|b| b ^ key))
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(decode_cloudflare(&hex).unwrap().address, "info@shop.lu");
        assert!(decode_cloudflare("zz").is_none());
    }
}
