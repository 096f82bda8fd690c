//! The catalog of the scale data set: every shop sells the same P products (titles, handles
//! and search keys made once in Rust with the services' text functions), published, with two
//! variants each ("Gói nhỏ", "Gói lớn": SKU, price, a compare-at price on every third), two
//! images, and two collections (one featured, shown on the home page). Each variant gets its
//! `initial` stock movement, written with the order movements later (`orders.rs`) so every
//! movement's `stock_after` is the running stock.

use std::collections::HashSet;

use choso_services::{
    Db,
    text::{clean, fold, nfc, slugify},
};

use super::{INITIAL_STOCK, Plan, kind, names};
use crate::sql::{exec, insert_rows, opt_text, text, ulid_sql, work_table};

/// The first free handle for `base` among `taken`, as `catalog::free_handle` picks it.
fn free_handle(taken: &HashSet<String>, base: &str) -> String {
    let base = if base.is_empty() { "san-pham" } else { base };
    if !taken.contains(base) {
        return base.to_string();
    }
    let stem: String = base.chars().take(54).collect();
    let stem = stem.trim_end_matches('-');
    (2..)
        .map(|n| format!("{stem}-{n}"))
        .find(|h| !taken.contains(h))
        .unwrap_or_default()
}

/// `gen_titles`: product `i`'s title, handle, description, search keys, variants and images.
async fn titles(db: &Db, products: usize) -> Result<Vec<String>, String> {
    work_table(db, "gen_titles", "(i BIGINT PRIMARY KEY, title TEXT NOT NULL, handle TEXT NOT NULL, \
         title_key TEXT NOT NULL, description TEXT NOT NULL, body_key TEXT NOT NULL, price_s BIGINT NOT NULL, \
         price_l BIGINT NOT NULL, compare_l BIGINT, sku_s TEXT NOT NULL, sku_l TEXT NOT NULL, vt_s TEXT NOT NULL, \
         vt_l TEXT NOT NULL, img1 TEXT NOT NULL, img2 TEXT NOT NULL)")
    .await?;
    let mut taken = HashSet::new();
    let mut handles = Vec::with_capacity(products);
    let mut rows = Vec::with_capacity(products);
    for i in 0..products {
        let title = clean(&names::product_title(i));
        let handle = free_handle(&taken, &slugify(&title));
        taken.insert(handle.clone());
        handles.push(handle.clone());
        let description = nfc(names::product_description(i).trim()).replace("\r\n", "\n");
        let price_s = 45_000 + (i as i64 % 20) * 5_000;
        let price_l = price_s * 2 - 5_000;
        let compare_l = (i % 3 == 0).then(|| (price_l + 20_000).to_string());
        rows.push(format!(
            "({i}, {}, {}, {}, {}, {}, {price_s}, {price_l}, {}, {}, {}, {}, {}, {}, {})",
            text(&title),
            text(&handle),
            text(&fold(&title)),
            text(&description),
            text(&fold(&description)),
            compare_l.unwrap_or_else(|| "NULL".into()),
            text(&format!("SP{i:03}-N")),
            text(&format!("SP{i:03}-L")),
            text(&clean("Gói nhỏ")),
            text(&clean("Gói lớn")),
            text(&format!("https://img.choso.vn/sp/{i:03}-1.jpg")),
            text(&format!("https://img.choso.vn/sp/{i:03}-2.jpg")),
        ));
    }
    insert_rows(
        db,
        "gen_titles",
        "i, title, handle, title_key, description, body_key, price_s, price_l, compare_l, sku_s, sku_l, \
         vt_s, vt_l, img1, img2",
        &rows,
        200,
    )
    .await?;
    Ok(handles)
}

