-- The admin console's accounts: three roles, browser sessions and per-user
-- API tokens. The design's four roles become the console's three
-- (viewer looks, operator acts, owner also manages accounts).
ALTER TABLE admin_users DROP CONSTRAINT admin_users_role_check;
UPDATE admin_users SET role = CASE role
    WHEN 'editor' THEN 'operator'
    WHEN 'admin' THEN 'owner'
    WHEN 'super_admin' THEN 'owner'
    ELSE 'viewer' END;
ALTER TABLE admin_users ADD CONSTRAINT admin_users_role_check
    CHECK (role IN ('viewer', 'operator', 'owner'));
-- Set when a password changes or the account is disabled: sessions and
-- tokens issued before it stop working.
ALTER TABLE admin_users ADD COLUMN credentials_changed_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- A browser session. Only the SHA-256 of the cookie's secret is stored, so
-- a read of this table cannot be replayed as a login. `expires_at` slides
-- with use up to `absolute_expires_at`.
CREATE TABLE admin_sessions (
    token_hash          BYTEA PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    csrf_token          VARCHAR(64) NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at          TIMESTAMPTZ NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX idx_admin_sessions_user ON admin_sessions (user_id);
CREATE INDEX idx_admin_sessions_expires ON admin_sessions (expires_at);

-- A script's credential: shown once when created, stored as SHA-256.
-- `prefix` (the first characters) lets a user tell tokens apart.
CREATE TABLE admin_api_tokens (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    name         VARCHAR(100) NOT NULL,
    prefix       VARCHAR(16) NOT NULL,
    token_hash   BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE INDEX idx_admin_api_tokens_user ON admin_api_tokens (user_id);

-- Who did what: the console's audit trail lists an actor's actions.
CREATE INDEX idx_activity_actor ON activity_log (actor_id, created_at DESC) WHERE actor_id IS NOT NULL;
