//! Products: the list (search, stock per product), create and edit with variants (title,
//! SKU, price, stock) and images (upload, remove), archive/restore, and CSV import with the
//! errors of each row shown. Rules live in `catalog` and `catalog::import`; stock changes on
//! the edit form are recorded as stock movements ("count").

use axum::{
    extract::{Path, Query},
    response::Response,
};
use choso_services::{
    Error, UserError,
    catalog::{
        self, ImageInput, ProductInput, ProductQuery, ProductUpdate, VariantInput, VariantUpdate,
        Visibility, import,
    },
    text::format_vnd,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ShopCx, money_input,
    wizard::{parse_stock, store_photo},
};
use crate::console::form::{FormErrors, Posted};

/// Variant rows shown on the form: the existing ones plus this many blank.
const BLANK_ROWS: usize = 1;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    archived: String,
}

pub async fn list(cx: ShopCx, Query(q): Query<ListQuery>) -> Response {
    let query = ProductQuery {
        first: Some(50),
        after: Some(q.after.clone()).filter(|a| !a.is_empty()),
        query: Some(q.q.clone()).filter(|s| !s.trim().is_empty()),
        include_archived: q.archived == "1",
    };
    let page =
        match catalog::list_products(&cx.st.db, &cx.shop.id, Visibility::Member, &query).await {
            Ok(p) => p,
            Err(e) => return cx.fail(e),
        };
    let ids: Vec<String> = page.items.iter().map(|(p, _)| p.id.clone()).collect();
    let (variants, images) = match (
        catalog::variants_for(&cx.st.db, &cx.shop.id, &ids).await,
        catalog::images_for(&cx.st.db, &cx.shop.id, &ids).await,
    ) {
        (Ok(v), Ok(i)) => (v, i),
        (Err(e), _) | (_, Err(e)) => return cx.fail(e),
    };
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|(p, _)| {
            let vs: Vec<&catalog::Variant> = variants
                .get(&p.id)
                .map(|v| v.iter().filter(|v| !v.archived).collect())
                .unwrap_or_default();
            let stock: i64 = vs.iter().filter(|v| v.track_inventory).map(|v| v.stock).sum();
            let untracked = vs.iter().any(|v| !v.track_inventory);
            let min = vs.iter().map(|v| v.price).min();
            json!({ "id": p.id, "title": p.title, "published": p.published, "archived": p.archived,
                    "variants": vs.len(), "stock": stock, "untracked": untracked,
                    "price": min.map(format_vnd), "image": images.get(&p.id).and_then(|i| i.first()).map(|i| i.url.clone()) })
        })
        .collect();
    let next = page
        .has_next_page
        .then(|| page.items.last().map(|(_, c)| c.clone()))
        .flatten()
        .map(|c| {
            format!(
                "?q={}&archived={}&after={c}",
                crate::console::ctx::urlencode(&q.q),
                q.archived
            )
        });
    cx.show(
        "owner/products.html",
        json!({ "products": rows, "next": next, "filter": { "q": q.q, "archived": q.archived == "1" } }),
    )
}

/// The product form's values: product fields and `variants` rows.
fn blank_form(rows: usize) -> Value {
    json!({ "published": "on", "variants": (0..rows).map(|_| json!({})).collect::<Vec<_>>() })
}

pub async fn new_form(cx: ShopCx) -> Response {
    cx.show(
        "owner/product.html",
        json!({ "form": blank_form(1), "errors": {}, "images": [] }),
    )
}

/// The variant rows posted: `variants.{i}.{field}`, blank rows left out.
struct PostedVariant {
    index: usize,
    id: Option<String>,
    title: String,
    sku: String,
    price: String,
    stock: String,
    archived: bool,
}