/// Makes the catalog; returns the products' handles.
pub async fn generate(db: &Db, plan: &Plan) -> Result<Vec<String>, String> {
    let p = plan.cfg.products;
    let handles = titles(db, p).await?;
    work_table(
        db,
        "gen_prod",
        "(s BIGINT NOT NULL, t BIGINT NOT NULL, id TEXT NOT NULL, ts BIGINT NOT NULL, \
         PRIMARY KEY (s, t))",
    )
    .await?;
    // Product t of shop s is made an hour after the shop, one a second (see Plan::product_ts).
    exec(
        db,
        "gen_prod",
        format!(
            "INSERT INTO gen_prod (s, t, id, ts) SELECT x.s, x.t, {}, x.ts FROM \
             (SELECT sh.i AS s, ti.i AS t, sh.created_at + 3600000 + ti.i * 1000 AS ts, sh.i * {p} + ti.i AS num \
              FROM gen_shops sh, gen_titles ti) x",
            ulid_sql("x.ts", kind::PRODUCT, "x.num")
        ),
    )
    .await?;
    exec(
        db,
        "products",
        "INSERT INTO products (shop_id, id, handle, title, description, title_key, body_key, published, archived, \
         created_at, updated_at) \
         SELECT sh.id, gp.id, t.handle, t.title, t.description, t.title_key, t.body_key, TRUE, FALSE, gp.ts, gp.ts \
         FROM gen_prod gp JOIN gen_shops sh ON sh.i = gp.s JOIN gen_titles t ON t.i = gp.t"
            .into(),
    )
    .await?;
    work_table(db, "gen_var", "(s BIGINT NOT NULL, t BIGINT NOT NULL, v BIGINT NOT NULL, id TEXT NOT NULL, \
         product_id TEXT NOT NULL, title TEXT NOT NULL, sku TEXT NOT NULL, price BIGINT NOT NULL, compare_at BIGINT, \
         ts BIGINT NOT NULL, PRIMARY KEY (s, t, v))")
    .await?;
    exec(
        db,
        "gen_var",
        format!(
            "INSERT INTO gen_var (s, t, v, id, product_id, title, sku, price, compare_at, ts) \
             SELECT x.s, x.t, x.v, {}, x.product_id, x.title, x.sku, x.price, x.compare_at, x.ts FROM \
             (SELECT gp.s, gp.t, vv.v, gp.id AS product_id, gp.ts, (gp.s * {p} + gp.t) * 2 + vv.v AS num, \
              CASE vv.v WHEN 0 THEN t.vt_s ELSE t.vt_l END AS title, CASE vv.v WHEN 0 THEN t.sku_s ELSE t.sku_l END AS sku, \
              CASE vv.v WHEN 0 THEN t.price_s ELSE t.price_l END AS price, \
              CASE vv.v WHEN 0 THEN NULL ELSE t.compare_l END AS compare_at \
              FROM gen_prod gp JOIN gen_titles t ON t.i = gp.t, \
              (SELECT CAST(0 AS BIGINT) AS v UNION ALL SELECT CAST(1 AS BIGINT) AS v) vv) x",
            ulid_sql("x.ts", kind::VARIANT, "x.num")
        ),
    )
    .await?;
    exec(
        db,
        "variants",
        format!(
            "INSERT INTO variants (shop_id, id, product_id, title, sku, price, compare_at_price, stock, track_inventory, \
             position, created_at, updated_at, archived) \
             SELECT sh.id, gv.id, gv.product_id, gv.title, gv.sku, gv.price, gv.compare_at, {INITIAL_STOCK}, TRUE, gv.v, \
             gv.ts, gv.ts, FALSE FROM gen_var gv JOIN gen_shops sh ON sh.i = gv.s"
        ),
    )
    .await?;
    for (k, col) in [(0, "img1"), (1, "img2")] {
        exec(
            db,
            "product_images",
            format!(
                "INSERT INTO product_images (shop_id, id, product_id, url, alt, position) \
                 SELECT x.shop_id, {}, x.product_id, x.url, x.alt, {k} FROM \
                 (SELECT sh.id AS shop_id, gp.id AS product_id, gp.ts, (gp.s * {p} + gp.t) * 2 + {k} AS num, \
                  t.{col} AS url, t.title AS alt FROM gen_prod gp JOIN gen_shops sh ON sh.i = gp.s \
                  JOIN gen_titles t ON t.i = gp.t) x",
                ulid_sql("x.ts", kind::IMAGE, "x.num")
            ),
        )
        .await?;
    }
    collections(db).await?;
    Ok(handles)
}

/// Two collections per shop: a featured one (every 8th product) and "Bán chạy" (every 5th).
async fn collections(db: &Db) -> Result<(), String> {
    let defs = [
        (0_i64, "Quà tặng đặc sản", true, 8_i64, 0_i64),
        (1, "Bán chạy", false, 5, 1),
    ];
    let mut rows = Vec::new();
    for (c, title, featured, _, _) in defs {
        let title = clean(title);
        rows.push(format!(
            "({c}, {}, {}, {})",
            text(&title),
            text(&slugify(&title)),
            i64::from(featured)
        ));
    }
    work_table(
        db,
        "gen_coll",
        "(c BIGINT PRIMARY KEY, title TEXT NOT NULL, handle TEXT NOT NULL, \
         featured BIGINT NOT NULL)",
    )
    .await?;
    insert_rows(db, "gen_coll", "c, title, handle, featured", &rows, 10).await?;
    exec(
        db,
        "collections",
        format!(
            "INSERT INTO collections (shop_id, id, handle, title, description, featured, position, created_at) \
             SELECT x.shop_id, {}, x.handle, x.title, {}, x.featured = 1, x.c, x.ts FROM \
             (SELECT sh.id AS shop_id, sh.created_at + 7200000 AS ts, sh.i * 2 + gc.c AS num, gc.c, gc.title, gc.handle, \
              gc.featured FROM gen_shops sh, gen_coll gc) x",
            ulid_sql("x.ts", kind::COLLECTION, "x.num"),
            opt_text(Some(&nfc("Những món được khách chọn nhiều nhất.")))
        ),
    )
    .await?;
    for (c, _, _, every, rest) in defs {
        exec(
            db,
            "collection_products",
            format!(
                "INSERT INTO collection_products (shop_id, collection_id, product_id, position) \
                 SELECT sh.id, co.id, gp.id, gp.t / {every} FROM gen_prod gp JOIN gen_shops sh ON sh.i = gp.s \
                 JOIN collections co ON co.shop_id = sh.id AND co.position = {c} WHERE gp.t % {every} = {rest}"
            ),
        )
        .await?;
    }
    exec(db, "cleanup", "DROP TABLE gen_coll".into()).await?;
    Ok(())
}
