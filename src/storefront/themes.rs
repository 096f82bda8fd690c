//! Storefront themes: minijinja templates, static assets with content-hashed names, and
//! locale tables, embedded in the binary from `themes/` (or read from `CHOSO_THEMES_DIR` on
//! every request, for theme development). Template names resolve inside the theme first,
//! then in `themes/_shared/templates/`. The back-office console's bundle
//! (`themes/console/`, no `theme.toml`) is loaded by the same code: [`Themes::console`].

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
};

use include_dir::{Dir, include_dir};
use minijinja::Environment;
use sha2::{Digest, Sha256};

static EMBEDDED: Dir = include_dir!("$CARGO_MANIFEST_DIR/themes");

/// One static file of a theme.
pub struct Asset {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
}

impl Asset {
    /// The asset as an answer: its names carry a content hash, so it may be kept forever.
    pub fn immutable_response(&self) -> axum::response::Response {
        use axum::{http::header, response::IntoResponse};
        (
            [
                (header::CONTENT_TYPE, self.mime),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            self.bytes.clone(),
        )
            .into_response()
    }
}

/// A theme ready to render.
pub struct Theme {
    pub name: String,
    pub title: String,
    pub default_primary: String,
    pub default_accent: String,
    env: Environment<'static>,
    /// hashed file name → asset
    assets: HashMap<String, Asset>,
    /// file name in `static/` → hashed URL
    pub asset_urls: BTreeMap<String, String>,
    locales: HashMap<String, serde_json::Value>,
}

impl Theme {
    pub fn render(
        &self,
        template: &str,
        ctx: minijinja::Value,
    ) -> Result<String, minijinja::Error> {
        self.env.get_template(template)?.render(ctx)
    }
    /// The locale table for `lang` (falls back to Vietnamese).
    pub fn locale(&self, lang: &str) -> serde_json::Value {
        self.locales
            .get(lang)
            .or_else(|| self.locales.get("vi"))
            .cloned()
            .unwrap_or_default()
    }
    pub fn asset(&self, hashed: &str) -> Option<&Asset> {
        self.assets.get(hashed)
    }
}

/// Where themes come from.
#[derive(Clone)]
pub enum Source {
    Embedded,
    Dir(PathBuf),
}

/// The theme registry.
#[derive(Clone)]
pub struct Themes {
    source: Source,
    loaded: Arc<HashMap<String, Arc<Theme>>>,
    console: Option<Arc<Theme>>,
}

fn mime(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// All files as (path relative to the themes folder, bytes).
fn files(source: &Source) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    match source {
        Source::Embedded => {
            fn walk(d: &Dir<'_>, out: &mut Vec<(String, Vec<u8>)>) {
                for f in d.files() {
                    out.push((
                        f.path().to_string_lossy().replace('\\', "/"),
                        f.contents().to_vec(),
                    ));
                }
                for sub in d.dirs() {
                    walk(sub, out);
                }
            }
            walk(&EMBEDDED, &mut out);
        }
        Source::Dir(root) => {
            fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
                let Ok(rd) = std::fs::read_dir(d) else { return };
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(root, &p, out);
                    } else if let (Ok(rel), Ok(bytes)) = (p.strip_prefix(root), std::fs::read(&p)) {
                        out.push((rel.to_string_lossy().replace('\\', "/"), bytes));
                    }
                }
            }
            walk(root, root, &mut out);
        }
    }
    out
}

