use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use super::{
    algorithm::{Component, ScoreCard},
    facts::{Channel, Contacts, FailingAudit, Https, Listing, Performance, ScoreFacts, Technology, Website},
};

/// Detections below this confidence are not claimed (as in the tech
/// profile's summary columns).
const MIN_CONFIDENCE: u8 = 50;

struct FactsRow {
    channel: String,
    domain_name: Option<String>,
    website_url: Option<String>,
    profile_url: Option<String>,
    address: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    rating: Option<f64>,
    review_count: i32,
    category: Option<String>,
    has_website: Option<bool>,
    scanned: bool,
    final_url: Option<String>,
    tech_status: Option<i32>,
    unreachable_reason: Option<String>,
    tls_valid: Option<bool>,
    tls_issuer: Option<String>,
    tls_expires_at: Option<DateTime<Utc>>,
    tls_error: Option<String>,
    is_parked: Option<bool>,
    parked_reason: Option<String>,
    is_social_only: Option<bool>,
    social_profile_url: Option<String>,
    tech_stack_json: Option<Value>,
    audited: bool,
    audit_failure: Option<String>,
    performance_score: Option<i32>,
    accessibility_score: Option<i32>,
    seo_score: Option<i32>,
    lcp_ms: Option<i32>,
    fcp_ms: Option<i32>,
    tbt_ms: Option<i32>,
    cls: Option<f64>,
    is_mobile_friendly: Option<bool>,
    form_factor: Option<String>,
    failing_audits: Option<Value>,
    emails: i64,
    phones: i64,
    addresses: i64,
    others: i64,
    first_source: Option<String>,
}

/// Load what the score needs, or `None` for an unknown prospect.
pub async fn load_facts(
    executor: impl PgExecutor<'_>,
    prospect_id: i64,
    today: NaiveDate,
) -> Result<Option<ScoreFacts>, sqlx::Error> {
    let row = sqlx::query_file_as!(FactsRow, "src/score/sql/load_facts.sql", prospect_id)
        .fetch_optional(executor)
        .await?;
    Ok(row.map(|row| facts_from(row, today)))
}

#[derive(Deserialize)]
struct RawDetection {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    confidence: u8,
    #[serde(default)]
    categories: Vec<RawCategory>,
    #[serde(default)]
    evidence: Vec<RawEvidence>,
    #[serde(default)]
    implied_by: Vec<String>,
}

#[derive(Deserialize)]
struct RawCategory {
    name: String,
}

#[derive(Deserialize)]
struct RawEvidence {
    field: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    matched: String,
    #[serde(default)]
    version: Option<String>,
}

/// `the generator meta tag: "WordPress 4.9.8"`, `the x-powered-by header:
/// "PHP/7.4.33"`: the evidence that showed the version, else the first.
fn describe(detection: &RawDetection) -> String {
    let shown = detection
        .evidence
        .iter()
        .find(|e| e.version.is_some() && e.version == detection.version)
        .or_else(|| detection.evidence.first());
    match shown {
        Some(e) => {
            let place = match (e.field.as_str(), &e.key) {
                ("header", Some(key)) => format!("the {key} header"),
                ("meta", Some(key)) => format!("the {key} meta tag"),
                ("cookie", Some(key)) => format!("the {key} cookie"),
                ("script_src", _) => "a script URL".to_owned(),
                ("scripts", _) => "an inline script".to_owned(),
                ("html", _) => "the page's HTML".to_owned(),
                ("text", _) => "the page's text".to_owned(),
                ("css", _) => "the page's CSS".to_owned(),
                ("url", _) => "the page URL".to_owned(),
                ("dns", Some(key)) => format!("the {key} DNS records"),
                ("cert_issuer", _) => "the certificate issuer".to_owned(),
                ("robots", _) => "robots.txt".to_owned(),
                ("dom", Some(key)) => format!("the page element {key}"),
                (field, _) => field.to_owned(),
            };
            if e.matched.is_empty() {
                place
            } else {
                format!("{place}: \"{}\"", e.matched)
            }
        }
        None if !detection.implied_by.is_empty() => format!("implied by {}", detection.implied_by.join(", ")),
        None => "the home page".to_owned(),
    }
}

fn technologies(document: Option<&Value>) -> Vec<Technology> {
    let Some(list) = document.and_then(|d| d.get("detections")).cloned() else {
        return Vec::new();
    };
    let detections: Vec<RawDetection> = serde_json::from_value(list).unwrap_or_default();
    detections
        .into_iter()
        .filter(|d| d.confidence >= MIN_CONFIDENCE)
        .map(|d| Technology {
            evidence: describe(&d),
            name: d.name,
            version: d.version,
            categories: d.categories.into_iter().map(|c| c.name).collect(),
        })
        .collect()
}

fn small(value: Option<i32>) -> Option<u8> {
    value.and_then(|v| u8::try_from(v).ok())
}

