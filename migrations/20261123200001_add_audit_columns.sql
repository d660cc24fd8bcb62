-- What the audit stage stores beyond the designed Lighthouse columns: where
-- the result came from, what was audited, and the evidence a salesperson
-- quotes (docs/audit.md describes every column and JSON field).
ALTER TABLE prospect_performance_profiles
    ADD COLUMN provider VARCHAR(20) NOT NULL DEFAULT 'lighthouse'
        CONSTRAINT prospect_performance_profiles_provider_check
        CHECK (provider IN ('lighthouse', 'pagespeed')),
    ADD COLUMN lighthouse_version VARCHAR(20),
    ADD COLUMN requested_url TEXT,
    ADD COLUMN final_url TEXT,
    ADD COLUMN total_byte_weight BIGINT
        CONSTRAINT prospect_performance_profiles_total_byte_weight_check
        CHECK (total_byte_weight >= 0),
    ADD COLUMN server_response_time_ms INTEGER
        CONSTRAINT prospect_performance_profiles_server_response_time_ms_check
        CHECK (server_response_time_ms >= 0),
    ADD COLUMN mobile_friendly_checks JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospect_performance_profiles_mobile_friendly_checks_check
        CHECK (jsonb_typeof(mobile_friendly_checks) = 'array'),
    ADD COLUMN failing_audits JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospect_performance_profiles_failing_audits_check
        CHECK (jsonb_typeof(failing_audits) = 'array');
