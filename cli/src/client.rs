//! The HTTP API as the CLI calls it: the shared bodies of
//! `slipway_core::api` in and out, and the API's own error message when it
//! refuses.

use serde::de::DeserializeOwned;
use serde::Serialize;
use slipway_core::api::{AppList, AppView, ErrorBody};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API answered with an error; its message is the one to show.
    #[error("{message} ({status} {code})")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach the API at {api}: {reason}")]
    Unreachable { api: String, reason: String },
    #[error("the API's answer to {path} is not what this slipway expects ({reason}); is the CLI older than the API?")]
    Unexpected { path: String, reason: String },
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl Client {
    pub fn new(api: String, token: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            api,
            token,
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send(path, self.http.get(self.url(path))).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ApiError> {
        let mut req = self.http.post(self.url(path));
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(path, req).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        // With its causes: "error sending request" alone hides a refused
        // connection or an untrusted certificate.
        let unreachable = |e: reqwest::Error| ApiError::Unreachable {
            api: self.api.clone(),
            reason: slipway_core::error_chain::Chain(&e).to_string(),
        };
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(unreachable)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| ApiError::Unexpected {
                path: path.to_owned(),
                reason: e.to_string(),
            });
        }
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => ApiError::Refused {
                status,
                code: error.code,
                message: error.message,
            },
            Err(_) => ApiError::Refused {
                status,
                code: "error".into(),
                message: "the API refused the request".into(),
            },
        })
    }

    /// The app called `name_or_id` (an id is taken as is).
    pub async fn find_app(&self, name_or_id: &str) -> Result<Option<AppView>, ApiError> {
        let list: AppList = self.get("/apps").await?;
        Ok(list
            .apps
            .into_iter()
            .find(|a| a.name == name_or_id || a.id == name_or_id))
    }
}