fn millis(value: Option<i32>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

fn facts_from(row: FactsRow, today: NaiveDate) -> ScoreFacts {
    let channel = match row.channel.as_str() {
        "offline" => Channel::Offline,
        "maps" => Channel::Maps,
        _ => Channel::Digital,
    };
    let website = if !row.scanned {
        match (&row.domain_name, &row.profile_url) {
            (None, Some(url)) => Website::SocialOnly { url: url.clone() },
            (None, None) => Website::None,
            (Some(_), _) => Website::Unknown,
        }
    } else if row.is_parked == Some(true) {
        Website::Parked {
            detail: row
                .parked_reason
                .clone()
                .unwrap_or_else(|| "a parking page".to_owned()),
        }
    } else if row.is_social_only == Some(true) {
        Website::SocialOnly {
            url: row.social_profile_url.clone().unwrap_or_default(),
        }
    } else if row.has_website == Some(true) {
        Website::Live {
            final_url: row
                .final_url
                .clone()
                .or_else(|| row.website_url.clone())
                .unwrap_or_default(),
        }
    } else {
        Website::Unreachable {
            detail: row
                .unreachable_reason
                .clone()
                .or_else(|| row.tech_status.map(|s| format!("the home page answers HTTP {s}")))
                .unwrap_or_else(|| "no answer".to_owned()),
        }
    };
    let https = match &website {
        Website::Live { final_url } => Some(Https {
            uses_https: final_url.starts_with("https://"),
            certificate_valid: row.tls_valid,
            certificate_error: row.tls_error.clone(),
            certificate_issuer: row.tls_issuer.clone(),
            certificate_expires_at: row.tls_expires_at,
        }),
        _ => None,
    };
    let performance = row.audited.then(|| Performance {
        performance: small(row.performance_score),
        accessibility: small(row.accessibility_score),
        seo: small(row.seo_score),
        lcp_ms: millis(row.lcp_ms),
        fcp_ms: millis(row.fcp_ms),
        tbt_ms: millis(row.tbt_ms),
        cls: row.cls,
        mobile_friendly: row.is_mobile_friendly,
        form_factor: row.form_factor.clone().unwrap_or_else(|| "mobile".to_owned()),
        failing_audits: row
            .failing_audits
            .clone()
            .and_then(|v| serde_json::from_value::<Vec<FailingAudit>>(v).ok())
            .unwrap_or_default(),
    });
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    // Details entered with the lead (imports, discovery) count as contacts too.
    let contacts = Contacts {
        emails: count(row.emails).max(u32::from(row.email.is_some())),
        phones: count(row.phones).max(u32::from(row.phone.is_some())),
        other: count(row.others + row.addresses),
        first_source: row.first_source.clone(),
    };
    ScoreFacts {
        channel,
        technologies: match &website {
            Website::Live { .. } => technologies(row.tech_stack_json.as_ref()),
            _ => Vec::new(),
        },
        domain: row.domain_name,
        website,
        https,
        performance,
        audit_failure: row.audit_failure,
        contacts,
        listing: Listing {
            rating: row.rating,
            review_count: u32::try_from(row.review_count).unwrap_or(0),
            category: row.category,
        },
        has_address: row.address.is_some() || row.addresses > 0,
        today,
    }
}

/// Store a score card and stamp the prospect.
pub async fn upsert_score(
    conn: &mut PgConnection,
    prospect_id: i64,
    card: &ScoreCard,
) -> Result<(), sqlx::Error> {
    let flags = serde_json::to_value(&card.flags).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        r#"
        INSERT INTO prospect_scores (prospect_id, score, technical_health_score, modernity_score,
            business_value_score, engagement_score, reason_flags, lead_tier, algorithm_version, scored_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
        ON CONFLICT (prospect_id) DO UPDATE SET
            score = EXCLUDED.score,
            technical_health_score = EXCLUDED.technical_health_score,
            modernity_score = EXCLUDED.modernity_score,
            business_value_score = EXCLUDED.business_value_score,
            engagement_score = EXCLUDED.engagement_score,
            reason_flags = EXCLUDED.reason_flags,
            lead_tier = EXCLUDED.lead_tier,
            algorithm_version = EXCLUDED.algorithm_version,
            scored_at = now()
        "#,
        prospect_id,
        i32::from(card.score),
        i32::from(card.component(Component::TechnicalHealth)),
        i32::from(card.component(Component::Modernity)),
        i32::from(card.component(Component::BusinessValue)),
        i32::from(card.component(Component::Engagement)),
        flags,
        card.tier.as_str(),
        card.algorithm_version,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE prospects SET last_score_at = now() WHERE id = $1",
        prospect_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn detections_keep_their_evidence_and_drop_weak_ones() {
        let document = json!({
            "detections": [
                {"name": "WordPress", "version": "4.9.8", "confidence": 100,
                 "categories": [{"id": 1, "name": "CMS"}],
                 "evidence": [{"field": "html", "pattern": "y", "matched": "/wp-content/", "confidence": 100},
                              {"field": "meta", "key": "generator", "pattern": "x", "matched": "WordPress 4.9.8", "confidence": 100, "version": "4.9.8"}]},
                {"name": "PHP", "confidence": 100, "categories": [{"id": 27, "name": "Programming languages"}],
                 "evidence": [], "implied_by": ["WordPress"]},
                {"name": "Maybe", "confidence": 25, "categories": [], "evidence": []}
            ]
        });
        let techs = technologies(Some(&document));
        assert_eq!(techs.len(), 2);
        assert_eq!(techs[0].evidence, "the generator meta tag: \"WordPress 4.9.8\"");
        assert_eq!(techs[0].categories, vec!["CMS"]);
        assert_eq!(techs[1].evidence, "implied by WordPress");
        assert!(technologies(Some(&json!({"outcome": "parked"}))).is_empty());
    }
}
