//! Contacts found on a site: e-mail addresses, phone numbers, social
//! profiles, postal addresses and contact forms, each with the page it was
//! found on; one primary per type.

pub mod emails;
pub mod phones;
pub mod social;
pub mod structured;

use std::collections::HashMap;

use phonenumber::country;
use scraper::Selector;
use serde::{Deserialize, Serialize};
use url::Url;

use super::document::ParsedPage;

/// The `prospect_contacts.contact_type` values this stage writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// `email`
    Email,
    /// `phone` (E.164)
    Phone,
    /// `social` (profile URL; label = network)
    Social,
    /// `address` (postal, one line)
    Address,
    /// `contact_form` (the page URL)
    ContactForm,
}

impl ContactKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Phone => "phone",
            ContactKind::Social => "social",
            ContactKind::Address => "address",
            ContactKind::ContactForm => "contact_form",
        }
    }
}

/// How a contact was found; a lower rank is a stronger signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A `mailto:`/`tel:` link or a profile link.
    Link,
    /// schema.org JSON-LD or microdata.
    StructuredData,
    /// Cloudflare's e-mail obfuscation, decoded.
    Obfuscated,
    /// Page text.
    Text,
}

/// A contact on one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Type.
    pub kind: ContactKind,
    /// Normalised value.
    pub value: String,
    /// Network name for social links; `role`/`personal` for e-mail.
    pub label: Option<String>,
    /// E-mail only: a shared mailbox.
    pub is_role_address: Option<bool>,
    /// The page it was found on.
    pub source_url: String,
    /// How.
    pub via: Via,
}

/// A contact ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContact {
    /// The contact.
    #[serde(flatten)]
    pub contact: Contact,
    /// The one to use first for its type.
    pub is_primary: bool,
}

/// Most contacts kept per type.
const MAX_PER_KIND: usize = 20;

/// Contacts on one page. `region` is the prospect's country (for phones).
pub fn extract(page: &ParsedPage, page_url: &Url, region: Option<country::Id>) -> Vec<Contact> {
    let source = page_url.to_string();
    let mut out = Vec::new();
    let mut add = |kind, value: String, label: Option<String>, role: Option<bool>, via| {
        out.push(Contact {
            kind,
            value,
            label,
            is_role_address: role,
            source_url: source.clone(),
            via,
        });
    };
    let email = |found: emails::FoundEmail| {
        let label = Some(if found.is_role { "role" } else { "personal" }.to_owned());
        (found.address, label, Some(found.is_role))
    };
    for link in &page.links {
        match link.url.scheme() {
            "mailto" => {
                for found in emails::from_mailto(link.url.path()) {
                    let (v, l, r) = email(found);
                    add(ContactKind::Email, v, l, r, Via::Link);
                }
            }
            "tel" => {
                if let Some(n) = phones::from_tel(link.url.path(), region) {
                    add(ContactKind::Phone, n, None, None, Via::Link);
                }
            }
            "http" | "https" => {
                if let Some((url, network)) = social::profile(&link.url) {
                    add(
                        ContactKind::Social,
                        url,
                        Some(network.to_owned()),
                        None,
                        Via::Link,
                    );
                }
                // /cdn-cgi/l/email-protection#<hex>
                if link.url.path().ends_with("/email-protection")
                    && let Some(found) = link.url.fragment().and_then(emails::decode_cloudflare)
                {
                    let (v, l, r) = email(found);
                    add(ContactKind::Email, v, l, r, Via::Obfuscated);
                }
            }
            _ => {}
        }
    }
    if let Ok(cf) = Selector::parse("[data-cfemail]") {
        for el in page.document.select(&cf) {
            if let Some(found) = el
                .value()
                .attr("data-cfemail")
                .and_then(emails::decode_cloudflare)
            {
                let (v, l, r) = email(found);
                add(ContactKind::Email, v, l, r, Via::Obfuscated);
            }
        }
    }
    let data = structured::from_json_ld(&page.json_ld);
    for a in data
        .addresses
        .into_iter()
        .chain(structured::microdata_addresses(&page.document))
    {
        add(ContactKind::Address, a, None, None, Via::StructuredData);
    }
    for t in &data.telephones {
        if let Some(n) = phones::normalise(t, region) {
            add(ContactKind::Phone, n, None, None, Via::StructuredData);
        }
    }
    for e in data.emails.iter().filter_map(|e| emails::vet(e)) {
        let (v, l, r) = email(e);
        add(ContactKind::Email, v, l, r, Via::StructuredData);
    }
    for u in &data.same_as {
        if let Some((url, network)) = Url::parse(u).ok().as_ref().and_then(social::profile) {
            add(
                ContactKind::Social,
                url,
                Some(network.to_owned()),
                None,
                Via::StructuredData,
            );
        }
    }
    for found in emails::from_text(&page.text) {
        let (v, l, r) = email(found);
        add(ContactKind::Email, v, l, r, Via::Text);
    }
    for n in phones::from_text(&page.text, region) {
        add(ContactKind::Phone, n, None, None, Via::Text);
    }
    if page.has_contact_form {
        add(ContactKind::ContactForm, source.clone(), None, None, Via::Link);
    }
    out
}

