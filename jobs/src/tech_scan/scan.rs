//! One scan: probe the home page, read robots.txt and DNS, fingerprint the
//! home page, visit likely contact pages, and assemble what is stored.

use std::{sync::Arc, time::Duration};

use url::Url;

use super::{
    TechScanDeps, TechScanError,
    bounded_parse::{CancelOnDrop, Cancelled},
    contacts::{self, Contact, StoredContact, phones, social},
    document::{self, Link},
    fetch::{
        FetchOptions, Fetched, Page,
        dns::{DnsRecords, lookup_records},
        robots::{RobotsRules, fetch_robots},
    },
    fingerprint::{Detection, PageInput},
    outcome,
    parked::{self, Parked},
    probe::{self, Home, TlsOutcome},
    queries::{ProfileRow, ProspectUpdate, ScanTarget},
};

/// Version of the `tech_stack_json` document layout.
pub const DOCUMENT_VERSION: u32 = 1;

/// Contact pages are only visited while the scan is younger than this, so
/// that slow sites with long crawl delays finish within the stage timeout.
pub const CONTACT_PAGES_BUDGET: Duration = Duration::from_secs(40);

/// Everything a successful scan stores.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    /// The tech profile row.
    pub profile: ProfileRow,
    /// Contacts found.
    pub contacts: Vec<StoredContact>,
    /// The prospect's new state.
    pub prospect: ProspectUpdate,
    /// Why the audit does not apply (no reachable website), if so.
    pub skip_audit: Option<String>,
}

/// What the home page analysis returns (owned; the DOM stays on its thread).
pub(super) struct HomeAnalysis {
    pub(super) detections: Vec<Detection>,
    pub(super) contacts: Vec<Contact>,
    pub(super) candidates: Vec<Url>,
    pub(super) parked: Option<Parked>,
    pub(super) title: Option<String>,
    pub(super) lang: Option<String>,
    pub(super) truncated: Option<String>,
}

/// A page fetched for contacts, for the record.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct PageVisit {
    pub(super) url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<u16>,
    pub(super) outcome: String,
}