fn posted_variants(f: &Posted) -> Vec<PostedVariant> {
    let mut out = Vec::new();
    for i in 0..catalog::MAX_VARIANTS {
        let k = |n: &str| format!("variants.{i}.{n}");
        let prefix = format!("variants.{i}.");
        if !f.fields.iter().any(|(name, _)| name.starts_with(&prefix)) {
            continue;
        }
        let v = PostedVariant {
            index: i,
            id: f.opt(&k("id")),
            title: f.get(&k("title")).to_string(),
            sku: f.get(&k("sku")).to_string(),
            price: f.get(&k("price")).to_string(),
            stock: f.get(&k("stock")).to_string(),
            archived: f.checked(&k("archived")),
        };
        let blank = v.id.is_none()
            && v.title.trim().is_empty()
            && v.sku.trim().is_empty()
            && v.price.trim().is_empty()
            && v.stock.trim().is_empty();
        if !blank {
            out.push(v);
        }
    }
    out
}

/// The posted form as values to give back (variants as rows).
fn form_values(f: &Posted, images: &[Value]) -> Value {
    let mut rows: Vec<Value> = Vec::new();
    for i in 0..catalog::MAX_VARIANTS {
        let k = |n: &str| format!("variants.{i}.{n}");
        if !f
            .fields
            .iter()
            .any(|(name, _)| name.starts_with(&format!("variants.{i}.")))
        {
            continue;
        }
        rows.push(json!({ "index": i, "id": f.get(&k("id")), "title": f.get(&k("title")), "sku": f.get(&k("sku")),
            "price": f.get(&k("price")), "stock": f.get(&k("stock")), "archived": f.checked(&k("archived")) }));
    }
    let _ = images;
    json!({ "title": f.get("title"), "description": f.get("description"),
            "published": if f.checked("published") { "on" } else { "" }, "variants": rows })
}

fn stock_errors(vs: &[PostedVariant]) -> Vec<UserError> {
    vs.iter()
        .filter_map(|v| {
            parse_stock(
                if v.stock.trim().is_empty() {
                    "0"
                } else {
                    &v.stock
                },
                &format!("variants.{}.stock", v.index),
            )
            .err()
        })
        .collect()
}

/// Errors of the service about `variants.{n}` refer to the n-th *posted non-blank* row:
/// put them back on the row's own index.
fn reindex(mut e: Error, vs: &[PostedVariant]) -> Error {
    if let Error::Invalid(errs) = &mut e {
        for u in errs.iter_mut() {
            if u.field.len() >= 3
                && u.field[1] == "variants"
                && let Some(v) = u.field[2].parse::<usize>().ok().and_then(|n| vs.get(n))
            {
                u.field[2] = v.index.to_string();
            }
        }
    }
    e
}

pub async fn create(cx: ShopCx, f: Posted) -> Response {
    let vs = posted_variants(&f);
    let extra = || json!({ "form": form_values(&f, &[]), "images": [] });
    let errs = stock_errors(&vs);
    if !errs.is_empty() {
        return cx.refused("owner/product.html", extra(), Error::Invalid(errs));
    }
    let photo = match store_photo(&cx, &f, "photo").await {
        Ok(p) => p,
        Err(e) => return cx.refused("owner/product.html", extra(), e),
    };
    let input = ProductInput {
        title: f.get("title").to_string(),
        description: f.opt("description"),
        handle: None,
        published: Some(f.checked("published")),
        option_names: None,
        variants: vs
            .iter()
            .map(|v| VariantInput {
                title: Some(v.title.clone()).filter(|t| !t.trim().is_empty()),
                sku: Some(v.sku.clone()).filter(|t| !t.trim().is_empty()),
                price: money_input(&v.price),
                compare_at_price: None,
                stock: parse_stock(
                    if v.stock.trim().is_empty() {
                        "0"
                    } else {
                        &v.stock
                    },
                    "",
                )
                .unwrap_or(0),
                track_inventory: Some(true),
                options: None,
            })
            .collect(),
        images: photo.map(|url| vec![ImageInput { url, alt: None }]),
    };
    match catalog::create_product(&cx.st.db, &cx.scope, input).await {
        Ok(p) => cx.redirect(&cx.link(&format!("/products/{}?saved=1", p.id))),
        Err(e) => cx.refused("owner/product.html", extra(), reindex(e, &vs)),
    }
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: String,
}

