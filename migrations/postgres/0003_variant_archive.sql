-- Variants can be archived: hidden from customers and not for sale, kept for order history.
ALTER TABLE variants ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;
