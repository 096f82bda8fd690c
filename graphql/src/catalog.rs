//! The catalog in GraphQL: products, variants, images, collections, stock, and their
//! mutations. Variants and images come through data loaders (one statement per page).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, dataloader::DataLoader};
use choso_services::{
    MemberRole, ShopId,
    catalog::{
        self, CollectionInput, ImageInput as SvcImage, Page, ProductInput as SvcProduct,
        ProductUpdate, VariantInput as SvcVariant, VariantUpdate,
    },
    markdown,
};

use crate::{
    context::db,
    error::{UserError, payload, top_level},
    ids::{gid, split},
    loaders::{CatalogLoader, ImagesOf, VariantsOf},
    scalars::{DateTime, Decimal, Money},
    shops::{OkPayload, scope_or_err},
};

/// A product; `member` says whether the viewer is a member of its shop. Lists preload the
/// variants and images of a whole page (one statement each); single products use the loader.
#[derive(Clone)]
pub struct Product {
    pub product: catalog::Product,
    pub member: bool,
    pub variants: Option<Arc<Vec<catalog::Variant>>>,
    pub images: Option<Arc<Vec<catalog::Image>>>,
}

fn loader_error(e: std::sync::Arc<choso_services::Error>) -> async_graphql::Error {
    tracing::error!(error = %e, "data loader failed");
    async_graphql::Error::new("Internal error: it has been logged.")
}

impl Product {
    pub fn new(product: catalog::Product, member: bool) -> Product {
        Product {
            product,
            member,
            variants: None,
            images: None,
        }
    }

    async fn load_variants(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<catalog::Variant>> {
        if let Some(v) = &self.variants {
            return Ok(self.visible(v.as_ref().clone()));
        }
        let key = VariantsOf(self.product.shop_id.clone(), self.product.id.clone());
        let v = ctx
            .data_unchecked::<DataLoader<CatalogLoader>>()
            .load_one(key)
            .await
            .map_err(loader_error)?;
        Ok(self.visible(v.unwrap_or_default()))
    }

    /// Customers do not see archived variants; members do.
    fn visible(&self, variants: Vec<catalog::Variant>) -> Vec<catalog::Variant> {
        if self.member {
            variants
        } else {
            variants.into_iter().filter(|v| !v.archived).collect()
        }
    }
}

#[derive(SimpleObject)]
pub struct PriceRange {
    pub min: Money,
    pub max: Money,
}

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID(gid(&self.product.shop_id, &self.product.id))
    }
    async fn handle(&self) -> &str {
        &self.product.handle
    }
    async fn title(&self) -> &str {
        &self.product.title
    }
    /// As written (plain text or simple Markdown).
    async fn description(&self) -> &str {
        &self.product.description
    }
    /// The description rendered to safe HTML (everything escaped; a small Markdown subset).
    async fn description_html(&self) -> String {
        markdown::to_html(&self.product.description)
    }
    async fn published(&self) -> bool {
        self.product.published
    }
    async fn archived(&self) -> bool {
        self.product.archived
    }
    /// Option names, e.g. ["Size", "Màu"].
    async fn option_names(&self) -> &[String] {
        &self.product.option_names
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.product.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.product.updated_at)
    }
    async fn variants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Variant>> {
        Ok(self
            .load_variants(ctx)
            .await?
            .into_iter()
            .map(|v| Variant {
                variant: v,
                member: self.member,
            })
            .collect())
    }
    async fn images(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Image>> {
        let imgs = match &self.images {
            Some(i) => i.as_ref().clone(),
            None => {
                let key = ImagesOf(self.product.shop_id.clone(), self.product.id.clone());
                let loader = ctx.data_unchecked::<DataLoader<CatalogLoader>>();
                loader
                    .load_one(key)
                    .await
                    .map_err(loader_error)?
                    .unwrap_or_default()
            }
        };
        Ok(imgs
            .into_iter()
            .map(|i| Image {
                id: ID(gid(&self.product.shop_id, &i.id)),
                url: i.url,
                alt: i.alt,
            })
            .collect())
    }
    /// Lowest and highest variant price.
    async fn price_range(&self, ctx: &Context<'_>) -> async_graphql::Result<PriceRange> {
        let vs = self.load_variants(ctx).await?;
        let live = || vs.iter().filter(|v| !v.archived).map(|v| v.price);
        let min = live().min().unwrap_or(0);
        let max = live().max().unwrap_or(0);
        Ok(PriceRange {
            min: Money::vnd(min),
            max: Money::vnd(max),
        })
    }
    /// True when some variant can be bought now.
    async fn available(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.load_variants(ctx).await?.iter().any(|v| v.available()))
    }
}

