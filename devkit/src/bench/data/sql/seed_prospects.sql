-- $1 prospects: nine in ten digital (with a domain), one in ten captured
-- offline; statuses, cities, categories, tags and ages spread the way a
-- real lead base spreads them.
INSERT INTO prospects (
    channel, business_name, slug, domain_name, status, source, has_website, uses_https,
    website_url, city, country, category, tags, review_count, rating, qualification_score,
    last_tech_scan_at, last_audit_at, last_score_at, scraped_at, created_at, updated_at
)
SELECT
    CASE WHEN g % 10 = 0 THEN 'offline' ELSE 'digital' END,
    'Business ' || g,
    'bench-' || g,
    CASE WHEN g % 10 = 0 THEN NULL ELSE 'site-' || g || '.example' END,
    (ARRAY['pending', 'active', 'active', 'active', 'inactive', 'parked', 'error', 'contacted', 'converted'])[1 + g % 9],
    'bench',
    g % 10 <> 0,
    g % 10 <> 0 AND g % 3 <> 0,
    CASE WHEN g % 10 = 0 THEN NULL ELSE 'https://site-' || g || '.example/' END,
    (ARRAY['Luxembourg', 'Esch-sur-Alzette', 'Differdange', 'Dudelange', 'Ettelbruck', 'Diekirch',
           'Wiltz', 'Echternach', 'Rumelange', 'Grevenmacher', 'Remich', 'Vianden', 'Mersch',
           'Bettembourg', 'Strassen', 'Bertrange', 'Hesperange', 'Sanem', 'Pétange', 'Mamer',
           'Metz', 'Nancy', 'Trier', 'Saarbrücken', 'Arlon', 'Liège', 'Namur', 'Thionville',
           'Longwy', 'Koblenz'])[1 + (g * 7) % 30],
    'LU',
    (ARRAY['bakery', 'restaurant', 'cafe', 'plumber', 'electrician', 'hairdresser', 'dentist',
           'lawyer', 'accountant', 'florist', 'garage', 'hotel', 'gym', 'pharmacy', 'butcher',
           'architect', 'photographer', 'optician', 'veterinarian', 'bookshop'])[1 + (g * 13) % 20],
    CASE g % 8 WHEN 0 THEN '["priority"]'::jsonb
               WHEN 1 THEN '["trade-fair-2026", "priority"]'::jsonb
               WHEN 2 THEN '["newsletter"]'::jsonb
               ELSE '[]'::jsonb END,
    (g * 31) % 400,
    round(((g * 17) % 51) / 10.0, 1),
    (g * 29) % 101,
    now() - ((g * 7919) % 2592000) * interval '1 second',
    now() - ((g * 7919) % 2592000) * interval '1 second',
    now() - ((g * 7919) % 2592000) * interval '1 second',
    now() - ((g * 104729) % 31536000) * interval '1 second',
    now() - ((g * 104729) % 31536000) * interval '1 second',
    now() - ((g * 7919) % 2592000) * interval '1 second'
FROM generate_series(1, $1::bigint) AS g
