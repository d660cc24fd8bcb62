-- The inbox poller (the poll_inbox stage): how far each mailbox's folder
-- has been read, and every inbound message it handled, so that a message
-- read again (after a crash, a lost connection or a renumbered folder)
-- does nothing twice.

-- The highest UID handled in a mailbox's folder. A UID means something only
-- with the folder's UIDVALIDITY: when the server reports another one, it has
-- renumbered the folder and reading starts again from UID 0 (the
-- Message-IDs in inbound_messages keep the messages already handled from
-- being handled again).
CREATE TABLE mailbox_cursors (
    -- The mailbox's address (lower case), as `[[send_email.mailboxes]]` names it.
    mailbox     VARCHAR(255) NOT NULL,
    folder      VARCHAR(255) NOT NULL,
    uidvalidity BIGINT NOT NULL
        CONSTRAINT mailbox_cursors_uidvalidity_check CHECK (uidvalidity BETWEEN 0 AND 4294967295),
    last_uid    BIGINT NOT NULL DEFAULT 0
        CONSTRAINT mailbox_cursors_last_uid_check CHECK (last_uid BETWEEN 0 AND 4294967295),
    -- The end of the last poll that read the folder to its end (or to the
    -- per-run limit).
    polled_at   TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox, folder)
);

CREATE TRIGGER mailbox_cursors_updated_at BEFORE UPDATE ON mailbox_cursors
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per inbound message handled, inserted in the transaction that
-- records what the message does (email_events, interactions, suppressions,
-- a support ticket) and advances the cursor: the insert is the claim
-- (ON CONFLICT DO NOTHING: already handled, skip).
CREATE TABLE inbound_messages (
    mailbox      VARCHAR(255) NOT NULL,
    folder       VARCHAR(255) NOT NULL,
    uidvalidity  BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    -- The message's own Message-ID (without <>), when it has one.
    message_id   TEXT,
    -- What makes two copies the same message: the Message-ID, else
    -- `sha256:` and the digest of its bytes. Unique per mailbox, so a
    -- folder renumbered by the server is not handled twice.
    dedup_key    TEXT NOT NULL,
    -- What the classifier said it is (send_email::inbound).
    kind         VARCHAR(20) NOT NULL
        CONSTRAINT inbound_messages_kind_check CHECK (kind IN (
            'reply', 'bounce', 'complaint', 'auto_reply', 'unsubscribe', 'other'
        )),
    -- The classification in full (bounce class and status, complaint type…).
    detail       JSONB,
    -- recorded: against a send of ours (email_events); unmatched: no send
    -- of ours; ticket: a customer's message, now a support ticket; no_site:
    -- a customer's message, but the customer has no site to file it under;
    -- failed: recording it failed for good (the reason in `error`).
    outcome      VARCHAR(20) NOT NULL
        CONSTRAINT inbound_messages_outcome_check CHECK (outcome IN (
            'recorded', 'unmatched', 'ticket', 'no_site', 'failed'
        )),
    send_id      UUID REFERENCES campaigns (id) ON DELETE SET NULL,
    customer_id  UUID REFERENCES customers (id) ON DELETE SET NULL,
    ticket_id    UUID REFERENCES support_tickets (id) ON DELETE SET NULL,
    subject      VARCHAR(255),
    error        TEXT,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the message was marked seen or moved on the server; NULL until
    -- then (the next poll tries again).
    finished_at  TIMESTAMPTZ,
    PRIMARY KEY (mailbox, folder, uidvalidity, uid),
    CONSTRAINT inbound_messages_dedup_key UNIQUE (mailbox, dedup_key)
);

CREATE INDEX idx_inbound_messages_unfinished
    ON inbound_messages (mailbox, folder, uidvalidity) WHERE finished_at IS NULL;
CREATE INDEX idx_inbound_messages_send ON inbound_messages (send_id) WHERE send_id IS NOT NULL;
CREATE INDEX idx_inbound_messages_customer ON inbound_messages (customer_id) WHERE customer_id IS NOT NULL;