fn toml_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn load_all(source: &Source) -> HashMap<String, Arc<Theme>> {
    let all = files(source);
    let mut by_theme: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for (path, bytes) in all {
        if let Some((theme, rest)) = path.split_once('/') {
            by_theme
                .entry(theme.to_string())
                .or_default()
                .push((rest.to_string(), bytes));
        }
    }
    let shared: HashMap<String, String> = by_theme
        .get("_shared")
        .map(|fs| {
            fs.iter()
                .filter_map(|(p, b)| {
                    Some((
                        p.strip_prefix("templates/")?.to_string(),
                        String::from_utf8_lossy(b).into_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let shared_static: HashMap<String, Vec<u8>> = by_theme
        .get("_shared")
        .map(|fs| {
            fs.iter()
                .filter_map(|(p, b)| Some((p.strip_prefix("static/")?.to_string(), b.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut out = HashMap::new();
    for (name, fs) in &by_theme {
        let Some(toml) = fs
            .iter()
            .find(|(p, _)| p == "theme.toml")
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        else {
            continue;
        };
        let mut theme = build(
            name,
            fs,
            shared.clone(),
            &shared_static,
            &format!("/static/themes/{name}"),
        );
        theme.title = toml_value(&toml, "title").unwrap_or_else(|| name.clone());
        if let Some(p) = toml_value(&toml, "default_primary") {
            theme.default_primary = p;
        }
        if let Some(a) = toml_value(&toml, "default_accent") {
            theme.default_accent = a;
        }
        out.insert(name.clone(), Arc::new(theme));
    }
    out
}

/// One bundle of templates, static files (served under `url_prefix` with hashed names) and
/// locale tables: a storefront theme, or the console (`themes/console/`).
fn build(
    name: &str,
    fs: &[(String, Vec<u8>)],
    mut templates: HashMap<String, String>,
    shared_static: &HashMap<String, Vec<u8>>,
    url_prefix: &str,
) -> Theme {
    let mut assets = HashMap::new();
    let mut asset_urls = BTreeMap::new();
    let mut locales = HashMap::new();
    for (p, b) in fs {
        if let Some(t) = p.strip_prefix("templates/") {
            templates.insert(t.to_string(), String::from_utf8_lossy(b).into_owned());
        } else if let Some(file) = p.strip_prefix("static/") {
            let expanded = if file.ends_with(".css") {
                expand_includes(b, shared_static)
            } else {
                b.clone()
            };
            let b = &expanded;
            let hash = crate::storefront::security::hex(&Sha256::digest(b)[..5]);
            let hashed = match file.rsplit_once('.') {
                Some((stem, ext)) => format!("{}.{hash}.{ext}", stem.replace('/', "-")),
                None => format!("{file}.{hash}"),
            };
            asset_urls.insert(file.to_string(), format!("{url_prefix}/{hashed}"));
            assets.insert(
                hashed,
                Asset {
                    bytes: b.clone(),
                    mime: mime(file),
                },
            );
        } else if let Some(l) = p
            .strip_prefix("locales/")
            .and_then(|l| l.strip_suffix(".json"))
        {
            match serde_json::from_slice(b) {
                Ok(v) => {
                    locales.insert(l.to_string(), v);
                }
                Err(e) => {
                    tracing::error!(theme = %name, locale = l, error = %e, "bad locale file")
                }
            }
        }
    }
    merge_locale_parts(&mut locales);
    let mut env = Environment::new();
    let templates = Arc::new(templates);
    env.set_loader(move |n| Ok(templates.get(n).cloned()));
    env.set_auto_escape_callback(|n| {
        if n.ends_with(".html") || n.ends_with(".xml") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.set_recursion_limit(50);
    env.set_formatter(html_formatter);
    Theme {
        name: name.to_string(),
        title: name.to_string(),
        default_primary: "#8a3b12".into(),
        default_accent: "#d9a441".into(),
        env,
        assets,
        asset_urls,
        locales,
    }
}

/// Locale parts: `locales/{part}.{lang}.json` (e.g. `province.vi.json`) goes into the `{lang}`
/// table under the key `{part}`, so one area's strings can live in their own file.
fn merge_locale_parts(locales: &mut HashMap<String, serde_json::Value>) {
    let parts: Vec<String> = locales
        .keys()
        .filter(|k| k.contains('.'))
        .cloned()
        .collect();
    for name in parts {
        let Some((part, lang)) = name.rsplit_once('.') else {
            continue;
        };
        let Some(v) = locales.remove(&name) else {
            continue;
        };
        if let Some(serde_json::Value::Object(table)) = locales.get_mut(lang) {
            table.insert(part.to_string(), v);
        }
    }
}

/// The console bundle (`themes/console/`: templates, static, locales), its assets served
/// under `/console/static/`.
fn load_console(source: &Source) -> Option<Theme> {
    let fs: Vec<(String, Vec<u8>)> = files(source)
        .into_iter()
        .filter_map(|(p, b)| Some((p.strip_prefix("console/")?.to_string(), b)))
        .collect();
    if fs.is_empty() {
        return None;
    }
    Some(build(
        "console",
        &fs,
        HashMap::new(),
        &HashMap::new(),
        "/console/static",
    ))
}

/// Escapes `& < > " '` in strings under HTML autoescape (minijinja's default also escapes
/// `/`, which is valid but makes every URL unreadable); everything else as minijinja does.
fn html_formatter(
    out: &mut minijinja::Output<'_>,
    state: &mut minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match (state.auto_escape(), value.as_str()) {
        (minijinja::AutoEscape::Html, Some(s)) if !value.is_safe() => {
            let mut escaped = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#39;"),
                    c => escaped.push(c),
                }
            }
            out.write_str(&escaped).map_err(|_| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed")
            })
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Replaces each line `/*! include NAME */` of a stylesheet with `themes/_shared/static/NAME`,
/// in place, so rules every theme shares live once and each theme keeps its cascade order.
fn expand_includes(css: &[u8], shared: &HashMap<String, Vec<u8>>) -> Vec<u8> {
    let text = String::from_utf8_lossy(css);
    let mut out = String::with_capacity(css.len());
    for line in text.split_inclusive('\n') {
        let name = line
            .trim()
            .strip_prefix("/*! include ")
            .and_then(|r| r.strip_suffix("*/"))
            .map(str::trim);
        match name.and_then(|n| shared.get(n)) {
            Some(inc) => {
                out.push_str(&String::from_utf8_lossy(inc));
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => {
                if let Some(n) = name {
                    tracing::error!(
                        file = n,
                        "stylesheet includes a file that themes/_shared/static does not have"
                    );
                }
                out.push_str(line);
            }
        }
    }
    out.into_bytes()
}

impl Themes {
    /// Embedded themes, or the folder in `CHOSO_THEMES_DIR`.
    pub fn from_env() -> Themes {
        match std::env::var("CHOSO_THEMES_DIR") {
            Ok(d) if !d.is_empty() => Themes::new(Source::Dir(d.into())),
            _ => Themes::new(Source::Embedded),
        }
    }

    pub fn new(source: Source) -> Themes {
        let loaded = Arc::new(load_all(&source));
        let console = load_console(&source).map(Arc::new);
        Themes {
            source,
            loaded,
            console,
        }
    }

    /// Whether the themes are the ones built into the binary (not re-read from a folder).
    pub fn is_embedded(&self) -> bool {
        matches!(self.source, Source::Embedded)
    }

    /// A theme by name (re-read from disk each time when developing from a folder).
    pub fn get(&self, name: &str) -> Option<Arc<Theme>> {
        match &self.source {
            Source::Embedded => self.loaded.get(name).cloned(),
            Source::Dir(_) => load_all(&self.source).remove(name),
        }
    }

    /// The console's templates, static files and locales (re-read from disk each time when
    /// developing from a folder).
    pub fn console(&self) -> Option<Arc<Theme>> {
        match &self.source {
            Source::Embedded => self.console.clone(),
            Source::Dir(_) => load_console(&self.source).map(Arc::new),
        }
    }

    /// The names of the available themes.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.loaded.keys().cloned().collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_rules_are_inlined_in_every_theme() {
        let themes = Themes::new(Source::Embedded);
        for name in ["warm", "grid", "minimal"] {
            let t = themes.get(name).expect("theme");
            let url = t.asset_urls.get("theme.css").expect("theme.css");
            let hashed = url.rsplit('/').next().unwrap();
            let css = String::from_utf8(t.asset(hashed).unwrap().bytes.clone()).unwrap();
            assert!(!css.contains("/*! include"), "{name}: include expanded");
            assert!(
                css.contains("/* ---- Checkout"),
                "{name}: shared rules present"
            );
            let base = css.find("/* ---- Base").unwrap();
            let order = css.find("/* ---- Order").unwrap();
            assert!(base < order, "{name}: shared rules keep their place");
        }
    }

    #[test]
    fn unknown_includes_stay_as_comments() {
        let out = expand_includes(b"a{}\n/*! include nope.css */\nb{}\n", &HashMap::new());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a{}\n/*! include nope.css */\nb{}\n"
        );
    }
}
