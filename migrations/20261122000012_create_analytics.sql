-- WebMagic daily metrics, one row per day, upserted by snapshot_analytics.
CREATE TABLE analytics_snapshots (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    snapshot_date     DATE NOT NULL CONSTRAINT analytics_snapshots_snapshot_date_key UNIQUE,
    leads_scraped     INTEGER NOT NULL DEFAULT 0 CHECK (leads_scraped >= 0),
    leads_qualified   INTEGER NOT NULL DEFAULT 0 CHECK (leads_qualified >= 0),
    sites_generated   INTEGER NOT NULL DEFAULT 0 CHECK (sites_generated >= 0),
    sites_deployed    INTEGER NOT NULL DEFAULT 0 CHECK (sites_deployed >= 0),
    emails_sent       INTEGER NOT NULL DEFAULT 0 CHECK (emails_sent >= 0),
    emails_opened     INTEGER NOT NULL DEFAULT 0 CHECK (emails_opened >= 0),
    emails_clicked    INTEGER NOT NULL DEFAULT 0 CHECK (emails_clicked >= 0),
    checkouts_created INTEGER NOT NULL DEFAULT 0 CHECK (checkouts_created >= 0),
    purchases         INTEGER NOT NULL DEFAULT 0 CHECK (purchases >= 0),
    revenue_cents     INTEGER NOT NULL DEFAULT 0 CHECK (revenue_cents >= 0),
    mrr_cents         INTEGER NOT NULL DEFAULT 0 CHECK (mrr_cents >= 0),
    api_costs_cents   INTEGER NOT NULL DEFAULT 0 CHECK (api_costs_cents >= 0),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_snapshots_date ON analytics_snapshots (snapshot_date DESC);

CREATE TRIGGER analytics_snapshots_updated_at BEFORE UPDATE ON analytics_snapshots
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Ledger of paid API calls (places providers, LLMs, PageSpeed). The day's
-- api_costs_cents is the sum of this ledger; budgets are checked against it.
CREATE TABLE api_usage (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider    VARCHAR(50) NOT NULL,
    operation   VARCHAR(100) NOT NULL,
    requests    INTEGER NOT NULL DEFAULT 1 CHECK (requests >= 0),
    results     INTEGER NOT NULL DEFAULT 0 CHECK (results >= 0),
    cost_cents  NUMERIC(12, 4) NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_api_usage_occurred ON api_usage (occurred_at);
CREATE INDEX idx_api_usage_provider ON api_usage (provider, occurred_at);

-- WebMagic audit trail.
CREATE TABLE activity_log (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    action      VARCHAR(100) NOT NULL,
    entity_type VARCHAR(50) NOT NULL,
    entity_id   UUID,
    details     JSONB,
    actor_type  VARCHAR(20)
        CONSTRAINT activity_log_actor_type_check CHECK (actor_type IN ('user', 'system', 'webhook')),
    actor_id    UUID,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_activity_entity ON activity_log (entity_type, entity_id);
CREATE INDEX idx_activity_action ON activity_log (action);
CREATE INDEX idx_activity_created ON activity_log (created_at DESC);
