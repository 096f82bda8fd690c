-- When a row is deleted, its foreign keys are checked from the parent's side: the database
-- looks for children, and without an index on the child columns that look scans. The app
-- deletes products (with their variants and collection places) when nothing was ever
-- ordered from them, so two looks scanned a shop's whole history: the order lines, for
-- each deleted variant (no index started with (shop_id, variant_id)), and the collection
-- places, for the product (the key starts with the collection).
--
-- The lines' product index goes in exchange, so an order line still writes as many B-trees:
-- whether a product was ever ordered is now asked through its variants (a line's variant
-- belongs to the line's product), and the best sellers' statement, which the product index
-- made walk all the shop's lines, now reads the orders of its date range first.
DROP INDEX order_lines_product_idx;
CREATE INDEX order_lines_variant_idx ON order_lines (shop_id, variant_id);
CREATE INDEX collection_products_product_idx ON collection_products (shop_id, product_id);