#[derive(Clone)]
pub struct Variant {
    pub variant: catalog::Variant,
    pub member: bool,
}

#[derive(SimpleObject)]
pub struct StockMovement {
    pub id: ID,
    pub delta: i64,
    pub stock_after: i64,
    pub reason: String,
    pub note: Option<String>,
    pub actor_id: Option<String>,
    pub created_at: DateTime,
}

#[Object]
impl Variant {
    async fn id(&self) -> ID {
        ID(gid(&self.variant.shop_id, &self.variant.id))
    }
    async fn sku(&self) -> Option<&str> {
        self.variant.sku.as_deref()
    }
    async fn title(&self) -> &str {
        &self.variant.title
    }
    /// One value per product option.
    async fn options(&self) -> &[String] {
        &self.variant.options
    }
    async fn price(&self) -> Money {
        Money::vnd(self.variant.price)
    }
    async fn compare_at_price(&self) -> Option<Money> {
        self.variant.compare_at_price.map(Money::vnd)
    }
    async fn available(&self) -> bool {
        self.variant.available()
    }
    /// Units in stock: members only, null for the public.
    async fn stock(&self) -> Option<i64> {
        self.member.then_some(self.variant.stock)
    }
    async fn track_inventory(&self) -> bool {
        self.variant.track_inventory
    }
    async fn archived(&self) -> bool {
        self.variant.archived
    }
    /// The stock history, newest first (members only).
    async fn stock_movements(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<StockMovement>> {
        let scope = crate::shops::scope_for(ctx, &self.variant.shop_id, MemberRole::Staff).await?;
        let list = catalog::stock_movements(
            db(ctx),
            &scope,
            &self.variant.id,
            i64::from(first.unwrap_or(50)),
        )
        .await
        .map_err(top_level)?;
        Ok(list
            .into_iter()
            .map(|m| StockMovement {
                id: ID(gid(&self.variant.shop_id, &m.id)),
                delta: m.delta,
                stock_after: m.stock_after,
                reason: m.reason,
                note: m.note,
                actor_id: m.actor_id,
                created_at: DateTime(m.created_at),
            })
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct Image {
    pub id: ID,
    pub url: String,
    pub alt: String,
}

#[derive(SimpleObject)]
pub struct ProductEdge {
    pub node: Product,
    pub cursor: String,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct ProductConnection {
    pub edges: Vec<ProductEdge>,
    pub page_info: PageInfo,
}

/// Builds a connection, preloading the children the query asks for: one statement for the
/// variants and one for the images of the whole page, whatever its size.
pub async fn page_to_connection(
    ctx: &Context<'_>,
    shop: &ShopId,
    page: Page<catalog::Product>,
    member: bool,
) -> async_graphql::Result<ProductConnection> {
    let node = ctx.look_ahead().field("edges").field("node");
    let ids: Vec<String> = page.items.iter().map(|(p, _)| p.id.clone()).collect();
    let wants_variants = node.field("variants").exists()
        || node.field("priceRange").exists()
        || node.field("available").exists();
    let mut variants = if wants_variants {
        catalog::variants_for(db(ctx), shop, &ids)
            .await
            .map_err(top_level)?
    } else {
        Default::default()
    };
    let mut images = if node.field("images").exists() {
        catalog::images_for(db(ctx), shop, &ids)
            .await
            .map_err(top_level)?
    } else {
        Default::default()
    };
    let end_cursor = page.items.last().map(|(_, c)| c.clone());
    Ok(ProductConnection {
        edges: page
            .items
            .into_iter()
            .map(|(p, cursor)| {
                let v =
                    wants_variants.then(|| Arc::new(variants.remove(&p.id).unwrap_or_default()));
                let i = node
                    .field("images")
                    .exists()
                    .then(|| Arc::new(images.remove(&p.id).unwrap_or_default()));
                ProductEdge {
                    node: Product {
                        product: p,
                        member,
                        variants: v,
                        images: i,
                    },
                    cursor,
                }
            })
            .collect(),
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            end_cursor,
        },
    })
}

/// A manual collection.
pub struct Collection {
    pub shop: ShopId,
    pub collection: catalog::Collection,
    pub member: bool,
}

#[Object]
impl Collection {
    async fn id(&self) -> ID {
        ID(gid(&self.shop, &self.collection.id))
    }
    async fn handle(&self) -> &str {
        &self.collection.handle
    }
    async fn title(&self) -> &str {
        &self.collection.title
    }
    async fn description(&self) -> &str {
        &self.collection.description
    }
    /// Shown on the storefront's home page.
    async fn featured(&self) -> bool {
        self.collection.featured
    }
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let vis = if self.member {
            catalog::Visibility::Member
        } else {
            catalog::Visibility::Public
        };
        let list = catalog::collection_products(db(ctx), &self.shop, &self.collection.id, vis)
            .await
            .map_err(top_level)?;
        Ok(list
            .into_iter()
            .map(|p| Product::new(p, self.member))
            .collect())
    }
}

// ---------------------------------------------------------------- inputs and payloads

#[derive(InputObject, Clone)]
pub struct VariantInput {
    pub title: Option<String>,
    pub sku: Option<String>,
    pub price: Decimal,
    pub stock: i64,
    pub compare_at_price: Option<Decimal>,
    /// Off: the variant is always available and stock is not counted. Default on.
    pub track_inventory: Option<bool>,
    /// One value per product option, e.g. ["M", "Đỏ"].
    pub options: Option<Vec<String>>,
}

impl From<VariantInput> for SvcVariant {
    fn from(v: VariantInput) -> Self {
        SvcVariant {
            title: v.title,
            sku: v.sku,
            price: v.price.0,
            compare_at_price: v.compare_at_price.map(|d| d.0),
            stock: v.stock,
            track_inventory: v.track_inventory,
            options: v.options,
        }
    }
}

#[derive(InputObject, Clone)]
pub struct ImageInput {
    pub url: String,
    pub alt: Option<String>,
}

#[derive(InputObject)]
pub struct ProductInput {
    pub title: String,
    pub description: Option<String>,
    pub handle: Option<String>,
    pub published: Option<bool>,
    pub variants: Vec<VariantInput>,
    /// e.g. ["Size", "Màu"]; each variant then gives one value per option.
    pub option_names: Option<Vec<String>>,
    pub images: Option<Vec<ImageInput>>,
}

#[derive(InputObject)]
pub struct UpdateProductInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub handle: Option<String>,
    pub published: Option<bool>,
    pub option_names: Option<Vec<String>>,
    /// Replaces the images when given.
    pub images: Option<Vec<ImageInput>>,
}

#[derive(InputObject)]
pub struct UpdateVariantInput {
    pub title: Option<String>,
    /// Empty string removes the SKU.
    pub sku: Option<String>,
    pub price: Option<Decimal>,
    /// Empty string removes it.
    pub compare_at_price: Option<Decimal>,
    pub track_inventory: Option<bool>,
    pub options: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct CollectionInputGql {
    pub title: Option<String>,
    pub handle: Option<String>,
    pub description: Option<String>,
    pub featured: Option<bool>,
    /// Product ids in display order; replaces the list when given.
    pub product_ids: Option<Vec<ID>>,
}

#[derive(SimpleObject)]
pub struct ProductPayload {
    pub product: Option<Product>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct VariantPayload {
    pub variant: Option<Variant>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct CollectionPayload {
    pub collection: Option<Collection>,
    pub user_errors: Vec<UserError>,
}

fn product_payload(
    r: choso_services::Result<catalog::Product>,
) -> async_graphql::Result<ProductPayload> {
    let (p, user_errors) = payload(r)?;
    Ok(ProductPayload {
        product: p.map(|p| Product::new(p, true)),
        user_errors,
    })
}

fn variant_payload(
    r: choso_services::Result<catalog::Variant>,
) -> async_graphql::Result<VariantPayload> {
    let (v, user_errors) = payload(r)?;
    Ok(VariantPayload {
        variant: v.map(|v| Variant {
            variant: v,
            member: true,
        }),
        user_errors,
    })
}

fn images(v: Option<Vec<ImageInput>>) -> Option<Vec<SvcImage>> {
    v.map(|imgs| {
        imgs.into_iter()
            .map(|i| SvcImage {
                url: i.url,
                alt: i.alt,
            })
            .collect()
    })
}

fn collection_input(
    shop: &ShopId,
    input: CollectionInputGql,
) -> choso_services::Result<CollectionInput> {
    let product_ids = match input.product_ids {
        Some(ids) => Some(
            ids.iter()
                .map(|id| match split(id, "product") {
                    Ok((s, local)) if &s == shop => Ok(local),
                    // A product of another shop is reported like a missing one.
                    Ok(_) | Err(_) => Ok(String::from("-")),
                })
                .collect::<choso_services::Result<Vec<_>>>()?,
        ),
        None => None,
    };
    Ok(CollectionInput {
        title: input.title,
        handle: input.handle,
        description: input.description,
        featured: input.featured,
        product_ids,
    })
}

#[derive(SimpleObject)]
#[graphql(name = "ProductImportRowError")]
pub struct ImportRowError {
    /// Line in the file (the header is line 1).
    pub row: i64,
    pub column: String,
    pub code: String,
    pub message: String,
}

#[derive(SimpleObject, Default)]
#[graphql(name = "ProductImportPayload")]
pub struct ImportPayload {
    pub created_products: i64,
    pub created_variants: i64,
    pub updated_variants: i64,
    pub skipped_rows: i64,
    /// Problems with single rows; when any is present and bad rows were not skipped,
    /// nothing was imported.
    pub row_errors: Vec<ImportRowError>,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Creates a product with its variants (owners and staff).
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        shop_id: ID,
        input: ProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &ShopId::new(shop_id.trim()), MemberRole::Staff).await?;
            let svc = SvcProduct {
                title: input.title,
                description: input.description,
                handle: input.handle,
                published: input.published,
                option_names: input.option_names,
                variants: input.variants.into_iter().map(Into::into).collect(),
                images: images(input.images),
            };
            catalog::create_product(db(ctx), &scope, svc).await
        }
        .await;
        product_payload(r)
    }

    async fn update_product(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        input: UpdateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let r = async {
            let (shop, pid) = split(&product_id, "product")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            let upd = ProductUpdate {
                title: input.title,
                description: input.description,
                handle: input.handle,
                published: input.published,
                option_names: input.option_names,
                images: images(input.images),
            };
            catalog::update_product(db(ctx), &scope, &pid, upd).await
        }
        .await;
        product_payload(r)
    }

    /// Hides a product everywhere while keeping it for order history.
    async fn archive_product(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
    ) -> async_graphql::Result<ProductPayload> {
        let r = async {
            let (shop, pid) = split(&product_id, "product")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::set_archived(db(ctx), &scope, &pid, true).await
        }
        .await;
        product_payload(r)
    }

    async fn unarchive_product(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
    ) -> async_graphql::Result<ProductPayload> {
        let r = async {
            let (shop, pid) = split(&product_id, "product")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::set_archived(db(ctx), &scope, &pid, false).await
        }
        .await;
        product_payload(r)
    }

    async fn add_variant(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        input: VariantInput,
    ) -> async_graphql::Result<VariantPayload> {
        let r = async {
            let (shop, pid) = split(&product_id, "product")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::add_variant(db(ctx), &scope, &pid, input.into()).await
        }
        .await;
        variant_payload(r)
    }

    async fn update_variant(
        &self,
        ctx: &Context<'_>,
        variant_id: ID,
        input: UpdateVariantInput,
    ) -> async_graphql::Result<VariantPayload> {
        let r = async {
            let (shop, vid) = split(&variant_id, "variant")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            let upd = VariantUpdate {
                title: input.title,
                sku: input.sku,
                price: input.price.map(|d| d.0),
                compare_at_price: input.compare_at_price.map(|d| d.0),
                track_inventory: input.track_inventory,
                options: input.options,
            };
            catalog::update_variant(db(ctx), &scope, &vid, upd).await
        }
        .await;
        variant_payload(r)
    }

    /// Hides a variant from customers and stops its sale; kept for order history.
    async fn archive_variant(
        &self,
        ctx: &Context<'_>,
        variant_id: ID,
    ) -> async_graphql::Result<VariantPayload> {
        let r = async {
            let (shop, vid) = split(&variant_id, "variant")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::set_variant_archived(db(ctx), &scope, &vid, true).await
        }
        .await;
        variant_payload(r)
    }

    async fn unarchive_variant(
        &self,
        ctx: &Context<'_>,
        variant_id: ID,
    ) -> async_graphql::Result<VariantPayload> {
        let r = async {
            let (shop, vid) = split(&variant_id, "variant")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::set_variant_archived(db(ctx), &scope, &vid, false).await
        }
        .await;
        variant_payload(r)
    }

    /// Adds (positive) or removes (negative) stock, recording who, when and why.
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        variant_id: ID,
        delta: i64,
        reason: String,
        note: Option<String>,
    ) -> async_graphql::Result<VariantPayload> {
        let r = async {
            let (shop, vid) = split(&variant_id, "variant")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::adjust_stock(db(ctx), &scope, &vid, delta, &reason, note).await
        }
        .await;
        variant_payload(r)
    }

    /// Creates or updates products from a CSV exported from Excel, matched by SKU. With a
    /// bad row nothing is imported unless `skipInvalidRows` is true.
    async fn import_products(
        &self,
        ctx: &Context<'_>,
        shop_id: ID,
        csv: String,
        skip_invalid_rows: Option<bool>,
    ) -> async_graphql::Result<ImportPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &ShopId::new(shop_id.trim()), MemberRole::Staff).await?;
            catalog::import::import_products(
                db(ctx),
                &scope,
                csv.as_bytes(),
                skip_invalid_rows.unwrap_or(false),
            )
            .await
        }
        .await;
        let (report, user_errors) = payload(r)?;
        let Some(rep) = report else {
            return Ok(ImportPayload {
                user_errors,
                ..Default::default()
            });
        };
        Ok(ImportPayload {
            created_products: rep.created_products,
            created_variants: rep.created_variants,
            updated_variants: rep.updated_variants,
            skipped_rows: rep.skipped_rows,
            row_errors: rep
                .errors
                .into_iter()
                .map(|e| ImportRowError {
                    row: e.row as i64,
                    column: e.column,
                    code: e.code,
                    message: e.message,
                })
                .collect(),
            user_errors,
        })
    }

    async fn create_collection(
        &self,
        ctx: &Context<'_>,
        shop_id: ID,
        input: CollectionInputGql,
    ) -> async_graphql::Result<CollectionPayload> {
        let shop = ShopId::new(shop_id.trim());
        let r = async {
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::save_collection(db(ctx), &scope, None, collection_input(&shop, input)?).await
        }
        .await;
        let (c, user_errors) = payload(r)?;
        Ok(CollectionPayload {
            collection: c.map(|c| Collection {
                shop,
                collection: c,
                member: true,
            }),
            user_errors,
        })
    }

    async fn update_collection(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
        input: CollectionInputGql,
    ) -> async_graphql::Result<CollectionPayload> {
        let parsed = split(&collection_id, "collection");
        let shop = parsed
            .as_ref()
            .map(|(s, _)| s.clone())
            .unwrap_or_else(|_| ShopId::new(""));
        let r = async {
            let (shop, cid) = parsed?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::save_collection(db(ctx), &scope, Some(&cid), collection_input(&shop, input)?)
                .await
        }
        .await;
        let (c, user_errors) = payload(r)?;
        Ok(CollectionPayload {
            collection: c.map(|c| Collection {
                shop,
                collection: c,
                member: true,
            }),
            user_errors,
        })
    }

    async fn delete_collection(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
    ) -> async_graphql::Result<OkPayload> {
        let r = async {
            let (shop, cid) = split(&collection_id, "collection")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            catalog::delete_collection(db(ctx), &scope, &cid).await
        }
        .await;
        let (ok, user_errors) = payload(r)?;
        Ok(OkPayload {
            ok: ok.is_some(),
            user_errors,
        })
    }
}
