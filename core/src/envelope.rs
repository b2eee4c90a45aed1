//! KMS envelope encryption: a fresh AES-256 data key per sealed value from
//! `GenerateDataKey`, AES-256-GCM over the value, the app id and the value's
//! purpose bound in twice (KMS encryption context and GCM associated data):
//! a sealed value copied onto another app, or passed off as another kind of
//! value, does not open. Key policies and IAM grants may name the purpose
//! (`kms:EncryptionContext:purpose`), so a function allowed to open webhook
//! secrets cannot open repo tokens or app secrets.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;

use base64::Engine;

use crate::error_chain::BoxError;
use crate::model::Credentials;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const APP_KEY: &str = "appId";
const PURPOSE_KEY: &str = "purpose";

/// What a sealed value is; part of what it is sealed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An app's repo token and secret environment variables.
    Credentials,
    /// An app's GitHub webhook secret.
    WebhookSecret,
}

impl Purpose {
    /// As written in the KMS encryption context (and `template.yaml`).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Credentials => "credentials",
            Purpose::WebhookSecret => "webhook-secret",
        }
    }
}

/// The GCM associated data: the app and the purpose, unambiguously joined.
fn aad(app_id: &str, purpose: Purpose) -> Vec<u8> {
    format!("{app_id}\0{}", purpose.as_str()).into_bytes()
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("KMS refused the request")]
    Kms(#[source] BoxError),
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open for this app")]
    Tampered,
}

/// Why an app's sealed credentials did not seal or open.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("the sealed credentials are not base64")]
    Encoding(#[from] base64::DecodeError),
    #[error("the sealed credentials did not open")]
    Open(#[from] EnvelopeError),
    #[error("the credentials are not the expected JSON")]
    Json(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct Envelope {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl Envelope {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: key_id.into(),
        }
    }

    /// `version | len(encrypted key) u16 BE | encrypted key | nonce | ciphertext+tag`
    pub async fn seal(
        &self,
        app_id: &str,
        purpose: Purpose,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let key = self
            .kms
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(APP_KEY, app_id)
            .encryption_context(PURPOSE_KEY, purpose.as_str())
            .send()
            .await
            .map_err(|e| EnvelopeError::Kms(e.into()))?;
        let data_key = key.plaintext().ok_or(EnvelopeError::Malformed)?.as_ref();
        let wrapped = key
            .ciphertext_blob()
            .ok_or(EnvelopeError::Malformed)?
            .as_ref();
        let cipher = Aes256Gcm::new_from_slice(data_key).map_err(|_| EnvelopeError::Malformed)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| EnvelopeError::Malformed)?;
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad(app_id, purpose),
                },
            )
            .map_err(|_| EnvelopeError::Malformed)?;
        let wrapped_len = u16::try_from(wrapped.len()).map_err(|_| EnvelopeError::Malformed)?;
        let mut out = Vec::with_capacity(3 + wrapped.len() + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&wrapped_len.to_be_bytes());
        out.extend_from_slice(wrapped);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// An app's repo token and secrets as the app item stores them: JSON,
    /// sealed for [`Purpose::Credentials`], base64; `None` when there are none.
    pub async fn seal_credentials(
        &self,
        app_id: &str,
        credentials: &Credentials,
    ) -> Result<Option<String>, CredentialsError> {
        if credentials.is_empty() {
            return Ok(None);
        }
        let json = serde_json::to_vec(credentials)?;
        let sealed = self.seal(app_id, Purpose::Credentials, &json).await?;
        Ok(Some(
            base64::engine::general_purpose::STANDARD.encode(sealed),
        ))
    }

    /// What [`Envelope::seal_credentials`] stored, opened.
    pub async fn open_credentials(
        &self,
        app_id: &str,
        sealed: Option<&str>,
    ) -> Result<Credentials, CredentialsError> {
        let Some(sealed) = sealed else {
            return Ok(Credentials::default());
        };
        let sealed = base64::engine::general_purpose::STANDARD.decode(sealed)?;
        let plain = self.open(app_id, Purpose::Credentials, &sealed).await?;
        Ok(serde_json::from_slice(&plain)?)
    }

    pub async fn open(
        &self,
        app_id: &str,
        purpose: Purpose,
        sealed: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let (wrapped, nonce, ciphertext) = split(sealed)?;
        let key = self
            .kms
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(APP_KEY, app_id)
            .encryption_context(PURPOSE_KEY, purpose.as_str())
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_invalid_ciphertext_exception() => EnvelopeError::Tampered,
                _ => EnvelopeError::Kms(e.into()),
            })?;
        let data_key = key.plaintext().ok_or(EnvelopeError::Malformed)?.as_ref();
        let cipher = Aes256Gcm::new_from_slice(data_key).map_err(|_| EnvelopeError::Malformed)?;
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad(app_id, purpose),
                },
            )
            .map_err(|_| EnvelopeError::Tampered)
    }
}

/// The parts of a sealed value: wrapped data key, nonce, ciphertext.
type Parts<'a> = (&'a [u8], &'a [u8], &'a [u8]);

fn split(sealed: &[u8]) -> Result<Parts<'_>, EnvelopeError> {
    let (&version, rest) = sealed.split_first().ok_or(EnvelopeError::Malformed)?;
    if version != VERSION || rest.len() < 2 {
        return Err(EnvelopeError::Malformed);
    }
    let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
    let rest = &rest[2..];
    if rest.len() < len + NONCE_LEN + 16 {
        return Err(EnvelopeError::Malformed);
    }
    let (wrapped, rest) = rest.split_at(len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Ok((wrapped, nonce, ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_associated_data_tells_apps_and_purposes_apart() {
        let all = [
            aad("a", Purpose::Credentials),
            aad("a", Purpose::WebhookSecret),
            aad("b", Purpose::Credentials),
        ];
        assert_eq!(all[0], b"a\0credentials");
        assert_eq!(all[1], b"a\0webhook-secret");
        assert!(all[0] != all[1] && all[0] != all[2]);
    }

    #[test]
    fn malformed_values_are_refused_before_kms_is_asked() {
        assert!(matches!(split(&[]), Err(EnvelopeError::Malformed)));
        assert!(matches!(split(&[2, 0, 0]), Err(EnvelopeError::Malformed)));
        assert!(matches!(
            split(&[1, 0, 5, 1, 2]),
            Err(EnvelopeError::Malformed)
        ));
        let mut ok = vec![1, 0, 2, 9, 9];
        ok.extend_from_slice(&[0; NONCE_LEN + 16]);
        let (wrapped, nonce, ct) = split(&ok).unwrap();
        assert_eq!(wrapped, &[9, 9]);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_eq!(ct.len(), 16);
    }
}
