-- Transactional e-mails to customers (the welcome on the first payment, a
-- reminder when a subscription goes past due), sent by the billing stage
-- through the send_email mailboxes. A row is written in the transaction
-- that applies the billing event, with the job that sends it; the unique
-- key makes a redelivered event find its notice instead of writing a second
-- one. `sending` left behind by a crash becomes `unknown` (never re-sent).
CREATE TABLE customer_notices (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id         UUID NOT NULL REFERENCES generated_sites (id) ON DELETE CASCADE,
    customer_id     UUID REFERENCES customers (id) ON DELETE SET NULL,
    kind            VARCHAR(20) NOT NULL
        CONSTRAINT customer_notices_kind_check CHECK (kind IN ('welcome', 'past_due')),
    -- What called for it: `first_sale` (one welcome per site) or the
    -- svix-id of the event.
    cause           VARCHAR(255) NOT NULL,
    recipient_email VARCHAR(255) NOT NULL,
    status          VARCHAR(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT customer_notices_status_check CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
    subject         TEXT,
    message_id      VARCHAR(255),
    mailbox         VARCHAR(255),
    transport_reply TEXT,
    error_message   TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    CONSTRAINT customer_notices_site_kind_cause_key UNIQUE (site_id, kind, cause)
);

CREATE INDEX idx_customer_notices_status ON customer_notices (status) WHERE status IN ('pending', 'sending', 'unknown');