/// Scan the prospect's site.
pub async fn scan(
    target: &ScanTarget,
    deps: &TechScanDeps,
    last_attempt: bool,
) -> Result<ScanOutcome, TechScanError> {
    let started = tokio::time::Instant::now();
    // A known website URL that is a social profile: nothing to fetch.
    let known = target.website_url.as_deref().and_then(|w| Url::parse(w).ok());
    if let Some(url) = known.as_ref().filter(|u| social::network(u).is_some()) {
        return Ok(outcome::social_only(
            target,
            url.as_str(),
            &[],
            &[],
            &DnsRecords::default(),
            &[],
        ));
    }
    let host = match (&target.domain_name, &known) {
        (Some(domain), _) => domain.clone(),
        (None, Some(url)) => url
            .host_str()
            .map(|h| h.trim_start_matches("www.").to_owned())
            .ok_or(TechScanError::NoTarget(target.id))?,
        (None, None) => return Err(TechScanError::NoTarget(target.id)),
    };
    // Keep the path of a known URL on the same site (a listing may point at /fr/).
    let path = known
        .as_ref()
        .filter(|u| u.host_str().is_some_and(|h| h.trim_start_matches("www.") == host))
        .map(|u| {
            let mut p = u.path().to_owned();
            if let Some(q) = u.query() {
                p.push('?');
                p.push_str(q);
            }
            p
        })
        .unwrap_or_else(|| "/".to_owned());

    let zone = psl::domain_str(&host).unwrap_or(&host).to_owned();
    let dns_future = async {
        if deps.settings.dns_records {
            lookup_records(deps.fetcher.resolver(), &host, &zone).await
        } else {
            DnsRecords::default()
        }
    };
    let (home, dns) = tokio::join!(probe::probe(&deps.fetcher, &host, &path), dns_future);
    let mut home = home.map_err(TechScanError::Fetch)?;
    // The page the lead was given may be gone (a 404 at `/contact`): the
    // site is its home page then. (A site that does not answer at all is
    // not asked twice.)
    let page_gone = match &home {
        Home::Reached { page, .. } => (400..500).contains(&page.status),
        Home::Unreachable { .. } | Home::Social { .. } => false,
    };
    if path != "/" && page_gone {
        home = probe::probe(&deps.fetcher, &host, "/")
            .await
            .map_err(TechScanError::Fetch)?;
    }
    let dns_pairs = dns.by_type();
    let dns_only = || {
        deps.engine.analyze(&PageInput {
            dns: &dns_pairs,
            ..PageInput::default()
        })
    };

    let (page, tls, attempts, insecure) = match home {
        Home::Social {
            url,
            redirects,
            attempts,
        } => {
            return Ok(outcome::social_only(
                target,
                url.as_str(),
                &redirects,
                &attempts,
                &dns,
                &dns_only(),
            ));
        }
        Home::Unreachable {
            reason,
            attempts,
            tls,
        } => {
            return Ok(outcome::unreachable(
                target,
                &reason,
                &attempts,
                &tls,
                &dns,
                &dns_only(),
            ));
        }
        Home::Reached {
            page,
            tls,
            attempts,
            insecure,
        } => (page, tls, attempts, insecure),
    };

    // Rate limited or failing: retry later, unless this is the last try.
    // A bot challenge (Cloudflare's `cf-mitigated: challenge`) will not go
    // away on retry: it is the result.
    let challenged = page
        .header("cf-mitigated")
        .is_some_and(|v| v.eq_ignore_ascii_case("challenge"));
    if (page.status == 429 || page.status >= 500) && !last_attempt && !challenged {
        let retry_after = page
            .header("retry-after")
            .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()));
        return Err(if page.status == 429 || page.status == 503 {
            TechScanError::RateLimited {
                url: page.url.to_string(),
                status: page.status,
                retry_after,
            }
        } else {
            TechScanError::ServerError {
                url: page.url.to_string(),
                status: page.status,
            }
        });
    }

    let robots = fetch_robots(&deps.fetcher, &page.url, deps.settings.robots_token(), insecure).await;
    let region = phones::region(&target.country);
    let page = Arc::new(*page);
    let analysis = analyze_home(deps, Arc::clone(&page), &robots, &dns, &tls, region).await?;

    // Contact pages, within robots.txt, one at a time (the host gate paces them).
    let mut found: Vec<Contact> = analysis.contacts.clone();
    let mut visits = Vec::new();
    let crawl_delay = robots.crawl_delay();
    for url in analysis.candidates.iter().take(deps.settings.contact_pages) {
        if started.elapsed() > CONTACT_PAGES_BUDGET {
            visits.push(PageVisit {
                url: url.to_string(),
                status: None,
                outcome: "skipped: the scan's time budget is spent".into(),
            });
            continue;
        }
        if !robots.allows(url) {
            visits.push(PageVisit {
                url: url.to_string(),
                status: None,
                outcome: "disallowed by robots.txt".into(),
            });
            continue;
        }
        let stop: &(dyn Fn(&Url) -> bool + Sync) = &|u: &Url| u.host_str() != page.url.host_str();
        let options = FetchOptions {
            insecure,
            stop_at: Some(stop),
            crawl_delay,
            ..FetchOptions::default()
        };
        match deps.fetcher.fetch(url, options).await {
            Ok(Fetched::Page(sub)) => {
                let status = sub.status;
                if status == 429 || status == 503 {
                    visits.push(PageVisit {
                        url: url.to_string(),
                        status: Some(status),
                        outcome: "rate limited; no further pages fetched".into(),
                    });
                    break;
                }
                if (200..300).contains(&status) && sub.is_html() {
                    let extracted = contacts_of(deps, Arc::new(*sub), region).await?;
                    visits.push(PageVisit {
                        url: url.to_string(),
                        status: Some(status),
                        outcome: format!("{} contacts", extracted.len()),
                    });
                    found.extend(extracted);
                } else {
                    visits.push(PageVisit {
                        url: url.to_string(),
                        status: Some(status),
                        outcome: "not an HTML page".into(),
                    });
                }
            }
            Ok(Fetched::StoppedAt { url: to, .. }) => visits.push(PageVisit {
                url: url.to_string(),
                status: None,
                outcome: format!("redirects off the site to {to}"),
            }),
            Err(e) => visits.push(PageVisit {
                url: url.to_string(),
                status: None,
                outcome: e.to_string(),
            }),
        }
    }

    let site_domain = page.url.host_str().unwrap_or(&host).to_owned();
    let stored = contacts::finalize(found, &site_domain);
    Ok(outcome::reachable(
        target, &page, &tls, &attempts, insecure, &dns, &robots, analysis, stored, visits,
    ))
}

async fn analyze_home(
    deps: &TechScanDeps,
    page: Arc<Page>,
    robots: &RobotsRules,
    dns: &DnsRecords,
    tls: &TlsOutcome,
    region: Option<phonenumber::country::Id>,
) -> Result<HomeAnalysis, TechScanError> {
    let engine = Arc::clone(&deps.engine);
    let max_depth = deps.settings.max_html_depth;
    let robots_text = robots.text.clone();
    let dns = dns.clone();
    let issuer = tls.certificate.as_ref().and_then(|c| c.issuer.clone());
    let _cpu = deps
        .cpu
        .acquire()
        .await
        .map_err(|_| TechScanError::Analysis("CPU pool closed".into()))?;
    let cancel = CancelOnDrop::new();
    let flag = cancel.flag();
    let analysis = tokio::task::spawn_blocking(move || {
        let html = if page.is_html() { page.body.as_str() } else { "" };
        let parsed = document::parse_page_within(html, &page.url, max_depth, &flag)?;
        let cookies = cookies(&page.headers);
        let dns_pairs = dns.by_type();
        let url = page.url.to_string();
        let input = PageInput {
            url: &url,
            html,
            headers: &page.headers,
            cookies: &cookies,
            meta: &parsed.meta,
            script_src: &parsed.script_src,
            scripts: &parsed.scripts,
            text: &parsed.text,
            css: &parsed.css,
            robots: robots_text.as_deref(),
            cert_issuer: issuer.as_deref(),
            dns: &dns_pairs,
            document: Some(&parsed.document),
        };
        let detections = engine.analyze(&input);
        flag.check()?;
        let contacts = if (200..300).contains(&page.status) {
            contacts::extract(&parsed, &page.url, region)
        } else {
            Vec::new()
        };
        let parked = if (200..300).contains(&page.status) {
            parked::detect(parsed.title.as_deref(), &parsed.text, &detections)
        } else {
            None
        };
        Ok(HomeAnalysis {
            candidates: contact_candidates(&parsed.links, &page.url),
            detections,
            contacts,
            parked,
            title: parsed.title,
            lang: parsed.lang,
            truncated: parsed.truncated,
        })
    })
    .await;
    drop(cancel);
    finished(analysis)
}

