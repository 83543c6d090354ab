//! Prometheus metrics (text exposition format 0.0.4, what `promtool check metrics` reads).

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric the server exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: IntCounterVec,
    /// Request latency by route, method and status.
    pub latency: HistogramVec,
    /// Prompt tokens evaluated (cached prefix included).
    pub prompt_tokens: IntCounter,
    /// Tokens generated.
    pub generated_tokens: IntCounter,
    /// Generation speed per request.
    pub tokens_per_second: Histogram,
    /// Time to the first generated token.
    pub time_to_first_token: Histogram,
    /// Generation requests waiting for a slot.
    pub queue_depth: IntGauge,
    /// Generation requests running.
    pub active_sequences: IntGauge,
    /// Requests refused: rate limit, full queue.
    pub rejected: IntCounterVec,
    /// Pages indexed by uploads.
    pub ingest_pages: IntCounter,
    /// Documents indexed by uploads.
    pub ingest_documents: IntCounter,
    /// Documents that failed to ingest.
    pub ingest_failures: IntCounter,
    /// Loaded models (1 per loaded model, by kind and file).
    pub models_loaded: IntGaugeVec,
    /// Quality probe (`[server] probe_set`), by set and model: keyword accuracy.
    pub eval_keyword_accuracy: GaugeVec,
    /// Share of answerable items answered with a verified citation.
    pub eval_grounded: GaugeVec,
    /// Share of items citing an expected source.
    pub eval_citation_correct: GaugeVec,
    /// Share of verified quotes found again on their page (must be 1).
    pub eval_honesty: GaugeVec,
    /// Abstention precision.
    pub eval_abstention_precision: GaugeVec,
    /// Abstention recall.
    pub eval_abstention_recall: GaugeVec,
    /// Share of items that failed with an error.
    pub eval_failed: GaugeVec,
    /// Mean answer latency, seconds.
    pub eval_latency: GaugeVec,
    /// Items in the last probe run.
    pub eval_items: GaugeVec,
    /// When the last probe run finished (Unix seconds).
    pub eval_last_run: GaugeVec,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    r.expect("metric definitions are static and valid")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric.
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("lexdesk".into()), None).expect("valid prefix");
        let requests = must(IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route, method and status."),
            &["route", "method", "status"],
        ));
        let latency = must(HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route, method and status.")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]),
            &["route", "method", "status"],
        ));
        let prompt_tokens = must(IntCounter::new(
            "prompt_tokens_total",
            "Prompt tokens of generation requests (cached prefix included).",
        ));
        let generated_tokens = must(IntCounter::new("generated_tokens_total", "Tokens generated."));
        let tokens_per_second = must(Histogram::with_opts(
            HistogramOpts::new("generation_tokens_per_second", "Generation speed per request (tokens/s).")
                .buckets(vec![1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0]),
        ));
        let time_to_first_token = must(Histogram::with_opts(
            HistogramOpts::new("time_to_first_token_seconds", "Time from admission to the first generated token.")
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        ));
        let queue_depth = must(IntGauge::new("queue_depth", "Generation requests waiting for a slot."));
        let active_sequences = must(IntGauge::new("active_sequences", "Generation requests running."));
        let rejected = must(IntCounterVec::new(
            Opts::new("rejected_requests_total", "Requests refused before running, by reason."),
            &["reason"],
        ));
        let ingest_pages = must(IntCounter::new("ingest_pages_total", "Pages indexed from uploads."));
        let ingest_documents = must(IntCounter::new("ingest_documents_total", "Documents indexed from uploads."));
        let ingest_failures =
            must(IntCounter::new("ingest_failures_total", "Uploaded documents that failed to ingest."));
        let models_loaded = must(IntGaugeVec::new(
            Opts::new("models_loaded", "Models loaded (1 each), by kind and file."),
            &["kind", "model"],
        ));
        let eval = |name: &str, help: &str| must(GaugeVec::new(Opts::new(name, help), &["set", "model"]));
        let eval_keyword_accuracy =
            eval("eval_keyword_accuracy", "Quality probe: keyword accuracy (0-1), by set and model.");
        let eval_grounded =
            eval("eval_grounded_rate", "Quality probe: answerable items answered with a verified citation (0-1).");
        let eval_citation_correct =
            eval("eval_citation_correct", "Quality probe: items citing an expected source (0-1).");
        let eval_honesty =
            eval("eval_honesty", "Quality probe: verified quotes found again on their page (must be 1).");
        let eval_abstention_precision =
            eval("eval_abstention_precision", "Quality probe: abstentions that were right (0-1).");
        let eval_abstention_recall =
            eval("eval_abstention_recall", "Quality probe: off-corpus items abstained on (0-1).");
        let eval_failed = eval("eval_failed_rate", "Quality probe: items that failed with an error (0-1).");
        let eval_latency = eval("eval_latency_seconds", "Quality probe: mean answer latency in seconds.");
        let eval_items = eval("eval_items", "Quality probe: items in the last run.");
        let eval_last_run =
            eval("eval_last_run_timestamp_seconds", "Quality probe: when the last run finished (Unix time).");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(prompt_tokens.clone()),
            Box::new(generated_tokens.clone()),
            Box::new(tokens_per_second.clone()),
            Box::new(time_to_first_token.clone()),
            Box::new(queue_depth.clone()),
            Box::new(active_sequences.clone()),
            Box::new(rejected.clone()),
            Box::new(ingest_pages.clone()),
            Box::new(ingest_documents.clone()),
            Box::new(ingest_failures.clone()),
            Box::new(models_loaded.clone()),
            Box::new(eval_keyword_accuracy.clone()),
            Box::new(eval_grounded.clone()),
            Box::new(eval_citation_correct.clone()),
            Box::new(eval_honesty.clone()),
            Box::new(eval_abstention_precision.clone()),
            Box::new(eval_abstention_recall.clone()),
            Box::new(eval_failed.clone()),
            Box::new(eval_latency.clone()),
            Box::new(eval_items.clone()),
            Box::new(eval_last_run.clone()),
        ] {
            must(registry.register(c));
        }
        Self {
            registry,
            requests,
            latency,
            prompt_tokens,
            generated_tokens,
            tokens_per_second,
            time_to_first_token,
            queue_depth,
            active_sequences,
            rejected,
            ingest_pages,
            ingest_documents,
            ingest_failures,
            models_loaded,
            eval_keyword_accuracy,
            eval_grounded,
            eval_citation_correct,
            eval_honesty,
            eval_abstention_precision,
            eval_abstention_recall,
            eval_failed,
            eval_latency,
            eval_items,
            eval_last_run,
        }
    }

    /// The text exposition and its content type.
    #[must_use]
    pub fn render(&self) -> (String, String) {
        let encoder = TextEncoder::new();
        let mut out = Vec::new();
        must(encoder.encode(&self.registry.gather(), &mut out));
        (String::from_utf8(out).expect("the encoder writes UTF-8"), encoder.format_type().to_string())
    }

    /// Record a finished generation.
    pub fn generation(&self, usage: &lexdesk_core::generate::Usage) {
        self.prompt_tokens.inc_by(u64::from(usage.prompt_tokens));
        self.generated_tokens.inc_by(u64::from(usage.completion_tokens));
        if usage.completion_tokens > 0 && usage.tokens_per_second > 0.0 {
            self.tokens_per_second.observe(usage.tokens_per_second);
        }
        if usage.completion_tokens > 0 {
            self.time_to_first_token.observe(usage.time_to_first_token_ms / 1e3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.requests.with_label_values(&["/v1/models", "GET", "200"]).inc();
        m.queue_depth.set(3);
        let (text, content_type) = m.render();
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        assert!(text.contains("lexdesk_http_requests_total{method=\"GET\",route=\"/v1/models\",status=\"200\"} 1"));
        assert!(text.contains("# TYPE lexdesk_queue_depth gauge\nlexdesk_queue_depth 3"));
    }

    /// Every query of the Grafana dashboard shipped in installers/server names metrics this
    /// server exports.
    #[test]
    fn the_grafana_dashboard_queries_exported_metrics() {
        let m = Metrics::new();
        m.requests.with_label_values(&["r", "GET", "200"]).inc();
        m.latency.with_label_values(&["r", "GET", "200"]).observe(0.1);
        m.rejected.with_label_values(&["queue_full"]).inc();
        m.models_loaded.with_label_values(&["chat", "m"]).set(1);
        for g in [
            &m.eval_keyword_accuracy,
            &m.eval_grounded,
            &m.eval_citation_correct,
            &m.eval_honesty,
            &m.eval_abstention_precision,
            &m.eval_abstention_recall,
            &m.eval_failed,
            &m.eval_latency,
            &m.eval_items,
            &m.eval_last_run,
        ] {
            g.with_label_values(&["s", "m"]).set(1.0);
        }
        let (text, _) = m.render();
        let exported: std::collections::HashSet<&str> =
            text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).collect();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../installers/server/grafana/dashboards/lexdesk.json");
        let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut queries = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                let names: Vec<&str> = expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("lexdesk_"))
                    .collect();
                assert!(!names.is_empty(), "{expr}");
                for name in names {
                    assert!(exported.contains(name), "{name} (in `{expr}`) is not exported");
                }
                queries += 1;
            }
        }
        assert!(queries >= 9);
        // The alert rules shipped beside it, likewise.
        let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../installers/server/alerts.yml"))
            .unwrap();
        let mut alerts = 0;
        for expr in rules.lines().filter_map(|l| l.trim().strip_prefix("expr:")) {
            for name in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("lexdesk_"))
            {
                assert!(exported.contains(name), "{name} (in the alert `{expr}`) is not exported");
                alerts += 1;
            }
        }
        assert_eq!(alerts, 4);
    }
}
