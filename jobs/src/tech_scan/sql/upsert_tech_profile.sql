INSERT INTO prospect_tech_profiles (
    prospect_id, cms, server, hosting_provider, cdn, js_framework, analytics, ecommerce_platform,
    tech_stack_json, scanned_at, final_url, redirect_chain, http_status_code, response_time_ms,
    unreachable_reason, tls_valid, tls_issuer, tls_expires_at, tls_error, is_parked, parked_reason,
    is_social_only, social_profile_url, cms_version, dns_provider, email_provider, page_title,
    page_language
)
VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8,
    $9, now(), $10, $11, $12, $13,
    $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, $24, $25, $26,
    $27
)
ON CONFLICT (prospect_id) DO UPDATE SET
    cms = EXCLUDED.cms,
    server = EXCLUDED.server,
    hosting_provider = EXCLUDED.hosting_provider,
    cdn = EXCLUDED.cdn,
    js_framework = EXCLUDED.js_framework,
    analytics = EXCLUDED.analytics,
    ecommerce_platform = EXCLUDED.ecommerce_platform,
    tech_stack_json = EXCLUDED.tech_stack_json,
    scanned_at = EXCLUDED.scanned_at,
    final_url = EXCLUDED.final_url,
    redirect_chain = EXCLUDED.redirect_chain,
    http_status_code = EXCLUDED.http_status_code,
    response_time_ms = EXCLUDED.response_time_ms,
    unreachable_reason = EXCLUDED.unreachable_reason,
    tls_valid = EXCLUDED.tls_valid,
    tls_issuer = EXCLUDED.tls_issuer,
    tls_expires_at = EXCLUDED.tls_expires_at,
    tls_error = EXCLUDED.tls_error,
    is_parked = EXCLUDED.is_parked,
    parked_reason = EXCLUDED.parked_reason,
    is_social_only = EXCLUDED.is_social_only,
    social_profile_url = EXCLUDED.social_profile_url,
    cms_version = EXCLUDED.cms_version,
    dns_provider = EXCLUDED.dns_provider,
    email_provider = EXCLUDED.email_provider,
    page_title = EXCLUDED.page_title,
    page_language = EXCLUDED.page_language
