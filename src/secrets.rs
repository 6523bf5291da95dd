//! Secret values (`${VAR}` values, tokens) and every form of them that loadgate itself produces.
//!
//! A value taken from the environment reaches the outputs not only as written: a URL
//! percent-encodes it (differently in a path, a query, userinfo or a fragment), a host is
//! lower-cased (and IDNA-encoded), results.json escapes it as JSON, report.html as HTML, and Basic
//! auth sends it in base64. [`Secrets::mask`] hides each of these forms, and GitHub is told to hide
//! each of them too (`::add-mask::`), so a secret cannot leak in a form that was not thought of
//! where the text was produced.

use std::fmt;

use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// Values shorter than this are refused as `${VAR}` values: masking them everywhere would wreck
/// the reports (every "1" in a number), and not masking them would leak them.
pub const MIN_SECRET_CHARS: usize = 4;

/// What replaces a secret.
pub const MASK: &str = "***";

// The WHATWG URL percent-encode sets, as the `url` crate applies them.
const FRAGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');
const QUERY: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>');
const SPECIAL_QUERY: &AsciiSet = &QUERY.add(b'\'');
const PATH: &AsciiSet = &QUERY.add(b'?').add(b'^').add(b'`').add(b'{').add(b'}');
const USERINFO: &AsciiSet = &PATH
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'|');
const ENCODE_SETS: [&AsciiSet; 5] = [FRAGMENT, QUERY, SPECIAL_QUERY, PATH, USERINFO];

/// Secret values and their forms. Cloning is cheap enough: a run has a handful.
#[derive(Clone, Default)]
pub struct Secrets {
    /// The values as taken, in the order first added (the Fargate plan externalises these).
    values: Vec<String>,
    /// Every form of every value, longest first, so a secret that contains another is masked
    /// whole.
    forms: Vec<String>,
}

/// Never prints a value: a plan or an error that derives `Debug` must not leak through it.
impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Secrets({} values, {} forms)",
            self.values.len(),
            self.forms.len()
        )
    }
}

impl Secrets {
    /// Records a secret value and every form loadgate produces from it. Values shorter than
    /// [`MIN_SECRET_CHARS`] are refused earlier (the scenario layer); here they are still
    /// recorded as values but not masked, so that "1" does not vanish from every figure.
    pub fn add(&mut self, value: &str) {
        if value.is_empty() || self.values.iter().any(|v| v == value) {
            return;
        }
        self.values.push(value.to_string());
        if value.chars().count() < MIN_SECRET_CHARS {
            return;
        }
        for form in forms_of(value) {
            self.add_form(&form);
        }
    }

    /// Masks `form` exactly as given, whatever its length: a token, or a value derived from
    /// secrets (a Basic auth credential).
    pub fn add_form(&mut self, form: &str) {
        if form.is_empty() || self.forms.iter().any(|f| f == form) {
            return;
        }
        self.forms.push(form.to_string());
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// The values as taken from the environment.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Every form that is masked: what `::add-mask::` registers.
    pub fn forms(&self) -> &[String] {
        &self.forms
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.forms.is_empty()
    }

    /// Bytes of the longest form: how far past a cut a secret can reach.
    pub fn longest(&self) -> usize {
        self.forms.first().map_or(0, String::len)
    }

    /// `text` with every form of every secret replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), MASK);
            }
        }
        out
    }

    /// Masks `text`, then cuts it to at most `max_bytes` (on a character boundary); an end of
    /// the cut text that is the beginning of a secret is masked too, so a secret straddling the
    /// cut shows none of itself. Masking first means a secret is judged whole, not by the part
    /// that happens to lie before the cut.
    pub fn mask_cut(&self, text: &str, max_bytes: usize) -> String {
        let masked = self.mask(text);
        if masked.len() <= max_bytes {
            return masked;
        }
        let mut end = max_bytes;
        while !masked.is_char_boundary(end) {
            end -= 1;
        }
        let mut head = masked[..end].to_string();
        if let Some(k) = self.prefix_at_end(&head) {
            head.truncate(head.len() - k);
            // The mask may be longer than what it replaces: stay within the bound.
            while head.len() + MASK.len() > max_bytes && head.pop().is_some() {}
            head.push_str(MASK);
        }
        head
    }

    /// Length of the longest end of `text` that is a proper beginning of some form.
    fn prefix_at_end(&self, text: &str) -> Option<usize> {
        let mut best = None;
        for form in &self.forms {
            let most = (form.len() - 1).min(text.len());
            for k in (1..=most).rev() {
                if best.is_some_and(|b| b >= k) {
                    break;
                }
                if form.is_char_boundary(k)
                    && text.is_char_boundary(text.len() - k)
                    && text.as_bytes().ends_with(&form.as_bytes()[..k])
                {
                    best = Some(k);
                    break;
                }
            }
        }
        best
    }
}

