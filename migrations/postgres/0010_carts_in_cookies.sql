-- Carts moved into the visitor's browser (a signed cookie per shop, issue 9): putting an item
-- in a cart no longer writes to the database, and pages no longer read it to show the count.
-- The server-side tables go; carts open at the upgrade are not carried over.
DROP TABLE cart_lines;
DROP TABLE carts;
