-- Indexes for `GET /api/prospects` (src/admin/prospects.rs). The list first
-- selects the ids of one page by walking an index in the requested order and
-- stopping after offset + limit matches, then loads the display columns of
-- those ids only. Each index below gives one of those orders, or narrows a
-- filter that is too selective to find by walking an order.

-- sort=score (the default), optionally with min_score / max_score: scored
-- prospects by score, highest first, ties by prospect id. Supersedes the
-- index on score alone.
DROP INDEX IF EXISTS idx_prospect_scores_score;
CREATE INDEX idx_prospect_scores_rank ON prospect_scores (score DESC, prospect_id);

-- sort=score with tier=hot|warm|cold: the same order within one tier.
-- Supersedes the index on (lead_tier, score DESC).
DROP INDEX IF EXISTS idx_prospect_scores_tier;
CREATE INDEX idx_prospect_scores_tier_rank ON prospect_scores (lead_tier, score DESC, prospect_id);

-- sort=created: newest first, ties by id, newest first. Supersedes the
-- index on created_at alone.
DROP INDEX IF EXISTS idx_prospects_created_at;
CREATE INDEX idx_prospects_created_rank ON prospects (created_at DESC, id DESC);

-- sort=name: lower(business_name), unnamed last, ties by id.
CREATE INDEX idx_prospects_name_rank ON prospects (lower(business_name), id);

-- city=… (case-insensitive), with sort=created walked in order within the
-- city; for the other sorts a rare city is found here rather than by walking
-- the order (and ANALYZE keeps statistics on lower(city) for the planner).
-- Supersedes the case-sensitive index on city, which nothing queries.
DROP INDEX IF EXISTS idx_prospects_city;
CREATE INDEX idx_prospects_city_created ON prospects (lower(city), created_at DESC, id DESC);

-- cms=… (case-insensitive): a rare CMS is found here, joined by prospect id.
-- Not partial, so that ANALYZE keeps statistics on lower(cms) for the
-- planner. Supersedes the case-sensitive index on cms, which nothing queries.
DROP INDEX IF EXISTS idx_tech_profiles_cms;
CREATE INDEX idx_tech_profiles_cms_lower ON prospect_tech_profiles (lower(cms), prospect_id);
