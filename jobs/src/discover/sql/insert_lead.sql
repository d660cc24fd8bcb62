-- A new maps lead. Its host becomes domain_name unless another lead (a
-- branch with its own place id) already holds it. A listing with no website
-- of its own is known to have none (has_website = false); one with a site
-- is left for tech_scan to check, and its website_status says 'existing'
-- (WebMagic's 'none' means "ready for a generated site").
INSERT INTO prospects (
    channel, status, source, business_name, gmb_place_id, gmb_id, category, subcategory,
    email, phone, phone_e164, website_url, domain_name, registrable_domain, profile_url, has_website,
    address, city, state, postal_code, country, location_lat, location_lng,
    rating, review_count, last_review_at, photos_urls, opening_hours, business_status, reviews,
    qualification_score, qualified, qualification_reasons, pipeline_route, routed_at,
    coverage_grid_id, last_discovered_at, scraped_at, website_status
)
VALUES (
    'maps',
    CASE WHEN $26::text IN ('closed_temporarily', 'closed_permanently') THEN 'inactive' ELSE 'pending' END,
    $1, $2, $3, $4, $5, $6,
    $7, $8, $9, $10::text,
    CASE WHEN EXISTS (SELECT 1 FROM prospects o WHERE o.domain_name = $11) THEN NULL ELSE $11 END,
    $12, $13, CASE WHEN $10::text IS NULL THEN false END,
    $14, $15, $16, $17, $18, $19, $20,
    $21::float8, $22, $23, $24, $25, $26::text, $33,
    $27, $28, $29, $30, CASE WHEN $31::bool THEN now() END,
    $32, now(), now(), CASE WHEN $10::text IS NULL THEN 'none' ELSE 'existing' END
)
RETURNING id
