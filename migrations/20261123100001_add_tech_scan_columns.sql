-- What the tech_scan stage learns about a site beyond the design's summary
-- columns, as columns the score and outreach stages can query.
-- docs/tech-scan.md describes every column and the tech_stack_json document.
ALTER TABLE prospect_tech_profiles
    ADD COLUMN final_url          VARCHAR(2000),
    ADD COLUMN redirect_chain     JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospect_tech_profiles_redirect_chain_check CHECK (jsonb_typeof(redirect_chain) = 'array'),
    ADD COLUMN http_status_code   INTEGER
        CONSTRAINT prospect_tech_profiles_http_status_code_check CHECK (http_status_code BETWEEN 100 AND 599),
    ADD COLUMN response_time_ms   INTEGER
        CONSTRAINT prospect_tech_profiles_response_time_ms_check CHECK (response_time_ms >= 0),
    ADD COLUMN unreachable_reason VARCHAR(500),
    ADD COLUMN tls_valid          BOOLEAN,
    ADD COLUMN tls_issuer         VARCHAR(200),
    ADD COLUMN tls_expires_at     TIMESTAMPTZ,
    ADD COLUMN tls_error          VARCHAR(300),
    ADD COLUMN is_parked          BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN parked_reason      VARCHAR(200),
    ADD COLUMN is_social_only     BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN social_profile_url VARCHAR(500),
    ADD COLUMN cms_version        VARCHAR(50),
    ADD COLUMN dns_provider       VARCHAR(100),
    ADD COLUMN email_provider     VARCHAR(100),
    ADD COLUMN page_title         VARCHAR(300),
    ADD COLUMN page_language      VARCHAR(35);

CREATE INDEX idx_tech_profiles_parked ON prospect_tech_profiles (prospect_id) WHERE is_parked;