/// The forms loadgate produces from `value`: as is, percent-encoded as each part of a URL does
/// it, lower-cased and IDNA-encoded as a host is, JSON- and HTML-escaped, and base64.
pub fn forms_of(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    let mut push = |form: String| {
        if !form.is_empty() && !forms.contains(&form) {
            forms.push(form);
        }
    };
    for set in ENCODE_SETS {
        push(utf8_percent_encode(value, set).to_string());
    }
    push(value.to_lowercase());
    push(value.to_ascii_lowercase());
    for set in ENCODE_SETS {
        push(utf8_percent_encode(&value.to_lowercase(), set).to_string());
    }
    // As a host: lower-cased, percent-decoded and IDNA-encoded by the URL parser.
    if let Ok(url) = url::Url::parse(&format!("http://{value}/")) {
        if let Some(host) = url.host_str() {
            push(host.to_string());
        }
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    push(json[1..json.len().saturating_sub(1).max(1)].to_string());
    push(html_escaped(value));
    push(base64::engine::general_purpose::STANDARD.encode(value));
    push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value));
    forms
}

fn html_escaped(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_longest_first() {
        let mut s = Secrets::default();
        s.add("abcd");
        s.add("abcdefgh");
        assert_eq!(s.mask("x abcdefgh y abcd"), "x *** y ***");
    }

    #[test]
    fn every_encoded_form_is_masked() {
        let mut s = Secrets::default();
        s.add("Sek ret\"/?é");
        for text in [
            "Sek%20ret%22/%3F%C3%A9",
            "Sek%20ret%22%2F%3F%C3%A9",
            "sek ret\"/?é",
            "Sek ret\\\"/?é",
            "Sek ret&quot;/?é",
            &base64::engine::general_purpose::STANDARD.encode("Sek ret\"/?é"),
        ] {
            assert_eq!(s.mask(&format!("<{text}>")), "<***>", "{text}");
        }
        let mut host = Secrets::default();
        host.add("Secret-Host.Example");
        assert_eq!(host.mask("http://secret-host.example/"), "http://***/");
    }

    #[test]
    fn short_values_are_kept_but_not_masked() {
        let mut s = Secrets::default();
        s.add("abc");
        assert_eq!(s.values(), ["abc"]);
        assert_eq!(s.mask("abc"), "abc");
        s.add_form("t0");
        assert_eq!(s.mask("t0"), "***");
    }

    /// Issue 14 item 1: a secret straddling the cut shows none of itself.
    #[test]
    fn a_secret_across_the_cut_is_masked_whole() {
        let mut s = Secrets::default();
        s.add("TOPSECRET-12345");
        let text = format!("{}TOPSECRET-12345 tail", "x".repeat(195));
        let cut = s.mask_cut(&text, 200);
        assert!(!cut.contains("TOPS"), "{cut}");
        assert!(cut.starts_with(&format!("{}***", "x".repeat(195))), "{cut}");
        assert!(cut.len() <= 200);
        // Cut inside the mask's own place: the whole secret was replaced before the cut.
        let text = format!("{}TOPSECRET-12345", "x".repeat(199));
        let cut = s.mask_cut(&text, 200);
        assert!(!cut.contains('T'), "{cut}");
        // A text that merely ends like the beginning of a secret at the cut.
        let text = format!("{}TOP and more", "x".repeat(197));
        assert_eq!(s.mask_cut(&text, 200), format!("{}***", "x".repeat(197)));
    }

    #[test]
    fn debug_never_prints_a_value() {
        let mut s = Secrets::default();
        s.add("hunter2-long");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
