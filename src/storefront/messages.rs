//! Words the Rust side puts on storefront pages, in the shop's language: order statuses,
//! payment methods, what happens next, and error messages by code.

pub fn status(lang: &str, s: &str) -> &'static str {
    let vi = lang != "en";
    match (s, vi) {
        ("PENDING", true) => "Chờ xác nhận",
        ("CONFIRMED", true) => "Đã xác nhận",
        ("SHIPPED", true) => "Đang giao",
        ("DELIVERED", true) => "Đã giao",
        ("CANCELLED", true) => "Đã huỷ",
        ("PENDING", false) => "Awaiting confirmation",
        ("CONFIRMED", false) => "Confirmed",
        ("SHIPPED", false) => "On its way",
        ("DELIVERED", false) => "Delivered",
        ("CANCELLED", false) => "Cancelled",
        _ => "",
    }
}

pub fn payment_status(lang: &str, s: &str) -> &'static str {
    let vi = lang != "en";
    match (s, vi) {
        ("UNPAID", true) => "Chưa thanh toán",
        ("PENDING", true) => "Chờ thanh toán",
        ("PAID", true) => "Đã thanh toán",
        ("REFUNDED", true) => "Đã hoàn tiền",
        ("FAILED", true) => "Thanh toán không thành công",
        ("UNPAID", false) => "Not paid yet",
        ("PENDING", false) => "Awaiting payment",
        ("PAID", false) => "Paid",
        ("REFUNDED", false) => "Refunded",
        ("FAILED", false) => "Payment failed",
        _ => "",
    }
}

/// (label, hint) of a payment method.
pub fn method(lang: &str, m: &str) -> (&'static str, &'static str) {
    let vi = lang != "en";
    match (m, vi) {
        ("COD", true) => (
            "Thanh toán khi nhận hàng (COD)",
            "Trả tiền mặt cho người giao hàng.",
        ),
        ("BANK_TRANSFER", true) => (
            "Chuyển khoản ngân hàng (VietQR)",
            "Quét mã QR bằng ứng dụng ngân hàng sau khi đặt.",
        ),
        ("CARD", true) => ("Thẻ quốc tế (Stripe)", "Thanh toán an toàn qua Stripe."),
        ("COD", false) => ("Cash on delivery", "Pay the courier in cash."),
        ("BANK_TRANSFER", false) => (
            "Bank transfer (VietQR)",
            "Scan the QR code with your banking app after ordering.",
        ),
        ("CARD", false) => ("Card (Stripe)", "Pay securely with Stripe."),
        _ => ("", ""),
    }
}

pub fn next_steps(lang: &str, m: &str) -> &'static str {
    let vi = lang != "en";
    match (m, vi) {
        ("COD", true) => {
            "Cửa hàng sẽ gọi điện xác nhận và giao hàng đến bạn. Bạn trả tiền mặt khi nhận hàng."
        }
        ("BANK_TRANSFER", true) => {
            "Quét mã QR bên dưới bằng ứng dụng ngân hàng, giữ nguyên số tiền và nội dung chuyển khoản. Đơn được xác nhận khi cửa hàng nhận được tiền."
        }
        ("CARD", true) => {
            "Cảm ơn bạn! Khi Stripe xác nhận thanh toán, cửa hàng sẽ chuẩn bị đơn hàng."
        }
        ("COD", false) => {
            "The shop will call to confirm and deliver your order. You pay in cash on delivery."
        }
        ("BANK_TRANSFER", false) => {
            "Scan the QR code below with your banking app, keeping the amount and the transfer note. The order is confirmed when the shop receives the money."
        }
        ("CARD", false) => {
            "Thank you! Once Stripe confirms the payment, the shop prepares your order."
        }
        _ => "",
    }
}

/// A user-facing message for an error code.
pub fn error(lang: &str, code: &str) -> String {
    let vi = lang != "en";
    let s = match (code, vi) {
        ("REQUIRED", true) => "Vui lòng điền thông tin này.",
        ("TOO_LONG", true) => "Nội dung quá dài.",
        ("INVALID_PHONE", true) => "Số điện thoại di động không hợp lệ (ví dụ 0912 345 678).",
        ("INVALID_EMAIL", true) => "Địa chỉ email không hợp lệ.",
        ("INVALID_PROVINCE", true) => "Vui lòng chọn tỉnh/thành phố.",
        ("PAYMENT_METHOD_UNAVAILABLE", true) => "Cửa hàng không nhận phương thức thanh toán này.",
        ("OUT_OF_STOCK", true) => "Một số sản phẩm không còn đủ hàng. Vui lòng xem lại giỏ hàng.",
        ("VARIANT_NOT_FOUND", true) => {
            "Một số sản phẩm không còn được bán. Vui lòng xem lại giỏ hàng."
        }
        ("INVALID_QUANTITY", true) => "Số lượng không hợp lệ.",
        ("EMPTY_ORDER", true) => "Giỏ hàng đang trống.",
        ("PAYMENT_PROVIDER_ERROR", true) => {
            "Hiện không thể thanh toán bằng thẻ. Vui lòng chọn phương thức khác."
        }
        ("CART_FULL", true) => "Giỏ hàng đã đầy.",
        ("CSRF", true) => "Phiên làm việc đã hết hạn. Vui lòng thử lại.",
        ("REQUIRED", false) => "Please fill this in.",
        ("TOO_LONG", false) => "This is too long.",
        ("INVALID_PHONE", false) => "Enter a Vietnamese mobile number (e.g. 0912 345 678).",
        ("INVALID_EMAIL", false) => "Enter a valid email address.",
        ("INVALID_PROVINCE", false) => "Choose a province.",
        ("PAYMENT_METHOD_UNAVAILABLE", false) => "The shop does not take this payment method.",
        ("OUT_OF_STOCK", false) => "Some items are no longer in stock. Please check your cart.",
        ("VARIANT_NOT_FOUND", false) => {
            "Some items are no longer for sale. Please check your cart."
        }
        ("INVALID_QUANTITY", false) => "Invalid quantity.",
        ("EMPTY_ORDER", false) => "Your cart is empty.",
        ("PAYMENT_PROVIDER_ERROR", false) => {
            "Card payment is unavailable right now; choose another method."
        }
        ("CART_FULL", false) => "Your cart is full.",
        ("CSRF", false) => "Your session expired. Please try again.",
        (_, true) => "Đã có lỗi, vui lòng thử lại.",
        (_, false) => "Something went wrong, please try again.",
    };
    s.to_string()
}

/// "Only N left" / "No longer for sale" for a cart line.
pub fn cart_problem(lang: &str, gone: bool, left: Option<i64>) -> String {
    match (gone, left, lang != "en") {
        (true, _, true) => "Sản phẩm không còn được bán".into(),
        (true, _, false) => "No longer for sale".into(),
        (false, Some(0), true) => "Hết hàng".into(),
        (false, Some(0), false) => "Sold out".into(),
        (false, Some(n), true) => format!("Chỉ còn {n}"),
        (false, Some(n), false) => format!("Only {n} left"),
        (false, None, _) => String::new(),
    }
}
