-- WebMagic `coverage_grid`: the "conquest map" of territories (city x industry).
CREATE TABLE coverage_grid (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    state             VARCHAR(50) NOT NULL,
    city              VARCHAR(100) NOT NULL,
    country           VARCHAR(50) NOT NULL DEFAULT 'US',
    industry          VARCHAR(100) NOT NULL,
    industry_category VARCHAR(100),
    status            VARCHAR(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT coverage_grid_status_check
        CHECK (status IN ('pending', 'in_progress', 'completed', 'cooldown', 'paused')),
    priority          INTEGER NOT NULL DEFAULT 0,
    population        INTEGER CONSTRAINT coverage_grid_population_check CHECK (population >= 0),
    lead_count        INTEGER NOT NULL DEFAULT 0 CHECK (lead_count >= 0),
    qualified_count   INTEGER NOT NULL DEFAULT 0 CHECK (qualified_count >= 0),
    site_count        INTEGER NOT NULL DEFAULT 0 CHECK (site_count >= 0),
    conversion_count  INTEGER NOT NULL DEFAULT 0 CHECK (conversion_count >= 0),
    last_scraped_at   TIMESTAMPTZ,
    cooldown_until    TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT coverage_grid_territory_key UNIQUE (country, state, city, industry)
);

CREATE INDEX idx_coverage_status ON coverage_grid (status);
CREATE INDEX idx_coverage_priority ON coverage_grid (priority DESC);
CREATE INDEX idx_coverage_location ON coverage_grid (state, city);

CREATE TRIGGER coverage_grid_updated_at BEFORE UPDATE ON coverage_grid
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
