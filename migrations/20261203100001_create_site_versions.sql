-- The build_site stage: every build of a business's site is a version row,
-- and generated_sites holds the current one with its status.
--
-- generated_sites (WebMagic's table) is one site per business and variant
-- ("new" for a business without a website, "rebuild" for a redesign of an
-- outdated one). Its html_content/css_content mirror the current version, so
-- WebMagic's queries keep working. A version is sent out only after its
-- quality gate (the audit stage, real Lighthouse) passed.

-- Reviews as the places provider returned them (author, rating, text,
-- published): the preview quotes them verbatim.
ALTER TABLE prospects
    ADD COLUMN reviews JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospects_reviews_check CHECK (jsonb_typeof(reviews) = 'array'),
    -- Screenshots of the prospect's own website (the "before" picture),
    -- media store keys, written by the screenshot stage.
    ADD COLUMN site_screenshot_desktop TEXT,
    ADD COLUMN site_screenshot_mobile  TEXT,
    ADD COLUMN site_screenshot_at      TIMESTAMPTZ;

ALTER TABLE prospect_scan_jobs DROP CONSTRAINT prospect_scan_jobs_job_type_check;
ALTER TABLE prospect_scan_jobs ADD CONSTRAINT prospect_scan_jobs_job_type_check
    CHECK (job_type IN ('import', 'discover', 'scan', 'rescan', 'outreach', 'analytics', 'build'));

ALTER TABLE generated_sites DROP CONSTRAINT generated_sites_status_check;
ALTER TABLE generated_sites ADD CONSTRAINT generated_sites_status_check
    CHECK (status IN ('draft', 'preview', 'live', 'paused', 'archived', 'sold'));

ALTER TABLE generated_sites
    ADD COLUMN variant VARCHAR(20) NOT NULL DEFAULT 'new'
        CONSTRAINT generated_sites_variant_check CHECK (variant IN ('new', 'rebuild')),
    -- The preview's capability: 22+ characters of base64url (>= 128 random bits).
    ADD COLUMN preview_token VARCHAR(64)
        CONSTRAINT generated_sites_preview_token_key UNIQUE
        CONSTRAINT generated_sites_preview_token_check CHECK (length(preview_token) >= 22),
    ADD COLUMN current_version_id UUID,
    -- The version served on the live host (may lag behind current_version_id
    -- while a change waits for approval).
    ADD COLUMN live_version_id UUID,
    -- Set when the current version passed its gate and has its screenshots.
    ADD COLUMN ready_at TIMESTAMPTZ,
    ADD COLUMN paused_at TIMESTAMPTZ,
    -- A customer's own domain is served only once its CNAME points at us.
    ADD COLUMN custom_domain_verified_at TIMESTAMPTZ,
    ADD CONSTRAINT generated_sites_business_variant_key UNIQUE (business_id, variant);

CREATE TABLE site_versions (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    site_id              UUID NOT NULL REFERENCES generated_sites (id) ON DELETE CASCADE,
    version              INTEGER NOT NULL CHECK (version >= 1),
    -- The preview (noindex, with the claim bar), served at the preview URL.
    html_content         TEXT NOT NULL,
    css_content          TEXT NOT NULL,
    -- SHA-256 of the preview: the ETag, and how a rebuild that changes
    -- nothing is recognised.
    content_hash         CHAR(64) NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    -- The customer's site: the same version, indexable, without the claim
    -- bar, at its live address. The quality gate audits this rendering.
    live_html            TEXT NOT NULL,
    live_content_hash    CHAR(64) NOT NULL CHECK (live_content_hash ~ '^[0-9a-f]{64}$'),
    template_version     VARCHAR(40) NOT NULL,
    creative_dna         JSONB NOT NULL,
    copy                 JSONB NOT NULL,
    -- Who wrote the copy; when the LLM was asked and its copy was refused,
    -- why (the deterministic copy was used).
    copy_source          VARCHAR(20) NOT NULL
        CONSTRAINT site_versions_copy_source_check CHECK (copy_source IN ('deterministic', 'llm')),
    copy_fallback_reason TEXT,
    -- The prompt variant (A/B) the copy was written with.
    prompt_setting_id    UUID REFERENCES prompt_settings (id) ON DELETE SET NULL,
    -- The generator's own checks (one h1, links, JSON-LD, contrast, size).
    static_checks        JSONB NOT NULL,
    -- The quality gate: Lighthouse on an indexable rendering of this version.
    gate_status          VARCHAR(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT site_versions_gate_status_check CHECK (gate_status IN ('pending', 'passed', 'failed')),
    gate_reason          TEXT,
    performance_score    INTEGER CHECK (performance_score BETWEEN 0 AND 100),
    accessibility_score  INTEGER CHECK (accessibility_score BETWEEN 0 AND 100),
    best_practices_score INTEGER CHECK (best_practices_score BETWEEN 0 AND 100),
    seo_score            INTEGER CHECK (seo_score BETWEEN 0 AND 100),
    gated_at             TIMESTAMPTZ,
    -- Screenshots (media store keys) and their perceptual hash.
    screenshot_desktop   TEXT,
    screenshot_mobile    TEXT,
    thumbnail            TEXT,
    screenshot_phash     VARCHAR(64),
    -- A change a customer asked for (support ticket) makes a version that
    -- waits for an operator before it replaces the live one.
    change_request_id    UUID REFERENCES support_tickets (id) ON DELETE SET NULL,
    approval_status      VARCHAR(20) NOT NULL DEFAULT 'not_required'
        CONSTRAINT site_versions_approval_status_check
        CHECK (approval_status IN ('not_required', 'pending', 'approved', 'rejected')),
    approved_at          TIMESTAMPTZ,
    approved_by          UUID REFERENCES admin_users (id) ON DELETE SET NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT site_versions_site_version_key UNIQUE (site_id, version)
);

CREATE INDEX idx_site_versions_site ON site_versions (site_id, version DESC);
CREATE INDEX idx_site_versions_pending_approval ON site_versions (created_at)
    WHERE approval_status = 'pending';

ALTER TABLE generated_sites
    ADD CONSTRAINT generated_sites_current_version_fkey
        FOREIGN KEY (current_version_id) REFERENCES site_versions (id) ON DELETE SET NULL,
    ADD CONSTRAINT generated_sites_live_version_fkey
        FOREIGN KEY (live_version_id) REFERENCES site_versions (id) ON DELETE SET NULL;

-- Outcomes per prompt variant, so the weights of prompt_settings can be
-- judged: how many sites each variant wrote, and how their outreach went.
CREATE VIEW prompt_variant_outcomes AS
SELECT ps.id AS prompt_setting_id,
       ps.agent_name,
       ps.section_name,
       ps.variant,
       ps.weight,
       count(DISTINCT v.id) AS sites,
       count(DISTINCT c.id) FILTER (WHERE c.sent_at IS NOT NULL) AS sent,
       count(DISTINCT c.id) FILTER (WHERE c.opened_at IS NOT NULL) AS opened,
       count(DISTINCT c.id) FILTER (WHERE c.clicked_at IS NOT NULL) AS clicked,
       count(DISTINCT c.id) FILTER (WHERE c.converted_at IS NOT NULL) AS purchased
FROM prompt_settings ps
LEFT JOIN site_versions v ON v.prompt_setting_id = ps.id
LEFT JOIN campaigns c ON c.site_id = v.site_id
GROUP BY ps.id, ps.agent_name, ps.section_name, ps.variant, ps.weight;
