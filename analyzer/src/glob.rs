//! The globs of `hot`/`cold` patterns and `--hot`: `*` is the only wildcard. A leaf module.

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (index, part) in parts.iter().enumerate() {
        if index == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if index == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.generate*", "Model.generate_tokens"));
        assert!(glob_match("pkg.mod:Class.method", "pkg.mod:Class.method"));
        assert!(!glob_match("*.generate*", "generate"));
        assert!(glob_match("*", "anything"));
    }
}
