//! Image uploads for shops: the type is checked from the file's own bytes (not the name or
//! the header a client claims), the size is limited, and the file is stored under
//! `{data_dir}/uploads/{shop_id}/{id}.{ext}` with a row in `uploads`. Stored files never
//! change, so they can be served with long cache headers.

use std::path::{Path, PathBuf};

use crate::{
    db::Db,
    error::{Error, Result},
    ids::{new_id, now_ms},
    tenancy::{ShopId, ShopScope},
};

/// Largest accepted image.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

/// The image types accepted, by their magic bytes: (content type, extension).
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upload {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    /// Site-relative address: `/uploads/{shop}/{file}`.
    pub url: String,
}

/// Where a shop's uploads live.
pub fn shop_dir(data_dir: &Path, shop: &ShopId) -> PathBuf {
    data_dir.join("uploads").join(shop.as_str())
}

/// Checks and stores an image for a shop (members).
pub async fn store(db: &Db, scope: &ShopScope, data_dir: &Path, bytes: &[u8]) -> Result<Upload> {
    if bytes.is_empty() {
        return Err(Error::user(&["file"], "EMPTY_FILE", "The file is empty."));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Error::user(
            &["file"],
            "FILE_TOO_LARGE",
            "Images are at most 5 MB.",
        ));
    }
    let Some((content_type, ext)) = sniff(bytes) else {
        return Err(Error::user(
            &["file"],
            "UNSUPPORTED_TYPE",
            "Upload a JPEG, PNG, WebP or GIF image.",
        ));
    };
    let id = new_id();
    let file_name = format!("{}.{ext}", id.to_lowercase());
    let dir = shop_dir(data_dir, scope.shop_id());
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(&file_name);
    let tmp = dir.join(format!(".{file_name}.tmp"));
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|e| Error::Internal(format!("cannot write {}: {e}", tmp.display())))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(|e| Error::Internal(format!("cannot store {}: {e}", path.display())))?;
    let res = sqlx::query(
        "INSERT INTO uploads (shop_id, id, file_name, content_type, size, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(scope.shop_id().as_str().to_string())
    .bind(id.clone())
    .bind(file_name.clone())
    .bind(content_type.to_string())
    .bind(bytes.len() as i64)
    .bind(scope.user_id().to_string())
    .bind(now_ms())
    .execute(db.write())
    .await;
    if let Err(e) = res {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e.into());
    }
    Ok(Upload {
        url: format!("/uploads/{}/{file_name}", scope.shop_id()),
        id,
        file_name,
        content_type: content_type.to_string(),
        size: bytes.len() as i64,
    })
}

/// The path and content type of a stored upload, if the name is one we could have made.
pub fn locate(data_dir: &Path, shop: &str, file: &str) -> Option<(PathBuf, &'static str)> {
    let safe = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    };
    if !safe(shop)
        || !safe(file)
        || shop.contains('.')
        || file.starts_with('.')
        || file.matches('.').count() != 1
    {
        return None;
    }
    let content_type = match file.rsplit('.').next()? {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => return None,
    };
    Some((
        shop_dir(data_dir, &ShopId::new(shop)).join(file),
        content_type,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_types_and_refuses_the_rest() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(("image/png", "png")));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(("image/jpeg", "jpg"))
        );
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(("image/webp", "webp")));
        assert_eq!(sniff(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff(b"<html>"), None);
    }

    #[test]
    fn locate_refuses_paths_we_never_make() {
        let d = Path::new("/data");
        assert!(locate(d, "01ABC", "01xyz.png").is_some());
        for (s, f) in [
            ("..", "x.png"),
            ("a", "../x.png"),
            ("a", ".x.png"),
            ("a", "x.svg"),
            ("a/b", "x.png"),
            ("a", "x.png.png"),
        ] {
            assert!(locate(d, s, f).is_none(), "{s}/{f}");
        }
    }
}
