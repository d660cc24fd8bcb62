-- Scraped or manually entered contact details; many per prospect.
CREATE TABLE prospect_contacts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prospect_id  BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
    contact_type VARCHAR(20) NOT NULL
        CONSTRAINT prospect_contacts_contact_type_check
        CHECK (contact_type IN ('email', 'phone', 'social', 'address', 'contact_form', 'person')),
    value        VARCHAR(500) NOT NULL,
    label        VARCHAR(100),
    -- e-mail only: a role address (info@, contact@) or a person's own.
    is_role_address BOOLEAN,
    source_url   VARCHAR(1000),
    is_primary   BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT prospect_contacts_value_key UNIQUE (prospect_id, contact_type, value)
);

-- At most one primary contact of each type.
CREATE UNIQUE INDEX idx_prospect_contacts_primary
    ON prospect_contacts (prospect_id, contact_type) WHERE is_primary;

CREATE TRIGGER prospect_contacts_updated_at BEFORE UPDATE ON prospect_contacts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- CRM-style interaction log; many per prospect.
CREATE TABLE prospect_interactions (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prospect_id        BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
    interaction_type   VARCHAR(30) NOT NULL
        CONSTRAINT prospect_interactions_type_check CHECK (interaction_type IN (
            'note', 'call', 'email_sent', 'email_received', 'meeting', 'visit', 'sms', 'proposal_sent'
        )),
    subject            VARCHAR(255),
    notes              TEXT,
    outcome            VARCHAR(100),
    next_action        VARCHAR(255),
    next_action_date   DATE,
    created_by_user_id UUID REFERENCES admin_users (id) ON DELETE SET NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_prospect_interactions_prospect ON prospect_interactions (prospect_id, created_at DESC);
CREATE INDEX idx_prospect_interactions_next_action
    ON prospect_interactions (next_action_date) WHERE next_action_date IS NOT NULL;
