use sqlx::PgConnection;

use super::parse::LeadRecord;

/// Whether an upsert created the prospect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// The prospect.
    pub id: i64,
    /// True when the row is new.
    pub inserted: bool,
}

/// Insert a lead, or update the existing one with the same domain (digital)
/// or the same name, address and city (offline). Given values win; missing
/// ones keep what is stored; tags are merged. A lead with a domain has a
/// website of its own: `website_status` says `existing` (not WebMagic's
/// `none`, "ready for a generated site") unless we have built one.
pub async fn upsert_prospect(conn: &mut PgConnection, lead: &LeadRecord) -> Result<Upserted, sqlx::Error> {
    let tags = serde_json::Value::from(lead.tags.clone());
    let (lat, lng) = lead.location.map_or((None, None), |(a, b)| (Some(a), Some(b)));
    let email = lead.email.as_ref().map(|e| e.as_str());
    let row = match &lead.domain {
        Some(domain) => {
            sqlx::query!(
                r#"
                INSERT INTO prospects AS p (channel, domain_name, business_name, source, email, phone, address,
                    city, state, postal_code, country, notes, tags, location_lat, location_lng, website_url,
                    phone_e164, website_status)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    coalesce($16::varchar, 'https://' || $2::varchar), $17, 'existing')
                ON CONFLICT (domain_name) DO UPDATE SET
                    business_name = coalesce(EXCLUDED.business_name, p.business_name),
                    email = coalesce(EXCLUDED.email, p.email),
                    phone = coalesce(EXCLUDED.phone, p.phone),
                    phone_e164 = CASE WHEN EXCLUDED.phone IS NULL THEN p.phone_e164 ELSE EXCLUDED.phone_e164 END,
                    website_url = coalesce($16::varchar, p.website_url),
                    website_status = CASE WHEN p.website_status = 'none' THEN 'existing' ELSE p.website_status END,
                    address = coalesce(EXCLUDED.address, p.address),
                    city = coalesce(EXCLUDED.city, p.city),
                    state = coalesce(EXCLUDED.state, p.state),
                    postal_code = coalesce(EXCLUDED.postal_code, p.postal_code),
                    notes = coalesce(EXCLUDED.notes, p.notes),
                    location_lat = coalesce(EXCLUDED.location_lat, p.location_lat),
                    location_lng = coalesce(EXCLUDED.location_lng, p.location_lng),
                    tags = (SELECT coalesce(jsonb_agg(DISTINCT t ORDER BY t), '[]'::jsonb)
                            FROM jsonb_array_elements(p.tags || EXCLUDED.tags) AS t)
                RETURNING id, (xmax = 0) AS "inserted!"
                "#,
                lead.channel.as_str(),
                domain.as_str(),
                lead.business_name,
                lead.source,
                email,
                lead.phone,
                lead.address,
                lead.city,
                lead.state,
                lead.postal_code,
                lead.country.as_str(),
                lead.notes,
                tags,
                lat,
                lng,
                lead.website_url,
                lead.phone_e164,
            )
            .fetch_one(&mut *conn)
            .await
            .map(|r| Upserted { id: r.id, inserted: r.inserted })?
        }
        None => {
            sqlx::query!(
                r#"
                INSERT INTO prospects AS p (channel, business_name, source, email, phone, address, city, state,
                    postal_code, country, notes, tags, location_lat, location_lng, phone_e164)
                VALUES ('offline', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                ON CONFLICT (lower(business_name), lower(coalesce(address, '')), lower(coalesce(city, '')))
                    WHERE channel = 'offline' AND domain_name IS NULL
                DO UPDATE SET
                    email = coalesce(EXCLUDED.email, p.email),
                    phone = coalesce(EXCLUDED.phone, p.phone),
                    phone_e164 = CASE WHEN EXCLUDED.phone IS NULL THEN p.phone_e164 ELSE EXCLUDED.phone_e164 END,
                    state = coalesce(EXCLUDED.state, p.state),
                    postal_code = coalesce(EXCLUDED.postal_code, p.postal_code),
                    notes = coalesce(EXCLUDED.notes, p.notes),
                    location_lat = coalesce(EXCLUDED.location_lat, p.location_lat),
                    location_lng = coalesce(EXCLUDED.location_lng, p.location_lng),
                    tags = (SELECT coalesce(jsonb_agg(DISTINCT t ORDER BY t), '[]'::jsonb)
                            FROM jsonb_array_elements(p.tags || EXCLUDED.tags) AS t)
                RETURNING id, (xmax = 0) AS "inserted!"
                "#,
                lead.business_name,
                lead.source,
                email,
                lead.phone,
                lead.address,
                lead.city,
                lead.state,
                lead.postal_code,
                lead.country.as_str(),
                lead.notes,
                tags,
                lat,
                lng,
                lead.phone_e164,
            )
            .fetch_one(&mut *conn)
            .await
            .map(|r| Upserted { id: r.id, inserted: r.inserted })?
        }
    };
    Ok(row)
}
