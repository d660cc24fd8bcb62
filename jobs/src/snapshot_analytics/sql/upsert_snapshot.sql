-- $1 day, $2 IANA time zone of the day's boundaries, $3 qualification threshold
WITH bounds AS (
    SELECT ($1::date)::timestamp AT TIME ZONE $2::text       AS day_start,
           ($1::date + 1)::timestamp AT TIME ZONE $2::text   AS day_end
),
leads AS (
    SELECT count(*)::int                                               AS scraped,
           count(*) FILTER (WHERE p.qualification_score >= $3::int)::int AS qualified
    FROM prospects p, bounds b
    WHERE p.created_at >= b.day_start AND p.created_at < b.day_end
),
sites AS (
    SELECT count(*) FILTER (WHERE s.created_at >= b.day_start AND s.created_at < b.day_end)::int   AS generated,
           count(*) FILTER (WHERE s.deployed_at >= b.day_start AND s.deployed_at < b.day_end)::int AS deployed
    FROM generated_sites s, bounds b
    WHERE (s.created_at >= b.day_start AND s.created_at < b.day_end)
       OR (s.deployed_at >= b.day_start AND s.deployed_at < b.day_end)
),
emails AS (
    SELECT count(*) FILTER (WHERE c.sent_at >= b.day_start AND c.sent_at < b.day_end)::int       AS sent,
           count(*) FILTER (WHERE c.opened_at >= b.day_start AND c.opened_at < b.day_end)::int   AS opened,
           count(*) FILTER (WHERE c.clicked_at >= b.day_start AND c.clicked_at < b.day_end)::int AS clicked
    FROM campaigns c, bounds b
    WHERE (c.sent_at >= b.day_start AND c.sent_at < b.day_end)
       OR (c.opened_at >= b.day_start AND c.opened_at < b.day_end)
       OR (c.clicked_at >= b.day_start AND c.clicked_at < b.day_end)
),
checkouts AS (
    SELECT count(DISTINCT x.checkout_id)::int AS created
    FROM (
        SELECT recurrente_checkout_id AS checkout_id, created_at FROM payments
        UNION ALL
        SELECT recurrente_checkout_id, created_at FROM subscriptions
    ) x, bounds b
    WHERE x.checkout_id IS NOT NULL AND x.created_at >= b.day_start AND x.created_at < b.day_end
),
sales AS (
    SELECT count(*)::int                           AS purchases,
           coalesce(sum(p.amount_cents), 0)::int   AS revenue
    FROM payments p, bounds b
    WHERE p.status = 'succeeded' AND p.payment_type <> 'refund'
      AND p.paid_at >= b.day_start AND p.paid_at < b.day_end
),
mrr AS (
    SELECT coalesce(sum(s.amount_cents), 0)::int AS cents
    FROM subscriptions s, bounds b
    WHERE s.status <> 'paused'
      AND s.started_at < b.day_end
      AND (s.cancelled_at IS NULL OR s.cancelled_at >= b.day_end)
),
costs AS (
    SELECT coalesce(round(sum(u.cost_cents)), 0)::int AS cents
    FROM api_usage u, bounds b
    WHERE u.occurred_at >= b.day_start AND u.occurred_at < b.day_end
)
INSERT INTO analytics_snapshots AS a (
    snapshot_date, leads_scraped, leads_qualified, sites_generated, sites_deployed,
    emails_sent, emails_opened, emails_clicked, checkouts_created, purchases,
    revenue_cents, mrr_cents, api_costs_cents
)
SELECT $1::date, leads.scraped, leads.qualified, sites.generated, sites.deployed,
       emails.sent, emails.opened, emails.clicked, checkouts.created, sales.purchases,
       sales.revenue, mrr.cents, costs.cents
FROM leads, sites, emails, checkouts, sales, mrr, costs
ON CONFLICT (snapshot_date) DO UPDATE SET
    leads_scraped     = EXCLUDED.leads_scraped,
    leads_qualified   = EXCLUDED.leads_qualified,
    sites_generated   = EXCLUDED.sites_generated,
    sites_deployed    = EXCLUDED.sites_deployed,
    emails_sent       = EXCLUDED.emails_sent,
    emails_opened     = EXCLUDED.emails_opened,
    emails_clicked    = EXCLUDED.emails_clicked,
    checkouts_created = EXCLUDED.checkouts_created,
    purchases         = EXCLUDED.purchases,
    revenue_cents     = EXCLUDED.revenue_cents,
    mrr_cents         = EXCLUDED.mrr_cents,
    api_costs_cents   = EXCLUDED.api_costs_cents
RETURNING a.snapshot_date, a.leads_scraped, a.leads_qualified, a.sites_generated, a.sites_deployed,
          a.emails_sent, a.emails_opened, a.emails_clicked, a.checkouts_created, a.purchases,
          a.revenue_cents, a.mrr_cents, a.api_costs_cents