/// Deduplicate (first sighting wins, strongest `via` kept), bound the count
/// per type, and mark one primary per type:
/// - e-mail: an address on the site's own domain, a role mailbox, then the
///   strongest signal, then the first seen;
/// - others: the strongest signal, then the first seen.
pub fn finalize(found: Vec<Contact>, site_domain: &str) -> Vec<StoredContact> {
    let mut index: HashMap<(ContactKind, String), usize> = HashMap::new();
    let mut unique: Vec<Contact> = Vec::new();
    for c in found {
        let key = (c.kind, c.value.clone());
        match index.get(&key) {
            Some(&i) => {
                if c.via < unique[i].via {
                    unique[i].via = c.via;
                }
            }
            None => {
                if unique.iter().filter(|u| u.kind == c.kind).count() < MAX_PER_KIND {
                    index.insert(key, unique.len());
                    unique.push(c);
                }
            }
        }
    }
    let site = site_domain.trim_start_matches("www.").to_ascii_lowercase();
    let own = |c: &Contact| {
        c.value.rsplit_once('@').is_some_and(|(_, d)| {
            d == site || d.ends_with(&format!(".{site}")) || site.ends_with(&format!(".{d}"))
        })
    };
    let mut primaries: HashMap<ContactKind, usize> = HashMap::new();
    for (i, c) in unique.iter().enumerate() {
        let better = match primaries.get(&c.kind) {
            None => true,
            Some(&p) => {
                let best = &unique[p];
                let rank = |c: &Contact| {
                    let email_rank = if c.kind == ContactKind::Email {
                        (u8::from(!own(c)), u8::from(c.is_role_address != Some(true)))
                    } else {
                        (0, 0)
                    };
                    (email_rank, c.via)
                };
                rank(c) < rank(best)
            }
        };
        if better {
            primaries.insert(c.kind, i);
        }
    }
    unique
        .into_iter()
        .enumerate()
        .map(|(i, contact)| StoredContact {
            is_primary: primaries.get(&contact.kind) == Some(&i),
            contact,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tech_scan::document::parse_page;

    #[test]
    fn a_contact_page_yields_every_kind_with_its_source() {
        let html = r#"<html><body>
            <a href="mailto:Jean.Dupont@dupont.lu">Jean</a>
            <a href="tel:+35226123456">Call</a>
            <a href="https://www.facebook.com/dupont.bakery">Facebook</a>
            <a href="https://www.facebook.com/sharer/sharer.php?u=x">Share</a>
            <p>Écrivez à info@dupont.lu ou <span class="__cf_email__" data-cfemail="42312a2d32022637322d2c366c2e37">[email protected]</span></p>
            <p>Tél: 26 12 34 57</p>
            <script type="application/ld+json">{"@type":"Bakery","address":{"streetAddress":"1 rue Haute","postalCode":"L-1234","addressLocality":"Luxembourg"}}</script>
            <form><textarea></textarea><button type=submit>Send</button></form>
            </body></html>"#;
        let url = Url::parse("https://dupont.lu/contact").unwrap();
        let page = parse_page(html, &url, 256);
        let found = extract(&page, &url, phones::region("LU"));
        let of = |kind| -> Vec<&str> {
            found
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.value.as_str())
                .collect()
        };
        assert_eq!(
            of(ContactKind::Email),
            vec!["jean.dupont@dupont.lu", "shop@dupont.lu", "info@dupont.lu"]
        );
        assert_eq!(of(ContactKind::Phone), vec!["+35226123456", "+35226123457"]);
        assert_eq!(
            of(ContactKind::Social),
            vec!["https://facebook.com/dupont.bakery"]
        );
        assert_eq!(of(ContactKind::Address), vec!["1 rue Haute, L-1234 Luxembourg"]);
        assert_eq!(of(ContactKind::ContactForm), vec!["https://dupont.lu/contact"]);
        assert!(found.iter().all(|c| c.source_url == "https://dupont.lu/contact"));
    }

    #[test]
    fn one_primary_per_type_prefers_own_domain_role_addresses() {
        let c = |kind, value: &str, role: Option<bool>, via| Contact {
            kind,
            value: value.into(),
            label: None,
            is_role_address: role,
            source_url: "https://dupont.lu/".into(),
            via,
        };
        let stored = finalize(
            vec![
                c(
                    ContactKind::Email,
                    "dupont.bakery@gmail.com",
                    Some(false),
                    Via::Link,
                ),
                c(ContactKind::Email, "jean@dupont.lu", Some(false), Via::Link),
                c(ContactKind::Email, "info@dupont.lu", Some(true), Via::Text),
                c(ContactKind::Email, "info@dupont.lu", Some(true), Via::Link),
                c(ContactKind::Phone, "+35226123457", None, Via::Text),
                c(ContactKind::Phone, "+35226123456", None, Via::Link),
            ],
            "www.dupont.lu",
        );
        let primary = |kind| {
            stored
                .iter()
                .filter(|s| s.contact.kind == kind && s.is_primary)
                .map(|s| s.contact.value.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(stored.len(), 5, "duplicates are merged");
        assert_eq!(primary(ContactKind::Email), vec!["info@dupont.lu"]);
        assert_eq!(primary(ContactKind::Phone), vec!["+35226123456"]);
    }
}
