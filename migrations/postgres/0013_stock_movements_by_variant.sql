-- Stock movements are read by variant (a variant's history, newest first; a product's
-- removal) and never by their own id. The primary key (shop_id, id) and the index
-- (shop_id, variant_id, id) were two B-trees written per movement; the key now is
-- (shop_id, variant_id, id), which serves the variant's history, and the index goes. Ids are
-- still unique (ULIDs); the key still starts with the shop, the distribution column.
ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_pkey;
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_pkey PRIMARY KEY (shop_id, variant_id, id);
DROP INDEX stock_movements_variant_idx;
