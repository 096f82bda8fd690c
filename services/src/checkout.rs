//! Checkout: the one way an order is placed, shared by the GraphQL API and the storefront.
//! It places the order (`orders::place_order`) and, for card orders, opens the Stripe
//! Checkout session whose success page is the storefront's confirmation page.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{
    db::Db,
    error::{Error, Result},
    orders::{self, Order, PaymentMethod, PlaceOrder},
    shops,
    stripe::{self, StripeConfig},
};

/// The key in a confirmation link (`/orders/{number}?k=…`): only the buyer who placed the
/// order gets it. 16 bytes of HMAC-SHA256 over the order id, as hex.
pub fn order_key(secret: &str, order_id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"order:");
    mac.update(order_id.as_bytes());
    crate::ids::hex(&mac.finalize().into_bytes()[..16])
}

/// Checks a confirmation link key in constant time.
pub fn check_order_key(secret: &str, order_id: &str, key: &str) -> bool {
    let expected = order_key(secret, order_id);
    expected.len() == key.len()
        && expected
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Places an order; `store` is the storefront's absolute base (`https://…/s/{slug}`).
pub async fn place(
    db: &Db,
    stripe_cfg: Option<&StripeConfig>,
    store: &str,
    secret: &str,
    input: PlaceOrder,
) -> Result<Order> {
    if input.payment_method == PaymentMethod::Card && stripe_cfg.is_none() {
        return Err(Error::user(
            &["input", "paymentMethod"],
            "PAYMENT_METHOD_UNAVAILABLE",
            "Card payments are not available on this platform.",
        ));
    }
    let order = orders::place_order(db, input).await?;
    match (order.payment_method, stripe_cfg) {
        (PaymentMethod::Card, Some(cfg)) if order.checkout_url.is_none() => {
            let shop = shops::get(db, &order.shop_id)
                .await?
                .ok_or(Error::NotFound("shop"))?;
            let key = order_key(secret, &order.id);
            let success = format!(
                "{store}/orders/{}?k={key}&session_id={{CHECKOUT_SESSION_ID}}",
                order.number
            );
            let cancel = format!("{store}/cart");
            stripe::start_checkout(db, cfg, &shop, &order, &success, &cancel).await
        }
        _ => Ok(order),
    }
}
