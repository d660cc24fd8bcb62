-- What the discover stage learns about a maps listing beyond WebMagic's
-- columns: its dedup keys, the listing details it keeps, its qualification
-- (with the reasons, so an unqualified lead says why) and the route it took.
ALTER TABLE prospects
    -- Dedup keys across sources: the registrable domain of a real website
    -- (public suffix list: shop.example.co.uk -> example.co.uk) and the
    -- phone number in E.164.
    ADD COLUMN registrable_domain VARCHAR(253)
        CONSTRAINT prospects_registrable_domain_check CHECK (registrable_domain = lower(registrable_domain)),
    ADD COLUMN phone_e164 VARCHAR(16)
        CONSTRAINT prospects_phone_e164_check CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    -- A social or directory page given as the listing's website (Facebook,
    -- Yelp, Linktree, …): kept, but it is not a website.
    ADD COLUMN profile_url VARCHAR(500),
    ADD COLUMN business_status VARCHAR(30)
        CONSTRAINT prospects_business_status_check
        CHECK (business_status IN ('operational', 'closed_temporarily', 'closed_permanently')),
    ADD COLUMN opening_hours JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospects_opening_hours_check CHECK (jsonb_typeof(opening_hours) = 'array'),
    ADD COLUMN last_review_at TIMESTAMPTZ,
    -- Qualification: qualification_score (0-100) is WebMagic's column; these
    -- say whether it passed and why (one {rule, points, detail} per rule).
    ADD COLUMN qualified BOOLEAN,
    ADD COLUMN qualification_reasons JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospects_qualification_reasons_check CHECK (jsonb_typeof(qualification_reasons) = 'array'),
    -- Where discovery sent the lead: tech_scan (it has a real website),
    -- build_site (no website, qualified), unqualified, or closed.
    -- routed_at is when the route's first job was enqueued; a build_site
    -- route with routed_at NULL is waiting for the build_site stage.
    ADD COLUMN pipeline_route VARCHAR(20)
        CONSTRAINT prospects_pipeline_route_check
        CHECK (pipeline_route IN ('tech_scan', 'build_site', 'unqualified', 'closed')),
    ADD COLUMN routed_at TIMESTAMPTZ;

CREATE INDEX idx_prospects_registrable_domain ON prospects (registrable_domain)
    WHERE registrable_domain IS NOT NULL;
CREATE INDEX idx_prospects_phone_e164 ON prospects (phone_e164) WHERE phone_e164 IS NOT NULL;
-- The build_site stage's work list: qualified leads with no website, best first.
CREATE INDEX idx_prospects_awaiting_build_site ON prospects (qualification_score DESC)
    WHERE pipeline_route = 'build_site' AND routed_at IS NULL;
