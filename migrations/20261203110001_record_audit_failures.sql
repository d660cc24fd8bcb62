-- Why the latest audit of a prospect's site failed for good (a 404, a
-- refused address, a page Chromium could not load). The score is then
-- computed from the tech profile and says the audit is missing; a later
-- successful audit clears it.
ALTER TABLE prospects
    ADD COLUMN audit_failure   TEXT,
    ADD COLUMN audit_failed_at TIMESTAMPTZ;
