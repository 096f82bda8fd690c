//! Charts drawn on the server as inline SVG, for pages that people would rather look at than
//! read: vertical bars ([`bars`], e.g. a series by month), horizontal bars ([`hbars`], e.g.
//! breakdowns with long labels) and a funnel ([`funnel`]). No JavaScript and no chart library.
//!
//! Every chart is a `<figure>` whose `<svg>` has `role="img"`, an `aria-label`, a `<title>`
//! and a `<desc>` listing the values, followed by the same data as a visually hidden table for
//! screen readers (class `visually-hidden`). Scales start at zero and end at a round number
//! (1, 2 or 5 × 10ⁿ) at or above the largest value; all-zero data draws empty bars on a scale
//! of 1. Every label is escaped. Colours are presentation attributes (the page's CSP allows no
//! inline styles) that print as drawn.

use std::fmt::Write;

/// One value of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datum {
    /// The full label (table, tooltip).
    pub label: String,
    /// A short label for narrow axes (vertical bars); the full label when `None`.
    pub short: Option<String>,
    pub value: i64,
    /// The value as people read it (`1.250.000 ₫`, `12`).
    pub shown: String,
    /// Colour: 0 the brand green, 1 amber, 2 grey.
    pub tone: u8,
}

impl Datum {
    /// A count, shown with `.` thousands separators.
    pub fn count(label: impl Into<String>, value: i64) -> Datum {
        Datum {
            label: label.into(),
            short: None,
            value,
            shown: group_thousands(value),
            tone: 0,
        }
    }

    /// An amount of đồng, shown as `150.000 ₫`.
    pub fn money(label: impl Into<String>, value: i64) -> Datum {
        Datum {
            label: label.into(),
            short: None,
            value,
            shown: choso_services::text::format_vnd(value),
            tone: 0,
        }
    }

    pub fn short(mut self, s: impl Into<String>) -> Datum {
        self.short = Some(s.into());
        self
    }

    pub fn tone(mut self, t: u8) -> Datum {
        self.tone = t;
        self
    }
}

/// What a chart says about itself.
#[derive(Debug, Clone, Copy)]
pub struct Chart<'a> {
    /// A document-unique id prefix (`[a-z0-9-]`).
    pub id: &'a str,
    pub title: &'a str,
    /// Column headers of the data table.
    pub label_header: &'a str,
    pub value_header: &'a str,
    /// Shown instead of a chart when there is no data.
    pub empty: &'a str,
}

const WIDTH: f64 = 480.0;
const TONES: [&str; 3] = ["#0b6e4f", "#c77d0a", "#7a8691"];

/// `&`, `<`, `>`, `"` and `'` escaped for HTML and SVG text and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1234567` → `1.234.567`.
pub fn group_thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let n = digits.len();
    let mut out = String::with_capacity(n + n / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// The top of the scale: the smallest 1, 2 or 5 × 10ⁿ at or above `max` (1 for no positive
/// value, so all-zero data draws flat bars).
pub fn nice_max(max: i64) -> i64 {
    if max <= 1 {
        return 1;
    }
    let mut pow: i64 = 1;
    while pow <= max / 10 {
        pow *= 10;
    }
    for m in [1, 2, 5, 10] {
        if let Some(top) = pow.checked_mul(m)
            && top >= max
        {
            return top;
        }
    }
    max
}

/// Cuts a label to `max` characters, with `…`.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn tone(t: u8) -> &'static str {
    TONES[usize::from(t) % TONES.len()]
}

fn scale(value: i64, top: i64, length: f64) -> f64 {
    if value <= 0 || top <= 0 {
        0.0
    } else {
        (value as f64 / top as f64 * length).min(length)
    }
}

/// The opening of the figure and the SVG (with its title and description).
fn open(c: &Chart, kind: &str, height: f64, data: &[Datum], extra: &[String]) -> String {
    let desc: Vec<String> = data
        .iter()
        .zip(extra.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(d, x)| match x {
            Some(x) => format!("{}: {} {}", d.label, d.shown, x),
            None => format!("{}: {}", d.label, d.shown),
        })
        .collect();
    format!(
        "<figure class=\"chart chart-{kind}\" id=\"{id}\">\n<figcaption>{title}</figcaption>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" role=\"img\" \
         aria-label=\"{title}\" aria-describedby=\"{id}-desc\" preserveAspectRatio=\"xMinYMin meet\" \
         font-family=\"system-ui, sans-serif\" font-size=\"13\" fill=\"#1d2327\">\n\
         <title>{title}</title>\n<desc id=\"{id}-desc\">{desc}</desc>\n",
        id = esc(c.id),
        title = esc(c.title),
        desc = esc(&desc.join("; ")),
    )
}

