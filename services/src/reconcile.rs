//! Bank-transfer reconciliation: a bank (or an aggregator the shop uses) posts a JSON
//! notification of an incoming transfer, signed with the shop's secret (HMAC-SHA256 of the
//! raw body, hex, in `X-Choso-Signature: sha256=…`). The transfer note carries the order
//! number (`DH1001`, as the VietQR code sets it); a transfer of the order's total marks it
//! paid, any other amount flags it for the owner instead. Each transaction id is processed
//! once: a replay answers `duplicate` and changes nothing.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sqlx::Row;

use crate::{
    db::Db,
    error::{Error, Result},
    ids::random_hex,
    orders::{self, PaymentMethod, PaymentStatus, Status},
    tenancy::{MemberRole, ShopId, ShopScope},
    text::format_vnd,
};

/// The notification body.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BankNotification {
    pub transaction_id: String,
    pub amount: i64,
    pub description: String,
    #[serde(default)]
    pub account_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// paid, flagged, unmatched, duplicate
    pub result: &'static str,
    pub order_number: Option<String>,
}

/// HMAC-SHA256 of `body` with `secret`, as lowercase hex.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    crate::ids::hex(&mac.finalize().into_bytes())
}

/// Checks `sha256=<hex>` against the body, in constant time.
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(tag) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// The order number in a transfer note: `DH1001`, `dh 1001`, `Thanh toan DH-1001`.
pub fn order_number_in(description: &str) -> Option<i64> {
    let up: Vec<char> = crate::text::fold(description)
        .to_uppercase()
        .chars()
        .collect();
    let mut i = 0;
    while i + 1 < up.len() {
        if up[i] == 'D' && up[i + 1] == 'H' && (i == 0 || !up[i - 1].is_ascii_alphanumeric()) {
            let mut j = i + 2;
            while j < up.len() && up[j] == ' ' {
                j += 1;
            }
            let digits: String = up[j..].iter().take_while(|c| c.is_ascii_digit()).collect();
            if !digits.is_empty() && digits.len() <= 12 {
                return digits.parse().ok();
            }
        }
        i += 1;
    }
    None
}

/// The shop's notification secret, if one was made.
pub async fn secret(db: &Db, shop: &ShopId) -> Result<Option<String>> {
    let row = sqlx::query("SELECT bank_webhook_secret FROM shops WHERE id = $1")
        .bind(shop.as_str().to_string())
        .fetch_optional(db.read())
        .await?;
    Ok(row
        .map(|r| r.try_get::<Option<String>, _>("bank_webhook_secret"))
        .transpose()?
        .flatten())
}

/// Makes a new secret (owners); the old one stops working. Shown once.
pub async fn rotate_secret(db: &Db, scope: &ShopScope) -> Result<String> {
    if scope.role() != MemberRole::Owner {
        return Err(Error::Forbidden);
    }
    let secret = format!("whsec_{}", random_hex(24));
    sqlx::query("UPDATE shops SET bank_webhook_secret = $1 WHERE id = $2")
        .bind(secret.clone())
        .bind(scope.shop_id().as_str().to_string())
        .execute(db.write())
        .await?;
    Ok(secret)
}

/// Verifies and applies one notification. `Error::Unauthenticated` for a bad signature (or
/// a shop with no secret), a user error for a malformed body.
pub async fn handle(db: &Db, shop: &ShopId, body: &[u8], signature: &str) -> Result<Outcome> {
    let Some(secret) = secret(db, shop).await? else {
        return Err(Error::Unauthenticated);
    };
    if !verify(&secret, body, signature) {
        return Err(Error::Unauthenticated);
    }
    let n: BankNotification = serde_json::from_slice(body).map_err(|e| {
        Error::user(
            &["body"],
            "INVALID_NOTIFICATION",
            format!("Not a bank notification: {e}"),
        )
    })?;
    let txid = n.transaction_id.trim();
    if txid.is_empty() || txid.len() > 100 || n.amount <= 0 {
        return Err(Error::user(
            &["body"],
            "INVALID_NOTIFICATION",
            "A transaction id and a positive amount are required.",
        ));
    }
    let order = match order_number_in(&n.description) {
        Some(num) => orders::by_number(db, shop, num).await?,
        None => None,
    };
    let order = order.filter(|o| o.payment_method == PaymentMethod::BankTransfer);
    let outcome_word = match &order {
        None => "unmatched",
        Some(o)
            if o.total == n.amount
                && o.status != Status::Cancelled
                && o.payment_status == PaymentStatus::Pending =>
        {
            "paid"
        }
        Some(_) => "flagged",
    };
    if !orders::claim_payment_event(
        db,
        shop,
        "bank",
        txid,
        order.as_ref().map(|o| o.id.as_str()),
        outcome_word,
        Some(n.amount),
    )
    .await?
    {
        return Ok(Outcome {
            result: "duplicate",
            order_number: order.map(|o| o.display_number()),
        });
    }
    let Some(order) = order else {
        tracing::info!(shop = %shop, transaction = txid, "bank transfer matches no order");
        return Ok(Outcome {
            result: "unmatched",
            order_number: None,
        });
    };
    let applied = match outcome_word {
        "paid" => orders::record_payment(
            db,
            &order,
            PaymentStatus::Paid,
            Some(&format!("bank transfer {txid}")),
            None,
        )
        .await
        .map(|_| ()),
        _ => {
            let why = if order.total != n.amount {
                format!(
                    "Transfer {txid} of {} for an order of {}",
                    format_vnd(n.amount),
                    format_vnd(order.total)
                )
            } else {
                format!(
                    "Transfer {txid} for an order that is {} / {}",
                    order.status.as_str(),
                    order.payment_status.as_str()
                )
            };
            orders::flag(db, &order, &why).await
        }
    };
    if let Err(e) = applied {
        // Let the bank retry: forget the claim.
        let _ = sqlx::query(
            "DELETE FROM payment_events WHERE shop_id = $1 AND provider = 'bank' AND event_id = $2",
        )
        .bind(shop.as_str().to_string())
        .bind(txid.to_string())
        .execute(db.write())
        .await;
        return Err(e);
    }
    Ok(Outcome {
        result: outcome_word,
        order_number: Some(order.display_number()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_order_numbers_in_transfer_notes() {
        assert_eq!(order_number_in("DH1001"), Some(1001));
        assert_eq!(
            order_number_in("NGUYEN VAN A chuyen tien dh 1002 ok"),
            Some(1002)
        );
        assert_eq!(order_number_in("Thanh toán ĐH-1003"), Some(1003));
        assert_eq!(order_number_in("ADH1004"), None);
        assert_eq!(order_number_in("no number"), None);
    }

    #[test]
    fn signatures() {
        let s = sign("k", b"{}");
        assert!(verify("k", b"{}", &format!("sha256={s}")));
        assert!(!verify("k", b"{ }", &format!("sha256={s}")));
        assert!(!verify("other", b"{}", &format!("sha256={s}")));
        assert!(!verify("k", b"{}", "garbage"));
        assert!(!verify("k", b"{}", "sha256=zz"));
    }
}
