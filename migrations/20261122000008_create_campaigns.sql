-- Outreach templates (the prospects design). Placeholders such as
-- {business_name}, {domain}, {score}, {issues} are filled at send time.
CREATE TABLE campaign_templates (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             VARCHAR(255) NOT NULL,
    lead_type        VARCHAR(50) NOT NULL DEFAULT 'general',
    channel          VARCHAR(20) NOT NULL DEFAULT 'email'
        CONSTRAINT campaign_templates_channel_check CHECK (channel IN ('email', 'sms', 'letter', 'phone')),
    language         VARCHAR(10) NOT NULL DEFAULT 'en',
    subject_template TEXT NOT NULL,
    body_template    TEXT NOT NULL,
    is_active        BOOLEAN NOT NULL DEFAULT true,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT campaign_templates_name_language_key UNIQUE (name, language)
);

CREATE TRIGGER campaign_templates_updated_at BEFORE UPDATE ON campaign_templates
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One message sent (or to be sent) to one lead: WebMagic's `campaigns` and the
-- prospects design's `campaign_sends` are the same thing. This table carries
-- WebMagic's columns plus the template, channel and sender of the prospects
-- design, and both lead keys (business_id = prospects.public_id,
-- prospect_id = prospects.id), kept consistent by a trigger so either may be
-- given. `campaign_sends` is a view over it.
CREATE TABLE campaigns (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id      UUID NOT NULL REFERENCES prospects (public_id) ON DELETE CASCADE,
    prospect_id      BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
    site_id          UUID REFERENCES generated_sites (id) ON DELETE SET NULL,
    template_id      BIGINT REFERENCES campaign_templates (id) ON DELETE SET NULL,
    channel          VARCHAR(20) NOT NULL DEFAULT 'email'
        CONSTRAINT campaigns_channel_check CHECK (channel IN ('email', 'sms', 'letter', 'phone')),

    subject_line     TEXT NOT NULL,
    email_body       TEXT NOT NULL,
    preview_text     VARCHAR(200),

    review_highlight TEXT,
    business_name    VARCHAR(255),
    recipient_name   VARCHAR(255),
    recipient_email  VARCHAR(255),

    status           VARCHAR(30) NOT NULL DEFAULT 'pending'
        CONSTRAINT campaigns_status_check CHECK (status IN (
            'pending', 'scheduled', 'sent', 'delivered', 'opened', 'clicked', 'replied',
            'converted', 'bounced', 'complained', 'failed', 'cancelled'
        )),

    sent_at          TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    opened_at        TIMESTAMPTZ,
    opened_count     INTEGER NOT NULL DEFAULT 0 CHECK (opened_count >= 0),
    clicked_at       TIMESTAMPTZ,
    clicked_count    INTEGER NOT NULL DEFAULT 0 CHECK (clicked_count >= 0),
    replied_at       TIMESTAMPTZ,
    converted_at     TIMESTAMPTZ,

    email_provider   VARCHAR(50),
    message_id       VARCHAR(255),
    variant          VARCHAR(50),
    error_message    TEXT,
    retry_count      INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    sent_by_user_id  UUID REFERENCES admin_users (id) ON DELETE SET NULL,

    scheduled_for    TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT campaigns_email_needs_recipient_check
        CHECK (channel <> 'email' OR recipient_email IS NOT NULL)
);

CREATE INDEX idx_campaigns_business ON campaigns (business_id);
CREATE INDEX idx_campaigns_prospect ON campaigns (prospect_id);
CREATE INDEX idx_campaigns_status ON campaigns (status);
CREATE INDEX idx_campaigns_scheduled ON campaigns (scheduled_for) WHERE status = 'scheduled';
CREATE INDEX idx_campaigns_sent_at ON campaigns (sent_at) WHERE sent_at IS NOT NULL;
-- A template is sent to a lead once: a retried send job finds its claim here.
CREATE UNIQUE INDEX idx_campaigns_prospect_template
    ON campaigns (prospect_id, template_id) WHERE template_id IS NOT NULL;

CREATE FUNCTION campaigns_link_prospect() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    lead prospects%ROWTYPE;
BEGIN
    IF NEW.prospect_id IS NOT NULL THEN
        SELECT * INTO lead FROM prospects WHERE id = NEW.prospect_id;
    ELSIF NEW.business_id IS NOT NULL THEN
        SELECT * INTO lead FROM prospects WHERE public_id = NEW.business_id;
    END IF;
    IF lead.id IS NULL THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'campaign must reference an existing prospect (prospect_id or business_id)',
            CONSTRAINT = 'campaigns_prospect_id_fkey';
    END IF;
    IF NEW.business_id IS NOT NULL AND NEW.business_id <> lead.public_id
       OR NEW.prospect_id IS NOT NULL AND NEW.prospect_id <> lead.id THEN
        RAISE check_violation USING
            MESSAGE = 'prospect_id and business_id name different leads',
            CONSTRAINT = 'campaigns_lead_keys_check';
    END IF;
    NEW.prospect_id := lead.id;
    NEW.business_id := lead.public_id;
    IF NEW.business_name IS NULL THEN
        NEW.business_name := lead.business_name;
    END IF;
    IF NEW.recipient_email IS NULL AND NEW.channel = 'email' THEN
        NEW.recipient_email := lead.email;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER campaigns_link_prospect BEFORE INSERT OR UPDATE OF business_id, prospect_id ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_link_prospect();
CREATE TRIGGER campaigns_updated_at BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The prospects design's name for the same rows (automatically updatable).
CREATE VIEW campaign_sends AS
SELECT
    c.id,
    c.template_id,
    c.prospect_id,
    c.channel,
    c.subject_line AS rendered_subject,
    c.email_body   AS rendered_body,
    c.status,
    c.sent_at,
    c.sent_by_user_id,
    c.business_id,
    c.recipient_email,
    c.created_at,
    c.updated_at
FROM campaigns c;

ALTER VIEW campaign_sends ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER VIEW campaign_sends ALTER COLUMN channel SET DEFAULT 'email';
ALTER VIEW campaign_sends ALTER COLUMN status SET DEFAULT 'pending';
