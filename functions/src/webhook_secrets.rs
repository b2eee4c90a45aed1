//! Apps' webhook secrets: made and sealed when an app is created, opened to
//! show the owner or to check a delivery's signature.
//!
//! Opened secrets stay in this process's memory, keyed by app and sealed
//! value, so a warm webhook function checks a delivery without a KMS call
//! (the answer GitHub waits for should be fast). They never leave memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use slipway_core::envelope::{Envelope, Purpose};
use slipway_core::ids::AppId;
use slipway_core::model::App;

use crate::error::ApiError;

/// Opened secrets kept; past this the cache starts over.
const CAPACITY: usize = 4096;

#[derive(Clone, Default)]
pub struct SecretCache(Arc<Mutex<HashMap<(AppId, String), String>>>);

impl SecretCache {
    fn get(&self, app: &App) -> Option<String> {
        let cache = self.0.lock().expect("not poisoned");
        cache
            .get(&(app.id.clone(), app.sealed_webhook_secret.clone()))
            .cloned()
    }

    fn put(&self, app: &App, secret: &str) {
        let mut cache = self.0.lock().expect("not poisoned");
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(
            (app.id.clone(), app.sealed_webhook_secret.clone()),
            secret.to_owned(),
        );
    }
}

/// A new secret for `app_id`: the plain value and its sealed, base64 form.
pub async fn new_secret(envelope: &Envelope, app_id: &str) -> Result<(String, String), ApiError> {
    let secret = slipway_core::ids::random_hex(32);
    let sealed = envelope
        .seal(app_id, Purpose::WebhookSecret, secret.as_bytes())
        .await?;
    Ok((
        secret,
        base64::engine::general_purpose::STANDARD.encode(sealed),
    ))
}

pub async fn open(envelope: &Envelope, cache: &SecretCache, app: &App) -> Result<String, ApiError> {
    if let Some(secret) = cache.get(app) {
        return Ok(secret);
    }
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&app.sealed_webhook_secret)
        .map_err(|e| ApiError::internal("reading the webhook secret", e))?;
    let plain = envelope
        .open(&app.id, Purpose::WebhookSecret, &sealed)
        .await?;
    let secret = String::from_utf8(plain)
        .map_err(|e| ApiError::internal("reading the webhook secret", e))?;
    cache.put(app, &secret);
    Ok(secret)
}
