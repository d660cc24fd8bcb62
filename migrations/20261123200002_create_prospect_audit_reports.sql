-- The full report of each prospect's latest audit, gzip-compressed: the
-- Lighthouse result (LHR) JSON, or the whole PageSpeed Insights v5 response.
-- Served by GET /api/prospects/{id}/audit-report.
CREATE TABLE prospect_audit_reports (
    prospect_id        BIGINT PRIMARY KEY REFERENCES prospects (id) ON DELETE CASCADE,
    provider           VARCHAR(20) NOT NULL
        CONSTRAINT prospect_audit_reports_provider_check CHECK (provider IN ('lighthouse', 'pagespeed')),
    format             VARCHAR(30) NOT NULL
        CONSTRAINT prospect_audit_reports_format_check CHECK (format IN ('lighthouse_result', 'pagespeed_v5')),
    form_factor        VARCHAR(10) NOT NULL
        CONSTRAINT prospect_audit_reports_form_factor_check CHECK (form_factor IN ('mobile', 'desktop')),
    lighthouse_version VARCHAR(20),
    content_encoding   VARCHAR(10) NOT NULL DEFAULT 'gzip'
        CONSTRAINT prospect_audit_reports_content_encoding_check CHECK (content_encoding = 'gzip'),
    report             BYTEA NOT NULL,
    report_bytes       INTEGER NOT NULL
        CONSTRAINT prospect_audit_reports_report_bytes_check CHECK (report_bytes >= 0),
    audited_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Already gzip: do not let TOAST try to compress it again.
ALTER TABLE prospect_audit_reports ALTER COLUMN report SET STORAGE EXTERNAL;

CREATE TRIGGER prospect_audit_reports_updated_at BEFORE UPDATE ON prospect_audit_reports
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
