//! The report for people: one column per user (and one for all of them when there are
//! several), one row per figure, page shares in percent of that column's answered pages.

use comfy_table::{CellAlignment, Table, presets::ASCII_BORDERS_ONLY_CONDENSED};

use super::{
    page::Stars,
    summary::{Report, Summary, millis},
};

impl Report {
    /// The report as a text table.
    pub fn table(&self) -> String {
        let mut columns: Vec<(&str, &Summary)> = self
            .users
            .iter()
            .map(|user| (user.name.as_str(), &user.summary))
            .collect();
        if columns.len() > 1 {
            columns.push(("all", &self.total));
        }
        let mut table = Table::new();
        table.load_preset(ASCII_BORDERS_ONLY_CONDENSED);
        let mut header = vec![String::new()];
        header.extend(self.users.iter().map(|user| {
            if self.users.len() > 1 {
                format!("{} ({:.0}%)", user.name, user.share)
            } else {
                user.name.clone()
            }
        }));
        if self.users.len() > 1 {
            header.push("all".into());
        }
        table.set_header(header);
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
        for (label, percent) in [
            ("latency p50 (ms)", 50.0),
            ("latency p90 (ms)", 90.0),
            ("latency p99 (ms)", 99.0),
            ("latency max (ms)", 100.0),
        ] {
            row(label.into(), &|s| {
                format!("{:.2}", millis(s.percentile(percent)))
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
                counted(s.stars.get(&stars).copied().unwrap_or(0), s.pages())
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

/// `n (p.p%)` of `whole`.
fn counted(n: u64, whole: u64) -> String {
    format!("{n} ({:.1}%)", Summary::share(n, whole))
}
