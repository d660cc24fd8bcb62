-- One lead table for both designs.
--
-- The "prospects" design calls a lead a prospect (integer id, domain-based or
-- captured offline); WebMagic calls it a business (UUID id, found on Google
-- Maps). They are the same thing, so they live in one table: `prospects` keeps
-- the integer key that every prospect_* table references, and `public_id` is
-- the UUID that every WebMagic table references. `businesses` is a view over
-- this table with WebMagic's column names (see docs/data-model.md).
CREATE TABLE prospects (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id           UUID NOT NULL DEFAULT gen_random_uuid()
        CONSTRAINT prospects_public_id_key UNIQUE,

    -- How the lead was found. `maps` is a business listed by a maps/places
    -- provider; it may or may not have a website.
    channel             VARCHAR(20) NOT NULL DEFAULT 'digital'
        CONSTRAINT prospects_channel_check CHECK (channel IN ('digital', 'offline', 'maps')),
    business_name       VARCHAR(255),
    slug                VARCHAR(255) NOT NULL CONSTRAINT prospects_slug_key UNIQUE,
    domain_name         VARCHAR(255) CONSTRAINT prospects_domain_name_key UNIQUE
        CONSTRAINT prospects_domain_name_check CHECK (
            domain_name = lower(domain_name)
            AND domain_name ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'
            AND length(domain_name) <= 253
        ),
    status              VARCHAR(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT prospects_status_check CHECK (
            status IN ('pending', 'active', 'inactive', 'parked', 'error', 'contacted', 'converted')
        ),
    source              VARCHAR(100),

    -- Website reachability (tech scan)
    has_website         BOOLEAN,
    uses_https          BOOLEAN,
    http_status_code    INTEGER CONSTRAINT prospects_http_status_code_check
        CHECK (http_status_code BETWEEN 100 AND 599),
    website_url         VARCHAR(500),

    -- Contact
    email               VARCHAR(255),
    phone               VARCHAR(50),

    -- Location
    address             VARCHAR(500),
    city                VARCHAR(100),
    state               VARCHAR(50),
    postal_code         VARCHAR(20),
    country             VARCHAR(2) NOT NULL DEFAULT 'LU'
        CONSTRAINT prospects_country_check CHECK (country ~ '^[A-Z]{2}$'),
    location_lat        DOUBLE PRECISION CONSTRAINT prospects_location_lat_check
        CHECK (location_lat BETWEEN -90 AND 90),
    location_lng        DOUBLE PRECISION CONSTRAINT prospects_location_lng_check
        CHECK (location_lng BETWEEN -180 AND 180),

    notes               TEXT,
    tags                JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospects_tags_check CHECK (jsonb_typeof(tags) = 'array'),
    captured_by_user_id UUID REFERENCES admin_users (id) ON DELETE SET NULL,

    -- Maps listing (WebMagic)
    gmb_id              VARCHAR(100) CONSTRAINT prospects_gmb_id_key UNIQUE,
    gmb_place_id        VARCHAR(100),
    category            VARCHAR(100),
    subcategory         VARCHAR(100),
    rating              NUMERIC(2, 1) CONSTRAINT prospects_rating_check CHECK (rating BETWEEN 0 AND 5),
    review_count        INTEGER NOT NULL DEFAULT 0
        CONSTRAINT prospects_review_count_check CHECK (review_count >= 0),
    reviews_summary     TEXT,
    review_highlight    TEXT,
    brand_archetype     VARCHAR(50),
    photos_urls         JSONB NOT NULL DEFAULT '[]'
        CONSTRAINT prospects_photos_urls_check CHECK (jsonb_typeof(photos_urls) = 'array'),
    logo_url            TEXT,

    -- WebMagic processing state
    website_status      VARCHAR(30) NOT NULL DEFAULT 'none'
        CONSTRAINT prospects_website_status_check CHECK (
            website_status IN ('none', 'generating', 'generated', 'deployed', 'sold', 'archived')
        ),
    contact_status      VARCHAR(30) NOT NULL DEFAULT 'pending'
        CONSTRAINT prospects_contact_status_check CHECK (
            contact_status IN ('pending', 'emailed', 'opened', 'clicked', 'replied',
                               'purchased', 'unsubscribed', 'bounced')
        ),
    qualification_score INTEGER NOT NULL DEFAULT 0
        CONSTRAINT prospects_qualification_score_check CHECK (qualification_score BETWEEN 0 AND 100),
    creative_dna        JSONB,
    coverage_grid_id    UUID REFERENCES coverage_grid (id) ON DELETE SET NULL,

    -- Timestamps for each scan type (the prospects design's last_*_at)
    last_discovered_at  TIMESTAMPTZ,
    last_tech_scan_at   TIMESTAMPTZ,
    last_audit_at       TIMESTAMPTZ,
    last_score_at       TIMESTAMPTZ,
    last_contacted_at   TIMESTAMPTZ,

    scraped_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),

    -- The prospects design: "Required for digital" / "Required for offline".
    CONSTRAINT prospects_digital_needs_domain_check
        CHECK (channel <> 'digital' OR domain_name IS NOT NULL),
    CONSTRAINT prospects_needs_name_check
        CHECK (channel = 'digital' OR business_name IS NOT NULL)
);

-- WebMagic's indexes on businesses
CREATE INDEX idx_business_status ON prospects (website_status, contact_status);
CREATE INDEX idx_business_location ON prospects (state, city);
CREATE INDEX idx_business_category ON prospects (category);
CREATE INDEX idx_business_rating ON prospects (rating DESC);
CREATE INDEX idx_business_email ON prospects (email) WHERE email IS NOT NULL;
CREATE INDEX idx_business_gmb ON prospects (gmb_id);
-- Dedup across discovery sources by Google place id.
CREATE UNIQUE INDEX idx_prospects_gmb_place_id ON prospects (gmb_place_id) WHERE gmb_place_id IS NOT NULL;
-- Offline captures have no domain or place id: the same name at the same
-- address in the same city is the same lead (imports upsert on this).
CREATE UNIQUE INDEX idx_prospects_offline_identity
    ON prospects (lower(business_name), lower(coalesce(address, '')), lower(coalesce(city, '')))
    WHERE channel = 'offline' AND domain_name IS NULL;
-- Listing and dashboards
CREATE INDEX idx_prospects_status ON prospects (status);
CREATE INDEX idx_prospects_city ON prospects (city);
CREATE INDEX idx_prospects_created_at ON prospects (created_at DESC);
CREATE INDEX idx_prospects_coverage_grid ON prospects (coverage_grid_id) WHERE coverage_grid_id IS NOT NULL;
CREATE INDEX idx_prospects_tags ON prospects USING gin (tags);

-- A slug is derived from the name (or domain) when none is given, so rows
-- inserted through either design's name always have one.
CREATE FUNCTION prospects_fill_slug() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    base TEXT;
BEGIN
    IF NEW.slug IS NULL OR NEW.slug = '' THEN
        base := lower(regexp_replace(coalesce(NEW.business_name, NEW.domain_name, 'lead'),
                                     '[^a-zA-Z0-9]+', '-', 'g'));
        base := trim(BOTH '-' FROM left(base, 200));
        IF base = '' THEN
            base := 'lead';
        END IF;
        NEW.slug := base || '-' || left(replace(NEW.public_id::text, '-', ''), 10);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER prospects_fill_slug BEFORE INSERT ON prospects
    FOR EACH ROW EXECUTE FUNCTION prospects_fill_slug();
CREATE TRIGGER prospects_updated_at BEFORE UPDATE ON prospects
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- WebMagic's `businesses`, as a view with its names. It is automatically
-- updatable: UPDATE/INSERT/DELETE on it write `prospects` (latitude and
-- longitude are read-only casts; write location_lat/location_lng instead).
CREATE VIEW businesses AS
SELECT
    p.public_id                           AS id,
    p.gmb_id,
    p.gmb_place_id,
    p.business_name                       AS name,
    p.slug,
    p.email,
    p.phone,
    p.website_url,
    p.address,
    p.city,
    p.state,
    p.postal_code                         AS zip_code,
    p.country,
    p.location_lat::NUMERIC(10, 8)        AS latitude,
    p.location_lng::NUMERIC(11, 8)        AS longitude,
    p.category,
    p.subcategory,
    p.rating,
    p.review_count,
    p.reviews_summary,
    p.review_highlight,
    p.brand_archetype,
    p.photos_urls,
    p.logo_url,
    p.website_status,
    p.contact_status,
    p.qualification_score,
    p.creative_dna,
    p.coverage_grid_id,
    p.scraped_at,
    p.created_at,
    p.updated_at,
    p.id                                  AS prospect_id,
    p.channel,
    p.domain_name
FROM prospects p;

-- WebMagic defaults apply to rows inserted through its name.
ALTER VIEW businesses ALTER COLUMN id SET DEFAULT gen_random_uuid();
ALTER VIEW businesses ALTER COLUMN channel SET DEFAULT 'maps';
ALTER VIEW businesses ALTER COLUMN country SET DEFAULT 'US';
