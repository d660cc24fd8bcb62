-- WebMagic `generated_sites`: websites built for businesses that have none.
CREATE TABLE generated_sites (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id            UUID NOT NULL REFERENCES prospects (public_id) ON DELETE CASCADE,
    subdomain              VARCHAR(100) NOT NULL CONSTRAINT generated_sites_subdomain_key UNIQUE,
    custom_domain          VARCHAR(255),
    html_content           TEXT NOT NULL,
    css_content            TEXT,
    js_content             TEXT,
    design_brief           JSONB,
    builder_prompt         TEXT,
    version                INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    previous_version_id    UUID REFERENCES generated_sites (id),
    status                 VARCHAR(30) NOT NULL DEFAULT 'draft'
        CONSTRAINT generated_sites_status_check
        CHECK (status IN ('draft', 'preview', 'live', 'archived', 'sold')),
    screenshot_desktop_url TEXT,
    screenshot_mobile_url  TEXT,
    assets_urls            JSONB NOT NULL DEFAULT '[]',
    lighthouse_score       INTEGER CHECK (lighthouse_score BETWEEN 0 AND 100),
    load_time_ms           INTEGER CHECK (load_time_ms >= 0),
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    deployed_at            TIMESTAMPTZ,
    sold_at                TIMESTAMPTZ,
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_sites_business ON generated_sites (business_id);
CREATE INDEX idx_sites_status ON generated_sites (status);
CREATE INDEX idx_sites_subdomain ON generated_sites (subdomain);
CREATE INDEX idx_sites_domain ON generated_sites (custom_domain) WHERE custom_domain IS NOT NULL;
CREATE INDEX idx_sites_created_at ON generated_sites (created_at);
CREATE INDEX idx_sites_deployed_at ON generated_sites (deployed_at) WHERE deployed_at IS NOT NULL;

CREATE TRIGGER generated_sites_updated_at BEFORE UPDATE ON generated_sites
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
