-- The expiry worker looks for card orders still unpaid after their deadline; its index held
-- every order (cash on delivery and bank transfer too), so every order paid for an index
-- entry it would never be found by. Now only unpaid card orders with a deadline are in it.
DROP INDEX orders_expiry_idx;
CREATE INDEX orders_expiry_idx ON orders (expires_at)
    WHERE payment_method = 'CARD' AND payment_status = 'PENDING' AND status = 'PENDING'
      AND expires_at IS NOT NULL;
