-- A tech profile for every digital prospect.
INSERT INTO prospect_tech_profiles (
    prospect_id, cms, cms_version, server, hosting_provider, cdn, js_framework, analytics,
    ecommerce_platform, tech_stack_json, final_url, http_status_code, response_time_ms,
    tls_valid, page_title, page_language, scanned_at
)
SELECT
    p.id,
    (ARRAY['WordPress', 'WordPress', 'WordPress', 'Wix', 'Joomla', 'Drupal', 'Shopify',
           'Squarespace', 'TYPO3', NULL])[1 + p.id % 10],
    (ARRAY['4.9.8', '6.4.2', '5.2', NULL])[1 + p.id % 4],
    (ARRAY['Apache', 'nginx', 'LiteSpeed', 'Microsoft-IIS', NULL])[1 + p.id % 5],
    (ARRAY['OVH', 'Hetzner', 'IONOS', 'POST Luxembourg', 'Amazon Web Services', NULL])[1 + p.id % 6],
    (ARRAY['Cloudflare', NULL, NULL, 'Fastly'])[1 + p.id % 4],
    (ARRAY['jQuery', 'React', NULL, 'Vue.js', NULL])[1 + p.id % 5],
    (ARRAY['Google Analytics', 'Matomo', NULL])[1 + p.id % 3],
    (ARRAY['WooCommerce', NULL, NULL, NULL, 'Shopify'])[1 + p.id % 5],
    jsonb_build_object('technologies', jsonb_build_array(
        jsonb_build_object('name', 'jQuery', 'version', '1.12.4', 'confidence', 100,
                           'categories', jsonb_build_array('JavaScript libraries')),
        jsonb_build_object('name', 'PHP', 'version', '7.4', 'confidence', 100,
                           'categories', jsonb_build_array('Programming languages')))),
    p.website_url,
    200,
    100 + (p.id * 37) % 2900,
    p.uses_https,
    p.business_name || ' — home',
    'fr',
    p.last_tech_scan_at
FROM prospects p
WHERE p.channel = 'digital' AND p.source = 'bench'
