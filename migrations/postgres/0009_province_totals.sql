-- Province-level running totals (issue 9): the dashboard reads these instead of scanning the
-- province's enterprises and linked shops, so its cost does not grow with them. Each
-- enterprise contributes to the 'all' row of its slot (the last character of its id, so that
-- orders of different enterprises rarely update the same row) and to one row of each
-- breakdown: 'ward', 'sector' and 'size' (key '' when unknown, slot ''), which carry only
-- enterprises, supported, support_records and support_subsidy. The transactions that change
-- an enterprise, its support records, its linked shops or its orders move its contribution
-- (services/src/support/province_totals.rs); filled here from what is already stored.
CREATE TABLE province_totals (
    province_code TEXT NOT NULL,
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    slot TEXT NOT NULL,
    enterprises BIGINT NOT NULL DEFAULT 0,
    supported BIGINT NOT NULL DEFAULT 0,
    consenting BIGINT NOT NULL DEFAULT 0,
    first_order BIGINT NOT NULL DEFAULT 0,
    repeat_orders BIGINT NOT NULL DEFAULT 0,
    orders_after_support BIGINT NOT NULL DEFAULT 0,
    revenue_after_support BIGINT NOT NULL DEFAULT 0,
    orders_before BIGINT NOT NULL DEFAULT 0,
    revenue_before BIGINT NOT NULL DEFAULT 0,
    orders_after BIGINT NOT NULL DEFAULT 0,
    revenue_after BIGINT NOT NULL DEFAULT 0,
    support_records BIGINT NOT NULL DEFAULT 0,
    support_subsidy BIGINT NOT NULL DEFAULT 0,
    shop_created BIGINT NOT NULL DEFAULT 0,
    published BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (province_code, dim, key, slot)
);

INSERT INTO province_totals (province_code, dim, key, slot, enterprises, supported, consenting,
    first_order, repeat_orders, orders_after_support, revenue_after_support, orders_before,
    revenue_before, orders_after, revenue_after, support_records, support_subsidy, shop_created,
    published)
SELECT c.province_code, c.dim, c.key, c.slot,
    CAST(SUM(c.enterprises) AS BIGINT), CAST(SUM(c.supported) AS BIGINT),
    CAST(SUM(c.consenting) AS BIGINT), CAST(SUM(c.first_order) AS BIGINT),
    CAST(SUM(c.repeat_orders) AS BIGINT), CAST(SUM(c.orders_after_support) AS BIGINT),
    CAST(SUM(c.revenue_after_support) AS BIGINT), CAST(SUM(c.orders_before) AS BIGINT),
    CAST(SUM(c.revenue_before) AS BIGINT), CAST(SUM(c.orders_after) AS BIGINT),
    CAST(SUM(c.revenue_after) AS BIGINT), CAST(SUM(c.support_records) AS BIGINT),
    CAST(SUM(c.support_subsidy) AS BIGINT), CAST(SUM(c.shop_created) AS BIGINT),
    CAST(SUM(c.published) AS BIGINT)
FROM (
    SELECT e.province_code AS province_code, d.dim AS dim,
        CASE d.dim WHEN 'ward' THEN COALESCE(e.ward, '') WHEN 'sector' THEN COALESCE(e.sector, '')
            WHEN 'size' THEN COALESCE(e.size_class, '') ELSE '' END AS key,
        CASE WHEN d.dim = 'all' THEN SUBSTR(e.id, LENGTH(e.id), 1) ELSE '' END AS slot,
        1 AS enterprises,
        CASE WHEN e.first_support_day IS NOT NULL THEN 1 ELSE 0 END AS supported,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE
            THEN 1 ELSE 0 END AS consenting,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.orders_total >= 1
            THEN 1 ELSE 0 END AS first_order,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.orders_total >= 2
            THEN 1 ELSE 0 END AS repeat_orders,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE
            THEN e.orders_since ELSE 0 END AS orders_after_support,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE
            THEN e.revenue_since ELSE 0 END AS revenue_after_support,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE
            THEN e.orders_before ELSE 0 END AS orders_before,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE
            THEN e.revenue_before ELSE 0 END AS revenue_before,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE
            THEN e.orders_after ELSE 0 END AS orders_after,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE
            THEN e.revenue_after ELSE 0 END AS revenue_after,
        e.support_records AS support_records,
        e.support_subsidy AS support_subsidy,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND EXISTS (
            SELECT 1 FROM enterprise_shops es
            WHERE es.province_code = e.province_code AND es.enterprise_id = e.id)
            THEN 1 ELSE 0 END AS shop_created,
        CASE WHEN d.dim = 'all' AND e.first_support_day IS NOT NULL AND EXISTS (
            SELECT 1 FROM enterprise_shops es JOIN shops sh ON sh.id = es.shop_id
            WHERE es.province_code = e.province_code AND es.enterprise_id = e.id AND sh.published = TRUE)
            THEN 1 ELSE 0 END AS published
    FROM enterprises e CROSS JOIN (SELECT 'all' AS dim UNION ALL SELECT 'ward'
        UNION ALL SELECT 'sector' UNION ALL SELECT 'size') d
) c
GROUP BY c.province_code, c.dim, c.key, c.slot;
