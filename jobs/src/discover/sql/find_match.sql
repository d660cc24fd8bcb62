-- The existing lead a listing is, strongest key first: place id, Google Maps
-- id, then a registrable domain or E.164 phone of a lead that has no place
-- id or the same one (branches of a chain share both, yet differ).
-- $1 place id, $2 gmb id, $3 host, $4 registrable domain, $5 phone (E.164)
SELECT id, email, last_review_at
FROM prospects
WHERE ($1::text IS NOT NULL AND gmb_place_id = $1)
   OR ($2::text IS NOT NULL AND gmb_id = $2)
   OR ((gmb_place_id IS NULL OR gmb_place_id = $1)
       AND (gmb_id IS NULL OR gmb_id = $2)
       AND (($4::text IS NOT NULL
             AND (registrable_domain = $4 OR domain_name = $4 OR domain_name = $3))
            OR ($5::text IS NOT NULL AND phone_e164 = $5)))
ORDER BY coalesce(gmb_place_id = $1, false) DESC,
         coalesce(gmb_id = $2, false) DESC,
         coalesce(registrable_domain = $4 OR domain_name = $4 OR domain_name = $3, false) DESC,
         id
LIMIT 1
FOR UPDATE
