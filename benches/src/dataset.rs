//! What the scenarios know about the platform under test: the shops' slugs, each shop's
//! product handles and variant ids (GraphQL ids, `shop:variant`), a signed-in owner token per
//! shop, the province staff's token, and the words to search for. Made either by the API
//! seeding (`server::seed`) or by the scale generator (`scale`).

use crate::scale;

pub struct DataSet {
    pub slugs: Vec<String>,
    /// Per shop: its variants' GraphQL ids, two per product in product order.
    pub variants: Vec<Vec<String>>,
    /// Per shop: its products' handles.
    pub handles: Vec<Vec<String>>,
    /// Per shop: a bearer token of a member (its owner).
    pub owner_tokens: Vec<String>,
    /// A province staff token and its province, when the data set has a province register.
    pub staff: Option<(String, String)>,
    pub search_words: Vec<String>,
}

impl DataSet {
    pub(crate) fn from_scale(plan: &scale::Plan, tokens: scale::Tokens) -> DataSet {
        let p = plan.cfg.products;
        let handles: Vec<String> = plan.handles.clone();
        DataSet {
            slugs: plan.shops.iter().map(|s| s.slug.clone()).collect(),
            variants: plan
                .shops
                .iter()
                .enumerate()
                .map(|(s, shop)| {
                    (0..p)
                        .flat_map(|t| (0..2).map(move |v| (t, v)))
                        .map(|(t, v)| format!("{}:{}", shop.id, plan.variant_id(s, t, v)))
                        .collect()
                })
                .collect(),
            handles: vec![handles; plan.shops.len()],
            owner_tokens: tokens.owners,
            staff: Some((tokens.staff, scale::PROVINCE.to_string())),
            search_words: scale::SEARCH_WORDS.iter().map(|w| w.to_string()).collect(),
        }
    }
}
