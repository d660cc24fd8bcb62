-- WebMagic customer change requests.
CREATE TABLE support_tickets (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id       UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    site_id           UUID NOT NULL REFERENCES generated_sites (id) ON DELETE CASCADE,
    request_text      TEXT NOT NULL,
    screenshot_urls   JSONB NOT NULL DEFAULT '[]',
    status            VARCHAR(30) NOT NULL DEFAULT 'open'
        CONSTRAINT support_tickets_status_check
        CHECK (status IN ('open', 'in_progress', 'completed', 'rejected')),
    ai_interpretation TEXT,
    ai_changes_made   TEXT,
    resolved_by       VARCHAR(20)
        CONSTRAINT support_tickets_resolved_by_check CHECK (resolved_by IN ('ai', 'human')),
    resolution_notes  TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at       TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_tickets_customer ON support_tickets (customer_id);
CREATE INDEX idx_tickets_status ON support_tickets (status);

CREATE TRIGGER support_tickets_updated_at BEFORE UPDATE ON support_tickets
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
