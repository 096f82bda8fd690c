-- Shops, members and the catalog. Every tenant table carries shop_id first in its primary
-- key and in every foreign key between tenant tables (ready for Citus, distributed by shop).
CREATE TABLE shops (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    phone TEXT,
    email TEXT,
    address_line TEXT,
    ward TEXT,
    province_code TEXT REFERENCES provinces (code),
    logo_url TEXT,
    banner_url TEXT,
    theme TEXT NOT NULL,
    theme_chosen BOOLEAN NOT NULL DEFAULT FALSE,
    primary_color TEXT,
    accent_color TEXT,
    hero_text TEXT,
    language TEXT NOT NULL DEFAULT 'vi',
    currency TEXT NOT NULL DEFAULT 'VND',
    shipping_fee BIGINT NOT NULL DEFAULT 0,
    free_shipping_over BIGINT,
    cod_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    bank_bin TEXT,
    bank_account_number TEXT,
    bank_account_name TEXT,
    stripe_account_id TEXT,
    published BOOLEAN NOT NULL DEFAULT FALSE,
    published_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT shops_slug_key UNIQUE (slug)
);

CREATE TABLE shop_members (
    shop_id TEXT NOT NULL REFERENCES shops (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, user_id)
);
CREATE INDEX shop_members_user_idx ON shop_members (user_id);

CREATE TABLE products (
    shop_id TEXT NOT NULL REFERENCES shops (id),
    id TEXT NOT NULL,
    handle TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    title_key TEXT NOT NULL,         -- folded title (search)
    body_key TEXT NOT NULL,          -- folded description (search)
    option1_name TEXT,
    option2_name TEXT,
    option3_name TEXT,
    published BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id),
    CONSTRAINT products_handle_key UNIQUE (shop_id, handle)
);
CREATE INDEX products_listing_idx ON products (shop_id, archived, published, id);

CREATE TABLE variants (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    title TEXT NOT NULL,
    sku TEXT,
    option1 TEXT,
    option2 TEXT,
    option3 TEXT,
    price BIGINT NOT NULL CHECK (price >= 0),
    compare_at_price BIGINT CHECK (compare_at_price >= 0),
    stock BIGINT NOT NULL DEFAULT 0 CHECK (stock >= 0),
    track_inventory BOOLEAN NOT NULL DEFAULT TRUE,
    position BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id),
    FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, id),
    CONSTRAINT variants_sku_key UNIQUE (shop_id, sku)
);
CREATE INDEX variants_product_idx ON variants (shop_id, product_id, position);

CREATE TABLE product_images (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    url TEXT NOT NULL,
    alt TEXT NOT NULL DEFAULT '',
    position BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, id),
    FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, id)
);
CREATE INDEX product_images_product_idx ON product_images (shop_id, product_id, position);

-- Every change of stock, so stock can be audited: who, when, why, by how much.
CREATE TABLE stock_movements (
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
    PRIMARY KEY (shop_id, id),
    FOREIGN KEY (shop_id, variant_id) REFERENCES variants (shop_id, id)
);
CREATE INDEX stock_movements_variant_idx ON stock_movements (shop_id, variant_id, id);

CREATE TABLE collections (
    shop_id TEXT NOT NULL REFERENCES shops (id),
    id TEXT NOT NULL,
    handle TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    featured BOOLEAN NOT NULL DEFAULT FALSE,
    position BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id),
    CONSTRAINT collections_handle_key UNIQUE (shop_id, handle)
);

CREATE TABLE collection_products (
    shop_id TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (shop_id, collection_id, product_id),
    FOREIGN KEY (shop_id, collection_id) REFERENCES collections (shop_id, id),
    FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, id)
);

-- Uploaded images, stored under the data directory.
CREATE TABLE uploads (
    shop_id TEXT NOT NULL REFERENCES shops (id),
    id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, id)
);
