-- Every HTTP attempt a places provider may bill is a row of api_usage, with
-- what became of it. A discover job reserves a call's worst-case cost
-- (outcome 'reserved') under a per-provider lock before sending it, and
-- settles the row once the answer is in:
--   ok         a 2xx that was read: request price + result prices
--   submitted  an Outscraper async request accepted (its id below); worst
--              case until its results are read, then 'ok'
--   malformed  a 2xx that could not be read: worst case
--   http_4xx   a refusal other than 429: the request price
--   http_5xx   a server error: the request price
--   timeout    no answer in time after the request was sent: worst case
--   transport  the connection broke after the request was sent: worst case
-- A row left 'reserved' (the job died during the call) keeps its worst case.
-- Unbilled attempts (429, a connection never made) leave no row. Other
-- writers (LLM, PageSpeed) enter finished calls: 'ok' by default.
ALTER TABLE api_usage
    ADD COLUMN outcome TEXT NOT NULL DEFAULT 'ok'
        CHECK (outcome IN ('reserved', 'ok', 'submitted', 'malformed', 'http_4xx', 'http_5xx',
                           'timeout', 'transport')),
    ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    ADD COLUMN call_key TEXT,
    ADD COLUMN request_id TEXT;

COMMENT ON COLUMN api_usage.outcome IS 'reserved (in flight or interrupted), ok, submitted, malformed, http_4xx, http_5xx, timeout, transport';
COMMENT ON COLUMN api_usage.attempt IS 'the try of this call within one job run (1 = first)';
COMMENT ON COLUMN api_usage.call_key IS 'what the call was for, e.g. grid:{territory}:run:{run}:page:{page}';
COMMENT ON COLUMN api_usage.request_id IS 'the provider''s id of an async request (Outscraper)';

CREATE INDEX idx_api_usage_request ON api_usage (provider, request_id) WHERE request_id IS NOT NULL;
