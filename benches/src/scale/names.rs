//! The words of the generated platform: Vietnamese product titles, shop names, people and
//! addresses (with diacritics, so search folding and slugs are exercised), and the search
//! words the benchmark asks for (accented and folded).

/// Product kinds; a title is a kind and a qualifier, so 10 × 10 titles are distinct.
const KINDS: &[&str] = &[
    "Trà sen Tây Hồ",
    "Cà phê rang xay",
    "Mật ong rừng",
    "Nước mắm Phú Quốc",
    "Bánh pía sầu riêng",
    "Gạo ST25",
    "Hạt điều rang muối",
    "Mứt gừng",
    "Nấm hương khô",
    "Chè Thái Nguyên",
];

const QUALIFIERS: &[&str] = &[
    "hộp quà",
    "loại đặc biệt",
    "túi 500g",
    "túi 1kg",
    "hũ thủy tinh",
    "đóng chai",
    "hữu cơ",
    "truyền thống",
    "cao cấp",
    "Đà Lạt",
];

const REGIONS: &[&str] = &[
    "Huế",
    "Hội An",
    "Đà Lạt",
    "Sa Pa",
    "Phú Quốc",
    "Mộc Châu",
    "Bến Tre",
    "Tây Ninh",
];

const SHOP_WORDS: &[&str] = &["Đặc sản", "Cửa hàng", "Tiệm", "Gian hàng", "Nhà"];

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
];
const MIDDLE: &[&str] = &["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Đức", "Hữu", "Thu"];
const GIVEN: &[&str] = &[
    "An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hòa", "Hương", "Khánh", "Lan",
    "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn",
    "Vy", "Yến",
];
const STREETS: &[&str] = &[
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Hùng Vương",
    "Điện Biên Phủ",
    "Phan Đình Phùng",
    "Lý Thường Kiệt",
    "Hai Bà Trưng",
];

/// What the search scenarios ask for: accented words, their folded forms, two-word phrases.
pub const SEARCH_WORDS: &[&str] = &[
    "trà",
    "tra sen",
    "cà phê",
    "ca phe rang",
    "mật ong",
    "nuoc mam",
    "Đà Lạt",
    "huu co",
    "gạo st25",
    "hạt điều",
];

/// The raw title of product `i` of a shop (before the services' cleaning).
pub fn product_title(i: usize) -> String {
    let base = format!(
        "{} {}",
        KINDS[i % KINDS.len()],
        QUALIFIERS[(i / KINDS.len()) % QUALIFIERS.len()]
    );
    let round = i / (KINDS.len() * QUALIFIERS.len());
    if round == 0 {
        base
    } else {
        format!("{base} {}", round + 1)
    }
}

/// The raw description of product `i`.
pub fn product_description(i: usize) -> String {
    format!(
        "Đặc sản {}: {} được tuyển chọn kỹ, đóng gói cẩn thận.\n\nGiao hàng toàn quốc, \
         đổi trả trong 7 ngày.",
        REGIONS[i % REGIONS.len()],
        KINDS[i % KINDS.len()].to_lowercase()
    )
}

/// The raw name of shop `s` (its number keeps names, and so slugs, distinct).
pub fn shop_name(s: usize) -> String {
    format!(
        "{} {} {}",
        SHOP_WORDS[s % SHOP_WORDS.len()],
        REGIONS[(s / SHOP_WORDS.len()) % REGIONS.len()],
        s + 1
    )
}

pub fn region(s: usize) -> &'static str {
    REGIONS[s % REGIONS.len()]
}

/// A person's full name (owners and customers).
pub fn person(k: usize) -> String {
    format!(
        "{} {} {}",
        FAMILY[k % FAMILY.len()],
        MIDDLE[(k / FAMILY.len()) % MIDDLE.len()],
        GIVEN[(k * 7 / 3) % GIVEN.len()]
    )
}

/// A street address.
pub fn address(k: usize) -> String {
    format!("Số {} đường {}", k % 200 + 1, STREETS[k % STREETS.len()])
}
