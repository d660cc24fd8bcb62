//! The summary columns of `prospect_tech_profiles`, picked from detections
//! by category name (so they work with any Wappalyzer-format dataset).

use serde::{Deserialize, Serialize};

use super::fingerprint::{Detection, Field};

/// Least confidence for a detection to be named in a summary column.
pub const MIN_CONFIDENCE: u8 = 50;

/// One technology per concern (the most confident), plus analytics as a list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// CMS, site builder, wiki, blog or forum engine, else static-site generator.
    pub cms: Option<String>,
    /// Its version, if the page shows it.
    pub cms_version: Option<String>,
    /// Web server, else reverse proxy.
    pub server: Option<String>,
    /// Hosting, PaaS or IaaS provider.
    pub hosting_provider: Option<String>,
    /// CDN.
    pub cdn: Option<String>,
    /// JavaScript framework, else the main JavaScript library.
    pub js_framework: Option<String>,
    /// Analytics tools, comma-separated.
    pub analytics: Option<String>,
    /// Ecommerce platform.
    pub ecommerce_platform: Option<String>,
    /// Provider named by the NS records.
    pub dns_provider: Option<String>,
    /// Provider named by the MX (or SPF) records.
    pub email_provider: Option<String>,
}

fn first<'a>(detections: &'a [Detection], categories: &[&str]) -> Option<&'a Detection> {
    // Earlier categories win; within one, the most confident (the list is
    // sorted by confidence).
    categories.iter().find_map(|cat| {
        detections
            .iter()
            .find(|d| d.confidence >= MIN_CONFIDENCE && d.in_category(cat))
    })
}

/// Like [`first`], ignoring detections known only from NS, MX or SPF records
/// (a domain's DNS or mail provider does not host its site).
fn first_hosting<'a>(detections: &'a [Detection], categories: &[&str]) -> Option<&'a Detection> {
    categories.iter().find_map(|cat| {
        detections.iter().find(|d| {
            d.confidence >= MIN_CONFIDENCE
                && d.in_category(cat)
                && (!d.implied_by.is_empty()
                    || d.evidence
                        .iter()
                        .any(|e| e.field != Field::Dns || e.key.as_deref() == Some("CNAME")))
        })
    })
}

fn by_dns<'a>(detections: &'a [Detection], types: &[&str]) -> Option<&'a Detection> {
    detections.iter().find(|d| {
        d.confidence >= MIN_CONFIDENCE
            && d.evidence
                .iter()
                .any(|e| e.field == Field::Dns && e.key.as_deref().is_some_and(|k| types.contains(&k)))
    })
}

/// Pick the summary from `detections` (sorted by confidence, as the engine returns them).
pub fn summarize(detections: &[Detection]) -> Summary {
    let name = |d: Option<&Detection>| d.map(|d| d.name.clone());
    let cms = first(
        detections,
        &[
            "CMS",
            "Wikis",
            "Blogs",
            "Message boards",
            "LMS",
            "Documentation",
            "Static site generator",
        ],
    );
    let analytics: Vec<&str> = detections
        .iter()
        .filter(|d| d.confidence >= MIN_CONFIDENCE && d.in_category("Analytics"))
        .map(|d| d.name.as_str())
        .collect();
    let mut analytics_list = String::new();
    for a in analytics {
        if analytics_list.len() + a.len() + 2 > 200 {
            break;
        }
        if !analytics_list.is_empty() {
            analytics_list.push_str(", ");
        }
        analytics_list.push_str(a);
    }
    Summary {
        cms: name(cms),
        cms_version: cms.and_then(|d| d.version.clone()),
        server: name(first(detections, &["Web servers", "Reverse proxies"])),
        hosting_provider: name(first_hosting(detections, &["Hosting", "PaaS", "IaaS"])),
        cdn: name(first(detections, &["CDN"])),
        js_framework: name(first(
            detections,
            &["JavaScript frameworks", "JavaScript libraries"],
        )),
        analytics: (!analytics_list.is_empty()).then_some(analytics_list),
        ecommerce_platform: name(first(detections, &["Ecommerce"])),
        dns_provider: name(by_dns(detections, &["NS"])),
        email_provider: name(by_dns(detections, &["MX"]).or_else(|| by_dns(detections, &["TXT"]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tech_scan::fingerprint::{CategoryRef, Evidence};

    fn detection(name: &str, category: &str, field: Field, key: Option<&str>) -> Detection {
        Detection {
            name: name.into(),
            version: None,
            confidence: 100,
            categories: vec![CategoryRef {
                id: 1,
                name: category.into(),
            }],
            website: None,
            evidence: vec![Evidence {
                field,
                key: key.map(str::to_owned),
                pattern: String::new(),
                matched: String::new(),
                confidence: 100,
                version: None,
            }],
            implied_by: Vec::new(),
        }
    }

    #[test]
    fn dns_names_providers_but_not_the_host() {
        let detections = vec![
            detection("OVHcloud", "Hosting", Field::Dns, Some("NS")),
            detection("Google Workspace", "Email", Field::Dns, Some("MX")),
            detection("Netlify", "PaaS", Field::Dns, Some("CNAME")),
        ];
        let s = summarize(&detections);
        assert_eq!(s.dns_provider.as_deref(), Some("OVHcloud"));
        assert_eq!(s.email_provider.as_deref(), Some("Google Workspace"));
        assert_eq!(s.hosting_provider.as_deref(), Some("Netlify"));
        let s = summarize(&detections[..2]);
        assert_eq!(s.hosting_provider, None, "NS records alone name no host");
    }

    #[test]
    fn weak_detections_are_not_summarized() {
        let mut weak = detection("Maybe CMS", "CMS", Field::Html, None);
        weak.confidence = 25;
        assert_eq!(summarize(&[weak]).cms, None);
    }
}