/// The visually hidden data table, and the end of the figure.
fn close(c: &Chart, data: &[Datum], extra: Option<(&str, &[String])>) -> String {
    let mut t = format!(
        "</svg>\n<table class=\"visually-hidden\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
        esc(c.title),
        esc(c.label_header),
        esc(c.value_header)
    );
    if let Some((h, _)) = extra {
        let _ = write!(t, "<th scope=\"col\">{}</th>", esc(h));
    }
    t.push_str("</tr></thead><tbody>");
    for (i, d) in data.iter().enumerate() {
        let _ = write!(
            t,
            "<tr><th scope=\"row\">{}</th><td>{}</td>",
            esc(&d.label),
            esc(&d.shown)
        );
        if let Some((_, xs)) = extra {
            let _ = write!(
                t,
                "<td>{}</td>",
                esc(xs.get(i).map(String::as_str).unwrap_or(""))
            );
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>\n</figure>");
    t
}

fn empty(c: &Chart, kind: &str) -> String {
    format!(
        "<figure class=\"chart chart-{kind}\" id=\"{}\">\n<figcaption>{}</figcaption>\n<p class=\"chart-empty\">{}</p>\n</figure>",
        esc(c.id),
        esc(c.title),
        esc(c.empty)
    )
}

/// Vertical bars, in the order given (a series over time), with a scale on the left.
pub fn bars(c: &Chart, data: &[Datum]) -> String {
    if data.is_empty() {
        return empty(c, "bars");
    }
    let (left, right, top_pad, bottom) = (44.0, 8.0, 22.0, 30.0);
    let plot_h = 180.0;
    let height = top_pad + plot_h + bottom;
    let plot_w = WIDTH - left - right;
    let top = nice_max(data.iter().map(|d| d.value).max().unwrap_or(0));
    let mut s = open(c, "bars", height, data, &[]);
    // Scale: 0, the middle when it is a whole number, the top.
    let mut ticks = vec![0, top];
    if top % 2 == 0 {
        ticks.insert(1, top / 2);
    }
    for t in ticks {
        let y = top_pad + plot_h - scale(t, top, plot_h);
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#d5dbe0\" stroke-width=\"1\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#5b6770\">{label}</text>",
            x2 = WIDTH - right,
            tx = left - 6.0,
            ty = y + 4.0,
            label = esc(&group_thousands(t)),
        );
    }
    let slot = plot_w / data.len() as f64;
    let bar_w = (slot * 0.7).clamp(1.0, 56.0);
    let label_every = (data.len() as f64 * 34.0 / plot_w).ceil().max(1.0) as usize;
    for (i, d) in data.iter().enumerate() {
        let h = scale(d.value, top, plot_h);
        let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
        let y = top_pad + plot_h - h;
        let cx = x + bar_w / 2.0;
        let _ = write!(
            s,
            "<g class=\"bar\"><title>{full}: {shown}</title>\
             <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" rx=\"2\" fill=\"{fill}\"/>",
            full = esc(&d.label),
            shown = esc(&d.shown),
            fill = tone(d.tone),
        );
        if slot >= 18.0 {
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{vy:.1}\" text-anchor=\"middle\" font-size=\"11\">{shown}</text>",
                vy = y - 5.0,
                shown = esc(&d.shown),
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#5b6770\">{l}</text>",
                ly = top_pad + plot_h + 18.0,
                l = esc(&clip(d.short.as_deref().unwrap_or(&d.label), 10)),
            );
        }
        s.push_str("</g>\n");
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#5b6770\" stroke-width=\"1\"/>",
        x2 = WIDTH - right,
        y = top_pad + plot_h
    );
    s.push_str(&close(c, data, None));
    s
}

