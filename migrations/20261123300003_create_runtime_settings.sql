-- Settings an operator changes at runtime through the admin API (the
-- autopilot's on/off switch and daily target). A row overrides the
-- configuration's value; no row means the configuration applies.
CREATE TABLE runtime_settings (
    key        VARCHAR(100) PRIMARY KEY,
    value      JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER runtime_settings_updated_at BEFORE UPDATE ON runtime_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
