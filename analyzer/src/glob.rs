//! The globs of `hot`/`cold` patterns and `--hot`: `*` is the only wildcard. A leaf module.

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // Without allocating: the hot-path pass matches every function against every pattern.
    let Some((first, tail)) = pattern.split_once('*') else { return pattern == text };
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let (middle, last) = match tail.rsplit_once('*') {
        Some((middle, last)) => (Some(middle), last),
        None => (None, tail),
    };
    for part in middle.into_iter().flat_map(|middle| middle.split('*')) {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
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
        assert!(glob_match("a*b*c", "a-b-c") && glob_match("a*b*c", "abc") && !glob_match("a*b*c", "a-c-b"));
        assert!(glob_match("pkg.*:*Processor*", "pkg.m:ImageProcessorFast.run"));
        assert!(!glob_match("pkg.*:*Processor*", "pkg:Model.run"));
        assert!(glob_match("a**", "a") && !glob_match("ab*", "a"));
    }
}
