//! The demo shop seeded by `choso serve --demo` (and `cargo run --release`) into a database
//! with no shop yet, so a newcomer has a storefront, products and an owner account to try —
//! and a province staff account for Huế whose register holds the shop's enterprise (linked
//! through an onboarding invite, so publishing the shop recorded its STOREFRONT support).
//! It goes through the same services as the API: no rule is bypassed.

use choso_services::{
    Db, MemberRole,
    accounts::{self, NewUser, Role},
    catalog::{self, CollectionInput, ProductInput, VariantInput},
    shops::{self, NewShop, PaymentsUpdate, ShopUpdate},
};

pub const DEMO_SLUG: &str = "tra-cung-dinh-hue";
pub const DEMO_EMAIL: &str = "demo@choso.vn";
pub const DEMO_PASSWORD: &str = "choso-demo-2026";
/// Province staff of Huế (code 46), same password.
pub const DEMO_STAFF_EMAIL: &str = "so.cong.thuong@choso.vn";

fn variant(
    title: Option<&str>,
    sku: &str,
    price: i64,
    compare: Option<i64>,
    stock: i64,
) -> VariantInput {
    VariantInput {
        title: title.map(str::to_string),
        sku: Some(sku.to_string()),
        price: price.to_string(),
        compare_at_price: compare.map(|c| c.to_string()),
        stock,
        track_inventory: Some(true),
        options: None,
    }
}

/// Seeds the demo shop when the database has no shop yet. Returns true when it seeded.
pub async fn seed_if_empty(db: &Db) -> Result<bool, crate::BoxError> {
    if shops::count(db).await? > 0 {
        return Ok(false);
    }
    let owner = match accounts::find_by_email(db, DEMO_EMAIL).await? {
        Some(u) => u,
        None => {
            accounts::create_user(
                db,
                NewUser {
                    email: DEMO_EMAIL.into(),
                    password: DEMO_PASSWORD.into(),
                    full_name: "Chủ tiệm Demo".into(),
                    role: Role::Merchant,
                    province_code: None,
                },
            )
            .await?
        }
    };
    seed_province(db, &owner).await?;
    let shop = shops::create_shop(
        db,
        &owner,
        NewShop {
            name: "Trà Cung Đình Huế".into(),
            slug: Some(DEMO_SLUG.into()),
            theme: Some("warm".into()),
            province_code: Some("46".into()),
            phone: Some("0905 123 456".into()),
            email: Some("tra.cungdinh@example.vn".into()),
        },
    )
    .await?;
    let scope = shops::authorize(db, &owner, &shop.id, MemberRole::Owner).await?;
    shops::update_shop(
        db,
        &scope,
        ShopUpdate {
            description: Some(
                "Trà thảo mộc, trà sen và đặc sản Huế, gói tay tại phường Phú Xuân.".into(),
            ),
            address_line: Some("24 Lê Lợi".into()),
            ward: Some("Phú Xuân".into()),
            hero_text: Some("Hương vị cung đình, giao tận nhà".into()),
            primary_color: Some("#8a3b12".into()),
            accent_color: Some("#d9a441".into()),
            shipping_fee: Some("25000".into()),
            free_shipping_over: Some("500000".into()),
            ..Default::default()
        },
    )
    .await?;
    shops::update_payments(
        db,
        &scope,
        PaymentsUpdate {
            cod: Some(true),
            bank_bin: Some("970436".into()),
            bank_account_number: Some("0011001234567".into()),
            bank_account_name: Some("Nguyễn Thị Hương".into()),
            stripe_account_id: None,
        },
    )
    .await?;
    let items: Vec<(&str, &str, Vec<VariantInput>)> = vec![
        (
            "Trà cung đình Huế",
            "Mười hai vị thảo mộc: **hoa cúc, cam thảo, táo đỏ, kỷ tử**… Pha với nước sôi 5 phút.",
            vec![
                variant(Some("Hộp 200g"), "TCD-200", 120_000, Some(150_000), 40),
                variant(Some("Hộp 500g"), "TCD-500", 270_000, None, 15),
            ],
        ),
        (
            "Trà sen Tịnh Tâm",
            "Trà Thái Nguyên ướp hoa sen hồ Tịnh Tâm.",
            vec![variant(None, "SEN-100", 185_000, None, 20)],
        ),
        (
            "Mè xửng Thiên Hương",
            "Kẹo mè xửng dẻo, đặc sản Huế.",
            vec![variant(None, "ME-XUNG", 45_000, None, 60)],
        ),
        (
            "Tôm chua Huế",
            "Hũ 500g, ăn kèm thịt luộc.",
            vec![variant(None, "TOM-CHUA", 95_000, None, 0)],
        ),
        (
            "Nón lá bài thơ",
            "Nón lá làng Tây Hồ, lồng bài thơ khi soi nắng.",
            vec![variant(None, "NON-LA", 150_000, None, 8)],
        ),
        (
            "Cà phê muối",
            "Gói 250g hạt rang xay, công thức cà phê muối Huế.",
            vec![variant(None, "CF-MUOI", 110_000, None, 25)],
        ),
    ];
    let mut ids = Vec::new();
    for (title, desc, variants) in items {
        let p = catalog::create_product(
            db,
            &scope,
            ProductInput {
                title: title.into(),
                description: Some(desc.into()),
                published: Some(true),
                variants,
                ..Default::default()
            },
        )
        .await?;
        ids.push(p.id);
    }
    catalog::save_collection(
        db,
        &scope,
        None,
        CollectionInput {
            title: Some("Bán chạy".into()),
            featured: Some(true),
            product_ids: Some(ids.iter().take(3).cloned().collect()),
            ..Default::default()
        },
    )
    .await?;
    shops::publish(db, &scope).await?;
    tracing::info!(slug = DEMO_SLUG, owner = DEMO_EMAIL, "seeded the demo shop");
    Ok(true)
}

