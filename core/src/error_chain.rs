//! An error with every cause under it, on one line — how an error is
//! logged, once, where it is handled.

use std::fmt;

/// `outer: cause: root cause`. A cause whose text is already shown is not
/// repeated (many errors put their source in their own message).
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !shown.contains(&text) {
                shown.push_str(": ");
                shown.push_str(&text);
            }
            source = cause.source();
        }
        f.write_str(&shown)
    }
}

/// Any error of ours, kept with its causes.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct E {
        text: &'static str,
        #[source]
        source: Option<Box<E>>,
    }

    fn e(text: &'static str, source: Option<E>) -> E {
        E {
            text,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn every_cause_is_shown_once_in_order() {
        let root = e("connection refused", None);
        let mid = e("dispatch failure", Some(root));
        let top = e("DynamoDB failed", Some(mid));
        assert_eq!(
            Chain(&top).to_string(),
            "DynamoDB failed: dispatch failure: connection refused"
        );
        let quoting = e(
            "pushing: connection refused",
            Some(e("connection refused", None)),
        );
        assert_eq!(Chain(&quoting).to_string(), "pushing: connection refused");
        assert_eq!(Chain(&e("alone", None)).to_string(), "alone");
    }
}
