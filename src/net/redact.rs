//! Secrets out of messages: a URL's credentials (`user:password@`) and its query string (API keys, tokens) are
//! masked in every error message and log line that shows a URL.

/// `http://user:secret@host:1/p?key=v` → `http://***@host:1/p?***`. Works on text that is not a valid URL too
/// (it is what an error message about a bad URL shows).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    // The authority ends at the first '/', '?' or '#'; credentials are what precedes its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => format!("{}?***", &tail[..q]),
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

/// `text` with every occurrence of the secrets of `url` (password, user, query) replaced, for messages of other
/// libraries that may quote the URL.
pub fn redact_in(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    if let Ok(parsed) = reqwest::Url::parse(url) {
        let secrets = [
            parsed.password().map(str::to_string),
            Some(parsed.username().to_string()).filter(|u| !u.is_empty()),
            parsed.query().map(str::to_string),
        ];
        for secret in secrets.into_iter().flatten() {
            if secret.len() >= 3 {
                out = out.replace(&secret, "***");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_queries_are_masked() {
        for (url, masked) in [
            (
                "http://user:hunter2@127.0.0.1:9/binance",
                "http://***@127.0.0.1:9/binance",
            ),
            (
                "https://h.example/x?apiKey=abc&sig=1",
                "https://h.example/x?***",
            ),
            ("https://a:b@h/x?k=v#f", "https://***@h/x?***"),
            ("https://fapi.binance.com", "https://fapi.binance.com"),
            ("fapi:pw@host?x", "***@host?***"),
            ("http://p@ss:w@rd@host/", "http://***@host/"),
        ] {
            assert_eq!(redact_url(url), masked, "{url}");
        }
        let url = "http://alice:s3cret@127.0.0.1:9/b?token=xyz";
        let message = format!("error sending request for url ({url}/fapi/v1/time): s3cret");
        let out = redact_in(&message, url);
        assert!(
            !out.contains("s3cret") && !out.contains("xyz") && !out.contains("alice"),
            "{out}"
        );
    }
}
