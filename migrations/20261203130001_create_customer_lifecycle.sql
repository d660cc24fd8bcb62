-- The customer lifecycle (issue 15): a business claims its preview, pays the
-- setup fee and the monthly plan with Recurrente, and its site goes live.

-- A claim: who claimed a preview, and the two checkouts of the chain
-- (Recurrente cannot mix one-time and recurring items in one checkout).
-- The checkout URLs are the ones Recurrente returned: the only places the
-- claim pages ever redirect to.
CREATE TABLE site_claims (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id              UUID NOT NULL REFERENCES generated_sites (id) ON DELETE CASCADE,
    email                VARCHAR(255) NOT NULL,
    plan                 VARCHAR(30) NOT NULL DEFAULT 'monthly'
        CONSTRAINT site_claims_plan_check CHECK (plan IN ('monthly')),
    setup_checkout_id    VARCHAR(50),
    setup_checkout_url   TEXT,
    monthly_checkout_id  VARCHAR(50),
    monthly_checkout_url TEXT,
    status               VARCHAR(20) NOT NULL DEFAULT 'started'
        CONSTRAINT site_claims_status_check CHECK (status IN ('started', 'setup_paid', 'paid', 'abandoned')),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- At most one claim in progress per site.
CREATE UNIQUE INDEX site_claims_open_key ON site_claims (site_id) WHERE status IN ('started', 'setup_paid');
CREATE INDEX idx_site_claims_setup_checkout ON site_claims (setup_checkout_id) WHERE setup_checkout_id IS NOT NULL;
CREATE INDEX idx_site_claims_monthly_checkout ON site_claims (monthly_checkout_id) WHERE monthly_checkout_id IS NOT NULL;

CREATE TRIGGER site_claims_updated_at BEFORE UPDATE ON site_claims
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The webhook ledger: every verified delivery, once per svix-id (Svix
-- retries a message with the same id; the payload's `id` is the object's
-- and repeats across events). Not the job table, whose rows are pruned.
CREATE TABLE billing_events (
    svix_id      VARCHAR(100) PRIMARY KEY,
    -- NULL when the verified body is not a webhook event (marked malformed).
    event_type   VARCHAR(100),
    object_id    VARCHAR(100),
    -- svix-timestamp of the first accepted delivery.
    signed_at    TIMESTAMPTZ NOT NULL,
    -- The bytes as signed.
    raw_body     BYTEA NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ,
    outcome      VARCHAR(20)
        CONSTRAINT billing_events_outcome_check CHECK (outcome IN ('applied', 'ignored', 'malformed')),
    site_id      UUID REFERENCES generated_sites (id) ON DELETE SET NULL,
    error        TEXT
);

CREATE INDEX idx_billing_events_unprocessed ON billing_events (received_at) WHERE processed_at IS NULL;
CREATE INDEX idx_billing_events_object ON billing_events (object_id);

-- Events arrive in any order: a status change is applied only when its
-- event is newer than the one that set the current status.
ALTER TABLE subscriptions
    ADD COLUMN state_changed_at TIMESTAMPTZ,
    -- Set once the subscription was seen started (subscription.create, or a
    -- payment for it): the site was paid for.
    ADD COLUMN activated_at TIMESTAMPTZ;

CREATE INDEX idx_subscriptions_site ON subscriptions (site_id) WHERE site_id IS NOT NULL;
