-- A score for every prospect, with three evidence-backed flags.
INSERT INTO prospect_scores (
    prospect_id, score, technical_health_score, modernity_score, business_value_score,
    engagement_score, reason_flags, lead_tier, scored_at
)
SELECT
    s.id, s.score, (s.id * 3) % 101, (s.id * 5) % 101, (s.id * 7) % 101, (s.id * 11) % 101,
    jsonb_build_array(
        jsonb_build_object('code', 'slow_mobile', 'kind', 'problem', 'points', 12,
                           'title', 'Slow on mobile', 'evidence', 'LCP ' || (900 + (s.id * 59) % 12000) || ' ms'),
        jsonb_build_object('code', 'outdated_cms', 'kind', 'problem', 'points', 9,
                           'title', 'Outdated CMS', 'evidence', 'WordPress 4.9.8 (end of life)'),
        jsonb_build_object('code', 'no_https', 'kind', 'problem', 'points', 7,
                           'title', 'No HTTPS', 'evidence', 'http:// only')),
    CASE WHEN s.score >= 65 THEN 'hot' WHEN s.score >= 40 THEN 'warm' ELSE 'cold' END,
    s.last_score_at
FROM (
    SELECT p.id, p.last_score_at, ((p.id * 7919) % 101)::int AS score
    FROM prospects p
    WHERE p.source = 'bench'
) AS s
