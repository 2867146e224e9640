//! The report for people: one column per user (and one for all of them when there are
//! several), one row per figure, page shares in percent of that column's answered pages.

use comfy_table::{CellAlignment, Table, presets::ASCII_BORDERS_ONLY_CONDENSED};

use crate::{
    page::Stars,
    summary::{Report, Summary},
};

impl Report {
    /// The report as a text table.
    pub fn table(&self) -> String {
        let several = self.users.len() > 1;
        let mut columns: Vec<(String, &Summary)> = self
            .users
            .iter()
            .map(|user| {
                let heading = if several {
                    format!("{} ({}%)", user.name, short_percent(user.share))
                } else {
                    user.name.clone()
                };
                (heading, &user.summary)
            })
            .collect();
        if several {
            columns.push(("all".into(), &self.total));
        }
        let mut table = Table::new();
        table.load_preset(ASCII_BORDERS_ONLY_CONDENSED);
        let header = std::iter::once(String::new()).chain(columns.iter().map(|(h, _)| h.clone()));
        table.set_header(header.collect::<Vec<_>>());
        let mut row = |label: String, cell: &dyn Fn(&Summary) -> String| {
            let mut cells = vec![label];
            cells.extend(columns.iter().map(|(_, summary)| cell(summary)));
            table.add_row(cells);
        };
        row("requests".into(), &|s| s.requests().to_string());
        row("failed".into(), &|s| counted(s.failed, s.requests()));
        for status in self.total.statuses.keys() {
            row(format!("status {status}"), &|s| {
                s.statuses.get(status).copied().unwrap_or(0).to_string()
            });
        }
        for reason in self.total.reasons.keys() {
            row(format!("  {}", shorten(reason, 72)), &|s| {
                s.reasons.get(reason).copied().unwrap_or(0).to_string()
            });
        }
        for (label, percent) in [
            ("latency p50 (ms)", 50.0),
            ("latency p90 (ms)", 90.0),
            ("latency p99 (ms)", 99.0),
            ("latency max (ms)", 100.0),
        ] {
            row(label.into(), &|s| {
                s.timed_millis(percent)
                    .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.2}"))
            });
        }
        row("pages (2xx)".into(), &|s| s.pages().to_string());
        for (pod, pages) in &self.total.reviews {
            for stars in pages.stars.keys() {
                row(format!("served by {pod}, {}", stars.phrase()), &|s| {
                    let n = s
                        .reviews
                        .get(pod)
                        .and_then(|p| p.stars.get(stars))
                        .copied()
                        .unwrap_or(0);
                    counted(n, s.pages())
                });
            }
        }
        for stars in [Stars::None, Stars::Black, Stars::Red] {
            row(format!("stars {}", stars.name()), &|s| {
                counted(s.stars().get(&stars).copied().unwrap_or(0), s.pages())
            });
        }
        if self.total.not_product_page > 0 {
            row("not a product page".into(), &|s| {
                counted(s.not_product_page, s.pages())
            });
        }
        row("details error".into(), &|s| {
            counted(s.details_error, s.pages())
        });
        row("reviews error".into(), &|s| {
            counted(s.reviews_error, s.pages())
        });
        row("ratings unavailable".into(), &|s| {
            counted(s.ratings_unavailable, s.pages())
        });
        for column in 1..=columns.len() {
            if let Some(column) = table.column_mut(column) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let ended = if self.interrupted {
            ", interrupted"
        } else {
            ""
        };
        format!(
            "{}: {} requests in {:.1} s ({:.1}/s){ended}\n{table}\n",
            self.url,
            self.total.requests(),
            self.elapsed.as_secs_f64(),
            self.rate(),
        )
    }
}

/// A share as people write it: `30`, `33.3`, `0.5`.
fn short_percent(share: f64) -> String {
    let text = format!("{share:.1}");
    text.strip_suffix(".0").unwrap_or(&text).to_owned()
}

/// `text` cut to its last `chars` characters, after an ellipsis: an error's innermost cause
/// (`Connection refused`, `received corrupt message`) comes last and says the most.
fn shorten(text: &str, chars: usize) -> String {
    let count = text.chars().count();
    if count <= chars {
        text.to_owned()
    } else {
        let tail: String = text.chars().skip(count - (chars - 1)).collect();
        format!("…{tail}")
    }
}

/// `n (p.p%)` of `whole`.
fn counted(n: u64, whole: u64) -> String {
    format!("{n} ({:.1}%)", Summary::share(n, whole))
}
