-- An order's history starts with its placement, and the order row already holds everything
-- that entry did (the order's id and creation time, status PENDING, the customer's note, no
-- actor). Writing it again as an order_events row cost every order three more B-tree pages
-- (the table, its primary key, its order index), on the path every order takes. The history
-- now reads the placement from the order row (`orders::events`); the rows written for it
-- before are removed, so it is not listed twice. No other event goes from no status to
-- PENDING: status changes always have a `from`, payments and flags are other kinds.
DELETE FROM order_events WHERE kind = 'status' AND from_status IS NULL AND to_status = 'PENDING';
