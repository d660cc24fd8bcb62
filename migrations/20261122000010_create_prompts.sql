-- WebMagic prompt configuration, editable from the admin UI.
CREATE TABLE prompt_settings (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_name    VARCHAR(50) NOT NULL
        CONSTRAINT prompt_settings_agent_name_check
        CHECK (agent_name IN ('analyst', 'concept', 'director', 'architect', 'email_composer')),
    section_name  VARCHAR(100) NOT NULL,
    content       TEXT NOT NULL,
    description   TEXT,
    version       INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    is_active     BOOLEAN NOT NULL DEFAULT true,
    variant       VARCHAR(50),
    weight        INTEGER NOT NULL DEFAULT 100 CHECK (weight BETWEEN 0 AND 100),
    usage_count   INTEGER NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    success_count INTEGER NOT NULL DEFAULT 0 CHECK (success_count >= 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by    UUID REFERENCES admin_users (id),
    CONSTRAINT prompt_settings_agent_section_version_key UNIQUE (agent_name, section_name, version)
);

CREATE INDEX idx_prompts_agent ON prompt_settings (agent_name);
CREATE INDEX idx_prompts_active ON prompt_settings (is_active) WHERE is_active = true;

CREATE TRIGGER prompt_settings_updated_at BEFORE UPDATE ON prompt_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE prompt_templates (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_name           VARCHAR(50) NOT NULL CONSTRAINT prompt_templates_agent_name_key UNIQUE
        CONSTRAINT prompt_templates_agent_name_check
        CHECK (agent_name IN ('analyst', 'concept', 'director', 'architect', 'email_composer')),
    system_prompt        TEXT NOT NULL,
    output_format        TEXT,
    placeholder_sections JSONB NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(placeholder_sections) = 'array'),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER prompt_templates_updated_at BEFORE UPDATE ON prompt_templates
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
