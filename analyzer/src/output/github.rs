//! GitHub Actions workflow commands: each finding becomes an annotation on the pull request.
//! `::error file=F,line=L,col=C,endLine=L2,endColumn=C2,title=CODE::message`.

use std::io::{self, Write};

use crate::diagnostic::{Diagnostic, Heat};
use crate::paths::display_path;

pub(super) fn write(out: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        // Hot findings and broken files fail the check; cold ones and stale suppressions warn.
        let command = match d.heat {
            Heat::Cold => "warning",
            _ if d.rule.code == crate::meta::UNUSED_SUPPRESSION.code => "warning",
            _ => "error",
        };
        let mut message = d.message.clone();
        if let Heat::Hot { reason } = &d.heat {
            message.push_str(&format!("\nhot path ({reason}): {}", d.chain_text()));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        writeln!(
            out,
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            escape_property(&display_path(&d.file)),
            d.start.row,
            d.start.column,
            d.end.row,
            d.end.column,
            escape_property(d.code()),
            escape_data(&message),
        )?;
    }
    Ok(())
}

/// The message part of a workflow command: `%`, CR and LF are encoded.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A property value: also `:` and `,`, which delimit properties.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_data("50% of\nsteps"), "50%25 of%0Asteps");
        assert_eq!(escape_property("a,b:c.py"), "a%2Cb%3Ac.py");
    }
}
