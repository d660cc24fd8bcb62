-- `website_status` is WebMagic's state of the site we build, and its 'none'
-- means "ready for a generated site": a lead with a website of its own said
-- the same. 'existing' says the business has its own website and we have
-- built none (imports with a domain set it; a site we build moves it on to
-- 'generated'). Leads that already have one are backfilled.
ALTER TABLE prospects DROP CONSTRAINT prospects_website_status_check;
ALTER TABLE prospects ADD CONSTRAINT prospects_website_status_check CHECK (
    website_status IN ('none', 'existing', 'generating', 'generated', 'deployed', 'sold', 'archived')
);

UPDATE prospects
SET website_status = 'existing'
WHERE website_status = 'none'
  AND website_url IS NOT NULL
  AND has_website IS DISTINCT FROM false
  AND profile_url IS NULL;
