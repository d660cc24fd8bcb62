-- Scraped rows (source_url set) are the scan's; rows without a source are
-- entered by people and never touched. A scraped primary is only set for a
-- type that has no manual primary.
INSERT INTO prospect_contacts (prospect_id, contact_type, value, label, is_role_address, source_url, is_primary)
SELECT $1, t.contact_type, t.value, t.label, t.is_role_address, t.source_url,
       t.is_primary AND NOT EXISTS (
           SELECT 1 FROM prospect_contacts m
           WHERE m.prospect_id = $1 AND m.contact_type = t.contact_type
             AND m.is_primary AND m.source_url IS NULL
       )
FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::bool[])
    AS t(contact_type, value, label, is_role_address, source_url, is_primary)
ON CONFLICT (prospect_id, contact_type, value) DO UPDATE SET
    label = EXCLUDED.label,
    is_role_address = EXCLUDED.is_role_address,
    source_url = EXCLUDED.source_url,
    is_primary = EXCLUDED.is_primary
WHERE prospect_contacts.source_url IS NOT NULL
