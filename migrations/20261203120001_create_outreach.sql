-- Outreach (the send_email stage): campaign definitions and their steps,
-- the claim columns of a send, suppressions, tracking and inbound events,
-- sending mailboxes with their per-day counts, and recorded consent.

-- A campaign: which leads (a filter), and the sequence of templates sent to
-- each (step 1 the first e-mail, then follow-ups after N business days).
CREATE TABLE outreach_campaigns (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       VARCHAR(100) NOT NULL CONSTRAINT outreach_campaigns_name_key UNIQUE,
    -- The filter the leads were picked with (tier, min_score, tag, city,
    -- needs_site), as given: what `prospector outreach start` stored.
    filter     JSONB NOT NULL DEFAULT '{}'
        CONSTRAINT outreach_campaigns_filter_check CHECK (jsonb_typeof(filter) = 'object'),
    status     VARCHAR(20) NOT NULL DEFAULT 'active'
        CONSTRAINT outreach_campaigns_status_check CHECK (status IN ('active', 'paused', 'finished')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER outreach_campaigns_updated_at BEFORE UPDATE ON outreach_campaigns
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE outreach_steps (
    campaign_id         BIGINT NOT NULL REFERENCES outreach_campaigns (id) ON DELETE CASCADE,
    step                SMALLINT NOT NULL CONSTRAINT outreach_steps_step_check CHECK (step BETWEEN 1 AND 20),
    -- campaign_templates.name; the language is the lead's (else English).
    template_name       VARCHAR(255) NOT NULL,
    -- Business days after the previous step was sent (0 for step 1).
    after_business_days INTEGER NOT NULL DEFAULT 0
        CONSTRAINT outreach_steps_after_check CHECK (after_business_days BETWEEN 0 AND 60),
    PRIMARY KEY (campaign_id, step)
);

-- A send (`campaigns` row) of an outreach campaign's step. The claim is the
-- row itself: inserted with status `sending` and its Message-ID in the
-- transaction that checked suppressions, compliance and caps, before SMTP.
ALTER TABLE campaigns
    ADD COLUMN outreach_campaign_id BIGINT REFERENCES outreach_campaigns (id) ON DELETE CASCADE,
    ADD COLUMN step                 SMALLINT,
    -- The sending mailbox (its From address).
    ADD COLUMN mailbox              VARCHAR(255),
    -- The ground the send rests on (compliance profile of the lead's country).
    ADD COLUMN lawful_basis         VARCHAR(30)
        CONSTRAINT campaigns_lawful_basis_check
        CHECK (lawful_basis IN ('opt_out', 'legitimate_interest', 'consent')),
    ADD COLUMN claimed_at           TIMESTAMPTZ,
    -- The job that claimed it (apalis job id).
    ADD COLUMN claimed_by_job       VARCHAR(40),
    -- The original URLs behind the click links, by index: the click
    -- endpoint redirects only to these.
    ADD COLUMN tracked_links        JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT campaigns_tracked_links_check CHECK (jsonb_typeof(tracked_links) = 'array'),
    -- What the SMTP server (or the outbox) answered.
    ADD COLUMN transport_reply      TEXT,
    -- The Message-ID of the step this one follows (In-Reply-To).
    ADD COLUMN in_reply_to          VARCHAR(255),
    ADD CONSTRAINT campaigns_outreach_step_check
        CHECK ((outreach_campaign_id IS NULL) = (step IS NULL));

-- `sending`: claimed, SMTP in flight; `unknown`: a retry found it still
-- `sending` (a crash mid-send): an operator decides, it is never re-sent;
-- `refused`: suppressed or not allowed by the compliance profile.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check CHECK (status IN (
    'pending', 'scheduled', 'sending', 'unknown', 'sent', 'delivered', 'opened', 'clicked', 'replied',
    'converted', 'bounced', 'complained', 'failed', 'cancelled', 'refused'
));

-- One send per (lead, campaign, step), whatever retries or crashes do.
CREATE UNIQUE INDEX campaigns_outreach_step_key
    ON campaigns (prospect_id, outreach_campaign_id, step) WHERE outreach_campaign_id IS NOT NULL;
CREATE UNIQUE INDEX campaigns_message_id_key ON campaigns (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX idx_campaigns_unknown ON campaigns (claimed_at) WHERE status = 'unknown';

-- Addresses and whole domains that are never e-mailed again; checked in
-- the sending transaction.
CREATE TABLE suppressions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           VARCHAR(10) NOT NULL
        CONSTRAINT suppressions_kind_check CHECK (kind IN ('address', 'domain')),
    value          VARCHAR(255) NOT NULL
        CONSTRAINT suppressions_value_check CHECK (value = lower(value) AND length(value) > 0),
    reason         VARCHAR(30) NOT NULL
        CONSTRAINT suppressions_reason_check
        CHECK (reason IN ('unsubscribe', 'hard_bounce', 'complaint', 'manual', 'reply')),
    source_send_id UUID REFERENCES campaigns (id) ON DELETE SET NULL,
    note           TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT suppressions_kind_value_key UNIQUE (kind, value)
);

-- What happened to a send after it left: opens, clicks and unsubscribes
-- from the tracking endpoints (machine hits marked, not counted as
-- people), bounces, complaints and replies from the inbox.
CREATE TABLE email_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    send_id        UUID NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    prospect_id    BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
    kind           VARCHAR(20) NOT NULL
        CONSTRAINT email_events_kind_check CHECK (kind IN (
            'open', 'click', 'unsubscribe', 'bounce', 'complaint', 'reply', 'auto_reply'
        )),
    link_index     SMALLINT,
    url            TEXT,
    machine        BOOLEAN NOT NULL DEFAULT false,
    machine_reason VARCHAR(100),
    user_agent     VARCHAR(500),
    detail         JSONB,
    occurred_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_email_events_send ON email_events (send_id, occurred_at);
CREATE INDEX idx_email_events_prospect ON email_events (prospect_id, occurred_at DESC);

-- The sending mailboxes' shared state: caps and gaps hold across every
-- worker process because the sending transaction locks these rows.
CREATE TABLE email_mailboxes (
    address           VARCHAR(255) PRIMARY KEY,
    first_send_on     DATE,
    last_send_at      TIMESTAMPTZ,
    paused_at         TIMESTAMPTZ,
    paused_reason     TEXT,
    imap_uid_validity BIGINT,
    imap_last_uid     BIGINT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER email_mailboxes_updated_at BEFORE UPDATE ON email_mailboxes
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Sends claimed per mailbox and local day (the mailbox's time zone).
CREATE TABLE email_mailbox_days (
    address VARCHAR(255) NOT NULL REFERENCES email_mailboxes (address) ON DELETE CASCADE,
    day     DATE NOT NULL,
    sent    INTEGER NOT NULL DEFAULT 0 CONSTRAINT email_mailbox_days_sent_check CHECK (sent >= 0),
    PRIMARY KEY (address, day)
);

-- Consent a lead gave (needed where the compliance profile requires it).
CREATE TABLE prospect_consents (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prospect_id  BIGINT NOT NULL REFERENCES prospects (id) ON DELETE CASCADE,
    channel      VARCHAR(20) NOT NULL DEFAULT 'email'
        CONSTRAINT prospect_consents_channel_check CHECK (channel IN ('email', 'sms', 'letter', 'phone')),
    -- How it was given (a form, a call, a signed order), for the record.
    source       TEXT NOT NULL,
    given_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    withdrawn_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_prospect_consents_prospect ON prospect_consents (prospect_id, channel);

-- The timeline also shows what e-mail did.
ALTER TABLE prospect_interactions DROP CONSTRAINT prospect_interactions_type_check;
ALTER TABLE prospect_interactions ADD CONSTRAINT prospect_interactions_type_check CHECK (interaction_type IN (
    'note', 'call', 'email_sent', 'email_received', 'meeting', 'visit', 'sms', 'proposal_sent',
    'email_opened', 'email_clicked', 'email_bounced', 'email_unsubscribed', 'email_complained'
));
-- Which send an interaction is about, if any.
ALTER TABLE prospect_interactions
    ADD COLUMN send_id UUID REFERENCES campaigns (id) ON DELETE SET NULL;

-- An optional HTML body (the text body is always sent; without HTML the
-- message's HTML part is made from the text).
ALTER TABLE campaign_templates ADD COLUMN body_html_template TEXT;
