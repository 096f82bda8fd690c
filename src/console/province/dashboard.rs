//! The staff landing (`/console/province`: headline figures and what to do next) and the
//! dashboard (`/console/province/dashboard`): `dashboard::dashboard` drawn as server-side SVG
//! charts ([`crate::console::charts`]): supported enterprises by month, the funnel, breakdowns
//! by ward, sector and programme, and revenue before and after support (consenting firms).

use axum::{extract::Query, response::Response};
use choso_services::{
    support::{dashboard as dash, records},
    text::format_vnd,
};
use serde_json::{Value, json};

use super::{Staff, enterprise::PQuery};
use crate::console::charts::{self, Chart, Datum};

/// Months shown on the monthly chart (the table under it has them all).
const MONTHS_SHOWN: usize = 12;
/// Groups shown on a breakdown chart, largest first.
const GROUPS_SHOWN: usize = 15;

/// `YYYY-MM` → months since year 0.
fn month_index(key: &str) -> Option<i64> {
    let (y, m) = key.split_once('-')?;
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

/// The monthly series with the months in between filled with zeros: `(YYYY-MM, value)`.
pub fn monthly(groups: &[dash::Group]) -> Vec<(String, i64)> {
    let mut known: Vec<(i64, i64)> = groups
        .iter()
        .filter_map(|g| Some((month_index(&g.key)?, g.supported_enterprises)))
        .collect();
    known.sort();
    let (Some(first), Some(last)) = (known.first(), known.last()) else {
        return Vec::new();
    };
    (first.0..=last.0)
        .map(|i| {
            let v = known.iter().filter(|(k, _)| *k == i).map(|(_, v)| v).sum();
            (format!("{:04}-{:02}", i / 12, i % 12 + 1), v)
        })
        .collect()
}

fn headline(d: &dash::Dashboard) -> Value {
    json!({
        "enterprises": d.enterprises,
        "supported": d.supported_enterprises,
        "live_store": d.with_live_store,
        "online_orders": d.with_online_orders,
        "orders_after": d.orders_after_support,
        "revenue_after": format_vnd(d.revenue_after_support),
    })
}

pub async fn landing(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    let d = match dash::dashboard(&st.st.db, st.user(), &province).await {
        Ok(d) => d,
        Err(e) => return st.fail(e),
    };
    let progs = match records::programmes(&st.st.db, st.user(), &province).await {
        Ok(p) => p,
        Err(e) => return st.fail(e),
    };
    let remaining: i64 = progs.iter().map(|p| p.remaining()).sum();
    st.show(
        "province/home.html",
        &province,
        json!({ "figures": headline(&d), "programmes": progs.len(), "remaining": format_vnd(remaining) }),
    )
}

fn group_rows(groups: &[dash::Group], label: impl Fn(&dash::Group) -> String) -> Vec<Value> {
    groups
        .iter()
        .map(|g| {
            json!({ "label": label(g), "enterprises": g.enterprises, "supported": g.supported_enterprises,
                    "records": g.records, "subsidy": format_vnd(g.subsidy) })
        })
        .collect()
}

/// The largest groups by supported enterprises (then enterprises), as chart data.
fn top(groups: &[dash::Group], label: impl Fn(&dash::Group) -> String) -> Vec<Datum> {
    let mut g: Vec<&dash::Group> = groups.iter().collect();
    g.sort_by(|a, b| {
        (b.supported_enterprises, b.enterprises).cmp(&(a.supported_enterprises, a.enterprises))
    });
    g.into_iter()
        .take(GROUPS_SHOWN)
        .map(|x| Datum::count(label(x), x.supported_enterprises))
        .collect()
}

pub async fn dashboard(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    let d = match dash::dashboard(&st.st.db, st.user(), &province).await {
        Ok(d) => d,
        Err(e) => return st.fail(e),
    };
    let t = |k: &str| {
        st.text(&format!("province.dashboard.{k}"))
            .unwrap_or_default()
    };
    let empty = t("empty");
    let unknown = t("unknown");
    let (month_t, ward_t, sector_t, funnel_t, prog_t, rev_t, ord_t) = (
        t("by_month"),
        t("by_ward"),
        t("by_sector"),
        t("funnel"),
        t("by_programme"),
        t("revenue_before_after"),
        t("orders_before_after"),
    );
    let (month_h, ward_h, sector_h, step_h, prog_h, period_h) = (
        t("month"),
        t("ward"),
        t("sector"),
        t("step"),
        t("programme"),
        t("period"),
    );
    let (supported_h, count_h, subsidy_h, revenue_h, orders_h) = (
        t("supported"),
        t("count"),
        t("subsidy"),
        t("revenue"),
        t("orders"),
    );

    // Supported enterprises by month.
    let series = monthly(&d.breakdowns.by_month);
    let month_data: Vec<Datum> = series
        .iter()
        .skip(series.len().saturating_sub(MONTHS_SHOWN))
        .map(|(k, v)| {
            let (y, m) = k.split_once('-').unwrap_or((k, ""));
            Datum::count(format!("{m}/{y}"), *v).short(format!(
                "{}/{}",
                m.trim_start_matches('0'),
                y.get(2..).unwrap_or(y)
            ))
        })
        .collect();
    let by_month = charts::bars(
        &Chart {
            id: "chart-month",
            title: &month_t,
            label_header: &month_h,
            value_header: &supported_h,
            empty: &empty,
        },
        &month_data,
    );
    // The funnel.
    let f = &d.funnel;
    let steps = [
        ("supported", f.supported),
        ("shop_created", f.shop_created),
        ("published", f.published),
        ("first_order", f.first_order),
        ("repeat_orders", f.repeat_orders),
    ];
    let funnel_data: Vec<Datum> = steps
        .iter()
        .map(|(k, v)| Datum::count(t(&format!("step_{k}")), *v))
        .collect();
    let funnel = charts::funnel(
        &Chart {
            id: "chart-funnel",
            title: &funnel_t,
            label_header: &step_h,
            value_header: &count_h,
            empty: &empty,
        },
        &funnel_data,
    );
    // Breakdowns.
    let ward_label = |g: &dash::Group| {
        if g.key.is_empty() {
            unknown.clone()
        } else {
            g.label.clone()
        }
    };
    let sector_label = |g: &dash::Group| {
        if g.key.is_empty() {
            unknown.clone()
        } else {
            format!("{} – {}", g.key, g.label)
        }
    };
    let prog_label = |g: &dash::Group| {
        if g.key.is_empty() {
            t("no_programme")
        } else {
            g.label.clone()
        }
    };
    let by_ward = charts::hbars(
        &Chart {
            id: "chart-ward",
            title: &ward_t,
            label_header: &ward_h,
            value_header: &supported_h,
            empty: &empty,
        },
        &top(&d.breakdowns.by_ward, ward_label),
    );
    let by_sector = charts::hbars(
        &Chart {
            id: "chart-sector",
            title: &sector_t,
            label_header: &sector_h,
            value_header: &supported_h,
            empty: &empty,
        },
        &top(&d.breakdowns.by_sector, sector_label),
    );
    let mut progs: Vec<&dash::Group> = d.breakdowns.by_programme.iter().collect();
    progs.sort_by_key(|g| std::cmp::Reverse(g.subsidy));
    let prog_data: Vec<Datum> = progs
        .iter()
        .take(GROUPS_SHOWN)
        .map(|g| Datum::money(prog_label(g), g.subsidy))
        .collect();
    let by_programme = charts::hbars(
        &Chart {
            id: "chart-programme",
            title: &prog_t,
            label_header: &prog_h,
            value_header: &subsidy_h,
            empty: &empty,
        },
        &prog_data,
    );
    // Before and after the first support (consenting firms).
    let ba = &d.before_after;
    let (before_l, after_l) = (t("before"), t("after"));
    let revenue = charts::hbars(
        &Chart {
            id: "chart-revenue",
            title: &rev_t,
            label_header: &period_h,
            value_header: &revenue_h,
            empty: &empty,
        },
        &[
            Datum::money(before_l.clone(), ba.revenue_before).tone(2),
            Datum::money(after_l.clone(), ba.revenue_after),
        ],
    );
    let orders = charts::hbars(
        &Chart {
            id: "chart-orders",
            title: &ord_t,
            label_header: &period_h,
            value_header: &orders_h,
            empty: &empty,
        },
        &[
            Datum::count(before_l, ba.orders_before).tone(2),
            Datum::count(after_l, ba.orders_after),
        ],
    );
    let change = (ba.revenue_before > 0).then(|| {
        let pct = (ba.revenue_after - ba.revenue_before) * 100 / ba.revenue_before;
        if pct >= 0 {
            format!("+{pct} %")
        } else {
            format!("{pct} %")
        }
    });
    st.show(
        "province/dashboard.html",
        &province,
        json!({
            "figures": headline(&d),
            "charts": { "by_month": by_month, "funnel": funnel, "by_ward": by_ward, "by_sector": by_sector,
                        "by_programme": by_programme, "revenue": revenue, "orders": orders },
            "before_after": { "enterprises": ba.enterprises, "window_days": ba.window_days, "change": change },
            "tables": {
                "by_ward": group_rows(&d.breakdowns.by_ward, ward_label),
                "by_sector": group_rows(&d.breakdowns.by_sector, sector_label),
                "by_size": group_rows(&d.breakdowns.by_size, |g| if g.key.is_empty() { unknown.clone() } else { g.label.clone() }),
                "by_kind": group_rows(&d.breakdowns.by_kind, |g| st.label("kinds", &g.key, &g.label)),
                "by_month": series.iter().map(|(k, v)| json!({ "label": k, "supported": v })).collect::<Vec<_>>(),
            },
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(key: &str, n: i64) -> dash::Group {
        dash::Group {
            key: key.into(),
            label: key.into(),
            enterprises: n,
            supported_enterprises: n,
            records: n,
            subsidy: 0,
        }
    }

    #[test]
    fn months_between_are_zero() {
        let s = monthly(&[g("2025-11", 2), g("2026-02", 1), g("bad", 9)]);
        assert_eq!(
            s,
            vec![
                ("2025-11".to_string(), 2),
                ("2025-12".to_string(), 0),
                ("2026-01".to_string(), 0),
                ("2026-02".to_string(), 1),
            ]
        );
        assert!(monthly(&[]).is_empty());
        assert_eq!(month_index("2025-13"), None);
    }
}