/// Horizontal bars, one row each: the label above its bar, the value at the right.
pub fn hbars(c: &Chart, data: &[Datum]) -> String {
    if data.is_empty() {
        return empty(c, "hbars");
    }
    rows(c, "hbars", data, &[], false)
}

/// A funnel: the steps in order, each bar centred and as wide as its count, with its share of
/// the first step.
pub fn funnel(c: &Chart, data: &[Datum]) -> String {
    if data.is_empty() {
        return empty(c, "funnel");
    }
    let first = data[0].value;
    let shares: Vec<String> = data
        .iter()
        .map(|d| {
            if first > 0 {
                format!("({} %)", (d.value * 100 + first / 2) / first)
            } else {
                String::new()
            }
        })
        .collect();
    rows(c, "funnel", data, &shares, true)
}

fn rows(c: &Chart, kind: &str, data: &[Datum], extra: &[String], centred: bool) -> String {
    let row_h = 46.0;
    let bar_h = 18.0;
    let height = row_h * data.len() as f64 + 4.0;
    let top = nice_max(data.iter().map(|d| d.value).max().unwrap_or(0));
    // Bars of a funnel are as wide as their share of the widest step, not of a round scale.
    let top = if centred {
        data.iter().map(|d| d.value).max().unwrap_or(0).max(1)
    } else {
        top
    };
    let mut s = open(c, kind, height, data, extra);
    for (i, d) in data.iter().enumerate() {
        let y0 = row_h * i as f64;
        let w = scale(d.value, top, WIDTH);
        let x = if centred { (WIDTH - w) / 2.0 } else { 0.0 };
        let value = match extra.get(i).filter(|x| !x.is_empty()) {
            Some(x) => format!("{} {x}", d.shown),
            None => d.shown.clone(),
        };
        let _ = writeln!(
            s,
            "<g class=\"bar\"><title>{full}: {value}</title>\
             <text x=\"0\" y=\"{ly:.1}\" font-size=\"13\">{label}</text>\
             <text x=\"{WIDTH}\" y=\"{ly:.1}\" text-anchor=\"end\" font-size=\"13\" font-weight=\"700\">{value}</text>\
             <rect x=\"0\" y=\"{by:.1}\" width=\"{WIDTH}\" height=\"{bar_h}\" rx=\"3\" fill=\"#eef1f3\"/>\
             <rect x=\"{x:.1}\" y=\"{by:.1}\" width=\"{w:.1}\" height=\"{bar_h}\" rx=\"3\" fill=\"{fill}\"/></g>",
            full = esc(&d.label),
            value = esc(&value),
            ly = y0 + 16.0,
            by = y0 + 22.0,
            label = esc(&clip(&d.label, 44)),
            fill = tone(d.tone),
        );
    }
    s.push_str(&close(c, data, (!extra.is_empty()).then_some(("%", extra))));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Chart = Chart {
        id: "c1",
        title: "Doanh nghiệp được hỗ trợ",
        label_header: "Tháng",
        value_header: "Số doanh nghiệp",
        empty: "Chưa có số liệu",
    };

    /// The numeric attribute `name` of every `<rect>` drawn as a bar (not the grey tracks).
    fn bar_attr(svg: &str, name: &str) -> Vec<f64> {
        svg.split("<rect ")
            .skip(1)
            .filter(|r| !r.contains("#eef1f3"))
            .filter_map(|r| {
                let i = r.find(&format!("{name}=\""))? + name.len() + 2;
                r[i..].split('"').next()?.parse().ok()
            })
            .collect()
    }

    #[test]
    fn round_scales() {
        assert_eq!(nice_max(-3), 1);
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(1), 1);
        assert_eq!(nice_max(2), 2);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(10), 10);
        assert_eq!(nice_max(12), 20);
        assert_eq!(nice_max(150), 200);
        assert_eq!(nice_max(1_250_000), 2_000_000);
        assert_eq!(nice_max(i64::MAX), i64::MAX);
        assert_eq!(group_thousands(1_234_567), "1.234.567");
        assert_eq!(group_thousands(-5000), "-5.000");
        assert_eq!(group_thousands(0), "0");
    }

    #[test]
    fn bars_scale_to_the_round_top() {
        let data = [
            Datum::count("2025-01", 3).short("1/25"),
            Datum::count("2025-02", 0),
            Datum::count("2025-03", 10),
        ];
        let svg = bars(&C, &data);
        let h = bar_attr(&svg, "height");
        assert_eq!(h, vec![54.0, 0.0, 180.0], "{svg}");
        assert!(svg.contains(">1/25</text>"), "short labels on the axis");
        assert!(svg.contains("<th scope=\"row\">2025-01</th><td>3</td>"));
        assert!(svg.contains(">10</text>"), "the scale's top");
    }

    #[test]
    fn all_zero_data_draws_flat_bars() {
        let data = [Datum::count("a", 0), Datum::count("b", 0)];
        for svg in [bars(&C, &data), hbars(&C, &data), funnel(&C, &data)] {
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
            let lens: Vec<f64> = bar_attr(&svg, "height")
                .into_iter()
                .chain(bar_attr(&svg, "width"))
                .collect();
            assert!(lens.iter().all(|v| v.is_finite()), "{svg}");
            assert!(svg.contains("<svg"), "still a chart");
        }
        let h = bar_attr(&bars(&C, &data), "height");
        assert_eq!(h, vec![0.0, 0.0]);
        let w = bar_attr(&hbars(&C, &data), "width");
        assert_eq!(w, vec![0.0, 0.0]);
        assert!(
            !funnel(&C, &data).contains("(0 %)"),
            "no share of an empty first step"
        );
    }

    #[test]
    fn horizontal_bars_are_proportional() {
        let data = [
            Datum::money("Trước hỗ trợ", 250_000),
            Datum::money("Sau hỗ trợ", 1_000_000).tone(1),
        ];
        let svg = hbars(&C, &data);
        assert_eq!(bar_attr(&svg, "width"), vec![120.0, 480.0]);
        assert!(svg.contains("1.000.000\u{a0}₫"));
        assert!(svg.contains(TONES[1]));
    }

    #[test]
    fn funnel_shows_shares_of_the_first_step() {
        let data = [
            Datum::count("Được hỗ trợ", 8),
            Datum::count("Có cửa hàng", 4),
            Datum::count("Có đơn đầu tiên", 1),
        ];
        let svg = funnel(&C, &data);
        assert!(svg.contains("8 (100 %)") && svg.contains("4 (50 %)") && svg.contains("1 (13 %)"));
        assert_eq!(bar_attr(&svg, "width"), vec![480.0, 240.0, 60.0]);
        // Centred.
        assert_eq!(bar_attr(&svg, "x"), vec![0.0, 120.0, 210.0]);
        assert!(svg.contains("<td>(50 %)</td>"));
    }

    #[test]
    fn labels_are_escaped_and_charts_accessible() {
        let data = [Datum::count("<script>alert('x')</script> & co", 5)];
        for svg in [bars(&C, &data), hbars(&C, &data), funnel(&C, &data)] {
            assert!(!svg.contains("<script>"), "{svg}");
            assert!(svg.contains("&lt;script&gt;alert(&#39;x&#39;)"));
            assert!(svg.contains("&amp; co"));
            assert!(svg.contains("role=\"img\""));
            assert!(svg.contains("aria-label=\"Doanh nghiệp được hỗ trợ\""));
            assert!(svg.contains("<title>Doanh nghiệp được hỗ trợ</title>"));
            assert!(svg.contains("<desc id=\"c1-desc\">"));
            assert!(svg.contains("<table class=\"visually-hidden\"><caption>"));
            assert!(!svg.contains("style="), "no inline styles (CSP)");
        }
    }

    #[test]
    fn no_data_says_so() {
        let html = bars(&C, &[]);
        assert!(html.contains("Chưa có số liệu") && !html.contains("<svg"));
        assert!(hbars(&C, &[]).contains("chart-empty"));
        assert!(funnel(&C, &[]).contains("chart-empty"));
    }

    #[test]
    fn long_labels_are_clipped_on_the_chart_but_whole_in_the_table() {
        let long = "Hoạt động của Đảng Cộng sản, tổ chức chính trị - xã hội, quản lý nhà nước";
        let svg = hbars(&C, &[Datum::count(long, 1)]);
        assert!(svg.contains(&format!("<th scope=\"row\">{}</th>", esc(long))));
        assert!(svg.contains('…'));
    }
}
