//! Batching for the webview: a fast model produces hundreds of tokens a second and ingestion
//! reports every embedded page; the UI needs neither more often than it can paint.

use std::time::{Duration, Instant};

use lexdesk_desk::CompareProgress;
use lexdesk_desk::IngestEvent;
use tauri::ipc::Channel;

use crate::AnswerStreamEvent;

/// How often streamed text is sent at most (about two frames).
pub const TEXT_INTERVAL: Duration = Duration::from_millis(33);
/// How often embedding progress is sent at most.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Decides when buffered output is due: at most once per interval, always on the first piece.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    last: Option<Instant>,
}

impl Throttle {
    /// A throttle that lets one send through per `interval`.
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self { interval, last: None }
    }

    /// Whether a send is due at `now` (and if so, counts it as sent).
    pub fn due(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// Generated text, sent in batches of at most one per [`TEXT_INTERVAL`].
pub struct TextBatcher {
    channel: Channel<AnswerStreamEvent>,
    buffer: String,
    throttle: Throttle,
}

impl TextBatcher {
    pub fn new(channel: Channel<AnswerStreamEvent>) -> Self {
        Self { channel, buffer: String::new(), throttle: Throttle::new(TEXT_INTERVAL) }
    }

    pub fn push(&mut self, text: &str) {
        self.buffer.push_str(text);
        if self.throttle.due(Instant::now()) {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if !self.buffer.is_empty() {
            let text = std::mem::take(&mut self.buffer);
            // A closed channel means the window is gone; the answer is still saved.
            let _closed = self.channel.send(AnswerStreamEvent::Text { text });
        }
    }
}

/// A comparison's events: each run's text batched like an answer's (flushed when the run
/// changes or anything else is sent), every other event at once.
pub struct CompareForwarder {
    channel: Channel<CompareProgress>,
    pending: Option<(u32, String)>,
    throttle: Throttle,
}

impl CompareForwarder {
    pub fn new(channel: Channel<CompareProgress>) -> Self {
        Self { channel, pending: None, throttle: Throttle::new(TEXT_INTERVAL) }
    }

    pub fn send(&mut self, event: CompareProgress) {
        match event {
            CompareProgress::Text { index, text } => {
                match &mut self.pending {
                    Some((i, buffer)) if *i == index => buffer.push_str(&text),
                    _ => {
                        self.flush();
                        self.pending = Some((index, text));
                    }
                }
                if self.throttle.due(Instant::now()) {
                    self.flush();
                }
            }
            other => {
                self.flush();
                let _closed = self.channel.send(other);
            }
        }
    }

    pub fn flush(&mut self) {
        if let Some((index, text)) = self.pending.take().filter(|(_, t)| !t.is_empty()) {
            // A closed channel means the window is gone; the comparison is still saved.
            let _closed = self.channel.send(CompareProgress::Text { index, text });
        }
    }
}

/// Ingestion events: every file event at once, embedding progress throttled (the last page of a
/// file always goes through).
pub struct IngestForwarder {
    channel: Channel<IngestEvent>,
    throttle: Throttle,
}

impl IngestForwarder {
    pub fn new(channel: Channel<IngestEvent>) -> Self {
        Self { channel, throttle: Throttle::new(PROGRESS_INTERVAL) }
    }

    pub fn send(&mut self, event: IngestEvent) {
        let pass = match &event {
            IngestEvent::Embedding { pages_done, pages, .. } => {
                pages_done >= pages || self.throttle.due(Instant::now())
            }
            _ => true,
        };
        if pass {
            let _closed = self.channel.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_lets_one_through_per_interval() {
        let mut t = Throttle::new(Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(t.due(t0));
        assert!(!t.due(t0 + Duration::from_millis(50)));
        assert!(!t.due(t0 + Duration::from_millis(99)));
        assert!(t.due(t0 + Duration::from_millis(100)));
        assert!(!t.due(t0 + Duration::from_millis(150)));
        assert!(t.due(t0 + Duration::from_millis(250)));
    }
}
