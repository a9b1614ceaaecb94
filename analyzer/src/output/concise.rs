use std::io::{self, Write};

use crate::diagnostic::{Diagnostic, Heat};
use crate::paths::display_path;

/// `path:row:col: CODE message`, with ` [cold]` appended to findings off the hot path.
pub(super) fn write(out: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        let cold = if d.heat == Heat::Cold { " [cold]" } else { "" };
        writeln!(
            out,
            "{}:{}:{}: {} {}{cold}",
            display_path(&d.file),
            d.start.row,
            d.start.column,
            d.code(),
            d.message
        )?;
    }
    Ok(())
}
