-- Orders, their lines and history, payment notifications, and per-shop order numbers.
ALTER TABLE shops ADD COLUMN order_seq BIGINT NOT NULL DEFAULT 1000;
-- Secret for signed bank-transfer notifications (HMAC-SHA256), made when first needed.
ALTER TABLE shops ADD COLUMN bank_webhook_secret TEXT;

CREATE TABLE orders (
    shop_id TEXT NOT NULL REFERENCES shops (id),
    id TEXT NOT NULL,
    number BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED')),
    payment_method TEXT NOT NULL CHECK (payment_method IN ('COD', 'BANK_TRANSFER', 'CARD')),
    payment_status TEXT NOT NULL CHECK (payment_status IN ('UNPAID', 'PENDING', 'PAID', 'REFUNDED', 'FAILED')),
    customer_name TEXT NOT NULL,
    customer_phone TEXT NOT NULL,
    customer_email TEXT,
    address_line TEXT NOT NULL,
    ward TEXT,
    province_code TEXT NOT NULL REFERENCES provinces (code),
    note TEXT,
    subtotal BIGINT NOT NULL,
    shipping_fee BIGINT NOT NULL,
    total BIGINT NOT NULL,
    currency TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT,
    vietqr_payload TEXT,
    stripe_session_id TEXT,
    stripe_payment_intent TEXT,
    checkout_url TEXT,
    expires_at BIGINT,
    flagged INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1)),
    flag_reason TEXT,
    cancel_reason TEXT,
    paid_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id),
    CONSTRAINT orders_number_key UNIQUE (shop_id, number),
    CONSTRAINT orders_idempotency_key UNIQUE (shop_id, idempotency_key)
);
CREATE INDEX orders_status_idx ON orders (shop_id, status, id);
CREATE INDEX orders_phone_idx ON orders (shop_id, customer_phone);
CREATE INDEX orders_created_idx ON orders (shop_id, created_at);
CREATE INDEX orders_expiry_idx ON orders (payment_method, payment_status, expires_at);

CREATE TABLE order_lines (
    shop_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    line_no BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    title TEXT NOT NULL,
    variant_title TEXT NOT NULL,
    sku TEXT,
    unit_price BIGINT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    total BIGINT NOT NULL,
    PRIMARY KEY (shop_id, order_id, line_no),
    FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id),
    FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id)
);
CREATE INDEX order_lines_product_idx ON order_lines (shop_id, product_id);

-- The order's history: every status or payment change, who made it, when, from, to, why.
CREATE TABLE order_events (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    note TEXT,
    actor_id TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id),
    FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id)
);
CREATE INDEX order_events_order_idx ON order_events (shop_id, order_id, id);

-- Payment notifications already processed (bank transaction ids, Stripe event ids).
CREATE TABLE payment_events (
    shop_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    order_id TEXT,
    outcome TEXT NOT NULL,
    amount BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, provider, event_id)
);
