//! From a prospect row to the generator's input, and (for a rebuild) the
//! real content of the business's current website.

use scraper::Selector;
use serde::Deserialize;
use url::Url;

use super::{
    AddressInput, ExistingContent, PhotoInput, ReviewInput, SiteInput, Variant, queries::BusinessRow,
};
use crate::tech_scan::{
    document,
    fetch::{FetchOptions, Fetched, Fetcher},
};

/// Photos from these hosts need an API key to load: a page must not link
/// them (the key would leak, and without it they are broken images).
const KEYED_PHOTO_HOSTS: [&str; 2] = ["places.googleapis.com", "maps.googleapis.com"];

#[derive(Deserialize)]
struct StoredReview {
    #[serde(default)]
    author: String,
    #[serde(default)]
    rating: Option<f64>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    source_url: Option<String>,
}

/// The generator's input for `row`.
pub fn site_input(row: &BusinessRow, variant: Variant, existing: Option<ExistingContent>) -> SiteInput {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let reviews: Vec<StoredReview> = serde_json::from_value(row.reviews.clone()).unwrap_or_default();
    SiteInput {
        public_id: row.public_id,
        name: row.business_name.clone().unwrap_or_default(),
        category: row.category.clone(),
        subcategory: row.subcategory.clone(),
        address: AddressInput {
            full: row.address.clone(),
            street: None,
            city: row.city.clone(),
            postal_code: row.postal_code.clone(),
            state: row.state.clone(),
            country_code: Some(row.country.clone()),
        },
        phone: row.phone_e164.clone().or_else(|| row.phone.clone()),
        email: row.email.clone(),
        opening_hours: strings(&row.opening_hours),
        rating: row.rating,
        review_count: Some(i64::from(row.review_count)),
        reviews: reviews
            .into_iter()
            .map(|r| ReviewInput {
                author: r.author,
                rating: r.rating,
                text: r.text,
                published: r.published,
                source_url: r.source_url,
            })
            .collect(),
        photos: strings(&row.photos)
            .into_iter()
            .filter(|u| {
                Url::parse(u).is_ok_and(|url| {
                    url.scheme() == "https" && url.host_str().is_some_and(|h| !KEYED_PHOTO_HOSTS.contains(&h))
                })
            })
            .map(|url| PhotoInput {
                url,
                width: None,
                height: None,
                attribution: None,
            })
            .collect(),
        lat: row.lat,
        lng: row.lng,
        existing_website: row.website_url.clone(),
        existing_content: existing,
        variant,
    }
}

/// The title, description, headings and paragraphs of the business's
/// current home page, fetched with the tech scan's guarded fetcher. `None`
/// when it cannot be read (the rebuild then uses the listing's facts only).
pub async fn existing_content(fetcher: &Fetcher, website: &str, max_depth: usize) -> Option<ExistingContent> {
    let url = Url::parse(website).ok()?;
    let page = match fetcher.fetch(&url, FetchOptions::default()).await {
        Ok(Fetched::Page(page)) if (200..300).contains(&page.status) && page.is_html() => page,
        Ok(_) => return None,
        Err(e) => {
            tracing::info!(error = %e, "could not read the current website for the rebuild");
            return None;
        }
    };
    tokio::task::spawn_blocking(move || extract(&page.body, &page.url, max_depth))
        .await
        .ok()
}

fn extract(html: &str, base: &Url, max_depth: usize) -> ExistingContent {
    let parsed = document::parse_page(html, base, max_depth);
    let texts = |css: &str, limit: usize| -> Vec<String> {
        let Ok(selector) = Selector::parse(css) else {
            return Vec::new();
        };
        parsed
            .document
            .select(&selector)
            .map(|e| document::collapse(&e.text().collect::<String>()))
            .filter(|t| t.chars().count() >= 3)
            .take(limit)
            .collect()
    };
    let description = parsed
        .meta
        .iter()
        .find(|(name, _)| name == "description" || name == "og:description")
        .map(|(_, content)| content.clone());
    ExistingContent {
        title: parsed.title.clone(),
        description,
        headings: texts("h1, h2, h3", 12),
        snippets: texts("main p, article p, p", 12)
            .into_iter()
            .filter(|t| t.chars().count() >= 40)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_home_page_gives_its_words_to_the_rebuild() {
        let html = r#"<html><head><title>Garage Weber – Esch</title>
            <meta name="description" content="Réparations toutes marques depuis 1987."></head>
            <body><h1>Bienvenue au Garage Weber</h1><h2>Nos services</h2>
            <p>Entretien, pneus et contrôle technique pour toutes les marques, à Esch-sur-Alzette.</p>
            <p>Hi</p></body></html>"#;
        let base = Url::parse("http://garage-weber.lu/").unwrap();
        let content = extract(html, &base, 512);
        assert_eq!(content.title.as_deref(), Some("Garage Weber – Esch"));
        assert_eq!(
            content.description.as_deref(),
            Some("Réparations toutes marques depuis 1987.")
        );
        assert_eq!(
            content.headings,
            vec!["Bienvenue au Garage Weber", "Nos services"]
        );
        assert_eq!(content.snippets.len(), 1);
    }
}
