-- Support tickets opened from a customer's e-mail (the poll_inbox stage),
-- next to those from a live site's /support form: where a ticket came from,
-- and for an e-mail its subject and Message-ID (request_text holds its text).
ALTER TABLE support_tickets
    ADD COLUMN source           VARCHAR(10) NOT NULL DEFAULT 'form'
        CONSTRAINT support_tickets_source_check CHECK (source IN ('form', 'email')),
    ADD COLUMN email_subject    VARCHAR(255),
    ADD COLUMN email_message_id TEXT,
    ADD CONSTRAINT support_tickets_email_check
        CHECK (source = 'email' OR (email_subject IS NULL AND email_message_id IS NULL));

-- One ticket per e-mail, even when it reached several of our mailboxes.
CREATE UNIQUE INDEX support_tickets_email_message_id_key
    ON support_tickets (email_message_id) WHERE email_message_id IS NOT NULL;
