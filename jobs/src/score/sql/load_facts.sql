-- $1 prospect id: everything the score reads, in one round trip.
SELECT
    p.channel,
    p.domain_name,
    p.website_url,
    p.profile_url,
    p.address,
    p.email,
    p.phone,
    p.rating::float8                        AS rating,
    p.review_count,
    p.category,
    p.has_website,
    (t.prospect_id IS NOT NULL)             AS "scanned!",
    t.final_url,
    t.http_status_code                      AS tech_status,
    t.unreachable_reason,
    t.tls_valid,
    t.tls_issuer,
    t.tls_expires_at,
    t.tls_error,
    t.is_parked                             AS "is_parked?",
    t.parked_reason,
    t.is_social_only                        AS "is_social_only?",
    t.social_profile_url,
    t.tech_stack_json                       AS "tech_stack_json?",
    (f.prospect_id IS NOT NULL)             AS "audited!",
    p.audit_failure,
    f.performance_score,
    f.accessibility_score,
    f.seo_score,
    f.largest_contentful_paint_ms           AS lcp_ms,
    f.first_contentful_paint_ms             AS fcp_ms,
    f.total_blocking_time_ms                AS tbt_ms,
    f.cumulative_layout_shift               AS cls,
    f.is_mobile_friendly,
    f.form_factor                           AS "form_factor?",
    f.failing_audits                        AS "failing_audits?",
    (SELECT count(*) FROM prospect_contacts c
      WHERE c.prospect_id = p.id AND c.contact_type = 'email')                     AS "emails!",
    (SELECT count(*) FROM prospect_contacts c
      WHERE c.prospect_id = p.id AND c.contact_type = 'phone')                     AS "phones!",
    (SELECT count(*) FROM prospect_contacts c
      WHERE c.prospect_id = p.id AND c.contact_type = 'address')                   AS "addresses!",
    (SELECT count(*) FROM prospect_contacts c
      WHERE c.prospect_id = p.id AND c.contact_type IN ('social', 'contact_form', 'person')) AS "others!",
    (SELECT c.source_url FROM prospect_contacts c
      WHERE c.prospect_id = p.id AND c.source_url IS NOT NULL
      ORDER BY c.is_primary DESC, c.id LIMIT 1)                                    AS first_source
FROM prospects p
LEFT JOIN prospect_tech_profiles t ON t.prospect_id = p.id
LEFT JOIN prospect_performance_profiles f ON f.prospect_id = p.id
WHERE p.id = $1