async fn load(
    cx: &ShopCx,
    id: &str,
) -> Result<(catalog::Product, Vec<catalog::Variant>, Vec<catalog::Image>), Error> {
    let p = catalog::product(&cx.st.db, &cx.shop.id, id, Visibility::Member)
        .await?
        .ok_or(Error::NotFound("product"))?;
    let ids = vec![p.id.clone()];
    let vs = catalog::variants_for(&cx.st.db, &cx.shop.id, &ids)
        .await?
        .remove(&p.id)
        .unwrap_or_default();
    let imgs = catalog::images_for(&cx.st.db, &cx.shop.id, &ids)
        .await?
        .remove(&p.id)
        .unwrap_or_default();
    Ok((p, vs, imgs))
}

fn images_json(imgs: &[catalog::Image]) -> Vec<Value> {
    imgs.iter()
        .map(|i| json!({ "id": i.id, "url": i.url, "alt": i.alt }))
        .collect()
}

pub async fn edit_form(
    cx: ShopCx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let (p, vs, imgs) = match load(&cx, &id).await {
        Ok(x) => x,
        Err(e) => return cx.fail(e),
    };
    let mut rows: Vec<Value> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| json!({ "index": i, "id": v.id, "title": v.title, "sku": v.sku, "price": v.price.to_string(),
                              "stock": v.stock.to_string(), "archived": v.archived }))
        .collect();
    for i in 0..BLANK_ROWS {
        rows.push(json!({ "index": vs.len() + i }));
    }
    cx.show(
        "owner/product.html",
        json!({ "product": { "id": p.id, "archived": p.archived, "handle": p.handle },
                "form": { "title": p.title, "description": p.description, "published": if p.published { "on" } else { "" }, "variants": rows },
                "errors": {}, "images": images_json(&imgs), "saved": q.saved == "1" }),
    )
}

pub async fn save(cx: ShopCx, Path((_, id)): Path<(String, String)>, f: Posted) -> Response {
    let (p, old, imgs) = match load(&cx, &id).await {
        Ok(x) => x,
        Err(e) => return cx.fail(e),
    };
    let product = json!({ "id": p.id, "archived": p.archived, "handle": p.handle });
    let extra = |imgs: &[catalog::Image]| json!({ "product": product, "form": form_values(&f, &[]), "images": images_json(imgs) });
    let vs = posted_variants(&f);
    let errs = stock_errors(&vs);
    if !errs.is_empty() {
        return cx.refused("owner/product.html", extra(&imgs), Error::Invalid(errs));
    }
    let photo = match store_photo(&cx, &f, "photo").await {
        Ok(p) => p,
        Err(e) => return cx.refused("owner/product.html", extra(&imgs), e),
    };
    let removed: Vec<&str> = f.all("remove_image");
    let mut images: Vec<ImageInput> = imgs
        .iter()
        .filter(|i| !removed.contains(&i.id.as_str()))
        .map(|i| ImageInput {
            url: i.url.clone(),
            alt: Some(i.alt.clone()),
        })
        .collect();
    if let Some(url) = photo {
        images.push(ImageInput { url, alt: None });
    }
    let upd = ProductUpdate {
        title: Some(f.get("title").to_string()),
        description: Some(f.get("description").to_string()),
        published: Some(f.checked("published")),
        images: Some(images),
        ..Default::default()
    };
    if let Err(e) = catalog::update_product(&cx.st.db, &cx.scope, &p.id, upd).await {
        return cx.refused("owner/product.html", extra(&imgs), e);
    }
    // Variants: update the existing ones, add the new rows; errors keep the row's index.
    let mut errors: Vec<UserError> = Vec::new();
    for v in &vs {
        let stock = parse_stock(
            if v.stock.trim().is_empty() {
                "0"
            } else {
                &v.stock
            },
            "",
        )
        .unwrap_or(0);
        let at = |e: Error| -> Vec<UserError> {
            match e {
                Error::Invalid(list) => list
                    .into_iter()
                    .map(|mut u| {
                        let last = u.field.last().cloned().unwrap_or_default();
                        u.field = vec!["variants".into(), v.index.to_string(), last];
                        u
                    })
                    .collect(),
                other => vec![UserError::new(&["_form"], "INTERNAL", other.to_string())],
            }
        };
        match v
            .id
            .as_deref()
            .and_then(|vid| old.iter().find(|o| o.id == vid))
        {
            Some(o) => {
                let upd = VariantUpdate {
                    title: Some(v.title.clone()),
                    sku: Some(v.sku.clone()),
                    price: Some(money_input(&v.price)),
                    ..Default::default()
                };
                if let Err(e) = catalog::update_variant(&cx.st.db, &cx.scope, &o.id, upd).await {
                    errors.extend(at(e));
                    continue;
                }
                if stock != o.stock
                    && let Err(e) = catalog::adjust_stock(
                        &cx.st.db,
                        &cx.scope,
                        &o.id,
                        stock - o.stock,
                        "count",
                        None,
                    )
                    .await
                {
                    errors.extend(at(e));
                }
                if v.archived != o.archived
                    && let Err(e) =
                        catalog::set_variant_archived(&cx.st.db, &cx.scope, &o.id, v.archived).await
                {
                    errors.extend(at(e));
                }
            }
            None => {
                let input = VariantInput {
                    title: Some(v.title.clone()).filter(|t| !t.trim().is_empty()),
                    sku: Some(v.sku.clone()).filter(|t| !t.trim().is_empty()),
                    price: money_input(&v.price),
                    compare_at_price: None,
                    stock,
                    track_inventory: Some(true),
                    options: None,
                };
                if let Err(e) = catalog::add_variant(&cx.st.db, &cx.scope, &p.id, input).await {
                    errors.extend(at(e));
                }
            }
        }
    }
    if !errors.is_empty() {
        let imgs = load(&cx, &id).await.map(|x| x.2).unwrap_or(imgs);
        return cx.refused("owner/product.html", extra(&imgs), Error::Invalid(errors));
    }
    cx.redirect(&cx.link(&format!("/products/{}?saved=1", p.id)))
}

