-- A Lighthouse profile for every digital prospect.
INSERT INTO prospect_performance_profiles (
    prospect_id, performance_score, accessibility_score, seo_score, best_practices_score,
    first_contentful_paint_ms, largest_contentful_paint_ms, total_blocking_time_ms,
    cumulative_layout_shift, speed_index_ms, is_mobile_friendly, requested_url, final_url,
    total_byte_weight, server_response_time_ms, audited_at
)
SELECT
    p.id,
    (p.id * 37) % 101,
    40 + (p.id * 13) % 61,
    30 + (p.id * 11) % 71,
    50 + (p.id * 7) % 51,
    500 + (p.id * 53) % 6000,
    900 + (p.id * 59) % 12000,
    (p.id * 61) % 3000,
    ((p.id * 3) % 60) / 100.0,
    800 + (p.id * 67) % 9000,
    p.id % 4 <> 0,
    p.website_url,
    p.website_url,
    200000 + (p.id * 7919) % 8000000,
    50 + (p.id * 17) % 1500,
    p.last_audit_at
FROM prospects p
WHERE p.channel = 'digital' AND p.source = 'bench'
