//! Colours of the text report (ANSI via anstyle), all off unless the output decided to colour.

use anstyle::{AnsiColor, Style};

use crate::diagnose::finding::{Severity, Verdict};

/// Paints text when enabled, passes it through otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    pub fn new(enabled: bool) -> Palette {
        Palette { enabled }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.enabled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }

    pub fn severity(&self, severity: Severity, text: &str) -> String {
        let color = match severity {
            Severity::Error => AnsiColor::Red,
            Severity::Warning => AnsiColor::Yellow,
            Severity::Info => AnsiColor::Cyan,
        };
        self.paint(Style::new().fg_color(Some(color.into())).bold(), text)
    }

    pub fn verdict(&self, verdict: Verdict, text: &str) -> String {
        let color = match verdict {
            Verdict::Healthy => AnsiColor::Green,
            Verdict::InsufficientData => AnsiColor::Cyan,
            Verdict::Stalled | Verdict::Rebound | Verdict::Unstable => AnsiColor::Yellow,
            Verdict::Collapse | Verdict::Diverged => AnsiColor::Red,
        };
        self.paint(Style::new().fg_color(Some(color.into())).bold(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_means_plain_text() {
        assert_eq!(Palette::new(false).bold("x"), "x");
        let on = Palette::new(true).severity(Severity::Error, "error");
        assert!(on.starts_with("\u{1b}[") && on.contains("error") && on.ends_with("\u{1b}[0m"));
    }
}