pub async fn archive(cx: ShopCx, Path((_, id)): Path<(String, String)>, f: Posted) -> Response {
    let archived = f.get("archived") != "0";
    match catalog::set_archived(&cx.st.db, &cx.scope, &id, archived).await {
        Ok(_) => cx.redirect(&cx.link("/products")),
        Err(e) => cx.fail(e),
    }
}

pub async fn import_form(cx: ShopCx) -> Response {
    cx.show(
        "owner/import.html",
        json!({ "form": {}, "errors": {}, "report": null }),
    )
}

pub async fn import(cx: ShopCx, f: Posted) -> Response {
    let skip = f.checked("skip");
    let Some(file) = f.file("file") else {
        let mut errors = FormErrors::new();
        errors.add("file", cx.text("errors.EMPTY_FILE").unwrap_or_default());
        return cx.rerender(
            "owner/import.html",
            json!({ "form": f.values(), "report": null }),
            &errors,
        );
    };
    match import::import_products(&cx.st.db, &cx.scope, &file.bytes, skip).await {
        Ok(r) => {
            let rows: Vec<Value> = r
                .errors
                .iter()
                .map(|e| json!({ "row": e.row, "column": e.column, "code": e.code,
                                 "message": cx.text(&format!("errors.{}", e.code)).unwrap_or_else(|| e.message.clone()) }))
                .collect();
            let status = if r.errors.is_empty() || skip {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::UNPROCESSABLE_ENTITY
            };
            let written = r.errors.is_empty() || skip;
            cx.render(
                status,
                "owner/import.html",
                cx.with_shop(json!({ "form": f.values(), "errors": {}, "report": {
                    "written": written, "created_products": r.created_products, "created_variants": r.created_variants,
                    "updated_variants": r.updated_variants, "skipped_rows": r.skipped_rows, "errors": rows } })),
            )
        }
        Err(Error::Invalid(mut errs)) => {
            for u in &mut errs {
                u.field = vec!["file".into()];
            }
            cx.refused(
                "owner/import.html",
                json!({ "form": f.values(), "report": null }),
                Error::Invalid(errs),
            )
        }
        Err(e) => cx.fail(e),
    }
}