/// The result of analysis on a blocking thread.
fn finished<T>(joined: Result<Result<T, Cancelled>, tokio::task::JoinError>) -> Result<T, TechScanError> {
    match joined {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(cancelled)) => Err(TechScanError::Analysis(cancelled.to_string())),
        Err(e) => Err(TechScanError::Analysis(e.to_string())),
    }
}

async fn contacts_of(
    deps: &TechScanDeps,
    page: Arc<Page>,
    region: Option<phonenumber::country::Id>,
) -> Result<Vec<Contact>, TechScanError> {
    let max_depth = deps.settings.max_html_depth;
    let _cpu = deps
        .cpu
        .acquire()
        .await
        .map_err(|_| TechScanError::Analysis("CPU pool closed".into()))?;
    let cancel = CancelOnDrop::new();
    let flag = cancel.flag();
    let extracted = tokio::task::spawn_blocking(move || {
        let parsed = document::parse_page_within(&page.body, &page.url, max_depth, &flag)?;
        Ok(contacts::extract(&parsed, &page.url, region))
    })
    .await;
    drop(cancel);
    finished(extracted)
}

/// Cookies set by the response (name, value).
fn cookies(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .filter_map(|(_, v)| {
            let pair = v.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Path words and link texts of likely contact pages, by priority.
const CONTACT_WORDS: &[&[&str]] = &[
    &[
        "contact",
        "kontakt",
        "contatti",
        "contacto",
        "contacteer",
        "nous-contacter",
        "contactez",
        "get-in-touch",
    ],
    &[
        "impressum",
        "imprint",
        "mentions-legales",
        "mentions_legales",
        "mentionslegales",
        "mentions légales",
        "legal-notice",
        "legal notice",
        "aviso-legal",
        "colofon",
        "note-legali",
    ],
    &[
        "about",
        "a-propos",
        "apropos",
        "à propos",
        "qui-sommes-nous",
        "qui sommes-nous",
        "ueber-uns",
        "uber-uns",
        "über-uns",
        "über uns",
        "team",
        "equipe",
        "équipe",
        "chi-siamo",
        "over-ons",
    ],
    &[
        "legal",
        "juridique",
        "rechtliches",
        "privacy",
        "datenschutz",
        "confidentialite",
    ],
];

/// Same-host pages linked from the home page that likely list contacts.
fn contact_candidates(links: &[Link], home: &Url) -> Vec<Url> {
    let mut ranked: Vec<(usize, Url)> = Vec::new();
    for link in links {
        let url = &link.url;
        if !matches!(url.scheme(), "http" | "https") || url.host_str() != home.host_str() {
            continue;
        }
        let mut clean = url.clone();
        clean.set_fragment(None);
        if clean.path() == home.path() && clean.query() == home.query() {
            continue;
        }
        let path = percent_encoding::percent_decode_str(clean.path())
            .decode_utf8_lossy()
            .to_lowercase();
        let text = link.text.to_lowercase();
        let Some(rank) = CONTACT_WORDS
            .iter()
            .position(|words| words.iter().any(|w| path.contains(w) || text.contains(w)))
        else {
            continue;
        };
        if ranked.iter().any(|(_, u)| *u == clean) {
            continue;
        }
        ranked.push((rank, clean));
    }
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, u)| u).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_candidates_are_same_host_and_ranked() {
        let home = Url::parse("https://dupont.lu/").unwrap();
        let link = |href: &str, text: &str| Link {
            url: home.join(href).unwrap(),
            text: text.into(),
        };
        let links = vec![
            link("/qui-sommes-nous", "Qui sommes-nous ?"),
            link("/page/42", "Mentions légales"),
            link("/contact#form", "Nous écrire"),
            link("/contact", "Contact"),
            link("https://other.lu/contact", "Contact"),
            link("/produits", "Produits"),
            link("/", "Accueil"),
        ];
        let got: Vec<String> = contact_candidates(&links, &home)
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            got,
            vec![
                "https://dupont.lu/contact",
                "https://dupont.lu/page/42",
                "https://dupont.lu/qui-sommes-nous"
            ]
        );
    }
}