/// The Huế staff account, the demo owner's enterprise in its register (consenting to share
/// sales), a training record, and the invite the owner registered with, so the shop created
/// next is linked to the enterprise.
async fn seed_province(db: &Db, owner: &accounts::User) -> Result<(), crate::BoxError> {
    use choso_services::support::{self, records};
    let staff = match accounts::find_by_email(db, DEMO_STAFF_EMAIL).await? {
        Some(u) => u,
        None => {
            accounts::create_user(
                db,
                NewUser {
                    email: DEMO_STAFF_EMAIL.into(),
                    password: DEMO_PASSWORD.into(),
                    full_name: "Cán bộ Sở Công Thương Huế".into(),
                    role: Role::ProvinceStaff,
                    province_code: Some("46".into()),
                },
            )
            .await?
        }
    };
    let e = support::create_enterprise(
        db,
        &staff,
        support::NewEnterprise {
            province_code: "46".into(),
            fields: support::EnterpriseFields {
                name: Some("Hộ kinh doanh Trà Cung Đình Huế".into()),
                legal_form: Some(support::LegalForm::HouseholdBusiness),
                sector: Some("C".into()),
                size_class: Some(support::SizeClass::Micro),
                ward: Some("Phú Hội".into()),
                phone: Some("0905 123 456".into()),
                consent_share_sales: Some(true),
                ..Default::default()
            },
        },
    )
    .await?;
    records::record_support(
        db,
        &staff,
        records::NewSupport {
            enterprise_id: e.id.clone(),
            kind: Some(records::SupportKind::Training),
            programme: Some("Kế hoạch chuyển đổi số doanh nghiệp nhỏ và vừa".into()),
            date: "2026-10-01".into(),
            provider: Some("Trung tâm Hỗ trợ doanh nghiệp".into()),
            note: Some("Lớp bán hàng trực tuyến".into()),
            ..Default::default()
        },
    )
    .await?;
    let invite = support::create_invite(db, &staff, &e.id).await?;
    support::redeem_invite(db, &owner.id, &invite.code).await?;
    Ok(())
}
