//! The 34 provincial-level units in force since 1 July 2025, and the pre-2025 units each was
//! formed from (so an old address maps to its current province). The data is
//! `services/reference/provinces.tsv` (a copy of `shared/domain/provinces.tsv`), compiled in and
//! written to the `provinces` reference tables at every migration.

use std::sync::OnceLock;

use crate::{db::Db, error::Result};

const TSV: &str = include_str!("../reference/provinces.tsv");

/// One current provincial-level unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub full_name: String,
    pub kind: String,
    pub slug: String,
    pub phone_area_code: String,
    pub commune_units: i64,
    /// (old code, old name) of the pre-2025 units merged into this one.
    pub formed_from: Vec<(String, String)>,
}

/// All 34 units, in code order.
pub fn all() -> &'static [Province] {
    static ALL: OnceLock<Vec<Province>> = OnceLock::new();
    ALL.get_or_init(|| parse(TSV))
}

/// The unit with this current code.
pub fn get(code: &str) -> Option<&'static Province> {
    all().iter().find(|p| p.code == code.trim())
}

/// True when `code` is one of the 34 current codes.
pub fn is_valid(code: &str) -> bool {
    get(code).is_some()
}

/// The current unit that a pre-2025 province code now belongs to (e.g. 49 Quảng Nam → 48 Đà Nẵng).
pub fn from_former(old_code: &str) -> Option<&'static Province> {
    all()
        .iter()
        .find(|p| p.formed_from.iter().any(|(c, _)| c == old_code.trim()))
}

fn parse(tsv: &str) -> Vec<Province> {
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 8 {
                return None;
            }
            let formed_from = f[7]
                .split(';')
                .filter_map(|part| {
                    let part = part.trim();
                    let (code, name) = part.split_once(' ')?;
                    Some((code.to_string(), name.trim().to_string()))
                })
                .collect();
            Some(Province {
                code: f[0].to_string(),
                name: f[1].to_string(),
                full_name: f[2].to_string(),
                kind: f[3].to_string(),
                slug: f[4].to_string(),
                phone_area_code: f[5].to_string(),
                commune_units: f[6].parse().unwrap_or(0),
                formed_from,
            })
        })
        .collect()
}

/// Writes the reference rows (idempotent; run after every migration).
pub async fn seed(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    for p in all() {
        sqlx::query(
            "INSERT INTO provinces (code, name, full_name, kind, slug, phone_area_code, commune_units) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, full_name = excluded.full_name, \
             kind = excluded.kind, slug = excluded.slug, phone_area_code = excluded.phone_area_code, \
             commune_units = excluded.commune_units",
        )
        .bind(p.code.clone())
        .bind(p.name.clone())
        .bind(p.full_name.clone())
        .bind(p.kind.clone())
        .bind(p.slug.clone())
        .bind(p.phone_area_code.clone())
        .bind(p.commune_units)
        .execute(&mut *tx)
        .await?;
        for (old_code, old_name) in &p.formed_from {
            sqlx::query(
                "INSERT INTO province_former_units (old_code, old_name, code) VALUES ($1, $2, $3) \
                 ON CONFLICT (old_code) DO UPDATE SET old_name = excluded.old_name, code = excluded.code",
            )
            .bind(old_code.clone())
            .bind(old_name.clone())
            .bind(p.code.clone())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_four_units_and_their_predecessors() {
        assert_eq!(all().len(), 34);
        assert_eq!(get("46").map(|p| p.name.as_str()), Some("Huế"));
        assert_eq!(from_former("02").map(|p| p.code.as_str()), Some("08")); // Hà Giang → Tuyên Quang
        assert_eq!(from_former("49").map(|p| p.code.as_str()), Some("48")); // Quảng Nam → Đà Nẵng
        assert_eq!(from_former("77").map(|p| p.code.as_str()), Some("79"));
        assert!(!is_valid("02"));
        let former: usize = all().iter().map(|p| p.formed_from.len()).sum();
        assert_eq!(former, 63);
    }
}
