-- A change request is applied to the new site version (issue 15): the
-- ticket keeps what its text was understood as and what needs a human,
-- and each version keeps the edits of its ticket that it applied. The
-- edits of approved versions are applied again on every later build of
-- the site, so a regeneration keeps them.
ALTER TABLE support_tickets
    -- What the request was read as: {"edits": [Edit…], "not_understood":
    -- [{"text", "reason"}…]}; read once, reused by a retried build.
    ADD COLUMN requested_edits JSONB,
    -- What the build applied (JSON array of edits), and what needs a human
    -- (JSON array of {"text", "reason"} and, for an edit that could not be
    -- applied, its "edit").
    ADD COLUMN applied_edits   JSONB,
    ADD COLUMN needs_human     JSONB,
    -- Who read the request: the deterministic rules or the LLM.
    ADD COLUMN interpreted_by  VARCHAR(20)
        CONSTRAINT support_tickets_interpreted_by_check CHECK (interpreted_by IN ('rules', 'llm'));

ALTER TABLE site_versions
    -- The edits of this version's change request that it applied.
    ADD COLUMN change_edits JSONB NOT NULL DEFAULT '[]';

CREATE INDEX idx_site_versions_approved_edits ON site_versions (site_id, approved_at)
    WHERE approval_status = 'approved' AND change_edits <> '[]'::jsonb;

-- A ticket's build finds the version it stored already (a re-run stores
-- nothing new).
CREATE INDEX idx_site_versions_change_request ON site_versions (change_request_id)
    WHERE change_request_id IS NOT NULL;
