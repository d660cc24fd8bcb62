-- One profile of each kind per prospect (the prospects design).

CREATE TABLE prospect_tech_profiles (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prospect_id        BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE
        CONSTRAINT prospect_tech_profiles_prospect_id_key UNIQUE,
    cms                VARCHAR(100),
    server             VARCHAR(100),
    hosting_provider   VARCHAR(100),
    cdn                VARCHAR(100),
    js_framework       VARCHAR(100),
    analytics          VARCHAR(200),
    ecommerce_platform VARCHAR(100),
    tech_stack_json    JSONB NOT NULL DEFAULT '{}',
    scanned_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_tech_profiles_cms ON prospect_tech_profiles (cms) WHERE cms IS NOT NULL;

CREATE TRIGGER prospect_tech_profiles_updated_at BEFORE UPDATE ON prospect_tech_profiles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE prospect_performance_profiles (
    id                          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prospect_id                 BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE
        CONSTRAINT prospect_performance_profiles_prospect_id_key UNIQUE,
    performance_score           INTEGER CHECK (performance_score BETWEEN 0 AND 100),
    accessibility_score         INTEGER CHECK (accessibility_score BETWEEN 0 AND 100),
    seo_score                   INTEGER CHECK (seo_score BETWEEN 0 AND 100),
    best_practices_score        INTEGER CHECK (best_practices_score BETWEEN 0 AND 100),
    first_contentful_paint_ms   INTEGER CHECK (first_contentful_paint_ms >= 0),
    largest_contentful_paint_ms INTEGER CHECK (largest_contentful_paint_ms >= 0),
    total_blocking_time_ms      INTEGER CHECK (total_blocking_time_ms >= 0),
    cumulative_layout_shift     DOUBLE PRECISION CHECK (cumulative_layout_shift >= 0),
    speed_index_ms              INTEGER CHECK (speed_index_ms >= 0),
    is_mobile_friendly          BOOLEAN,
    form_factor                 VARCHAR(10) NOT NULL DEFAULT 'mobile'
        CHECK (form_factor IN ('mobile', 'desktop')),
    audited_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER prospect_performance_profiles_updated_at BEFORE UPDATE ON prospect_performance_profiles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE prospect_scores (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prospect_id            BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE
        CONSTRAINT prospect_scores_prospect_id_key UNIQUE,
    score                  INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    technical_health_score INTEGER NOT NULL DEFAULT 0 CHECK (technical_health_score BETWEEN 0 AND 100),
    modernity_score        INTEGER NOT NULL DEFAULT 0 CHECK (modernity_score BETWEEN 0 AND 100),
    business_value_score   INTEGER NOT NULL DEFAULT 0 CHECK (business_value_score BETWEEN 0 AND 100),
    engagement_score       INTEGER NOT NULL DEFAULT 0 CHECK (engagement_score BETWEEN 0 AND 100),
    reason_flags           JSONB NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(reason_flags) = 'array'),
    lead_tier              VARCHAR(10) NOT NULL
        CONSTRAINT prospect_scores_lead_tier_check CHECK (lead_tier IN ('hot', 'warm', 'cold')),
    algorithm_version      VARCHAR(20) NOT NULL DEFAULT '1',
    scored_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_prospect_scores_score ON prospect_scores (score DESC);
CREATE INDEX idx_prospect_scores_tier ON prospect_scores (lead_tier, score DESC);

CREATE TRIGGER prospect_scores_updated_at BEFORE UPDATE ON prospect_scores
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
