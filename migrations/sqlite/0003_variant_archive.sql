-- Variants can be archived: hidden from customers and not for sale, kept for order history.
ALTER TABLE variants ADD COLUMN archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));
