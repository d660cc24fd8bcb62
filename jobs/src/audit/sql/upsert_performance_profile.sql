-- One profile per prospect: the latest audit replaces the previous one.
INSERT INTO prospect_performance_profiles (
    prospect_id, provider, form_factor, lighthouse_version, requested_url, final_url,
    performance_score, accessibility_score, best_practices_score, seo_score,
    first_contentful_paint_ms, largest_contentful_paint_ms, total_blocking_time_ms,
    cumulative_layout_shift, speed_index_ms, total_byte_weight, server_response_time_ms,
    is_mobile_friendly, mobile_friendly_checks, failing_audits, audited_at
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, now())
ON CONFLICT ON CONSTRAINT prospect_performance_profiles_prospect_id_key DO UPDATE SET
    provider                    = EXCLUDED.provider,
    form_factor                 = EXCLUDED.form_factor,
    lighthouse_version          = EXCLUDED.lighthouse_version,
    requested_url               = EXCLUDED.requested_url,
    final_url                   = EXCLUDED.final_url,
    performance_score           = EXCLUDED.performance_score,
    accessibility_score         = EXCLUDED.accessibility_score,
    best_practices_score        = EXCLUDED.best_practices_score,
    seo_score                   = EXCLUDED.seo_score,
    first_contentful_paint_ms   = EXCLUDED.first_contentful_paint_ms,
    largest_contentful_paint_ms = EXCLUDED.largest_contentful_paint_ms,
    total_blocking_time_ms      = EXCLUDED.total_blocking_time_ms,
    cumulative_layout_shift     = EXCLUDED.cumulative_layout_shift,
    speed_index_ms              = EXCLUDED.speed_index_ms,
    total_byte_weight           = EXCLUDED.total_byte_weight,
    server_response_time_ms     = EXCLUDED.server_response_time_ms,
    is_mobile_friendly          = EXCLUDED.is_mobile_friendly,
    mobile_friendly_checks      = EXCLUDED.mobile_friendly_checks,
    failing_audits              = EXCLUDED.failing_audits,
    audited_at                  = EXCLUDED.audited_at
RETURNING id
