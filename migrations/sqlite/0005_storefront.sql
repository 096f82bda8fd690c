-- Storefront carts (server-side, bound to a signed visitor cookie), custom shop domains, and
-- platform settings (the secret that signs cookies and links).
CREATE TABLE carts (
    shop_id TEXT NOT NULL REFERENCES shops (id),
    id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id)
);

CREATE TABLE cart_lines (
    shop_id TEXT NOT NULL,
    cart_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, cart_id, variant_id),
    FOREIGN KEY (shop_id, cart_id) REFERENCES carts (shop_id, id),
    FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id)
);

CREATE TABLE shop_domains (
    domain TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX shop_domains_shop_idx ON shop_domains (shop_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
