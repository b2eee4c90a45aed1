//! Removes secret values from a stream of text, also when a value is split
//! across two pushes, also in its URL-encoded and JSON-escaped forms.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

pub const MASK: &str = "[REDACTED]";

/// Values shorter than this are not redacted: masking "1" or "ok" would
/// shred every log line and protect nothing.
const MIN_SECRET_LEN: usize = 4;

#[derive(Clone)]
pub struct Redactor {
    needles: Vec<String>,
    longest: usize,
    pending: String,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles: Vec<String> = Vec::new();
        for secret in secrets {
            if secret.len() < MIN_SECRET_LEN {
                continue;
            }
            let json = serde_json::to_string(secret).expect("strings serialise");
            let forms = [
                secret.to_owned(),
                utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
                json[1..json.len() - 1].to_owned(),
            ];
            for form in forms {
                if !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        // Longer first, so a value containing another is masked whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let longest = needles.iter().map(String::len).max().unwrap_or(0);
        Self {
            needles,
            longest,
            pending: String::new(),
        }
    }

    /// Masks what is certain and returns it; keeps back the tail that could
    /// be the start of a secret completed by the next push.
    pub fn push(&mut self, text: &str) -> String {
        self.pending.push_str(text);
        if self.needles.is_empty() {
            return std::mem::take(&mut self.pending);
        }
        let masked = self.mask(&self.pending);
        let keep = self.longest.saturating_sub(1).min(masked.len());
        let mut cut = masked.len() - keep;
        while !masked.is_char_boundary(cut) {
            cut -= 1;
        }
        // Never cut inside a mask just written, or inside a secret's prefix
        // that a later push might complete: the kept tail is re-scanned.
        let (ready, rest) = masked.split_at(cut);
        let ready = ready.to_owned();
        self.pending = rest.to_owned();
        ready
    }

    /// Everything still held back, masked.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.mask(&rest)
    }

    /// Masks a whole, self-contained text (an error message, say).
    pub fn redact(&self, text: &str) -> String {
        self.mask(text)
    }

    fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(r: &mut Redactor, parts: &[&str]) -> String {
        let mut out: String = parts.iter().map(|p| r.push(p)).collect();
        out.push_str(&r.finish());
        out
    }

    #[test]
    fn whole_values_are_masked() {
        let mut r = Redactor::new(["hunter2-secret"]);
        assert_eq!(
            stream(&mut r, &["pw=hunter2-secret!"]),
            format!("pw={MASK}!")
        );
    }

    #[test]
    fn a_whole_text_is_masked_at_once() {
        let r = Redactor::new(["hunter2-secret"]);
        assert_eq!(
            r.redact("exit: hunter2-secret failed"),
            format!("exit: {MASK} failed")
        );
    }

    #[test]
    fn a_value_split_across_pushes_is_masked() {
        let secret = "ghp_abcdefghijklmnop";
        for split in 1..secret.len() {
            let mut r = Redactor::new([secret]);
            let out = stream(
                &mut r,
                &["token: ", &secret[..split], &secret[split..], " done\n"],
            );
            assert_eq!(out, format!("token: {MASK} done\n"), "split at {split}");
        }
    }

    #[test]
    fn encoded_forms_are_masked() {
        let secret = "p@ss w\"rd/1";
        let mut r = Redactor::new([secret]);
        let url = format!(
            "https://x/?q={}",
            utf8_percent_encode(secret, NON_ALPHANUMERIC)
        );
        let json = serde_json::json!({ "v": secret }).to_string();
        let out = stream(&mut r, &[&url, "\n", &json[..9], &json[9..]]);
        assert!(!out.contains("ss w"), "{out}");
        assert!(!out.contains("p%40ss"), "{out}");
        assert_eq!(out.matches(MASK).count(), 2, "{out}");
    }

    #[test]
    fn text_without_secrets_passes_through_unchanged() {
        let mut r = Redactor::new(["s3cr3t-value", "ab"]);
        let text = "Step 1/3 : FROM busybox\n ---> Using cache\nüñí\n";
        let out = stream(&mut r, &[&text[..10], &text[10..]]);
        assert_eq!(out, text);
        let mut none = Redactor::new([]);
        assert_eq!(none.push("ab"), "ab");
    }

    #[test]
    fn multibyte_text_near_the_cut_stays_valid() {
        let mut r = Redactor::new(["ünïcødé-secret"]);
        let out = stream(&mut r, &["ééé", "ünïcødé-", "secret", "ééé"]);
        assert_eq!(out, format!("ééé{MASK}ééé"));
    }

    #[test]
    fn a_value_fed_one_character_at_a_time_never_leaks_a_byte() {
        let secret = "tök€n-sêcret";
        let text = format!("a{secret}b{secret}");
        let mut r = Redactor::new([secret]);
        let mut out = String::new();
        for ch in text.chars() {
            let released = r.push(&ch.to_string());
            out.push_str(&released);
            // What is released is final: not even the secret's first byte
            // ("t", which nothing else here holds) is ever let out.
            assert!(!out.contains('t'), "{out}");
        }
        out.push_str(&r.finish());
        assert_eq!(out, format!("a{MASK}b{MASK}"));
    }

    #[test]
    fn the_tail_held_back_is_one_byte_shorter_than_the_longest_value() {
        let mut r = Redactor::new(["abcdef"]);
        assert_eq!(r.push("0123456789"), "01234");
        assert_eq!(r.finish(), "56789");
        assert_eq!(r.push(""), "", "nothing pending, nothing released");
    }

    #[test]
    fn the_cut_steps_back_out_of_a_multibyte_character() {
        // Five bytes kept back of "éxyzw" would cut inside the "é".
        let mut r = Redactor::new(["abcdef"]);
        assert_eq!(r.push("éxyzw"), "");
        assert_eq!(r.push("q"), "é");
        assert_eq!(r.finish(), "xyzwq");
    }

    #[test]
    fn values_shorter_than_four_bytes_are_left_alone() {
        let r = Redactor::new(["abc", "abcd"]);
        assert_eq!(r.redact("abc abcd"), format!("abc {MASK}"));
    }
}
