-- Stock movements are read by variant (a variant's history, newest first; a product's
-- removal) and never by their own id. They were a rowid table with a primary key
-- (shop_id, id) and an index (shop_id, variant_id, id), so every movement wrote three
-- B-trees: the table, the key (a page at the end of its shop's range) and the index (a page
-- of its variant). With a thousand shops, the shop's page was rarely in the writer's cache:
-- a page read and a page write per order line. Keyed by (shop_id, variant_id, id) without a
-- rowid, the table is that index: one B-tree per movement, and a variant's history is a range
-- of it. Ids are still unique (ULIDs), the columns and the foreign key are the same.
CREATE TABLE stock_movements_by_variant (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    delta BIGINT NOT NULL,
    stock_after BIGINT NOT NULL,
    reason TEXT NOT NULL,            -- initial, adjustment, import, order, cancel, …
    note TEXT,
    actor_id TEXT,
    ref_id TEXT,                     -- e.g. the order id
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, variant_id, id),
    FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id)
) WITHOUT ROWID;
INSERT INTO stock_movements_by_variant
    (shop_id, id, variant_id, delta, stock_after, reason, note, actor_id, ref_id, created_at)
SELECT shop_id, id, variant_id, delta, stock_after, reason, note, actor_id, ref_id, created_at
FROM stock_movements ORDER BY shop_id, variant_id, id;
DROP TABLE stock_movements;
ALTER TABLE stock_movements_by_variant RENAME TO stock_movements;
