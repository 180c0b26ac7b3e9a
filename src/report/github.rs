//! `--github`: GitHub Actions workflow annotations, one per finding (`::error`, `::warning`,
//! `::notice`), so a CI run shows the diagnosis on the job page.

use std::io::{self, Write};

use crate::diagnose::Diagnosis;
use crate::diagnose::finding::Severity;
use crate::model::Run;

/// Writes one annotation per finding, most severe first.
pub fn write(out: &mut dyn Write, run: &Run, diagnosis: &Diagnosis) -> io::Result<()> {
    let file = run
        .input
        .sources
        .first()
        .filter(|s| s.as_str() != "<stdin>");
    for f in &diagnosis.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut properties = Vec::new();
        if let Some(file) = file {
            properties.push(format!("file={}", escape_property(file)));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("jepa-doctor: {}", f.code.as_str()))
        ));
        writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&f.message)
        )?;
    }
    Ok(())
}

/// Message escaping of workflow commands: `%`, CR, LF.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property escaping: also `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
