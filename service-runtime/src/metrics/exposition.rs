//! The two text formats Prometheus scrapes, chosen by the scraper's `Accept`: OpenMetrics
//! when it asks for it, else the classic text format (0.0.4), which every scraper reads.
//! prometheus-client writes only OpenMetrics; the classic form differs in three ways, each
//! rewritten here: a counter's `TYPE` and `HELP` name its `_total` series, `UNIT` lines,
//! exemplars (` # {trace_id="…"} 0.01` after a bucket's value) and the `# EOF` terminator do
//! not exist, and `unknown` is called `untyped`.

/// `Content-Type` of OpenMetrics text.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` of the classic text format.
pub const CLASSIC_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which format a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Classic,
}

impl Format {
    /// The format `accept` (an `Accept` header value) prefers: OpenMetrics only when it is
    /// listed and weighted at least as high as plain text; no header means classic text.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Classic;
        };
        let mut open_metrics = 0.0_f32;
        let mut classic = 0.0_f32;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let weight = parts
                .filter_map(|param| param.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, q)| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => open_metrics = open_metrics.max(weight),
                "text/plain" | "text/*" | "*/*" => classic = classic.max(weight),
                _ => {}
            }
        }
        if open_metrics > 0.0 && open_metrics >= classic {
            Self::OpenMetrics
        } else {
            Self::Classic
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => OPENMETRICS_TEXT,
            Self::Classic => CLASSIC_TEXT,
        }
    }
}

/// OpenMetrics text rewritten in the classic text format.
pub fn classic_text(open_metrics: &str) -> String {
    let mut out = String::with_capacity(open_metrics.len());
    // HELP comes before TYPE, and only TYPE tells whether the name needs `_total`.
    let mut help: Option<(&str, &str)> = None;
    let write_help = |out: &mut String, name: &str, text: &str| {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        out.push_str(text);
        out.push('\n');
    };
    for line in open_metrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some((name, text)) = help.take() {
                write_help(&mut out, name, text);
            }
            help = Some(rest.split_once(' ').unwrap_or((rest, "")));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (series, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "unknown" => (name.to_owned(), "untyped"),
                other => (name.to_owned(), other),
            };
            if let Some((help_name, text)) = help.take() {
                let help_name = if help_name == name {
                    series.as_str()
                } else {
                    help_name
                };
                write_help(&mut out, help_name, text);
            }
            out.push_str("# TYPE ");
            out.push_str(&series);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
            continue;
        }
        if let Some((name, text)) = help.take() {
            write_help(&mut out, name, text);
        }
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        out.push_str(without_exemplar(line));
        out.push('\n');
    }
    if let Some((name, text)) = help {
        write_help(&mut out, name, text);
    }
    out
}

/// A sample line without its exemplar: the text before the first ` # ` outside the label
/// values' quotes.
fn without_exemplar(sample: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in sample.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' if !quoted && sample[index..].starts_with(" # ") => return &sample[..index],
            _ => {}
        }
    }
    sample
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapers_get_what_they_ask_for() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Classic
        );
        assert_eq!(
            Format::negotiate(Some(
                "text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5"
            )),
            Format::Classic
        );
        assert_eq!(Format::negotiate(Some("*/*")), Format::Classic);
        assert_eq!(Format::negotiate(None), Format::Classic);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; q=0")),
            Format::Classic
        );
    }

    #[test]
    fn classic_text_names_counter_series_and_drops_what_it_lacks() {
        let open_metrics = "\
# HELP requests Requests served.
# TYPE requests counter
requests_total{route=\"/\"} 3
# HELP latency_seconds Time to serve.
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_sum 0.5
latency_seconds_count 2
latency_seconds_bucket{le=\"0.5\",route=\"/a # {b}\\\" # x\"} 1 # {trace_id=\"4bf9\",span_id=\"00f0\"} 0.25
latency_seconds_bucket{le=\"+Inf\"} 2
# HELP open Open things.
# TYPE open unknown
open 1
# EOF
";
        let classic = "\
# HELP requests_total Requests served.
# TYPE requests_total counter
requests_total{route=\"/\"} 3
# HELP latency_seconds Time to serve.
# TYPE latency_seconds histogram
latency_seconds_sum 0.5
latency_seconds_count 2
latency_seconds_bucket{le=\"0.5\",route=\"/a # {b}\\\" # x\"} 1
latency_seconds_bucket{le=\"+Inf\"} 2
# HELP open Open things.
# TYPE open untyped
open 1
";
        assert_eq!(classic_text(open_metrics), classic);
    }
}
