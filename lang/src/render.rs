//! Showing diagnostics: rustc-style text (codespan-reporting) or JSON lines.
//!
//! This is the only module that knows codespan-reporting. Lines and
//! columns are 1-based and count characters, in the text and in JSON alike.

use std::io::{self, Write};

use codespan_reporting::diagnostic::{Diagnostic as Report, Label, Severity as ReportSeverity};
use codespan_reporting::files::{Files as _, SimpleFiles};
use codespan_reporting::term::{self, termcolor::Ansi, Config};

use crate::diagnostic::{Diagnostic, Severity};
use crate::Loaded;

fn files(loaded: &Loaded) -> SimpleFiles<&str, &str> {
    let mut files = SimpleFiles::new();
    for file in loaded.files() {
        files.add(file.name(), file.text());
    }
    files
}

fn report(diagnostic: &Diagnostic) -> Report<usize> {
    let wording = diagnostic.wording();
    let severity = match diagnostic.severity() {
        Severity::Error => ReportSeverity::Error,
        Severity::Warning => ReportSeverity::Warning,
    };
    let mut labels = Vec::new();
    if let Some(location) = diagnostic.location() {
        labels
            .push(Label::primary(location.file, location.span.clone()).with_message(wording.label));
    }
    for (location, label) in diagnostic.related().iter().zip(wording.related) {
        labels.push(Label::secondary(location.file, location.span.clone()).with_message(label));
    }
    let notes = wording
        .notes
        .into_iter()
        .map(|note| format!("note: {note}"))
        .chain(wording.help.into_iter().map(|help| format!("help: {help}")))
        .collect();
    Report::new(severity)
        .with_code(diagnostic.code())
        .with_message(wording.message)
        .with_labels(labels)
        .with_notes(notes)
}

fn to_io(error: codespan_reporting::files::Error) -> io::Error {
    match error {
        codespan_reporting::files::Error::Io(error) => error,
        other => io::Error::other(other.to_string()),
    }
}

/// Writes every diagnostic as `rulec check` shows it, then the summary
/// line. `color` adds ANSI colours; the text is otherwise the same.
pub fn render_human(loaded: &Loaded, writer: &mut dyn Write, color: bool) -> io::Result<()> {
    let files = files(loaded);
    let config = Config::default();
    for diagnostic in loaded.diagnostics() {
        let report = report(diagnostic);
        if color {
            let mut ansi = Ansi::new(&mut *writer);
            term::emit_to_write_style(&mut ansi, &config, &files, &report).map_err(to_io)?;
        } else {
            term::emit_to_io_write(writer, &config, &files, &report).map_err(to_io)?;
        }
    }
    writeln!(writer, "{}", loaded.summary())
}

#[derive(serde::Serialize)]
struct JsonPosition {
    line: usize,
    column: usize,
}

#[derive(serde::Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: &'static str,
    message: String,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end: Option<JsonPosition>,
    help: Vec<String>,
}

/// Writes one JSON object per diagnostic, one per line (no summary):
/// `{"code","severity","message","file","line","column","end":{"line","column"},"help"}`.
/// `file`, `line`, `column` and `end` are null for a problem of the whole
/// rule set.
pub fn render_json(loaded: &Loaded, writer: &mut dyn Write) -> io::Result<()> {
    let files = files(loaded);
    for diagnostic in loaded.diagnostics() {
        let wording = diagnostic.wording();
        let mut json = JsonDiagnostic {
            code: diagnostic.code(),
            severity: diagnostic.severity().name(),
            message: wording.message,
            file: None,
            line: None,
            column: None,
            end: None,
            help: wording.help,
        };
        if let Some(location) = diagnostic.location() {
            let start = files
                .location(location.file, location.span.start)
                .map_err(to_io)?;
            let end = files
                .location(location.file, location.span.end)
                .map_err(to_io)?;
            json.file = loaded.files().get(location.file).map(|f| f.name());
            json.line = Some(start.line_number);
            json.column = Some(start.column_number);
            json.end = Some(JsonPosition {
                line: end.line_number,
                column: end.column_number,
            });
        }
        serde_json::to_writer(&mut *writer, &json)?;
        writeln!(writer)?;
    }
    Ok(())
}
