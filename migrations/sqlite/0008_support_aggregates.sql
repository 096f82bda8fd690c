-- Running totals that keep the province dashboard's cost independent of the number of orders
-- and support records (issue 6): per-enterprise counters of support and of sales (in total,
-- from the first support on, and in the 90 days either side of it), and per-group totals of
-- support records by programme, kind and month with the number of distinct enterprises in
-- each group. They are maintained in the same transactions as the orders and records they
-- count, and filled here from what is already stored.
ALTER TABLE enterprises ADD COLUMN support_records BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN support_subsidy BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN orders_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN revenue_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN orders_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN revenue_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN orders_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN revenue_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN orders_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enterprises ADD COLUMN revenue_after BIGINT NOT NULL DEFAULT 0;

-- Support records (not voided, not rejected) per group: dim is 'programme', 'kind' or 'month'.
CREATE TABLE support_groups (
    province_code TEXT NOT NULL,
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    records BIGINT NOT NULL DEFAULT 0,
    subsidy BIGINT NOT NULL DEFAULT 0,
    enterprises BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (province_code, dim, key)
);

-- How many counted records each enterprise has in each group (for the distinct count above).
CREATE TABLE support_group_members (
    province_code TEXT NOT NULL,
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    enterprise_id TEXT NOT NULL,
    records BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (province_code, dim, key, enterprise_id)
);

ALTER TABLE readiness_assessments ADD COLUMN note TEXT;
ALTER TABLE readiness_assessments ADD COLUMN measured_json TEXT;
CREATE INDEX readiness_province_idx ON readiness_assessments (province_code, assessed_on);

INSERT INTO support_group_members (province_code, dim, key, enterprise_id, records)
SELECT r.province_code, 'programme', COALESCE(p.name, r.programme_name, ''), r.enterprise_id, COUNT(*)
FROM support_records r LEFT JOIN programmes p ON p.id = r.programme_id
WHERE r.voided = FALSE AND r.status <> 'rejected'
GROUP BY r.province_code, COALESCE(p.name, r.programme_name, ''), r.enterprise_id;

INSERT INTO support_group_members (province_code, dim, key, enterprise_id, records)
SELECT r.province_code, 'kind', r.kind, r.enterprise_id, COUNT(*)
FROM support_records r WHERE r.voided = FALSE AND r.status <> 'rejected'
GROUP BY r.province_code, r.kind, r.enterprise_id;

INSERT INTO support_group_members (province_code, dim, key, enterprise_id, records)
SELECT r.province_code, 'month', SUBSTR(r.date, 1, 7), r.enterprise_id, COUNT(*)
FROM support_records r WHERE r.voided = FALSE AND r.status <> 'rejected'
GROUP BY r.province_code, SUBSTR(r.date, 1, 7), r.enterprise_id;

INSERT INTO support_groups (province_code, dim, key, records, subsidy, enterprises)
SELECT r.province_code, 'programme', COALESCE(p.name, r.programme_name, ''), COUNT(*),
       COALESCE(SUM(r.subsidy), 0), COUNT(DISTINCT r.enterprise_id)
FROM support_records r LEFT JOIN programmes p ON p.id = r.programme_id
WHERE r.voided = FALSE AND r.status <> 'rejected'
GROUP BY r.province_code, COALESCE(p.name, r.programme_name, '');

INSERT INTO support_groups (province_code, dim, key, records, subsidy, enterprises)
SELECT r.province_code, 'kind', r.kind, COUNT(*), COALESCE(SUM(r.subsidy), 0), COUNT(DISTINCT r.enterprise_id)
FROM support_records r WHERE r.voided = FALSE AND r.status <> 'rejected'
GROUP BY r.province_code, r.kind;

INSERT INTO support_groups (province_code, dim, key, records, subsidy, enterprises)
SELECT r.province_code, 'month', SUBSTR(r.date, 1, 7), COUNT(*), COALESCE(SUM(r.subsidy), 0),
       COUNT(DISTINCT r.enterprise_id)
FROM support_records r WHERE r.voided = FALSE AND r.status <> 'rejected'
GROUP BY r.province_code, SUBSTR(r.date, 1, 7);

UPDATE enterprises SET
    support_records = (SELECT COUNT(*) FROM support_records r WHERE r.province_code = enterprises.province_code AND r.enterprise_id = enterprises.id
                       AND r.voided = FALSE AND r.status <> 'rejected'),
    support_subsidy = (SELECT COALESCE(SUM(r.subsidy), 0) FROM support_records r WHERE r.province_code = enterprises.province_code AND r.enterprise_id = enterprises.id
                       AND r.voided = FALSE AND r.status <> 'rejected'),
    orders_total = (SELECT COALESCE(SUM(d.orders), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id),
    revenue_total = (SELECT COALESCE(SUM(d.revenue), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id),
    orders_since = (SELECT COALESCE(SUM(d.orders), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id
                    AND d.day >= enterprises.first_support_day),
    revenue_since = (SELECT COALESCE(SUM(d.revenue), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id
                     AND d.day >= enterprises.first_support_day),
    orders_before = (SELECT COALESCE(SUM(d.orders), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id
                     AND d.day < enterprises.first_support_day AND d.day >= enterprises.first_support_day - 90),
    revenue_before = (SELECT COALESCE(SUM(d.revenue), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id
                      AND d.day < enterprises.first_support_day AND d.day >= enterprises.first_support_day - 90),
    orders_after = (SELECT COALESCE(SUM(d.orders), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id
                    AND d.day >= enterprises.first_support_day AND d.day < enterprises.first_support_day + 90),
    revenue_after = (SELECT COALESCE(SUM(d.revenue), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code AND d.enterprise_id = enterprises.id
                     AND d.day >= enterprises.first_support_day AND d.day < enterprises.first_support_day + 90);
